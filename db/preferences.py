"""A staff member's own display preferences (e.g. the rater's form layout), kept in the audit trail.

There is no preferences table, and a display choice does not deserve a migration: a preference
is recorded as an audit event of the user ("user.preference", field = the preference's name,
new value = the choice), and the newest such event is the preference. That keeps it per person
(not per tablet, which raters share), survives sign-out and restarts, and says who changed what
when, like every other change. Only known names with their allowed values are stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlite_utils import Database

from db import audit
from db.connection import transaction
from db.errors import ValidationError

ACTION = "user.preference"

#: name → allowed values (the first is the default).
PREFERENCES: dict[str, tuple[str, ...]] = {
    "form_layout": ("list", "focus"),  # the rater's scale form: all items, or one item per screen
}


def get_preference(db: Database, user_id: int, name: str) -> str:
    """The user's newest choice for `name`, or its default."""
    allowed = PREFERENCES[name]
    row = db.execute(
        "SELECT new_value FROM audit_events WHERE entity = 'user' AND entity_id = ? AND action = ? AND field = ? "
        "ORDER BY id DESC LIMIT 1",
        [str(user_id), ACTION, name],
    ).fetchone()
    value = audit.decode(row[0]) if row else None
    return value if value in allowed else allowed[0]


def set_preference(db: Database, actor: Mapping[str, Any], name: str, value: str) -> str:
    """Record `actor`'s own choice for `name` (nothing is written when it is unchanged)."""
    if name not in PREFERENCES or value not in PREFERENCES[name]:
        raise ValidationError(f"unknown preference {name}={value!r}")
    if actor.get("id") is None:
        raise ValidationError("only a signed-in staff member has preferences")
    with transaction(db):
        old = get_preference(db, actor["id"], name)
        if old != value:
            audit.record(db, actor, ACTION, "user", actor["id"], field=name, old=old, new=value)
    return value
