"""db.windows: the protocol-window rule for a rating, moved below the UI so the rate page
(ui.assessment_start.start_or_resume) and the import of transcribed ratings share it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from db import assessments, clock, windows
from db.clinical import record_infusion
from db.connection import unit_of_work
from db.deviations import list_deviations
from protocol import load_protocol
from tests.conftest_db import mark_eligible

PROTOCOL = load_protocol()
MADRS = {f"madrs_{n}": 1 for n in range(1, 11)}


def dosed(study, monkeypatch):
    """KET-001 rated at baseline a minute after enrolment, then infusion 1 a minute later; the
    clock (db.clock) then stands four hours after the infusion start, which it returns."""
    enrolled = datetime.now(UTC).replace(microsecond=0)
    moment = {"now": enrolled + timedelta(minutes=1)}
    monkeypatch.setattr(clock, "utc_now", lambda: clock.format_utc(moment["now"]))
    with unit_of_work() as db:
        mark_eligible(db, study.users["coordinator"], study.users["rater"], study.p1["id"])
        started = enrolled + timedelta(minutes=2)
        moment["now"] = started + timedelta(minutes=1)
        infusion = record_infusion(db, study.users["coordinator"], study.p1["id"], 1, started, 70, 0.5)
    moment["now"] = started + timedelta(hours=4)
    return infusion, started


def test_infusion_for_a_rating(app_world, monkeypatch):
    infusion, _ = dosed(app_world, monkeypatch)
    with unit_of_work(write=False) as db:
        assert windows.infusion_id_for(db, app_world.p1["id"], "baseline", None) is None
        assert windows.infusion_id_for(db, app_world.p1["id"], "min_40", None) == infusion["id"]
        assert windows.infusion_id_for(db, app_world.p1["id"], "min_40", 2) is None  # not logged
        assert windows.infusion_id_for(db, app_world.p2["id"], "day_1", None) is None


def test_a_live_rating_outside_its_window_is_a_deviation_saying_started(app_world, monkeypatch):
    _, started = dosed(app_world, monkeypatch)
    with unit_of_work() as db:
        rated = assessments.start_assessment(
            db, app_world.users["rater"], app_world.p1["id"], "min_40", "madrs", "clinician"
        )
        # Started at the infusion's start: 40 minutes early for the 40-minute rating (window -5/+10).
        text = windows.record_window_deviation(
            db,
            app_world.users["rater"],
            PROTOCOL,
            app_world.p1["id"],
            "min_40",
            None,
            "madrs",
            rated["id"],
            now=started,
        )
        deviations = list_deviations(db, participant_id=app_world.p1["id"])
    assert text == deviations[0]["description"] and text.startswith("madrs at 40 minutes after infusion start started ")
    assert deviations[0]["kind"] == "outside_window" and deviations[0]["minutes_early"] == 35
    assert deviations[0]["assessment_id"] == rated["id"] and deviations[0]["timepoint"] == "min_40"


def test_a_rating_entered_later_is_checked_when_it_happened(app_world, monkeypatch):
    _, started = dosed(app_world, monkeypatch)
    with unit_of_work() as db:
        rated = assessments.start_assessment(
            db, app_world.users["rater"], app_world.p1["id"], "min_40", "cadss", "clinician"
        )
        inside = windows.record_window_deviation(
            db,
            app_world.users["rater"],
            PROTOCOL,
            app_world.p1["id"],
            "min_40",
            None,
            "cadss",
            rated["id"],
            assessed_at=started + timedelta(minutes=41),
            now=started,
        )
        late = windows.record_window_deviation(
            db,
            app_world.users["rater"],
            PROTOCOL,
            app_world.p1["id"],
            "min_40",
            None,
            "cadss",
            rated["id"],
            assessed_at=started + timedelta(minutes=70),
        )
        deviations = list_deviations(db, participant_id=app_world.p1["id"])
    assert inside is None  # 41 minutes after the start: inside, though checked long before
    assert late.startswith("cadss at 40 minutes after infusion start rated ") and len(deviations) == 1
    assert deviations[0]["minutes_late"] == 20


def test_an_unplanned_or_unscheduled_timepoint_is_no_deviation(app_world):
    with unit_of_work() as db:  # KET-002 has no infusion: its infusion-anchored timepoints have no time yet
        rated = assessments.save_assessment(
            db, app_world.users["pi"], app_world.p2["id"], "min_40", "madrs", "clinician", MADRS
        )
        assert (
            windows.record_window_deviation(
                db, app_world.users["pi"], PROTOCOL, app_world.p2["id"], "min_40", None, "madrs", rated["id"]
            )
            is None
        )
        assert (
            windows.record_window_deviation(
                db, app_world.users["pi"], PROTOCOL, app_world.p2["id"], "no_such", None, "madrs", rated["id"]
            )
            is None
        )
