"""Times in one place: the stored text form, parsing, showing in the study's local time, and the
arithmetic of protocol durations (which daylight saving makes subtle).

Stored form (`format_utc`, `parse_utc`): UTC, ISO-8601, microseconds and a trailing `Z`
(`2026-03-01T09:15:02.123456Z`); the fixed width makes stored times sort correctly as text, which
the schema and the lock-out logic rely on. Shown form (`local_text`): the study's local time with
its zone abbreviation (`2026-03-29 09:00 BST`). Every package (db/, notify/, ui/, ...) parses and
formats times through these functions, so a change of either form happens here only; db.clock
adds "now" (which tests move) on top of them.

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
from datetime import UTC, datetime, timedelta, tzinfo
from functools import cached_property
from zoneinfo import ZoneInfo

UNITS = ("minutes", "hours", "days")
STORED_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
LOCAL_FORMAT = "%Y-%m-%d %H:%M %Z"
DAY_FORMAT = "%a %d %b %Y %H:%M %Z"  # with the weekday, for messages about days apart
DATE_FORMAT = "%Y-%m-%d"  # the local date alone (a chart's "withdrawn 2026-05-05")
CLOCK_FORMAT = "%H:%M"  # the local clock time alone (a reading's time on the infusion day)


def format_utc(moment: datetime) -> str:
    """A timezone-aware datetime as the stored text form (naive datetimes are refused)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: give a timezone-aware time (e.g. datetime.now(UTC))")
    return moment.astimezone(UTC).strftime(STORED_FORMAT)


def parse_utc(text: str) -> datetime:
    """Parse any ISO-8601 time with an offset or a trailing Z into an aware UTC datetime (a time
    without a zone is refused: which zone it meant would be a guess). Python 3.11 reads the Z
    itself as UTC, and a time already in UTC is returned as parsed: the cohort view reads every
    stored time through here, so this path stays short."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(f"time {text!r} has no timezone; give it in UTC with a trailing Z")
    return value if value.tzinfo is UTC else value.astimezone(UTC)


def parse_entered(text: str) -> datetime:
    """A date and time a person typed (command line, an imported file) in ISO 8601, as written:
    aware when it carries an offset or a Z, naive otherwise, for the caller to read in the study's
    zone or refuse with its own message. ValueError when it is not a date and time."""
    return datetime.fromisoformat(text)


def parse_stored(text: str | None) -> datetime | None:
    """A stored time (or None, for a column that may be empty) as an aware UTC datetime."""
    return None if text is None else parse_utc(text)


def local_text(moment: datetime | str | None, tz: tzinfo | str, fmt: str = LOCAL_FORMAT) -> str:
    """A time as shown to people: in the study's zone `tz`, formatted with `fmt` (strftime).
    `moment` is an aware datetime or a stored time text; None and '' give ''.
    '2026-03-29T08:00:00Z' → '2026-03-29 09:00 BST' for Europe/London."""
    if moment is None or moment == "":
        return ""
    value = parse_utc(moment) if isinstance(moment, str) else require_aware(moment, "the time to show")
    return value.astimezone(ZoneInfo(tz) if isinstance(tz, str) else tz).strftime(fmt)


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
    # adding the days and attaching the zone with fold=0, and more cheaply (a cohort's schedules
    # make tens of thousands of these shifts).
    return (moment.astimezone(tz) + timedelta(days=days)).astimezone(UTC)


def local_date_at(day, wall_time, tz: ZoneInfo) -> datetime:
    """The UTC instant of local clock time `wall_time` on calendar date `day` in `tz`."""
    return datetime.combine(day, wall_time).replace(tzinfo=tz, fold=0).astimezone(UTC)
