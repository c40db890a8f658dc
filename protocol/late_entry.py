"""When a clinical event is entered after it happened: the one rule every path calls.

A rating done on paper, a vital sign read off the monitor and typed in later, or an adverse
event reported at the next visit keeps two times: when it HAPPENED (what schedules, windows,
deviations and charts use) and when it was ENTERED (the audit trail's time). A happened time is
acceptable when it is

- not in the future (later than the moment of entry),
- not before the participant's enrolment (nothing about a participant predates their record;
  compared to the minute, as the forms pick whole minutes),
- and, when it lies more than `LATE_ENTRY_MINUTES` before the entry, given with a reason (the
  paper source, the interview done off-line), which is stored beside the record.

`late_entry_problem` is pure: the rate page, the infusion page and the db functions below them
all call it, so the form and the storage refuse the same things with the same words.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from protocol.timing import local_text, require_aware

# A happened time this far (or further) before its entry needs a reason; closer than this it is
# the ordinary lag of a live entry (the rating signed a few minutes after the interview).
LATE_ENTRY_MINUTES = 60
LATE_ENTRY_DELAY = timedelta(minutes=LATE_ENTRY_MINUTES)

# Clocks of a tablet and the server may differ a little, and the form picks whole minutes: a
# happened time up to this far after the entry is read as "now", not as the future.
CLOCK_TOLERANCE = timedelta(minutes=1)


def _shown(moment: datetime, zone: ZoneInfo | None) -> str:
    """A time for a message: the study's local time when the zone is known, else UTC."""
    if zone is None:
        return local_text(moment, UTC, "%Y-%m-%d %H:%M UTC")
    return local_text(moment, zone)


def is_late(happened_at: datetime, entered_at: datetime) -> bool:
    """True when the event is entered `LATE_ENTRY_MINUTES` or more after it happened."""
    happened = require_aware(happened_at, "the time it happened")
    entered = require_aware(entered_at, "the time of entry")
    return entered - happened > LATE_ENTRY_DELAY


def late_entry_problem(
    happened_at: datetime,
    entered_at: datetime,
    enrolled_at: datetime | None,
    reason: str | None,
    *,
    zone: ZoneInfo | None = None,
) -> str | None:
    """What is wrong with entering an event that happened at `happened_at`, or None if nothing.

    `entered_at` is now (the entry time), `enrolled_at` the participant's enrolment (None when
    unknown), `reason` the free-text reason for a late entry, `zone` the study time zone used
    only to write times in the message as the user reads them. Every datetime must be aware.
    """
    happened = require_aware(happened_at, "the time it happened")
    entered = require_aware(entered_at, "the time of entry")
    if happened > entered + CLOCK_TOLERANCE:
        return (
            f"The time it happened ({_shown(happened, zone)}) is in the future: it is now "
            f"{_shown(entered, zone)}. Enter the date and time the event actually took place."
        )
    if enrolled_at is not None:
        # Times are picked to the minute: a rating in the minute of enrolment is not before it.
        enrolled = require_aware(enrolled_at, "the enrolment time").replace(second=0, microsecond=0)
        if happened < enrolled:
            return (
                f"The time it happened ({_shown(happened, zone)}) is before the participant's "
                f"enrolment ({_shown(enrolled, zone)}). Enter a time on or after enrolment."
            )
    if entered - happened > LATE_ENTRY_DELAY and not (reason or "").strip():
        return (
            f"This is entered more than {LATE_ENTRY_MINUTES} minutes after it happened: give a "
            "reason for the late entry (e.g. 'rated on paper, transcribed from the source form')."
        )
    return None
