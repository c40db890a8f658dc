"""The audit trail: who changed what, when, from which value to which, and why.

Each event records the acting user (id, username, role), the UTC time, the action, the entity
(table-level name and id), the field, the old and new value and the reason. Values are stored
as JSON text so that 3, "3" and null stay distinct; a NULL column means "not applicable" (e.g.
no old value for a creation).

Events are appended inside the caller's transaction, so an event exists exactly when the change
it describes was committed. The table is append-only (triggers refuse UPDATE and DELETE) and
hash-chained: `row_hash = sha256(prev_hash + canonical JSON of the row's content)`, where the
content is every column except the two hashes, and the first event links to 64 zeros. A
trigger refuses an insert that does not extend the chain. `verify_audit` recomputes the chain
and reports the first event that does not match, which finds a row edited, inserted or deleted
with the triggers dropped. A plain chain alone cannot show truncated newest events or a chain
recomputed after an edit; db/integrity.py anchors the head outside the file (HMAC key and
witness) for that, and `record_many` takes the witness lock and checks the head before writing.

Writers serialise on BEGIN IMMEDIATE, so reading the last hash and appending the next event
cannot interleave with another writer.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from sqlite_utils import Database

from db import clock, integrity
from db.errors import StorageError
from db.migrations import GENESIS_HASH

CONTENT_FIELDS = (
    "id",
    "ts",
    "user_id",
    "username",
    "role",
    "participant_id",
    "action",
    "entity",
    "entity_id",
    "field",
    "old_value",
    "new_value",
    "reason",
)
_COLUMNS = CONTENT_FIELDS + ("prev_hash", "row_hash")
_INSERT = f"INSERT INTO audit_events ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' for _ in _COLUMNS)})"


class _Absent:
    """Marker for "no value" (different from a value of None, which is stored as JSON null)."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()


def encode(value: Any) -> str | None:
    """A value as stored in old_value/new_value: canonical JSON, or NULL for ABSENT."""
    if value is ABSENT:
        return None
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def decode(text: str | None) -> Any:
    """The inverse of `encode` (NULL comes back as ABSENT)."""
    return ABSENT if text is None else json.loads(text)


def canonical(content: Mapping[str, Any]) -> str:
    return json.dumps(
        {k: content[k] for k in CONTENT_FIELDS}, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


def chain_hash(prev_hash: str, content: Mapping[str, Any]) -> str:
    """sha256(prev_hash + canonical JSON of the content), as lower-case hex."""
    return hashlib.sha256((prev_hash + canonical(content)).encode("utf-8")).hexdigest()


def event(
    action: str,
    entity: str,
    entity_id: Any = None,
    *,
    field: str | None = None,
    old: Any = ABSENT,
    new: Any = ABSENT,
    reason: str | None = None,
    participant_id: int | None = None,
) -> dict[str, Any]:
    """Describe one event (not yet written); pass a list of these to `record_many`."""
    return {
        "action": action,
        "entity": entity,
        "entity_id": None if entity_id is None else str(entity_id),
        "field": field,
        "old_value": encode(old),
        "new_value": encode(new),
        "reason": reason,
        "participant_id": participant_id,
    }


def record(db: Database, actor: Mapping[str, Any], action: str, entity: str, entity_id: Any = None, **kw) -> dict:
    """Append one event inside the caller's transaction and return it (with id and hashes)."""
    return record_many(db, actor, [event(action, entity, entity_id, **kw)])[0]


def record_many(db: Database, actor: Mapping[str, Any], events: Iterable[Mapping[str, Any]]) -> list[dict]:
    """Append events in order, chained, inside the caller's (write) transaction."""
    if not db.conn.in_transaction:
        raise StorageError("audit events must be written inside the transaction of the change they describe")
    events = list(events)
    if not events:
        return []
    integrity.begin_events(db)  # lock the witness and check the head still matches it (db/integrity.py)
    last = db.execute("SELECT id, row_hash FROM audit_events ORDER BY id DESC LIMIT 1").fetchone()
    next_id, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
    ts = clock.utc_now()
    who = _who(actor)
    rows = []
    for ev in events:
        content = {**ev, **who, "id": next_id, "ts": ts}
        row_hash = chain_hash(prev_hash, content)
        rows.append({**content, "prev_hash": prev_hash, "row_hash": row_hash})
        prev_hash, next_id = row_hash, next_id + 1
    db.conn.executemany(_INSERT, [tuple(r[c] for c in _COLUMNS) for r in rows])
    return rows


def _who(actor: Mapping[str, Any]) -> dict[str, Any]:
    """The acting person as stored: user id (None for a participant or the CLI), name, role."""
    return {
        "user_id": actor.get("id") if actor.get("role") not in ("participant", "system") else None,
        "username": str(actor.get("username") or "unknown"),
        "role": str(actor.get("role") or "unknown"),
    }


def verify_audit(db: Database) -> dict[str, Any] | None:
    """Recompute the chain. None when intact; else {"id", "problem", "checked"} for the first bad event."""
    cursor = db.execute(f"SELECT {', '.join(_COLUMNS)} FROM audit_events ORDER BY id")
    expected_prev, expected_id, checked = GENESIS_HASH, 1, 0
    for values in cursor:
        row = dict(zip(_COLUMNS, values, strict=True))
        if row["id"] != expected_id:
            problem = (
                f"event ids jump from {expected_id - 1} to {row['id']}: {row['id'] - expected_id} event(s) deleted"
                if row["id"] > expected_id
                else f"event id {row['id']} is out of sequence (expected {expected_id})"
            )
            return {"id": row["id"], "problem": problem, "checked": checked}
        if row["prev_hash"] != expected_prev:
            return {
                "id": row["id"],
                "problem": "its prev_hash does not match the hash of the event before it "
                "(an event before it was removed or rewritten)",
                "checked": checked,
            }
        if chain_hash(row["prev_hash"], row) != row["row_hash"]:
            return {
                "id": row["id"],
                "problem": "its content does not match its hash (the event was altered after it was written)",
                "checked": checked,
            }
        expected_prev, expected_id, checked = row["row_hash"], expected_id + 1, checked + 1
    return None


def count_events(db: Database) -> int:
    return db.execute("SELECT count(*) FROM audit_events").fetchone()[0]


def events_for(db: Database, entity: str, entity_id: Any) -> list[dict[str, Any]]:
    """Every event for one record, oldest first, with old/new values decoded (ABSENT → None)."""
    rows = db.query(
        "SELECT * FROM audit_events WHERE entity = ? AND entity_id = ? ORDER BY id", [entity, str(entity_id)]
    )
    return [_decoded(r) for r in rows]


def newest_event_id(db: Database, entity: str, entity_id: Any) -> int:
    """The id of the newest event for one record (0 when it has none): what a form last saw."""
    row = db.execute(
        "SELECT MAX(id) FROM audit_events WHERE entity = ? AND entity_id = ?", [entity, str(entity_id)]
    ).fetchone()
    return int(row[0] or 0)


def events_for_participant(db: Database, participant_id: int) -> list[dict[str, Any]]:
    rows = db.query("SELECT * FROM audit_events WHERE participant_id = ? ORDER BY id", [participant_id])
    return [_decoded(r) for r in rows]


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for key in ("old_value", "new_value"):
        value = decode(row[key])
        out[key] = None if value is ABSENT else value
    return out
