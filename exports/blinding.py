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

# The rule itself is protocol/blinding.py, shared with the pages and the write functions.
from protocol.blinding import MASK, UNBLINDED_ROLES, arm_visible, may_record_dose, study_blinded  # noqa: F401, E402
