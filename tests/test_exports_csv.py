"""`python -m exports csv`: the study's data as CSV for statisticians (issue 12, point 1), and the
pieces every export shares: formula neutralising (scales/csvout.py), the blinding rule below the
UI (exports/blinding.py), site scope and `--as`, an output directory that appears complete or
not at all, and the audit event of every export.

The study is built through the db functions as a trial day would build it (tests/test_exports_sdtm.py
uses the same one): two sites in two time zones, a baseline before infusion 1, ratings around it
(one entered from paper, one with an item not assessed, a PHQ-9 prorated, a HAM-D rated on item 16B),
vital signs, an adverse event whose term is a spreadsheet formula, and a draft that must not leave.
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from argon2 import PasswordHasher

from db import audit, clock, participants, sites, users
from db import exports as db_exports
from db.assessments import complete_assessment, save_assessment, save_draft_response, start_assessment
from db.clinical import end_infusion, record_adverse_event, record_infusion, record_vitals
from db.connection import connect, database_path, transaction
from db.migrations import init_database
from db.permissions import system_actor
from exports import blinding
from exports.cli import main
from scales import cli as scales_cli
from scales import csvout
from scales.loader import registry
from tests.conftest_db import PASSWORD, mark_eligible

ROOT = Path(__file__).resolve().parent.parent
FORMULA_TERM = '=HYPERLINK("http://example.org","click")'
FORMULA_REASON = "@SUM(1+1) participant refused"
MADRS_3 = {f"madrs_{n}": 3 for n in range(1, 11)}


class Clock:
    """db.clock.utc_now frozen at a time the seeding moves forward."""

    def __init__(self, start: str) -> None:
        self.now = clock.parse_utc(start)

    def set(self, text: str) -> None:
        self.now = clock.parse_utc(text)

    def __call__(self) -> str:
        return clock.format_utc(self.now)


def hamd17_with_16b(value: int = 1) -> dict[str, int]:
    definition = registry()["hamd17"]
    responses = {i.id: min(value, i.max) for i in definition.items if i.id != "hamd17_16a"}
    responses["hamd17_16b"] = 1
    return responses


def full(scale_id: str, value: int = 1) -> dict[str, int]:
    definition = registry()[scale_id]
    skip = {m for group in definition.choice_groups for m in group[1:]}
    return {i.id: min(max(value, i.min), i.max) for i in definition.items if i.id not in skip}


def seed_study(monkeypatch) -> SimpleNamespace:
    """The study described in the module docstring, in a fresh database at $SCALEBOOK_DB."""
    monkeypatch.setattr(users, "hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))
    now = Clock("2026-03-01T08:00:00Z")
    monkeypatch.setattr(clock, "utc_now", now)
    init_database()
    db = connect(database_path())
    system = system_actor("tests")
    sites.create_site(db, system, "LON", "London clinic", "Europe/London")
    sites.create_site(db, system, "NYC", "New York clinic", "America/New_York")
    accounts = {}
    for name, role, site in (
        ("admin", "admin", None),
        ("pi", "pi", None),
        ("monitor", "monitor", None),
        ("monitor_lon", "monitor", "LON"),
        ("rater", "rater", "LON"),
        ("coord", "coordinator", "LON"),
        ("rater_nyc", "rater", "NYC"),
        ("coord_nyc", "coordinator", "NYC"),
    ):
        accounts[name] = users.create_user(db, system, name, role, PASSWORD, site=site, all_sites=site is None)
    a = SimpleNamespace(**accounts)
    p1 = participants.create_participant(db, a.coord, "P001", "LON", arm="ketamine")
    p2 = participants.create_participant(db, a.coord_nyc, "P002", "NYC", arm="midazolam")
    p3 = participants.create_participant(db, a.coord, "P003", "LON")

    # P001, London: baseline ratings before infusion 1 on 2 March.
    now.set("2026-03-02T08:00:00Z")
    mark_eligible(db, a.coord, a.rater, p1["id"])  # baseline MADRS, all items 3: total 30
    now.set("2026-03-02T08:05:00Z")
    save_assessment(db, a.rater, p1["id"], "baseline", "qids_sr16", "kiosk", full("qids_sr16", 1))
    now.set("2026-03-02T08:10:00Z")
    save_assessment(db, a.rater, p1["id"], "baseline", "cadss", "clinician", full("cadss", 0))
    now.set("2026-03-02T08:15:00Z")
    draft = start_assessment(db, a.rater, p1["id"], "baseline", "bprs", "clinician")
    for item_id, value in full("bprs", 2).items():
        value = 9 if item_id == "bprs_3" else value
        draft = save_draft_response(
            db,
            a.rater,
            draft["id"],
            item_id,
            value,
            draft["version"],
            not_assessed_reason=FORMULA_REASON if item_id == "bprs_3" else None,
        )
    complete_assessment(db, a.rater, draft["id"], draft["version"])

    # Infusion 1 at 09:00 UTC (09:00 London time in March), vitals, an adverse event, the 40-minute ratings.
    now.set("2026-03-02T09:00:30Z")
    infusion = record_infusion(db, a.coord, p1["id"], 1, "2026-03-02T09:00:00Z", 72.5, 0.5, notes="-check pump rate")
    now.set("2026-03-02T09:15:30Z")
    record_vitals(
        db, a.coord, p1["id"], "2026-03-02T08:55:00Z", infusion_id=None, systolic=120, diastolic=78, heart_rate=70
    )
    record_vitals(
        db,
        a.coord,
        p1["id"],
        "2026-03-02T09:15:00Z",
        infusion_id=infusion["id"],
        systolic=135,
        diastolic=85,
        heart_rate=76,
        spo2=98,
        temperature_c=36.8,
    )
    now.set("2026-03-02T09:31:00Z")
    record_adverse_event(
        db,
        a.coord,
        p1["id"],
        FORMULA_TERM,
        "2026-03-02T09:30:00Z",
        "mild",
        "possible",
        infusion_id=infusion["id"],
        action_taken="dose_not_changed",
    )
    now.set("2026-03-02T09:41:00Z")
    end_infusion(db, a.coord, infusion["id"], "2026-03-02T09:40:00Z")
    now.set("2026-03-02T09:42:00Z")
    save_assessment(
        db, a.rater, p1["id"], "min_40", "madrs", "clinician", {**MADRS_3, "madrs_1": 1}, infusion_id=infusion["id"]
    )
    save_assessment(db, a.rater, p1["id"], "min_40", "cadss", "clinician", full("cadss", 2))
    save_assessment(db, a.rater, p1["id"], "min_40", "bprs", "clinician", full("bprs", 3))

    # Day 1: a MADRS with item 10 not assessed (no total), a HAM-D rated on 16B, a PHQ-9 with one
    # item missing (prorated), a MADRS-S, a QIDS-SR by link.
    now.set("2026-03-03T09:05:00Z")
    save_assessment(db, a.rater, p1["id"], "day_1", "madrs", "clinician", {**MADRS_3, "madrs_10": 9})
    save_assessment(db, a.rater, p1["id"], "day_1", "hamd17", "clinician", hamd17_with_16b(2))
    save_assessment(
        db, a.rater, p1["id"], "day_1", "phq9", "self", {k: v for k, v in full("phq9", 1).items() if k != "phq9_9"}
    )
    save_assessment(db, a.rater, p1["id"], "day_1", "madrs_s", "self", full("madrs_s", 2))
    save_assessment(db, a.rater, p1["id"], "day_1", "qids_sr16", "link", full("qids_sr16", 2))
    # Day 2: a MADRS transcribed from paper (the importer marks it in the audit trail).
    now.set("2026-03-04T09:05:00Z")
    transcribed = save_assessment(db, a.rater, p1["id"], "day_2", "madrs", "clinician", MADRS_3)
    with transaction(db):
        audit.record_many(
            db,
            a.rater,
            [db_exports.transcription_event(transcribed["id"], p1["id"], source_file="paper.csv", lines=[2])],
        )
    # Day 3: a draft, never submitted: not data yet.
    now.set("2026-03-05T09:05:00Z")
    start_assessment(db, a.rater, p1["id"], "day_3", "madrs", "clinician")

    # P002, New York (UTC-5 in early March): baseline and infusion 1.
    now.set("2026-03-02T14:00:00Z")
    mark_eligible(db, a.coord_nyc, a.rater_nyc, p2["id"])
    now.set("2026-03-02T14:30:30Z")
    infusion2 = record_infusion(db, a.coord_nyc, p2["id"], 1, "2026-03-02T14:30:00Z", 80, 0.5)
    now.set("2026-03-02T15:12:00Z")
    save_assessment(db, a.rater_nyc, p2["id"], "min_40", "madrs", "clinician", MADRS_3, infusion_id=infusion2["id"])
    now.set("2026-03-06T12:00:00Z")
    db.close()
    return SimpleNamespace(accounts=a, p1=p1, p2=p2, p3=p3, transcribed_id=transcribed["id"], clock=now)


@pytest.fixture
def seeded(monkeypatch):
    return seed_study(monkeypatch)


def export(capsys, *args: str) -> tuple[int, str, str]:
    code = main([*args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def header(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as handle:
        return next(csv.reader(handle))


def export_events(path: Path | None = None) -> list[dict]:
    db = connect(path or database_path())
    try:
        return [
            dict(zip(("username", "role", "new_value"), r, strict=True))
            for r in db.execute(
                "SELECT username, role, new_value FROM audit_events WHERE action = ? ORDER BY id",
                [db_exports.EXPORT_ACTION],
            ).fetchall()
        ]
    finally:
        db.close()


# --------------------------------------------------------------------------- csvout


@pytest.mark.parametrize("text", ["=1+1", "+1 more", "-1+2", "@SUM(A1)", "\tx", "\rx", '=HYPERLINK("x")'])
def test_formula_like_text_gets_an_apostrophe(text):
    assert csvout.neutralise(text) == "'" + text
    assert csvout.to_csv_text(["a"], [{"a": text}]).splitlines()[1].strip('"').startswith("'")


def test_numbers_plain_text_and_generated_columns_are_untouched():
    assert csvout.neutralise("nausea") == "nausea"
    assert csvout.neutralise(-3) == -3
    text = csvout.to_csv_text(["n", "d", "t"], [(-3, "-P7D", "-P7D"), (2.0, None, True)], raw={"d"})
    assert text.splitlines() == ["n,d,t", "-3,-P7D,'-P7D", "2,,true"]


def test_the_header_is_neutralised_too():
    assert csvout.to_csv_text(["=x"], []).strip() == "'=x"


def test_the_blinding_rule_is_the_one_the_pages_use():
    from ui.blinding import may_see_arm

    for role in ("admin", "pi", "rater", "coordinator", "monitor", "system"):
        for blinded in (True, False):
            assert blinding.arm_visible(role, blinded) == may_see_arm(role, blinded)
    assert [blinding.arm_visible(r, True) for r in ("admin", "coordinator", "pi", "rater", "monitor", "system")] == [
        True,
        True,
        False,
        False,
        False,
        False,
    ]
    assert blinding.arm_visible("rater", False)


# --------------------------------------------------------------------------- the export


def test_csv_export_writes_every_file_and_the_dictionary_describes_every_column(seeded, tmp_path, capsys):
    out = tmp_path / "csv"
    code, stdout, _ = export(capsys, "csv", "--out", str(out))
    assert code == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(
        [
            "participants.csv",
            "infusions.csv",
            "vitals.csv",
            "adverse_events.csv",
            "eligibility.csv",
            "assessments.csv",
            "responses.csv",
            "dictionary.csv",
            *[f"wide_{s}.csv" for s in registry()],
        ]
    )
    described = {(r["file"], r["column"]) for r in read_csv(out / "dictionary.csv")}
    for name in names:
        for column in header(out / name):
            assert (name, column) in described, (name, column)
    rows = read_csv(out / "dictionary.csv")
    assert all(r["label"] and r["type"] for r in rows)
    madrs_1 = next(r for r in rows if r["file"] == "wide_madrs.csv" and r["column"] == "madrs_1")
    assert madrs_1["type"] == "integer" and "0=0 - No visible sadness" in madrs_1["allowed_values"].replace("–", "-")
    assert next(r for r in rows if r["column"] == "systolic")["unit"] == "mmHg"
    assert "assessments" in stdout and not list(tmp_path.glob(".csv.partial-*"))


def test_assessments_carry_when_rated_where_from_and_the_stored_score(seeded, tmp_path, capsys):
    out = tmp_path / "csv"
    assert export(capsys, "csv", "--out", str(out))[0] == 0
    rows = read_csv(out / "assessments.csv")
    assert list(rows[0])[:17] == [
        "assessment_id",
        "participant",
        "site",
        "scale",
        "timepoint",
        "infusion_number",
        "assessed_at",
        "minutes_since_infusion_start",
        "rater",
        "status",
        "source",
        "recall",
        "total",
        "band",
        "complete",
        "prorated",
        "definition_hash",
    ]
    assert len(rows) == 15  # every submitted assessment; the day-3 draft is not data
    by = {(r["participant"], r["timepoint"], r["scale"]): r for r in rows}
    assert ("P001", "day_3", "madrs") not in by
    baseline = by[("P001", "baseline", "madrs")]
    assert baseline["assessed_at"] == "2026-03-02T08:00:00+00:00" and baseline["total"] == "30"
    assert baseline["infusion_number"] == "1" and baseline["minutes_since_infusion_start"] == "-60"
    assert baseline["source"] == "form" and baseline["rater"] == "rater" and baseline["complete"] == "true"
    min40 = by[("P001", "min_40", "madrs")]
    assert (min40["minutes_since_infusion_start"], min40["infusion_number"], min40["total"]) == ("42", "1", "28")
    assert by[("P001", "baseline", "qids_sr16")]["source"] == "self_report"
    assert by[("P001", "day_1", "qids_sr16")]["source"] == "self_report"
    assert by[("P001", "day_2", "madrs")]["source"] == "transcribed"
    day1 = by[("P001", "day_1", "madrs")]
    assert (day1["total"], day1["complete"], day1["minutes_since_infusion_start"]) == ("", "false", "1445")
    phq = by[("P001", "day_1", "phq9")]
    assert (phq["prorated"], phq["recall"]) == ("true", "2w") and phq["total"] == "9"
    nyc = by[("P002", "min_40", "madrs")]
    assert nyc["assessed_at"] == "2026-03-02T10:12:00-05:00" and nyc["site"] == "NYC"
    assert nyc["minutes_since_infusion_start"] == "42"
    assert all(r["definition_hash"].startswith("sha256:") for r in rows)


def test_responses_mark_not_assessed_items_and_keep_their_reason(seeded, tmp_path, capsys):
    out = tmp_path / "csv"
    assert export(capsys, "csv", "--out", str(out))[0] == 0
    rows = read_csv(out / "responses.csv")
    assert list(rows[0]) == [
        "assessment_id",
        "participant",
        "scale",
        "timepoint",
        "item",
        "value",
        "not_assessed",
        "not_assessed_reason",
    ]
    bprs3 = next(r for r in rows if r["item"] == "bprs_3" and r["timepoint"] == "baseline")
    assert (bprs3["value"], bprs3["not_assessed"], bprs3["not_assessed_reason"]) == ("", "true", "'" + FORMULA_REASON)
    madrs10 = next(r for r in rows if r["item"] == "madrs_10" and r["timepoint"] == "day_1")
    assert (madrs10["value"], madrs10["not_assessed"]) == ("", "true")
    assert next(r for r in rows if r["item"] == "madrs_1" and r["timepoint"] == "min_40")["value"] == "1"
    assessments = {r["assessment_id"] for r in read_csv(out / "assessments.csv")}
    assert {r["assessment_id"] for r in rows} == assessments


def test_wide_files_are_rescored_by_the_scales_command_to_their_totals(seeded, tmp_path, capsys):
    out = tmp_path / "csv"
    assert export(capsys, "csv", "--out", str(out))[0] == 0
    checked = 0
    for scale_id, definition in registry().items():
        path = out / f"wide_{scale_id}.csv"
        columns = header(path)
        assert columns[12 : 12 + len(definition.items)] == [i.id for i in definition.items]
        assert columns[-(2 + len(definition.subscales)) :] == [
            "total",
            "band",
            *[f"sub_{s.id}" for s in definition.subscales],
        ]
        buffer = io.StringIO()
        assert scales_cli.main(["score", scale_id, "--csv", str(path)], out=buffer) == 0
        for row in csv.DictReader(io.StringIO(buffer.getvalue())):
            assert row["rescored_total"] == row["total"], (scale_id, row["assessment_id"])
            for sub in definition.subscales:
                assert row[f"rescored_{sub.id}"] == row[f"sub_{sub.id}"], (scale_id, sub.id)
            checked += 1
    assert checked == 15
    hamd = read_csv(out / "wide_hamd17.csv")[0]
    assert (hamd["hamd17_16a"], hamd["hamd17_16b"], hamd["total"]) == ("", "1", "33")
    madrs_day1 = next(r for r in read_csv(out / "wide_madrs.csv") if r["timepoint"] == "day_1")
    assert (madrs_day1["madrs_10"], madrs_day1["total"]) == ("", "")
    qids = read_csv(out / "wide_qids_sr16.csv")[0]
    assert (qids["sub_sleep"], qids["sub_appetite_weight"], qids["sub_psychomotor"]) == ("1", "1", "1")


def test_the_real_scales_command_line_accepts_a_wide_file_as_it_is(seeded, tmp_path, capsys):
    out = tmp_path / "csv"
    assert export(capsys, "csv", "--out", str(out))[0] == 0
    proc = subprocess.run(
        [sys.executable, "-m", "scales", "score", "madrs", "--csv", str(out / "wide_madrs.csv")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert len(rows) == 6 and all(r["rescored_total"] == r["total"] for r in rows)


def test_formula_like_free_text_is_neutralised_in_every_file(seeded, tmp_path, capsys):
    out = tmp_path / "csv"
    assert export(capsys, "csv", "--as", "admin", "--out", str(out))[0] == 0
    ae = read_csv(out / "adverse_events.csv")[0]
    assert ae["term"] == "'" + FORMULA_TERM
    assert (ae["severity"], ae["serious"], ae["relatedness"], ae["infusion_number"]) == (
        "mild",
        "false",
        "possible",
        "1",
    )
    assert read_csv(out / "infusions.csv")[0]["notes"] == "'-check pump rate"
    for path in out.iterdir():
        for row in read_csv(path):
            for column, value in row.items():
                assert not value.startswith(csvout.FORMULA_STARTS) or column in (
                    "minutes_since_infusion_start",
                    "duration_min",
                ), (path.name, column, value)


def test_other_files_infusions_vitals_eligibility_participants(seeded, tmp_path, capsys):
    out = tmp_path / "csv"
    assert export(capsys, "csv", "--as", "admin", "--out", str(out))[0] == 0
    infusion = read_csv(out / "infusions.csv")[0]
    assert (infusion["started_at"], infusion["ended_at"], infusion["duration_min"]) == (
        "2026-03-02T09:00:00+00:00",
        "2026-03-02T09:40:00+00:00",
        "40",
    )
    assert (infusion["weight_kg"], infusion["dose_mg_per_kg"], infusion["total_dose_mg"]) == ("72.5", "0.5", "36.3")
    vitals = read_csv(out / "vitals.csv")
    assert [
        (v["infusion_number"], v["minutes_since_infusion_start"], v["systolic"])
        for v in vitals
        if v["participant"] == "P001"
    ] == [("", "", "120"), ("1", "15", "135")]
    decisions = read_csv(out / "eligibility.csv")
    assert {d["participant"] for d in decisions} == {"P001", "P002"}
    assert all(d["eligible"] == "true" and d["current"] == "true" for d in decisions)
    assert any(c.startswith("answer_") for c in decisions[0])
    people = {p["participant"]: p for p in read_csv(out / "participants.csv")}
    assert people["P001"]["arm"] == "ketamine" and people["P003"]["arm"] == ""
    assert (people["P001"]["status"], people["P001"]["n_infusions"]) == ("enrolled", "1")


# --------------------------------------------------------------------------- blinding, scope, audit


def test_a_blinded_study_is_masked_by_default_and_says_so_first(seeded, tmp_path, capsys):
    out = tmp_path / "csv"
    code, _, err = export(capsys, "csv", "--out", str(out))
    assert code == 0
    assert err.splitlines()[0].startswith("python -m exports csv: BLINDED:")
    people = {p["participant"]: p for p in read_csv(out / "participants.csv")}
    assert (people["P001"]["arm"], people["P002"]["arm"], people["P003"]["arm"]) == ("BLINDED", "BLINDED", "")
    infusion = read_csv(out / "infusions.csv")[0]
    assert (infusion["dose_mg_per_kg"], infusion["total_dose_mg"], infusion["notes"]) == ("BLINDED",) * 3
    assert infusion["weight_kg"] == "72.5"


@pytest.mark.parametrize(("account", "masked"), [("admin", False), ("pi", True), ("monitor", True)])
def test_the_exporting_account_decides_blinding(seeded, tmp_path, capsys, account, masked):
    out = tmp_path / "csv"
    code, _, err = export(capsys, "csv", "--as", account, "--out", str(out))
    assert code == 0
    assert ("BLINDED" in err) is masked
    assert (read_csv(out / "participants.csv")[0]["arm"] == "BLINDED") is masked
    assert export_events()[-1]["username"] == account


def test_site_scope_and_site_bound_accounts(seeded, tmp_path, capsys):
    assert export(capsys, "csv", "--site", "NYC", "--out", str(tmp_path / "nyc"))[0] == 0
    assert {r["participant"] for r in read_csv(tmp_path / "nyc" / "assessments.csv")} == {"P002"}
    assert {r["participant"] for r in read_csv(tmp_path / "nyc" / "participants.csv")} == {"P002"}
    assert read_csv(tmp_path / "nyc" / "adverse_events.csv") == []
    # An account tied to a site exports that site, and only that one.
    assert export(capsys, "csv", "--as", "monitor_lon", "--out", str(tmp_path / "lon"))[0] == 0
    assert {r["participant"] for r in read_csv(tmp_path / "lon" / "participants.csv")} == {"P001", "P003"}
    code, _, err = export(capsys, "csv", "--as", "monitor_lon", "--site", "NYC", "--out", str(tmp_path / "x"))
    assert code == 1 and "monitor_lon works at site LON" in err and not (tmp_path / "x").exists()


def test_every_export_is_an_audit_event(seeded, tmp_path, capsys):
    before = len(export_events())
    assert export(capsys, "csv", "--site", "LON", "--out", str(tmp_path / "a"))[0] == 0
    events = export_events()
    assert len(events) == before + 1
    import json

    new = json.loads(events[-1]["new_value"])
    assert events[-1]["username"].startswith("cli:") and events[-1]["role"] == "system"
    assert (new["kind"], new["site"], new["blinded"]) == ("csv", "LON", True)
    assert new["records"]["assessments.csv"] == 13 and new["records"]["participants.csv"] == 2
    assert new["total_records"] == sum(new["records"].values())
    db = connect(database_path())
    try:
        assert audit.verify_audit(db) is None
    finally:
        db.close()


def test_an_empty_study_exports_headers_and_a_full_dictionary(tmp_path, capsys, monkeypatch):
    init_database()
    out = tmp_path / "empty"
    code, _, err = export(capsys, "csv", "--out", str(out))
    assert code == 0, err
    for path in out.iterdir():
        rows = read_csv(path)
        assert (rows == []) is (path.name != "dictionary.csv"), path.name
        assert header(path)
    columns = {(r["file"], r["column"]) for r in read_csv(out / "dictionary.csv")}
    assert ("eligibility.csv", "answer_depressive_episode") in columns
    assert len(export_events()) == 1


# --------------------------------------------------------------------------- bad input


def test_bad_input_names_every_problem_and_writes_nothing(seeded, tmp_path, capsys):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    before = len(export_events())
    entries = sorted(p.name for p in tmp_path.iterdir())
    code, stdout, err = export(capsys, "csv", "--out", str(a_file), "--site", "PARIS", "--as", "nobody")
    lines = err.strip().splitlines()
    assert code == 1 and stdout == "" and "Traceback" not in err
    assert len(lines) == 3
    assert "is a file, not a directory" in lines[0]
    assert any("--site: no site 'PARIS'; known sites: LON, NYC" in line for line in lines)
    assert any("--as nobody: no account 'nobody'" in line for line in lines)
    assert a_file.read_text() == "x" and len(export_events()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == entries  # no directory, no half-written files


def test_a_non_empty_directory_and_a_rater_are_refused(seeded, tmp_path, capsys):
    full_dir = tmp_path / "old"
    full_dir.mkdir()
    (full_dir / "assessments.csv").write_text("old")
    code, _, err = export(capsys, "csv", "--out", str(full_dir))
    assert code == 1 and "the directory is not empty" in err
    assert (full_dir / "assessments.csv").read_text() == "old"
    code, _, err = export(capsys, "csv", "--as", "rater", "--out", str(tmp_path / "new"))
    assert code == 1 and "'rater' is a rater account; exports need an admin, pi or monitor account" in err
    assert not (tmp_path / "new").exists()
    code, _, err = export(capsys, "csv", "--out", str(tmp_path / "missing" / "dir"))
    assert code == 1 and "parent directory" in err


def test_a_missing_database_is_one_line(tmp_path, capsys):
    code, _, err = export(capsys, "--db", str(tmp_path / "none.db"), "csv", "--out", str(tmp_path / "o"))
    assert code == 1 and "no such file" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_help_describes_the_command():
    proc = subprocess.run(
        [sys.executable, "-m", "exports", "csv", "--help"], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert proc.returncode == 0 and "dictionary.csv" in proc.stdout and "--as USERNAME" in proc.stdout


@pytest.mark.parametrize("command", ["fhir-responses", "redcap-records"])
@pytest.mark.parametrize(("account", "masked"), [("admin", False), ("pi", True)])
def test_the_single_file_exports_take_the_same_scope_and_audit(seeded, tmp_path, capsys, command, account, masked):
    """fhir-responses and redcap-records run through exports/scope.py as csv and sdtm do: the
    audit event's `blinded` is the account's blinding decision (it was always true before), the
    file carries no arm (so no BLINDED notice), and a site-bound account keeps to its site."""
    import json

    out = tmp_path / "out.file"
    code, _, err = export(capsys, command, "--as", account, "--out", str(out))
    assert (code, err) == (0, "")
    event = export_events()[-1]
    new = json.loads(event["new_value"])
    assert (event["username"], new["kind"], new["blinded"], new["arm"]) == (account, command, masked, "not included")
    code, _, err = export(capsys, command, "--as", "monitor_lon", "--site", "NYC", "--out", str(tmp_path / "x"))
    assert code == 1 and "monitor_lon works at site LON" in err and not (tmp_path / "x").exists()
