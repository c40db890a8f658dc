"""The audit trail anchored outside the file (key + witness), data checked against the trail,
and restore refused while the app runs (issue 13 items 2, 3 and 16)."""

from __future__ import annotations

import json
import sqlite3
import stat
import subprocess
import sys
import textwrap

import pytest

from db import StorageError, audit, clock, integrity
from db import assessments as A
from db import clinical as C
from db.backup import backup_database
from db.cli import main
from db.migrations import init_database
from tests.conftest_db import PROJECT_ROOT, SCALE, full_responses, mark_eligible, raw


@pytest.fixture
def trial(world, db_path):
    """A completed assessment, an infusion and a set of vital signs, all through db/."""
    world.done = A.save_assessment(world.db, world.rater, world.p1["id"], "week1", SCALE, "clinician", full_responses())
    mark_eligible(world.db, world.coord, world.rater, world.p1["id"])
    now = clock.utc_now()
    world.infusion = C.record_infusion(world.db, world.coord, world.p1["id"], 1, now, 72.5, 0.5)
    world.vitals = C.record_vitals(world.db, world.coord, world.p1["id"], now, systolic=120, diastolic=80)
    return world


def _drop_guards(conn: sqlite3.Connection) -> None:
    for name in ("audit_events_no_update", "audit_events_no_delete", "audit_events_chain"):
        conn.execute(f"DROP TRIGGER {name}")


def _recompute_chain(conn: sqlite3.Connection) -> None:
    """What an attacker with the file and the published algorithm does: a valid plain SHA chain."""
    prev = integrity.GENESIS_HASH
    for values in conn.execute(f"SELECT {', '.join(audit._COLUMNS)} FROM audit_events ORDER BY id").fetchall():
        row = dict(zip(audit._COLUMNS, values, strict=True))
        new = audit.chain_hash(prev, row)
        conn.execute("UPDATE audit_events SET prev_hash = ?, row_hash = ? WHERE id = ?", [prev, new, row["id"]])
        prev = new


def _verify(capsys, path) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["--db", str(path), "verify-audit"])
    return code, capsys.readouterr().err


def test_a_clean_trial_verifies_and_every_commit_is_witnessed(trial, db_path, capsys):
    assert main(["verify-audit"]) == 0
    assert "head matches the witness, data matches the trail" in capsys.readouterr().out
    lines = integrity.witness_path(db_path).read_text().splitlines()
    last = json.loads(lines[-1])
    head = trial.db.execute("SELECT id, row_hash FROM audit_events ORDER BY id DESC LIMIT 1").fetchone()
    assert (last["kind"], last["id"], last["row_hash"]) == ("done", head[0], head[1])
    intent = json.loads(lines[-2])  # fsynced before COMMIT, naming the head before and after
    assert intent["kind"] == "intent" and (intent["id"], intent["row_hash"]) == head
    assert len(lines) > 10  # two lines per committing write that added events


def test_a_process_killed_between_its_witness_intent_and_its_commit_is_not_a_break(trial, db_path, capsys):
    """The intent line allows the head before and after its transaction: a crash in either
    place leaves a database that verifies and keeps saving."""
    key = integrity.read_key(db_path)
    before = integrity.head(trial.db)
    integrity.append_witness(db_path, key, "intent", (before[0] + 3, "f" * 64), before=before)
    assert _verify(capsys, db_path)[0] == 0
    A.start_assessment(trial.db, trial.rater, trial.p1["id"], "week2", SCALE, "clinician")
    assert _verify(capsys, db_path)[0] == 0


def test_key_witness_database_and_backup_are_owner_only(trial, db_path, tmp_path):
    backup = tmp_path / "b.db"
    backup_database(backup, db_path)
    for path in (db_path, integrity.key_path(db_path), integrity.witness_path(db_path), backup):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    key = integrity.key_path(db_path).read_text().strip()
    for path in (db_path, backup):  # the key is never inside the database or its backups
        assert key.encode() not in path.read_bytes()


def test_an_edited_event_with_a_recomputed_plain_chain_is_found_and_stops_the_app(trial, db_path, capsys):
    conn = raw(db_path)
    try:
        _drop_guards(conn)
        conn.execute("UPDATE audit_events SET new_value = '0' WHERE id = 5")
        _recompute_chain(conn)
    finally:
        conn.close()
    assert audit.verify_audit(trial.db) is None  # the plain chain alone is fooled (the old check)
    code, err = _verify(capsys, db_path)
    assert code == 1 and "differs from the witnessed one" in err
    with pytest.raises(StorageError, match="audit trail failed its check"):  # app start (ensure_database)
        init_database(db_path)
    with pytest.raises(StorageError, match="does not match its witness"):  # the next write is refused
        A.start_assessment(trial.db, trial.rater, trial.p1["id"], "week2", SCALE, "clinician")


def test_deleted_newest_events_are_found(trial, db_path, capsys):
    conn = raw(db_path)
    try:
        _drop_guards(conn)
        conn.execute("DELETE FROM audit_events WHERE id > (SELECT max(id) - 3 FROM audit_events)")
    finally:
        conn.close()
    assert audit.verify_audit(trial.db) is None
    code, err = _verify(capsys, db_path)
    assert code == 1 and "3 newest event(s) were deleted" in err


def test_an_edited_witness_line_is_found(trial, db_path, capsys):
    witness = integrity.witness_path(db_path)
    lines = witness.read_text().splitlines()
    entry = json.loads(lines[-1])
    entry["id"] -= 1
    witness.write_text("\n".join(lines[:-1] + [json.dumps(entry)]) + "\n")
    code, err = _verify(capsys, db_path)
    assert code == 1 and "does not carry a valid HMAC" in err


def test_an_event_added_by_hand_is_found_and_can_be_accepted_after_review(trial, db_path, capsys):
    conn = raw(db_path)
    try:
        last_id, last_hash = conn.execute("SELECT id, row_hash FROM audit_events ORDER BY id DESC LIMIT 1").fetchone()
        content = {k: None for k in audit.CONTENT_FIELDS} | {
            "id": last_id + 1,
            "ts": clock.utc_now(),
            "username": "x",
            "role": "admin",
            "action": "note",
            "entity": "nothing",
        }
        values = content | {"prev_hash": last_hash, "row_hash": audit.chain_hash(last_hash, content)}
        conn.execute(audit._INSERT, [values[c] for c in audit._COLUMNS])
    finally:
        conn.close()
    code, err = _verify(capsys, db_path)
    assert code == 1 and f"events {last_id + 1}-{last_id + 1} are not in the witness" in err
    assert main(["--db", str(db_path), "verify-audit", "--accept-unwitnessed"]) == 0
    assert f"accepted event {last_id + 1}" in capsys.readouterr().out
    assert main(["--db", str(db_path), "verify-audit"]) == 0


@pytest.mark.parametrize(
    "statement, expected",
    [
        (
            "UPDATE item_responses SET value = 4 WHERE item_id = '{SCALE}_1' AND assessment_id = {aid}",
            "item_response {aid}/{SCALE}_1 value: row 4, audited 1",
        ),
        (
            "UPDATE infusions SET dose_mg_per_kg = 0.045 WHERE id = {infusion}",
            "infusion {infusion} dose_mg_per_kg: row 0.045, audited 0.5",
        ),
        ("UPDATE vitals SET systolic = 200 WHERE id = {vitals}", "vitals {vitals} systolic: row 200, audited 120"),
    ],
)
def test_a_hand_typed_update_outside_the_trail_is_reported(trial, db_path, capsys, statement, expected):
    names = {"SCALE": SCALE, "aid": trial.done["id"], "infusion": trial.infusion["id"], "vitals": trial.vitals["id"]}
    conn = raw(db_path)
    try:
        conn.execute(statement.format(**names))  # succeeds: no trigger can tell it from an audited change
    finally:
        conn.close()
    code, err = _verify(capsys, db_path)
    assert code == 1 and expected.format(**names) in err
    if "item_responses" in statement:  # and the stored score no longer matches the answers
        assert f"assessment {trial.done['id']} score.total: row" in err


@pytest.mark.parametrize("table", ["infusions", "vitals", "adverse_events_none", "item_responses"])
def test_deleting_clinical_records_is_refused_by_the_database(trial, db_path, table):
    conn = raw(db_path)
    try:
        if table == "adverse_events_none":  # the trigger exists even with no row to delete
            assert conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'adverse_events_no_delete'").fetchone()
            return
        with pytest.raises(sqlite3.IntegrityError, match="APPEND-ONLY|LOCKED"):
            conn.execute(f"DELETE FROM {table}")
    finally:
        conn.close()


def test_restore_refuses_a_rewritten_or_foreign_backup(trial, db_path, tmp_path, capsys):
    good, bad = tmp_path / "good.db", tmp_path / "bad.db"
    backup_database(good, db_path)
    backup_database(bad, db_path)
    conn = raw(bad)
    try:
        _drop_guards(conn)
        conn.execute("UPDATE audit_events SET reason = 'innocent' WHERE id = 4")
        _recompute_chain(conn)
    finally:
        conn.close()
    before = db_path.read_bytes()
    assert main(["--db", str(db_path), "restore", "--force", str(bad)]) == 1
    assert "never recorded" in capsys.readouterr().err
    assert db_path.read_bytes() == before  # nothing replaced
    assert main(["--db", str(db_path), "restore", "--force", str(good)]) == 0
    assert main(["--db", str(db_path), "verify-audit"]) == 0


_HOLDER = textwrap.dedent("""
    import sys, time
    from db.integrity import hold_app_lock
    hold_app_lock(sys.argv[1])
    print("holding", flush=True)
    time.sleep(60)
""")


def test_restore_is_refused_while_another_process_holds_the_app_lock(trial, db_path, tmp_path, capsys):
    backup = tmp_path / "b.db"
    backup_database(backup, db_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(db_path)], cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        capsys.readouterr()
        assert main(["--db", str(db_path), "restore", "--force", str(backup)]) == 1
        err = capsys.readouterr().err
        assert f"process {holder.pid}" in err and "the app is running" in err
        assert stat.S_IMODE(integrity.lock_path(db_path).stat().st_mode) == 0o600
    finally:
        holder.kill()
        holder.wait()
    assert main(["--db", str(db_path), "restore", "--force", str(backup)]) == 0  # the app stopped


def test_the_app_shows_the_break_to_everyone_and_serves_nothing(trial, db_path):
    """ensure_database (every page's first call) stops with the check's message, no sign-in form."""
    from tests.app_support import app, texts

    conn = raw(db_path)
    try:
        _drop_guards(conn)
        conn.execute("DELETE FROM audit_events WHERE id = (SELECT max(id) FROM audit_events)")
    finally:
        conn.close()
    at = app().run()
    shown = texts(at)
    assert "The database could not be opened: the audit trail failed its check" in shown
    assert "newest event(s) were deleted" in shown and not at.text_input


# --- m009: trial data changes only through the app ------------------------------------------------

HAND_TYPED = [
    "UPDATE item_responses SET value = 0",
    "UPDATE infusions SET dose_mg_per_kg = 0.05",
    "UPDATE vitals SET systolic = 200",
    "UPDATE scores SET total = 0",
    "UPDATE studies SET blinded = 0",
    "UPDATE users SET role = 'admin'",
    "DELETE FROM safety_alerts",
    "INSERT INTO sites (code, name, created_at) VALUES ('EVIL', 'x', '2026-01-01T00:00:00.000000Z')",
    "INSERT INTO audit_events (id) VALUES (999999)",
]


@pytest.mark.parametrize("sql", HAND_TYPED)
def test_any_other_tool_is_refused_every_change_to_trial_data(trial, db_path, sql):
    """The sqlite3 shell (or DB Browser, Datasette...) cannot change a row: SQLite refuses the
    statement because the guard triggers call a function only Scalebook's connections define."""
    conn = raw(db_path, as_the_app=False)
    try:
        before = {
            t: conn.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall()
            for t in ("item_responses", "infusions", "vitals", "scores", "studies", "users", "sites")
        }
        with pytest.raises(sqlite3.OperationalError, match="no such function: scalebook_app_writer"):
            conn.execute(sql)
        after = {t: conn.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall() for t in before}
    finally:
        conn.close()
    assert after == before


def test_a_dropped_guard_is_found_by_verify_audit_app_start_and_restore(trial, db_path, tmp_path, capsys):
    """Someone with a shell drops a guard trigger to change data: the database no longer matches
    the triggers the code makes, and every check says which one (the change itself is then also
    found by check_data)."""
    assert main(["verify-audit"]) == 0
    conn = raw(db_path, as_the_app=False)
    try:
        conn.execute("DROP TRIGGER infusions_app_writes_only_update")
        conn.execute("UPDATE infusions SET dose_mg_per_kg = 0.05")
    finally:
        conn.close()
    code, err = _verify(capsys, db_path)
    assert code == 1
    assert "database guard: trigger infusions_app_writes_only_update is missing" in err
    assert "data differs from the audit trail" in err and "dose_mg_per_kg" in err
    with pytest.raises(StorageError, match="infusions_app_writes_only_update is missing"):
        init_database(db_path)
    copy = tmp_path / "copy.db"
    backup_database(copy, db_path)
    target = tmp_path / "restored.db"
    assert main(["--db", str(target), "restore", "--anchor-of", str(db_path), str(copy)]) == 1
    assert "guards were changed outside the app" in capsys.readouterr().err
    assert not target.exists()
