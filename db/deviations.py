"""Protocol deviations: the one place that writes them and the one place that lists them.

A deviation is recorded where it happens, in the same transaction as the act it describes: a
rating started or entered outside its window (db.windows), an infusion logged before the accepted
baseline or closer to the previous one than the protocol allows (db.clinical.record_infusion), or
by hand for anything else. Every path goes through `insert_deviation`, so each row has a kind the
schema knows, bounded text, who recorded it, when, and its audit event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlite_utils import Database

from db import _sql, audit, clock
from db.connection import transaction
from db.errors import ValidationError
from db.participants import get_participant
from db.permissions import authorize
from db.sites import get_study

#: Each kind the schema accepts (protocol_deviations.kind, migration m006) and how it reads on screen.
KIND_LABELS = {
    "outside_window": "Outside the window",
    "infusion_before_baseline": "Infusion before baseline",
    "infusion_interval": "Infusion interval",
    "late_entry": "Entered late",
    "other": "Other",
}


def insert_deviation(
    db: Database,
    who: Mapping[str, Any],
    participant_id: int,
    timepoint: str,
    description: str,
    *,
    kind: str,
    reason: str | None = None,
    assessment_id: int | None = None,
    minutes_early: float | None = None,
    minutes_late: float | None = None,
) -> dict[str, Any]:
    """Insert and audit one deviation inside the caller's transaction; `who` is already authorized
    for the act the deviation belongs to."""
    if kind not in KIND_LABELS:
        raise ValidationError(f"unknown deviation kind {kind!r}; choose one of {', '.join(KIND_LABELS)}")
    description = _sql.text(description, "deviation description", max_len=1000)
    timepoint = _sql.text(timepoint, "timepoint", max_len=64)
    if reason is not None:
        reason = _sql.text(reason, "deviation reason", max_len=1000)
    cursor = db.execute(
        "INSERT INTO protocol_deviations (participant_id, assessment_id, timepoint, kind, description, reason, "
        "minutes_early, minutes_late, recorded_by, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            participant_id,
            assessment_id,
            timepoint,
            kind,
            description,
            reason,
            minutes_early or None,
            minutes_late or None,
            who.get("id"),
            clock.utc_now(),
        ],
    )
    audit.record(
        db,
        who,
        "deviation.record",
        "protocol_deviation",
        cursor.lastrowid,
        reason=reason,
        new={"kind": kind, "timepoint": timepoint, "description": description},
        participant_id=participant_id,
    )
    return _sql.require_row(
        _sql.one(db, "SELECT * FROM protocol_deviations WHERE id = ?", [cursor.lastrowid]),
        "protocol deviation",
        cursor.lastrowid,
    )


def record_deviation(
    db: Database,
    actor: Mapping[str, Any],
    participant_id: int,
    timepoint: str,
    description: str,
    *,
    kind: str = "outside_window",
    reason: str | None = None,
    assessment_id: int | None = None,
    minutes_early: float | None = None,
    minutes_late: float | None = None,
) -> dict[str, Any]:
    """Record a deviation on its own (audited): any staff member who records data at the
    participant's site may record one."""
    with transaction(db):
        participant = get_participant(db, participant_id)
        who = authorize(db, actor, "assessment.start", site_id=participant["site_id"])
        return insert_deviation(
            db,
            who,
            participant["id"],
            timepoint,
            description,
            kind=kind,
            reason=reason,
            assessment_id=assessment_id,
            minutes_early=minutes_early,
            minutes_late=minutes_late,
        )


def list_deviations(
    db: Database, *, participant_id: int | None = None, site_id: int | None = None, study: int | str = "default"
) -> list[dict[str, Any]]:
    """Protocol deviations, newest first, with participant code, site code, who recorded them and
    the kind as a person reads it; one participant's, or a study's (optionally one site's)."""
    where, params = ["p.study_id = ?"], [get_study(db, study)["id"]]
    if participant_id is not None:
        where.append("d.participant_id = ?")
        params.append(_sql.record_id(participant_id, "participant"))
    if site_id is not None:
        where.append("p.site_id = ?")
        params.append(site_id)
    rows = _sql.many(
        db,
        "SELECT d.*, p.code AS participant, p.site_id, s.code AS site_code, u.username AS recorded_by_name "
        "FROM protocol_deviations d JOIN participants p ON p.id = d.participant_id "
        "JOIN sites s ON s.id = p.site_id LEFT JOIN users u ON u.id = d.recorded_by "
        f"WHERE {' AND '.join(where)} ORDER BY d.recorded_at DESC, d.id DESC",
        params,
    )
    for row in rows:
        row["kind_label"] = KIND_LABELS.get(row["kind"], row["kind"])
    return rows
