"""Hand-computed cases for every outcome rule the views show, under the default protocol:
baseline = last usable rating completed strictly before infusion 1 starts, no older than 14 days;
response = ≥ 50 % reduction; remission = MADRS ≤ 10; combined = both; relapse = after a response,
MADRS ≥ 22 or reduction < 50 % at two assessments in a row. Also the dissociation peak, the
threshold lines, a missing baseline, a rater change and an amended score."""

from datetime import UTC, datetime, timedelta

import pytest

from analytics.dissociation import assign_infusion, infusion_courses, peak_of
from analytics.outcomes import participant_outcomes, percent_change, rater_changes, scale_outcome, threshold_lines
from analytics.records import InfusionEvent, assessment, assessment_from_row, parse_time
from db.analytics import AssessmentRow
from protocol import load_protocol

PROTOCOL = load_protocol()
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
INFUSION = InfusionEvent(1, T0, T0 + timedelta(minutes=40), 0.5, 35.0)
_ids = iter(range(1, 10_000))


def rating(timepoint, minutes, total, *, scale="madrs", rater="rita", status="signed", n_scores=1, **extra):
    return assessment(
        next(_ids),
        1,
        scale,
        timepoint,
        status,
        T0 + timedelta(minutes=minutes),
        total,
        rater=rater,
        n_scores=n_scores,
        **extra,
    )


DAY = 24 * 60
CASE_A = [
    rating("baseline", -2 * DAY, 30),
    rating("min_40", 42, 20),
    rating("day_1", DAY, 14),
    rating("day_2", 2 * DAY, 9),
    rating("day_7", 7 * DAY, 22),
    rating("day_14", 14 * DAY, 25),
]


def flags(outcome, kind):
    return [outcome.flag(p, kind) for p in outcome.points]


# --------------------------------------------------------------------------- response, remission, relapse


def test_responder_remitter_and_relapse_hand_computed():
    o = scale_outcome(PROTOCOL, "madrs", CASE_A, [INFUSION])
    assert o.baseline_total == 30 and o.baseline.timepoint == "baseline"
    assert [p.total for p in o.points] == [20, 14, 9, 22, 25]
    assert [p.change for p in o.points] == [-10, -16, -21, -8, -5]
    assert [round(p.percent_change, 1) for p in o.points] == [-33.3, -53.3, -70.0, -26.7, -16.7]
    assert flags(o, "response") == [False, True, True, False, False]  # 15 is the line: 14 and 9 are below
    assert flags(o, "remission") == [False, False, True, False, False]  # ≤ 10
    assert flags(o, "combined") == [False, False, True, False, False]  # both at once: day 2 only
    # relapse after the day-1 response: day 2 is fine (9), day 7 ≥ 22 (1 of 2), day 14 ≥ 22 again → relapse
    assert flags(o, "relapse") == [False, False, False, False, True]
    assert o.first_response.timepoint == "day_1" and o.time_to_first_response_hours == 24.0
    assert o.relapse.timepoint == "day_14"
    assert o.endpoint.timepoint == "day_1"  # the protocol's primary endpoint (24 h)
    assert (o.endpoint.total, round(o.endpoint_percent_change, 1)) == (14, -53.3)
    assert (o.endpoint_flag("response"), o.endpoint_flag("remission"), o.endpoint_flag("combined")) == (
        True,
        False,
        False,
    )


def test_exactly_half_is_a_response_and_just_above_is_not():
    o = scale_outcome(
        PROTOCOL,
        "madrs",
        [rating("baseline", -60, 31), rating("day_1", DAY, 15), rating("day_2", 2 * DAY, 16)],
        [INFUSION],
    )
    # 31 → 15 is a 51.6 % reduction; 31 → 16 is 48.4 %; the line for 31 is 15.5
    assert flags(o, "response") == [True, False]
    exact = scale_outcome(PROTOCOL, "madrs", [rating("baseline", -60, 30), rating("day_1", DAY, 15)], [INFUSION])
    assert flags(exact, "response") == [True]  # exactly 50 %, computed exactly (no float edge)


def test_relapse_needs_two_in_a_row_and_a_response_first():
    streak_broken = [
        rating("baseline", -60, 30),
        rating("day_1", DAY, 12),
        rating("day_2", 2 * DAY, 23),
        rating("day_3", 3 * DAY, 10),
        rating("day_7", 7 * DAY, 24),
    ]
    o = scale_outcome(PROTOCOL, "madrs", streak_broken, [INFUSION])
    assert flags(o, "relapse") == [False, False, False, False] and o.relapse is None
    never_responded = [rating("baseline", -60, 30), rating("day_1", DAY, 25), rating("day_2", 2 * DAY, 26)]
    o = scale_outcome(PROTOCOL, "madrs", never_responded, [INFUSION])
    assert flags(o, "relapse") == [False, False] and o.first_response is None


def test_percent_change_signs_and_zero_baseline():
    assert percent_change(30, 15) == -50.0 and percent_change(20, 25) == 25.0
    assert percent_change(0, 4) is None and percent_change(None, 4) is None


# --------------------------------------------------------------------------- baseline selection


def test_missing_baseline_leaves_response_undecided_but_remission_decided():
    o = scale_outcome(PROTOCOL, "madrs", [rating("day_1", DAY, 8), rating("day_2", 2 * DAY, 12)], [INFUSION])
    assert o.baseline is None and o.baseline_total is None
    assert [p.percent_change for p in o.points] == [None, None]
    assert flags(o, "response") == [None, None]  # undecided, never "not met"
    assert flags(o, "remission") == [True, False]  # ≤ 10 needs no baseline
    assert flags(o, "combined") == [None, False]  # unknown and met → unknown; unknown and not met → not met
    assert flags(o, "relapse") == [False, False]
    assert o.first_response is None and o.time_to_first_response_hours is None
    assert threshold_lines(PROTOCOL, "madrs", None)[0].kind == "remission"  # no response line without a baseline


@pytest.mark.parametrize(
    ("pre", "expected"),
    [
        ([(-15 * DAY, 33)], None),  # older than the 14-day lookback
        ([(0, 33)], None),  # completed exactly at the start: not strictly before
        ([(-3 * DAY, 33), (-DAY, 28)], 28),  # the last one before the infusion
        ([(-3 * DAY, 33), (-DAY, None)], 33),  # an incomplete rating (no total) cannot be the baseline
    ],
)
def test_baseline_rule_hand_computed(pre, expected):
    ratings = [rating("baseline", m, t) for m, t in pre] + [rating("day_1", DAY, 10)]
    assert scale_outcome(PROTOCOL, "madrs", ratings, [INFUSION]).baseline_total == expected


def test_no_infusion_yet_means_no_baseline_and_no_post_points():
    o = scale_outcome(PROTOCOL, "madrs", [rating("baseline", -60, 30)], [])
    assert o.baseline is None and o.points == () and o.first_infusion_at is None


def test_the_first_infusion_anchors_even_when_listed_out_of_order():
    second = InfusionEvent(2, T0 + timedelta(days=2))
    o = scale_outcome(PROTOCOL, "madrs", CASE_A, [second, INFUSION])
    assert o.first_infusion_at == T0 and o.baseline_total == 30


# --------------------------------------------------------------------------- rater change, amendment


def test_a_rater_change_is_reported_and_changes_no_number():
    changed = [
        rating("baseline", -2 * DAY, 30, rater="rita"),
        rating("min_40", 42, 20, rater="rita"),
        rating("day_1", DAY, 14, rater="rob"),
        rating("day_2", 2 * DAY, 9, rater="rob"),
    ]
    same = [a._replace(rater="rita") for a in changed]
    o, reference = (
        scale_outcome(PROTOCOL, "madrs", changed, [INFUSION]),
        scale_outcome(PROTOCOL, "madrs", same, [INFUSION]),
    )
    assert [(c.timepoint, c.previous_rater, c.rater) for c in o.rater_changes] == [("day_1", "rita", "rob")]
    assert reference.rater_changes == ()
    assert [dict(p.flags) for p in o.points] == [dict(p.flags) for p in reference.points]
    assert rater_changes(changed)[0].assessment_id == changed[2].id


def test_an_amended_score_counts_with_its_current_total():
    original = rating("day_1", DAY, 16)  # 46.7 % below 30: no response
    amended = original._replace(total=14, status="amended", n_scores=2)  # a rescoring added a score row
    o_before = scale_outcome(PROTOCOL, "madrs", [rating("baseline", -60, 30), original], [INFUSION])
    o_after = scale_outcome(PROTOCOL, "madrs", [rating("baseline", -60, 30), amended], [INFUSION])
    assert o_before.endpoint_flag("response") is False and o_after.endpoint_flag("response") is True
    assert amended.amended and not original.amended
    assert original._replace(status="signed", n_scores=2).amended  # amended, then signed again: still amended


def test_drafts_and_unscored_assessments_are_not_used():
    draft = rating("day_1", DAY, 5, status="draft")
    unscored = rating("day_2", 2 * DAY, None)
    o = scale_outcome(PROTOCOL, "madrs", [rating("baseline", -60, 30), draft, unscored], [INFUSION])
    assert o.points == ()


def test_participant_outcomes_covers_every_scale_given():
    extra = [rating("baseline", -60, 20, scale="qids_sr16"), rating("day_1", DAY, 4, scale="qids_sr16")]
    outcomes = participant_outcomes(PROTOCOL, CASE_A + extra, [INFUSION])
    assert set(outcomes) == {"madrs", "qids_sr16"}
    q = outcomes["qids_sr16"]
    assert q.endpoint_flag("response") is True and q.endpoint_flag("remission") is True  # 4 ≤ 5, −80 %


# --------------------------------------------------------------------------- threshold lines


def test_threshold_lines_from_the_protocol():
    lines = {line.kind: line for line in threshold_lines(PROTOCOL, "madrs", 30)}
    assert (lines["response"].value, lines["remission"].value) == (15.0, 10.0)
    assert lines["response"].text == "Response ≤ 15" and "50 % below the baseline of 30" in lines["response"].label
    assert threshold_lines(PROTOCOL, "madrs", 31)[0].value == 15.5
    phq = threshold_lines(PROTOCOL, "phq9", None)
    assert [(t.kind, t.value, t.strict, t.text) for t in phq] == [("remission", 5.0, True, "Remission < 5")]
    assert threshold_lines(PROTOCOL, "cadss", 10) == []


# --------------------------------------------------------------------------- dissociation


def cadss(timepoint, minutes, total, **kw):
    return rating(timepoint, minutes, total, scale="cadss", **kw)


def test_dissociation_peak_and_its_time_hand_computed():
    ratings = [cadss("baseline", -30, 2), cadss("min_40", 40, 34), cadss("min_120", 120, 8)]
    bprs = [
        rating("baseline", -30, 22, scale="bprs", subscales={"positive": 5}),
        rating("min_40", 41, 30, scale="bprs", subscales={"positive": 9}),
    ]
    courses = infusion_courses(ratings + bprs, [INFUSION])
    by = {(c.scale_id, c.measure): c for c in courses}
    c = by["cadss", "total"]
    assert (c.pre.value, [(p.minutes, p.value) for p in c.post]) == (2, [(40.0, 34), (120.0, 8)])
    assert (c.peak.value, c.peak.minutes, c.peak_change) == (34, 40.0, 32)
    b = by["bprs", "positive"]  # the stored subscale, not the total
    assert (b.pre.value, b.peak.value, b.peak.minutes, b.peak_change) == (5, 9, 41.0, 4)


def test_a_tied_peak_is_the_earliest_and_no_pre_means_no_change():
    c = infusion_courses([cadss("min_40", 40, 20), cadss("min_120", 120, 20)], [INFUSION])[0]
    assert (c.peak.minutes, c.peak_change) == (40.0, None)


def test_ratings_are_assigned_to_the_infusion_their_timepoint_names_or_by_time():
    second = InfusionEvent(2, T0 + timedelta(days=14))
    named = cadss("min_40@2", 14 * DAY + 45, 12)
    far = cadss("day_3", 3 * DAY, 3)  # 3 days after infusion 1, 11 days before infusion 2: around none
    pre2 = cadss("pre_infusion@2", 14 * DAY - 20, 1)
    courses = infusion_courses([cadss("min_40", 42, 30), named, far, pre2], [INFUSION, second])
    assert [(c.infusion.number, c.peak.value if c.peak else None, c.pre.value if c.pre else None) for c in courses] == [
        (1, 30, None),
        (2, 12, 1),
    ]
    assert assign_infusion(far, [INFUSION, second]) is None
    assert peak_of(courses).value == 30  # the highest over all infusions


# --------------------------------------------------------------------------- records from rows


def test_rows_from_the_database_become_records():
    row = AssessmentRow(
        7,
        1,
        "min_40@2",
        "bprs",
        "amended",
        "24h",
        "rita",
        "2026-03-02T09:40:00.000000Z",
        "2026-03-02T09:52:00.000000Z",
        30,
        None,
        None,
        '{"positive": 9}',
        1,
        "sha256:x",
        "1.0.0",
        2,
    )
    a = assessment_from_row(row)
    assert assessment_from_row(row._asdict()) == a  # a mapping with the same names reads the same
    assert (a.timepoint_id, a.infusion_number, a.subscales["positive"], a.amended) == ("min_40", 2, 9, True)
    assert a.completed_at == datetime(2026, 3, 2, 9, 52, tzinfo=UTC) and a.usable
    assert assessment_from_row(row, subscale_scales=("cadss",)).subscales == {}  # not decoded when not needed
    assert parse_time("2026-03-02T10:00:00+01:00") == T0 and parse_time(None) is None
    with pytest.raises(ValueError, match="has no timezone"):
        parse_time("2026-03-02T09:00:00")
