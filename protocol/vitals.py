"""Vital signs around an infusion: when readings are due, and when a reading needs attention.

Schedule (from the protocol's vitals policy, e.g. every 15 minutes and 120 minutes after)
    a reading at the infusion start and every `interval_minutes` while the infusion runs
    (start + k × interval, strictly before the end); one at the infusion end; then every
    `interval_minutes` after the end up to and including end + `after_infusion_minutes` (which is
    added if the interval does not land on it). A 40-minute infusion with 15/120 gives 0, 15, 30,
    40 (end), 55, 70, 85, 100, 115, 130, 145, 160 minutes after start: 12 readings.

Reminders (next_vitals_due)
    A reading within `tolerance_minutes` either side of a scheduled time covers it. The scheduled
    time whose turn it is (the latest one that has opened, i.e. whose time minus the tolerance has
    come) is 'due' until its time plus the tolerance, then 'overdue' until the next one opens; once
    a later scheduled time opens, an uncovered earlier one is 'missed'. If the current one is
    covered, the next one is 'upcoming'. The last one stays open as if another followed one
    interval later; after that, monitoring is over and there is nothing to remind of (None).

Warnings (check_vitals)
    A value strictly above the protocol's 'above' or strictly below its 'below' threshold warns;
    a value equal to a threshold does not. Values no living adult can have (SpO2 above 100 %,
    a heart rate of 0) are refused as typing errors.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from protocol.errors import VitalsError
from protocol.model import Protocol, VitalsThresholds
from protocol.timing import require_aware

MEASURES = {
    # measure: (label, unit, lowest and highest value accepted as a real reading)
    "systolic": ("systolic blood pressure", "mmHg", 40, 300),
    "diastolic": ("diastolic blood pressure", "mmHg", 20, 200),
    "heart_rate": ("heart rate", "bpm", 20, 250),
    "spo2": ("oxygen saturation", "%", 50, 100),
}


@dataclass(frozen=True)
class VitalsDue:
    """One scheduled reading."""

    due_at: datetime
    phase: str  # "during", "end" or "after"
    minutes_from_start: int


@dataclass(frozen=True)
class VitalsReminder:
    """The reading a nurse should take next."""

    due_at: datetime
    state: str  # "upcoming", "due" or "overdue"
    minutes_from_start: int
    missed: tuple[datetime, ...] = ()


@dataclass(frozen=True)
class VitalWarning:
    measure: str
    value: float
    threshold: float
    direction: str  # "above" or "below"
    message: str


def _aware(moment: object, what: str) -> datetime:
    try:
        return require_aware(moment, what)  # type: ignore[arg-type]  # it checks the type itself (TypeError)
    except (TypeError, ValueError) as exc:
        raise VitalsError(str(exc)) from None


def vitals_schedule(infusion_start: datetime, infusion_end: datetime, protocol: Protocol) -> list[VitalsDue]:
    """Scheduled readings from start through end + after_infusion_minutes (see module docstring).

    `infusion_end` is the actual end, or the planned end while the infusion runs.
    """
    start = _aware(infusion_start, "infusion start")
    end = _aware(infusion_end, "infusion end")
    if end <= start:
        raise VitalsError(f"infusion end {end.isoformat()} is not after its start {start.isoformat()}")
    policy = protocol.vitals
    step = timedelta(minutes=policy.interval_minutes)

    def due(at: datetime, phase: str) -> VitalsDue:
        return VitalsDue(at, phase, round((at - start).total_seconds() / 60))

    schedule = []
    at = start
    while at < end:
        schedule.append(due(at, "during"))
        at += step
    schedule.append(due(end, "end"))
    last = end + timedelta(minutes=policy.after_infusion_minutes)
    at = end + step
    while at <= last:
        schedule.append(due(at, "after"))
        at += step
    if schedule[-1].due_at < last:
        schedule.append(due(last, "after"))
    return schedule


def next_vitals_due(
    schedule: list[VitalsDue], recorded_times: Iterable[datetime], now: datetime, tolerance_minutes: int = 5
) -> VitalsReminder | None:
    """The reading to take next, or None once monitoring is over (rules in the module docstring).

    Pass the protocol's `vitals.tolerance_minutes` (the default, 5, is the shipped protocols').
    """
    now = _aware(now, "now")
    recorded = [_aware(t, "a recorded reading time") for t in recorded_times]
    tolerance = timedelta(minutes=tolerance_minutes)
    if not schedule or now >= _monitoring_over_at(schedule, tolerance):
        return None

    def covered(slot: VitalsDue) -> bool:
        return any(abs(t - slot.due_at) <= tolerance for t in recorded)

    opened = [slot for slot in schedule if slot.due_at - tolerance <= now]
    missed = tuple(slot.due_at for slot in opened[:-1] if not covered(slot))
    if opened and not covered(opened[-1]):
        current = opened[-1]
        state = "due" if now <= current.due_at + tolerance else "overdue"
        return VitalsReminder(current.due_at, state, current.minutes_from_start, missed)
    later = [slot for slot in schedule[len(opened) :] if not covered(slot)]
    if later:
        return VitalsReminder(later[0].due_at, "upcoming", later[0].minutes_from_start, missed)
    return None


def _monitoring_over_at(schedule: list[VitalsDue], tolerance: timedelta) -> datetime:
    """When the last reading stops being remindable: as if another followed one interval later."""
    last = schedule[-1].due_at
    interval = max(last - schedule[-2].due_at, 2 * tolerance) if len(schedule) > 1 else 2 * tolerance
    return last + interval - tolerance


def _reading_value(measure: str, value: object) -> float:
    label, unit, lowest, highest = MEASURES[measure]
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal) or not math.isfinite(value):
        raise VitalsError(f"{label} must be a number, not {value!r}")
    if not lowest <= value <= highest:
        raise VitalsError(
            f"{label} {value} {unit} is not a possible reading (accepted {lowest}–{highest} {unit}); check the entry"
        )
    return float(value)


def validate_reading(reading: Mapping[str, object]) -> dict[str, float]:
    """The reading's values as floats; VitalsError for unknown keys, non-numbers, impossible values."""
    unknown = sorted(set(reading) - set(MEASURES))
    if unknown:
        raise VitalsError(f"unknown vital sign(s) {', '.join(unknown)}; record {', '.join(MEASURES)}")
    values = {m: _reading_value(m, reading[m]) for m in MEASURES if reading.get(m) is not None}
    if not values:
        raise VitalsError(f"the reading is empty; record at least one of {', '.join(MEASURES)}")
    if "systolic" in values and "diastolic" in values and values["diastolic"] >= values["systolic"]:
        raise VitalsError(
            f"diastolic {values['diastolic']:g} mmHg is not below systolic {values['systolic']:g} mmHg; "
            f"check that the two were not swapped"
        )
    return values


def check_vitals(reading: Mapping[str, object], thresholds: VitalsThresholds) -> list[VitalWarning]:
    """Warnings for every value past the protocol's thresholds, in measure order."""
    warnings = []
    for measure, value in validate_reading(reading).items():
        label, unit, _, _ = MEASURES[measure]
        threshold = thresholds.for_measure(measure)
        if threshold.above is not None and value > threshold.above:
            limit, direction = float(threshold.above), "above"
        elif threshold.below is not None and value < threshold.below:
            limit, direction = float(threshold.below), "below"
        else:
            continue
        warnings.append(
            VitalWarning(
                measure,
                value,
                limit,
                direction,
                f"{label} {value:g} {unit} is {direction} the protocol's threshold of {limit:g} {unit}",
            )
        )
    return warnings
