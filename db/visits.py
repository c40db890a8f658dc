"""Missed visits with their reasons, and protocol deviations, as the study team reviews them.

A missed visit is a planned timepoint whose window closed without every scale it needs being
done. Which ones are missed is computed, never stored: protocol.schedule.worklist_and_missed
decides from the participant's schedule, and for a withdrawn or completed participant it stops
at the date participation ended (participants.status_at), so nothing planned after that counts.
A rating entered later (outside the window, with its deviation) makes the visit done, and it
leaves the list.

What IS stored is why a visit was missed: a coordinator or PI records a reason (table
missed_visits, append-only: a corrected reason is a new row and the latest per participant and
timepoint counts), in one transaction with its audit event. A reason is accepted only for a
visit that is missed at that moment, so the table never explains a visit that happened.

Protocol deviations are recorded and listed by db.deviations.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from db import _sql, audit, clock
from db.connection import transaction
from db.errors import ValidationError
from db.participants import ENDED, get_participant
from db.permissions import authorize
from db.schedule import schedule_inputs
from protocol import Protocol
from protocol.keys import timepoint_label
from protocol.schedule import WorklistRow, worklist_and_missed


def _now(now: datetime | None) -> datetime:
    return clock.parse_utc(clock.utc_now()) if now is None else now


def _with_end_dates(db: Database, people: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Give each withdrawn or completed participant an `until` (status_at) for the schedule, and
    leave out screen failures (they never entered the visit schedule, so miss nothing)."""
    people = [p for p in people if p["status"] != "screen_failed"]
    ended = [p["id"] for p in people if p["status"] in ENDED]
    if not ended:
        return people
    marks = ", ".join("?" for _ in ended)
    until = {
        pid: at
        for pid, at in db.execute(
            f"SELECT id, status_at FROM participants WHERE id IN ({marks}) AND status_at IS NOT NULL", ended
        )
    }
    for person in people:
        if person["id"] in until:
            person["until"] = clock.parse_utc(until[person["id"]])
    return people


def latest_reasons(db: Database, participant_ids: Iterable[int]) -> dict[tuple[int, str], dict[str, Any]]:
    """{(participant id, timepoint): the reason that counts now (the latest row), with who and when}."""
    ids = list(participant_ids)
    if not ids:
        return {}
    marks = ", ".join("?" for _ in ids)
    rows = _sql.many(
        db,
        "SELECT m.id, m.participant_id, m.timepoint, m.reason, m.recorded_at, u.username AS recorded_by_name "
        "FROM missed_visits m LEFT JOIN users u ON u.id = m.recorded_by "
        f"WHERE m.id IN (SELECT max(id) FROM missed_visits WHERE participant_id IN ({marks}) "
        "GROUP BY participant_id, timepoint)",
        ids,
    )
    return {(r["participant_id"], r["timepoint"]): r for r in rows}


def _visits(
    db: Database, protocol: Protocol, rows: list[WorklistRow], people: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Missed schedule rows as records: participant, timepoint key and label, what was not done,
    the window, and the reason recorded (None until someone records one)."""
    by_code = {p["code"]: p for p in people}
    reasons = latest_reasons(db, {by_code[r.participant]["id"] for r in rows})
    visits = []
    for row in rows:
        person = by_code[row.participant]
        reason = reasons.get((person["id"], row.timepoint_key))
        visits.append(
            {
                "participant_id": person["id"],
                "participant": row.participant,
                "site_id": person["site_id"],
                "status": person["status"],
                "timepoint": row.timepoint_key,
                "timepoint_id": row.timepoint_id,
                "infusion_number": row.infusion_number,
                "label": timepoint_label(protocol, row.timepoint_key),
                "scales": row.scales,
                "due_at": row.due_at,
                "window_start": row.window_start,
                "window_end": row.window_end,
                "reason": reason["reason"] if reason else None,
                "reason_by": reason["recorded_by_name"] if reason else None,
                "reason_at": reason["recorded_at"] if reason else None,
            }
        )
    return visits


def missed_visits(
    db: Database,
    protocol: Protocol,
    *,
    participant_id: int | None = None,
    site_id: int | None = None,
    active_only: bool = False,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Missed visits of one participant, or of every participant (of a site), by code then time."""
    people = _with_end_dates(
        db, schedule_inputs(db, site_id=site_id, participant_id=participant_id, active_only=active_only)
    )
    _, missed = worklist_and_missed(protocol, people, _now(now))
    return _visits(db, protocol, missed, people)


def worklist_view(
    db: Database, protocol: Protocol, *, site_id: int | None = None, now: datetime | None = None
) -> tuple[list[WorklistRow], list[dict[str, Any]], dict[str, int]]:
    """What the worklist page shows, from one pass over the active participants' schedules:
    (rows due now and next, missed visits with their reasons, {participant code: id})."""
    people = schedule_inputs(db, site_id=site_id)
    rows, missed = worklist_and_missed(protocol, people, _now(now))
    return rows, _visits(db, protocol, missed, people), {p["code"]: p["id"] for p in people}


def record_missed_reason(
    db: Database,
    actor: Mapping[str, Any],
    protocol: Protocol,
    participant_id: int,
    timepoint: str,
    reason: str,
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Record (or correct: a new row) why a missed visit was missed; coordinators and PIs only.

    `timepoint` is the stored key ('min_40', 'min_40@2'). Refused unless the visit is missed now."""
    reason = _sql.text(reason, "reason for the missed visit", max_len=500)
    timepoint = _sql.text(timepoint, "timepoint", max_len=64)
    with transaction(db):
        participant = get_participant(db, participant_id)
        who = authorize(db, actor, "participant.update", site_id=participant["site_id"])
        visit = next(
            (
                v
                for v in missed_visits(db, protocol, participant_id=participant["id"], now=now)
                if v["timepoint"] == timepoint
            ),
            None,
        )
        if visit is None:
            raise ValidationError(
                f"{participant['code']} has no missed visit at {timepoint_label(protocol, timepoint)}: a reason can "
                f"be recorded only for a visit whose window closed without its ratings (a rated visit is not missed)"
            )
        cursor = db.execute(
            "INSERT INTO missed_visits (participant_id, timepoint, reason, recorded_by, recorded_at) "
            "VALUES (?, ?, ?, ?, ?)",
            [participant["id"], timepoint, reason, who.get("id"), clock.utc_now()],
        )
        audit.record(
            db,
            who,
            "visit.missed_reason",
            "missed_visit",
            cursor.lastrowid,
            field="reason",
            old=visit["reason"] if visit["reason"] is not None else audit.ABSENT,
            new=reason,
            reason=reason,
            participant_id=participant["id"],
        )
        return _sql.require_row(
            _sql.one(db, "SELECT * FROM missed_visits WHERE id = ?", [cursor.lastrowid]),
            "missed visit",
            cursor.lastrowid,
        )
