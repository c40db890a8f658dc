"""What a role may see of treatment allocation, and whether it may record a dose, on the pages.

The rule itself is protocol/blinding.py (pure), shared with the exports (exports/blinding.py) and
with db/clinical.record_infusion, which refuses a dose from a role this rule keeps blind. A study
is blinded when its protocol file or its study record says so; then only the coordinator (who
prepares and records the infusion) and the admin see arms and doses; raters, the PI and monitors
rate and review blind, and the PI does not record infusions."""

from db import sites
from db.connection import unit_of_work
from protocol import Protocol, blinding

UNBLINDED_ROLES = blinding.UNBLINDED_ROLES
MASK = blinding.MASK


def may_see_arm(role: str, study_blinded: bool) -> bool:
    return blinding.arm_visible(role, study_blinded)


def study_is_blinded(protocol: Protocol) -> bool:
    with unit_of_work(write=False) as db:
        return blinding.study_blinded(protocol.blinded, sites.get_study(db)["blinded"])


def arm_visible(role: str, protocol: Protocol) -> bool:
    """The one rule every page applies (participants, trajectory, cohort, infusion day)."""
    return may_see_arm(role, study_is_blinded(protocol))


def may_record_dose(role: str, protocol: Protocol) -> bool:
    """Whether the infusion form (which shows the dose) is offered to `role`: the same rule."""
    return blinding.may_record_dose(role, study_is_blinded(protocol))
