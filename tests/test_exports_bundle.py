"""exports.bundle.build_zip: every export as one ZIP for the Data export page (issue 12, point 7),
tested without Streamlit. The ZIP holds what the command line writes, byte for byte (the SAS
transport files value for value: their header carries the wall-clock time of writing), for the
account's site scope and blinding, and each ZIP is one audit event.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pyreadstat
import pytest
from argon2 import PasswordHasher

from db import clock, participants, sites, users
from db import exports as db_exports
from db.assessments import save_assessment
from db.clinical import record_infusion
from db.connection import connect, database_path
from db.migrations import init_database
from db.permissions import system_actor
from exports import bundle, define_xml, fhir
from exports.cli import CommandError, main
from scales.loader import registry
from tests.conftest_db import PASSWORD, mark_eligible

FROZEN = "2026-03-06T12:00:00.000000Z"
MADRS_2 = {f"madrs_{n}": 2 for n in range(1, 11)}


class Clock:
    def __init__(self, start: str) -> None:
        self.now = clock.parse_utc(start)

    def set(self, text: str) -> None:
        self.now = clock.parse_utc(text)

    def __call__(self) -> str:
        return clock.format_utc(self.now)


def full(scale_id: str, value: int = 1) -> dict[str, int]:
    definition = registry()[scale_id]
    skip = {m for group in definition.choice_groups for m in group[1:]}
    return {i.id: min(max(value, i.min), i.max) for i in definition.items if i.id not in skip}


@pytest.fixture
def trial(monkeypatch):
    """Two sites; P001 (London) with a baseline, infusion 1 and ratings at 40 minutes and day 1;
    P002 (Oxford) with a baseline. Every clock the exports read is frozen."""
    monkeypatch.setattr(users, "hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))
    now = Clock("2026-03-01T08:00:00Z")
    monkeypatch.setattr(clock, "utc_now", now)
    monkeypatch.setattr(fhir, "utc_now", lambda: FROZEN)
    monkeypatch.setattr(define_xml, "utc_now", lambda: FROZEN)
    monkeypatch.setattr(bundle, "utc_now", lambda: FROZEN)
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
        ("monitor_lon", "monitor", "LON"),
        ("rater", "rater", "LON"),
        ("coord", "coordinator", "LON"),
        ("rater_oxf", "rater", "OXF"),
        ("coord_oxf", "coordinator", "OXF"),
    ):
        accounts[name] = users.create_user(db, system, name, role, PASSWORD, site=site, all_sites=site is None)
    a = SimpleNamespace(**accounts)
    p1 = participants.create_participant(db, a.coord, "P001", "LON", arm="ketamine")
    p2 = participants.create_participant(db, a.coord_oxf, "P002", "OXF", arm="midazolam")
    now.set("2026-03-02T08:00:00Z")
    mark_eligible(db, a.coord, a.rater, p1["id"])
    save_assessment(db, a.rater, p1["id"], "baseline", "qids_sr16", "kiosk", full("qids_sr16", 1))
    now.set("2026-03-02T09:00:30Z")
    infusion = record_infusion(db, a.coord, p1["id"], 1, "2026-03-02T09:00:00Z", 72.5, 0.5, notes="=pump check")
    now.set("2026-03-02T09:42:00Z")
    save_assessment(db, a.rater, p1["id"], "min_40", "madrs", "clinician", MADRS_2, infusion_id=infusion["id"])
    save_assessment(db, a.rater, p1["id"], "min_40", "cadss", "clinician", full("cadss", 1))
    now.set("2026-03-03T09:05:00Z")
    save_assessment(
        db,
        a.rater,
        p1["id"],
        "day_1",
        "madrs",
        "clinician",
        {**MADRS_2, "madrs_10": 9},
        not_assessed_reasons={"madrs_10": "@interrupted"},
    )
    now.set("2026-03-02T14:00:00Z")
    mark_eligible(db, a.coord_oxf, a.rater_oxf, p2["id"])
    now.set("2026-03-06T12:00:00Z")
    db.close()
    return SimpleNamespace(accounts=a, p1=p1, p2=p2)


def unzip(built: bundle.ZipExport) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(built.data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def cli(capsys, *args: str) -> str:
    code = main([*args])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


def table(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


def xpt(path_or_bytes, tmp_path: Path) -> pd.DataFrame:
    if isinstance(path_or_bytes, bytes):
        path = tmp_path / "from_zip.xpt"
        path.write_bytes(path_or_bytes)
        path_or_bytes = path
    frame, _ = pyreadstat.read_xport(str(path_or_bytes))
    return frame


def export_events() -> list[dict]:
    db = connect(database_path())
    try:
        rows = db.execute(
            "SELECT username, role, entity_id, new_value FROM audit_events WHERE action = ? ORDER BY id",
            [db_exports.EXPORT_ACTION],
        ).fetchall()
    finally:
        db.close()
    return [{"username": u, "role": r, "kind": k, **json.loads(v)} for u, r, k, v in rows]


# --------------------------------------------------------------------------- the same files as the CLI


def test_the_zip_holds_exactly_what_the_command_line_writes(trial, tmp_path, capsys):
    built = bundle.build_zip(None, trial.accounts.admin, ["csv", "sdtm", "fhir", "redcap"], study_id="KET01")
    files = unzip(built)

    cli(capsys, "csv", "--out", str(tmp_path / "csv"), "--as", "admin")
    cli(capsys, "sdtm", "--out", str(tmp_path / "sdtm"), "--study-id", "KET01", "--as", "admin")
    cli(capsys, "fhir-responses", "--out", str(tmp_path / "responses.json"), "--as", "admin")
    cli(capsys, "redcap-records", "--out", str(tmp_path / "records.csv"), "--as", "admin")
    expected: dict[str, bytes] = {}
    for folder in ("csv", "sdtm"):
        for path in sorted((tmp_path / folder).iterdir()):
            expected[f"{folder}/{path.name}"] = path.read_bytes()
    for scale_id in sorted(registry()):
        expected[f"fhir/questionnaire_{scale_id}.json"] = cli(capsys, "fhir-questionnaire", scale_id).encode()
    expected["fhir/responses.json"] = (tmp_path / "responses.json").read_bytes()
    expected["redcap/dictionary.csv"] = cli(capsys, "redcap-dictionary").encode()
    expected["redcap/records.csv"] = (tmp_path / "records.csv").read_bytes()

    assert set(files) == set(expected) | {"manifest.json"}
    for name, data in expected.items():
        if name.endswith(".xpt"):  # the SAS header holds the time of writing: compare the values
            pd.testing.assert_frame_equal(xpt(files[name], tmp_path), xpt(tmp_path / name, tmp_path))
        else:
            assert files[name] == data, name
    manifest = json.loads(files["manifest.json"])
    assert manifest["exported_by"] == "admin" and manifest["blinded"] is False and manifest["site"] == "all sites"
    assert manifest["records"] == built.counts and manifest["records"]["csv/assessments.csv"] == 6


def test_a_site_bound_account_gets_its_site_only(trial):
    built = bundle.build_zip(None, trial.accounts.monitor_lon, ["csv"])
    assert built.site == "LON" and built.file_name.startswith("scalebook-export-lon-20260306-1200")
    assert {r["participant"] for r in table(unzip(built)["csv/participants.csv"])} == {"P001"}
    with pytest.raises(CommandError) as refused:
        bundle.build_zip(None, trial.accounts.monitor_lon, ["csv"], site="OXF")
    assert refused.value.problems == [
        "Site OXF: monitor_lon works at site LON and may export only that site's participants"
    ]


def test_a_chosen_site_narrows_an_account_of_every_site(trial):
    everyone = unzip(bundle.build_zip(None, trial.accounts.pi, ["csv", "fhir"]))
    oxford = unzip(bundle.build_zip(None, trial.accounts.pi, ["csv", "fhir"], site="OXF"))
    assert {r["participant"] for r in table(everyone["csv/participants.csv"])} == {"P001", "P002"}
    assert {r["participant"] for r in table(oxford["csv/participants.csv"])} == {"P002"}
    bundle_json = json.loads(oxford["fhir/responses.json"])
    assert len(bundle_json["entry"]) == 1


def test_blinding_follows_the_role(trial):
    masked = bundle.build_zip(None, trial.accounts.pi, ["csv", "sdtm"], study_id="KET01")
    files = unzip(masked)
    assert masked.masked and "may not see treatment allocation" in masked.notice
    assert {r["arm"] for r in table(files["csv/participants.csv"])} == {"BLINDED"}
    assert {r["dose_mg_per_kg"] for r in table(files["csv/infusions.csv"])} == {"BLINDED"}
    assert {r["ARM"] for r in table(files["sdtm/dm.csv"])} == {"BLINDED"}
    unmasked = bundle.build_zip(None, trial.accounts.admin, ["csv"])
    assert not unmasked.masked and unmasked.notice is None
    assert {r["arm"] for r in table(unzip(unmasked)["csv/participants.csv"])} == {"ketamine", "midazolam"}


def test_every_zip_is_one_audit_event_with_its_counts(trial):
    built = bundle.build_zip(None, trial.accounts.monitor, ["redcap", "fhir"], site="LON")
    events = export_events()
    assert len(events) == 1
    event = events[0]
    assert (event["username"], event["role"], event["kind"]) == ("monitor", "monitor", bundle.AUDIT_KIND)
    assert event["site"] == "LON" and event["blinded"] is True and event["kinds"] == ["redcap", "fhir"]
    assert event["records"] == built.counts and event["total_records"] == built.total_records
    assert event["records"]["fhir/responses.json"] == 5 and event["destination"] == f"download {built.file_name}"


def test_who_may_export_and_bad_choices_are_refused_with_nothing_audited(trial):
    for account in (trial.accounts.rater, trial.accounts.coord):
        with pytest.raises(CommandError) as refused:
            bundle.build_zip(None, account, ["csv"])
        assert "may not export: read" in refused.value.problems[0]
    with pytest.raises(CommandError) as refused:
        bundle.build_zip(None, trial.accounts.pi, [])
    assert refused.value.problems == ["choose at least one export: csv, sdtm, fhir, redcap"]
    with pytest.raises(CommandError) as refused:
        bundle.build_zip(None, trial.accounts.pi, ["csv", "xml", "sdtm"], study_id="no spaces")
    assert refused.value.problems[0] == "unknown export 'xml'; choose from csv, sdtm, fhir, redcap"
    assert refused.value.problems[1].startswith("Study ID 'no spaces': use 1-20 letters")
    with pytest.raises(CommandError) as refused:
        bundle.build_zip(None, trial.accounts.pi, ["csv"], site="NOPE")
    assert "NOPE" in refused.value.problems[0]
    assert export_events() == []


def test_progress_is_reported_part_by_part_up_to_done(trial):
    seen: list[tuple[float, str]] = []
    bundle.build_zip(
        None, trial.accounts.pi, ["csv", "sdtm", "fhir"], progress=lambda f, t: seen.append((f, t)), study_id="KET01"
    )
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    assert [t for _, t in seen] == [
        "Writing CSV for statisticians (1 of 3)",
        "Writing CDISC SDTM with define.xml (2 of 3)",
        "Writing HL7 FHIR R4 (3 of 3)",
        "Packing the ZIP file",
        "Ready",
    ]


def test_an_empty_study_exports_headers_only(tmp_path, monkeypatch):
    monkeypatch.setattr(users, "hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))
    init_database()
    db = connect(database_path())
    admin = users.create_user(db, system_actor("tests"), "admin", "admin", PASSWORD, all_sites=True)
    db.close()
    built = bundle.build_zip(None, admin, list(bundle.KINDS), study_id="EMPTY")
    files = unzip(built)
    assert table(files["csv/assessments.csv"]) == [] and "fhir/responses.json" in files
    assert json.loads(files["fhir/responses.json"])["resourceType"] == "Bundle"
    assert files["redcap/records.csv"].decode().splitlines()[0].startswith("record_id,redcap_event_name")
    assert built.counts["sdtm/dm.xpt"] == 0


def test_default_study_id_fits_studyid():
    from protocol import load_protocol

    study_id = bundle.default_study_id(load_protocol())
    assert 1 <= len(study_id) <= 20 and bundle.STUDY_ID_PATTERN.match(study_id)
