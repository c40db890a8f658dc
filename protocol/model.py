"""The in-memory form of a study protocol: frozen dataclasses compiled once from the JSON file.

Built only by `protocol.loader`, which validates the file first, so code that receives a
`Protocol` can trust every reference in it (scales exist, timepoint ids are unique, exactly one
primary endpoint, the default dose lies in the allowed range). The raw JSON is kept next to the
compiled form, with a content hash, so a stored schedule can name the exact protocol it used.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from protocol.errors import ProtocolInputError
from protocol.timing import Duration

ANCHORS = ("enrolment", "first_infusion", "each_infusion")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = datetime.weekday()


@dataclass(frozen=True)
class Site:
    id: str
    name: str


@dataclass(frozen=True)
class Arm:
    id: str
    label: str


@dataclass(frozen=True)
class Window:
    """How early and how late a rating may be, around the timepoint's nominal time."""

    before: Duration
    after: Duration


@dataclass(frozen=True)
class Timepoint:
    """A rating timepoint: nominal time = anchor + offset; window around it; scales due."""

    id: str
    label: str
    anchor: str
    offset: Duration
    window: Window
    scales: tuple[str, ...]
    primary_endpoint: bool = False

    @property
    def per_infusion(self) -> bool:
        return self.anchor == "each_infusion"


@dataclass(frozen=True)
class InductionCourse:
    """Induction infusions on fixed weekdays (two or three per week)."""

    count: int
    weekdays: tuple[str, ...]
    min_days_between: int

    @property
    def per_week(self) -> int:
        return len(self.weekdays)

    @property
    def weekday_numbers(self) -> frozenset[int]:
        return frozenset(WEEKDAYS.index(day) for day in self.weekdays)


@dataclass(frozen=True)
class MaintenanceCourse:
    """Maintenance infusions every `interval_days` after the induction course; none may start
    fewer than `min_days_between` calendar days (default: `interval_days`) after the previous one
    without a reason."""

    count: int
    interval_days: int
    min_days_between: int | None = None

    @property
    def minimum_days(self) -> int:
        return self.interval_days if self.min_days_between is None else self.min_days_between


@dataclass(frozen=True)
class InfusionPlan:
    kind: str  # "single" or "repeated"
    induction: InductionCourse | None = None
    maintenance: MaintenanceCourse | None = None

    @property
    def _induction(self) -> InductionCourse:
        """The induction course, which every repeated plan has (protocol/loader.py requires it)."""
        assert self.induction is not None, "a repeated infusion plan has an induction course"
        return self.induction

    @property
    def total_infusions(self) -> int:
        if self.kind == "single":
            return 1
        return self._induction.count + (self.maintenance.count if self.maintenance else 0)

    def phase_of(self, number: int) -> str:
        """'single', 'induction' or 'maintenance': the course infusion `number` belongs to (an
        infusion beyond the plan counts with the last course)."""
        if self.kind == "single":
            return "single"
        if number <= self._induction.count or not self.maintenance or not self.maintenance.count:
            return "induction"
        return "maintenance"

    def minimum_days_before(self, number: int) -> int | None:
        """The fewest calendar days infusion `number` may start after the previous infusion, or
        None when the plan sets no spacing (infusion 1, a single-infusion study)."""
        phase = self.phase_of(number)
        if number <= 1 or phase == "single":
            return None
        if phase == "induction":
            return self._induction.min_days_between
        assert self.maintenance is not None  # phase_of says "maintenance" only when there is one
        return self.maintenance.minimum_days

    def describe(self) -> str:
        if self.kind == "single":
            return "single infusion"
        text = (
            f"induction: {self._induction.count} infusions, {self._induction.per_week} per week "
            f"({'/'.join(d.capitalize() for d in self._induction.weekdays)}), "
            f"at least {self._induction.min_days_between} days apart"
        )
        if self.maintenance and self.maintenance.count:
            text += (
                f"; maintenance: {self.maintenance.count} infusions every {self.maintenance.interval_days} days "
                f"(at least {self.maintenance.minimum_days} days apart)"
            )
        return text


@dataclass(frozen=True)
class Range:
    """Inclusive numeric range with an optional default, as exact decimals."""

    min: Decimal
    max: Decimal
    default: Decimal | None = None

    def contains(self, value: Decimal) -> bool:
        return self.min <= value <= self.max

    def __str__(self) -> str:
        return f"{self.min}–{self.max}"


@dataclass(frozen=True)
class Dosing:
    drug: str
    diluent: str | None
    mg_per_kg: Range
    weight_kg: Range
    duration_minutes: Range


@dataclass(frozen=True)
class Threshold:
    """Warn when a value is strictly above `above` or strictly below `below`."""

    above: Decimal | None = None
    below: Decimal | None = None


@dataclass(frozen=True)
class VitalsThresholds:
    systolic: Threshold
    diastolic: Threshold
    heart_rate: Threshold
    spo2: Threshold

    def for_measure(self, measure: str) -> Threshold:
        return getattr(self, measure)


@dataclass(frozen=True)
class VitalsPolicy:
    interval_minutes: int
    after_infusion_minutes: int
    tolerance_minutes: int
    thresholds: VitalsThresholds


@dataclass(frozen=True)
class Condition:
    """A test of a total against its baseline: a comparison (`op`, `value`) or all/any of `parts`."""

    op: str
    value: Decimal | None = None
    parts: tuple[Condition, ...] = ()


@dataclass(frozen=True)
class OutcomeRule:
    """Response, remission, combined (all of `requires`) or relapse (after `after`) for one scale."""

    id: str
    kind: str
    scale: str
    label: str
    source: str
    when: Condition | None = None
    requires: tuple[str, ...] = ()
    after: str | None = None
    consecutive: int = 1


@dataclass(frozen=True)
class BaselineRule:
    """Which assessment is the baseline: the last complete one at `timepoint` before infusion 1
    started, within `lookback` (the rule is applied by protocol.baseline)."""

    rule: str
    timepoint: str
    lookback: Duration | None = None

    def describe(self) -> str:
        text = f"last complete assessment at timepoint '{self.timepoint}' before the first infusion starts"
        if self.lookback:
            text += f", no older than {self.lookback}"
        return text


@dataclass(frozen=True)
class PrimaryEndpoint:
    timepoint: str
    scale: str
    description: str


@dataclass(frozen=True)
class EligibilityCriterion:
    """A screening question. `answer` is "yes_no" or "integer" (with min, optional max, unit)."""

    id: str
    kind: str  # "inclusion" or "exclusion"
    text: str
    answer: str
    min: int | None = None
    max: int | None = None
    unit: str | None = None

    def range_text(self) -> str:
        if self.max is None:
            return f"at least {self.min} {self.unit}"
        return f"{self.min}–{self.max} {self.unit}"


@dataclass(frozen=True)
class SeverityCriterion:
    """Inclusion criterion checked automatically: baseline total of `scale` ≥ `min_total`."""

    id: str
    text: str
    scale: str
    min_total: int


@dataclass(frozen=True)
class Eligibility:
    criteria: tuple[EligibilityCriterion, ...]
    severity: SeverityCriterion

    def criterion(self, criterion_id: str) -> EligibilityCriterion:
        for criterion in self.criteria:
            if criterion.id == criterion_id:
                return criterion
        raise ProtocolInputError(
            f"unknown eligibility criterion '{criterion_id}'; known: {', '.join(c.id for c in self.criteria)}"
        )


def placeholder_names(text: str) -> list[str]:
    """The {name} placeholders in a text, in order of first use."""
    names: list[str] = []
    for _, name, _, _ in string.Formatter().parse(text):
        if name is not None and name not in names:
            names.append(name)
    return names


@dataclass(frozen=True)
class SupportiveText:
    """Text shown after a self-report safety trigger; the site fills in the placeholders."""

    text: str
    placeholders: tuple[tuple[str, str], ...]

    def render(self, values: Mapping[str, str]) -> str:
        """The text with every placeholder filled; refuses to show a half-filled text."""
        missing = [name for name, _ in self.placeholders if not str(values.get(name, "")).strip()]
        if missing:
            described = "; ".join(f"{name} ({what})" for name, what in self.placeholders if name in missing)
            raise ProtocolInputError(f"the supportive text needs the site to fill in: {described}")
        return self.text.format_map({name: str(values[name]).strip() for name, _ in self.placeholders})


@dataclass(frozen=True)
class Protocol:
    id: str
    version: str
    title: str
    description: str
    sites: tuple[Site, ...]
    arms: tuple[Arm, ...]
    blinded: bool
    timezone: ZoneInfo
    infusion_plan: InfusionPlan
    dosing: Dosing
    vitals: VitalsPolicy
    overdue_after: Duration
    timepoints: tuple[Timepoint, ...]
    primary_endpoint: PrimaryEndpoint
    baseline_rule: BaselineRule
    outcome_rules: tuple[OutcomeRule, ...]
    eligibility: Eligibility
    supportive_text: SupportiveText
    raw: dict[str, Any] = field(repr=False, compare=False)
    hash: str = ""
    source_file: str = ""

    def timepoint(self, timepoint_id: str) -> Timepoint:
        """The timepoint with this id; ProtocolInputError naming the known ids otherwise."""
        for timepoint in self.timepoints:
            if timepoint.id == timepoint_id:
                return timepoint
        raise ProtocolInputError(
            f"unknown timepoint '{timepoint_id}'; known: {', '.join(t.id for t in self.timepoints)}"
        )

    def scales_due(self, timepoint_id: str) -> tuple[str, ...]:
        return self.timepoint(timepoint_id).scales

    def outcome_rules_for(self, scale_id: str) -> tuple[OutcomeRule, ...]:
        """The response/remission/combined/relapse rules that read this scale, in file order."""
        return tuple(rule for rule in self.outcome_rules if rule.scale == scale_id)

    def outcome_rule(self, rule_id: str) -> OutcomeRule:
        for rule in self.outcome_rules:
            if rule.id == rule_id:
                return rule
        raise ProtocolInputError(f"unknown outcome rule '{rule_id}'")

    @property
    def outcome_scales(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(rule.scale for rule in self.outcome_rules))

    @property
    def arm_ids(self) -> tuple[str, ...]:
        return tuple(arm.id for arm in self.arms)

    @property
    def site_ids(self) -> tuple[str, ...]:
        return tuple(site.id for site in self.sites)
