"""Dissociation and psychotomimetic effects around each infusion: each dissociation measure's
course in minutes from the infusion start, and the peak and its time.

Which scores are dissociation measures, their ranges and labels come from the scale definitions
(`"measures": "dissociation"` on a total or subscale, read by scales.loader.score_measures): in
the shipped definitions the CADSS total and the BPRS positive subscale. A new definition that
marks a score joins the panel and the cohort table without code changes.

Which infusion an assessment belongs to: the infusion its timepoint names (`min_40@2` →
infusion 2) when that infusion is logged; otherwise the latest infusion started at or before
the assessment's completion (a rating after the start) or, for a rating before any later
infusion started, the next infusion (a pre-infusion rating). Ratings more than `post_hours`
after an infusion start, or more than `pre_hours` before it, are around no infusion.

Peak: the highest post-start value; on a tie the earliest (dissociation peaks near the end of a
40-minute infusion and resolves within about two hours: scales.md, CADSS). Change at peak: peak
minus the last pre-infusion value, when there is one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from analytics.records import Assessment, InfusionEvent, chronological, sorted_infusions
from scales.loader import ScoreMeasure, score_measures

#: The `measures` kind (scales/schema.json) that marks a score as a dissociation measure.
DISSOCIATION = "dissociation"


def dissociation_measures() -> tuple[ScoreMeasure, ...]:
    """The dissociation measures of the loaded definitions, the primary one (a whole-scale
    total such as CADSS) first (order: scales.loader.score_measures)."""
    return score_measures(DISSOCIATION)


def measure_pairs() -> tuple[tuple[str, str], ...]:
    """(scale id, score) of every dissociation measure, e.g. (("cadss", "total"), ("bprs", "positive"))."""
    return tuple((m.scale_id, m.score) for m in dissociation_measures())


def measure_of(scale_id: str, measure: str) -> ScoreMeasure | None:
    """The dissociation measure scored as `measure` ("total" or a subscale id) on `scale_id`."""
    return next((m for m in dissociation_measures() if (m.scale_id, m.score) == (scale_id, measure)), None)


def measure_label(scale_id: str, measure: str) -> str:
    """'CADSS total (0–92)'; for a score no definition marks, '<scale id> <measure>'."""
    found = measure_of(scale_id, measure)
    return found.label if found is not None else f"{scale_id} {measure}"


class DissociationPoint(NamedTuple):
    """One rating of a dissociation measure, placed around its infusion (a NamedTuple: cheap to
    build for every CADSS and BPRS rating of a cohort)."""

    assessment: Assessment
    minutes: float  # from the start of its infusion (negative: before it)
    value: int


@dataclass(frozen=True)
class InfusionCourse:
    """One measure around one infusion: the pre-infusion value and the post-start course."""

    scale_id: str
    measure: str
    infusion: InfusionEvent
    pre: DissociationPoint | None
    post: tuple[DissociationPoint, ...]

    @property
    def peak(self) -> DissociationPoint | None:
        best = None
        for point in self.post:  # post is in time order, so '>' keeps the earliest of equal values
            if best is None or point.value > best.value:
                best = point
        return best

    @property
    def peak_change(self) -> int | None:
        peak = self.peak
        return None if peak is None or self.pre is None else peak.value - self.pre.value

    @property
    def label(self) -> str:
        return measure_label(self.scale_id, self.measure)


class _Infusions:
    """The infusions indexed once for assigning many ratings."""

    def __init__(self, infusions: Iterable[InfusionEvent]) -> None:
        self.ordered = sorted_infusions(infusions)
        self.by_number = {i.number: i for i in self.ordered}


def _assign(
    assessment: Assessment, index: _Infusions, post_hours: float, pre_hours: float
) -> tuple[InfusionEvent, float] | None:
    at = assessment.completed_at
    if at is None or not index.ordered:
        return None
    named = index.by_number.get(assessment.infusion_number) if assessment.infusion_number is not None else None
    if named is not None:
        return named, (at - named.started_at).total_seconds() / 60
    before = after = None
    for infusion in index.ordered:  # in time order: the last started one, and the first still to come
        if infusion.started_at <= at:
            before = infusion
        else:
            after = infusion
            break
    if before is not None:
        minutes = (at - before.started_at).total_seconds() / 60
        if minutes <= post_hours * 60:
            return before, minutes
    if after is not None:
        minutes = (at - after.started_at).total_seconds() / 60
        if -minutes <= pre_hours * 60:
            return after, minutes
    return None


def assign_infusion(
    assessment: Assessment, infusions: Sequence[InfusionEvent], *, post_hours: float = 24.0, pre_hours: float = 7 * 24.0
) -> tuple[InfusionEvent, float] | None:
    """(infusion, minutes from its start) for an assessment, or None if around no infusion."""
    return _assign(assessment, _Infusions(infusions), post_hours, pre_hours)


def infusion_courses(
    assessments: Iterable[Assessment],
    infusions: Iterable[InfusionEvent],
    measures: Sequence[tuple[str, str]] | None = None,
    *,
    post_hours: float = 24.0,
    pre_hours: float = 7 * 24.0,
) -> list[InfusionCourse]:
    """Per measure and infusion (in that order), the pre value and the post-start course.

    `measures`: (scale id, score) pairs; None = every dissociation measure (`measure_pairs`)."""
    measures = measure_pairs() if measures is None else measures
    index = _Infusions(infusions)
    ordered = index.ordered
    assessments = chronological(assessments)
    courses = []
    for scale_id, measure in measures:
        grouped: dict[int, tuple[list[DissociationPoint], list[DissociationPoint]]] = {
            i.number: ([], []) for i in ordered
        }
        for a in assessments:
            value = a.value(measure) if a.scale_id == scale_id else None
            if value is None:
                continue
            placed = _assign(a, index, post_hours, pre_hours)
            if placed is None:
                continue
            infusion, minutes = placed
            pre, post = grouped[infusion.number]
            (pre if minutes < 0 else post).append(DissociationPoint(a, minutes, value))
        for infusion in ordered:
            pre, post = grouped[infusion.number]
            if pre or post:
                courses.append(InfusionCourse(scale_id, measure, infusion, pre[-1] if pre else None, tuple(post)))
    return courses


def peak_of(
    courses: Iterable[InfusionCourse], scale_id: str | None = None, measure: str | None = None
) -> DissociationPoint | None:
    """The highest post-start value of one measure over all infusions (earliest infusion on a
    tie); without `scale_id`, of the primary dissociation measure (the first of
    `dissociation_measures`, CADSS total in the shipped definitions)."""
    if scale_id is None:
        primary = dissociation_measures()[:1]
        if not primary:
            return None
        scale_id, measure = primary[0].scale_id, primary[0].score
    measure = measure or "total"
    best = None
    for course in courses:
        if (course.scale_id, course.measure) != (scale_id, measure):
            continue
        peak = course.peak
        if peak is not None and (best is None or peak.value > best.value):
            best = peak
    return best
