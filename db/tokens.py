"""Self-report links: one-time tokens that open a set of questionnaires for one participant.

`create_link` returns the raw token exactly once (to put in the link or QR code); the database
keeps only its SHA-256, so a copy of the database does not hand out working links. A token
belongs to one participant and opens a fixed, ordered set of their draft self-report assessments
(table self_report_link_assessments; a composite foreign key makes a link that mixes two
participants impossible). A token:
- expires at `expires_at` (default 72 hours after creation, at most 14 days);
- can be revoked by the study team; creating a new link revokes every earlier unused link that
  opens any of the same questionnaires, so only the newest link works and two devices never
  answer the same questionnaire at once;
- is consumed when the LAST questionnaire of its set is completed, after which it opens nothing.
Until then the browser that holds it continues where the participant stopped (after a lost
connection, a reload or closing the page: see "One holder at a time" below).

`channel` records how the link was handed out: "link" (sent to the participant's own device)
or "kiosk" (the clinic tablet: the page mints a short-lived link and redeems it at once in the
staff member's browser session, so kiosk and link share one code path and one permission model).

`redeem_token` returns a participant actor (no account: role "participant", the participant's
id, the token id and the ids of the assessments of its set) that `permissions.authorize` lets
answer and complete those assessments and nothing else; every use is checked against the
database again, so revoking or expiry takes effect at the next tap. A refused link raises
`LinkRefused`, whose `reason` (invalid, revoked, expired, used, held) lets the page pick a
short, friendly sentence for the participant without showing anything else.

One holder at a time (issue 13 item 6). A link is held by ONE browser: the first that acts on
it (its first tap, `claim_link`) gets a random holder secret; the database keeps only the
secret's SHA-256 (`holder_hash`, never changed afterwards: a trigger refuses it) and the
browser keeps the secret (in its session, and for a link on the participant's own device in
the page address too, so a reload continues: `resume_link`). From then on the raw token opens
nothing for anyone else: a second browser is refused with reason "held" and told to ask the
study team for a new link (a new link revokes this one). Opening the link (`redeem_token`)
does not claim it, so a mail scanner or link preview that loads the page without tapping
anything does not take the link away from the participant. `link_use` is the rule, asked by
every path: opening, claiming, resuming, every page run (`check_actor`) and every participant
write (`require_holder`, called by db.selfreport's save functions).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from typing import Any, TypeGuard

from sqlite_utils import Database

from db import _sql, audit, clock
from db.connection import transaction
from db.errors import NotFoundError, PermissionDeniedError, ValidationError
from db.permissions import PARTICIPANT, authorize, participant_actor

DEFAULT_TTL_HOURS = 72
MAX_TTL_HOURS = 24 * 14
KIOSK_TTL_HOURS = 4  # a kiosk hand-over lasts one clinic visit
MAX_SET_SIZE = 20
SELF_REPORT_MODES = ("self", "kiosk", "link")
CHANNELS = ("link", "kiosk")
REFUSAL_REASONS = ("invalid", "revoked", "expired", "used", "held")
# link_use's answers that let a browser go on: nobody holds the link yet / this browser holds it.
OPEN, HOLDER = "open", "holder"
PUBLIC_COLUMNS = (
    "id, participant_id, assessment_id, channel, created_by, created_at, expires_at, first_used_at, last_used_at, "
    "use_count, consumed_at, revoked_at, revoked_by, held_at"
)


class LinkRefused(PermissionDeniedError):
    """A self-report link that opens nothing; `reason` is one of REFUSAL_REASONS."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


_REFUSALS = {
    "invalid": "this link is not valid; check that it was copied completely",
    "revoked": "this self-report link was withdrawn; ask the study team for a new one",
    "used": "this questionnaire has already been submitted; thank you",
    "expired": "this self-report link has expired; ask the study team for a new one",
    "held": "this self-report link is already in use on another phone or browser; ask the study team for a new one",
}


def refused(reason: str) -> LinkRefused:
    return LinkRefused(reason, _REFUSALS[reason])


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def holder_hash(secret: str) -> str:
    """What the database keeps of a holder secret (the secret itself stays with the browser)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _plausible_secret(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and 16 <= len(value.strip()) <= 200


def _check_ttl(ttl_hours: Any) -> float:
    if isinstance(ttl_hours, bool) or not isinstance(ttl_hours, int | float) or not 0 < ttl_hours <= MAX_TTL_HOURS:
        raise ValidationError(f"a link must be valid for more than 0 and at most {MAX_TTL_HOURS} hours")
    return ttl_hours


def _assessment_ids(assessment_ids: Any) -> list[int]:
    if isinstance(assessment_ids, int | str):
        assessment_ids = [assessment_ids]
    if not isinstance(assessment_ids, Sequence) or not assessment_ids:
        raise ValidationError("a link needs at least one questionnaire (a list of assessment ids)")
    ids = [_sql.record_id(a, "assessment") for a in assessment_ids]
    if len(set(ids)) != len(ids):
        raise ValidationError("a link lists each questionnaire once; remove the repeated assessment id")
    if len(ids) > MAX_SET_SIZE:
        raise ValidationError(f"a link opens at most {MAX_SET_SIZE} questionnaires; make two links")
    return ids


def create_link(
    db: Database,
    actor: Mapping[str, Any],
    assessment_ids: Sequence[int],
    ttl_hours: float = DEFAULT_TTL_HOURS,
    *,
    channel: str = "link",
) -> dict[str, Any]:
    """A new link token opening these draft self-report assessments of ONE participant, in this
    order. The result's "token" is the raw value: show it once, it cannot be recovered; its
    "assessment_ids" lists the set. Earlier unused links that open any of them are revoked."""
    ttl_hours = _check_ttl(ttl_hours)
    ids = _assessment_ids(assessment_ids)
    if channel not in CHANNELS:
        raise ValidationError(f"unknown link channel {channel!r}; choose one of {', '.join(CHANNELS)}")
    raw = secrets.token_urlsafe(32)
    with transaction(db):
        rows = []
        for aid in ids:
            row = _sql.one(
                db,
                "SELECT a.id, a.participant_id, a.mode, a.status, p.site_id FROM assessments a "
                "JOIN participants p ON p.id = a.participant_id WHERE a.id = ?",
                [aid],
            )
            if row is None:
                raise NotFoundError(f"no assessment with id {aid}")
            rows.append(row)
        who = authorize(db, actor, "token.manage", site_id=rows[0]["site_id"])
        participant_id = rows[0]["participant_id"]
        for row in rows:
            if row["participant_id"] != participant_id:
                raise ValidationError("a link opens the questionnaires of one participant only; make one link each")
            if row["mode"] not in SELF_REPORT_MODES:
                raise ValidationError(
                    f"assessment {row['id']} is administered by a clinician (mode {row['mode']}); links are for "
                    f"self-report (modes {', '.join(SELF_REPORT_MODES)})"
                )
            if row["status"] != "draft":
                raise ValidationError(
                    f"assessment {row['id']} is {row['status']}; a link can only open a questionnaire not yet done"
                )
        now = clock.utc_now()
        marks = ", ".join("?" for _ in ids)
        older = _sql.many(
            db,
            f"SELECT DISTINCT t.id FROM self_report_tokens t JOIN self_report_link_assessments l ON l.token_id = t.id "
            f"WHERE l.assessment_id IN ({marks}) AND t.revoked_at IS NULL AND t.consumed_at IS NULL ORDER BY t.id",
            ids,
        )
        events = [
            audit.event(
                "token.revoke",
                "self_report_token",
                old["id"],
                field="revoked_at",
                old=None,
                new=now,
                reason="replaced by a new link",
                participant_id=participant_id,
            )
            for old in older
        ]
        for old in older:
            db.execute(
                "UPDATE self_report_tokens SET revoked_at = ?, revoked_by = ? WHERE id = ?", [now, who["id"], old["id"]]
            )
        expires_at = clock.utc_after(now, hours=ttl_hours)
        cursor = db.execute(
            "INSERT INTO self_report_tokens (token_hash, participant_id, assessment_id, channel, created_by, created_at, "
            "expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [token_hash(raw), participant_id, ids[0], channel, who["id"], now, expires_at],
        )
        token_id = _sql.new_id(cursor)
        db.conn.executemany(
            "INSERT INTO self_report_link_assessments (token_id, participant_id, assessment_id, position) "
            "VALUES (?, ?, ?, ?)",
            [(token_id, participant_id, aid, pos) for pos, aid in enumerate(ids)],
        )
        events.append(
            audit.event(
                "token.create",
                "self_report_token",
                token_id,
                new={"assessment_ids": ids, "channel": channel, "expires_at": expires_at},
                participant_id=participant_id,
            )
        )
        audit.record_many(db, who, events)
        return {**get_token(db, token_id), "token": raw}


def create_token(
    db: Database, actor: Mapping[str, Any], assessment_id: int, ttl_hours: float = DEFAULT_TTL_HOURS
) -> dict[str, Any]:
    """A link for one questionnaire (a set of one); see `create_link`."""
    return create_link(db, actor, [assessment_id], ttl_hours)


def _members(db: Database, token_id: int) -> list[int]:
    return [
        r[0]
        for r in db.execute(
            "SELECT assessment_id FROM self_report_link_assessments WHERE token_id = ? ORDER BY position", [token_id]
        ).fetchall()
    ]


def get_token(db: Database, token_id: int) -> dict[str, Any]:
    """One token (never its hash), with the ids of the assessments it opens."""
    row = _sql.one(
        db, f"SELECT {PUBLIC_COLUMNS} FROM self_report_tokens WHERE id = ?", [_sql.record_id(token_id, "token")]
    )
    row = _sql.require_row(row, "self-report token", token_id)
    row["assessment_ids"] = _members(db, row["id"])
    return row


def list_tokens(db: Database, assessment_id: int) -> list[dict[str, Any]]:
    """The tokens that open one assessment (never their hashes), newest first."""
    rows = _sql.many(
        db,
        f"SELECT {PUBLIC_COLUMNS} FROM self_report_tokens WHERE id IN (SELECT token_id FROM self_report_link_assessments "
        "WHERE assessment_id = ?) ORDER BY id DESC",
        [assessment_id],
    )
    for row in rows:
        row["assessment_ids"] = _members(db, row["id"])
    return rows


def token_state(token: Mapping[str, Any], now: str | None = None) -> str:
    """active, used, revoked or expired (in that order of precedence after active)."""
    if token["revoked_at"] is not None:
        return "revoked"
    if token["consumed_at"] is not None:
        return "used"
    if token["expires_at"] <= (now or clock.utc_now()):
        return "expired"
    return "active"


def link_use(row: Mapping[str, Any], holder: str | None, now: str | None = None) -> str:
    """Who may use this link now: THE rule, asked by every path (opening, claiming, resuming,
    every page run, every participant write). `row` is the stored token (with `holder_hash`),
    `holder` the holder secret the browser presents (None: it holds nothing yet).

    Returns OPEN ("open": nobody holds the link yet, so this browser may look, and its first tap
    claims it), HOLDER ("holder": the secret is the one that holds it), or the refusal reason:
    revoked, used or expired (the link opens nothing for anyone, holder included), held (another
    browser holds it), invalid (a secret that holds no link)."""
    state = token_state(row, now)
    if state != "active":
        return state
    stored = row.get("holder_hash")
    if stored is None:
        return OPEN if holder is None else "invalid"
    if _plausible_secret(holder) and hmac.compare_digest(holder_hash(holder.strip()), stored):
        return HOLDER
    return "held"


def _allow(decision: str, *allowed: str) -> None:
    if decision not in allowed:
        raise refused(decision if decision in REFUSAL_REASONS else "invalid")


def _actor(db: Database, row: Mapping[str, Any], holder: str | None) -> Mapping[str, Any]:
    # A read-only permissions.Actor: only an actor made here from the token's row acts as a
    # participant; a plain dict claiming that role is refused by authorize (issue 13 item 15).
    members = _members(db, row["id"])
    return participant_actor(
        {
            "id": None,
            "username": f"participant:{row['code']}",
            "role": PARTICIPANT,
            "site_id": row["site_id"],
            "participant_id": row["participant_id"],
            "assessment_id": members[0],
            "assessment_ids": members,
            "token_id": row["id"],
            "channel": row["channel"],
            "holder": holder,
        }
    )


_WITH_PARTICIPANT = (
    "SELECT t.*, p.code, p.site_id FROM self_report_tokens t JOIN participants p ON p.id = t.participant_id WHERE "
)


def _count_use(db: Database, token_id: int) -> None:
    now = clock.utc_now()
    db.execute(
        "UPDATE self_report_tokens SET first_used_at = coalesce(first_used_at, ?), last_used_at = ?, "
        "use_count = use_count + 1 WHERE id = ?",
        [now, now, token_id],
    )


def redeem_token(db: Database, raw_token: str) -> Mapping[str, Any]:
    """The participant actor for a valid token (the use is recorded and audited). Opening does
    not claim the link: the actor holds nothing yet ("holder": None) and `claim_link` makes it
    the holder at its first tap. A link another browser holds is refused (reason "held").

    LinkRefused (a PermissionDeniedError) with a message for the participant and a `reason`
    for an unknown, revoked, expired, already used or already held token.
    """
    if not _plausible_secret(raw_token):
        raise refused("invalid")
    with transaction(db):
        row = _sql.one(db, _WITH_PARTICIPANT + "t.token_hash = ?", [token_hash(raw_token.strip())])
        if row is None:
            raise refused("invalid")
        _allow(link_use(row, None), OPEN)
        actor = _actor(db, row, None)
        _count_use(db, row["id"])
        audit.record(db, actor, "token.redeem", "self_report_token", row["id"], participant_id=row["participant_id"])
        return actor


def _stored_row(db: Database, actor: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(actor, Mapping) or actor.get("role") != PARTICIPANT:
        raise refused("invalid")
    row = _sql.one(
        db,
        _WITH_PARTICIPANT + "t.id = ? AND t.participant_id = ?",
        [actor.get("token_id"), actor.get("participant_id")],
    )
    if row is None:
        raise refused("invalid")
    return row


def claim_link(db: Database, actor: Mapping[str, Any]) -> Mapping[str, Any]:
    """Make the browser of this participant actor the link's one holder (at its first tap):
    returns the actor with its new "holder" secret (keep it in the session; it is never stored,
    only its hash). An actor that already holds the link is returned as it is. LinkRefused
    "held" when another browser claimed it first (the claim happens under the database's write
    lock and a trigger keeps the first holder, so two browsers racing cannot both win)."""
    with transaction(db):
        row = _stored_row(db, actor)
        decision = link_use(row, actor.get("holder"))
        if decision == HOLDER:
            return actor
        _allow(decision, OPEN)
        secret = secrets.token_urlsafe(32)
        now = clock.utc_now()
        cursor = db.execute(
            "UPDATE self_report_tokens SET holder_hash = ?, held_at = ? WHERE id = ? AND holder_hash IS NULL",
            [holder_hash(secret), now, row["id"]],
        )
        if cursor.rowcount != 1:  # pragma: no cover - the write lock makes this unreachable; kept as a guard
            raise refused("held")
        held = _actor(db, row, secret)
        audit.record(
            db,
            held,
            "token.claim",
            "self_report_token",
            row["id"],
            field="held_at",
            old=None,
            new=now,
            reason=f"taken by the first browser that used the {row['channel']}",
            participant_id=row["participant_id"],
        )
        return held


def resume_link(db: Database, holder: str) -> Mapping[str, Any]:
    """The participant actor of the link this holder secret holds: a browser that holds a link
    and was reloaded (a new session) continues as its holder. The use is counted and audited.
    LinkRefused "invalid" for a secret that holds no link; revoked, expired or used as for the
    token itself."""
    if not _plausible_secret(holder):
        raise refused("invalid")
    with transaction(db):
        row = _sql.one(db, _WITH_PARTICIPANT + "t.holder_hash = ?", [holder_hash(holder.strip())])
        if row is None:
            raise refused("invalid")
        _allow(link_use(row, holder), HOLDER)
        actor = _actor(db, row, holder.strip())
        _count_use(db, row["id"])
        audit.record(db, actor, "token.resume", "self_report_token", row["id"], participant_id=row["participant_id"])
        return actor


def _public(db: Database, row: Mapping[str, Any]) -> dict[str, Any]:
    names = [c.strip() for c in PUBLIC_COLUMNS.split(",")]
    public = {name: row[name] for name in names}
    public["assessment_ids"] = _members(db, row["id"])
    return public


def check_actor(db: Database, actor: Mapping[str, Any]) -> dict[str, Any]:
    """The participant actor's token as stored now (never its hashes); LinkRefused if it no
    longer opens anything for this browser: revoked, expired, used, or held by another browser
    (a read: pages call it on every run so a revoke, an expiry or a claim elsewhere shows at once)."""
    row = _stored_row(db, actor)
    _allow(link_use(row, actor.get("holder")), OPEN, HOLDER)
    return _public(db, row)


def require_holder(db: Database, actor: Mapping[str, Any]) -> dict[str, Any]:
    """As `check_actor`, for a participant write: only the link's holder may answer or send
    (the page claims the link at the first tap, so a browser that does not hold it is refused)."""
    row = _stored_row(db, actor)
    decision = link_use(row, actor.get("holder"))
    if decision == OPEN:
        raise PermissionDeniedError(
            "only the browser that holds this self-report link may answer it; claim the link "
            "first (db.tokens.claim_link: the page does it at the participant's first tap)"
        )
    _allow(decision, HOLDER)
    return _public(db, row)


def revoke_token(db: Database, actor: Mapping[str, Any], token_id: int, reason: str | None = None) -> dict[str, Any]:
    """Withdraw a link (e.g. sent to the wrong address). Revoking twice is harmless."""
    reason = _sql.text(reason, "reason", max_len=500, required=False)
    with transaction(db):
        token = get_token(db, token_id)
        site = _sql.require_row(
            _sql.one(db, "SELECT site_id FROM participants WHERE id = ?", [token["participant_id"]]),
            "participant",
            token["participant_id"],
        )
        who = authorize(db, actor, "token.manage", site_id=site["site_id"])
        if token["revoked_at"] is None:
            now = clock.utc_now()
            db.execute(
                "UPDATE self_report_tokens SET revoked_at = ?, revoked_by = ? WHERE id = ?",
                [now, who["id"], token["id"]],
            )
            audit.record(
                db,
                who,
                "token.revoke",
                "self_report_token",
                token["id"],
                field="revoked_at",
                old=None,
                new=now,
                reason=reason,
                participant_id=token["participant_id"],
            )
        return get_token(db, token["id"])


def consume(db: Database, actor: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Inside the transaction that completes one of the link's questionnaires: mark the token
    used up if that was the last draft of its set; return the audit event (if any) for the
    caller to record with the completion."""
    token_id = actor["token_id"]
    open_left = db.execute(
        "SELECT count(*) FROM self_report_link_assessments l JOIN assessments a ON a.id = l.assessment_id "
        "WHERE l.token_id = ? AND a.status = 'draft'",
        [token_id],
    ).fetchone()[0]
    if open_left:
        return []
    now = clock.utc_now()
    cursor = db.execute(
        "UPDATE self_report_tokens SET consumed_at = ? WHERE id = ? AND consumed_at IS NULL", [now, token_id]
    )
    if not cursor.rowcount:
        return []
    return [
        audit.event(
            "token.consume",
            "self_report_token",
            token_id,
            field="consumed_at",
            old=None,
            new=now,
            participant_id=actor["participant_id"],
        )
    ]
