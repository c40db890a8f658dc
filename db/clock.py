"""The one source of "now" for everything stored.

Every timestamp the db package writes comes from `utc_now()`: UTC, ISO-8601, microseconds, and a
trailing `Z` (e.g. `2026-03-01T09:15:02.123456Z`). The stored form itself, and parsing it, live
in protocol.timing (the one home of time parsing and formatting); `format_utc` and `parse_utc`
are that module's, named here too for the db code that calls them as `clock.format_utc`. Tests
monkeypatch `db.clock.utc_now` to freeze or move time; modules therefore call it as
`clock.utc_now()`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from protocol.timing import format_utc, parse_utc

__all__ = ["format_utc", "parse_utc", "utc_after", "utc_now"]


def utc_now() -> str:
    """Now, as stored: UTC ISO-8601 with microseconds and a trailing Z."""
    return format_utc(datetime.now(UTC))


def utc_after(start: str, **delta: float) -> str:
    """`start` moved by a timedelta (keyword arguments as for `datetime.timedelta`)."""
    return format_utc(parse_utc(start) + timedelta(**delta))
