"""Response, remission, combined and relapse flags from the default protocol's rules, and the
baseline rule (last complete assessment at the baseline timepoint before the first infusion;
tested in full in tests/test_protocol_baseline.py)."""

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import ProtocolInputError, load_protocol, outcome_flags, percent_reduction, select_baseline
from protocol.loader import DEFAULT_PROTOCOL
from protocol.model import Condition
from protocol.outcomes import _test, compile_rules


@pytest.fixture(scope="module")
def default_protocol():
    return load_protocol(DEFAULT_PROTOCOL)


def utc(*parts):
    return datetime(*parts, tzinfo=UTC)


def flags(study, scale, baseline, *totals):
    return outcome_flags(study, scale, baseline, list(totals))


def test_percent_reduction_is_exact():
    assert percent_reduction(30, 15) == 50
    assert percent_reduction(33, 17) == Fraction(1600, 33)  # 48.48…
    assert percent_reduction(0, 0) is None and percent_reduction(None, 10) is None


@pytest.mark.parametrize(
    "total, response, remission",
    [
        (15, True, False),  # exactly 50 % reduction from 30 is a response
        (16, False, False),  # 46.7 %
        (10, True, True),  # remission: ≤ 10
        (11, True, False),
    ],
)
def test_madrs_response_remission_and_both(default_protocol, total, response, remission):
    (result,) = flags(default_protocol, "madrs", 30, total)
    assert result["madrs_response"] is response
    assert result["madrs_remission"] is remission
    assert result["madrs_response_and_remission"] is (response and remission)
    assert result["madrs_relapse"] is False


def test_response_undecided_without_a_baseline(default_protocol):
    (result,) = flags(default_protocol, "madrs", None, 8)
    assert result["madrs_response"] is None
    assert result["madrs_remission"] is True
    assert result["madrs_response_and_remission"] is None
    (zero,) = flags(default_protocol, "madrs", 0, 0)
    assert zero["madrs_response"] is None


@pytest.mark.parametrize(
    "scale, rule, met, not_met",
    [
        ("hamd17", "hamd17_remission", 7, 8),
        ("qids_sr16", "qids_sr16_remission", 5, 6),
        ("phq9", "phq9_remission", 4, 5),
    ],
)
def test_remission_cut_offs(default_protocol, scale, rule, met, not_met):
    assert flags(default_protocol, scale, 20, met)[0][rule] is True
    assert flags(default_protocol, scale, 20, not_met)[0][rule] is False


def test_relapse_needs_a_response_first_and_two_assessments_in_a_row(default_protocol):
    # Baseline 30: 14 responds; 22 and 23 meet the relapse condition twice in a row.
    history = flags(default_protocol, "madrs", 30, 14, 22, 23)
    assert [h["madrs_relapse"] for h in history] == [False, False, True]
    assert [h["madrs_response"] for h in history] == [True, False, False]


def test_relapse_by_loss_of_half_the_improvement(default_protocol):
    # Baseline 40: 18 responds (55 %); 21 twice is only 47.5 % improvement (and below 22).
    assert [h["madrs_relapse"] for h in flags(default_protocol, "madrs", 40, 18, 21, 21)] == [False, False, True]


def test_no_relapse_without_a_response_or_when_the_run_breaks(default_protocol):
    assert [h["madrs_relapse"] for h in flags(default_protocol, "madrs", 30, 25, 26, 27)] == [False, False, False]
    assert [h["madrs_relapse"] for h in flags(default_protocol, "madrs", 30, 14, 22, 10, 22)] == [
        False,
        False,
        False,
        False,
    ]


def test_totals_must_be_whole_numbers(default_protocol):
    with pytest.raises(ProtocolInputError, match="total 1 must be a whole-number total, not 12.5"):
        flags(default_protocol, "madrs", 30, 12.5)


def assessment(day, hour, complete=True, total=25, timepoint="baseline"):
    return {"completed_at": utc(2026, 5, day, hour), "complete": complete, "total": total, "timepoint": timepoint}


def test_baseline_is_the_last_complete_assessment_before_the_first_infusion(default_protocol):
    first_infusion = utc(2026, 5, 10, 9, 0)
    assessments = [
        assessment(1, 9, total=30),  # complete, but older
        assessment(8, 9, total=28),  # the baseline
        assessment(9, 9, complete=False, total=12),  # incomplete
        assessment(10, 9, total=27),  # at the infusion start: not before it
        assessment(10, 10, total=20),  # after
    ]
    assert select_baseline(default_protocol, assessments, first_infusion)["total"] == 28
    # only ratings at the protocol's baseline timepoint count: a later 'day_7' rating does not
    assert (
        select_baseline(
            default_protocol, [*assessments, assessment(9, 12, total=11, timepoint="day_7")], first_infusion
        )["total"]
        == 28
    )


def test_baseline_lookback(default_protocol):
    # The default protocol's lookback is 14 days: an assessment 15 days earlier is too old.
    assert select_baseline(default_protocol, [assessment(1, 8)], utc(2026, 5, 16, 9, 0)) is None
    assert select_baseline(default_protocol, [assessment(2, 9)], utc(2026, 5, 16, 9, 0)) is not None


OPS = (
    "total_at_most",
    "total_below",
    "total_at_least",
    "total_above",
    "percent_reduction_at_least",
    "percent_reduction_below",
)


def by_definition(op, value, baseline, total):
    """Each comparison written the slow, obvious way with exact fractions (the reference)."""
    if op.startswith("percent_"):
        if not baseline:
            return None
        reduction = Fraction(baseline - total, baseline) * 100
        return reduction >= value if op == "percent_reduction_at_least" else reduction < value
    return {
        "total_at_most": total <= value,
        "total_below": total < value,
        "total_at_least": total >= value,
        "total_above": total > value,
    }[op]


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(OPS),
    st.decimals(min_value=-100, max_value=100, places=2, allow_nan=False),
    st.one_of(st.none(), st.integers(-60, 60)),
    st.integers(-60, 60),
)
def test_each_comparison_agrees_with_its_exact_definition(op, value, baseline, total):
    # The rule tests cross-multiply into whole numbers for speed; they must agree with the exact
    # definition everywhere, including on the edge (e.g. exactly 50 %) and for negative values.
    test = _test(Condition(op, value))
    assert test(baseline, total) == by_definition(op, Fraction(value), baseline, total)


def test_all_and_any_combine_met_failed_and_undecided():
    met, failed = Condition("total_at_most", Decimal(10)), Condition("total_at_least", Decimal(50))
    undecided = Condition("percent_reduction_at_least", Decimal(50))  # no baseline below: None
    assert _test(Condition("all", parts=(met, undecided)))(None, 5) is None
    assert _test(Condition("all", parts=(failed, undecided)))(None, 5) is False
    assert _test(Condition("any", parts=(met, undecided)))(None, 5) is True
    assert _test(Condition("any", parts=(failed, undecided)))(None, 5) is None
    assert _test(Condition("any", parts=(failed, failed)))(None, 5) is False


def test_a_rule_missing_what_the_schema_requires_is_refused_by_name(default_protocol):
    # The schema makes the loader refuse these; a Protocol built in code gets a clear refusal too,
    # not a TypeError in the middle of judging a cohort.
    relapse = next(r for r in default_protocol.outcome_rules if r.kind == "relapse")
    for broken, message in (
        (dataclasses.replace(relapse, after=None), "does not name the rule"),
        (dataclasses.replace(relapse, when=None), "has no 'when' condition"),
        (dataclasses.replace(relapse, when=Condition("total_at_least", None)), "has no value"),
    ):
        study = dataclasses.replace(default_protocol, outcome_rules=(broken,))
        with pytest.raises(ProtocolInputError, match=message):
            compile_rules(study, relapse.scale)
