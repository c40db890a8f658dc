"""What a role may see of treatment allocation. A study is blinded when its protocol file or its
study record says so; then only the roles that prepare or administer the infusion
(coordinator) and the admin see arms and doses; raters, the PI and monitors rate and review blind."""

from db import sites
from db.connection import unit_of_work
from exports import blinding
from protocol import Protocol

# The rule itself lives below the UI (exports/blinding.py), so pages and exports share it.
UNBLINDED_ROLES = blinding.UNBLINDED_ROLES


def may_see_arm(role: str, study_blinded: bool) -> bool:
    return blinding.arm_visible(role, study_blinded)


def arm_visible(role: str, protocol: Protocol) -> bool:
    """The one rule every page applies (participants, trajectory, cohort)."""
    with unit_of_work(write=False) as db:
        blinded = blinding.study_blinded(protocol.blinded, sites.get_study(db)["blinded"])
    return may_see_arm(role, blinded)
