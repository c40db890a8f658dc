"""The infusion day and the schedule: infusions, vitals, adverse events, planned timepoints."""
# ruff: noqa: F811  (the tests take the fixtures imported from tests/conftest_db.py as parameters)

from __future__ import annotations

import sqlite3

import pytest

from db import ConflictError, NotFoundError, ValidationError, audit
from db import assessments as A
from db import clinical as C
from db.participants import update_participant
from tests.conftest_db import (  # noqa: F401  (shared fixtures)
    SCALE,
    db,
    db_path,
    fast_passwords,
    mark_eligible,
    raw,
    snapshot,
    world,
)

START = "2026-03-02T09:00:00Z"


@pytest.fixture
def eligible(world):
    """Only an eligible participant can be dosed; the tests here are about the infusion log."""
    mark_eligible(world.db, world.coord, world.rater, world.p1["id"])
    mark_eligible(world.db, world.coord_s2, world.rater_s2, world.p2["id"])


def test_an_infusion_is_logged_in_utc_with_its_total_dose_and_audited(eligible, world):
    infusion = C.record_infusion(world.db, world.coord, world.p1["id"], 1, "2026-03-02T10:00:00+01:00", 72.5, 0.5)
    assert infusion["started_at"] == "2026-03-02T09:00:00.000000Z"  # stored in UTC
    assert infusion["total_dose_mg"] == 36.25 and infusion["planned_duration_min"] == 40
    ended = C.end_infusion(world.db, world.coord, infusion["id"], "2026-03-02T09:40:00Z")
    assert ended["ended_at"] == "2026-03-02T09:40:00.000000Z"
    actions = [e["action"] for e in audit.events_for(world.db, "infusion", infusion["id"])]
    assert actions == ["infusion.create", "infusion.end"]
    with pytest.raises(ConflictError, match="already has infusion 1"):
        C.record_infusion(world.db, world.coord, world.p1["id"], 1, START, 72.5, 0.5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"weight_kg": 5}, r"weight \(kg\) 5 is outside the plausible range"),
        ({"dose_mg_per_kg": 5}, r"dose \(mg/kg\) 5 is outside the plausible range"),
        ({"started_at": "2026-03-02 09:00"}, "is not a time with a timezone"),
        ({"ended_at": "2026-03-02T08:00:00Z"}, "cannot end before it starts"),
        ({"number": 0}, "infusion number 0 is outside"),
    ],
)
def test_implausible_infusions_are_refused_and_write_nothing(eligible, world, db_path, kwargs, message):
    args = {"number": 1, "started_at": START, "weight_kg": 70, "dose_mg_per_kg": 0.5} | kwargs
    before = snapshot(db_path)
    with pytest.raises(ValidationError, match=message):
        C.record_infusion(world.db, world.coord, world.p1["id"], **args)
    assert snapshot(db_path) == before


def test_vitals_belong_to_the_participants_own_infusion(eligible, world):
    mine = C.record_infusion(world.db, world.coord, world.p1["id"], 1, START, 70, 0.5)
    theirs = C.record_infusion(world.db, world.coord_s2, world.p2["id"], 1, START, 80, 0.5)
    v = C.record_vitals(world.db, world.coord, world.p1["id"], "2026-03-02T09:15:00Z", infusion_id=mine["id"],
                        systolic=142, diastolic=88, heart_rate=90, spo2=98)
    assert (v["systolic"], v["diastolic"], v["temperature_c"]) == (142, 88, None)
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


def test_the_tables_refuse_implausible_rows_even_in_raw_sql(eligible, world, db_path):
    conn = raw(db_path)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint failed"):
            conn.execute("INSERT INTO vitals (participant_id, measured_at, systolic, diastolic, created_at) "
                         "VALUES (?, ?, 80, 120, ?)", [world.p1["id"], START.replace("Z", ".0Z"), START])
        theirs = C.record_infusion(world.db, world.coord_s2, world.p2["id"], 1, START, 80, 0.5)
        with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY constraint failed"):
            conn.execute("INSERT INTO vitals (participant_id, infusion_id, measured_at, heart_rate, created_at) "
                         "VALUES (?, ?, ?, 80, ?)", [world.p1["id"], theirs["id"], START, START])
    finally:
        conn.close()


def test_adverse_events_are_recorded_with_controlled_terms(eligible, world):
    ae = C.record_adverse_event(world.db, world.coord, world.p1["id"], "dissociation", "2026-03-02T09:20:00Z",
                                "moderate", "probable", outcome="recovered", resolved_at="2026-03-02T10:30:00Z")
    assert (ae["severity"], ae["serious"], ae["relatedness"]) == ("moderate", 0, "probable")
    assert [a["id"] for a in C.list_adverse_events(world.db, world.p1["id"])] == [ae["id"]]
    with pytest.raises(ValidationError, match="unknown severity 'bad'"):
        C.record_adverse_event(world.db, world.coord, world.p1["id"], "nausea", START, "bad", "possible")
    with pytest.raises(ValidationError, match="unknown outcome 'fine'"):
        C.record_adverse_event(world.db, world.coord, world.p1["id"], "nausea", START, "mild", "possible",
                               outcome="fine")
    with pytest.raises(ValidationError, match="cannot resolve before its onset"):
        C.record_adverse_event(world.db, world.coord, world.p1["id"], "nausea", START, "mild", "possible",
                               resolved_at="2026-03-01T00:00:00Z")


def test_planned_timepoints_link_assessments_started_at_them(world):
    tp = C.define_timepoint(world.db, world.pi, "inf1_40min", "each_infusion", 40, ["cadss", SCALE],
                            window_before_minutes=5, window_after_minutes=10, label="40 min after start")
    assert tp["scales"] == ["cadss", SCALE] and tp["anchor"] == "each_infusion"
    with pytest.raises(ValidationError, match="unknown scale 'madrs9'"):
        C.define_timepoint(world.db, world.pi, "day1", "first_infusion", 1440, ["madrs9"])
    with pytest.raises(ConflictError, match="already exists"):
        C.define_timepoint(world.db, world.pi, "inf1_40min", "each_infusion", 40, [])
    a = A.start_assessment(world.db, world.rater, world.p1["id"], "inf1_40min", "cadss", "clinician")
    assert a["timepoint_id"] == tp["id"]
    assert A.start_assessment(world.db, world.rater, world.p1["id"], "unplanned", SCALE, "clinician")["timepoint_id"] \
        is None


def test_participant_status_and_arm_changes_are_audited_with_the_reason(world):
    updated = update_participant(world.db, world.coord, world.p1["id"], status="enrolled", arm="B",
                                 reason="eligibility confirmed")
    assert (updated["status"], updated["arm"]) == ("enrolled", "B")
    events = audit.events_for(world.db, "participant", world.p1["id"])
    changes = {e["field"]: (e["old_value"], e["new_value"], e["reason"]) for e in events[1:]}
    assert changes == {"status": ("screening", "enrolled", "eligibility confirmed"),
                       "arm": ("A", "B", "eligibility confirmed")}
    with pytest.raises(ValidationError, match="participant code 'Jane Doe' is not valid"):
        from db.participants import create_participant

        create_participant(world.db, world.coord, "Jane Doe", "S1")
