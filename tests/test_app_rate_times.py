"""The Rate page through Streamlit AppTest (issue 11, points 4 and 11 for ratings): a run caused
by the picker never opens the assessment named by a stale ?assessment=ID, the picker's widgets
are keyed by participant, and a rating done earlier is entered with the time it happened (the
rule's message next to the control, nothing opened while it stands)."""

from __future__ import annotations

from datetime import datetime, timedelta

from db import assessments
from db.connection import unit_of_work
from protocol import load_protocol
from tests.app_support import app, texts

ZONE = load_protocol().timezone
LATE = "Rated earlier (paper source / entered after the fact)"


def picker(study):
    at = app("pages/rate.py", study.users["rater"]).run()
    assert not at.exception, at.exception
    return at


def widget(elements, label):
    return next(e for e in elements if e.label == label)


def test_a_picker_change_with_a_stale_assessment_in_the_address_stays_on_the_picker(app_world):
    with unit_of_work() as db:
        draft = assessments.start_assessment(
            db, app_world.users["rater"], app_world.p1["id"], "baseline", "madrs", "clinician"
        )
    at = picker(app_world)
    at.query_params["assessment"] = str(draft["id"])  # the browser's stale copy of the address
    widget(at.selectbox, "Timepoint").select("day_1").run()
    assert not at.exception, at.exception
    assert "Start or resume an assessment" in texts(at)
    assert "MADRS — KET-001" not in texts(at)


def test_the_open_assessment_is_in_the_address_only_while_its_form_is_shown(app_world):
    with unit_of_work() as db:
        draft = assessments.start_assessment(
            db, app_world.users["rater"], app_world.p1["id"], "baseline", "madrs", "clinician"
        )
    at = app("pages/rate.py", app_world.users["rater"], query={"assessment": str(draft["id"])}).run()
    assert "MADRS — KET-001" in texts(at)
    widget(at.button, "← Back to the list").click().run()
    assert "Start or resume an assessment" in texts(at)
    assert "assessment" not in at.query_params


def test_picker_widgets_are_keyed_by_participant(app_world):
    at = picker(app_world)
    pid = app_world.p1["id"]
    keys = {e.label: e.key for e in (*at.selectbox, *at.radio, *at.toggle)}
    assert keys["Timepoint"] == f"participant:{pid}:rate-timepoint"
    assert keys["Scale"].startswith(f"participant:{pid}:rate-scale")
    assert keys["Recall period"].startswith(f"participant:{pid}:rate-recall")
    assert keys[LATE] == f"participant:{pid}:rate-late"


def test_a_rating_done_earlier_needs_a_past_time_and_a_reason(app_world):
    at = picker(app_world)
    widget(at.toggle, LATE).set_value(True).run()
    assert not at.error  # the default is now: nothing to correct
    tomorrow = datetime.now(ZONE).date() + timedelta(days=1)
    widget(at.date_input, "Date it was rated").set_value(tomorrow).run()
    assert "is in the future" in at.error[0].value
    widget(at.button, "Open the form").click().run()
    assert any("The form was not opened" in e.value for e in at.error)
    with unit_of_work(write=False) as db:
        assert assessments.find_assessment(db, app_world.p1["id"], "baseline", "madrs") is None

    # Enrolled just now: yesterday is before enrolment.
    widget(at.date_input, "Date it was rated").set_value(tomorrow - timedelta(days=2)).run()
    assert "before the participant's enrolment" in at.error[0].value


def test_a_late_rating_opens_with_its_time_and_shows_entered_later(app_world, monkeypatch):
    from db import clock

    # The participant was enrolled three days ago (the clock set back while enrolling).
    with unit_of_work() as db:
        db.execute(
            "UPDATE participants SET created_at = ? WHERE id = ?",
            [clock.utc_after(clock.utc_now(), days=-3), app_world.p1["id"]],
        )
    at = picker(app_world)
    widget(at.toggle, LATE).set_value(True).run()
    yesterday = datetime.now(ZONE) - timedelta(days=1)
    widget(at.date_input, "Date it was rated").set_value(yesterday.date()).run()
    widget(at.time_input, f"Time it was rated ({ZONE.key})").set_value(
        yesterday.time().replace(second=0, microsecond=0)
    ).run()
    assert "give a reason for the late entry" in at.error[0].value
    reason_box = next(t for t in at.text_input if t.label.startswith("Reason for entering it later"))
    reason_box.input("Rated on paper; transcribed from the source form").run()
    assert not at.error
    widget(at.button, "Open the form").click().run()
    assert not at.exception, at.exception
    with unit_of_work(write=False) as db:
        stored = assessments.find_assessment(db, app_world.p1["id"], "baseline", "madrs")
    assert stored["assessed_at"] == clock.format_utc(yesterday.replace(second=0, microsecond=0))
    assert stored["late_entry_reason"] == "Rated on paper; transcribed from the source form"
    shown = texts(at)
    assert f"Entered later: rated {yesterday:%Y-%m-%d %H:%M}" in shown
    assert "Reason: Rated on paper; transcribed from the source form" in shown


def test_the_assessments_page_marks_a_rating_entered_later(app_world):
    from db import clock

    with unit_of_work() as db:
        db.execute(
            "UPDATE participants SET created_at = ? WHERE id = ?",
            [clock.utc_after(clock.utc_now(), days=-3), app_world.p1["id"]],
        )
        late = clock.utc_after(clock.utc_now(), days=-2)
        assessments.start_assessment(
            db,
            app_world.users["rater"],
            app_world.p1["id"],
            "baseline",
            "madrs",
            "clinician",
            assessed_at=late,
            late_entry_reason="paper source form",
        )
    at = app("pages/assessment.py", app_world.users["pi"]).run()
    assert not at.exception, at.exception
    assert "**Entered later**" in texts(at) and "reason: paper source form" in texts(at)
