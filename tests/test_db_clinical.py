"""The infusion day and the schedule: infusions (dose, baseline and spacing rules with audited
overrides), vitals (times as they happened, threshold warnings), adverse events (edits with a
reason, labels), planned timepoints; and the one baseline rule every view shares."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest

from analytics.cohort import cohort_outcomes, trajectory_frame
from analytics.outcomes import participant_outcomes
from analytics.records import assessment_from_row, infusion_from_row
from charts.views import cohort_from_rows
from db import ConflictError, NotFoundError, ValidationError, audit, clock
from db import analytics as store
from db import assessments as A
from db import clinical as C
from db.baseline import baseline_rating
from db.deviations import list_deviations
from db.participants import update_participant
from db.screening import baseline_severity
from protocol import load_protocol
from protocol.loader import STUDIES_DIR
from protocol.vitals import next_vitals_due, vitals_schedule
from tests.conftest_db import mark_eligible, raw, snapshot

START = "2026-03-02T09:00:00Z"
PROTOCOL = load_protocol(STUDIES_DIR / "default.json")
REPEATED = load_protocol(STUDIES_DIR / "repeated_infusion.json")
MADRS = {f"madrs_{n}": 3 for n in range(1, 11)}


class Clock:
    """db.clock.utc_now, frozen at a time the test moves: what the db stores as 'now'."""

    def __init__(self, start: str):
        self.now = clock.parse_utc(start)

    def set(self, text: str) -> None:
        self.now = clock.parse_utc(text)

    def __call__(self) -> str:
        return clock.format_utc(self.now)


@pytest.fixture(autouse=True)
def now(monkeypatch):
    """Everything here happens in March 2026: the participants are enrolled on 1 March 08:00 (the
    world fixture runs after this one), before the infusions and readings the tests log."""
    frozen = Clock("2026-03-01T08:00:00Z")
    monkeypatch.setattr(clock, "utc_now", frozen)
    return frozen


@pytest.fixture
def eligible(world, now):
    """Only an eligible participant can be dosed; mark_eligible gives them a baseline MADRS (at
    1 March 08:05, before the infusions here) and an eligible decision."""
    now.set("2026-03-01T08:05:00Z")
    mark_eligible(world.db, world.coord, world.rater, world.p1["id"])
    mark_eligible(world.db, world.coord_s2, world.rater_s2, world.p2["id"])
    now.set("2026-03-02T08:00:00Z")


def deviations(world, kind=None):
    return [d for d in list_deviations(world.db, participant_id=world.p1["id"]) if kind is None or d["kind"] == kind]


# --------------------------------------------------------------------------- infusions: dose


def test_an_infusion_is_logged_in_utc_with_its_total_dose_and_audited(eligible, world):
    infusion = C.record_infusion(world.db, world.coord, world.p1["id"], 1, "2026-03-02T10:00:00+01:00", 72.5, 0.5)
    assert infusion["started_at"] == "2026-03-02T09:00:00.000000Z"  # stored in UTC
    # the protocol's rounding (protocol.dosing: half up to 0.1 mg), not the db's own: 36.25 → 36.3
    assert infusion["total_dose_mg"] == 36.3 and infusion["planned_duration_min"] == 40
    assert infusion["deviations"] == []
    ended = C.end_infusion(world.db, world.coord, infusion["id"], "2026-03-02T09:40:00Z")
    assert ended["ended_at"] == "2026-03-02T09:40:00.000000Z"
    actions = [e["action"] for e in audit.events_for(world.db, "infusion", infusion["id"])]
    assert actions == ["infusion.create", "infusion.end"]
    with pytest.raises(ConflictError, match="already has infusion 1"):
        C.record_infusion(world.db, world.coord, world.p1["id"], 1, START, 72.5, 0.5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"weight_kg": 5}, r"weight 5 kg is outside the protocol's allowed range 30–250 kg"),
        ({"dose_mg_per_kg": 5}, r"dose 5 mg/kg is outside the protocol's allowed range 0.2–1.0 mg/kg"),
        ({"dose_mg_per_kg": 1.5}, r"dose 1.5 mg/kg is outside the protocol's allowed range 0.2–1.0 mg/kg"),
        ({"planned_duration_min": 20}, r"infusion duration 20 minutes is outside the protocol's allowed range 40–100"),
        ({"total_dose_mg": 36.25}, r"the total dose 36.25 mg does not match .* = 36.3 mg"),
        ({"started_at": "2026-03-02 09:00"}, "is not a time with a timezone"),
        ({"ended_at": "2026-03-02T08:00:00Z"}, "cannot end before it starts"),
        ({"number": 0}, "infusion number 0 is outside"),
        ({"number": 2}, "next infusion is number 1; log infusion 1 before infusion 2"),
    ],
)
def test_implausible_infusions_are_refused_and_write_nothing(eligible, world, db_path, kwargs, message):
    args = {"number": 1, "started_at": START, "weight_kg": 72.5, "dose_mg_per_kg": 0.5} | kwargs
    before = snapshot(db_path)
    with pytest.raises(ValidationError, match=message):
        C.record_infusion(world.db, world.coord, world.p1["id"], **args)
    assert snapshot(db_path) == before


def test_the_total_the_user_confirmed_is_stored_when_it_is_the_protocols(eligible, world):
    infusion = C.record_infusion(
        world.db, world.coord, world.p1["id"], 1, START, 82.3, 0.5, total_dose_mg=41.2, protocol=PROTOCOL
    )
    assert (infusion["weight_kg"], infusion["total_dose_mg"]) == (82.3, 41.2)  # 41.15 → 41.2 (half up)


# --------------------------------------------------------------------------- infusions: baseline


def test_infusion_one_before_the_baseline_is_refused_without_a_reason(eligible, world, db_path):
    before = snapshot(db_path)
    early = "2026-03-01T07:00:00Z"  # an hour before the baseline rating (08:05)
    with pytest.raises(
        ValidationError,
        match=r"P001 has no accepted baseline MADRS .* The baseline MADRS on record "
        r"was done .* after this start\. Rate the baseline MADRS first",
    ):
        C.record_infusion(world.db, world.coord, world.p1["id"], 1, early, 70, 0.5)
    with pytest.raises(ValidationError, match="no accepted baseline MADRS"):  # a blank reason is no reason
        C.record_infusion(
            world.db,
            world.coord,
            world.p1["id"],
            1,
            early,
            70,
            0.5,
            override_reasons={"infusion_before_baseline": "   "},
        )
    with pytest.raises(ValidationError, match="older than the protocol accepts"):  # 14-day lookback
        C.record_infusion(world.db, world.coord, world.p1["id"], 1, "2026-03-16T09:00:00Z", 70, 0.5)
    assert snapshot(db_path) == before
    # what the page shows before the Start button is the same rule
    [warning] = C.infusion_warnings(world.db, PROTOCOL, world.p1["id"], 1, early)
    assert warning.kind == "infusion_before_baseline" and "no accepted baseline MADRS" in warning.message
    assert C.infusion_warnings(world.db, PROTOCOL, world.p1["id"], 1, START) == []


def test_an_override_records_the_infusion_and_its_deviation_in_one_audited_transaction(eligible, world):
    early = "2026-03-01T07:00:00Z"
    infusion = C.record_infusion(
        world.db,
        world.coord,
        world.p1["id"],
        1,
        early,
        70,
        0.5,
        override_reasons={
            "infusion_before_baseline": "baseline interview done on paper, to be entered",
            "infusion_interval": "x",
        },
    )
    [deviation] = deviations(world)
    # only the rule that applied; the unused reason is ignored
    assert infusion["deviations"] == [{k: deviation[k] for k in infusion["deviations"][0]}]
    assert (deviation["kind"], deviation["timepoint"], deviation["reason"]) == (
        "infusion_before_baseline",
        "baseline",
        "baseline interview done on paper, to be entered",
    )
    assert "no accepted baseline MADRS" in deviation["description"] and deviation["recorded_by"] == world.coord["id"]
    [event] = audit.events_for(world.db, "protocol_deviation", deviation["id"])
    assert (event["action"], event["reason"], event["username"]) == (
        "deviation.record",
        "baseline interview done on paper, to be entered",
        "coord",
    )
    assert event["ts"] == audit.events_for(world.db, "infusion", infusion["id"])[0]["ts"]  # the same write


def test_one_baseline_rule_for_screening_the_infusion_log_the_trajectory_and_the_cohort(world, now):
    """A MADRS rated at week_1 (not the baseline timepoint) is no baseline anywhere; a baseline
    rated after infusion 1 started (logged with an override) is no baseline anywhere either, and
    the cohort does not plot it as one."""
    p1 = world.p1["id"]
    A.save_assessment(world.db, world.rater, p1, "week_1", "madrs", "clinician", MADRS)
    assert baseline_severity(world.db, PROTOCOL, p1) is None
    assert baseline_rating(world.db, PROTOCOL, p1, "madrs") is None
    mark_eligible(world.db, world.coord, world.rater, p1)  # the baseline, at 08:00 on 1 March
    assert baseline_severity(world.db, PROTOCOL, p1)["timepoint"] == "baseline"
    # infusion 1 logged as having started at 07:00, before that baseline (with a reason)
    C.record_infusion(
        world.db,
        world.coord,
        p1,
        1,
        "2026-03-01T07:00:00Z",
        70,
        0.5,
        ended_at="2026-03-01T07:40:00Z",
        override_reasons={"infusion_before_baseline": "paper log"},
    )
    now.set("2026-03-02T07:00:00Z")
    A.save_assessment(world.db, world.rater, p1, "day_1", "madrs", "clinician", {**MADRS, "madrs_1": 0})
    assert baseline_severity(world.db, PROTOCOL, p1) is None  # screening: no baseline
    assert baseline_rating(world.db, PROTOCOL, p1, "madrs") is None  # the infusion log's reading
    rows = store.participant_rows(world.db, p1)
    outcome = participant_outcomes(
        PROTOCOL,
        [assessment_from_row(r) for r in rows["assessments"]],
        [infusion_from_row(r) for r in rows["infusions"]],
    )["madrs"]
    # trajectory: no baseline, and the late baseline rating is no follow-up point either
    assert outcome.baseline is None and [p.timepoint for p in outcome.points] == ["week_1", "day_1"]
    cohort = cohort_from_rows(store.cohort_rows(world.db))
    frame = trajectory_frame(PROTOCOL, cohort, cohort_outcomes(PROTOCOL, cohort, "madrs"))
    assert not frame["baseline"].any() and "baseline" not in set(frame["timepoint"])  # cohort


# --------------------------------------------------------------------------- infusions: spacing


def test_repeated_protocol_spacing_needs_a_reason_and_records_a_deviation(world, now):
    p1 = world.p1["id"]
    mark_eligible(world.db, world.coord, world.rater, p1, protocol=REPEATED)
    first = C.record_infusion(world.db, world.coord, p1, 1, "2026-03-02T09:00:00Z", 70, 0.5, protocol=REPEATED)
    with pytest.raises(ValidationError, match="infusion 1 of P001 is still running: record its end"):
        C.record_infusion(world.db, world.coord, p1, 2, "2026-03-04T09:00:00Z", 70, 0.5, protocol=REPEATED)
    C.end_infusion(world.db, world.coord, first["id"], "2026-03-02T09:40:00Z")
    with pytest.raises(ValidationError, match="cannot start .* before infusion 1 ended"):
        C.record_infusion(world.db, world.coord, p1, 2, "2026-03-02T09:30:00Z", 70, 0.5, protocol=REPEATED)
    soon = "2026-03-02T09:45:00Z"  # five minutes after infusion 1 ended
    [warning] = C.infusion_warnings(world.db, REPEATED, p1, 2, soon)
    assert warning.kind == "infusion_interval"
    with pytest.raises(
        ValidationError,
        match=r"Infusion 2 would start 0 calendar days after infusion 1 .*; the "
        r"protocol allows induction infusions no less than 2 days apart\. "
        r"Choose a later start, or give a reason",
    ):
        C.record_infusion(world.db, world.coord, p1, 2, soon, 70, 0.5, protocol=REPEATED)
    assert C.list_infusions(world.db, p1) == [C.list_infusions(world.db, p1)[0]]
    second = C.record_infusion(
        world.db,
        world.coord,
        p1,
        2,
        soon,
        70,
        0.5,
        protocol=REPEATED,
        override_reasons={"infusion_interval": "PI decision: travel next week"},
    )
    [deviation] = second["deviations"]
    assert (deviation["kind"], deviation["timepoint"], deviation["reason"]) == (
        "infusion_interval",
        "Infusion 2",
        "PI decision: travel next week",
    )
    assert C.infusion_warnings(world.db, REPEATED, p1, 3, "2026-03-04T08:00:00Z") == []  # 2 calendar days later


def test_infusion_spacing_follows_the_plan(world):
    plan = REPEATED.infusion_plan
    assert [plan.minimum_days_before(n) for n in (1, 2, 6, 7, 10, 11)] == [None, 2, 2, 7, 7, 7]
    assert PROTOCOL.infusion_plan.minimum_days_before(2) is None  # single-infusion study: no plan to keep


# --------------------------------------------------------------------------- vital signs


def test_vitals_belong_to_the_participants_own_infusion(eligible, world, now):
    mine = C.record_infusion(world.db, world.coord, world.p1["id"], 1, START, 70, 0.5)
    theirs = C.record_infusion(world.db, world.coord_s2, world.p2["id"], 1, START, 80, 0.5)
    now.set("2026-03-02T09:16:00Z")
    v = C.record_vitals(
        world.db,
        world.coord,
        world.p1["id"],
        "2026-03-02T09:15:00Z",
        infusion_id=mine["id"],
        systolic=142,
        diastolic=88,
        heart_rate=90,
        spo2=98,
    )
    assert (v["systolic"], v["diastolic"], v["temperature_c"], v["warnings"], v["entered_later"]) == (
        142,
        88,
        None,
        [],
        False,
    )
    with pytest.raises(NotFoundError, match="has no infusion with id"):
        C.record_vitals(world.db, world.coord, world.p1["id"], START, infusion_id=theirs["id"], heart_rate=80)
    assert [x["id"] for x in C.list_vitals(world.db, world.p1["id"], mine["id"])] == [v["id"]]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"systolic": 80, "diastolic": 90}, "systolic pressure must be above diastolic"),
        ({"heart_rate": 400}, "heart rate 400 is outside the plausible range 20-250"),
        ({"spo2": 97.5}, "spo2 must be a whole number"),
        ({"pulse": 80}, "unknown vital sign"),
        ({}, "no vital sign given"),
    ],
)
def test_implausible_vitals_are_refused(eligible, world, values, message):
    with pytest.raises(ValidationError, match=message):
        C.record_vitals(world.db, world.coord, world.p1["id"], START, **values)


def test_vitals_keep_the_time_they_were_measured(eligible, world, now, db_path):
    infusion = C.record_infusion(
        world.db, world.coord, world.p1["id"], 1, START, 70, 0.5, ended_at="2026-03-02T09:40:00Z"
    )
    now.set("2026-03-02T11:00:00Z")
    before = snapshot(db_path)
    for when, reason, message in (
        ("2026-03-02T11:30:00Z", None, "vital signs: The time it happened .* is in the future"),
        ("2026-02-28T09:00:00Z", "paper", "vital signs: The time it happened .* is before the participant's enrolment"),
        ("2026-03-02T09:15:00Z", None, "more than 60 minutes after it happened: give a reason"),
    ):
        with pytest.raises(ValidationError, match=message):
            C.record_vitals(
                world.db,
                world.coord,
                world.p1["id"],
                when,
                infusion_id=infusion["id"],
                heart_rate=80,
                late_entry_reason=reason,
            )
    assert snapshot(db_path) == before
    late = C.record_vitals(
        world.db,
        world.coord,
        world.p1["id"],
        "2026-03-02T09:15:00Z",
        infusion_id=infusion["id"],
        heart_rate=80,
        late_entry_reason="monitor printout, typed in after the round",
    )
    assert (late["measured_at"], late["created_at"], late["entered_later"]) == (
        "2026-03-02T09:15:00.000000Z",
        "2026-03-02T11:00:00.000000Z",
        True,
    )
    assert late["late_entry_reason"] == "monitor printout, typed in after the round"
    # the schedule reads measured_at: the late reading fills the 15-minute slot, which is no longer missed
    start, end = clock.parse_utc(START), clock.parse_utc("2026-03-02T09:40:00Z")
    taken = [clock.parse_utc(v["measured_at"]) for v in C.list_vitals(world.db, world.p1["id"], infusion["id"])]
    reminder = next_vitals_due(vitals_schedule(start, end, PROTOCOL), taken, start + timedelta(minutes=31))
    assert start + timedelta(minutes=15) not in reminder.missed and reminder.missed == (start,)


def test_threshold_warnings_come_back_and_stay_until_acted_on(eligible, world, now):
    infusion = C.record_infusion(world.db, world.coord, world.p1["id"], 1, START, 70, 0.5)
    now.set("2026-03-02T09:16:00Z")
    high = C.record_vitals(
        world.db,
        world.coord,
        world.p1["id"],
        "2026-03-02T09:15:00Z",
        infusion_id=infusion["id"],
        systolic=184,
        diastolic=95,
        heart_rate=88,
    )
    assert high["warnings"] == ["systolic blood pressure 184 mmHg is above the protocol's threshold of 180 mmHg"]
    assert C.open_vitals_warning(world.db, PROTOCOL, world.p1["id"], infusion["id"])["vitals"]["id"] == high["id"]
    now.set("2026-03-02T09:31:00Z")
    C.record_vitals(
        world.db,
        world.coord,
        world.p1["id"],
        "2026-03-02T09:30:00Z",
        infusion_id=infusion["id"],
        systolic=150,
        diastolic=90,
    )
    assert C.open_vitals_warning(world.db, PROTOCOL, world.p1["id"], infusion["id"]) is None  # a later reading
    again = C.record_vitals(
        world.db, world.coord, world.p1["id"], "2026-03-02T09:31:00Z", infusion_id=infusion["id"], spo2=90
    )
    assert C.open_vitals_warning(world.db, PROTOCOL, world.p1["id"], infusion["id"])["warnings"] == [
        "oxygen saturation 90 % is below the protocol's threshold of 92 %"
    ]
    C.acknowledge_vitals_warning(world.db, world.coord, again["id"], "oxygen given, physician informed")
    assert C.open_vitals_warning(world.db, PROTOCOL, world.p1["id"], infusion["id"]) is None
    [event] = [e for e in audit.events_for(world.db, "vitals", again["id"]) if e["action"] == "vitals.acknowledge"]
    assert event["reason"] == "oxygen given, physician informed"
    with pytest.raises(ValidationError, match="nothing to acknowledge"):
        C.acknowledge_vitals_warning(world.db, world.coord, C.list_vitals(world.db, world.p1["id"])[1]["id"])


def test_the_tables_refuse_implausible_rows_even_in_raw_sql(eligible, world, db_path):
    conn = raw(db_path)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint failed"):
            conn.execute(
                "INSERT INTO vitals (participant_id, measured_at, systolic, diastolic, created_at) "
                "VALUES (?, ?, 80, 120, ?)",
                [world.p1["id"], START.replace("Z", ".0Z"), START],
            )
        theirs = C.record_infusion(world.db, world.coord_s2, world.p2["id"], 1, START, 80, 0.5)
        with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY constraint failed"):
            conn.execute(
                "INSERT INTO vitals (participant_id, infusion_id, measured_at, heart_rate, created_at) "
                "VALUES (?, ?, ?, 80, ?)",
                [world.p1["id"], theirs["id"], START, START],
            )
    finally:
        conn.close()


# --------------------------------------------------------------------------- adverse events


def test_adverse_events_are_recorded_with_controlled_terms(eligible, world, now):
    now.set("2026-03-02T10:35:00Z")
    ae = C.record_adverse_event(
        world.db,
        world.coord,
        world.p1["id"],
        "dissociation",
        "2026-03-02T09:20:00Z",
        "moderate",
        "probable",
        outcome="recovered",
        resolved_at="2026-03-02T10:30:00Z",
        late_entry_reason="reported at the end of the session",
    )
    assert (ae["severity"], ae["serious"], ae["relatedness"], ae["entered_later"]) == ("moderate", 0, "probable", True)
    assert ae["late_entry_reason"] == "reported at the end of the session"
    assert [a["id"] for a in C.list_adverse_events(world.db, world.p1["id"])] == [ae["id"]]
    with pytest.raises(ValidationError, match="unknown severity 'bad'"):
        C.record_adverse_event(world.db, world.coord, world.p1["id"], "nausea", START, "bad", "possible")
    with pytest.raises(ValidationError, match="unknown outcome 'fine'"):
        C.record_adverse_event(
            world.db, world.coord, world.p1["id"], "nausea", START, "mild", "possible", outcome="fine"
        )
    with pytest.raises(ValidationError, match="cannot end before its onset"):
        C.record_adverse_event(
            world.db,
            world.coord,
            world.p1["id"],
            "nausea",
            START,
            "mild",
            "possible",
            resolved_at="2026-03-01T00:00:00Z",
        )
    with pytest.raises(ValidationError, match="needs the date and time it became serious"):
        C.record_adverse_event(
            world.db, world.coord, world.p1["id"], "syncope", "2026-03-02T10:30:00Z", "severe", "possible", serious=True
        )
    with pytest.raises(ValidationError, match="'Recovered / resolved' means the event has ended: give its end"):
        C.record_adverse_event(
            world.db,
            world.coord,
            world.p1["id"],
            "nausea",
            "2026-03-02T10:30:00Z",
            "mild",
            "possible",
            outcome="recovered",
        )
    with pytest.raises(ValidationError, match="more than 60 minutes after it happened: give a reason"):
        C.record_adverse_event(world.db, world.coord, world.p1["id"], "nausea", START, "mild", "possible")
    assert (
        C.label("relatedness", "not_related"),
        C.label("outcome", "recovered_with_sequelae"),
        C.label("action_taken", "infusion_stopped"),
        C.label("severity", None),
    ) == ("Not related", "Recovered with sequelae", "Infusion stopped", "")


def test_an_adverse_event_is_edited_with_a_reason_and_each_change_is_audited(eligible, world, now, db_path):
    now.set("2026-03-02T09:25:00Z")
    ae = C.record_adverse_event(
        world.db, world.coord, world.p1["id"], "headache", "2026-03-02T09:20:00Z", "mild", "possible"
    )
    now.set("2026-03-03T12:00:00Z")
    changes = {
        "severity": "severe",
        "serious": True,
        "serious_at": "2026-03-02T11:00:00Z",
        "resolved_at": "2026-03-03T08:00:00Z",
        "outcome": "recovered",
        "action_taken": "infusion_stopped",
        "relatedness": "possible",
    }
    before = snapshot(db_path)
    with pytest.raises(ValidationError, match="reason for the change is required"):
        C.update_adverse_event(world.db, world.coord, ae["id"], changes, "  ")
    with pytest.raises(ValidationError, match="cannot change participant_id"):
        C.update_adverse_event(world.db, world.coord, ae["id"], {"participant_id": 2}, "why")
    with pytest.raises(ValidationError, match="SAE date .* is in the future"):
        C.update_adverse_event(
            world.db,
            world.coord,
            ae["id"],
            {**changes, "serious_at": "2026-03-04T08:00:00Z", "resolved_at": None, "outcome": None},
            "why",
        )
    with pytest.raises(ConflictError, match="changed by someone else"):
        C.update_adverse_event(world.db, world.coord, ae["id"], changes, "why", expected_updated_at="2026-01-01")
    assert snapshot(db_path) == before
    edited = C.update_adverse_event(
        world.db,
        world.coord,
        ae["id"],
        changes,
        "admitted overnight; resolved at 08:00",
        expected_updated_at=ae["updated_at"],
    )
    assert (edited["severity"], edited["serious"], edited["serious_at"], edited["outcome"], edited["action_taken"]) == (
        "severe",
        1,
        "2026-03-02T11:00:00.000000Z",
        "recovered",
        "infusion_stopped",
    )
    events = [e for e in audit.events_for(world.db, "adverse_event", ae["id"]) if e["action"] == "adverse_event.update"]
    assert {e["field"]: (e["old_value"], e["new_value"]) for e in events} == {
        "severity": ("mild", "severe"),
        "serious": (0, 1),
        "serious_at": (None, "2026-03-02T11:00:00.000000Z"),
        "resolved_at": (None, "2026-03-03T08:00:00.000000Z"),
        "outcome": (None, "recovered"),
        "action_taken": (None, "infusion_stopped"),
    }  # relatedness did not change: no event
    assert {e["reason"] for e in events} == {"admitted overnight; resolved at 08:00"}
    with pytest.raises(ValidationError, match="nothing to change"):
        C.update_adverse_event(world.db, world.coord, ae["id"], changes, "again")
    with pytest.raises(ValidationError, match="only a serious adverse event has an SAE date"):
        C.update_adverse_event(world.db, world.coord, ae["id"], {"serious": False}, "not serious after all")
    with pytest.raises(Exception, match="not allowed|permission|may not"):
        C.update_adverse_event(world.db, world.rater, ae["id"], {"term": "migraine"}, "why")


def test_participant_status_and_arm_changes_are_audited_with_the_reason(world):
    updated = update_participant(
        world.db, world.coord, world.p1["id"], status="enrolled", arm="B", reason="eligibility confirmed"
    )
    assert (updated["status"], updated["arm"]) == ("enrolled", "B")
    events = audit.events_for(world.db, "participant", world.p1["id"])
    changes = {e["field"]: (e["old_value"], e["new_value"], e["reason"]) for e in events[1:]}
    assert changes == {
        "status": ("screening", "enrolled", "eligibility confirmed"),
        "arm": ("A", "B", "eligibility confirmed"),
    }
    with pytest.raises(ValidationError, match="participant code 'Jane Doe' is not valid"):
        from db.participants import create_participant

        create_participant(world.db, world.coord, "Jane Doe", "S1")
