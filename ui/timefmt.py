"""Times are stored in UTC and shown in the study's local time."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo


def local_time(utc_text: str | None, zone: ZoneInfo | str, fmt: str = "%Y-%m-%d %H:%M %Z") -> str:
    """'2026-03-29T08:00:00Z' → '2026-03-29 09:00 BST' for Europe/London; '' for None."""
    if not utc_text:
        return ""
    moment = datetime.fromisoformat(utc_text.replace("Z", "+00:00"))
    return moment.astimezone(ZoneInfo(str(zone)) if isinstance(zone, str) else zone).strftime(fmt)
