"""Time arithmetic for protocol durations, in one place because of daylight saving.

A protocol duration is `{value, unit}`:

- `minutes` and `hours` are ELAPSED time. "40 minutes after infusion start" is 40 real minutes,
  whatever the clocks do.
- `days` are CALENDAR days in the study time zone. "Day 1 after a 09:00 infusion" is 09:00 local
  on the next day, even when the clocks change overnight (then it is 23 or 25 elapsed hours):
  that is what a rater booking "the same time tomorrow" means.

Wall-clock times that do not exist (the hour skipped when clocks go forward) are read with the
offset in force before the change, so they land one hour later on the clock (01:30 on the
spring-forward night in London becomes 02:30 BST). Ambiguous times (the hour repeated when clocks
go back) take their first occurrence. Every result is an aware UTC datetime.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

UNITS = ("minutes", "hours", "days")


@dataclass(frozen=True)
class Duration:
    """An amount of time as the protocol file states it (see the module docstring for units)."""

    value: int
    unit: str

    def __str__(self) -> str:
        unit = self.unit if abs(self.value) != 1 else self.unit[:-1]
        return f"{self.value} {unit}"

    @cached_property
    def elapsed(self) -> timedelta | None:
        """The duration as elapsed time (minutes, hours); None for calendar days. Made once: a
        cohort's schedule shifts by the same few durations tens of thousands of times."""
        if self.unit == "minutes":
            return timedelta(minutes=self.value)
        if self.unit == "hours":
            return timedelta(hours=self.value)
        return None


def require_aware(moment: datetime, what: str) -> datetime:
    """Return `moment` in UTC; refuse a naive datetime, whose time zone would be a guess."""
    if not isinstance(moment, datetime):
        raise TypeError(f"{what} must be a datetime, not {type(moment).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} ({moment.isoformat()}) has no time zone; give an aware datetime (UTC)")
    return moment.astimezone(UTC)


def shift(moment: datetime, duration: Duration, tz: ZoneInfo, *, sign: int = 1) -> datetime:
    """`moment` moved by `sign × duration`: elapsed time for minutes/hours, calendar days in `tz`."""
    elapsed = duration.elapsed
    if elapsed is not None:
        return (moment + (elapsed if sign == 1 else sign * elapsed)).astimezone(UTC)
    if duration.unit == "days":
        return shift_calendar_days(moment, sign * duration.value, tz)
    raise ValueError(f"unknown duration unit '{duration.unit}'; use one of {', '.join(UNITS)}")


def shift_calendar_days(moment: datetime, days: int, tz: ZoneInfo) -> datetime:
    """The same local clock time `days` calendar days later (earlier if negative) in `tz`."""
    if days == 0:
        return moment.astimezone(UTC)
    # Aware + timedelta is wall-clock arithmetic in Python, and its result always has fold 0 (PEP
    # 495), so the offset is looked up again for the new wall time exactly as in stripping the zone,
    # adding the days and attaching the zone with fold=0, at a third of the cost (a cohort's
    # schedules make 20,000 of these shifts).
    return (moment.astimezone(tz) + timedelta(days=days)).astimezone(UTC)


def local_date_at(day, wall_time, tz: ZoneInfo) -> datetime:
    """The UTC instant of local clock time `wall_time` on calendar date `day` in `tz`."""
    return datetime.combine(day, wall_time).replace(tzinfo=tz, fold=0).astimezone(UTC)
