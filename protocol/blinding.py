"""The one blinding rule: who may see treatment allocation (arms and doses), and who may record
a dose. Pure (no database, no Streamlit), so the pages (ui/blinding.py), the exports
(exports/blinding.py) and the write functions (db/clinical.py) all apply this same rule.

A study is blinded when its protocol file or its study record says so. Then only the roles that
prepare or administer the infusion (coordinator) and the admin see arms and doses; raters, the
PI and monitors rate and review blind.

Recording a dose shows the dose (the form is built around it), so in a blinded study only a role
that both records clinical data and is unblinded may record an infusion: the coordinator (the
unblinded dose preparer/recorder). The PI records infusions only in an open-label study; in a
blinded one the PI stays blind and keeps recording vitals and adverse events, which do not
reveal the arm. The schema has no separate pharmacist role, so the coordinator plays that part.
"""

from __future__ import annotations

UNBLINDED_ROLES = frozenset({"admin", "coordinator"})
# The roles that record clinical data on the infusion day (db.permissions "clinical.record").
CLINICAL_RECORDERS = frozenset({"coordinator", "pi"})
MASK = "BLINDED"


def study_blinded(protocol_blinded: bool, study_record_blinded: bool | int | None) -> bool:
    """A study is blinded when its protocol file or its study record says so."""
    return bool(protocol_blinded) or bool(study_record_blinded)


def arm_visible(role: str, blinded: bool) -> bool:
    """Whether `role` may see arms and doses in a study that is (or is not) `blinded`."""
    return not blinded or role in UNBLINDED_ROLES


def may_record_dose(role: str, blinded: bool) -> bool:
    """Whether `role` may record an infusion (its dose): a clinical recorder who may see doses."""
    return role in CLINICAL_RECORDERS and arm_visible(role, blinded)


def dose_refusal(role: str, blinded: bool) -> str | None:
    """Why `role` may not record a dose (a message that names no dose), or None when it may."""
    if may_record_dose(role, blinded):
        return None
    if role in CLINICAL_RECORDERS:
        return (
            f"this study is blinded and the {role} stays blind to the dose, so infusions are recorded by an "
            "unblinded coordinator; you can still record vitals and adverse events"
        )
    return f"the {role} role does not record infusions; a coordinator does"
