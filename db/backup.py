"""Online backup and restore with SQLite's backup API.

`backup_database` copies a consistent snapshot while the app keeps running: the copy is taken in
one step under a read transaction, and in WAL mode readers never block writers, so rater taps
keep saving during a backup. The copy is written beside the destination, checked with
`PRAGMA integrity_check`, switched to a self-contained rollback journal (no -wal file to lose),
and only then renamed into place, so a half-written backup never carries the final name.

`restore_database` checks the backup (integrity, schema version, audit chain) before copying it
into the live database file through the same API. It refuses while the app runs (the app holds
`<db>.app-lock`), and checks the backup's audit trail against the witness kept outside the file
(db/integrity.py). Backups never contain the audit key; backups are created 0600.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlite_utils import Database

from db import integrity
from db.audit import count_events, verify_audit
from db.connection import connect, database_path
from db.errors import NotFoundError, StorageError, ValidationError
from db.migrations import LATEST_VERSION, schema_version


def _check(db) -> dict[str, Any]:
    result = db.execute("PRAGMA integrity_check").fetchone()[0]
    if result != "ok":
        raise StorageError(f"integrity check failed: {result}")
    return {"integrity": result, "schema_version": schema_version(db), "audit_events": count_events(db)}


def _open_readonly(path: Path) -> Database:
    """Open a backup without changing it (no journal-mode switch, no writes)."""
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    return Database(sqlite3.connect(uri, uri=True, isolation_level=None), execute_plugins=False)


def backup_database(
    dest: str | os.PathLike[str], path: str | os.PathLike[str] | None = None, *, overwrite: bool = False
) -> dict[str, Any]:
    """Copy the database at `path` (default $SCALEBOOK_DB) to `dest`; return what was copied."""
    source_path = database_path(path)
    if not source_path.exists():
        raise NotFoundError(f"no database at {source_path}; check SCALEBOOK_DB or run `python -m db init`")
    dest = Path(dest)
    if dest.resolve() == source_path.resolve():
        raise ValidationError("the backup cannot overwrite the database it copies; choose another file")
    if dest.exists() and not overwrite:
        raise ValidationError(f"{dest} already exists; choose a new file name (or pass --force to replace it)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".partial")
    partial.unlink(missing_ok=True)
    source = connect(source_path)
    try:
        os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # owner-only, like the database
        target = sqlite3.connect(str(partial), isolation_level=None)
        try:
            source.conn.backup(target)  # pages=-1: the whole snapshot in one step
            target.execute("PRAGMA journal_mode = DELETE")
            info = _check(Database(target, execute_plugins=False))
        finally:
            target.close()
        os.replace(partial, dest)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        source.close()
    return {"path": str(dest), "bytes": dest.stat().st_size, **info}


def restore_database(
    src: str | os.PathLike[str],
    path: str | os.PathLike[str] | None = None,
    *,
    overwrite: bool = False,
    anchor_of: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Copy the backup `src` into the database at `path` (default $SCALEBOOK_DB) after checking it.

    Refused while the app runs (it holds `<db>.app-lock`), and before anything is replaced the
    backup must pass its integrity check and chain, and its newest event must be one the witness
    of `anchor_of` (default: the target database) recorded with its key: a backup of another
    database, or one whose trail was rewritten, truncated mid-transaction or recomputed, is
    refused. After the copy the witness records the restored head ("restore"), so later checks
    compare with the restored trail.
    """
    src = Path(src)
    if not src.exists():
        raise NotFoundError(f"no backup file at {src}")
    target_path = database_path(path)
    anchor = Path(anchor_of) if anchor_of else target_path
    running = integrity.app_running(target_path)
    if running:
        raise StorageError(
            f"{running}: the app is running on {target_path}; stop it first (a restore under a "
            f"running app would silently lose the saves it acknowledges); nothing was replaced"
        )
    if target_path.exists() and not overwrite:
        raise ValidationError(
            f"{target_path} already exists; stop the app and pass --force to replace it with the backup"
        )
    backup = _open_readonly(src)
    try:
        info = _check(backup)
        if info["schema_version"] > LATEST_VERSION:
            raise ValidationError(
                f"the backup is at schema version {info['schema_version']}, newer than this code "
                f"({LATEST_VERSION}); upgrade Scalebook first"
            )
        broken = verify_audit(backup)
        if broken:
            raise StorageError(f"the backup's audit trail is broken at event {broken['id']}: {broken['problem']}")
        heads, problems = integrity.witnessed_heads(anchor)
        if problems:
            hint = "" if anchor_of else " (restoring into a new file? pass --anchor-of DB, the database it came from)"
            raise StorageError(
                f"the backup cannot be checked against the witness of {anchor}: {'; '.join(problems)}"
                f"{hint}; nothing was replaced"
            )
        backup_head = integrity.head(backup)
        if backup_head not in heads:
            raise StorageError(
                f"the backup's audit trail ends at event {backup_head[0]}, which the witness of {anchor} never recorded "
                f"with that content: it is a backup of another database, or its trail was rewritten or cut; nothing "
                f"was replaced"
            )
        if tampered := integrity.check_schema(backup):
            raise StorageError(
                f"the backup's guards were changed outside the app: {'; '.join(tampered)}; nothing was replaced"
            )
        key = integrity.read_key(anchor)
        if key is None:  # witnessed_heads read it above: only a key removed since then gets here
            raise StorageError(
                f"the audit key {integrity.key_path(anchor)} is gone; restore it before the backup; nothing was replaced"
            )
        target_key = integrity.key_path(target_path)
        if not target_key.exists():
            target_path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(target_key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(fd, (key.hex() + "\n").encode("ascii"))
            finally:
                os.close(fd)
        elif integrity.read_key(target_path) != key:
            raise StorageError(
                f"{target_key} holds a different audit key than {integrity.key_path(anchor)}; nothing was replaced"
            )
        target = connect(target_path)
        try:
            backup.conn.backup(target.conn)
            info = _check(target)
        finally:
            target.close()
        integrity.append_witness(target_path, key, "restore", backup_head)
    finally:
        backup.close()
    return {"path": str(target_path), **info}
