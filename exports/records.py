"""Derivations the CSV and SDTM exports share, so both say the same thing about a record.

- Times: stored UTC text → the site's local time, as ISO 8601 with its offset (CSV) or as a
  local SDTM --DTC without offset (SDTM convention: the clock time at the site).
- Which infusion a rating belongs to (`infusion_reference`): the infusion it was recorded
  against; else the infusion number in its timepoint key (`min_40@3`); else infusion 1 for a
  timepoint the protocol anchors to the first infusion (baseline included: it lies before it);
  else (a timepoint the protocol does not name, or one anchored to enrolment) the last infusion
  that started at or before the rating, if any.
- Minutes since that infusion started, from when the rating HAPPENED (negative before it).
- When a rating happened: `assessed_at` for one entered later (paper), else its completion.
"""

from __future__ import annotations

import bisect
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from protocol import Protocol
from protocol.keys import parse_assessment_timepoint
from protocol.timing import local_text, parse_utc


@lru_cache(maxsize=256)
def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@lru_cache(maxsize=200_000)
def utc(stored: str | None) -> datetime | None:
    """A stored UTC text as an aware datetime (None stays None). Memoised: exports read the same
    infusion starts and completion times many times."""
    return None if not stored else parse_utc(stored)


def stored_utc(stored: str, what: str) -> datetime:
    """utc for a time the database always holds (a NOT NULL column, or a completed rating's
    completion time); ValueError naming it if it is missing after all."""
    moment = utc(stored)
    if moment is None:
        raise ValueError(f"{what} is missing from the stored row")
    return moment


def local_iso(stored: str | None, tz_name: str | None) -> str | None:
    """Stored UTC text as the site's local time, ISO 8601 with offset, to the second."""
    moment = utc(stored)
    return None if moment is None else moment.astimezone(zone(tz_name)).isoformat(timespec="seconds")


SDTM_DTC_FORMAT = "%Y-%m-%dT%H:%M:%S"  # local clock time, to the second, no offset


def local_dtc(stored: str | None, tz_name: str | None) -> str:
    """Stored UTC text as an SDTM --DTC: the site's local clock time, to the second, no offset."""
    moment = utc(stored)
    return local_text(moment, zone(tz_name), SDTM_DTC_FORMAT)


def local_date(stored: str | None, tz_name: str | None):
    moment = utc(stored)
    return None if moment is None else moment.astimezone(zone(tz_name)).date()


def minutes_between(start: datetime | None, moment: datetime | None) -> float | None:
    """Minutes from `start` to `moment`, to 0.1 minute (negative when `moment` is earlier)."""
    if start is None or moment is None:
        return None
    return round((moment - start).total_seconds() / 60.0, 1)


class Infusions:
    """Every participant's infusion starts (and ends), for the infusion a rating belongs to."""

    def __init__(self, rows: Iterable[Mapping[str, Any]]) -> None:
        self.start: dict[tuple[int, int], datetime] = {}
        self._by_participant: dict[int, list[tuple[datetime, int]]] = defaultdict(list)
        self.first: dict[int, Mapping[str, Any]] = {}
        for row in rows:
            started = stored_utc(row["started_at"], "an infusion's start")
            self.start[(row["participant_id"], row["infusion_number"])] = started
            self._by_participant[row["participant_id"]].append((started, row["infusion_number"]))
            if row["infusion_number"] == 1:
                self.first[row["participant_id"]] = row
        for starts in self._by_participant.values():
            starts.sort()

    def first_start(self, participant_id: int) -> datetime | None:
        return self.start.get((participant_id, 1))

    def last_started_by(self, participant_id: int, moment: datetime | None) -> int | None:
        """The number of the participant's last infusion that started at or before `moment`."""
        starts = self._by_participant.get(participant_id)
        if not starts or moment is None:
            return None
        index = bisect.bisect_right(starts, (moment, float("inf"))) - 1
        return starts[index][1] if index >= 0 else None


class Timepoints:
    """The protocol's timepoints by id, for anchors, labels and order."""

    def __init__(self, protocol: Protocol) -> None:
        self.protocol = protocol
        self.by_id = {t.id: t for t in protocol.timepoints}
        self.index = {t.id: n for n, t in enumerate(protocol.timepoints, start=1)}

    def anchor(self, timepoint_id: str) -> str | None:
        timepoint = self.by_id.get(timepoint_id)
        return None if timepoint is None else timepoint.anchor


def infusion_reference(row: Mapping[str, Any], timepoints: Timepoints, infusions: Infusions) -> int | None:
    """The number of the infusion a rating belongs to (see the module docstring)."""
    if row.get("infusion_number") is not None:
        return row["infusion_number"]
    timepoint_id, number = parse_assessment_timepoint(row["timepoint"])
    if number is not None:
        return number
    anchor = timepoints.anchor(timepoint_id)
    if anchor in ("first_infusion", "each_infusion"):
        return 1
    return infusions.last_started_by(row["participant_id"], utc(row["happened_at"]))


def subscale_values(text: str | None) -> dict[str, Any]:
    return json.loads(text) if text else {}
