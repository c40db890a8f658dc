"""What a role may see of treatment allocation. A study is blinded when its protocol file or its
study record says so; then only the roles that prepare or administer the infusion
(coordinator) and the admin see arms and doses; raters, the PI and monitors rate and review blind."""

from db import sites
from db.connection import unit_of_work
from protocol import Protocol

UNBLINDED_ROLES = frozenset({"admin", "coordinator"})


def may_see_arm(role: str, study_blinded: bool) -> bool:
    return not study_blinded or role in UNBLINDED_ROLES


def arm_visible(role: str, protocol: Protocol) -> bool:
    """The one rule every page applies (participants, trajectory, cohort)."""
    with unit_of_work(write=False) as db:
        blinded = protocol.blinded or bool(sites.get_study(db)["blinded"])
    return may_see_arm(role, blinded)
