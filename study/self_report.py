"""Give self-report questionnaires to a participant, on the clinic tablet (kiosk) or their own
phone (link): the staff side of self-report, below the page (pages/self_report_start.py).

Each questionnaire is opened through the one find-or-start rule
(study.assessments.find_or_start_assessment), the rule of the rate page and of the import, so a
questionnaire given outside its timepoint's window records the same outside_window deviation as
a clinician rating started then. The window is checked when the questionnaire is given (its
draft is started), as for a clinician rating started on the rate page.

What the participant then does with the link (answer, submit) is db.selfreport's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from db import tokens
from db.connection import Database, transaction
from db.errors import ValidationError
from db.participants import get_participant
from db.permissions import authorize
from protocol import Protocol
from protocol.keys import parse_assessment_timepoint
from scales import get_scale, self_report_scale_ids
from scales.errors import ScaleError
from study.assessments import find_or_start_assessment


def _check_scales(scale_ids: Any) -> list[str]:
    """The chosen scales, in order, without repeats; each must be a self-report scale."""
    if isinstance(scale_ids, str) or not isinstance(scale_ids, Sequence) or not scale_ids:
        raise ValidationError("choose at least one self-report questionnaire")
    chosen: list[str] = []
    for scale_id in scale_ids:
        if not isinstance(scale_id, str):
            raise ValidationError(f"a scale id is text such as 'phq9', not {scale_id!r}")
        try:
            definition = get_scale(scale_id)
        except ScaleError as exc:
            raise ValidationError(str(exc)) from None
        if definition.rater != "self":
            raise ValidationError(
                f"{definition.abbreviation} is rated by a {definition.rater}, not by the participant; links and the "
                f"kiosk are for self-report scales ({', '.join(self_report_scale_ids())})"
            )
        if scale_id not in chosen:
            chosen.append(scale_id)
    return chosen


def start_self_report(
    db: Database,
    actor: Mapping[str, Any],
    protocol: Protocol,
    participant_id: int,
    timepoint: str,
    scale_ids: Sequence[str],
    *,
    channel: str = "link",
    ttl_hours: float | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Drafts for these self-report scales at `timepoint` (a stored timepoint key: 'day_7', or
    'min_40@2' for a timepoint of infusion 2) plus one link that opens them, in one transaction.

    A scale already submitted at that timepoint is skipped and named in "already_done"; a draft
    left from an earlier link or kiosk session is reused with its answers (its `mode` stays the
    channel it was started in); one started as a clinician rating is refused. Returns the link
    (see db.tokens.create_link; "token" is the raw value, shown once) with "already_done" and
    "deviations" (the outside_window deviations recorded for the drafts started now).

    `channel` is "link" (default validity 72 hours) or "kiosk" (default 4 hours: one visit).
    `now` is the moment the window is checked against (default the current time); a caller
    replaying a dated visit, as the demo generator does, passes the visit's time."""
    if channel not in tokens.CHANNELS:
        raise ValidationError(f"unknown channel {channel!r}; choose one of {', '.join(tokens.CHANNELS)}")
    chosen = _check_scales(scale_ids)
    if ttl_hours is None:
        ttl_hours = tokens.KIOSK_TTL_HOURS if channel == "kiosk" else tokens.DEFAULT_TTL_HOURS
    timepoint_id, infusion_number = parse_assessment_timepoint(str(timepoint))
    with transaction(db):
        participant = get_participant(db, participant_id)
        authorize(db, actor, "token.manage", site_id=participant["site_id"])
        drafts: list[int] = []
        done: list[str] = []
        deviations: list[str] = []
        for scale_id in chosen:
            opened = find_or_start_assessment(
                db, actor, protocol, participant["id"], timepoint_id, infusion_number, scale_id, mode=channel, now=now
            )
            existing = opened.assessment
            if opened.deviation:
                deviations.append(opened.deviation)
            if not opened.created and existing["mode"] not in tokens.SELF_REPORT_MODES:
                raise ValidationError(
                    f"{scale_id} at '{timepoint}' was started as a clinician rating (assessment {existing['id']}); "
                    f"it cannot be given to the participant"
                )
            if not opened.created and existing["status"] != "draft":
                done.append(scale_id)
                continue
            drafts.append(existing["id"])
        if not drafts:
            raise ValidationError(
                f"{participant['code']} has already submitted {', '.join(done)} at this timepoint; nothing is left to "
                f"answer (open the Assessments page to see the answers)"
            )
        link = tokens.create_link(db, actor, drafts, ttl_hours, channel=channel)
        return {**link, "already_done": done, "deviations": deviations}
