"""The one source of "now" for everything stored.

Every timestamp the db package writes comes from `utc_now()`: UTC, ISO-8601, microseconds, and a
trailing `Z` (e.g. `2026-03-01T09:15:02.123456Z`). The fixed width makes stored times sort
correctly as text, which the schema and the lock-out logic rely on. Tests monkeypatch
`db.clock.utc_now` to freeze or move time; modules therefore call it as `clock.utc_now()`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def format_utc(moment: datetime) -> str:
    """A timezone-aware datetime as the stored text form (naive datetimes are refused)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: give a timezone-aware time (e.g. datetime.now(UTC))")
    return moment.astimezone(UTC).strftime(_FORMAT)


def parse_utc(text: str) -> datetime:
    """Parse any ISO-8601 time with an offset or a trailing Z into an aware UTC datetime."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    if value.tzinfo is None:
        raise ValueError(f"time {text!r} has no timezone; give it in UTC with a trailing Z")
    return value.astimezone(UTC)


def utc_now() -> str:
    """Now, as stored: UTC ISO-8601 with microseconds and a trailing Z."""
    return format_utc(datetime.now(UTC))


def utc_after(start: str, **delta: float) -> str:
    """`start` moved by a timedelta (keyword arguments as for `datetime.timedelta`)."""
    return format_utc(parse_utc(start) + timedelta(**delta))
