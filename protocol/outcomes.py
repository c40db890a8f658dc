"""Response, remission and relapse flags from the protocol's rules. The baseline rule itself lives
in protocol.baseline (re-exported here: `select_baseline`, `baseline_index`).

Rules are data (protocol file, `outcomes`); this module only reads them. A percent reduction is
(baseline − total) / baseline × 100, computed exactly (no float rounding at the 50 % edge); it is
undefined when the baseline is missing or 0, and then every rule that needs it is undecided
(None) rather than met or failed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fractions import Fraction

from protocol.baseline import baseline_index, select_baseline  # noqa: F401  (re-exported)
from protocol.errors import ProtocolInputError
from protocol.model import Condition, OutcomeRule, Protocol

Flag = bool | None


def percent_reduction(baseline_total: int | None, total: int) -> Fraction | None:
    """Reduction from baseline in percent, exactly; None when the baseline is missing or 0."""
    if not baseline_total:
        return None
    return Fraction(baseline_total - total, baseline_total) * 100


Test = Callable[[int | None, int], Flag]


def _test(condition: Condition) -> Test:
    """The condition as a function (baseline total, total) → met?.

    Thresholds are exact fractions p/q of the protocol's decimal values, and every comparison is
    cross-multiplied into whole numbers: exact at the 50 % edge, and cheap enough to judge a
    1,000-participant cohort (Fraction comparisons per check were not). Built by compile_rules,
    once per scale for a whole cohort."""
    if condition.op in ("all", "any"):
        parts = tuple(_test(part) for part in condition.parts)
        decisive, other = (False, True) if condition.op == "all" else (True, False)

        def combined(baseline_total: int | None, total: int) -> Flag:
            results = [part(baseline_total, total) for part in parts]
            return decisive if decisive in results else (None if None in results else other)

        return combined
    if condition.value is None:
        # The protocol schema requires a value for every comparison; a Protocol built by hand may not.
        raise ProtocolInputError(f"outcome condition '{condition.op}' has no value to compare a total with")
    value = Fraction(condition.value)
    p, q = value.numerator, value.denominator  # q > 0
    if condition.op.startswith("percent_"):
        at_least = condition.op == "percent_reduction_at_least"

        def percent(baseline_total: int | None, total: int) -> Flag:
            if not baseline_total:
                return None
            # (baseline − total) / baseline × 100 ≥ p/q  ⇔  (baseline − total) × 100 × q ≥ p × baseline
            # (both sides times the baseline's sign, so a negative baseline keeps the direction)
            sign = 1 if baseline_total > 0 else -1
            met = (baseline_total - total) * 100 * q * sign >= p * baseline_total * sign
            return met if at_least else not met

        return percent
    compare = {
        "total_at_most": lambda total: total * q <= p,
        "total_below": lambda total: total * q < p,
        "total_at_least": lambda total: total * q >= p,
        "total_above": lambda total: total * q > p,
    }[condition.op]
    return lambda baseline_total, total: compare(total)


def _check_total(total: object, what: str) -> int:
    if isinstance(total, bool) or not isinstance(total, int):
        raise ProtocolInputError(f"{what} must be a whole-number total, not {total!r}")
    return total


def outcome_flags(
    protocol: Protocol,
    scale_id: str,
    baseline_total: int | None,
    totals: Sequence[int],
    *,
    rules: CompiledRules | None = None,
) -> list[dict[str, Flag]]:
    """For each post-baseline total of one scale (in time order), {rule id: met?} for that scale's rules.

    response/remission: the rule's condition on that total. combined: all required rules met.
    relapse: a previous total met the rule named in `after`, and the relapse condition has held
    for `consecutive` totals in a row up to this one (False, not None, before any response).
    `rules`: compile_rules(protocol, scale_id), for a caller judging many participants (None:
    compiled here).
    """
    if baseline_total is not None:
        _check_total(baseline_total, "the baseline")
    steps = compile_rules(protocol, scale_id) if rules is None else rules
    responded = {step[4]: False for step in steps if step[1] == _RELAPSE}
    streaks = {step[0]: 0 for step in steps if step[1] == _RELAPSE}
    history: list[dict[str, Flag]] = []
    for index, total in enumerate(totals):
        if type(total) is not int:
            _check_total(total, f"total {index + 1}")
        flags: dict[str, Flag] = {}
        for rule_id, kind, test, requires, after, consecutive in steps:
            if kind == _CONDITION:
                flags[rule_id] = test(baseline_total, total)
            elif kind == _COMBINED:
                parts = [flags.get(r) for r in requires]
                flags[rule_id] = False if False in parts else (None if None in parts else True)
            elif not responded[after]:  # relapse: only after the `after` rule was met at an earlier total
                flags[rule_id] = False
            else:
                now = test(baseline_total, total)
                streaks[rule_id] = streaks[rule_id] + 1 if now else 0
                flags[rule_id] = None if now is None else streaks[rule_id] >= consecutive
        for after in responded:
            if flags.get(after) is True:
                responded[after] = True
        history.append(flags)
    return history


_CONDITION, _COMBINED, _RELAPSE = 0, 1, 2
_KINDS = {"response": _CONDITION, "remission": _CONDITION, "combined": _COMBINED, "relapse": _RELAPSE}

#: A scale's rules ready to judge totals: (id, kind, test, requires, after, consecutive) in file order.
CompiledRules = tuple[tuple[str, int, Test, tuple[str, ...], str, int], ...]


def compile_rules(protocol: Protocol, scale_id: str) -> CompiledRules:
    """The scale's rules in file order as (id, kind, test, requires, after, consecutive). A cohort
    view compiles them once per scale and passes them to outcome_flags for every participant.

    `after` is "" for a rule that is not a relapse (only relapse rules read it)."""
    return tuple(
        (rule.id, _KINDS[rule.kind], _compiled_test(rule), rule.requires, _compiled_after(rule), rule.consecutive)
        for rule in protocol.outcome_rules_for(scale_id)
    )


def _undecided(baseline_total: int | None, total: int) -> Flag:
    """The test slot of a combined rule, which outcome_flags never calls: a combined rule is
    judged from the flags of the rules it requires, not from a condition of its own."""
    return None


def _compiled_test(rule: OutcomeRule) -> Test:
    if rule.when is not None:
        return _test(rule.when)
    if _KINDS[rule.kind] == _COMBINED:
        return _undecided
    # The protocol schema requires `when` here; a Protocol built by hand may still omit it.
    raise ProtocolInputError(f"outcome rule '{rule.id}' ({rule.kind}) has no 'when' condition to judge a total by")


def _compiled_after(rule: OutcomeRule) -> str:
    if _KINDS[rule.kind] != _RELAPSE:
        return ""
    if rule.after is None:
        # The protocol schema requires `after` for a relapse; a Protocol built by hand may omit it.
        raise ProtocolInputError(f"relapse rule '{rule.id}' does not name the rule ('after') it follows")
    return rule.after
