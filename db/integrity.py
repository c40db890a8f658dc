"""The audit trail's anchor outside the database file, and the checks that use it.

Why: the hash chain in `audit_events` (db/audit.py) is plain SHA-256, so anyone holding the
database file can drop the triggers, rewrite or delete events and recompute the chain, or just
delete the newest events, and the chain still verifies. Two things outside the file stop that:

- an HMAC key, `<db>.key` (or the file named by $SCALEBOOK_AUDIT_KEY_FILE), 32 random bytes,
  created 0600 by `python -m db init` / the first `init_database`, never stored in the database
  or in backups;
- a witness, `<db>.witness` (0600, append-only use), one JSON line per committed write that
  added audit events: the chain head (last event id, its row_hash, the event count) and an HMAC
  of those with the key. `transaction()` (db/connection.py) appends an "intent" line (the head
  before and after, fsynced) just before COMMIT and a "done" (or "abort") line after, while
  holding an exclusive lock on the witness that `audit.record_many` took before writing, so the
  lines are in commit order; `record_many` first checks that the database's head is one the
  witness allows (an event added or removed by hand since is refused at the next write). A
  crash between the intent and COMMIT, or before "done", leaves a head the intent allows.

`check_anchor` (run by `python -m db verify-audit`, at app start through `init_database`, and by
`db restore` before it replaces anything) finds: events rewritten with a recomputed chain (the
head no longer matches a witnessed hash), deleted newest events (the head is behind the
witness), a replaced or older file (its head is not in the witness), events added by hand (the
head is ahead of the witness) and an edited witness (its HMAC fails). `check_data` re-scores
every stored assessment and compares data rows with their latest audited values (changes
typed into the file that bypassed the audit trail).

What this cannot do: someone holding the key AND the witness AND the file can rewrite all three
consistently; keep the key readable only by the account that runs the app.

`hold_app_lock` is the lock the running app holds (shared flock on `<db>.app-lock`) so that
`db restore` can refuse while the app runs.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from db import clock
from db.errors import StorageError
from scales.jsonfiles import parse_json_bytes

KEY_ENV = "SCALEBOOK_AUDIT_KEY_FILE"
GENESIS_HASH = "0" * 64
_app_locks: dict[str, int] = {}


# ---------------------------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------------------------


def key_path(db_path: str | os.PathLike[str]) -> Path:
    """The HMAC key file: $SCALEBOOK_AUDIT_KEY_FILE, else `<db>.key` next to the database."""
    env = os.environ.get(KEY_ENV)
    return Path(env) if env else Path(f"{db_path}.key")


def witness_path(db_path: str | os.PathLike[str]) -> Path:
    return Path(f"{db_path}.witness")


def lock_path(db_path: str | os.PathLike[str]) -> Path:
    return Path(f"{db_path}.app-lock")


def _open_private(path: Path, flags: int) -> int:
    """Open (creating 0600 if missing); an existing file is tightened to 0600 too."""
    fd = os.open(path, flags | os.O_CREAT, 0o600)
    try:
        os.fchmod(fd, 0o600)
    except OSError:  # pragma: no cover - not the owner; the open itself succeeded
        pass
    return fd


def read_key(db_path: str | os.PathLike[str]) -> bytes | None:
    """The HMAC key, or None when there is none (a database that was never anchored)."""
    path = key_path(db_path)
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise StorageError(f"the audit key {path} cannot be read ({exc}); check its owner and permissions") from None
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < 16:
        raise StorageError(
            f"the audit key {path} is not a key written by `python -m db init`; restore it from where it is kept safe"
        )
    return key


def create_key(db_path: str | os.PathLike[str]) -> bytes:
    """Write a new random key, 0600, refusing to overwrite one."""
    path = key_path(db_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, (key.hex() + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    return key


_SIGNED = ("kind", "id", "row_hash", "count", "ts", "from_id", "from_hash")


def _mac(key: bytes, entry: Mapping[str, Any]) -> str:
    body = json.dumps({k: entry.get(k) for k in _SIGNED}, sort_keys=True, separators=(",", ":"))
    return hmac.new(key, body.encode("utf-8"), hashlib.sha256).hexdigest()


def _entry(key: bytes, kind: str, head: tuple[int, str], before: tuple[int, str] | None = None) -> bytes:
    entry = {
        "kind": kind,
        "id": head[0],
        "row_hash": head[1],
        "count": head[0],
        "ts": clock.utc_now(),
        "from_id": before[0] if before else None,
        "from_hash": before[1] if before else None,
    }
    entry["mac"] = _mac(key, entry)
    return (json.dumps(entry, sort_keys=True, separators=(",", ":")) + "\n").encode("utf-8")


def _acceptable(last: Mapping[str, Any]) -> set[tuple[int, str]]:
    """The database heads the witness's last line allows.

    An "intent" line (written and fsynced just before COMMIT) allows the head before and after that
    transaction: the process may have stopped before or after its COMMIT, and the "done" line that
    would say which never made it. Every other line names the one head the database must have.
    """
    heads = {(last["id"], last["row_hash"])}
    if last["kind"] == "intent":
        heads.add((last["from_id"], last["from_hash"]))
    return heads


def append_witness(
    db_path: str | os.PathLike[str],
    key: bytes,
    kind: str,
    head: tuple[int, str],
    fd: int | None = None,
    *,
    before: tuple[int, str] | None = None,
    sync: bool = True,
) -> None:
    """Append one signed head to the witness and fsync it (opens the file unless `fd` is given)."""
    own = fd is None
    handle = _open_private(witness_path(db_path), os.O_WRONLY | os.O_APPEND) if fd is None else fd
    try:
        os.write(handle, _entry(key, kind, head, before))
        if sync:
            os.fsync(handle)
    finally:
        if own:
            os.close(handle)


def read_witness(db_path: str | os.PathLike[str], key: bytes) -> tuple[list[dict[str, Any]], list[str]]:
    """(entries, problems): every line parsed and its HMAC checked."""
    path = witness_path(db_path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return [], [
            f"the witness file {path} is missing (deleted or moved): the audit trail cannot be checked against it"
        ]
    entries, problems = [], []
    for number, line in enumerate(data.splitlines(), 1):
        try:
            entry = parse_json_bytes(line)  # strict: a line nested 100,000 deep is "not valid", not a crash
            ok = isinstance(entry, dict) and hmac.compare_digest(str(entry.get("mac", "")), _mac(key, entry))
        except (ValueError, KeyError, TypeError):
            ok = False
        if not ok:
            problems.append(
                f"witness line {number} does not carry a valid HMAC for this key (the witness was "
                f"edited, or the key was replaced)"
            )
            continue
        entries.append(entry)
    return entries, problems


def _last_entry(fd: int, key: bytes) -> dict[str, Any] | None:
    """The last line of an open witness, HMAC-checked (None for an empty witness)."""
    size = os.fstat(fd).st_size
    if size == 0:
        return None
    start = max(0, size - 4096)
    tail = os.pread(fd, size - start, start).splitlines()
    try:
        entry = parse_json_bytes(tail[-1])
        if hmac.compare_digest(str(entry.get("mac", "")), _mac(key, entry)):
            return entry
    except (ValueError, KeyError, TypeError, AttributeError, IndexError):
        pass
    raise StorageError(
        "the audit witness's last line is not valid for this key; nothing was saved. An "
        "administrator must run `python -m db verify-audit`"
    )


def db_file(db) -> str | None:
    """The file behind a connection (None for an in-memory database)."""
    path = getattr(db, "_sb_path", None)
    if path is None:
        rows = db.execute("PRAGMA database_list").fetchall()
        path = next((r[2] for r in rows if r[1] == "main"), "") or None
    return None if path in (None, "", ":memory:") else str(path)


def head(db) -> tuple[int, str]:
    row = db.execute("SELECT id, row_hash FROM audit_events ORDER BY id DESC LIMIT 1").fetchone()
    return (row[0], row[1]) if row else (0, GENESIS_HASH)


# ---------------------------------------------------------------------------------------------
# the write path (called by audit.record_many and connection.transaction)
# ---------------------------------------------------------------------------------------------


def begin_events(db) -> None:
    """Before the first audit event of a transaction: lock the witness and check the head.

    Does nothing for an unanchored database (no key) or when already done in this transaction.
    """
    if getattr(db, "_sb_witness", None) is not None:
        return
    path = db_file(db)
    key = read_key(path) if path else None
    if key is None or not path:
        db._sb_witness = False
        return
    fd = _open_private(witness_path(path), os.O_RDWR | os.O_APPEND)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        last = _last_entry(fd, key)
        current = head(db)
        if last is not None and current not in _acceptable(last):
            raise StorageError(
                f"the audit trail does not match its witness (the database ends at event {current[0]}, the witness at "
                f"event {last['id']}); nothing was saved. An administrator must run `python -m db verify-audit`"
            )
    except BaseException:
        os.close(fd)
        raise
    db._sb_witness = {"fd": fd, "key": key, "path": path, "before": current, "after": None}


def prepare_commit(db) -> None:
    """Just before COMMIT, inside the transaction: witness the new head as an "intent" (fsynced),
    so a committed head is always in the witness, even after a power cut right after COMMIT."""
    state = getattr(db, "_sb_witness", None)
    if not state:
        return
    state["after"] = head(db)
    append_witness(state["path"], state["key"], "intent", state["after"], state["fd"], before=state["before"])


def finish_events(db, committed: bool) -> None:
    """After COMMIT or rollback: say which ("done"/"abort" after an intent), release the lock."""
    state = getattr(db, "_sb_witness", None)
    db._sb_witness = None
    if not state:
        return
    try:
        if state["after"] is not None:
            # No fsync: if this line is lost, the intent still allows exactly the two possible heads.
            kind, at = ("done", state["after"]) if committed else ("abort", state["before"])
            append_witness(state["path"], state["key"], kind, at, state["fd"], sync=False)
    finally:
        os.close(state["fd"])  # also releases the flock


# ---------------------------------------------------------------------------------------------
# anchoring and checking
# ---------------------------------------------------------------------------------------------


def ensure_anchor(db, db_path: str | os.PathLike[str]) -> None:
    """Create the key and the witness (0600) for a database that has none: trust on first use.

    A witness without its key is not papered over: the key was lost or removed, and the check
    reports it.
    """
    if str(db_path) == ":memory:":
        return
    key, witness = key_path(db_path), witness_path(db_path)
    if key.exists() or witness.exists():
        return
    append_witness(db_path, create_key(db_path), "init", head(db))


def check_anchor(db, db_path: str | os.PathLike[str]) -> list[str]:
    """Problems between the database's chain head and its witness (empty list: they agree)."""
    key = read_key(db_path)
    if key is None:
        if witness_path(db_path).exists():
            return [
                f"the audit key {key_path(db_path)} is missing but a witness exists: restore the key (or set "
                f"{KEY_ENV}); without it the trail cannot be checked"
            ]
        return [
            f"the audit trail is not anchored (no key at {key_path(db_path)}); run `python -m db init` to "
            f"anchor it from now on"
        ]
    entries, problems = read_witness(db_path, key)
    if not entries:
        return problems or [f"the witness {witness_path(db_path)} is empty"]
    # Entries before the last restore/accept describe a history that was deliberately replaced.
    start = max((i for i, e in enumerate(entries) if e["kind"] in ("restore", "accept")), default=0)
    current = head(db)
    for entry in entries[start:]:
        # An intent may describe a transaction that never committed (its ids reused since): the
        # "done" line after it, or the tail rule below, checks it.
        if entry["kind"] == "intent" or entry["id"] > current[0]:
            continue
        row = db.execute("SELECT row_hash FROM audit_events WHERE id = ?", [entry["id"]]).fetchone()
        stored = row[0] if row else (GENESIS_HASH if entry["id"] == 0 else None)
        if stored != entry["row_hash"]:
            problems.append(
                f"event {entry['id']} differs from the witnessed one (witnessed {entry['ts']}): the trail "
                f"was rewritten and its chain recomputed, or this is a different database file"
            )
            break
    last = entries[-1]
    allowed = _acceptable(last)
    if current not in allowed:
        newest = max(h[0] for h in allowed)
        oldest = min(h[0] for h in allowed)
        if current[0] < oldest:
            problems.append(
                f"the database's audit trail ends at event {current[0]} but the witness recorded event "
                f"{newest} at {last['ts']}: {oldest - current[0]} newest event(s) were deleted, or an older "
                f"copy of the file was put in place"
            )
        elif current[0] > newest:
            problems.append(
                f"events {newest + 1}-{current[0]} are not in the witness: added outside the app (every "
                f"commit of the app is witnessed first). Review them; if they are genuine, run "
                f"`python -m db verify-audit --accept-unwitnessed`"
            )
        elif not any("differs from the witnessed" in p for p in problems):
            problems.append(
                f"event {current[0]}, the newest, differs from the witnessed head (witnessed {last['ts']}): "
                f"the trail was rewritten and its chain recomputed, or this is a different database file"
            )
    count = db.execute("SELECT count(*) FROM audit_events").fetchone()[0]
    if count != current[0]:
        problems.append(f"the trail holds {count} events but its last id is {current[0]}")
    return problems


def accept_unwitnessed(db, db_path: str | os.PathLike[str]) -> tuple[int, int]:
    """Witness the current head after an administrator reviewed the events past the witness."""
    key = read_key(db_path)
    if key is None:
        raise StorageError(f"no audit key at {key_path(db_path)}")
    entries, _ = read_witness(db_path, key)
    last = entries[-1]["id"] if entries else 0
    current = head(db)
    append_witness(db_path, key, "accept", current)
    return last, current[0]


def witnessed_heads(db_path: str | os.PathLike[str]) -> tuple[set[tuple[int, str]], list[str]]:
    """Every head ever witnessed for `db_path` (for checking a backup before a restore)."""
    key = read_key(db_path)
    if key is None:
        return set(), [f"there is no audit key at {key_path(db_path)} to check the backup with"]
    entries, problems = read_witness(db_path, key)
    return {(e["id"], e["row_hash"]) for e in entries}, problems


def _triggers(db) -> dict[str, str]:
    return {
        name: " ".join(sql.split())
        for name, sql in db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").fetchall()
    }


@functools.cache
def expected_triggers(version: int) -> dict[str, str]:
    """The triggers the migrations up to `version` create, as they read in sqlite_master
    (from a fresh in-memory database: the code is the reference, not the file)."""
    from db.connection import connect
    from db.migrations import STEP_NAMES, migrate

    fresh = connect(":memory:")
    try:
        if version < len(STEP_NAMES):
            migrate(fresh, stop_before=STEP_NAMES[version])
        else:
            migrate(fresh)
        return _triggers(fresh)
    finally:
        fresh.close()


def check_schema(db) -> list[str]:
    """Every trigger that guards the data is present and unaltered. A trigger dropped or rewritten
    by hand (to let a change past the database's refusals) is named here."""
    from db.migrations import schema_version

    expected, actual = expected_triggers(schema_version(db)), _triggers(db)
    problems = [
        f"trigger {name} is missing (dropped outside the app)" for name in sorted(expected.keys() - actual.keys())
    ]
    problems += [
        f"trigger {name} was altered outside the app"
        for name in sorted(expected.keys() & actual.keys())
        if expected[name] != actual[name]
    ]
    problems += [f"trigger {name} was added outside the app" for name in sorted(actual.keys() - expected.keys())]
    return problems


def check_database(db, db_path: str | os.PathLike[str]) -> list[str]:
    """Everything app start checks: the chain recomputes, it agrees with its witness, and the
    triggers that guard the data are the ones the migrations made."""
    from db.audit import verify_audit

    broken = verify_audit(db)
    problems = [f"audit trail broken at event {broken['id']}: {broken['problem']}"] if broken else []
    return problems + check_anchor(db, db_path) + check_schema(db)


# ---------------------------------------------------------------------------------------------
# the running app's lock
# ---------------------------------------------------------------------------------------------


def hold_app_lock(db_path: str | os.PathLike[str]) -> None:
    """Hold a shared lock on `<db>.app-lock` for the life of this process (the app calls this)."""
    path = lock_path(db_path)
    if str(path) in _app_locks:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = _open_private(path, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_SH)
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    _app_locks[str(path)] = fd


def app_running(db_path: str | os.PathLike[str]) -> str | None:
    """A description of the running app holding the lock, or None when none does."""
    path = lock_path(db_path)
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            return f"the Scalebook app (process {pid}) holds {path}"
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------------------------
# data rows against the audit trail (changes that bypassed it)
# ---------------------------------------------------------------------------------------------

# entity name in audit_events -> table whose rows it describes
AUDITED_TABLES = {"infusion": "infusions", "vitals": "vitals", "adverse_event": "adverse_events"}
_RESPONSE_ACTIONS = ("response.save", "response.clear", "assessment.amend")


def _same(row_value: Any, audited: Any) -> bool:
    if isinstance(audited, bool):
        audited = int(audited)
    if isinstance(row_value, bool):
        row_value = int(row_value)
    return row_value == audited


def check_data(db) -> list[str]:
    """Mismatches between data rows and the audit trail, one line each.

    - every item response equals the value of its latest response.save/clear/amend event;
    - every assessment's newest stored score equals the engine's score of its stored answers (an
      assessment whose scale definition changed since is reported, not re-scored);
    - infusions, vitals and adverse events: each field the audit events carry (the values of the
      create event, then each field-level event) equals the row.
    """
    from db.assessments import _definition as load_definition
    from db.audit import ABSENT as ABSENT_VALUE
    from db.audit import decode
    from scales.engine import score

    out: list[str] = []
    audited: dict[tuple[str, str], Any] = {}
    for entity_id, field, new in db.execute(
        f"SELECT entity_id, field, new_value FROM audit_events WHERE entity = 'assessment' AND action IN "
        f"({', '.join('?' for _ in _RESPONSE_ACTIONS)}) ORDER BY id",
        list(_RESPONSE_ACTIONS),
    ):
        value = decode(new)
        audited[(entity_id, field)] = None if value is ABSENT_VALUE else value
    seen = set()
    for aid, item, value in db.execute("SELECT assessment_id, item_id, value FROM item_responses ORDER BY id"):
        key = (str(aid), item)
        seen.add(key)
        if key not in audited:
            out.append(f"item_response {aid}/{item} value: row {value!r}, audited (no audit event)")
        elif not _same(value, audited[key]):
            out.append(f"item_response {aid}/{item} value: row {value!r}, audited {audited[key]!r}")
    for (aid, item), value in audited.items():
        if (aid, item) not in seen and value is not None:
            out.append(f"item_response {aid}/{item} value: row (missing), audited {value!r}")

    definitions: dict[str, Any] = {}
    for aid, scale_id, def_hash, total, band, complete in db.execute(
        "SELECT a.id, a.scale_id, a.definition_hash, s.total, s.band, s.complete FROM assessments a "
        "JOIN scores s ON s.id = (SELECT max(id) FROM scores WHERE assessment_id = a.id) ORDER BY a.id"
    ):
        if scale_id not in definitions:
            try:
                definitions[scale_id] = load_definition(scale_id)
            except Exception as exc:  # noqa: BLE001 - any load problem is reported, not raised
                definitions[scale_id] = exc
        definition = definitions[scale_id]
        if isinstance(definition, Exception):
            out.append(
                f"assessment {aid} score: not re-scored, the {scale_id} definition cannot be loaded ({definition})"
            )
            continue
        if definition.hash != def_hash:
            out.append(
                f"assessment {aid} score: not re-scored, the {scale_id} definition changed since "
                f"({def_hash[:19]} stored, {definition.hash[:19]} installed)"
            )
            continue
        answers = dict(
            db.execute(
                "SELECT item_id, value FROM item_responses WHERE assessment_id = ? AND value IS NOT NULL", [aid]
            ).fetchall()
        )
        try:
            result = score(definition, answers)
        except Exception as exc:  # noqa: BLE001 - stored answers the engine refuses are a finding
            out.append(f"assessment {aid} score: the stored answers cannot be scored ({exc})")
            continue
        for name, stored, fresh in (
            ("total", total, result.total),
            ("band", band, result.band),
            ("complete", complete, int(result.complete)),
        ):
            if not _same(stored, fresh):
                out.append(f"assessment {aid} score.{name}: row {stored!r}, engine {fresh!r} from the stored answers")

    for entity, table in AUDITED_TABLES.items():
        columns = {r[1] for r in db.execute(f"PRAGMA table_info({table})")}
        expected: dict[str, dict[str, Any]] = {}
        for entity_id, action, field, new in db.execute(
            "SELECT entity_id, action, field, new_value FROM audit_events WHERE entity = ? ORDER BY id", [entity]
        ):
            value = decode(new)
            fields = expected.setdefault(entity_id, {})
            if field is None and action.endswith(".create") and isinstance(value, dict):
                fields.update({k: v for k, v in value.items() if k in columns})
            elif field in columns and value is not ABSENT_VALUE:
                fields[field] = value
        rows = {str(r["id"]): r for r in db.query(f"SELECT * FROM {table}")}
        for entity_id, fields in expected.items():
            row = rows.get(entity_id)
            if row is None:
                out.append(f"{entity} {entity_id}: row (deleted), audited (created)")
                continue
            out += [
                f"{entity} {entity_id} {k}: row {row[k]!r}, audited {v!r}"
                for k, v in fields.items()
                if not _same(row[k], v)
            ]
        out += [f"{entity} {i}: row exists, audited (no create event)" for i in rows if i not in expected]
    return out
