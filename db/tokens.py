"""Self-report links: one-time tokens that open one questionnaire for one participant.

`create_token` returns the raw token exactly once (to put in the link or QR code); the database
keeps only its SHA-256, so a copy of the database does not hand out working links. A token is
bound to one draft self-report assessment (mode self, kiosk or link) and:
- expires at `expires_at` (default 72 hours after creation);
- can be revoked by the study team (creating a new link for the same questionnaire revokes the
  old one, so only the newest link works);
- is consumed when the questionnaire is completed, after which it opens nothing.
Until then it can be redeemed again (a participant whose phone lost the connection reopens the
link and continues where they stopped). `redeem_token` returns a participant actor that
`permissions.authorize` lets answer and complete that one assessment, and nothing else.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from typing import Any

from sqlite_utils import Database

from db import _sql, audit, clock
from db.connection import transaction
from db.errors import NotFoundError, PermissionDeniedError, ValidationError
from db.permissions import PARTICIPANT, authorize

DEFAULT_TTL_HOURS = 72
MAX_TTL_HOURS = 24 * 14
SELF_REPORT_MODES = ("self", "kiosk", "link")
_PUBLIC = (
    "id, participant_id, assessment_id, created_by, created_at, expires_at, first_used_at, last_used_at, use_count, "
    "consumed_at, revoked_at, revoked_by"
)


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def create_token(
    db: Database, actor: Mapping[str, Any], assessment_id: int, ttl_hours: float = DEFAULT_TTL_HOURS
) -> dict[str, Any]:
    """A new link token for a draft self-report assessment. The result's "token" is the raw
    value: show it once, it cannot be recovered. Earlier unused tokens for it are revoked."""
    if isinstance(ttl_hours, bool) or not isinstance(ttl_hours, int | float) or not 0 < ttl_hours <= MAX_TTL_HOURS:
        raise ValidationError(f"a link must be valid for more than 0 and at most {MAX_TTL_HOURS} hours")
    aid = _sql.record_id(assessment_id, "assessment")
    raw = secrets.token_urlsafe(32)
    with transaction(db):
        row = _sql.one(
            db, "SELECT a.id, a.participant_id, a.mode, a.status, p.site_id FROM assessments a "
            "JOIN participants p ON p.id = a.participant_id WHERE a.id = ?", [aid],
        )
        if row is None:
            raise NotFoundError(f"no assessment with id {aid}")
        who = authorize(db, actor, "token.manage", site_id=row["site_id"])
        if row["mode"] not in SELF_REPORT_MODES:
            raise ValidationError(
                f"assessment {aid} is administered by a clinician (mode {row['mode']}); links are for self-report "
                f"(modes {', '.join(SELF_REPORT_MODES)})"
            )
        if row["status"] != "draft":
            raise ValidationError(f"assessment {aid} is {row['status']}; a link can only open a questionnaire not yet done")
        now = clock.utc_now()
        events = [
            audit.event("token.revoke", "self_report_token", old["id"], field="revoked_at", old=None, new=now,
                        reason="replaced by a new link", participant_id=row["participant_id"])
            for old in _sql.many(db, "SELECT id FROM self_report_tokens WHERE assessment_id = ? AND revoked_at IS NULL "
                                     "AND consumed_at IS NULL", [aid])
        ]
        db.execute("UPDATE self_report_tokens SET revoked_at = ?, revoked_by = ? WHERE assessment_id = ? "
                   "AND revoked_at IS NULL AND consumed_at IS NULL", [now, who["id"], aid])
        expires_at = clock.utc_after(now, hours=ttl_hours)
        cursor = db.execute(
            "INSERT INTO self_report_tokens (token_hash, participant_id, assessment_id, created_by, created_at, "
            "expires_at) VALUES (?, ?, ?, ?, ?, ?)", [token_hash(raw), row["participant_id"], aid, who["id"], now, expires_at],
        )
        events.append(audit.event("token.create", "self_report_token", cursor.lastrowid,
                                  new={"assessment_id": aid, "expires_at": expires_at},
                                  participant_id=row["participant_id"]))
        audit.record_many(db, who, events)
        return {**get_token(db, cursor.lastrowid), "token": raw}


def get_token(db: Database, token_id: int) -> dict[str, Any]:
    row = _sql.one(db, f"SELECT {_PUBLIC} FROM self_report_tokens WHERE id = ?", [_sql.record_id(token_id, "token")])
    return _sql.require_row(row, "self-report token", token_id)


def list_tokens(db: Database, assessment_id: int) -> list[dict[str, Any]]:
    """The tokens of one assessment (never their hashes), newest first."""
    return _sql.many(db, f"SELECT {_PUBLIC} FROM self_report_tokens WHERE assessment_id = ? ORDER BY id DESC",
                     [assessment_id])


def redeem_token(db: Database, raw_token: str) -> dict[str, Any]:
    """The participant actor for a valid token (the use is recorded and audited).

    PermissionDeniedError, with a message for the participant, for an unknown, expired,
    revoked or already used token.
    """
    if not isinstance(raw_token, str) or not 16 <= len(raw_token.strip()) <= 200:
        raise PermissionDeniedError("this link is not valid; check that it was copied completely")
    with transaction(db):
        row = _sql.one(
            db, "SELECT t.*, p.code, p.site_id FROM self_report_tokens t JOIN participants p ON p.id = t.participant_id "
            "WHERE t.token_hash = ?", [token_hash(raw_token.strip())],
        )
        if row is None:
            raise PermissionDeniedError("this link is not valid; check that it was copied completely")
        actor = {
            "id": None, "username": f"participant:{row['code']}", "role": PARTICIPANT, "site_id": row["site_id"],
            "participant_id": row["participant_id"], "assessment_id": row["assessment_id"], "token_id": row["id"],
        }
        authorize(db, actor, "assessment.respond", participant_id=row["participant_id"],
                  assessment_id=row["assessment_id"])
        now = clock.utc_now()
        db.execute("UPDATE self_report_tokens SET first_used_at = coalesce(first_used_at, ?), last_used_at = ?, "
                   "use_count = use_count + 1 WHERE id = ?", [now, now, row["id"]])
        audit.record(db, actor, "token.redeem", "self_report_token", row["id"], participant_id=row["participant_id"])
        return actor


def revoke_token(db: Database, actor: Mapping[str, Any], token_id: int, reason: str | None = None) -> dict[str, Any]:
    """Withdraw a link (e.g. sent to the wrong address). Revoking twice is harmless."""
    reason = _sql.text(reason, "reason", max_len=500, required=False)
    with transaction(db):
        token = get_token(db, token_id)
        site = _sql.one(db, "SELECT site_id FROM participants WHERE id = ?", [token["participant_id"]])
        who = authorize(db, actor, "token.manage", site_id=site["site_id"])
        if token["revoked_at"] is None:
            now = clock.utc_now()
            db.execute("UPDATE self_report_tokens SET revoked_at = ?, revoked_by = ? WHERE id = ?",
                       [now, who["id"], token["id"]])
            audit.record(db, who, "token.revoke", "self_report_token", token["id"], field="revoked_at", old=None,
                         new=now, reason=reason, participant_id=token["participant_id"])
        return get_token(db, token["id"])


def consume(db: Database, actor: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Mark the participant actor's token used up (inside the completing transaction); return
    the audit event for the caller to record with the completion."""
    now = clock.utc_now()
    db.execute("UPDATE self_report_tokens SET consumed_at = ? WHERE id = ? AND consumed_at IS NULL",
               [now, actor["token_id"]])
    return [audit.event("token.consume", "self_report_token", actor["token_id"], field="consumed_at", old=None,
                        new=now, participant_id=actor["participant_id"])]
