"""Connections: settings on every connection, the database path, units of work."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from db import BusyError, ConflictError, connect, database_path, transaction, unit_of_work
from db import connection as connection_module
from db.participants import create_participant, list_participants
from tests.conftest_db import raw


def test_every_connection_gets_the_scalebook_settings(db_path):
    conn = connect(db_path)
    try:
        pragma = {
            name: conn.execute(f"PRAGMA {name}").fetchone()[0]
            for name in ("journal_mode", "foreign_keys", "synchronous", "busy_timeout")
        }
    finally:
        conn.close()
    assert pragma == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "synchronous": 2,
        "busy_timeout": connection_module.BUSY_TIMEOUT_MS,
    }


def test_path_comes_from_the_environment_with_a_default(monkeypatch, tmp_path):
    monkeypatch.setenv("SCALEBOOK_DB", str(tmp_path / "x.db"))
    assert database_path() == tmp_path / "x.db"
    assert database_path(tmp_path / "y.db") == tmp_path / "y.db"
    monkeypatch.delenv("SCALEBOOK_DB")
    assert database_path() == Path("data") / "scalebook.db"


def test_the_file_and_its_directory_are_created_on_first_use(monkeypatch, tmp_path):
    target = tmp_path / "deep" / "er" / "scalebook.db"
    monkeypatch.setenv("SCALEBOOK_DB", str(target))
    with unit_of_work() as conn:
        conn.execute("CREATE TABLE t (x)")
    assert target.exists()


def test_unit_of_work_commits_then_closes(db_path):
    with unit_of_work(db_path) as conn:
        conn.execute("CREATE TABLE t (x INTEGER)")
        conn.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(sqlite3.ProgrammingError):
        conn.execute("SELECT 1")  # closed
    other = raw(db_path)
    try:
        assert other.execute("SELECT x FROM t").fetchall() == [(1,)]
    finally:
        other.close()


def test_unit_of_work_rolls_back_everything_on_error(db_path):
    with unit_of_work(db_path) as conn:
        conn.execute("CREATE TABLE t (x INTEGER)")
    with pytest.raises(ZeroDivisionError):
        with unit_of_work(db_path) as conn:
            conn.execute("INSERT INTO t VALUES (1)")
            conn.execute("INSERT INTO t VALUES (2)")
            1 / 0  # noqa: B018
    other = raw(db_path)
    try:
        assert other.execute("SELECT count(*) FROM t").fetchone() == (0,)
    finally:
        other.close()


def test_a_write_unit_takes_the_write_lock_at_begin(db_path):
    """BEGIN IMMEDIATE: a second writer queues at BEGIN instead of failing half-way."""
    with unit_of_work(db_path):
        other = sqlite3.connect(str(db_path), timeout=0, isolation_level=None)
        try:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        finally:
            other.close()
    with unit_of_work(db_path, write=False):  # a read unit does not block a writer
        other = sqlite3.connect(str(db_path), timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
        finally:
            other.close()


def test_a_writer_that_waits_too_long_gets_a_clear_busy_error(db_path, monkeypatch):
    monkeypatch.setattr(connection_module, "BUSY_TIMEOUT_MS", 100)
    with unit_of_work(db_path):
        with pytest.raises(BusyError, match="nothing was saved, try again"):
            with unit_of_work(db_path):
                pass


def test_every_unit_of_work_has_its_own_connection_bound_to_its_thread(db_path):
    with unit_of_work(db_path, write=False) as one, unit_of_work(db_path, write=False) as two:
        assert one.conn is not two.conn
        errors = []

        def use_from_another_thread():
            try:
                one.execute("SELECT 1")
            except sqlite3.ProgrammingError as exc:
                errors.append(exc)

        thread = threading.Thread(target=use_from_another_thread)
        thread.start()
        thread.join()
    assert errors and "thread" in str(errors[0])


def test_a_failing_call_inside_a_unit_of_work_undoes_only_its_own_part(world, db_path):
    with unit_of_work(db_path) as conn:
        create_participant(conn, world.coord, "P100", "S1")
        with pytest.raises(ConflictError):
            create_participant(conn, world.coord, "P100", "S1")
        create_participant(conn, world.coord, "P101", "S1")
    codes = [p["code"] for p in list_participants(world.db, site="S1")]
    assert codes == ["P001", "P100", "P101"]


def test_transaction_nests_as_savepoints(db_path):
    conn = connect(db_path)
    try:
        conn.execute("CREATE TABLE t (x INTEGER)")
        with transaction(conn):
            conn.execute("INSERT INTO t VALUES (1)")
            with pytest.raises(KeyError):
                with transaction(conn):
                    conn.execute("INSERT INTO t VALUES (2)")
                    raise KeyError("inner")
            assert conn.conn.in_transaction
        assert conn.execute("SELECT x FROM t").fetchall() == [(1,)]
    finally:
        conn.close()


def test_a_read_unit_refuses_writes(world, db_path):
    from db import StorageError

    with pytest.raises(StorageError, match="unit of work is read-only .* open a write unit of work"):
        with unit_of_work(db_path, write=False) as conn:
            create_participant(conn, world.coord, "P200", "S1")
    assert [p["code"] for p in list_participants(world.db, site="S1")] == ["P001"]


def test_writers_of_one_process_queue_instead_of_timing_out(db_path, monkeypatch):
    """Many sessions of one server saving at once all land: they queue in the process, so a
    busy timeout far shorter than the queue refuses none (at 60 raters some taps were refused)."""
    monkeypatch.setattr(connection_module, "BUSY_TIMEOUT_MS", 1)
    with unit_of_work(db_path) as conn:
        conn.execute("CREATE TABLE t (x INTEGER)")
    errors: list[Exception] = []
    barrier = threading.Barrier(6)

    def save(n: int) -> None:
        try:
            barrier.wait()
            with unit_of_work(db_path) as conn:
                conn.execute("INSERT INTO t VALUES (?)", [n])
                time.sleep(0.03)  # a write that holds the lock a while, as under load
        except Exception as exc:  # noqa: BLE001  (any failure is the finding)
            errors.append(exc)

    threads = [threading.Thread(target=save, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    with unit_of_work(db_path, write=False) as conn:
        assert sorted(x for (x,) in conn.execute("SELECT x FROM t").fetchall()) == list(range(6))


def test_a_write_queued_too_long_in_the_process_gets_a_clear_busy_error(db_path, monkeypatch):
    monkeypatch.setattr(connection_module, "WRITE_QUEUE_TIMEOUT_S", 0.05)
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with unit_of_work(db_path):
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert holding.wait(10)
        with pytest.raises(BusyError, match="busy with other saves .* nothing was saved, try again"):
            with unit_of_work(db_path):
                pass
    finally:
        release.set()
        thread.join()
