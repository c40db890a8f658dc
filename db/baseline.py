"""A participant's baseline rating as stored, chosen by the protocol's one baseline rule.

The rule (which rating is the baseline) is `protocol.baseline`; this module only reads the
candidates from storage: the participant's submitted ratings of one scale that have a total,
each with the time it HAPPENED (`assessed_at` for a rating entered later, else its completion)
and its stored timepoint. Eligibility screening (db.screening.baseline_severity) and the
infusion log (db.clinical.record_infusion) call it; the trajectory and cohort views apply the
same rule to the rows db.analytics returns, so all of them agree on the baseline.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlite_utils import Database

from db import _sql, clock
from protocol.baseline import baseline_index
from protocol.keys import parse_assessment_timepoint
from protocol.model import Protocol

#: When a rating happened (the same expression db.analytics uses).
HAPPENED_AT = "coalesce(a.assessed_at, a.completed_at)"


def first_infusion_start(db: Database, participant_id: int) -> datetime | None:
    """The start of the participant's infusion 1 (aware UTC), or None before it is logged."""
    row = _sql.one(
        db, "SELECT started_at FROM infusions WHERE participant_id = ? ORDER BY number LIMIT 1", [participant_id]
    )
    return None if row is None else clock.parse_utc(row["started_at"])


def baseline_rating(
    db: Database, protocol: Protocol, participant_id: int, scale_id: str, *, infusion_start: datetime | None = None
) -> dict[str, Any] | None:
    """The participant's baseline rating of `scale_id` by protocol.baseline's rule, or None.

    Returns {id, timepoint, total, happened_at (stored UTC text)}. The rule is applied to the
    logged start of infusion 1 (no time bound while there is none), or to `infusion_start` when
    given: would an infusion 1 starting then have a baseline?
    """
    first_infusion_at = infusion_start or first_infusion_start(db, participant_id)
    rows = _sql.many(
        db,
        f"SELECT a.id, a.timepoint, s.total, {HAPPENED_AT} AS happened_at FROM assessments a "
        "JOIN scores s ON s.id = (SELECT max(id) FROM scores WHERE assessment_id = a.id) "
        "WHERE a.participant_id = ? AND a.scale_id = ? AND a.status <> 'draft' AND s.total IS NOT NULL "
        "ORDER BY a.id",
        [participant_id, scale_id],
    )
    index = baseline_index(
        protocol,
        [clock.parse_utc(r["happened_at"]) for r in rows],
        [parse_assessment_timepoint(r["timepoint"]) for r in rows],
        first_infusion_at,
    )
    return None if index is None else rows[index]
