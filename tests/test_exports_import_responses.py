"""`python -m exports import-responses`: transcribed ratings in (issue 12, point 6).

The study is built through the db functions, with db.clock frozen and moved forward as a trial
would live it: participant P001 (London) enrolled on 1 March, a live baseline MADRS, infusion 1
on 2 March at 09:00 UTC; P002 at the Oxford site. The import runs on 6 March, so every
transcribed rating is entered days after it happened, with the reason the import gives.
"""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path
from types import SimpleNamespace

import pytest
from argon2 import PasswordHasher

from db import audit, clock, participants, sites, users
from db import exports as db_exports
from db import imports as db_imports
from db.assessments import load_assessment
from db.clinical import record_infusion
from db.connection import connect, database_path
from db.migrations import init_database
from db.permissions import system_actor
from exports import responses_in
from exports.cli import main
from scales import get_scale, score
from tests.conftest_db import PASSWORD, mark_eligible

HEADER = "participant,scale,timepoint,assessed_at,item,value,not_assessed_reason"
DAY_1 = "2026-03-03T09:10:00+00:00"  # 24 h after infusion 1 (window 05:00-13:00 UTC)
MIN_40 = "2026-03-02T09:41:00+00:00"  # 40 minutes after infusion 1 (window 09:35-09:50 UTC)
IMPORT_TIME = "2026-03-06T12:00:00Z"


class Clock:
    """db.clock.utc_now frozen at a time the test moves forward."""

    def __init__(self, start: str) -> None:
        self.now = clock.parse_utc(start)

    def set(self, text: str) -> None:
        self.now = clock.parse_utc(text)

    def __call__(self) -> str:
        return clock.format_utc(self.now)


@pytest.fixture
def trial(monkeypatch):
    monkeypatch.setattr(users, "hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))
    now = Clock("2026-03-01T08:00:00Z")
    monkeypatch.setattr(clock, "utc_now", now)
    init_database()
    db = connect(database_path())
    system = system_actor("tests")
    sites.create_site(db, system, "LON", "London clinic", "Europe/London")
    sites.create_site(db, system, "OXF", "Oxford clinic", "Europe/London")
    accounts = {}
    for name, role, site in (
        ("admin", "admin", None),
        ("pi", "pi", None),
        ("monitor", "monitor", None),
        ("rater", "rater", "LON"),
        ("coord", "coordinator", "LON"),
        ("rater_oxf", "rater", "OXF"),
        ("coord_oxf", "coordinator", "OXF"),
    ):
        accounts[name] = users.create_user(db, system, name, role, PASSWORD, site=site, all_sites=site is None)
    a = SimpleNamespace(**accounts)
    p1 = participants.create_participant(db, a.coord, "P001", "LON", arm="ketamine")
    p2 = participants.create_participant(db, a.coord_oxf, "P002", "OXF", arm="placebo")
    now.set("2026-03-02T08:00:00Z")
    mark_eligible(db, a.coord, a.rater, p1["id"])  # a live baseline MADRS
    now.set("2026-03-02T09:00:30Z")
    infusion = record_infusion(db, a.coord, p1["id"], 1, "2026-03-02T09:00:00Z", 72.5, 0.5)
    now.set(IMPORT_TIME)
    db.close()
    return SimpleNamespace(accounts=a, p1=p1, p2=p2, infusion=infusion, clock=now)


def rows(
    participant: str,
    scale: str,
    timepoint: str,
    assessed_at: str,
    values: dict[str, object],
    reasons: dict[str, str] | None = None,
) -> list[str]:
    reasons = reasons or {}
    out = []
    for item, value in values.items():
        out.append(
            ",".join(
                [
                    participant,
                    scale,
                    timepoint,
                    assessed_at,
                    item,
                    "" if value is None else str(value),
                    reasons.get(item, ""),
                ]
            )
        )
    return out


def madrs(value: int = 3, **changes) -> dict[str, object]:
    return {**{f"madrs_{n}": value for n in range(1, 11)}, **changes}


def qids(value: int = 1) -> dict[str, object]:
    return {f"qids_sr16_{n}": value for n in range(1, 17)}


def write(tmp_path: Path, lines: list[str], name: str = "paper.csv", header: str = HEADER) -> Path:
    path = tmp_path / name
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main([*args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def snapshot() -> dict[str, int]:
    """Rows in every table (and the audit events), to show that nothing was written."""
    conn = sqlite3.connect(database_path())
    try:
        tables = [
            r[0]
            for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        ]
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
    finally:
        conn.close()


def query(sql: str, params=()) -> list[dict]:
    conn = sqlite3.connect(database_path())
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, params)]
    finally:
        conn.close()


def good_file(tmp_path: Path) -> Path:
    return write(
        tmp_path,
        [
            *rows("P001", "madrs", "day_1", DAY_1, madrs(2)),
            *rows("P001", "qids_sr16", "day_1", "2026-03-03T09:20:00+00:00", qids(1)),
            *rows(
                "P001",
                "cadss",
                "min_40",
                MIN_40,
                {f"cadss_{n}": (None if n == 5 else 1) for n in range(1, 24)},
                {"cadss_5": "participant asleep"},
            ),
        ],
    )


# --------------------------------------------------------------------------- what is stored


def test_ratings_are_stored_completed_scored_by_the_engine_and_audited_as_the_importer(trial, tmp_path, capsys):
    code, out, err = run(capsys, "import-responses", str(good_file(tmp_path)), "--as", "rater")
    assert (code, err) == (0, "")
    assert "imported 3 assessments (49 item responses) of 1 participant from paper.csv" in out
    stored = query("SELECT * FROM assessments WHERE timepoint <> 'baseline' ORDER BY scale_id")
    assert [(a["scale_id"], a["timepoint"], a["status"], a["mode"]) for a in stored] == [
        ("cadss", "min_40", "complete", "clinician"),
        ("madrs", "day_1", "complete", "clinician"),
        ("qids_sr16", "day_1", "complete", "self"),
    ]
    assert {a["rater_id"] for a in stored} == {trial.accounts.rater["id"]}
    db = connect(database_path())
    try:
        for row in stored:
            loaded = load_assessment(db, row["id"])
            expected = score(get_scale(row["scale_id"]), loaded["responses"])
            assert (loaded["score"]["total"], loaded["score"]["complete"]) == (expected.total, expected.complete)
            events = audit.events_for(db, "assessment", row["id"])
            assert {e["username"] for e in events} == {"rater"}
            assert db_exports.TRANSCRIBED_ACTION in {e["action"] for e in events}
        assert audit.verify_audit(db) is None
        madrs_row = next(r for r in stored if r["scale_id"] == "madrs")
        assert load_assessment(db, madrs_row["id"])["score"]["total"] == 20
        # The exports read these as transcribed.
        sources = {(r["scale_id"], r["timepoint"]): r["source"] for r in db_exports.assessment_rows(db)}
        assert sources == {
            ("madrs", "baseline"): "form",
            ("madrs", "day_1"): "transcribed",
            ("qids_sr16", "day_1"): "transcribed",
            ("cadss", "min_40"): "transcribed",
        }
    finally:
        db.close()
    event = query("SELECT username, new_value FROM audit_events WHERE action = ?", [db_imports.IMPORT_ACTION])
    assert len(event) == 1 and event[0]["username"] == "rater"
    details = json.loads(event[0]["new_value"])
    assert details["file"] == "paper.csv" and details["records"]["assessments"] == 3
    assert details["records"]["item_responses"] == 49 and len(details["sha256"]) == 64


def test_the_time_it_happened_and_the_time_it_was_entered_are_both_kept(trial, tmp_path, capsys):
    path = good_file(tmp_path)
    assert run(capsys, "import-responses", str(path), "--as", "rater")[0] == 0
    row = query("SELECT * FROM assessments WHERE scale_id = 'madrs' AND timepoint = 'day_1'")[0]
    assert row["assessed_at"] == "2026-03-03T09:10:00.000000Z"
    assert row["started_at"] == row["completed_at"] == "2026-03-06T12:00:00.000000Z"
    assert row["late_entry_reason"].startswith("transcribed from a source document (import of paper.csv, sha256 ")
    assert row["infusion_id"] == trial.infusion["id"]
    # Inside their windows: no protocol deviation.
    assert query("SELECT * FROM protocol_deviations") == []


def test_an_offset_other_than_utc_is_the_same_instant(trial, tmp_path, capsys):
    lines = rows("P001", "madrs", "day_1", "2026-03-03T10:10:00+01:00", madrs(2))
    assert run(capsys, "import-responses", str(write(tmp_path, lines)), "--as", "pi")[0] == 0
    assert (
        query("SELECT assessed_at FROM assessments WHERE timepoint = 'day_1'")[0]["assessed_at"]
        == "2026-03-03T09:10:00.000000Z"
    )


def test_a_rating_outside_its_window_is_a_protocol_deviation_by_the_rate_page_rule(trial, tmp_path, capsys):
    lines = rows("P001", "madrs", "day_1", "2026-03-03T16:10:00+00:00", madrs(2))  # 7 h after nominal
    code, out, _ = run(capsys, "import-responses", str(write(tmp_path, lines)), "--as", "rater")
    assert code == 0 and "1 rated outside the protocol window" in out
    deviation = query("SELECT * FROM protocol_deviations")
    assert len(deviation) == 1 and deviation[0]["kind"] == "outside_window"
    assert deviation[0]["minutes_late"] > 0 and "rated" in deviation[0]["description"]
    assert deviation[0]["assessment_id"] == query("SELECT id FROM assessments WHERE timepoint = 'day_1'")[0]["id"]


def test_not_assessed_items_with_reasons_are_accepted_and_scored_by_the_engine(trial, tmp_path, capsys):
    lines = rows(
        "P001",
        "madrs",
        "day_1",
        DAY_1,
        madrs(2, madrs_4=None, madrs_7=9),
        {"madrs_4": "participant fell asleep", "madrs_7": "interview interrupted"},
    )
    assert run(capsys, "import-responses", str(write(tmp_path, lines)), "--as", "rater")[0] == 0
    db = connect(database_path())
    try:
        row = query("SELECT id FROM assessments WHERE timepoint = 'day_1'")[0]
        loaded = load_assessment(db, row["id"])
    finally:
        db.close()
    # Stored as the form stores them: the not-assessed code, with the reason.
    assert loaded["responses"]["madrs_4"] == 9 and loaded["responses"]["madrs_7"] == 9
    assert loaded["not_assessed_reasons"] == {"madrs_4": "participant fell asleep", "madrs_7": "interview interrupted"}
    expected = score(get_scale("madrs"), loaded["responses"])
    assert loaded["score"]["total"] is None and expected.total is None  # MADRS: no proration
    assert loaded["score"]["complete"] is False and set(loaded["score"]["not_assessed"]) == {"madrs_4", "madrs_7"}


def test_an_incomplete_assessment_without_reasons_is_refused(trial, tmp_path, capsys):
    values = madrs(2)
    del values["madrs_9"], values["madrs_10"]
    before = snapshot()
    code, _, err = run(
        capsys, "import-responses", str(write(tmp_path, rows("P001", "madrs", "day_1", DAY_1, values))), "--as", "rater"
    )
    assert code == 1
    assert (
        "paper.csv: line 2: P001 madrs at day_1: incomplete: madrs_9, madrs_10 have no score and no "
        "not-assessed reason" in err
    )
    assert snapshot() == before


def test_a_safety_answer_alerts_as_on_the_form(trial, tmp_path, capsys):
    lines = rows("P001", "madrs", "day_1", DAY_1, madrs(2, madrs_10=5))
    assert run(capsys, "import-responses", str(write(tmp_path, lines)), "--as", "rater")[0] == 0
    alerts = query("SELECT * FROM safety_alerts")
    assert len(alerts) == 1 and alerts[0]["rule_id"] == "madrs_suicidal_thoughts"


# --------------------------------------------------------------------------- all or nothing


def test_a_bad_line_at_the_end_leaves_the_database_unchanged(trial, tmp_path, capsys):
    good = good_file(tmp_path).read_text().splitlines()[1:]
    lines = [*good, "P001,madrs,day_2,2026-03-04T09:00:00+00:00,madrs_10,7,"]
    before = snapshot()
    code, out, err = run(capsys, "import-responses", str(write(tmp_path, lines, "bad.csv")), "--as", "rater")
    assert code == 1 and out == ""
    problems = err.strip().splitlines()
    bad_line = len(lines) + 1
    assert problems[0] == (
        f"python -m exports import-responses: bad.csv: line {bad_line}: madrs_10: value 7 is not "
        f"allowed; allowed values are 0-6 or 9 (not assessed)"
    )
    assert problems[-1].endswith("nothing was imported (correct the file and import it again)")
    assert snapshot() == before  # every table, the audit trail included


def test_one_line_per_bad_row_and_every_row_checked(trial, tmp_path, capsys):
    lines = rows("P001", "madrs", "day_1", DAY_1, madrs(2))
    lines[2] = "P001,madrs,day_1,2026-03-03T09:10:00+00:00,madrs_3,x,"
    lines[5] = "P001,madrs,day_1,2026-03-03T09:10:00+00:00,madrs_99,1,"
    lines.append("P001,phq9,day_1,2026-03-03 09:10,phq9_1,1,")
    lines.append("P001,madrs,day_9,2026-03-03T09:10:00+00:00,madrs_1,1,")
    code, _, err = run(capsys, "import-responses", str(write(tmp_path, lines)), "--as", "rater")
    assert code == 1
    problems = [p.split(": ", 1)[1] for p in err.strip().splitlines()]
    assert (
        problems[0] == "paper.csv: line 4: madrs_3: value 'x' is not a number; allowed values are 0-6 or the "
        "not-assessed code 9"
    )
    assert problems[1].startswith("paper.csv: line 7: madrs_99: not an item of madrs")
    assert problems[2].startswith("paper.csv: line 12: phq9 is not planned at timepoint day_1")
    assert "assessed_at '2026-03-03 09:10' has no UTC offset" in problems[2]
    assert problems[3].startswith("paper.csv: line 13: timepoint 'day_9' is not in the protocol")
    # One line per bad row, nothing more: the MADRS is not also called incomplete for its two bad lines.
    assert len([p for p in problems if ": line " in p]) == 4


def test_a_future_time_and_a_time_before_enrolment_are_refused_by_the_late_entry_rule(trial, tmp_path, capsys):
    lines = [
        *rows("P001", "madrs", "day_1", "2026-03-07T09:10:00+00:00", madrs(2)),
        *rows("P001", "qids_sr16", "day_1", "2026-02-20T09:10:00+00:00", qids(1)),
    ]
    before = snapshot()
    code, _, err = run(capsys, "import-responses", str(write(tmp_path, lines)), "--as", "rater")
    assert code == 1 and snapshot() == before
    assert "line 2: P001 madrs at day_1: The time it happened (2026-03-07 09:10 GMT) is in the future" in err
    assert (
        "line 12: P001 qids_sr16 at day_1: The time it happened (2026-02-20 09:10 GMT) is before the "
        "participant's enrolment" in err
    )


def test_the_same_slot_at_two_times_and_an_item_twice_are_refused(trial, tmp_path, capsys):
    lines = [
        *rows("P001", "madrs", "day_1", DAY_1, madrs(2)),
        "P001,madrs,day_1,2026-03-03T09:30:00+00:00,madrs_1,1,",
        "P001,madrs,day_1,2026-03-03T09:10:00+00:00,madrs_1,1,",
    ]
    code, _, err = run(capsys, "import-responses", str(write(tmp_path, lines)), "--as", "rater")
    assert code == 1
    assert "line 12: P001 madrs at day_1 is also given at 2026-03-03T09:10:00.000000Z (line 2)" in err
    assert "line 13: madrs_1 is already given for this assessment on line 2" in err


# --------------------------------------------------------------------------- who, twice, participants


def test_an_account_not_allowed_at_the_site_is_refused(trial, tmp_path, capsys):
    lines = rows("P002", "madrs", "day_1", DAY_1, madrs(2))
    before = snapshot()
    code, _, err = run(capsys, "import-responses", str(write(tmp_path, lines)), "--as", "rater")
    assert code == 1 and snapshot() == before
    assert "line 2: participant P002: rater works at another site and may not see or change this site's records" in err
    code, _, err = run(capsys, "import-responses", str(write(tmp_path, lines)), "--as", "monitor")
    assert code == 1 and "--as monitor: monitor (monitor) may not assessment: start" in err
    code, _, err = run(capsys, "import-responses", str(write(tmp_path, lines)), "--as", "nobody")
    assert code == 1 and "--as nobody: no account 'nobody'" in err
    assert snapshot() == before
    assert run(capsys, "import-responses", str(write(tmp_path, lines)), "--as", "rater_oxf")[0] == 0


def test_importing_the_same_file_twice_is_refused_not_doubled(trial, tmp_path, capsys):
    path = good_file(tmp_path)
    assert run(capsys, "import-responses", str(path), "--as", "rater")[0] == 0
    after_first = snapshot()
    code, _, err = run(capsys, "import-responses", str(path), "--as", "pi")
    assert code == 1
    assert (
        "paper.csv: this file (sha256 " in err
        and "was already imported on 2026-03-06 12:00 UTC by rater (3 assessments)" in err
    )
    assert snapshot() == after_first
    # The same ratings in another file (another order) meet the stored ones.
    copy = path.read_text().splitlines()
    other = write(tmp_path, list(reversed(copy[1:])), "copy.csv")
    code, _, err = run(capsys, "import-responses", str(other), "--as", "rater")
    assert code == 1 and "P001 already has madrs at day_1 (assessment" in err
    assert snapshot() == after_first


def test_unknown_participants_are_an_error_unless_created_at_the_site(trial, tmp_path, capsys):
    lines = [
        *rows("P900", "madrs", "baseline", "2026-03-04T09:00:00+00:00", madrs(3)),
        *rows("P900", "qids_sr16", "baseline", "2026-03-04T09:05:00+00:00", qids(2)),
        *rows("P901", "madrs", "baseline", "2026-03-05T09:00:00+00:00", madrs(1)),
    ]
    path = write(tmp_path, lines)
    before = snapshot()
    code, _, err = run(capsys, "import-responses", str(path), "--as", "coord")
    assert code == 1 and snapshot() == before
    assert "line 2: participant P900 is not enrolled in this study" in err
    assert "line 28: participant P901 is not enrolled in this study" in err
    code, _, err = run(capsys, "import-responses", str(path), "--as", "coord", "--create-participants")
    assert code == 1 and "--create-participants needs --site CODE" in err
    code, _, err = run(capsys, "import-responses", str(path), "--as", "rater", "--create-participants", "--site", "LON")
    assert code == 1 and "--as rater: rater (rater) may not participant: enrol" in err
    code, _, err = run(capsys, "import-responses", str(path), "--as", "coord", "--create-participants", "--site", "OXF")
    assert code == 1 and "coord works at another site" in err
    assert snapshot() == before

    code, out, err = run(
        capsys, "import-responses", str(path), "--as", "coord", "--create-participants", "--site", "LON"
    )
    assert (code, err) == (0, "") and "enrolled P900, P901" in out
    created = {
        p["code"]: p
        for p in query(
            "SELECT p.*, s.code AS site FROM participants p JOIN sites s ON s.id = p.site_id WHERE p.code LIKE 'P90%'"
        )
    }
    assert {c: p["site"] for c, p in created.items()} == {"P900": "LON", "P901": "LON"}
    # Enrolled as of their earliest rating (so the late-entry rule accepts it); the audit keeps the entry time.
    assert created["P900"]["created_at"] == "2026-03-04T09:00:00.000000Z"
    event = query(
        "SELECT username, ts, reason FROM audit_events WHERE action = 'participant.create' AND participant_id = ?",
        [created["P900"]["id"]],
    )[0]
    assert event["username"] == "coord" and event["ts"] == "2026-03-06T12:00:00.000000Z"
    assert event["reason"].startswith("transcribed from a source document")
    assert (
        len(
            query(
                "SELECT id FROM assessments WHERE participant_id IN (?, ?)",
                [created["P900"]["id"], created["P901"]["id"]],
            )
        )
        == 3
    )


def test_site_asserts_where_every_participant_belongs(trial, tmp_path, capsys):
    lines = rows("P001", "madrs", "day_1", DAY_1, madrs(2))
    code, _, err = run(capsys, "import-responses", str(write(tmp_path, lines)), "--as", "pi", "--site", "OXF")
    assert code == 1 and "participant P001 belongs to site LON, not OXF (--site)" in err
    code, _, err = run(capsys, "import-responses", str(write(tmp_path, lines)), "--as", "pi", "--site", "XXX")
    assert code == 1 and "--site: " in err and "the sites are LON, OXF" in err


def test_dry_run_checks_everything_and_writes_nothing(trial, tmp_path, capsys):
    path = good_file(tmp_path)
    before = snapshot()
    code, out, err = run(capsys, "import-responses", str(path), "--as", "rater", "--dry-run")
    assert (code, err) == (0, "")
    assert out.startswith("would import 3 assessments (49 item responses)") and "dry run: nothing was written" in out
    assert snapshot() == before
    assert run(capsys, "import-responses", str(path), "--as", "rater")[0] == 0  # not counted as imported


def test_a_per_infusion_timepoint_needs_its_infusion(trial, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SCALEBOOK_PROTOCOL", str(Path("protocol/studies/repeated_infusion.json").resolve()))
    lines = [
        *rows("P001", "madrs", "min_40@1", MIN_40, madrs(2)),
        *rows("P001", "cadss", "min_40", MIN_40, {f"cadss_{n}": 0 for n in range(1, 24)}),
        *rows("P001", "bprs", "min_40@2", "2026-03-05T09:41:00+00:00", {f"bprs_{n}": 1 for n in range(1, 19)}),
    ]
    code, _, err = run(capsys, "import-responses", str(write(tmp_path, lines)), "--as", "rater")
    assert code == 1
    assert "line 12: timepoint min_40 is repeated at each infusion: give infusion_number" in err
    assert "P001 bprs at min_40@2: P001 has no infusion 2 logged" in err
    path = write(tmp_path, [*rows("P001", "madrs", "min_40@1", MIN_40, madrs(2))], "ok.csv")
    assert run(capsys, "import-responses", str(path), "--as", "rater")[0] == 0
    stored = query(
        "SELECT timepoint, infusion_id FROM assessments WHERE scale_id = 'madrs' AND timepoint <> 'baseline'"
    )
    assert stored == [{"timepoint": "min_40@1", "infusion_id": trial.infusion["id"]}]


def test_infusion_number_column_names_the_infusion(trial, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SCALEBOOK_PROTOCOL", str(Path("protocol/studies/repeated_infusion.json").resolve()))
    header = HEADER + ",infusion_number"
    lines = [line + ",1" for line in rows("P001", "madrs", "min_40", MIN_40, madrs(2))]
    assert run(capsys, "import-responses", str(write(tmp_path, lines, header=header)), "--as", "rater")[0] == 0
    assert query("SELECT timepoint FROM assessments WHERE timepoint LIKE 'min_40%'") == [{"timepoint": "min_40@1"}]


# --------------------------------------------------------------------------- unreadable files


def test_a_file_that_is_not_utf8_is_one_line(trial, tmp_path, capsys):
    path = tmp_path / "latin1.csv"
    path.write_bytes((HEADER + "\nP001,madrs,day_1," + DAY_1 + ",madrs_1,1,r\u00e9veil\n").encode("latin-1"))
    code, _, err = run(capsys, "import-responses", str(path), "--as", "rater")
    assert code == 1
    assert err.strip().splitlines() == [
        "python -m exports import-responses: latin1.csv: line 2: the file is not UTF-8 "
        "text (byte 0xe9); save it as 'CSV UTF-8' and import it again"
    ]


def test_a_ragged_row_is_one_line(trial, tmp_path, capsys):
    lines = rows("P001", "madrs", "day_1", DAY_1, madrs(2))
    lines[3] += ",extra"
    code, _, err = run(capsys, "import-responses", str(write(tmp_path, lines)), "--as", "rater")
    assert code == 1
    ragged = [p for p in err.splitlines() if "fields" in p]
    assert ragged == [
        "python -m exports import-responses: paper.csv: line 5: 8 fields, but the header has 7; check "
        "for a missing or extra comma (quote text that contains a comma)"
    ]


def test_missing_and_unknown_columns_are_one_line_each(trial, tmp_path, capsys):
    path = write(tmp_path, ["P001,madrs,day_1,madrs_1,1,"], header="participant,scale,timepoint,item,valeu,comment")
    code, _, err = run(capsys, "import-responses", str(path), "--as", "rater")
    assert code == 1
    problems = err.strip().splitlines()
    assert len(problems) == 4, problems
    assert "line 1: the column 'assessed_at' is missing" in problems[0]
    assert "line 1: the column 'value' is missing" in problems[1]
    assert "line 1: column 5 'valeu' is not a column of this import" in problems[2]
    assert "line 1: column 6 'comment' is not a column of this import" in problems[3]


def test_empty_and_header_only_files(trial, tmp_path, capsys):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    code, _, err = run(capsys, "import-responses", str(empty), "--as", "rater")
    assert code == 1 and "empty.csv: the file is empty" in err
    code, _, err = run(capsys, "import-responses", str(write(tmp_path, [], "header.csv")), "--as", "rater")
    assert code == 1 and "header.csv: the file has a header but no rows" in err
    code, _, err = run(capsys, "import-responses", str(tmp_path / "missing.csv"), "--as", "rater")
    assert code == 1 and "missing.csv: no such file" in err


def test_an_empty_study_refuses_unknown_participants_and_accepts_created_ones(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(users, "hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))
    init_database()
    db = connect(database_path())
    sites.create_site(db, system_actor("tests"), "LON", "London clinic", "Europe/London")
    users.create_user(db, system_actor("tests"), "pi", "pi", PASSWORD, all_sites=True)
    db.close()
    lines = rows("X01", "madrs", "baseline", "2026-01-05T09:00:00+00:00", madrs(4))
    path = write(tmp_path, lines)
    code, _, err = run(capsys, "import-responses", str(path), "--as", "pi")
    assert code == 1 and "participant X01 is not enrolled" in err
    code, out, _ = run(capsys, "import-responses", str(path), "--as", "pi", "--create-participants", "--site", "LON")
    assert code == 0 and "imported 1 assessment" in out


def test_the_importer_checks_rows_without_the_command_line(trial):
    """The reading and checking functions are usable on their own (no database)."""
    from protocol import load_protocol

    data = (HEADER + "\n" + "\n".join(rows("P001", "madrs", "day_1", DAY_1, madrs(2)))).encode()
    found, problems = responses_in.read_rows(data, "x.csv", load_protocol())
    assert problems == [] and len(found) == 10
    ratings, problems = responses_in.group_ratings(found, "x.csv")
    assert problems == [] and len(ratings) == 1 and ratings[0].lines == list(range(2, 12))


def test_csv_export_reports_transcribed_source_and_happened_time(trial, tmp_path, capsys):
    """What the import stores leaves through the CSV export as source `transcribed`, rated when it happened."""
    assert run(capsys, "import-responses", str(good_file(tmp_path)), "--as", "rater")[0] == 0
    out = tmp_path / "export"
    code, _, err = run(capsys, "csv", "--out", str(out), "--as", "admin")
    assert code == 0, err
    with (out / "assessments.csv").open(encoding="utf-8", newline="") as handle:
        exported = {(r["scale"], r["timepoint"]): r for r in csv.DictReader(handle)}
    assert exported[("madrs", "day_1")]["source"] == "transcribed"
    assert exported[("madrs", "day_1")]["assessed_at"] == "2026-03-03T09:10:00+00:00"
    assert exported[("madrs", "baseline")]["source"] == "form"
    with (out / "responses.csv").open(encoding="utf-8", newline="") as handle:
        reasons = {r["item"]: r["not_assessed_reason"] for r in csv.DictReader(handle) if r["not_assessed"] == "true"}
    assert reasons == {"cadss_5": "participant asleep"}


def test_help_describes_the_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["import-responses", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for word in ("--as USERNAME", "--create-participants", "--site CODE", "--dry-run", "assessed_at"):
        assert word in text
