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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from types import MappingProxyType
from typing import Any, NamedTuple, overload

from db.analytics import AssessmentRow, InfusionRow
from protocol.keys import parse_assessment_timepoint
from protocol.timing import parse_utc, require_aware

_EMPTY: Mapping[str, int | None] = MappingProxyType({})

#: The columns `db.analytics` returns for assessments and infusions (its row types own them).
ASSESSMENT_FIELDS = AssessmentRow._fields
INFUSION_FIELDS = InfusionRow._fields
#: Stored subscales texts that hold nothing (decoding them would only cost time).
_NO_SUBSCALES = (None, "", "{}", "null")


def parse_time(value: Any) -> datetime | None:
    """A stored time ('2026-03-02T09:00:00.000000Z'), a datetime or None/NaT, as aware UTC (read
    by protocol.timing, which refuses a time without a zone)."""
    if value is None or value != value:  # None or NaN/NaT
        return None
    if isinstance(value, datetime):
        return require_aware(value, "time")
    if isinstance(value, str):
        return parse_utc(value)
    if hasattr(value, "to_pydatetime"):  # pandas Timestamp
        return parse_time(value.to_pydatetime())
    raise TypeError(f"cannot read a time from {value!r}")


class Assessment(NamedTuple):
    """One stored assessment and its current score (drafts have no score and are never here).

    A NamedTuple (immutable, and cheaper to build than a frozen dataclass: the cohort view makes
    one per stored assessment). `timepoint_id` and `infusion_number` are the parsed stored
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
    rater: str | int | None = None  # the username, or in cohort rows the account id (db.analytics)
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


def assessment(
    id: int,
    participant_id: int,
    scale_id: str,
    timepoint: str,
    status: str,
    completed_at: datetime | None,
    total: int | None,
    **fields: Any,
) -> Assessment:
    """An Assessment with its parsed timepoint key (the way tests and callers should build one)."""
    timepoint_id, infusion_number = parse_assessment_timepoint(timepoint)
    return Assessment(
        id,
        participant_id,
        scale_id,
        timepoint,
        status,
        completed_at,
        total,
        **fields,
        timepoint_id=timepoint_id,
        infusion_number=infusion_number,
    )


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
    """A stored time as aware UTC. Fast path for a stored text (protocol.timing.parse_utc, the
    cohort view reads tens of thousands); anything else (a datetime, NaT) through parse_time."""
    if text is None:
        return None
    if type(text) is str:
        return parse_utc(text)
    return parse_time(text)


def assessment_from_row(
    row: AssessmentRow | Mapping[str, Any], *, subscale_scales: Iterable[str] | None = None
) -> Assessment:
    """An Assessment from a db.analytics.AssessmentRow (or a mapping with its field names).

    `subscale_scales`: decode the stored subscales JSON only for these scales (None: every scale
    that stored any).
    """
    if not isinstance(row, AssessmentRow):
        row = AssessmentRow._make(row.get(name) for name in ASSESSMENT_FIELDS)
    raw = row.subscales
    if raw in _NO_SUBSCALES:
        subscales = _EMPTY
    elif isinstance(raw, str):
        subscales = json.loads(raw) if subscale_scales is None or row.scale_id in subscale_scales else _EMPTY
    elif isinstance(raw, Mapping):
        subscales = dict(raw)
    else:
        subscales = _EMPTY
    timepoint_id, infusion_number = parse_assessment_timepoint(row.timepoint)
    total = row.total
    return Assessment(
        row.id,
        row.participant_id,
        row.scale_id,
        row.timepoint,
        row.status,
        stored_time(row.completed_at),
        None if total is None or total != total else int(total),
        row.band,
        row.band_set,
        row.recall,
        row.rater,
        stored_time(row.started_at),
        subscales,
        True if row.complete is None else bool(row.complete),
        row.definition_hash,
        row.engine_version,
        int(row.n_scores or 1),
        timepoint_id,
        infusion_number,
    )


def infusion_from_row(row: InfusionRow | Mapping[str, Any]) -> InfusionEvent:
    """An InfusionEvent from a db.analytics.InfusionRow (or a mapping with its field names)."""
    if not isinstance(row, InfusionRow):
        row = InfusionRow._make(row.get(name) for name in INFUSION_FIELDS)
    started = parse_time(row.started_at)
    if started is None:  # infusions.started_at is NOT NULL: only a hand-made row can lack it
        raise ValueError(f"infusion {row.number} has no start time; every logged infusion has one")
    return InfusionEvent(
        number=int(row.number),
        started_at=started,
        ended_at=parse_time(row.ended_at),
        dose_mg_per_kg=row.dose_mg_per_kg,
        total_dose_mg=row.total_dose_mg,
        planned_duration_min=row.planned_duration_min,
    )


def sorted_infusions(infusions: Iterable[InfusionEvent]) -> tuple[InfusionEvent, ...]:
    return tuple(sorted(infusions, key=lambda i: i.number))


def first_infusion_start(infusions: Iterable[InfusionEvent]) -> datetime | None:
    """The start of infusion 1 (the anchor of 'time since the first infusion'); None before it."""
    ordered = sorted_infusions(infusions)
    return ordered[0].started_at if ordered else None


@overload
def hours_between(moment: datetime, origin: datetime) -> float: ...
@overload
def hours_between(moment: datetime | None, origin: datetime | None) -> float | None: ...
def hours_between(moment: datetime | None, origin: datetime | None) -> float | None:
    """Hours from `origin` to `moment` (negative before it); None when either is unknown."""
    if moment is None or origin is None:
        return None
    return (moment - origin).total_seconds() / 3600


_BY_COMPLETION = attrgetter("completed_at", "id")


def chronological(assessments: Iterable[Assessment]) -> list[Assessment]:
    """Usable assessments by completion time (then id, so ties keep entry order)."""
    return sorted([a for a in assessments if a.usable], key=_BY_COMPLETION)
