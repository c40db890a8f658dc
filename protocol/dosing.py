"""Infusion dose arithmetic (total dose in mg from weight and mg/kg, inside the protocol's limits)
and infusion spacing (how soon after the previous infusion the next may start).

Exact decimal arithmetic, so 82.3 kg × 0.5 mg/kg is 41.15 mg and rounds half-up to 41.2 mg
(binary floats would make it 41.149999… and round it down). Floats are read through their
shortest decimal text (82.3, not 82.299999…). Every bound is inclusive, and every refusal names
the allowed range.

Spacing is counted in CALENDAR days in the study time zone, start to start, as the infusion
plan is (protocol.schedule.planned_infusions): with a minimum of 2 days, Monday 17:00 then
Wednesday 08:00 is allowed, Monday then Tuesday is not. The minimum comes from the plan
(induction `min_days_between`; maintenance `min_days_between`, default its `interval_days`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from protocol.errors import DoseError
from protocol.model import Dosing, Protocol, Range
from protocol.timing import DAY_FORMAT, local_text, require_aware

TENTH = Decimal("0.1")


def as_decimal(value: object, what: str) -> Decimal:
    """A finite number as a Decimal; DoseError for text, booleans, NaN and infinities."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise DoseError(f"{what} must be a number, not {value!r}")
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:  # pragma: no cover - str() of an int or float always parses
        raise DoseError(f"{what} must be a number, not {value!r}") from None
    if not number.is_finite():
        raise DoseError(f"{what} must be a finite number, not {value!r}")
    return number


def check_in_range(value: object, allowed: Range, what: str, unit: str) -> Decimal:
    """`value` as a Decimal if it lies in the inclusive range; DoseError naming the range if not."""
    number = as_decimal(value, what)
    if not allowed.contains(number):
        raise DoseError(f"{what} {number} {unit} is outside the protocol's allowed range {allowed} {unit}")
    return number


def total_dose_mg(weight_kg: object, mg_per_kg: object, dosing: Dosing) -> Decimal:
    """weight × dose per kg, in mg, rounded half-up to 0.1 mg (70 kg × 0.5 mg/kg = 35.0 mg)."""
    weight = check_in_range(weight_kg, dosing.weight_kg, "weight", "kg")
    per_kg = check_in_range(mg_per_kg, dosing.mg_per_kg, "dose", "mg/kg")
    return (weight * per_kg).quantize(TENTH, rounding=ROUND_HALF_UP)


def check_duration(minutes: object, dosing: Dosing) -> Decimal:
    """The planned infusion duration in minutes, if the protocol allows it."""
    return check_in_range(minutes, dosing.duration_minutes, "infusion duration", "minutes")


def planned_end(started_at: datetime, duration_minutes: object, dosing: Dosing) -> datetime:
    """When an infusion started at `started_at` should end (aware UTC)."""
    minutes = check_duration(duration_minutes, dosing)
    return require_aware(started_at, "started_at") + timedelta(minutes=float(minutes))


def days_apart(earlier: datetime, later: datetime, protocol: Protocol) -> int:
    """Calendar days from `earlier` to `later` in the study time zone (same day = 0)."""
    zone = protocol.timezone
    first = require_aware(earlier, "the earlier time").astimezone(zone).date()
    second = require_aware(later, "the later time").astimezone(zone).date()
    return (second - first).days


def spacing_problem(
    protocol: Protocol, number: int, started_at: datetime, previous_number: int, previous_started_at: datetime
) -> str | None:
    """Why infusion `number` starting at `started_at` is too soon after infusion `previous_number`
    (started `previous_started_at`) under the protocol's infusion plan, or None if it is not."""
    minimum = protocol.infusion_plan.minimum_days_before(number)
    if minimum is None:
        return None
    days = days_apart(previous_started_at, started_at, protocol)
    if days >= minimum:
        return None
    zone = protocol.timezone
    phase = protocol.infusion_plan.phase_of(number)
    shown = local_text(require_aware(previous_started_at, "previous start"), zone, DAY_FORMAT)
    return (
        f"infusion {number} would start {days} calendar day{'s' if days != 1 else ''} after infusion "
        f"{previous_number} ({shown}); the protocol allows {phase} infusions no less than {minimum} days apart"
    )
