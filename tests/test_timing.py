"""protocol.timing is the one home of time parsing and formatting: the stored form, reading it
back, and showing a time in the study's zone. The last test keeps it so: any module of the app
that parses or formats times itself (strptime, fromisoformat, strftime) fails it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from db import clock
from protocol import timing
from ui.timefmt import local_time

ROOT = Path(__file__).resolve().parent.parent
LONDON = ZoneInfo("Europe/London")


def test_the_stored_form_is_fixed_width_utc_with_a_z_and_reads_back():
    moment = datetime(2026, 3, 1, 10, 15, 2, 5, tzinfo=timezone(timedelta(hours=1)))
    text = timing.format_utc(moment)
    assert text == "2026-03-01T09:15:02.000005Z"
    assert timing.parse_utc(text) == moment and timing.parse_utc(text).tzinfo is UTC
    assert timing.parse_utc("2026-03-01T10:15:02+01:00") == datetime(2026, 3, 1, 9, 15, 2, tzinfo=UTC)
    assert timing.parse_stored(None) is None and timing.parse_stored(text) == moment
    assert timing.parse_entered("2026-03-28T09:00").tzinfo is None  # typed without a zone: the caller decides
    assert timing.parse_entered("2026-03-28T09:00Z") == datetime(2026, 3, 28, 9, 0, tzinfo=UTC)
    with pytest.raises(ValueError):
        timing.parse_entered("next tuesday")


def test_a_time_without_a_zone_is_refused_both_ways():
    with pytest.raises(ValueError, match="naive datetime"):
        timing.format_utc(datetime(2026, 3, 1, 9, 0))
    with pytest.raises(ValueError, match="has no timezone"):
        timing.parse_utc("2026-03-01T09:00:00")
    with pytest.raises(ValueError, match="has no time zone"):
        timing.local_text(datetime(2026, 3, 1, 9, 0), LONDON)


def test_shown_in_the_study_zone_across_the_clock_change():
    assert timing.local_text("2026-03-29T00:30:00Z", "Europe/London") == "2026-03-29 00:30 GMT"
    assert timing.local_text("2026-03-29T08:00:00Z", LONDON) == "2026-03-29 09:00 BST"
    assert timing.local_text(datetime(2026, 3, 29, 8, 0, tzinfo=UTC), LONDON, "%H:%M") == "09:00"
    assert (
        timing.local_text(datetime(2026, 3, 30, 8, 0, tzinfo=UTC), LONDON, timing.DAY_FORMAT)
        == "Mon 30 Mar 2026 09:00 BST"
    )
    assert timing.local_text(None, LONDON) == "" and timing.local_text("", LONDON) == ""
    # a chart's date and a reading's clock time are the local ones (23:30 UTC is 00:30 BST, next day)
    late = datetime(2026, 3, 29, 23, 30, tzinfo=UTC)
    assert timing.local_text(late, LONDON, timing.DATE_FORMAT) == "2026-03-30"
    assert timing.local_text(late, LONDON, timing.CLOCK_FORMAT) == "00:30"


def test_the_older_names_are_the_same_functions():
    assert clock.format_utc is timing.format_utc and clock.parse_utc is timing.parse_utc
    assert local_time("2026-03-29T08:00:00Z", "Europe/London") == "2026-03-29 09:00 BST"
    assert local_time(None, LONDON) == ""
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", clock.utc_now())


OWN_TIME_CODE = re.compile(r"\bstrptime\(|\bfromisoformat\(|\.strftime\(")


def test_times_are_parsed_and_formatted_in_protocol_timing_only():
    packages = [p for p in ROOT.iterdir() if (p / "__init__.py").is_file() and p.name not in {"tests", "bench"}]
    packages.append(ROOT / "pages")
    files = sorted(f for package in packages for f in package.rglob("*.py")) + [ROOT / "app.py"]
    doing_it = {str(f.relative_to(ROOT)) for f in files if OWN_TIME_CODE.search(f.read_text())}
    doing_it.discard("protocol/timing.py")
    assert not doing_it, f"parse or format times through protocol.timing: {sorted(doing_it)}"
