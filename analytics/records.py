"""What the analytics read: stored assessments (with their CURRENT stored score) and infusions.

Plain frozen records built from rows that `db.analytics` returns, so every function in this
package is pure and can be tested with hand-written data. Nothing here adds up item scores: the
total, band and subscales are the ones the scale engine stored when the assessment was completed
or last amended.

Times are aware UTC datetimes. The time of an assessment (`Assessment.completed_at`, the time
charts plot, outcomes measure from the infusion, and the protocol's baseline rule compares with
the infusion start) is when the rating HAPPENED: for a rating entered after the fact (a paper
24-hour MADRS typed in on day 3) the time it was done (assessments.assessed_at), else its
completion. `db.analytics` puts that time in the `completed_at` column (db.analytics.HAPPENED_AT);
`started_at` stays the entry time.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import attrgetter
from types import MappingProxyType
from typing import Any, NamedTuple

from protocol.keys import parse_assessment_timepoint

_EMPTY: Mapping[str, int | None] = MappingProxyType({})

#: The columns `db.analytics` returns for assessments, in this order (one row per assessment).
ASSESSMENT_FIELDS = (
    "id", "participant_id", "timepoint", "scale_id", "status", "recall", "rater", "started_at", "completed_at",
    "total", "band", "band_set", "subscales", "complete", "definition_hash", "engine_version", "n_scores",
)
#: The columns `db.analytics` returns for infusions.
INFUSION_FIELDS = ("participant_id", "number", "started_at", "ended_at", "dose_mg_per_kg", "total_dose_mg",
                   "planned_duration_min")


def parse_time(value: Any) -> datetime | None:
    """A stored time ('2026-03-02T09:00:00.000000Z'), a datetime or None/NaT, as aware UTC."""
    if value is None or value != value:  # None or NaN/NaT
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"time {value.isoformat()} has no time zone; give it in UTC")
        return value.astimezone(UTC)
    if isinstance(value, str):
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise ValueError(f"time {value!r} has no time zone; give it in UTC with a trailing Z")
        return moment.astimezone(UTC)
    if hasattr(value, "to_pydatetime"):  # pandas Timestamp
        return parse_time(value.to_pydatetime())
    raise TypeError(f"cannot read a time from {value!r}")


class Assessment(NamedTuple):
    """One stored assessment and its current score (drafts have no score and are never here).

    A NamedTuple (immutable, and built ten times faster than a frozen dataclass: the cohort
    view makes 48,000 of them). `timepoint_id` and `infusion_number` are the parsed stored
    timepoint (`min_40@2` → 'min_40', 2); `assessment()` fills them in. `amended`: the answers
    were changed after completion (a rescoring added a score row), even if the assessment has
    since been signed or locked again.
    """

    id: int
    participant_id: int
    scale_id: str
    timepoint: str
    status: str
    completed_at: datetime | None  # when it happened (see the module docstring), not when typed in
    total: int | None
    band: str | None = None
    band_set: str | None = None
    recall: str | None = None
    rater: str | None = None
    started_at: datetime | None = None
    subscales: Mapping[str, int | None] = _EMPTY
    complete: bool = True
    definition_hash: str | None = None
    engine_version: str | None = None
    n_scores: int = 1
    timepoint_id: str = ""
    infusion_number: int | None = None

    @property
    def usable(self) -> bool:
        """Counts in the analyses: submitted, with a total, with a completion time."""
        return self.status != "draft" and self.total is not None and self.completed_at is not None

    @property
    def amended(self) -> bool:
        return self.status == "amended" or self.n_scores > 1

    def value(self, measure: str = "total") -> int | None:
        """The total, or a stored subscale score by id (e.g. BPRS 'positive')."""
        if measure == "total":
            return self.total
        return self.subscales.get(measure)


def assessment(id: int, participant_id: int, scale_id: str, timepoint: str, status: str,
               completed_at: datetime | None, total: int | None, **fields: Any) -> Assessment:
    """An Assessment with its parsed timepoint key (the way tests and callers should build one)."""
    timepoint_id, infusion_number = parse_assessment_timepoint(timepoint)
    return Assessment(id, participant_id, scale_id, timepoint, status, completed_at, total, **fields,
                      timepoint_id=timepoint_id, infusion_number=infusion_number)


@dataclass(frozen=True)
class InfusionEvent:
    """One infusion as logged: number, start/end (aware UTC), dose."""

    number: int
    started_at: datetime
    ended_at: datetime | None = None
    dose_mg_per_kg: float | None = None
    total_dose_mg: float | None = None
    planned_duration_min: int | None = None

    def label(self, show_dose: bool) -> str:
        """'#1 0.5 mg/kg' (or '#1' when the dose would unblind the viewer)."""
        if show_dose and self.dose_mg_per_kg is not None:
            return f"#{self.number} {self.dose_mg_per_kg:g} mg/kg"
        return f"#{self.number}"


def stored_time(text: Any) -> datetime | None:
    """A stored time as aware UTC. Fast path for the stored form ('...Z'); anything else through parse_time."""
    if text is None:
        return None
    if type(text) is str and text.endswith("Z"):
        return datetime.fromisoformat(text)  # Python 3.11 reads 'Z' as UTC
    return parse_time(text)


def assessment_from_row(row: Sequence[Any] | Mapping[str, Any], *, subscale_scales: Iterable[str] | None = None
                        ) -> Assessment:
    """An Assessment from a row in ASSESSMENT_FIELDS order (or a mapping with those keys).

    `subscale_scales`: decode the stored subscales JSON only for these scales (None: all). The
    cohort view needs BPRS/CADSS subscales only, and decoding 48,000 JSON texts costs time.
    """
    if type(row) is not tuple:  # a database row is a plain tuple: skip the (slow) ABC check for it
        row = tuple(row.get(name) for name in ASSESSMENT_FIELDS) if isinstance(row, Mapping) else tuple(row)
    (aid, pid, timepoint, scale_id, status, recall, rater, started_at, completed_at, total, band, band_set, raw,
     complete, definition_hash, engine_version, n_scores) = row
    if raw is None:
        subscales = _EMPTY
    elif isinstance(raw, str):
        subscales = json.loads(raw) if subscale_scales is None or scale_id in subscale_scales else _EMPTY
    elif isinstance(raw, Mapping):
        subscales = dict(raw)
    else:
        subscales = _EMPTY
    timepoint_id, infusion_number = parse_assessment_timepoint(timepoint)
    return Assessment(
        aid, pid, scale_id, timepoint, status, stored_time(completed_at),
        None if total is None or total != total else int(total), band, band_set, recall, rater, stored_time(started_at),
        subscales, True if complete is None else bool(complete), definition_hash, engine_version, int(n_scores or 1),
        timepoint_id, infusion_number,
    )


def infusion_from_row(row: Sequence[Any] | Mapping[str, Any]) -> InfusionEvent:
    get = row.get if isinstance(row, Mapping) else dict(zip(INFUSION_FIELDS, row, strict=True)).get
    return InfusionEvent(
        number=int(get("number")), started_at=parse_time(get("started_at")), ended_at=parse_time(get("ended_at")),
        dose_mg_per_kg=get("dose_mg_per_kg"), total_dose_mg=get("total_dose_mg"),
        planned_duration_min=get("planned_duration_min"),
    )


def sorted_infusions(infusions: Iterable[InfusionEvent]) -> tuple[InfusionEvent, ...]:
    return tuple(sorted(infusions, key=lambda i: i.number))


def first_infusion_start(infusions: Iterable[InfusionEvent]) -> datetime | None:
    """The start of infusion 1 (the anchor of 'time since the first infusion'); None before it."""
    ordered = sorted_infusions(infusions)
    return ordered[0].started_at if ordered else None


def hours_between(moment: datetime | None, origin: datetime | None) -> float | None:
    if moment is None or origin is None:
        return None
    return (moment - origin).total_seconds() / 3600


_BY_COMPLETION = attrgetter("completed_at", "id")


def chronological(assessments: Iterable[Assessment]) -> list[Assessment]:
    """Usable assessments by completion time (then id, so ties keep entry order)."""
    return sorted([a for a in assessments if a.usable], key=_BY_COMPLETION)
