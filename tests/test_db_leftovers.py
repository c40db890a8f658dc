"""m010: the protocol file is the one schedule. The m001 table of planned timepoints and
assessments.timepoint_id, which nothing read, are gone from a new database, and a database that
still has them (rows included) migrates without losing or breaking anything else."""

from __future__ import annotations

from db import connect, migrate
from db.integrity import check_schema
from db.migrations import STEP_NAMES

TS = "2026-03-01T09:00:00.000000Z"


def _columns(conn, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]


def _names(conn) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}


def test_a_new_database_has_no_second_schedule(tmp_path):
    conn = connect(tmp_path / "new.db")
    try:
        migrate(conn)
        assert "planned_timepoints" not in _names(conn) and "idx_assessments_timepoint" not in _names(conn)
        assert "timepoint_id" not in _columns(conn, "assessments") and "timepoint" in _columns(conn, "assessments")
        assert not [r for r in conn.execute("SELECT name FROM sqlite_master WHERE sql LIKE '%planned_timepoints%'")]
    finally:
        conn.close()


def test_a_database_holding_the_leftovers_migrates_and_keeps_its_assessments(tmp_path):
    conn = connect(tmp_path / "old.db")
    try:
        migrate(conn, stop_before="m010_drop_leftovers")
        conn.execute("INSERT INTO sites (id, code, name, created_at) VALUES (1, 'S1', 'Site', ?)", [TS])
        conn.execute(
            "INSERT INTO users (id, username, role, site_id, password_hash, password_changed_at, "
            "created_at, updated_at) VALUES (1, 'r', 'rater', 1, '$argon2id$x', ?, ?, ?)",
            [TS, TS, TS],
        )
        conn.execute(
            "INSERT INTO participants (id, study_id, code, site_id, created_at, updated_at) "
            "VALUES (1, 1, 'P001', 1, ?, ?)",
            [TS, TS],
        )
        conn.execute(
            "INSERT INTO planned_timepoints (id, study_id, name, anchor, offset_minutes) "
            "VALUES (7, 1, 'baseline', 'enrolment', 0)"
        )
        conn.execute(
            "INSERT INTO assessments (id, participant_id, timepoint, timepoint_id, scale_id, scale_version, "
            "definition_hash, mode, recall, rater_id, status, version, started_at, updated_at) VALUES "
            "(1, 1, 'baseline', 7, 'phq9', '1.0.0', 'sha256:ab', 'kiosk', '2w', 1, 'draft', 1, ?, ?)",
            [TS, TS],
        )
        conn.execute(
            "INSERT INTO item_responses (assessment_id, item_id, value, answered_at, answered_by) "
            "VALUES (1, 'phq9_1', 2, ?, 'r')",
            [TS],
        )
        before = conn.execute("SELECT id, participant_id, timepoint, scale_id, status FROM assessments").fetchall()

        assert migrate(conn) == len(STEP_NAMES)
        assert "timepoint_id" not in _columns(conn, "assessments") and "planned_timepoints" not in _names(conn)
        assert (
            conn.execute("SELECT id, participant_id, timepoint, scale_id, status FROM assessments").fetchall() == before
        )
        assert conn.execute("SELECT value FROM item_responses").fetchall() == [(2,)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert check_schema(conn) == []  # every guarding trigger is still the one the migrations made
    finally:
        conn.close()
