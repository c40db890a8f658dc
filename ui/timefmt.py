"""Times are stored in UTC and shown in the study's local time (protocol.timing.local_text, the
one home of time formatting; this name stays for the pages that call it)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from protocol.timing import LOCAL_FORMAT, local_text


def local_time(utc_text: str | datetime | None, zone: ZoneInfo | str, fmt: str = LOCAL_FORMAT) -> str:
    """'2026-03-29T08:00:00Z' (or an aware datetime) → '2026-03-29 09:00 BST' for Europe/London;
    '' for None."""
    return local_text(utc_text, zone, fmt)
