"""The infusion day: infusions, vital signs and adverse events, and the protocol's planned
timepoints.

Each record is validated here (clear messages) and again by the table's CHECKs (so a bypass
cannot store a 5 kg weight or a diastolic above the systolic). Every write is audited.
Times are given as timezone-aware ISO-8601 text or datetimes and stored as UTC.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from db import _sql, audit, clock
from db.connection import transaction
from db.errors import ConflictError, NotFoundError, ValidationError
from db.participants import get_participant
from db.permissions import authorize
from db.screening import require_eligible
from db.sites import check_code, get_study
from scales import get_scale
from scales.errors import ScaleError

VITAL_RANGES = {
    "systolic": (40, 300),
    "diastolic": (20, 200),
    "heart_rate": (20, 250),
    "resp_rate": (4, 60),
    "spo2": (50, 100),
    "temperature_c": (30.0, 45.0),
}
SEVERITIES = ("mild", "moderate", "severe")
RELATEDNESS = ("not_related", "unlikely", "possible", "probable", "definite")
OUTCOMES = ("recovered", "recovering", "not_recovered", "recovered_with_sequelae", "fatal", "unknown")
ANCHORS = ("enrolment", "first_infusion", "each_infusion", "calendar")


def _time(value: Any, what: str, *, required: bool = True) -> str | None:
    if value is None:
        if required:
            raise ValidationError(f"{what} is required")
        return None
    try:
        moment = clock.parse_utc(value) if isinstance(value, str) else value
        return clock.format_utc(moment) if isinstance(moment, datetime) else _bad_time(value, what)
    except ValueError:
        return _bad_time(value, what)


def _bad_time(value: Any, what: str):
    raise ValidationError(f"{what} {value!r} is not a time with a timezone; give e.g. '2026-03-01T09:30:00Z'")


def _number(value: Any, what: str, low: float, high: float, *, integer: bool = False) -> float | int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or (integer and float(value) != int(value)):
        raise ValidationError(f"{what} must be a {'whole ' if integer else ''}number, not {value!r}")
    if not low <= value <= high:
        raise ValidationError(f"{what} {value} is outside the plausible range {low}-{high}; check the entry")
    return int(value) if integer else float(value)


def _participant_for_write(db, actor, participant_id, action="clinical.record"):
    participant = get_participant(db, participant_id)
    who = authorize(db, actor, action, site_id=participant["site_id"])
    return participant, who


def _infusion_of(db, participant, infusion_id) -> int | None:
    if infusion_id is None:
        return None
    infusion_id = _sql.record_id(infusion_id, "infusion")
    if not _sql.one(db, "SELECT id FROM infusions WHERE id = ? AND participant_id = ?", [infusion_id, participant["id"]]):
        raise NotFoundError(f"participant {participant['code']} has no infusion with id {infusion_id}")
    return infusion_id


def record_infusion(
    db: Database,
    actor: Mapping[str, Any],
    participant_id: int,
    number: int,
    started_at: Any,
    weight_kg: float,
    dose_mg_per_kg: float,
    *,
    ended_at: Any = None,
    total_dose_mg: float | None = None,
    planned_duration_min: int | None = 40,
    notes: str | None = None,
) -> dict[str, Any]:
    """Log an infusion; the total dose defaults to weight × dose per kg."""
    number = int(_number(number, "infusion number", 1, 1000, integer=True))
    started = _time(started_at, "infusion start")
    ended = _time(ended_at, "infusion end", required=False)
    if ended and ended < started:
        raise ValidationError("the infusion cannot end before it starts; check both times")
    weight = _number(weight_kg, "weight (kg)", 20, 350)
    dose = _number(dose_mg_per_kg, "dose (mg/kg)", 0.01, 2.0)
    total = _number(total_dose_mg, "total dose (mg)", 0.1, 700) if total_dose_mg is not None else round(weight * dose, 2)
    duration = _number(planned_duration_min, "planned duration (min)", 1, 600, integer=True)
    notes = _sql.text(notes, "notes", max_len=2000, required=False)
    with transaction(db):
        participant, who = _participant_for_write(db, actor, participant_id)
        require_eligible(db, participant)
        if _sql.one(db, "SELECT id FROM infusions WHERE participant_id = ? AND number = ?", [participant["id"], number]):
            raise ConflictError(f"participant {participant['code']} already has infusion {number}")
        now = clock.utc_now()
        values = {"number": number, "started_at": started, "ended_at": ended, "weight_kg": weight,
                  "dose_mg_per_kg": dose, "total_dose_mg": total, "planned_duration_min": duration, "notes": notes}
        cursor = db.execute(
            f"INSERT INTO infusions (participant_id, {', '.join(values)}, recorded_by, created_at, updated_at) "
            f"VALUES (?, {', '.join('?' for _ in values)}, ?, ?, ?)",
            [participant["id"], *values.values(), who["id"], now, now],
        )
        audit.record(db, who, "infusion.create", "infusion", cursor.lastrowid, new=values, participant_id=participant["id"])
        return _sql.one(db, "SELECT * FROM infusions WHERE id = ?", [cursor.lastrowid])


def end_infusion(db: Database, actor: Mapping[str, Any], infusion_id: int, ended_at: Any) -> dict[str, Any]:
    ended = _time(ended_at, "infusion end")
    with transaction(db):
        infusion = _sql.require_row(
            _sql.one(db, "SELECT * FROM infusions WHERE id = ?", [_sql.record_id(infusion_id, "infusion")]),
            "infusion", infusion_id,
        )
        _, who = _participant_for_write(db, actor, infusion["participant_id"])
        if ended < infusion["started_at"]:
            raise ValidationError("the infusion cannot end before it starts; check the time")
        db.execute("UPDATE infusions SET ended_at = ?, updated_at = ? WHERE id = ?", [ended, clock.utc_now(), infusion["id"]])
        audit.record(db, who, "infusion.end", "infusion", infusion["id"], field="ended_at", old=infusion["ended_at"],
                     new=ended, participant_id=infusion["participant_id"])
        return _sql.one(db, "SELECT * FROM infusions WHERE id = ?", [infusion["id"]])


def list_infusions(db: Database, participant_id: int) -> list[dict[str, Any]]:
    return _sql.many(db, "SELECT * FROM infusions WHERE participant_id = ? ORDER BY number", [participant_id])


def record_vitals(
    db: Database, actor: Mapping[str, Any], participant_id: int, measured_at: Any, *, infusion_id: int | None = None,
    **values: Any,
) -> dict[str, Any]:
    """One set of vital signs (any of systolic, diastolic, heart_rate, resp_rate, spo2, temperature_c)."""
    unknown = sorted(set(values) - set(VITAL_RANGES))
    if unknown:
        raise ValidationError(f"unknown vital sign(s) {', '.join(unknown)}; use {', '.join(VITAL_RANGES)}")
    checked = {k: _number(v, k.replace("_", " "), *VITAL_RANGES[k], integer=k != "temperature_c")
               for k, v in values.items() if v is not None}
    if not checked:
        raise ValidationError("no vital sign given; enter at least one measurement")
    if "systolic" in checked and "diastolic" in checked and checked["systolic"] <= checked["diastolic"]:
        raise ValidationError("systolic pressure must be above diastolic; check the two values")
    measured = _time(measured_at, "measurement time")
    with transaction(db):
        participant, who = _participant_for_write(db, actor, participant_id)
        infusion = _infusion_of(db, participant, infusion_id)
        cursor = db.execute(
            f"INSERT INTO vitals (participant_id, infusion_id, measured_at, {', '.join(checked)}, recorded_by, created_at) "
            f"VALUES (?, ?, ?, {', '.join('?' for _ in checked)}, ?, ?)",
            [participant["id"], infusion, measured, *checked.values(), who["id"], clock.utc_now()],
        )
        audit.record(db, who, "vitals.create", "vitals", cursor.lastrowid, participant_id=participant["id"],
                     new={"measured_at": measured, "infusion_id": infusion, **checked})
        return _sql.one(db, "SELECT * FROM vitals WHERE id = ?", [cursor.lastrowid])


def list_vitals(db: Database, participant_id: int, infusion_id: int | None = None) -> list[dict[str, Any]]:
    if infusion_id is None:
        return _sql.many(db, "SELECT * FROM vitals WHERE participant_id = ? ORDER BY measured_at", [participant_id])
    return _sql.many(db, "SELECT * FROM vitals WHERE participant_id = ? AND infusion_id = ? ORDER BY measured_at",
                     [participant_id, infusion_id])


def record_adverse_event(
    db: Database, actor: Mapping[str, Any], participant_id: int, term: str, onset_at: Any, severity: str,
    relatedness: str, *, serious: bool = False, infusion_id: int | None = None, resolved_at: Any = None,
    action_taken: str | None = None, outcome: str | None = None,
) -> dict[str, Any]:
    term = _sql.text(term, "adverse event term", max_len=200)
    if severity not in SEVERITIES:
        raise ValidationError(f"unknown severity {severity!r}; choose one of {', '.join(SEVERITIES)}")
    if relatedness not in RELATEDNESS:
        raise ValidationError(f"unknown relatedness {relatedness!r}; choose one of {', '.join(RELATEDNESS)}")
    if outcome is not None and outcome not in OUTCOMES:
        raise ValidationError(f"unknown outcome {outcome!r}; choose one of {', '.join(OUTCOMES)}")
    onset = _time(onset_at, "onset time")
    resolved = _time(resolved_at, "resolution time", required=False)
    if resolved and resolved < onset:
        raise ValidationError("an adverse event cannot resolve before its onset; check both times")
    action_taken = _sql.text(action_taken, "action taken", max_len=500, required=False)
    with transaction(db):
        participant, who = _participant_for_write(db, actor, participant_id)
        infusion = _infusion_of(db, participant, infusion_id)
        now = clock.utc_now()
        values = {"infusion_id": infusion, "term": term, "onset_at": onset, "resolved_at": resolved,
                  "severity": severity, "serious": int(bool(serious)), "relatedness": relatedness,
                  "action_taken": action_taken, "outcome": outcome}
        cursor = db.execute(
            f"INSERT INTO adverse_events (participant_id, {', '.join(values)}, recorded_by, created_at, updated_at) "
            f"VALUES (?, {', '.join('?' for _ in values)}, ?, ?, ?)",
            [participant["id"], *values.values(), who["id"], now, now],
        )
        audit.record(db, who, "adverse_event.create", "adverse_event", cursor.lastrowid, new=values,
                     participant_id=participant["id"])
        return _sql.one(db, "SELECT * FROM adverse_events WHERE id = ?", [cursor.lastrowid])


def list_adverse_events(db: Database, participant_id: int) -> list[dict[str, Any]]:
    return _sql.many(db, "SELECT * FROM adverse_events WHERE participant_id = ? ORDER BY onset_at", [participant_id])


def define_timepoint(
    db: Database, actor: Mapping[str, Any], name: str, anchor: str, offset_minutes: int, scales: list[str], *,
    study: int | str = "default", label: str | None = None, window_before_minutes: int = 0,
    window_after_minutes: int = 0, sort_order: int = 0,
) -> dict[str, Any]:
    """Add a planned timepoint to a study's schedule (e.g. 'inf1_40min', each_infusion, +40, [cadss])."""
    name = check_code(name, "timepoint name")
    if anchor not in ANCHORS:
        raise ValidationError(f"unknown anchor {anchor!r}; choose one of {', '.join(ANCHORS)}")
    offset = _number(offset_minutes, "offset (minutes)", -525_600, 525_600, integer=True)
    before = _number(window_before_minutes, "window before (minutes)", 0, 525_600, integer=True)
    after = _number(window_after_minutes, "window after (minutes)", 0, 525_600, integer=True)
    if not isinstance(scales, list | tuple) or not all(isinstance(s, str) for s in scales):
        raise ValidationError("scales must be a list of scale ids")
    for scale_id in scales:
        try:
            get_scale(scale_id)
        except ScaleError as exc:
            raise ValidationError(str(exc)) from None
    with transaction(db):
        who = authorize(db, actor, "study.configure")
        study_row = get_study(db, study)
        if _sql.one(db, "SELECT id FROM planned_timepoints WHERE study_id = ? AND name = ?", [study_row["id"], name]):
            raise ConflictError(f"timepoint '{name}' already exists in study '{study_row['code']}'")
        values = {"name": name, "label": label, "anchor": anchor, "offset_minutes": offset,
                  "window_before_minutes": before, "window_after_minutes": after, "scales": json.dumps(list(scales)),
                  "sort_order": int(sort_order)}
        cursor = db.execute(
            f"INSERT INTO planned_timepoints (study_id, {', '.join(values)}) VALUES (?, {', '.join('?' for _ in values)})",
            [study_row["id"], *values.values()],
        )
        audit.record(db, who, "timepoint.create", "planned_timepoint", cursor.lastrowid, new=values)
        return list_timepoints(db, study_row["id"], timepoint_id=cursor.lastrowid)[0]


def list_timepoints(db: Database, study: int | str = "default", *, timepoint_id: int | None = None) -> list[dict]:
    study_row = get_study(db, study)
    sql, params = "SELECT * FROM planned_timepoints WHERE study_id = ?", [study_row["id"]]
    if timepoint_id is not None:
        sql, params = sql + " AND id = ?", params + [timepoint_id]
    rows = _sql.many(db, sql + " ORDER BY sort_order, offset_minutes, name", params)
    for row in rows:
        row["scales"] = json.loads(row["scales"])
    return rows
