"""Find-or-start an assessment at a planned timepoint: the one rule for where a rating is placed
and whether it is a protocol deviation, called by every path that makes an assessment:

- the rate page and the worklist (ui.assessment_start), a clinician rating done now or entered
  after the fact;
- the self-report kiosk and link (study.self_report.start_self_report), the participant's
  questionnaires;
- the import of transcribed ratings (exports.responses_in), a whole rating at once
  (`record_rating`).

What the rule does, in the caller's transaction:
1. an assessment of this scale at this timepoint that already exists is returned as it is
   (find-or-start; `record_rating` refuses instead, as an import never replaces a rating);
2. the new assessment is recorded against the infusion its timepoint belongs to
   (db.windows.infusion_id_for);
3. the window is checked at the time the rating HAPPENED (`assessed_at` for one entered after
   the fact, else now) and a rating outside its window is recorded as an outside_window
   deviation linked to it (db.windows.record_window_deviation), with the same text on every path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from db import assessments, windows
from db.connection import Database, transaction
from db.errors import ConflictError, ValidationError
from protocol import Protocol
from protocol.keys import assessment_timepoint


@dataclass(frozen=True)
class Opened:
    """The assessment a path opened: as stored now, whether this call started it, and the
    protocol deviation recorded for it (its text), or None when it is inside its window, was
    already started, or its timepoint is not planned or not scheduled yet."""

    assessment: dict[str, Any]
    created: bool
    deviation: str | None = None

    @property
    def id(self) -> int:
        return int(self.assessment["id"])


def find_or_start_assessment(
    db: Database,
    actor: Mapping[str, Any],
    protocol: Protocol,
    participant_id: int,
    timepoint_id: str,
    infusion_number: int | None,
    scale_id: str,
    *,
    mode: str = "clinician",
    recall: str | None = None,
    assessed_at: datetime | None = None,
    late_entry_reason: str | None = None,
    now: datetime | None = None,
) -> Opened:
    """The assessment of `scale_id` for the participant at the planned timepoint
    (`timepoint_id`, `infusion_number`): the stored one if it exists (returned unchanged; the
    caller decides whether its mode or status suits it), else a new draft in `mode`, placed on
    its infusion and checked against the protocol window (module docstring), in one transaction.

    `assessed_at`: when the rating was actually done, for one entered after the fact (checked
    and stored by db.assessments with `late_entry_reason`); None for a rating done now. `now`
    is the clock for a live rating (tests pass it; default the current time)."""
    key = assessment_timepoint(timepoint_id, infusion_number)
    with transaction(db):
        existing = assessments.find_assessment(db, participant_id, key, scale_id)
        if existing is not None:
            return Opened(existing, created=False)
        infusion_id = windows.infusion_id_for(db, participant_id, timepoint_id, infusion_number)
        started = assessments.start_assessment(
            db,
            actor,
            participant_id,
            key,
            scale_id,
            mode,
            recall,
            infusion_id=infusion_id,
            assessed_at=assessed_at,
            late_entry_reason=late_entry_reason,
        )
        text = windows.record_window_deviation(
            db,
            actor,
            protocol,
            participant_id,
            timepoint_id,
            infusion_number,
            scale_id,
            started["id"],
            assessed_at=assessed_at,
            now=now,
        )
        return Opened(started, created=True, deviation=text)


def record_rating(
    db: Database,
    actor: Mapping[str, Any],
    protocol: Protocol,
    participant: Mapping[str, Any],
    timepoint_id: str,
    infusion_number: int | None,
    scale_id: str,
    mode: str,
    responses: Mapping[str, Any],
    *,
    assessed_at: datetime | None = None,
    late_entry_reason: str | None = None,
    not_assessed_reasons: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> Opened:
    """Store a whole rating at once (the import of transcribed ratings): the same placement and
    window rule as `find_or_start_assessment`, but a rating that already exists is refused
    (ConflictError: an import never replaces a stored rating), and so is one at a timepoint of
    an infusion that is not logged yet (ValidationError: it could not be placed around it)."""
    key = assessment_timepoint(timepoint_id, infusion_number)
    with transaction(db):
        existing = assessments.find_assessment(db, participant["id"], key, scale_id)
        if existing is not None:
            raise ConflictError(
                f"{participant['code']} already has {scale_id} at {key} (assessment {existing['id']}, "
                f"{existing['status']}); an import never replaces a stored rating: leave these rows out, or amend "
                f"the stored one with a reason"
            )
        infusion_id = windows.infusion_id_for(db, participant["id"], timepoint_id, infusion_number)
        if infusion_number is not None and infusion_id is None:
            raise ValidationError(
                f"{participant['code']} has no infusion {infusion_number} logged; log the infusion "
                f"first so the rating is placed around it"
            )
        saved = assessments.save_assessment(
            db,
            actor,
            participant["id"],
            key,
            scale_id,
            mode,
            responses,
            infusion_id=infusion_id,
            assessed_at=assessed_at,
            late_entry_reason=late_entry_reason,
            not_assessed_reasons=not_assessed_reasons,
        )
        text = windows.record_window_deviation(
            db,
            actor,
            protocol,
            participant["id"],
            timepoint_id,
            infusion_number,
            scale_id,
            saved["id"],
            assessed_at=assessed_at,
            now=now,
        )
        return Opened(saved, created=True, deviation=text)
