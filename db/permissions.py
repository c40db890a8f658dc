"""Who may do what: roles, the action table, and the checks every write function makes.

Every write function in db/ takes an `actor` (a mapping with at least `id`, `username`, `role`;
`users.authenticate` returns one) and calls `authorize` before touching anything. Pages check
roles too, to decide what to draw, but the check that counts is this one, because it runs on
every route to the data.

No role is taken on trust from a mapping `authorize` did not load (issue 13 item 15). For a
staff account the role, site and active flag are re-read from the users table by id on every
call, and the caller's claimed role must still match. Two actors are not accounts, and exist only
as `Actor` objects, which only the loaders below make (a plain dict saying role "system" or
"participant", e.g. one rebuilt from a session, a form or a file, is refused):
- a *participant* in self-report mode (`participant_actor`, called by `tokens.redeem_token`):
  may answer and complete the questionnaires their link opens (its set of assessments), and
  nothing else; the link is checked against the database on every call as well;
- the *system* actor of the command line (`system_actor()`): account and site administration
  by whoever can run `python -m db` on the server (who can already read the file).

Who may read the audit trail (a record's history, the certified copy of a participant's record)
is one rule, `may_read_audit`, which every page that shows audit history asks.

`require(actor, action)` is the pure role check. `authorize(db, actor, action, ...)` adds what
only the database knows: the account still exists, is active and still has that role (a role
change or deactivation takes effect at the next click, not at the next login), the record
belongs to the actor's site, and a participant's link is still valid and is for this record.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any

from sqlite_utils import Database

from db import clock
from db.errors import PermissionDeniedError
from protocol.blinding import CLINICAL_RECORDERS

ROLES = ("admin", "pi", "rater", "coordinator", "monitor")
PARTICIPANT = "participant"
SYSTEM = "system"

_STAFF_WRITERS = frozenset({"pi", "rater", "coordinator"})

PERMISSIONS: dict[str, frozenset[str]] = {
    # administration
    "user.manage": frozenset({"admin", SYSTEM}),
    "site.manage": frozenset({"admin", SYSTEM}),
    "study.configure": frozenset({"admin", "pi", SYSTEM}),
    # participants and the infusion day
    "participant.enrol": frozenset({"coordinator", "pi"}),
    "participant.update": frozenset({"coordinator", "pi"}),
    # who records clinical data; in a blinded study only its unblinded members record doses (protocol.blinding)
    "clinical.record": CLINICAL_RECORDERS,
    # assessments
    "assessment.start": _STAFF_WRITERS,
    "assessment.respond": _STAFF_WRITERS | {PARTICIPANT},
    "assessment.complete": _STAFF_WRITERS | {PARTICIPANT},
    "assessment.sign": frozenset({"rater", "pi"}),
    "assessment.amend": frozenset({"rater", "pi"}),
    "assessment.lock": frozenset({"pi"}),
    "token.manage": _STAFF_WRITERS,
    "alert.acknowledge": frozenset({"pi"}),
    # reading
    "data.read": frozenset(ROLES),
    "audit.read": frozenset({"admin", "pi", "monitor"}),
    # reading the study's data out as an export (CSV, SDTM, FHIR, REDCap): the Data export page, `--as`
    "export.read": frozenset({"admin", "pi", "monitor", SYSTEM}),
}


def allowed(role: str, action: str) -> bool:
    """Whether `role` may perform `action` (unknown actions are allowed to nobody)."""
    return role in PERMISSIONS.get(action, frozenset())


def may_read_audit(actor: Mapping[str, Any] | str | None) -> bool:
    """Whether this actor (or role) may read audit history: an assessment's history on the
    Assessments page, the certified copy of a participant's record on the trajectory page, and
    any other view of audit events. The one rule every page asks, so no page shows the trail to
    a role another page refuses it to."""
    role = actor.get("role") if isinstance(actor, Mapping) else actor
    return isinstance(role, str) and allowed(role, "audit.read")


_LOADER = object()  # the key only this module's loaders hold


class Actor(Mapping[str, Any]):
    """An actor that is not an account (the system or a participant), made only by this module's
    loaders (`system_actor`, `participant_actor`). Read-only: a copy (`dict(actor)`, `{**actor}`)
    is a plain dict, which `authorize` and `require` refuse for these roles, so a mapping built
    anywhere else cannot claim the system's or a participant's rights."""

    __slots__ = ("_fields",)
    _fields: Mapping[str, Any]  # set once in __init__ (object.__setattr__), for the type checker

    def __init__(self, fields: Mapping[str, Any], *, _key: object = None) -> None:
        if _key is not _LOADER:
            raise TypeError("an Actor is made only by db.permissions.system_actor or participant_actor")
        object.__setattr__(self, "_fields", MappingProxyType(dict(fields)))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("an Actor is read-only")

    def __getitem__(self, key: str) -> Any:
        return self._fields[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def __repr__(self) -> str:
        return f"Actor({dict(self._fields)!r})"

    def __reduce__(self):
        raise TypeError("an Actor cannot be pickled: load it again (system_actor, or redeem the link)")


def participant_actor(fields: Mapping[str, Any]) -> Actor:
    """The participant actor of a redeemed self-report link (called by db.tokens.redeem_token only,
    with the token's row as just read; `authorize` re-checks the link on every call anyway)."""
    if fields.get("role") != PARTICIPANT:
        raise ValueError("participant_actor needs role 'participant'")
    return Actor(fields, _key=_LOADER)


def _untrusted(actor: Mapping[str, Any]) -> str | None:
    """Why a mapping may not act as the system or a participant (None when it may, or is staff)."""
    role = actor.get("role")
    if role == SYSTEM and not isinstance(actor, Actor):
        return (
            "the system actor comes only from db.permissions.system_actor (the command line); a mapping that "
            "says role 'system' is not trusted"
        )
    if role == PARTICIPANT and not isinstance(actor, Actor):
        return (
            "this self-report session is not valid: a participant acts only through the link it opened "
            "(db.tokens.redeem_token); open the link again"
        )
    return None


def require(actor: Mapping[str, Any] | None, action: str) -> None:
    """Raise PermissionDeniedError unless the actor's role may perform `action`.

    The pure role check, a pre-check only: a staff role is confirmed against the database by
    `authorize`, which every write calls."""
    if action not in PERMISSIONS:
        raise PermissionDeniedError(f"unknown action '{action}'; known actions: {', '.join(sorted(PERMISSIONS))}")
    if not isinstance(actor, Mapping) or not actor.get("username") or not actor.get("role"):
        raise PermissionDeniedError("no signed-in user: sign in first (the actor needs an id, username and role)")
    problem = _untrusted(actor)
    if problem:
        raise PermissionDeniedError(problem)
    role = actor["role"]
    if not allowed(role, action):
        who = sorted(PERMISSIONS[action])
        raise PermissionDeniedError(
            f"{actor['username']} ({role}) may not {action.replace('.', ': ')}; "
            f"this needs one of the roles {', '.join(who)}"
        )


def system_actor(name: str | None = None, channel: str = "cli") -> Actor:
    """The actor of the command line (named after the operating-system user running it) or of
    another trusted set-up path (`channel`, e.g. the first-run screen), as the audit trail shows it."""
    try:
        who = name or getpass.getuser()
    except Exception:  # no user name in a bare container
        who = "unknown"
    return Actor({"id": None, "username": f"{channel}:{who}", "role": SYSTEM, "site_id": None}, _key=_LOADER)


def authorize(
    db: Database,
    actor: Mapping[str, Any] | None,
    action: str,
    *,
    site_id: int | None = None,
    participant_id: int | None = None,
    assessment_id: int | None = None,
) -> Mapping[str, Any]:
    """`require` plus the checks against the database; returns the actor as stored now.

    For staff the returned dict is the account row (id, username, role, site_id), re-read by id,
    so callers attribute changes to the account as it is, not as the session remembered it. The
    system and participant actors must be the `Actor` objects their loaders made (they are
    returned as they are, so a function that passes them on is authorized again the same way).
    """
    require(actor, action)
    assert actor is not None  # require() refused a missing actor; this tells the type checker
    role = actor["role"]
    if role == SYSTEM:
        return actor
    if role == PARTICIPANT:
        return _authorize_participant(db, actor, action, participant_id, assessment_id)
    row = db.execute(
        "SELECT id, username, role, site_id, active, password_changed_at FROM users WHERE id = ?", [actor.get("id")]
    ).fetchone()
    if row is None:
        raise PermissionDeniedError(f"account '{actor['username']}' does not exist; sign in again")
    user = dict(zip(("id", "username", "role", "site_id", "active", "password_changed_at"), row, strict=True))
    changed = user.pop("password_changed_at")
    if not user["active"]:
        raise PermissionDeniedError(f"account '{user['username']}' is deactivated; ask an admin")
    if user["role"] != role:
        raise PermissionDeniedError(
            f"the role of '{user['username']}' changed from {role} to {user['role']}; sign in again"
        )
    # A signed-in session carries the password-change time and site it was opened with (ui.session):
    # a reset password or a moved account ends its right to write here too, not only on the page.
    if "password_changed_at" in actor and actor["password_changed_at"] != changed:
        raise PermissionDeniedError(
            f"the password of '{user['username']}' was changed since this session signed in; sign in again"
        )
    if "password_changed_at" in actor and actor.get("site_id") != user["site_id"]:
        raise PermissionDeniedError(
            f"the site of '{user['username']}' changed since this session signed in; sign in again"
        )
    if site_id is not None and user["site_id"] is not None and user["site_id"] != site_id:
        raise PermissionDeniedError(
            f"{user['username']} works at another site and may not see or change this site's records"
        )
    return user


def _authorize_participant(db, actor, action, participant_id, assessment_id) -> Mapping[str, Any]:
    """A participant's link opens its own participant's questionnaires, those of its set only,
    while it is neither revoked, used up nor expired: checked in the database on every call, so
    what the session remembers (the actor's list of assessment ids) grants nothing by itself."""
    if participant_id is None or participant_id != actor.get("participant_id"):
        raise PermissionDeniedError("a self-report link opens only its own participant's questionnaire")
    allowed_ids = actor.get("assessment_ids") or [actor.get("assessment_id")]
    if assessment_id is None or assessment_id not in allowed_ids:
        raise PermissionDeniedError("a self-report link opens only the questionnaire it was sent for")
    row = db.execute(
        "SELECT t.expires_at, t.consumed_at, t.revoked_at FROM self_report_tokens t "
        "JOIN self_report_link_assessments l ON l.token_id = t.id AND l.participant_id = t.participant_id "
        "WHERE t.id = ? AND t.participant_id = ? AND l.assessment_id = ?",
        [actor.get("token_id"), participant_id, assessment_id],
    ).fetchone()
    if row is None:
        raise PermissionDeniedError("this self-report link is not valid; ask the study team for a new one")
    expires_at, consumed_at, revoked_at = row
    if revoked_at is not None:
        raise PermissionDeniedError("this self-report link was withdrawn; ask the study team for a new one")
    if consumed_at is not None:
        raise PermissionDeniedError("this questionnaire has already been submitted; thank you")
    if expires_at <= clock.utc_now():
        raise PermissionDeniedError("this self-report link has expired; ask the study team for a new one")
    from db.tokens import check_actor  # db.tokens imports this module

    check_actor(db, actor)  # one holder at a time (issue 13 item 6): once a browser holds the link, only it writes
    return actor
