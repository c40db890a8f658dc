"""Screening, infusion day and the worklist through AppTest: the coordinator screens and doses,
the rater's worklist follows the actual infusion time, and ratings outside a window are recorded
as protocol deviations."""

from datetime import UTC, datetime, timedelta

from db import assessments, clinical, screening
from db.connection import unit_of_work
from db.deviations import list_deviations
from tests.app_support import app, texts
from tests.conftest_db import PASSING_SCREENING
from tests.test_analytics_db import frozen


def baseline_madrs(study, per_item=3, days_ago=6):
    """A baseline MADRS done `days_ago` days ago: before the infusions these tests log in the
    past, as db.clinical.record_infusion requires (and inside the protocol's 14-day lookback)."""
    with frozen(datetime.now(UTC) - timedelta(days=days_ago)), unit_of_work() as db:
        assessments.save_assessment(
            db,
            study.users["rater"],
            study.p1["id"],
            "baseline",
            "madrs",
            "clinician",
            {f"madrs_{n}": per_item for n in range(1, 11)},
        )


def screen(at, answers):
    for key, value in answers.items():
        widget = next(
            (w for w in [*at.radio, *at.number_input] if str(w.key).endswith(f":q-{key}")), None
        )  # keyed by participant
        if isinstance(value, bool):
            widget.set_value("Yes" if value else "No")
        else:
            widget.set_value(value)
    next(b for b in at.button if b.label == "Record the eligibility decision").click().run()


def eligible(study):
    baseline_madrs(study)
    at = app("pages/screening.py", study.users["coordinator"]).run()
    screen(at, PASSING_SCREENING)
    assert "Eligibility decision recorded for KET-001" in texts(at)
    assert "Latest decision: **eligible**" in texts(at)


def test_screening_form_is_generated_from_the_protocol_and_severity_is_automatic(app_world):
    baseline_madrs(app_world, per_item=1)  # MADRS 10: below the protocol's threshold of 20
    at = app("pages/screening.py", app_world.users["coordinator"]).run()
    assert "Baseline MADRS total 10 (threshold ≥ 20)" in texts(at)
    screen(at, PASSING_SCREENING)
    assert "Latest decision: **not eligible**" in texts(at)
    with unit_of_work(write=False) as db:
        decision = screening.latest_eligibility(db, app_world.p1["id"])
    assert decision["eligible"] is False and decision["decided_by_name"] == "coordinator"


def test_unanswered_criteria_leave_the_decision_pending(app_world):
    baseline_madrs(app_world)
    at = app("pages/screening.py", app_world.users["coordinator"]).run()
    screen(at, {"depressive_episode": True})
    assert "Latest decision: **pending**" in texts(at)


def test_monitor_reads_screening_but_cannot_record(app_world):
    at = app("pages/screening.py", app_world.users["monitor"]).run()
    assert "can read screening decisions but not record them" in texts(at)
    assert not any(b.label == "Record the eligibility decision" for b in at.button)


def test_unscreened_participant_cannot_be_dosed(app_world):
    at = app("pages/infusion.py", app_world.users["coordinator"]).run()
    assert "cannot be dosed" in texts(at)
    assert not any(b.label == "Start infusion" for b in at.button)


def test_dose_is_computed_confirmed_and_logged(app_world):
    eligible(app_world)
    at = app("pages/infusion.py", app_world.users["coordinator"]).run()
    next(n for n in at.number_input if n.label == "Weight (kg)").set_value(82.3).run()
    assert [m.value for m in at.metric] == ["41.2 mg"]  # 82.3 × 0.5 = 41.15 → 41.2 (half up)
    start = next(b for b in at.button if b.label == "Start infusion")
    assert start.disabled  # until the total is confirmed
    next(c for c in at.checkbox if c.label.startswith("I have checked the total dose of 41.2 mg")).check().run()
    next(b for b in at.button if b.label == "Start infusion").click().run()
    assert "Infusion 1 started" in texts(at)
    with unit_of_work(write=False) as db:
        infusion = clinical.list_infusions(db, app_world.p1["id"])[0]
    assert (infusion["weight_kg"], infusion["dose_mg_per_kg"], infusion["total_dose_mg"]) == (82.3, 0.5, 41.2)


def test_dose_outside_the_protocol_range_is_refused(app_world):
    eligible(app_world)
    at = app("pages/infusion.py", app_world.users["coordinator"]).run()
    next(n for n in at.number_input if n.label == "Weight (kg)").set_value(70.0).run()
    next(n for n in at.number_input if n.label.startswith("Dose (mg/kg")).set_value(1.5).run()
    assert "1.0" in texts(at) and not at.metric
    assert not any(b.label == "Start infusion" for b in at.button)


def test_vitals_reminder_and_threshold_warning(app_world):
    eligible(app_world)
    started = (datetime.now(UTC) - timedelta(minutes=14)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with unit_of_work() as db:
        clinical.record_infusion(db, app_world.users["coordinator"], app_world.p1["id"], 1, started, 70, 0.5)
    at = app("pages/infusion.py", app_world.users["coordinator"]).run()
    assert "Next vital signs" in texts(at)
    for label, value in (
        ("Systolic (mmHg)", 190),
        ("Diastolic (mmHg)", 95),
        ("Heart rate (bpm)", 88),
        ("SpO2 (%)", 97),
    ):
        next(n for n in at.number_input if n.label == label).set_value(value)
    next(b for b in at.button if b.label == "Save vital signs").click().run()
    assert "Vital signs saved" in texts(at)
    assert any("Vital sign outside the protocol's limits" in e.value and "190" in e.value for e in at.error)
    with unit_of_work(write=False) as db:
        assert clinical.list_vitals(db, app_world.p1["id"])[0]["systolic"] == 190


def test_adverse_event_is_recorded(app_world):
    eligible(app_world)
    at = app("pages/infusion.py", app_world.users["coordinator"]).run()
    next(t for t in at.text_input if t.label == "Event (term)").input("nausea")
    next(b for b in at.button if b.label == "Record adverse event").click().run()
    assert "Adverse event 'nausea' recorded" in texts(at)
    at.text_input[0].input("")
    next(b for b in at.button if b.label == "Record adverse event").click().run()
    assert "term" in texts(at).lower() and not at.exception


def test_worklist_follows_the_actual_infusion_and_opens_the_form(app_world):
    eligible(app_world)
    started = (datetime.now(UTC) - timedelta(minutes=38)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with unit_of_work() as db:
        clinical.record_infusion(db, app_world.users["coordinator"], app_world.p1["id"], 1, started, 70, 0.5)
    at = app("pages/worklist.py", app_world.users["rater"]).run()
    assert "**KET-001** · 40 minutes after infusion start · :green-badge[due now]" in texts(at)
    assert any(b.label == "Rate CADSS" for b in at.button)
    next(b for b in at.button if b.label == "Rate CADSS").click().run()
    with unit_of_work(write=False) as db:
        opened = assessments.find_assessment(db, app_world.p1["id"], "min_40", "cadss")
    assert opened is not None and opened["infusion_id"] is not None
    with unit_of_work(write=False) as db:
        assert list_deviations(db, participant_id=app_world.p1["id"]) == []  # inside the window


def test_rating_outside_the_window_records_a_deviation(app_world):
    eligible(app_world)
    started = (datetime.now(UTC) - timedelta(days=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with unit_of_work() as db:
        clinical.record_infusion(db, app_world.users["coordinator"], app_world.p1["id"], 1, started, 70, 0.5)
    at = app("pages/rate.py", app_world.users["rater"]).run()
    next(s for s in at.selectbox if s.label == "Timepoint").select("day_1").run()
    next(s for s in at.selectbox if s.label == "Scale").select("madrs").run()
    next(b for b in at.button if b.label == "Open the form").click().run()
    with unit_of_work(write=False) as db:
        deviations = list_deviations(db, participant_id=app_world.p1["id"])
    assert len(deviations) == 1 and deviations[0]["timepoint"] == "day_1" and deviations[0]["minutes_late"] > 0


def test_worklist_under_the_repeated_infusion_protocol_follows_each_infusion(app_world, monkeypatch):
    """The second shipped protocol: timepoints repeat around every infusion, so the 40-minute
    CADSS of infusion 2 is due 40 minutes after infusion 2 starts, and opens its own assessment."""
    from protocol import load_protocol
    from protocol.loader import default_protocol_path
    from ui.study import _load

    repeated = default_protocol_path().parent / "repeated_infusion.json"
    monkeypatch.setenv("SCALEBOOK_PROTOCOL", str(repeated))
    _load.clear()
    try:
        protocol = load_protocol()
        baseline_madrs(app_world, days_ago=3)  # the protocol's own Baseline timepoint, before infusion 1
        with unit_of_work() as db:
            screening.record_eligibility(
                db, app_world.users["coordinator"], protocol, app_world.p1["id"], PASSING_SCREENING
            )
            now = datetime.now(UTC)
            first = (now - timedelta(days=2, minutes=38)).strftime("%Y-%m-%dT%H:%M:%SZ")
            second = (now - timedelta(minutes=38)).strftime("%Y-%m-%dT%H:%M:%SZ")
            first_end = (now - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
            clinical.record_infusion(
                db, app_world.users["coordinator"], app_world.p1["id"], 1, first, 70, 0.5, ended_at=first_end
            )  # 2 calendar days before infusion 2: the induction minimum
            clinical.record_infusion(db, app_world.users["coordinator"], app_world.p1["id"], 2, second, 70, 0.5)
        at = app("pages/worklist.py", app_world.users["rater"]).run()
        assert not at.exception
        assert "infusion 2" in texts(at) and "due now" in texts(at)
        next(b for b in at.button if b.label == "Rate CADSS").click().run()
        with unit_of_work(write=False) as db:
            opened = assessments.find_assessment(db, app_world.p1["id"], "min_40@2", "cadss")
            infusions = {i["id"]: i["number"] for i in clinical.list_infusions(db, app_world.p1["id"])}
        assert opened is not None and infusions[opened["infusion_id"]] == 2
    finally:
        _load.clear()
