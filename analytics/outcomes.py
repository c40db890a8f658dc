"""Per participant and scale: baseline, change from baseline, response, remission, the combined
rule, time to first response, relapse after response, and rater changes.

Every rule comes from the study protocol and is applied by `protocol.outcomes` (one rule, one
place): `protocol.baseline` picks the baseline (the last usable rating at the protocol's
baseline timepoint done strictly before infusion 1 started, within the protocol's lookback) and
`outcome_flags` decides each rule at every post-baseline total, in time order (combined = all
required rules met; relapse = the relapse condition held at `consecutive` assessments in a row
after the rule named in `after` was met). This module only feeds them the stored scores and
reads the answers back.

Post-baseline: usable assessments of the scale done at or after the start of infusion 1, except
those at the baseline timepoint (a baseline rated after the start is neither baseline nor
follow-up, in every view).
A missing baseline leaves every rule that needs it undecided (None), never "not met"; a rule
that does not need it (e.g. remission, MADRS ≤ 10) is still decided. Amended assessments count
with their current (amended) score. A rater change does not alter any number; it is reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from functools import cached_property
from typing import NamedTuple

from analytics.records import Assessment, InfusionEvent, chronological, first_infusion_start
from protocol import Protocol, baseline_index, outcome_flags, percent_reduction
from protocol.errors import ProtocolInputError
from protocol.model import Condition, OutcomeRule
from protocol.outcomes import CompiledRules

Flag = bool | None
KINDS = ("response", "remission", "combined", "relapse")


class OutcomePoint(NamedTuple):
    """One post-baseline assessment with its change from baseline and every rule's verdict."""

    assessment: Assessment
    hours: float  # since the start of infusion 1
    total: int
    change: int | None  # total − baseline
    percent_change: float | None  # (total − baseline) / baseline × 100; negative = improvement
    flags: Mapping[str, Flag]

    @property
    def timepoint(self) -> str:
        return self.assessment.timepoint


@dataclass(frozen=True)
class RaterChange:
    """Consecutive usable assessments of one scale rated by different people."""

    assessment_id: int
    timepoint: str
    previous_rater: str | int | None  # as Assessment.rater: a username, or an account id in cohort rows
    rater: str | int | None


@dataclass(frozen=True)
class Threshold:
    """A horizontal line a chart draws: total ≤ value (or < value) meets the rule."""

    rule_id: str
    kind: str
    label: str
    value: float
    strict: bool = False

    @property
    def text(self) -> str:
        return f"{self.kind.capitalize()} {'<' if self.strict else '≤'} {self.value:g}"


@dataclass(frozen=True)
class ScaleOutcome:
    scale_id: str
    first_infusion_at: datetime | None
    baseline: Assessment | None
    points: tuple[OutcomePoint, ...]
    rules: Mapping[str, str | None]  # kind → rule id (the first rule of that kind for this scale)
    endpoint: OutcomePoint | None
    rater_changes: tuple[RaterChange, ...]

    @property
    def baseline_total(self) -> int | None:
        return None if self.baseline is None else self.baseline.total

    def flag(self, point: OutcomePoint | None, kind: str) -> Flag:
        rule_id = self.rules.get(kind)
        if point is None or rule_id is None:
            return None
        return point.flags.get(rule_id)

    def first(self, kind: str) -> OutcomePoint | None:
        """The first post-baseline assessment at which the rule of this kind was met."""
        return next((p for p in self.points if self.flag(p, kind) is True), None)

    @cached_property
    def first_response(self) -> OutcomePoint | None:
        return self.first("response")

    @property
    def time_to_first_response_hours(self) -> float | None:
        point = self.first_response
        return None if point is None else point.hours

    @cached_property
    def relapse(self) -> OutcomePoint | None:
        return self.first("relapse")

    @property
    def endpoint_percent_change(self) -> float | None:
        return None if self.endpoint is None else self.endpoint.percent_change

    def endpoint_flag(self, kind: str) -> Flag:
        return self.flag(self.endpoint, kind)


def rules_by_kind(protocol: Protocol, scale_id: str) -> dict[str, str | None]:
    """{kind: id of the first rule of that kind for the scale, or None}."""
    found: dict[str, str | None] = dict.fromkeys(KINDS)
    for rule in protocol.outcome_rules_for(scale_id):
        if found.get(rule.kind) is None:
            found[rule.kind] = rule.id
    return found


def percent_change(baseline_total: int | None, total: int) -> float | None:
    """Signed change from baseline in percent (−50.0 = halved); None without a baseline or at 0."""
    reduction: Fraction | None = percent_reduction(baseline_total, total)
    return None if reduction is None else float(-reduction)


def rater_changes(assessments: Iterable[Assessment]) -> tuple[RaterChange, ...]:
    return _rater_changes(chronological(assessments))


def _rater_changes(ordered: Sequence[Assessment]) -> tuple[RaterChange, ...]:
    changes, previous = [], None
    for a in ordered:
        if previous is not None and a.rater != previous.rater:
            changes.append(RaterChange(a.id, a.timepoint, previous.rater, a.rater))
        previous = a
    return tuple(changes)


def scale_outcome(
    protocol: Protocol,
    scale_id: str,
    assessments: Iterable[Assessment],
    infusions: Iterable[InfusionEvent],
    *,
    rules: CompiledRules | None = None,
) -> ScaleOutcome:
    """Baseline, post-baseline points with flags, endpoint and rater changes for one scale.

    `assessments`: the participant's assessments (any scale: others are ignored). `rules`:
    protocol.outcomes.compile_rules(protocol, scale_id), when judging many participants.
    """
    own = chronological(a for a in assessments if a.scale_id == scale_id)
    first = first_infusion_start(infusions)
    kinds = rules_by_kind(protocol, scale_id)
    if first is None:
        return ScaleOutcome(scale_id, None, None, (), kinds, None, _rater_changes(own))
    # (assessment, completion time, total): chronological keeps only usable ratings, which have both.
    rated = [(a, at, total) for a in own if (at := a.completed_at) is not None and (total := a.total) is not None]
    chosen = baseline_index(
        protocol, [at for _, at, _ in rated], [(a.timepoint_id, a.infusion_number) for a, _, _ in rated], first
    )
    baseline: Assessment | None = None if chosen is None else rated[chosen][0]
    baseline_total = baseline.total if baseline else None
    # A rating at the baseline timepoint is never a post-baseline point: done after the start
    # (an infusion logged before it), it is neither the baseline nor a follow-up.
    at_baseline = protocol.baseline_rule.timepoint
    post = [
        (a, at, total)
        for a, at, total in rated
        if at >= first and not (a.timepoint_id == at_baseline and a.infusion_number in (None, 1))
    ]
    verdicts = outcome_flags(protocol, scale_id, baseline_total, [total for _, _, total in post], rules=rules)
    # Positional OutcomePoint(assessment, hours, total, change, percent_change, flags): built for
    # every post-baseline rating of a cohort, where keyword construction is measurably slower.
    points = tuple(
        OutcomePoint(
            a,
            (at - first).total_seconds() / 3600,
            total,
            None if baseline_total is None else total - baseline_total,
            percent_change(baseline_total, total),
            flags,
        )
        for (a, at, total), flags in zip(post, verdicts, strict=True)
    )
    endpoint = endpoint_point(protocol, points)
    return ScaleOutcome(scale_id, first, baseline, points, kinds, endpoint, _rater_changes(own))


def endpoint_point(protocol: Protocol, points: Sequence[OutcomePoint]) -> OutcomePoint | None:
    """The assessment at the protocol's primary endpoint timepoint (e.g. day 1 = 24 h), if done."""
    target = protocol.primary_endpoint.timepoint
    matches = [p for p in points if p.assessment.timepoint_id == target and p.assessment.infusion_number in (None, 1)]
    return matches[-1] if matches else None


def participant_outcomes(
    protocol: Protocol, assessments: Iterable[Assessment], infusions: Iterable[InfusionEvent]
) -> dict[str, ScaleOutcome]:
    """scale_outcome for every scale the participant has usable assessments of, by scale id."""
    assessments = list(assessments)
    infusions = list(infusions)
    scales = dict.fromkeys(a.scale_id for a in assessments if a.usable)
    return {s: scale_outcome(protocol, s, assessments, infusions) for s in scales}


# --------------------------------------------------------------------------- threshold lines


def _simple_parts(condition: Condition) -> list[Condition]:
    if condition.op in ("all", "any"):
        return [leaf for part in condition.parts for leaf in _simple_parts(part)]
    return [condition]


def _threshold(rule: OutcomeRule, condition: Condition, baseline_total: int | None) -> Threshold | None:
    if condition.value is None:
        # The protocol schema gives every comparison a value; a Protocol built by hand may not.
        raise ProtocolInputError(f"outcome rule '{rule.id}': its '{condition.op}' condition has no value")
    value = float(condition.value)
    if condition.op == "percent_reduction_at_least":
        if not baseline_total:
            return None
        line = Fraction(baseline_total) * (100 - Fraction(condition.value)) / 100
        return Threshold(
            rule.id,
            rule.kind,
            f"{rule.label}: total ≤ {float(line):g} ({value:g} % below the baseline of {baseline_total})",
            float(line),
        )
    if condition.op == "total_at_most":
        return Threshold(rule.id, rule.kind, f"{rule.label}: total ≤ {value:g}", value)
    if condition.op == "total_below":
        return Threshold(rule.id, rule.kind, f"{rule.label}: total < {value:g}", value, strict=True)
    return None  # worsening conditions (relapse) are not drawn as lines


def threshold_lines(protocol: Protocol, scale_id: str, baseline_total: int | None) -> list[Threshold]:
    """The response and remission thresholds of the protocol's rules for this scale, as totals
    (response ≥ 50 % reduction from a baseline of 30 → total ≤ 15). Response lines need a
    baseline; a combined rule draws no line of its own (its parts are drawn)."""
    lines = []
    for rule in protocol.outcome_rules_for(scale_id):
        if rule.kind not in ("response", "remission") or rule.when is None:
            continue
        for part in _simple_parts(rule.when):
            line = _threshold(rule, part, baseline_total)
            if line is not None:
                lines.append(line)
    return lines


def describe_rules(protocol: Protocol, scale_id: str) -> list[str]:
    """One sentence per rule for this scale, with its source (for captions and reports)."""
    return [f"{rule.label} — {rule.source}" for rule in protocol.outcome_rules_for(scale_id)]
