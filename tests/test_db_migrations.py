"""Migrations: idempotent, every earlier version migrates to the latest, constraints hold."""

from __future__ import annotations

import re
import sqlite3
import threading

import pytest

from db import LATEST_VERSION, StorageError, connect, migrate, require_latest, schema_version
from db.migrations import MIGRATIONS, STEP_NAMES, init_database
from tests.conftest_db import raw

TS = "2026-03-01T09:00:00.000000Z"


def _schema(conn) -> list[tuple]:
    return sorted(conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"))


def _applied(conn) -> list[tuple]:
    return conn.execute("SELECT migration_set, name, applied_at FROM _sqlite_migrations ORDER BY id").fetchall()


def test_steps_are_numbered_in_order_and_the_latest_version_is_the_last_step():
    assert len(STEP_NAMES) >= 2
    assert [int(re.match(r"m(\d{3})_\w+$", n).group(1)) for n in STEP_NAMES] == list(range(1, len(STEP_NAMES) + 1))
    assert LATEST_VERSION == len(STEP_NAMES) and MIGRATIONS.name == "scalebook"


def test_applying_twice_is_a_no_op(tmp_path):
    conn = connect(tmp_path / "a.db")
    try:
        assert schema_version(conn) == 0
        assert migrate(conn) == LATEST_VERSION
        schema, applied = _schema(conn), _applied(conn)
        assert migrate(conn) == LATEST_VERSION
        assert _schema(conn) == schema and _applied(conn) == applied
        require_latest(conn)
    finally:
        conn.close()


def _seed_v1(conn) -> None:
    """Data as the first version of the schema held it, written in plain SQL."""
    conn.execute("INSERT INTO sites (id, code, name, created_at) VALUES (1, 'S1', 'Site', ?)", [TS])
    conn.execute(
        "INSERT INTO users (id, username, role, site_id, password_hash, password_changed_at, created_at, "
        "updated_at) VALUES (1, 'r', 'rater', 1, '$argon2id$x', ?, ?, ?)",
        [TS, TS, TS],
    )
    conn.execute(
        "INSERT INTO participants (id, study_id, code, site_id, created_at, updated_at) VALUES (1, 1, 'P001', 1, ?, ?)",
        [TS, TS],
    )
    conn.execute(
        "INSERT INTO assessments (id, participant_id, timepoint, scale_id, scale_version, definition_hash, "
        "mode, recall, rater_id, status, version, started_at, completed_at, updated_at) VALUES "
        "(1, 1, 'baseline', 'phq9', '1.0.0', 'sha256:ab', 'kiosk', '2w', 1, 'complete', 2, ?, ?, ?)",
        [TS, TS, TS],
    )
    conn.execute(
        "INSERT INTO item_responses (assessment_id, item_id, value, answered_at, answered_by) "
        "VALUES (1, 'phq9_1', 2, ?, 'r')",
        [TS],
    )


@pytest.mark.parametrize("version", range(LATEST_VERSION))
def test_a_database_at_every_earlier_version_migrates_to_the_latest(tmp_path, version):
    fresh = connect(tmp_path / "fresh.db")
    old = connect(tmp_path / "old.db")
    try:
        migrate(fresh)
        migrate(old, stop_before=STEP_NAMES[version])
        assert schema_version(old) == version
        with pytest.raises(StorageError, match=f"schema version {version}, this code needs {LATEST_VERSION}"):
            require_latest(old)
        if version >= 1:
            _seed_v1(old)
        assert migrate(old) == LATEST_VERSION
        assert _schema(old) == _schema(fresh)
        assert [a[:2] for a in _applied(old)] == [a[:2] for a in _applied(fresh)]
        if version >= 1:
            assert old.execute("SELECT value FROM item_responses").fetchall() == [(2,)]
            with pytest.raises(sqlite3.IntegrityError, match="status change is not allowed"):
                old.execute("UPDATE assessments SET status = 'draft', completed_at = NULL, version = 3 WHERE id = 1")
    finally:
        fresh.close()
        old.close()


def test_processes_starting_at_once_migrate_once(tmp_path):
    path = tmp_path / "race.db"
    errors, versions = [], []

    def start():
        try:
            versions.append(init_database(path))
        except Exception as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and versions == [LATEST_VERSION] * 4
    conn = connect(path)
    try:
        assert len(_applied(conn)) == LATEST_VERSION
    finally:
        conn.close()


def test_participants_hold_no_directly_identifying_columns(conn):
    columns = {c.name for c in conn["participants"].columns}
    assert columns == {
        "id",
        "study_id",
        "code",
        "site_id",
        "arm",
        "status",
        "created_by",
        "created_at",
        "updated_at",
        "status_reason",
        "status_at",
    }


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        (
            "INSERT INTO participants (study_id, code, site_id, created_at, updated_at) VALUES (1, 'P1', 99, '{ts}', '{ts}')",
            "FOREIGN KEY constraint failed",
        ),
        ("INSERT INTO sites (code, name, created_at) VALUES ('S 1', 'x', '{ts}')", "CHECK constraint failed"),
        (
            "INSERT INTO sites (code, name, created_at) VALUES ('S1', 'x', '2026-03-01 09:00')",
            "CHECK constraint failed",
        ),
        ("INSERT INTO sites (code, name, created_at) VALUES ('S1', NULL, '{ts}')", "NOT NULL constraint failed"),
        (
            "INSERT INTO users (username, role, password_hash, password_changed_at, created_at, updated_at) "
            "VALUES ('u', 'superuser', '$argon2id$x', '{ts}', '{ts}', '{ts}')",
            "CHECK constraint failed",
        ),
        (
            "INSERT INTO users (username, role, password_hash, password_changed_at, created_at, updated_at) "
            "VALUES ('u', 'rater', 'plaintext', '{ts}', '{ts}', '{ts}')",
            "CHECK constraint failed",
        ),
        (
            "INSERT INTO vitals (participant_id, measured_at, systolic, created_at) VALUES ('one', '{ts}', 120, '{ts}')",
            "cannot store TEXT value in INTEGER column",
        ),
        (
            "INSERT INTO audit_events (id, ts, username, role, action, entity, prev_hash, row_hash) "
            "VALUES (1, '{ts}', 'u', 'r', 'a', 'e', '{genesis}', 'short')",
            "CHECK constraint failed",
        ),
    ],
)
def test_constraints_protect_data_when_the_python_layer_is_bypassed(db_path, statement, message):
    conn = raw(db_path)
    try:
        with pytest.raises(sqlite3.Error, match=message):
            conn.execute(statement.format(ts=TS, genesis="0" * 64))
    finally:
        conn.close()
