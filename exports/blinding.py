"""Who may see treatment allocation: the one blinding rule, below the UI.

A study is blinded when its protocol file or its study record says so. Then only the roles that
prepare or administer the infusion (coordinator) and the admin see arms and doses; raters, the
PI and monitors rate and review blind. The pages (ui/blinding.py) and every export apply this
same rule. The command line's system actor (no account given) is not one of those roles, so an
export of a blinded study is masked unless it runs as an unblinded account (`--as`): an
accidental unblinding then needs a deliberate choice.

A masked value is the text MASK (`BLINDED`), never an empty cell, so that it cannot be read as
"not recorded".
"""

from __future__ import annotations

UNBLINDED_ROLES = frozenset({"admin", "coordinator"})
MASK = "BLINDED"


def arm_visible(role: str, blinded: bool) -> bool:
    """Whether `role` may see arms and doses in a study that is (or is not) `blinded`."""
    return not blinded or role in UNBLINDED_ROLES


def study_blinded(protocol_blinded: bool, study_record_blinded: bool | int | None) -> bool:
    """A study is blinded when its protocol file or its study record says so."""
    return bool(protocol_blinded) or bool(study_record_blinded)
