"""What the import of transcribed ratings (exports/responses_in.py) needs from storage beyond
the ordinary write functions: the importing account, and the audit event that records one
import as a whole, by which the same file is recognised when it comes again.

Each import is one audit event (action IMPORT_ACTION, entity 'import', entity id the SHA-256 of
the file's bytes) written in the transaction that stores its assessments: who imported which
file, how many assessments, item responses and new participants, and the ids stored. Its
assessments are marked as transcribed by db.exports.transcription_event, which is what the
exports read as source `transcribed`. `find_import` looks the hash up (indexed by entity and
entity id), so importing the same bytes twice is refused instead of doubled.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlite_utils import Database

from db import _sql, audit
from db.errors import NotFoundError, PermissionDeniedError

#: The audit action of one import of transcribed ratings (entity 'import', id = file SHA-256).
IMPORT_ACTION = "import.responses"
IMPORT_ENTITY = "import"


def importing_account(db: Database, username: str) -> dict[str, Any]:
    """The account an import runs as (`--as USERNAME`): it must exist and be active; what it may
    do at which site is checked by db.permissions.authorize on every write. Returns id,
    username, role, site_id."""
    row = _sql.one(
        db, "SELECT id, username, role, site_id, active FROM users WHERE username = ?", [str(username).strip()]
    )
    if row is None:
        raise NotFoundError(
            f"no account '{username}'; give the username of the rater, PI or coordinator who is "
            f"responsible for the transcription"
        )
    if not row["active"]:
        raise PermissionDeniedError(f"account '{row['username']}' is deactivated; ask an admin")
    return {k: row[k] for k in ("id", "username", "role", "site_id")}


def find_import(db: Database, sha256: str) -> dict[str, Any] | None:
    """The earlier import of the file with this SHA-256 (ts, username, file, counts), or None."""
    row = _sql.one(
        db,
        "SELECT ts, username, new_value FROM audit_events WHERE entity = ? AND entity_id = ? "
        "AND action = ? ORDER BY id LIMIT 1",
        [IMPORT_ENTITY, sha256, IMPORT_ACTION],
    )
    if row is None:
        return None
    details = audit.decode(row["new_value"])
    return {"ts": row["ts"], "username": row["username"], **(details if isinstance(details, dict) else {})}


def import_event(
    sha256: str,
    file_name: str,
    counts: Mapping[str, int],
    *,
    assessment_ids: Sequence[int] = (),
    participants_created: Sequence[str] = (),
    site: str | None = None,
) -> dict[str, Any]:
    """The audit event of one import (for audit.record_many, in the import's transaction)."""
    return audit.event(
        IMPORT_ACTION,
        IMPORT_ENTITY,
        sha256,
        new={
            "file": file_name,
            "sha256": sha256,
            "records": dict(counts),
            "total_records": int(sum(counts.values())),
            "assessment_ids": list(assessment_ids),
            "participants_created": list(participants_created),
            "site": site,
        },
        reason="transcribed ratings imported from a source document",
    )
