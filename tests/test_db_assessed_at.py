"""Ratings entered after they happened (issue 11, point 11 for ratings): the one rule for the
time it happened (protocol.late_entry), its storage in assessments.assessed_at with the reason
(db.assessments.start_assessment refuses what the rule refuses, writing nothing), and the time
the schedule and the analytics use for such a rating (when it happened, not when it was typed in).
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from analytics.outcomes import scale_outcome
from analytics.records import assessment_from_row, infusion_from_row
from db import ValidationError, audit, clinical, clock
from db import analytics as store
from db import assessments as A
from db.schedule import schedule_inputs
from protocol import load_protocol
from protocol.late_entry import LATE_ENTRY_MINUTES, is_late, late_entry_problem
from protocol.schedule import participant_schedule
from tests.conftest_db import counts, full_responses, mark_eligible

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 3, 5, 10, 0, tzinfo=UTC)
ENROLLED = datetime(2026, 3, 1, 9, 0, 30, tzinfo=UTC)
MADRS = {f"madrs_{n}": 2 for n in range(1, 11)}


@contextmanager
def frozen(moment: datetime):
    """Everything the db package stores happens at `moment`."""
    original = clock.utc_now
    clock.utc_now = lambda: clock.format_utc(moment)
    try:
        yield
    finally:
        clock.utc_now = original


# --------------------------------------------------------------------------- the rule


def test_a_time_now_or_shortly_before_needs_no_reason():
    assert late_entry_problem(NOW, NOW, ENROLLED, None) is None
    assert late_entry_problem(NOW - timedelta(minutes=LATE_ENTRY_MINUTES), NOW, ENROLLED, "") is None
    assert not is_late(NOW - timedelta(minutes=LATE_ENTRY_MINUTES), NOW)
    assert is_late(NOW - timedelta(minutes=LATE_ENTRY_MINUTES, seconds=1), NOW)


def test_a_late_time_needs_a_reason_and_blank_is_no_reason():
    late = NOW - timedelta(days=2)
    for reason in (None, "", "   "):
        problem = late_entry_problem(late, NOW, ENROLLED, reason)
        assert problem is not None and f"more than {LATE_ENTRY_MINUTES} minutes" in problem and "reason" in problem
    assert late_entry_problem(late, NOW, ENROLLED, "rated on paper, transcribed from the source") is None


def test_a_future_time_is_refused_beyond_a_minute_of_clock_difference():
    assert late_entry_problem(NOW + timedelta(seconds=50), NOW, ENROLLED, None) is None  # the minute being picked
    problem = late_entry_problem(NOW + timedelta(hours=3), NOW, ENROLLED, "a reason", zone=LONDON)
    assert problem == (
        "The time it happened (2026-03-05 13:00 GMT) is in the future: it is now 2026-03-05 10:00 "
        "GMT. Enter the date and time the event actually took place."
    )


def test_a_time_before_enrolment_is_refused_to_the_minute():
    assert late_entry_problem(datetime(2026, 3, 1, 9, 0, tzinfo=UTC), NOW, ENROLLED, "paper") is None  # same minute
    problem = late_entry_problem(datetime(2026, 3, 1, 8, 59, tzinfo=UTC), NOW, ENROLLED, "paper", zone=LONDON)
    assert problem is not None and "before the participant's enrolment (2026-03-01 09:00 GMT)" in problem
    assert late_entry_problem(datetime(2020, 1, 1, tzinfo=UTC), NOW, None, "paper") is None  # enrolment unknown


def test_naive_times_are_refused_not_guessed():
    with pytest.raises(ValueError, match="no time zone"):
        late_entry_problem(datetime(2026, 3, 5, 9, 0), NOW, ENROLLED, None)


# --------------------------------------------------------------------------- storage


def _enrol(w, moment=ENROLLED):
    """A participant enrolled at `moment` at site S1 (Europe/London)."""
    from db import participants

    with frozen(moment):
        return participants.create_participant(w.db, w.coord, "P900", "S1")


def test_a_rating_entered_later_keeps_both_times_and_the_reason(world):
    person = _enrol(world)
    happened = NOW - timedelta(days=2)
    with frozen(NOW):
        started = A.start_assessment(
            world.db,
            world.rater,
            person["id"],
            "day_1",
            "madrs",
            "clinician",
            assessed_at=happened,
            late_entry_reason="  rated on paper at the visit ",
        )
    assert started["assessed_at"] == clock.format_utc(happened)
    assert started["late_entry_reason"] == "rated on paper at the visit"
    assert started["started_at"] == clock.format_utc(NOW)  # the entry time stays the entry time
    listed = A.list_assessments(world.db, participant_id=person["id"])
    assert [(r["assessed_at"], r["late_entry_reason"]) for r in listed] == [
        (clock.format_utc(happened), "rated on paper at the visit")
    ]
    event = next(
        e for e in audit.events_for(world.db, "assessment", started["id"]) if e["action"] == "assessment.start"
    )
    assert event["new_value"]["assessed_at"] == clock.format_utc(happened)
    assert event["reason"] == "rated on paper at the visit"


def test_a_live_rating_has_no_time_it_happened(world):
    person = _enrol(world)
    with frozen(NOW):
        started = A.start_assessment(world.db, world.rater, person["id"], "day_1", "madrs", "clinician")
    assert started["assessed_at"] is None and started["late_entry_reason"] is None


def test_text_times_with_an_offset_are_read_as_utc(world):
    person = _enrol(world)
    with frozen(NOW):
        started = A.start_assessment(
            world.db, world.rater, person["id"], "day_1", "madrs", "clinician", assessed_at="2026-03-05T10:30:00+01:00"
        )  # 09:30 UTC: 30 minutes ago
    assert started["assessed_at"] == "2026-03-05T09:30:00.000000Z"


@pytest.mark.parametrize(
    ("assessed_at", "reason", "message"),
    [
        (NOW + timedelta(hours=2), "paper", "is in the future"),
        (ENROLLED - timedelta(days=1), "paper", "before the participant's enrolment"),
        (NOW - timedelta(hours=5), None, "give a reason for the late entry"),
        (NOW - timedelta(hours=5), "   ", "give a reason for the late entry"),
        (None, "paper", "goes with the time the rating was done"),
        (datetime(2026, 3, 4, 9, 0), "paper", "has no time zone"),
        ("yesterday", "paper", "must be a date and time with a time zone"),
        (1741165200, "paper", "must be a date and time with a time zone"),
    ],
)
def test_refused_times_write_nothing(world, db_path, assessed_at, reason, message):
    person = _enrol(world)
    before = counts(db_path)
    with frozen(NOW), pytest.raises(ValidationError, match=message):
        A.start_assessment(
            world.db,
            world.rater,
            person["id"],
            "day_1",
            "madrs",
            "clinician",
            assessed_at=assessed_at,
            late_entry_reason=reason,
        )
    assert counts(db_path) == before


def test_the_message_gives_times_in_the_sites_time_zone(world):
    person = _enrol(world)
    with frozen(datetime(2026, 7, 5, 10, 0, tzinfo=UTC)), pytest.raises(ValidationError) as refused:
        A.start_assessment(
            world.db,
            world.rater,
            person["id"],
            "day_1",
            "madrs",
            "clinician",
            assessed_at=datetime(2026, 7, 5, 13, 0, tzinfo=UTC),
        )
    assert "(2026-07-05 14:00 BST) is in the future: it is now 2026-07-05 11:00 BST" in str(refused.value)


# --------------------------------------------------------------------------- schedule and analytics


def _day_3_with_a_paper_day_1(w):
    """Infusion 1 on 2 March 09:00 UTC; the day-1 QIDS-SR16 done live at 24 h; the day-1 MADRS done
    on paper at 24 h 10 min and entered on day 3 (5 March 10:00); returns (participant, MADRS)."""
    person = _enrol(w)
    infusion = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    rated = infusion + timedelta(days=1, minutes=10)
    with frozen(ENROLLED + timedelta(hours=1)):
        mark_eligible(w.db, w.coord, w.rater, person["id"])
    with frozen(infusion + timedelta(hours=1)):
        clinical.record_infusion(
            w.db,
            w.coord,
            person["id"],
            1,
            clock.format_utc(infusion),
            70,
            0.5,
            ended_at=clock.format_utc(infusion + timedelta(minutes=40)),
        )
    with frozen(rated + timedelta(minutes=20)):
        A.save_assessment(w.db, w.rater, person["id"], "day_1", "qids_sr16", "kiosk", full_responses("qids_sr16"))
    with frozen(NOW):
        madrs = A.start_assessment(
            w.db,
            w.rater,
            person["id"],
            "day_1",
            "madrs",
            "clinician",
            assessed_at=rated,
            late_entry_reason="paper source",
        )
        for item, value in MADRS.items():
            madrs = A.save_draft_response(w.db, w.rater, madrs["id"], item, value, expected_version=madrs["version"])
        madrs = A.complete_assessment(w.db, w.rater, madrs["id"], madrs["version"])
    assert madrs["completed_at"] == clock.format_utc(NOW)
    return person, madrs, infusion, rated


def test_the_schedule_counts_the_timepoint_done_when_it_happened(world):
    person, madrs, _, rated = _day_3_with_a_paper_day_1(world)
    inputs = schedule_inputs(world.db, participant_id=person["id"])[0]
    entry = next(c for c in inputs["completed"] if c["scale"] == "madrs" and c["timepoint_id"] == "day_1")
    assert entry["completed_at"] == rated
    day_1 = next(r for r in participant_schedule(load_protocol(), inputs, NOW) if r.timepoint_id == "day_1")
    assert day_1.state == "done"


def test_the_analytics_place_the_rating_when_it_happened(world):
    person, madrs, infusion, rated = _day_3_with_a_paper_day_1(world)
    rows = store.participant_rows(world.db, person["id"])
    records = [assessment_from_row(r) for r in rows["assessments"]]
    assert next(r for r in records if r.id == madrs["id"]).completed_at == rated
    # Ordered by when they happened (the paper MADRS at 24 h 10 min before the QIDS-SR16 at 24 h 30 min).
    assert [r.scale_id for r in records] == ["madrs", "madrs", "qids_sr16"]
    outcome = scale_outcome(load_protocol(), "madrs", records, [infusion_from_row(r) for r in rows["infusions"]])
    point = next(p for p in outcome.points if p.assessment.id == madrs["id"])
    assert point.hours == pytest.approx(24 + 10 / 60)
    assert outcome.endpoint is not None and outcome.endpoint.assessment.id == madrs["id"]  # the 24-hour endpoint
    cohort = store.cohort_rows(world.db, study="default")
    assert next(assessment_from_row(r) for r in cohort["assessments"] if r.id == madrs["id"]).completed_at == rated
    refreshed = store.refresh_cohort_rows(world.db)
    assert next(r for r in refreshed["assessments"] if r.id == madrs["id"]).completed_at == clock.format_utc(rated)
