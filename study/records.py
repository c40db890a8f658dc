"""Reading a participant's clinical data: one rule for every page that shows it.

Every function here takes the actor and first calls `authorize_read`, the one read rule: the
actor's role has `data.read` (db.permissions.PERMISSIONS) and, for an account tied to a site,
the participant belongs to that site; checked against the database on every call (a role
change or deactivation takes effect at the next click). Audit history (an assessment's history,
the certified copy of a participant's record, which carries the whole trail) also needs
`audit.read`, the rule `db.permissions.may_read_audit` states, so the data and its history are
shown under one rule on every page.

The pages that show clinical data (pages/trajectory.py, pages/assessment.py,
pages/participants.py, pages/infusion.py) read through these functions only. The db/ read
functions they wrap stay plain storage reads for the paths with their own rule: the exports
(`export.read`), the cohort analytics and the command line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from db import analytics, assessments, audit, clinical, deviations, participants, visits
from db.connection import Database
from db.permissions import authorize
from protocol import Protocol

#: The permission every read of a participant's clinical data needs (db.permissions.PERMISSIONS).
READ = "data.read"
#: The permission audit history needs on top of READ (the rule of db.permissions.may_read_audit).
AUDIT_READ = "audit.read"


def authorize_read(
    db: Database, actor: Mapping[str, Any], participant_id: int, *, audit_trail: bool = False
) -> dict[str, Any]:
    """The participant, once the actor may read their data (and, with `audit_trail`, their
    audit history); PermissionDeniedError naming why not, NotFoundError for an unknown id."""
    participant = participants.get_participant(db, participant_id)
    authorize(db, actor, READ, site_id=participant["site_id"])
    if audit_trail:
        authorize(db, actor, AUDIT_READ, site_id=participant["site_id"])
    return participant


# --------------------------------------------------------------------------- participants


def list_participants(db: Database, actor: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The participants the actor may read: its own site's, or every site's for an account of
    every site (the site as stored now, not as the session remembers it)."""
    who = authorize(db, actor, READ)
    return participants.list_participants(db, site=who.get("site_id"))


def missed_visits(db: Database, actor: Mapping[str, Any], protocol: Protocol, participant_id: int) -> list[Any]:
    """The participant's missed visits (db.visits.missed_visits), after the read check."""
    participant = authorize_read(db, actor, participant_id)
    return visits.missed_visits(db, protocol, participant_id=participant["id"])


def list_deviations(db: Database, actor: Mapping[str, Any], participant_id: int) -> list[dict[str, Any]]:
    """The participant's protocol deviations, newest first, after the read check."""
    participant = authorize_read(db, actor, participant_id)
    return deviations.list_deviations(db, participant_id=participant["id"])


# --------------------------------------------------------------------------- assessments and scores


def list_assessments(db: Database, actor: Mapping[str, Any], participant_id: int) -> list[dict[str, Any]]:
    """The participant's assessments with their current scores, after the read check."""
    participant = authorize_read(db, actor, participant_id)
    return assessments.list_assessments(db, participant_id=participant["id"])


def load_assessment(db: Database, actor: Mapping[str, Any], assessment_id: int) -> dict[str, Any]:
    """One assessment with its responses, score and signatures, after the read check on the
    participant it belongs to."""
    assessment = assessments.load_assessment(db, assessment_id)
    authorize_read(db, actor, assessment["participant_id"])
    return assessment


def assessment_history(db: Database, actor: Mapping[str, Any], assessment_id: int) -> list[dict[str, Any]]:
    """The audit history of one assessment, for an actor who may read the data and the audit
    trail of its participant."""
    assessment = assessments.load_assessment(db, assessment_id)
    authorize_read(db, actor, assessment["participant_id"], audit_trail=True)
    return audit.events_for(db, "assessment", assessment["id"])


# --------------------------------------------------------------------------- trajectory


def participant_rows(db: Database, actor: Mapping[str, Any], participant_id: int) -> dict[str, Any]:
    """What the trajectory draws (db.analytics.participant_rows: the participant, assessments,
    scores, infusions, alerts), after the read check."""
    participant = authorize_read(db, actor, participant_id)
    return analytics.participant_rows(db, participant["id"])


def participant_record(db: Database, actor: Mapping[str, Any], participant_id: int) -> dict[str, Any]:
    """Everything a certified copy holds, audit history included (db.analytics.participant_record),
    for an actor who may read the data and the audit trail."""
    participant = authorize_read(db, actor, participant_id, audit_trail=True)
    return analytics.participant_record(db, participant["id"])


# --------------------------------------------------------------------------- the infusion day


def list_infusions(db: Database, actor: Mapping[str, Any], participant_id: int) -> list[dict[str, Any]]:
    """The participant's infusions by number, after the read check."""
    participant = authorize_read(db, actor, participant_id)
    return clinical.list_infusions(db, participant["id"])


def list_vitals(
    db: Database, actor: Mapping[str, Any], participant_id: int, infusion_id: int | None = None
) -> list[dict[str, Any]]:
    """The participant's vital signs (one infusion's, or all), after the read check."""
    participant = authorize_read(db, actor, participant_id)
    return clinical.list_vitals(db, participant["id"], infusion_id)


def open_vitals_warning(
    db: Database, actor: Mapping[str, Any], protocol: Protocol, participant_id: int, infusion_id: int | None
) -> dict[str, Any] | None:
    """The protocol's threshold warnings that still need attention for one infusion's latest
    reading (db.clinical.open_vitals_warning), after the read check: the page shows them as given."""
    participant = authorize_read(db, actor, participant_id)
    return clinical.open_vitals_warning(db, protocol, participant["id"], infusion_id)


def list_adverse_events(db: Database, actor: Mapping[str, Any], participant_id: int) -> list[dict[str, Any]]:
    """The participant's adverse events, after the read check."""
    participant = authorize_read(db, actor, participant_id)
    return clinical.list_adverse_events(db, participant["id"])
