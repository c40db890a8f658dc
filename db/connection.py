"""Connections and transactions: one connection per unit of work.

Why one connection per unit of work: Streamlit runs every session in its own thread, and a
connection shared between sessions would mix their transactions (one session's rollback can
swallow another's write). So a page opens a connection, does one unit of work, and closes it:

    with unit_of_work() as db:                 # BEGIN IMMEDIATE ... COMMIT, then close
        save_draft_response(db, actor, assessment_id, "hamd17_1", 2, expected_version=4)

    with unit_of_work(write=False) as db:      # a consistent read snapshot, no write lock
        history = participant_history(db, participant_id)

Every connection gets the same settings: `foreign_keys=ON` (SQLite's default is off), WAL
journal (readers never block the writer), a busy timeout (a second writer waits instead of
failing), and `synchronous=FULL` (a committed transaction survives a power cut, not only a
crash of the process).

Write transactions start with `BEGIN IMMEDIATE`: the write lock is taken at the start, so
concurrent writers queue at BEGIN, rather than failing half-way when a deferred transaction
tries to upgrade its read lock. Within one process they queue first on a lock of their own
(`_WRITE_QUEUE`): SQLite's busy handler polls with growing sleeps, and with tens of sessions of
one server tapping at once some writers lost that race for longer than the busy timeout and the
tap was refused ("not saved", bench/bench_concurrent.py found it at 60 raters). Queued in the
process, a writer waits its turn instead; the busy timeout then covers only other processes on
the same file, at most one writer each. Repository functions wrap their own work in
`transaction(db)`, which joins an enclosing transaction as a savepoint, so several calls can
share one unit of work.
"""

from __future__ import annotations

import itertools
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlite_utils import Database

from db import integrity
from db.errors import BusyError, ConflictError, IntegrityViolation, LockedError, StorageError, ValidationError

ENV_VAR = "SCALEBOOK_DB"
DEFAULT_PATH = Path("data") / "scalebook.db"
BUSY_TIMEOUT_MS = 15_000
#: How long a write waits for the other writes of its own process before it is refused as busy
#: (nothing saved, the page says so): far above the queue a full server builds, far below "hung".
WRITE_QUEUE_TIMEOUT_S = 120.0
#: One writer of this process at a time, a waiting one woken when the lock is free instead of
#: polling (see the module docstring); re-entrant, so a thread that opens a second write
#: connection inside a write behaves as it did before (SQLite's busy timeout, then BusyError).
_WRITE_QUEUE = threading.RLock()
#: The SQL function the m009 triggers require of every writer of trial data (db/migrations.py):
#: only connections opened here define it, so a write from any other tool is refused by SQLite.
APP_WRITER = "scalebook_app_writer"
_savepoints = itertools.count(1)


def database_path(path: str | os.PathLike[str] | None = None) -> Path:
    """The database file: `path` if given, else $SCALEBOOK_DB, else data/scalebook.db."""
    if path is not None and str(path) != "":
        return Path(path)
    return Path(os.environ.get(ENV_VAR) or DEFAULT_PATH)


def connect(path: str | os.PathLike[str] | None = None) -> Database:
    """Open a new connection with the Scalebook settings (see the module docstring).

    The file and its directory are created on first use. The connection belongs to the thread
    that opened it (sqlite3's check_same_thread stays on), so it cannot leak into another
    Streamlit session by accident. Close it when done, or use `unit_of_work`.
    """
    target = database_path(path)
    memory = str(target) == ":memory:"
    if not memory:
        target.parent.mkdir(parents=True, exist_ok=True)
        _owner_only(target)
    # isolation_level=None: the sqlite3 module never opens transactions behind our back; every
    # transaction in this package is an explicit BEGIN IMMEDIATE / SAVEPOINT (see transaction()).
    conn = sqlite3.connect(str(target), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        if not memory:
            _ensure_wal(conn)
        conn.execute("PRAGMA synchronous = FULL")
        conn.create_function(APP_WRITER, 0, _app_writer, deterministic=True)
        db = Database(conn, execute_plugins=False)
        db._sb_path = None if memory else str(target)  # type: ignore[attr-defined]  # for the audit witness (db/integrity.py)
        return db
    except sqlite3.Error as exc:
        conn.close()
        raise _translate(exc) from None


def _app_writer() -> int:
    return 1


def _owner_only(target: Path) -> None:
    """A new database file is created readable and writable by its owner only (0600, whatever the
    umask); SQLite gives the -wal and -shm files it creates the database file's mode. A database
    file that others may read (one made before this rule, or copied in by hand) is tightened to
    0600 on its next connection, with its -wal and -shm; a file of another owner is left as it is."""
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT, 0o600))
        return
    if mode & 0o077:
        for path in (target, Path(f"{target}-wal"), Path(f"{target}-shm")):
            try:
                os.chmod(path, 0o600)
            except (FileNotFoundError, PermissionError):
                pass


def _ensure_wal(conn: sqlite3.Connection) -> None:
    # The journal mode is stored in the file, so this is a no-op after the first connection.
    # Switching needs a moment of exclusive access; a concurrent first start may see "locked",
    # which the busy handler does not always cover, hence the short retry loop.
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@contextmanager
def transaction(db: Database, *, write: bool = True) -> Iterator[Database]:
    """Run the body in one transaction on `db`: commit on success, roll back on any error.

    Outside a transaction this issues `BEGIN IMMEDIATE` (or `BEGIN` for `write=False`); inside
    one it uses a savepoint, so a failing repository call undoes only its own work and the
    enclosing unit of work decides whether to commit. SQLite errors come out as StorageError
    subclasses with a message a page can show.
    """
    conn = db.conn
    if conn.in_transaction:
        name = f"sb_{next(_savepoints)}"
        conn.execute(f"SAVEPOINT {name}")
        try:
            yield db
        except BaseException as exc:
            if conn.in_transaction:  # a RAISE(ROLLBACK) may already have ended it
                conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
                conn.execute(f"RELEASE SAVEPOINT {name}")
            if isinstance(exc, sqlite3.Error):
                raise _translate(exc) from None
            raise
        else:
            conn.execute(f"RELEASE SAVEPOINT {name}")
        return
    if write and not _WRITE_QUEUE.acquire(timeout=WRITE_QUEUE_TIMEOUT_S):
        raise BusyError(
            f"the server stayed busy with other saves for more than {WRITE_QUEUE_TIMEOUT_S:.0f} s; nothing was "
            f"saved, try again in a moment"
        )
    try:
        try:
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        except sqlite3.Error as exc:
            raise _translate(exc) from None
        try:
            yield db
            integrity.prepare_commit(db)  # the audit head this commit adds, witnessed outside the file
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            integrity.finish_events(db, committed=False)
            if isinstance(exc, sqlite3.Error):
                raise _translate(exc) from None
            raise
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            integrity.finish_events(db, committed=False)
            raise _translate(exc) from None
        integrity.finish_events(db, committed=True)  # "done" in the witness, and release its lock
    finally:
        if write:
            _WRITE_QUEUE.release()


@contextmanager
def unit_of_work(path: str | os.PathLike[str] | None = None, *, write: bool = True) -> Iterator[Database]:
    """Open a fresh connection, run the body in ONE transaction, commit or roll back, close.

    `write=False` gives a read-only snapshot without taking the write lock; the connection is
    then query-only, so a write function called in it fails at once instead of half-way.
    """
    db = connect(path)
    try:
        if not write:
            db.conn.execute("PRAGMA query_only = ON")
        with transaction(db, write=write):
            yield db
    finally:
        db.close()


def _translate(exc: sqlite3.Error) -> StorageError:
    """Turn a SQLite error into a StorageError whose message a user can act on.

    Triggers in the schema raise messages that start with a tag (LOCKED:, CONFLICT:,
    APPEND-ONLY:, ...), so a write that bypassed a Python check still gets the right class.
    """
    text = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
        return BusyError(
            f"the database stayed busy for more than {BUSY_TIMEOUT_MS // 1000} s ({text}); nothing was saved, "
            f"try again in a moment"
        )
    if "readonly" in text:
        return StorageError(
            "the database refused to write: this unit of work is read-only (unit_of_work(write=False)), open a "
            "write unit of work to save; or the database file is not writable by this process"
        )
    if text.startswith("LOCKED:"):
        return LockedError(text.removeprefix("LOCKED:").strip())
    if text.startswith("INELIGIBLE:"):
        return ValidationError(text.removeprefix("INELIGIBLE:").strip())
    if text.startswith("CONFLICT:"):
        return ConflictError(text.removeprefix("CONFLICT:").strip())
    if isinstance(exc, sqlite3.IntegrityError):
        return IntegrityViolation(f"the database refused the change: {text}")
    return StorageError(f"database error: {text}")
