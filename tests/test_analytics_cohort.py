"""Cohort summaries, hand-computed: trajectories, mean and t-based 95 % CI per planned timepoint,
response/remission rates with their denominators, the participant table, the completeness
matrix (protocol.schedule states) and its missed counts, and which participants a new cohort computes again."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

import analytics.cohort as cohort_module
from analytics.cohort import (
    Cohort,
    Participant,
    build_cohort,
    cohort_outcomes,
    completeness,
    format_rate,
    participant_table,
    response_rates,
    timepoint_order,
    timepoint_summary,
    to_csv,
    trajectory_frame,
)
from analytics.records import InfusionEvent, assessment
from db.analytics import AssessmentRow, InfusionRow, ParticipantRow
from protocol import load_protocol

PROTOCOL = load_protocol()
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DAY = 24 * 60
_ids = iter(range(1, 100_000))


def rating(pid, timepoint, minutes, total, scale="madrs", rater="rita", **extra):
    return assessment(
        next(_ids), pid, scale, timepoint, "signed", T0 + timedelta(minutes=minutes), total, rater=rater, **extra
    )


def small_cohort():
    """P1 responds at day 1 (30 → 14); P2 does not (30 → 16); P3 has no baseline (day 1: 8);
    P4 has no infusion yet. Day 1 totals 14, 16, 8; P1 and P2 arms differ."""
    people = [
        Participant(1, "P1", "LON", "ketamine", "enrolled", T0 - timedelta(days=10)),
        Participant(2, "P2", "LON", "midazolam", "enrolled", T0 - timedelta(days=10)),
        Participant(3, "P3", "OXF", "ketamine", "enrolled", T0 - timedelta(days=10)),
        Participant(4, "P4", "OXF", None, "screening", T0 - timedelta(days=10)),
    ]
    ratings = [
        rating(1, "baseline", -DAY, 30),
        rating(1, "day_1", DAY, 14),
        rating(1, "day_2", 2 * DAY, 10),
        rating(1, "baseline", -DAY, 3, scale="cadss"),
        rating(1, "min_40", 40, 25, scale="cadss"),
        rating(2, "baseline", -DAY, 30, rater="rob"),
        rating(2, "day_1", DAY, 16, rater="ann"),
        rating(3, "day_1", DAY, 8),
        rating(4, "baseline", -DAY, 33),
    ]
    infusions = {
        pid: [InfusionEvent(1, T0 + timedelta(days=0), T0 + timedelta(minutes=40), 0.5, 35.0)] for pid in (1, 2, 3)
    }
    return Cohort.from_assessments(people, ratings, infusions)


def test_trajectory_frame_has_baselines_and_post_points_in_nominal_order():
    cohort = small_cohort()
    frame = trajectory_frame(PROTOCOL, cohort, cohort_outcomes(PROTOCOL, cohort, "madrs"))
    assert list(zip(frame["participant"], frame["timepoint"], frame["total"], strict=True)) == [
        ("P1", "baseline", 30),
        ("P2", "baseline", 30),
        ("P1", "day_1", 14),
        ("P2", "day_1", 16),
        ("P3", "day_1", 8),
        ("P1", "day_2", 10),
    ]
    assert "P4" not in set(frame["participant"])  # no infusion: nothing to follow yet
    assert list(frame["baseline"]) == [True, True, False, False, False, False]
    assert frame.loc[frame["participant"] == "P3", "response"].isna().all()  # no baseline: undecided


def test_mean_and_ci_per_timepoint_hand_computed():
    cohort = small_cohort()
    summary = timepoint_summary(trajectory_frame(PROTOCOL, cohort, cohort_outcomes(PROTOCOL, cohort, "madrs")))
    day1 = summary[summary["timepoint"] == "day_1"].iloc[0]
    # 14, 16, 8: mean 12.6667, sd 4.1633, se 2.4037, t(0.975; 2) = 4.3027 → half-width 10.3424
    assert day1["n"] == 3 and day1["mean"] == pytest.approx(12.6667, abs=1e-4)
    assert (day1["ci_low"], day1["ci_high"]) == (pytest.approx(2.3243, abs=1e-3), pytest.approx(23.0091, abs=1e-3))
    single = summary[summary["timepoint"] == "day_2"].iloc[0]
    assert single["n"] == 1 and pd.isna(single["ci_low"])  # one value: no interval
    by_arm = timepoint_summary(
        trajectory_frame(PROTOCOL, cohort, cohort_outcomes(PROTOCOL, cohort, "madrs")), by_arm=True
    )
    assert set(by_arm[by_arm["timepoint"] == "day_1"]["arm"]) == {"ketamine", "midazolam"}


def test_rates_carry_their_denominators():
    cohort = small_cohort()
    rates = response_rates(trajectory_frame(PROTOCOL, cohort, cohort_outcomes(PROTOCOL, cohort, "madrs")))
    day1 = rates[rates["timepoint"] == "day_1"].iloc[0]
    # response: P1 yes, P2 no, P3 undecided (no baseline) → 1/2; remission (≤ 10): only P3 → 1/3
    assert (day1["responders"], day1["response_n"], day1["response_pct"]) == (1, 2, 50.0)
    assert (day1["remitters"], day1["remission_n"]) == (1, 3)
    assert format_rate(1, 3) == "1/3 (33 %)" and format_rate(0, 0) == "—/0"
    assert "baseline" not in set(rates["timepoint"])


def test_participant_table_hand_computed_and_blinded():
    cohort = small_cohort()
    outcomes = cohort_outcomes(PROTOCOL, cohort, "madrs")
    table = participant_table(PROTOCOL, cohort, outcomes, {"P1": 2}, show_arm=True).set_index("participant")
    p1 = table.loc["P1"]
    assert (p1["baseline"], p1["endpoint"], p1["percent_change"]) == (30, 14, -53.3)
    assert (p1["responder"], p1["remitter"], p1["first_response_hours"]) == (True, False, 24.0)
    assert p1["first_response_at"] == "Day 1 (24 hours)" and pd.isna(p1["relapse_at"])
    assert (p1["dissociation_peak"], p1["dissociation_peak_minutes"], p1["missed_assessments"]) == (25, 40, 2)
    assert table.loc["P2", "responder"] == False  # noqa: E712  (30 → 16 is 46.7 %: not a response)
    assert table.loc["P2", "rater_changes"] == 1  # rob → ann
    assert pd.isna(table.loc["P3", "responder"]) and table.loc["P3", "remitter"] == True  # noqa: E712
    assert pd.isna(table.loc["P4", "baseline"])
    blinded = participant_table(PROTOCOL, cohort, outcomes, {}, show_arm=False)
    assert "arm" not in blinded.columns and "arm" in table.columns
    csv = to_csv(blinded).decode("utf-8-sig")
    assert csv.splitlines()[0].startswith("participant,site,status,baseline,endpoint,percent_change")
    assert len(csv.splitlines()) == 5


def test_completeness_matrix_states_and_missed_count():
    """Default protocol, infusion at T0, now = T0 + 2 days + 1 hour:
    baseline all four scales done; 40 min only MADRS of MADRS/CADSS/BPRS (2 missed); 80, 120 and
    230 min nothing (1 + 3 + 1 missed); day 1 MADRS + QIDS done; day 2 due 15 min after T0 + 2 d,
    window ±8 h → overdue; day 3 window opens at T0 + 2.5 d → upcoming; days 7, 14 upcoming."""
    person = Participant(1, "P1", "LON", None, "enrolled", T0 - timedelta(days=10))
    ratings = [rating(1, "baseline", -DAY, 30, scale=s) for s in ("madrs", "qids_sr16", "cadss", "bprs")]
    ratings += [
        rating(1, "min_40", 42, 20),
        rating(1, "day_1", DAY, 14),
        rating(1, "day_1", DAY + 5, 8, scale="qids_sr16"),
    ]
    cohort = Cohort.from_assessments([person], ratings, {1: [InfusionEvent(1, T0)]})
    result = completeness(PROTOCOL, cohort, T0 + timedelta(days=2, hours=1))
    row = dict(zip([k[0] for k in result.columns], result.matrix.loc["P1"], strict=True))
    assert row == {
        "baseline": "done",
        "min_40": "missing",
        "min_80": "missing",
        "min_120": "missing",
        "min_230": "missing",
        "day_1": "done",
        "day_2": "overdue",
        "day_3": "upcoming",
        "day_7": "upcoming",
        "day_14": "upcoming",
    }
    assert result.missed == {"P1": 7}
    assert (
        result.counts().loc["missing"].sum() == 4 and list(result.matrix.columns)[0] == "Baseline (before the infusion)"
    )
    assert result.counts()["Day 2"].to_dict() == {"done": 0, "missing": 0, "due": 0, "overdue": 1, "upcoming": 0}
    assert result.counts().sum().to_dict() == dict.fromkeys(result.matrix.columns, 1)  # one participant
    later = completeness(PROTOCOL, cohort, T0 + timedelta(days=2, hours=9))  # day 2 window closed
    assert later.matrix.loc["P1", "Day 2"] == "missing" and later.missed["P1"] == 8


def test_a_participant_whose_schedule_cannot_be_planned_is_reported_not_fatal():
    person = Participant(1, "P1", "LON", None, "enrolled", T0)
    cohort = Cohort.from_assessments([person], [], {1: [InfusionEvent(2, T0)]})  # no infusion 1
    result = completeness(PROTOCOL, cohort, T0)
    assert "without infusion 1" in result.problems["P1"] and result.missed["P1"] == 0


def test_memos_recompute_when_a_participants_data_changes():
    cohort = small_cohort()
    first = cohort_outcomes(PROTOCOL, cohort, "madrs")
    again = cohort_outcomes(PROTOCOL, small_cohort(), "madrs")
    assert again[1].endpoint.total == first[1].endpoint.total == 14
    changed = Cohort.from_assessments(
        cohort.participants,
        [
            a._replace(total=20) if (a.participant_id, a.timepoint, a.scale_id) == (1, "day_1", "madrs") else a
            for pid in (1, 2, 3, 4)
            for a in cohort.assessments(pid)
        ],
        cohort.infusions,
    )
    after = cohort_outcomes(PROTOCOL, changed, "madrs")
    assert after[1].endpoint.total == 20 and after[1].endpoint_flag("response") is False


def test_build_cohort_from_database_rows():
    people = [
        ParticipantRow(
            id=1,
            code="P1",
            site_code="LON",
            site_id=1,
            arm="a",
            status="enrolled",
            created_at="2026-02-20T09:00:00.000000Z",
        )
    ]
    common = dict(
        participant_id=1,
        scale_id="madrs",
        recall=None,
        started_at=None,
        band=None,
        band_set=None,
        subscales=None,
        complete=1,
        definition_hash=None,
        engine_version=None,
    )
    rows = [
        AssessmentRow(
            id=1,
            timepoint="baseline",
            status="signed",
            rater=5,
            total=30,
            n_scores=1,
            completed_at="2026-03-01T09:00:00.000000Z",
            **common,
        ),
        AssessmentRow(
            id=2,
            timepoint="day_1",
            status="amended",
            rater=6,
            total=12,
            n_scores=2,
            completed_at="2026-03-03T09:00:00.000000Z",
            **common,
        ),
    ]
    infusions = [
        InfusionRow(
            participant_id=1,
            number=1,
            started_at="2026-03-02T09:00:00.000000Z",
            ended_at="2026-03-02T09:40:00.000000Z",
            dose_mg_per_kg=0.5,
            total_dose_mg=35.0,
            planned_duration_min=40,
        )
    ]
    cohort = build_cohort(people, rows, infusions)
    o = cohort_outcomes(PROTOCOL, cohort, "madrs")[1]
    assert (o.baseline_total, o.endpoint.total, o.endpoint_flag("response")) == (30, 12, True)
    assert cohort.scale(1, "madrs")[1].amended
    assert cohort.completed(1) == {
        ("baseline", None): {"madrs": datetime(2026, 3, 1, 9, tzinfo=UTC)},
        ("day_1", None): {"madrs": datetime(2026, 3, 3, 9, tzinfo=UTC)},
    }


def test_timepoint_order_follows_nominal_time_including_per_infusion_keys():
    repeated = load_protocol(Path(__file__).resolve().parent.parent / "protocol" / "studies" / "repeated_infusion.json")
    keys = [
        ("week_1", None),
        ("day_1", 2),
        ("min_40", 1),
        ("pre_infusion", 2),
        ("day_1", 1),
        ("pre_infusion", 1),
        ("free text", None),
    ]
    assert timepoint_order(repeated, keys) == [
        ("pre_infusion", 1),
        ("min_40", 1),
        ("day_1", 1),
        ("pre_infusion", 2),
        ("day_1", 2),
        ("week_1", None),
    ]


def test_a_new_cohort_recomputes_only_the_participants_whose_data_changed(monkeypatch):
    cohort = small_cohort()
    first = cohort_outcomes(PROTOCOL, cohort, "madrs")
    judged = []
    real = cohort_module.scale_outcome
    monkeypatch.setattr(
        cohort_module, "scale_outcome", lambda *a, **k: judged.append(a[2][0].participant_id) or real(*a, **k)
    )
    assessments = [a for pid in (1, 2, 3, 4) for a in cohort.assessments(pid)]
    same = Cohort.from_assessments(cohort.participants, assessments, cohort.infusions).carry_over(cohort)
    assert cohort_outcomes(PROTOCOL, same, "madrs") == first and judged == []  # equal data: nothing judged again
    changed = Cohort.from_assessments(
        cohort.participants,
        [
            a._replace(total=20) if (a.participant_id, a.timepoint, a.scale_id) == (1, "day_1", "madrs") else a
            for a in assessments
        ],
        cohort.infusions,
    ).carry_over(cohort)
    after = cohort_outcomes(PROTOCOL, changed, "madrs")
    assert judged == [1]  # only the participant whose rating changed
    assert after[1].endpoint.total == 20 and all(after[pid] is first[pid] for pid in (2, 3, 4))
    judged.clear()
    cohort_outcomes(PROTOCOL, Cohort.from_assessments(cohort.participants, assessments, cohort.infusions), "madrs")
    assert judged == [1, 2, 3, 4]  # no previous cohort: everyone is judged
