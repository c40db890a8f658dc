"""The protocol window of a rating, checked where it is stored: one rule for every path that
starts a rating. Every path reaches it through study.assessments (find_or_start_assessment,
record_rating): the rate page and worklist (ui.assessment_start), the self-report kiosk and link
(study.self_report) and the import of transcribed ratings (exports.responses_in).

The window is checked at the time the rating HAPPENED: now for a live rating, or the time given
for one entered after the fact (`assessed_at`, e.g. a paper 24-hour MADRS typed in on day 3,
which is inside its window and no deviation). A rating outside its timepoint's window is
recorded as a protocol deviation (kind outside_window) linked to the assessment, in the
caller's transaction, saying by how much it was early or late.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlite_utils import Database

from db.deviations import record_deviation
from db.schedule import schedule_inputs
from protocol import Protocol
from protocol.keys import assessment_timepoint
from protocol.schedule import plan_timepoints, window_check

#: The timepoint rated before any infusion: it belongs to no infusion.
PRE_INFUSION_TIMEPOINT = "baseline"


def _inputs(db: Database, participant_id: int) -> dict[str, Any]:
    return schedule_inputs(db, participant_id=participant_id, active_only=False)[0]


def infusion_id_for(
    db: Database,
    participant_id: int,
    timepoint_id: str,
    infusion_number: int | None,
    inputs: Mapping[str, Any] | None = None,
) -> int | None:
    """The id of the infusion a rating at this timepoint is recorded against: the infusion of that
    number (infusion 1 for a timepoint that occurs once), None for the baseline or while that
    infusion is not logged."""
    if timepoint_id == PRE_INFUSION_TIMEPOINT:
        return None
    inputs = inputs or _inputs(db, participant_id)
    return next((i["id"] for i in inputs["infusions"] if i["number"] == (infusion_number or 1)), None)


def record_window_deviation(
    db: Database,
    actor: Mapping[str, Any],
    protocol: Protocol,
    participant_id: int,
    timepoint_id: str,
    infusion_number: int | None,
    scale_id: str,
    assessment_id: int,
    *,
    assessed_at: datetime | None = None,
    now: datetime | None = None,
    inputs: Mapping[str, Any] | None = None,
) -> str | None:
    """Record an outside_window deviation when the rating (at `assessed_at`, or `now` for a live
    one) lies outside its planned timepoint's window; return its description, or None when it is
    inside, or the timepoint is not planned or not scheduled yet (its anchor has no time)."""
    inputs = inputs or _inputs(db, participant_id)
    planned = next(
        (
            p
            for p in plan_timepoints(protocol, inputs["enrolled_at"], inputs["infusions"])
            if p.key == (timepoint_id, infusion_number)
        ),
        None,
    )
    if planned is None or not planned.scheduled:
        return None
    check = window_check(planned, assessed_at or now or datetime.now(UTC))
    if check.inside:
        return None
    text = f"{scale_id} at {planned.label} {'rated' if assessed_at else 'started'} {check.describe()}"
    record_deviation(
        db,
        actor,
        participant_id,
        assessment_timepoint(timepoint_id, infusion_number),
        text,
        assessment_id=assessment_id,
        minutes_early=check.minutes_early or None,
        minutes_late=check.minutes_late or None,
    )
    return text
