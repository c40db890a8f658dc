"""The audit trail: complete events, append-only, hash-chained, tampering found by verify."""

from __future__ import annotations

import sqlite3

import pytest

from db import StorageError, audit, connect, unit_of_work, users
from db import assessments as A
from db.backup import backup_database
from db.cli import main
from tests.conftest_db import SCALE, full_responses, raw


@pytest.fixture
def trail(world, db_path):
    """A database with a realistic trail: accounts, participants, a completed and an amended
    assessment."""
    done = A.save_assessment(world.db, world.rater, world.p1["id"], "baseline", SCALE, "clinician", full_responses())
    A.amend_assessment(world.db, world.rater, done["id"], {f"{SCALE}_1": 3}, "misread the worksheet", done["version"])
    users.change_role(world.db, world.admin, world.rater2["id"], "pi", reason="promoted to sub-investigator")
    return world


def _drop_guards(conn: sqlite3.Connection) -> None:
    """What an attacker with file access would do first."""
    for name in ("audit_events_no_update", "audit_events_no_delete", "audit_events_chain"):
        conn.execute(f"DROP TRIGGER {name}")


def test_every_event_records_who_when_what_old_new_and_why(trail):
    events = audit.events_for(trail.db, "assessment", 1)
    amend = next(e for e in events if e["action"] == "assessment.amend")
    assert amend["user_id"] == trail.rater["id"] and amend["username"] == "rater" and amend["role"] == "rater"
    assert amend["ts"].endswith("Z") and len(amend["ts"]) == len("2026-01-01T00:00:00.000000Z")
    assert (amend["entity"], amend["entity_id"], amend["field"]) == ("assessment", "1", f"{SCALE}_1")
    assert (amend["old_value"], amend["new_value"], amend["reason"]) == (1, 3, "misread the worksheet")
    assert amend["participant_id"] == trail.p1["id"]
    actions = [e["action"] for e in events]
    assert actions[0] == "assessment.start" and "assessment.complete" in actions and "score.store" in actions


def test_account_creation_and_role_change_are_audited(trail):
    created = audit.events_for(trail.db, "user", trail.rater2["id"])
    assert created[0]["action"] == "user.create" and created[0]["username"] == "cli:tests"
    assert created[0]["new_value"] == {"username": "rater2", "role": "rater", "site_id": trail.rater2["site_id"]}
    change = next(e for e in created if e["action"] == "user.change_role")
    assert (change["field"], change["old_value"], change["new_value"]) == ("role", "rater", "pi")
    assert change["username"] == "admin" and change["reason"] == "promoted to sub-investigator"


def test_old_and_new_values_keep_their_json_type():
    assert audit.encode(3) == "3" and audit.encode("3") == '"3"' and audit.encode(None) == "null"
    assert audit.encode(audit.ABSENT) is None and audit.decode(None) is audit.ABSENT
    assert audit.decode(audit.encode({"b": 1, "a": [1, None]})) == {"a": [1, None], "b": 1}


def test_the_chain_of_a_real_trail_verifies(trail):
    assert audit.verify_audit(trail.db) is None
    assert audit.count_events(trail.db) > 30


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET reason = 'covered up' WHERE id = 3",
        "DELETE FROM audit_events WHERE id = 3",
        "DELETE FROM audit_events",
    ],
)
def test_update_and_delete_are_refused_for_everyone(trail, db_path, statement):
    conn = raw(db_path)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="APPEND-ONLY"):
            conn.execute(statement)
        assert conn.execute("SELECT reason FROM audit_events WHERE id = 3").fetchone() is not None
    finally:
        conn.close()
    assert audit.verify_audit(trail.db) is None


def test_an_insert_that_does_not_extend_the_chain_is_refused(trail, db_path):
    conn = raw(db_path)
    try:
        last_id, last_hash = conn.execute("SELECT id, row_hash FROM audit_events ORDER BY id DESC LIMIT 1").fetchone()
        forged = ("2026-01-01T00:00:00.000000Z", "intruder", "admin", "login", "user", "f" * 64)
        with pytest.raises(sqlite3.IntegrityError, match="must extend the hash chain"):
            conn.execute(
                "INSERT INTO audit_events (id, ts, username, role, action, entity, prev_hash, row_hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (last_id + 1, *forged[:5], "0" * 64, forged[5]),
            )
        with pytest.raises(sqlite3.IntegrityError, match="must extend the hash chain"):
            conn.execute(
                "INSERT INTO audit_events (id, ts, username, role, action, entity, prev_hash, row_hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (last_id + 5, *forged[:5], last_hash, forged[5]),
            )
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("new_value", "4"),
        ("old_value", "null"),
        ("reason", "covered up"),
        ("username", "pi"),
        ("ts", "2020-01-01T00:00:00.000000Z"),
        ("field", "status"),
        ("user_id", 99),
    ],
)
def test_a_row_altered_with_the_triggers_dropped_is_found(trail, db_path, column, value):
    conn = raw(db_path)
    try:
        _drop_guards(conn)
        conn.execute(f"UPDATE audit_events SET {column} = ? WHERE id = 7", [value])
    finally:
        conn.close()
    broken = audit.verify_audit(trail.db)
    assert broken["id"] == 7 and "content does not match its hash" in broken["problem"] and broken["checked"] == 6


def test_a_rewrite_that_recomputes_its_own_hash_is_found_at_the_next_event(trail, db_path):
    conn = raw(db_path)
    try:
        _drop_guards(conn)
        row = dict(
            zip(
                audit._COLUMNS,
                conn.execute(f"SELECT {', '.join(audit._COLUMNS)} FROM audit_events WHERE id = 7").fetchone(),
                strict=True,
            )
        )
        row["reason"] = "innocent"
        conn.execute(
            "UPDATE audit_events SET reason = ?, row_hash = ? WHERE id = 7",
            [row["reason"], audit.chain_hash(row["prev_hash"], row)],
        )
    finally:
        conn.close()
    broken = audit.verify_audit(trail.db)
    assert broken["id"] == 8 and "prev_hash does not match" in broken["problem"]


def test_a_deleted_event_is_found(trail, db_path):
    conn = raw(db_path)
    try:
        _drop_guards(conn)
        conn.execute("DELETE FROM audit_events WHERE id IN (10, 11)")
    finally:
        conn.close()
    broken = audit.verify_audit(trail.db)
    assert broken["id"] == 12 and "2 event(s) deleted" in broken["problem"]


def test_verify_audit_cli_exit_codes(trail, db_path, capsys):
    assert main(["verify-audit"]) == 0
    assert "audit trail intact" in capsys.readouterr().out
    tampered = db_path.with_name("tampered.db")
    backup_database(tampered, db_path)
    conn = raw(tampered)
    try:
        _drop_guards(conn)
        conn.execute("UPDATE audit_events SET new_value = '4' WHERE id = 5")
    finally:
        conn.close()
    assert main(["--db", str(tampered), "verify-audit"]) == 1
    err = capsys.readouterr().err
    # one line per problem (here also: the copy has no key/witness of its own), then a summary line
    assert err.startswith("audit trail broken at event 5: its content does not match its hash")
    assert err.rstrip("\n").splitlines()[-1].startswith("audit trail NOT intact")


def test_events_are_written_only_inside_the_change_they_describe(conn):
    with pytest.raises(StorageError, match="inside the transaction"):
        audit.record(conn, {"id": 1, "username": "x", "role": "admin"}, "test", "nothing")


def test_empty_trail_verifies(db_path):
    conn = connect(db_path)
    try:
        assert audit.verify_audit(conn) is None and audit.count_events(conn) == 0
    finally:
        conn.close()


def test_a_rolled_back_change_leaves_no_event(world, db_path):
    before = audit.count_events(world.db)
    with pytest.raises(RuntimeError):
        with unit_of_work(db_path) as conn:
            A.start_assessment(conn, world.rater, world.p1["id"], "baseline", SCALE, "clinician")
            raise RuntimeError("the tablet went away")
    assert audit.count_events(world.db) == before
    assert A.find_assessment(world.db, world.p1["id"], "baseline", SCALE) is None
