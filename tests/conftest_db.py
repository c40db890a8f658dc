"""The database fixtures of every test (loaded by tests/conftest.py through pytest_plugins:
never import a fixture from here) and helpers that tests import by name.

Also a small worker for the tests that need other processes (crash safety, concurrency):
`python -m tests.conftest_db save DB ACTOR_ID PARTICIPANT_ID PREFIX COUNT [--pause-at N]` saves
COUNT complete assessments, printing `saved <timepoint>` after each commit; with --pause-at it
stops inside the N-th save's transaction, after every row is written and before COMMIT, prints
`in-transaction <timepoint>` and sleeps, so the test can SIGKILL it at that exact point.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from argon2 import PasswordHasher

from db import audit, connect, database_path, init_database, participants, sites, unit_of_work, users
from db.connection import APP_WRITER
from db.permissions import system_actor
from protocol.loader import default_protocol_path
from scales import get_scale, score
from scales.errors import UnknownScaleError
from tests.app_support import PASSWORD, ROLES

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _test_scale() -> str:
    try:
        get_scale("hamd17")
        return "hamd17"
    except UnknownScaleError:  # pragma: no cover - only before hamd17.json exists
        return "phq9"


SCALE = _test_scale()


def full_responses(scale_id: str = SCALE, value: int = 1) -> dict[str, int]:
    """Every item answered (the first member of each choice group), each with `value` or its max."""
    definition = get_scale(scale_id)
    skip = {m for group in definition.choice_groups for m in group[1:]}
    return {i.id: min(value, i.max) for i in definition.items if i.id not in skip}


def expected_event_count(scale_id: str, responses: dict[str, int]) -> int:
    """Audit events of one save_assessment: start, one per item, complete, score, alerts."""
    from scales import score

    result = score(get_scale(scale_id), responses)
    return 3 + len(responses) + len(result.safety_flags)


WORKER_RESPONSES = full_responses(SCALE, 2)  # what the worker saves


def assert_all_or_nothing(db_path) -> list[str]:
    """Every assessment in the file is complete with all its rows; nothing dangles; the
    database and the audit chain are intact. Returns the saved timepoints."""
    conn = raw(db_path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        rows = conn.execute("SELECT id, timepoint, status, version FROM assessments ORDER BY id").fetchall()
        for aid, timepoint, status, version in rows:
            assert status == "complete" and version >= 2, timepoint
            assert conn.execute("SELECT count(*) FROM item_responses WHERE assessment_id = ?", [aid]).fetchone()[
                0
            ] == len(WORKER_RESPONSES), timepoint
            assert conn.execute("SELECT count(*) FROM scores WHERE assessment_id = ?", [aid]).fetchone()[0] == 1
            assert conn.execute("SELECT count(*) FROM safety_alerts WHERE assessment_id = ?", [aid]).fetchone()[
                0
            ] == len(score(get_scale(SCALE), WORKER_RESPONSES).safety_flags)
            assert (
                conn.execute(
                    "SELECT count(*) FROM audit_events WHERE entity = 'assessment' AND entity_id = ?", [str(aid)]
                ).fetchone()[0]
                == len(WORKER_RESPONSES) + 3
            )
        ids = {str(r[0]) for r in rows}
        logged = {r[0] for r in conn.execute("SELECT DISTINCT entity_id FROM audit_events WHERE entity = 'assessment'")}
        assert logged == ids, "audit events for an assessment that was not saved"
    finally:
        conn.close()
    check = connect(db_path)
    try:
        assert audit.verify_audit(check) is None
    finally:
        check.close()
    return [r[1] for r in rows]


@pytest.fixture
def fast_passwords(monkeypatch):
    """argon2 at its cheapest: the tests exercise sign-in and storage logic, not the hash's cost."""
    monkeypatch.setattr(users, "hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))


@pytest.fixture
def db_path(tmp_path) -> Path:
    """A migrated database at $SCALEBOOK_DB (the root conftest points it into tmp_path)."""
    path = database_path()
    assert str(path).startswith(str(tmp_path)), "SCALEBOOK_DB must point into the test's tmp_path"
    init_database(path)
    return path


@pytest.fixture
def conn(db_path):
    """An open connection to the migrated database of `db_path`, closed after the test."""
    conn = connect(db_path)
    yield conn
    conn.close()


@pytest.fixture
def world(conn, fast_passwords) -> SimpleNamespace:
    """Two sites, one account per role (plus a second rater and a rater at site S2), and
    participants P001 (S1) and P002 (S2)."""
    system = system_actor("tests")
    sites.create_site(conn, system, "S1", "Site one", "Europe/London")
    sites.create_site(conn, system, "S2", "Site two")
    made = {}
    for name, role, site in (
        ("admin", "admin", None),
        ("pi", "pi", None),
        ("rater", "rater", "S1"),
        ("rater2", "rater", "S1"),
        ("rater_s2", "rater", "S2"),
        ("coord", "coordinator", "S1"),
        ("coord_s2", "coordinator", "S2"),
        ("monitor", "monitor", None),
    ):
        made[name] = users.create_user(conn, system, name, role, PASSWORD, site=site, all_sites=site is None)
    p1 = participants.create_participant(conn, made["coord"], "P001", "S1", arm="A")
    p2 = participants.create_participant(conn, made["coord_s2"], "P002", "S2", arm="B")
    return SimpleNamespace(db=conn, system=system, p1=p1, p2=p2, **made)


@pytest.fixture
def app_world(fast_passwords) -> SimpleNamespace:
    """What the page tests sign in to: sites LON and OXF, one account per role named after it
    (admin, pi and monitor of every site, the others of LON), KET-001 (LON, ketamine) as `p1`
    and KET-002 (OXF, midazolam) as `p2`; `users` maps each role to its account."""
    init_database()
    system = system_actor("tests")
    with unit_of_work() as db:
        sites.create_site(db, system, "LON", "London clinic", "Europe/London")
        sites.create_site(db, system, "OXF", "Oxford clinic", "Europe/London")
        everywhere = ("admin", "pi", "monitor")  # accounts of every site (chosen explicitly: issue 13 item 15)
        accounts = {
            role: users.create_user(
                db, system, role, role, PASSWORD, None if role in everywhere else "LON", all_sites=role in everywhere
            )
            for role in ROLES
        }
        coordinator = accounts["coordinator"]
        p1 = participants.create_participant(db, coordinator, "KET-001", "LON", arm="ketamine")
        pi = accounts["pi"]
        p2 = participants.create_participant(db, pi, "KET-002", "OXF", arm="midazolam")
    return SimpleNamespace(users=accounts, p1=p1, p2=p2)


@pytest.fixture
def unblinded(app_world, tmp_path, monkeypatch):
    """The default protocol with blinded: false (through SCALEBOOK_PROTOCOL), and the study row
    unblinded too, for the page tests of what an unblinded study shows."""
    from ui import study as ui_study  # Streamlit: not loaded by the worker processes of this module

    source = database_path().parent / "unblinded.json"
    shutil.copy(default_protocol_path(), source)
    definition = json.loads(source.read_text())
    definition["blinded"] = False
    definition.pop("$schema", None)
    source.write_text(json.dumps(definition))
    monkeypatch.setenv("SCALEBOOK_PROTOCOL", str(source))
    conn = raw(database_path())
    try:
        conn.execute("UPDATE studies SET blinded = 0")
    finally:
        conn.close()
    ui_study._load.clear()
    yield
    ui_study._load.clear()


def raw(path: Path, *, as_the_app: bool = True) -> sqlite3.Connection:
    """A plain sqlite3 connection, as someone bypassing the Python layer would open one.

    as_the_app=True also defines the SQL function the m009 triggers require (what someone who
    read the code would do), so a test reaches the finer triggers behind that first refusal;
    as_the_app=False is any other tool (the sqlite3 shell), which m009 refuses outright."""
    conn = sqlite3.connect(str(path), isolation_level=None, timeout=10)
    conn.execute("PRAGMA foreign_keys = ON")
    if as_the_app:
        conn.create_function(APP_WRITER, 0, lambda: 1, deterministic=True)
    return conn


def counts(path: Path) -> dict[str, int]:
    """Rows per data table, to show that a refused call wrote nothing."""
    conn = raw(path)
    try:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE "
                "'sqlite_%' AND name <> '_sqlite_migrations'"
            )
        ]
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}
    finally:
        conn.close()


def snapshot(path: Path) -> dict[str, list[tuple]]:
    """Every row of every data table, to show that nothing at all changed."""
    conn = raw(path)
    try:
        tables = [
            r[0]
            for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        ]
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall() for t in tables}
    finally:
        conn.close()


def worker_command(*args: object) -> list[str]:
    return [sys.executable, "-m", "tests.conftest_db", *map(str, args)]


def _worker(argv: list[str]) -> None:
    """See the module docstring."""
    import argparse

    from db import audit, unit_of_work
    from db.assessments import save_assessment

    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["save"])
    parser.add_argument("db")
    parser.add_argument("actor_id", type=int)
    parser.add_argument("participant_id", type=int)
    parser.add_argument("prefix")
    parser.add_argument("count", type=int)
    parser.add_argument("--pause-at", type=int, default=-1)
    parser.add_argument("--scale", default=SCALE)
    args = parser.parse_args(argv)

    with unit_of_work(args.db, write=False) as db:
        actor = users.get_user(db, args.actor_id)
    responses = WORKER_RESPONSES if args.scale == SCALE else full_responses(args.scale, 2)
    original = audit.record_many
    current = {"i": -1, "tp": ""}

    def record_and_maybe_pause(db, actor, events):
        rows = original(db, actor, events)
        if current["i"] == args.pause_at:
            print(f"in-transaction {current['tp']}", flush=True)
            time.sleep(600)
        return rows

    audit.record_many = record_and_maybe_pause
    for i in range(args.count):
        timepoint = f"{args.prefix}-{i}"
        current.update(i=i, tp=timepoint)
        with unit_of_work(args.db) as db:
            save_assessment(db, actor, args.participant_id, timepoint, args.scale, "clinician", responses)
        print(f"saved {timepoint}", flush=True)


if __name__ == "__main__":
    _worker(sys.argv[1:])


PASSING_SCREENING = {
    "depressive_episode": True,
    "failed_treatments": 2,
    "age_18_to_65": 40,
    "psychosis_history": False,
    "substance_use_disorder": False,
    "cardiovascular_risk": False,
    "intracranial_hypertension_or_seizures": False,
    "pregnancy_or_breastfeeding": False,
}


def mark_eligible(db, coordinator, rater, participant_id, protocol=None):
    """Give a participant a baseline MADRS of 30 and an eligible screening decision, so that
    they may be dosed (the infusions table refuses anyone else)."""
    from db.assessments import save_assessment
    from db.screening import record_eligibility
    from protocol import load_protocol, screening_questions

    protocol = protocol or load_protocol()
    answers = {q.id: PASSING_SCREENING[q.id] for q in screening_questions(protocol) if not q.automatic}
    save_assessment(
        db, rater, participant_id, "baseline", "madrs", "clinician", {f"madrs_{n}": 3 for n in range(1, 11)}
    )
    decision = record_eligibility(db, coordinator, protocol, participant_id, answers)
    assert decision["eligible"] is True, decision
    return decision
