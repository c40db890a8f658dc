"""Response, remission and relapse flags from the protocol's rules, and the baseline rule.

Rules are data (protocol file, `outcomes`); this module only reads them. A percent reduction is
(baseline − total) / baseline × 100, computed exactly (no float rounding at the 50 % edge); it is
undefined when the baseline is missing or 0, and then every rule that needs it is undecided
(None) rather than met or failed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from fractions import Fraction
from functools import lru_cache
from typing import Any

from protocol.errors import ProtocolInputError
from protocol.model import Condition, OutcomeRule, Protocol
from protocol.timing import require_aware, shift

Flag = bool | None


def percent_reduction(baseline_total: int | None, total: int) -> Fraction | None:
    """Reduction from baseline in percent, exactly; None when the baseline is missing or 0."""
    if not baseline_total:
        return None
    return Fraction(baseline_total - total, baseline_total) * 100


@lru_cache(maxsize=512)
def _exact(value: object) -> Fraction:
    """A rule's threshold (a Decimal from the protocol file) as an exact fraction, made once."""
    return Fraction(value)


def _holds(condition: Condition, baseline_total: int | None, total: int) -> Flag:
    if condition.op in ("all", "any"):
        results = [_holds(part, baseline_total, total) for part in condition.parts]
        if condition.op == "all":
            return False if False in results else (None if None in results else True)
        return True if True in results else (None if None in results else False)
    value = _exact(condition.value)
    if condition.op.startswith("percent_"):
        if not baseline_total:
            return None
        # (baseline − total) / baseline × 100 ≥ p/q, cross-multiplied: exact integer arithmetic,
        # cheap enough for a 1,000-participant cohort (Fraction objects per check were not).
        sign = 1 if baseline_total > 0 else -1
        lhs = (baseline_total - total) * 100 * value.denominator * sign
        rhs = value.numerator * baseline_total * sign
        return lhs >= rhs if condition.op == "percent_reduction_at_least" else lhs < rhs
    return {
        "total_at_most": total <= value,
        "total_below": total < value,
        "total_at_least": total >= value,
        "total_above": total > value,
    }[condition.op]


def _check_total(total: object, what: str) -> int:
    if isinstance(total, bool) or not isinstance(total, int):
        raise ProtocolInputError(f"{what} must be a whole-number total, not {total!r}")
    return total


def outcome_flags(protocol: Protocol, scale_id: str, baseline_total: int | None,
                  totals: Sequence[int]) -> list[dict[str, Flag]]:
    """For each post-baseline total of one scale (in time order), {rule id: met?} for that scale's rules.

    response/remission: the rule's condition on that total. combined: all required rules met.
    relapse: a previous total met the rule named in `after`, and the relapse condition has held
    for `consecutive` totals in a row up to this one (False, not None, before any response).
    """
    if baseline_total is not None:
        _check_total(baseline_total, "the baseline")
    rules = protocol.outcome_rules_for(scale_id)
    responded = {rule.after: False for rule in rules if rule.kind == "relapse"}
    streaks = {rule.id: 0 for rule in rules if rule.kind == "relapse"}
    history: list[dict[str, Flag]] = []
    for index, total in enumerate(totals):
        _check_total(total, f"total {index + 1}")
        flags: dict[str, Flag] = {}
        for rule in rules:
            flags[rule.id] = _flag(rule, flags, baseline_total, total, responded, streaks)
        for after in responded:
            responded[after] = responded[after] or flags.get(after) is True
        history.append(flags)
    return history


def _flag(rule: OutcomeRule, earlier: Mapping[str, Flag], baseline_total: int | None, total: int,
          responded: dict[str, bool], streaks: dict[str, int]) -> Flag:
    if rule.kind in ("response", "remission"):
        return _holds(rule.when, baseline_total, total)
    if rule.kind == "combined":
        parts = [earlier[r] if r in earlier else None for r in rule.requires]
        return False if False in parts else (None if None in parts else True)
    # relapse: only after the `after` rule was met at an earlier total.
    if not responded[rule.after]:
        return False
    now = _holds(rule.when, baseline_total, total)
    streaks[rule.id] = streaks[rule.id] + 1 if now else 0
    if now is None:
        return None
    return streaks[rule.id] >= rule.consecutive


def select_baseline(protocol: Protocol, assessments: Iterable[Mapping[str, Any]],
                    first_infusion_at: datetime) -> Mapping[str, Any] | None:
    """The baseline among one scale's assessments: the last complete one completed strictly
    before infusion 1 started (and, if the protocol sets a lookback, not older than it).

    `assessments`: mappings with at least `complete` (bool) and `completed_at` (aware datetime).
    """
    first = require_aware(first_infusion_at, "first_infusion_at")
    rule = protocol.baseline_rule
    earliest = shift(first, rule.lookback, protocol.timezone, sign=-1) if rule.lookback else None
    candidates = []
    for assessment in assessments:
        completed_at = assessment.get("completed_at")
        if not assessment.get("complete") or completed_at is None:
            continue
        completed_at = require_aware(completed_at, "completed_at")
        if completed_at < first and (earliest is None or completed_at >= earliest):
            candidates.append((completed_at, assessment))
    return max(candidates, key=lambda pair: pair[0])[1] if candidates else None
