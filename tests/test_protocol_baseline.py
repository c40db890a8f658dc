"""The one baseline rule (protocol.baseline) and the infusion-spacing rule (protocol.dosing), as
pure functions of the protocol: which rating is the baseline, and how soon an infusion may follow
the previous one."""

import copy
from datetime import UTC, datetime, timedelta

import pytest

from protocol import ProtocolError, compile_protocol, load_protocol
from protocol.baseline import baseline_index, describe, is_baseline_timepoint, select_baseline
from protocol.dosing import days_apart, spacing_problem
from protocol.loader import STUDIES_DIR

DEFAULT = load_protocol(STUDIES_DIR / "default.json")
REPEATED = load_protocol(STUDIES_DIR / "repeated_infusion.json")
FIRST = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday


def rating(timepoint, hours_before, *, total=30, complete=True, assessed_hours_before=None):
    row = {
        "timepoint": timepoint,
        "complete": complete,
        "total": total,
        "completed_at": FIRST - timedelta(hours=hours_before),
    }
    if assessed_hours_before is not None:
        row["assessed_at"] = FIRST - timedelta(hours=assessed_hours_before)
    return row


def test_only_the_baseline_timepoint_counts():
    week_1 = rating("week_1", 2, total=11)
    assert select_baseline(REPEATED, [week_1], FIRST) is None  # issue 11: a Week 1 MADRS is no baseline
    chosen = select_baseline(REPEATED, [rating("baseline", 30, total=31), week_1, rating("day_1", 1)], FIRST)
    assert chosen["total"] == 31
    assert is_baseline_timepoint(DEFAULT, "baseline", None) and not is_baseline_timepoint(DEFAULT, "day_1", None)
    assert not is_baseline_timepoint(DEFAULT, "baseline", 2)  # a per-infusion occurrence other than infusion 1


def test_a_per_infusion_baseline_timepoint_counts_for_infusion_one_only():
    raw = copy.deepcopy(REPEATED.raw)
    raw["baseline"]["timepoint"] = "pre_infusion"
    pre = compile_protocol(raw)
    keys = [("pre_infusion", 1), ("pre_infusion", 2)]
    assert baseline_index(pre, [FIRST - timedelta(days=1), FIRST - timedelta(hours=1)], keys, FIRST) == 0


def test_strictly_before_the_start_within_the_lookback_latest_wins():
    ratings = [
        rating("baseline", 24 * 15, total=40),  # 15 days before: past the 14-day lookback
        rating("baseline", 48, total=32),  # candidate
        rating("baseline", 24, total=30),  # the latest before the start: the baseline
        rating("baseline", 0, total=20),  # at the start itself: not before it
        rating("baseline", 3, total=12, complete=False),
    ]  # not usable
    assert select_baseline(DEFAULT, ratings, FIRST)["total"] == 30
    assert select_baseline(DEFAULT, [ratings[0]], FIRST) is None
    tie = [rating("baseline", 24, total=28), rating("baseline", 24, total=29)]
    assert select_baseline(DEFAULT, tie, FIRST)["total"] == 28  # of equal times, the first listed


def test_the_time_it_happened_counts_not_the_time_it_was_typed_in():
    paper = rating("baseline", -2, total=27, assessed_hours_before=20)  # typed in after the start, done the day before
    assert select_baseline(DEFAULT, [paper], FIRST)["total"] == 27
    typed_before_done_after = rating("baseline", 5, total=27, assessed_hours_before=-1)
    assert select_baseline(DEFAULT, [typed_before_done_after], FIRST) is None


def test_before_infusion_one_the_latest_baseline_rating_counts():
    ratings = [rating("baseline", 24 * 30, total=33), rating("baseline", 24 * 20, total=35)]
    assert select_baseline(DEFAULT, ratings, None)["total"] == 35  # no lookback without a start to count from
    assert "'Baseline (before infusion 1)' done before infusion 1 starts, no older than 14 days" in describe(REPEATED)


def test_repeated_protocol_has_its_own_baseline_before_infusion_one():
    baseline = REPEATED.timepoint("baseline")
    assert (baseline.anchor, str(baseline.offset), str(baseline.window.after)) == (
        "first_infusion",
        "0 minutes",
        "0 minutes",
    )
    assert REPEATED.baseline_rule.timepoint == "baseline" == REPEATED.timepoints[0].id
    assert "madrs" in baseline.scales and REPEATED.eligibility.severity.scale == "madrs"


def test_calendar_days_in_the_study_time_zone():
    monday_late = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)
    assert days_apart(FIRST, monday_late, REPEATED) == 0
    assert days_apart(FIRST, datetime(2026, 3, 4, 7, 0, tzinfo=UTC), REPEATED) == 2  # Wed 07:00 after Mon 09:00
    summer = datetime(2026, 6, 1, 23, 30, tzinfo=UTC)  # 00:30 BST on 2 June
    assert days_apart(datetime(2026, 6, 1, 9, 0, tzinfo=UTC), summer, REPEATED) == 1


@pytest.mark.parametrize(
    ("number", "after", "problem"),
    [
        (2, timedelta(minutes=45), "infusion 2 would start 0 calendar days after infusion 1"),
        (2, timedelta(days=1), "infusion 2 would start 1 calendar day after infusion 1"),
        (2, timedelta(days=2, hours=-2), None),  # Wednesday 07:00: two calendar days
        (7, timedelta(days=6), "no less than 7 days apart"),  # the first maintenance infusion
        (7, timedelta(days=7), None),
    ],
)
def test_spacing_problem(number, after, problem):
    found = spacing_problem(REPEATED, number, FIRST + after, number - 1, FIRST)
    assert (found is None) if problem is None else (problem in found)


def test_single_infusion_study_has_no_spacing_rule():
    assert spacing_problem(DEFAULT, 2, FIRST + timedelta(minutes=45), 1, FIRST) is None


def test_maintenance_minimum_is_configurable_and_checked():
    raw = copy.deepcopy(REPEATED.raw)
    raw["infusion_plan"]["maintenance"]["min_days_between"] = 5
    relaxed = compile_protocol(raw)
    assert relaxed.infusion_plan.minimum_days_before(8) == 5
    assert spacing_problem(relaxed, 8, FIRST + timedelta(days=5), 7, FIRST) is None
    assert "at least 5 days apart" in relaxed.infusion_plan.describe()
    raw["infusion_plan"]["maintenance"]["min_days_between"] = 8
    with pytest.raises(ProtocolError, match=r"maintenance.min_days_between.*more than its interval_days 7"):
        compile_protocol(raw)


def test_before_infusion_one_the_repeated_protocols_worklist_offers_the_baseline():
    """Issue 11 point 7: before infusion 1 the worklist offered only 'Week 1'."""
    from protocol.schedule import worklist

    rows = worklist(REPEATED, [{"code": "KET-001", "enrolled_at": FIRST - timedelta(days=3)}], FIRST)
    assert [(r.timepoint_id, r.label, r.scales) for r in rows] == [
        ("baseline", "Baseline (before infusion 1)", ("madrs", "qids_sr16"))
    ]


def test_a_baseline_timepoint_after_the_infusion_start_is_refused():
    raw = copy.deepcopy(REPEATED.raw)
    raw["baseline"]["timepoint"] = "week_1"
    with pytest.raises(
        ProtocolError,
        match=r"\$\.baseline\.timepoint: baseline timepoint 'week_1' is due 7 days after "
        r"the infusion starts.*\[rule: baseline-before-infusion\]",
    ):
        compile_protocol(raw)
