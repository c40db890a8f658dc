"""Issue 13 items 5 and 7 on the clinician form (ui/scale_form.py, pages/rate.py), through AppTest.

Item 5: the expected version is always the version of the answers on screen. When another tablet
saved the same draft, the next run (even one that saves nothing) redraws the answers from the
database and names who changed what; a "Sign and submit" in that run is refused, so answers the
rater did not see are never signed.

Item 7: a self-report (kiosk or link) assessment is answered only by the participant; staff opening
it at /rate?assessment=ID get a read-only view, and db/ refuses a staff answer too."""

import pytest

from db import assessments
from db.connection import unit_of_work
from db.errors import PermissionDeniedError
from tests.app_support import actor, app, texts
from tests.test_app_rate import MADRS_22, open_form, radio, rate_all, stored, submit


def _other_tablet_sets(study, item_id, value):
    draft = stored(study)
    with unit_of_work() as db:
        assessments.save_draft_response(
            db, actor(study.users["pi"]), draft["id"], item_id, value, expected_version=draft["version"]
        )


def test_a_rerun_after_another_tablet_saved_shows_the_saved_answers_and_who_changed_them(app_world):
    at = open_form(app_world)
    radio(at, "madrs_1").set_value(2).run()
    _other_tablet_sets(app_world, "madrs_1", 5)
    at.run()  # a rerun that saves nothing (e.g. a tap on a toggle)
    assert not at.exception, at.exception
    assert radio(at, "madrs_1").value == 5  # the answer on screen is the saved one
    assert "changed on another device" in texts(at) and "pi changed item 1" in texts(at)
    radio(at, "madrs_2").set_value(1).run()  # the next tap is accepted against the shown version
    assert stored(app_world)["responses"] == {"madrs_1": 5, "madrs_2": 1}


def test_sign_and_submit_never_signs_answers_changed_on_another_tablet(app_world):
    at = open_form(app_world)
    rate_all(at, MADRS_22)
    _other_tablet_sets(app_world, "madrs_3", 6)
    submit(at)  # the rater taps "Sign and submit" on the stale screen
    draft = stored(app_world)
    assert draft["status"] == "draft"  # not signed
    assert "Not submitted" in texts(at) and radio(at, "madrs_3").value == 6
    submit(at)  # now the rater has seen the answers: signing them is accepted
    done = stored(app_world)
    assert done["status"] != "draft" and done["responses"]["madrs_3"] == 6


def _kiosk_draft(study):
    with unit_of_work() as db:
        return assessments.start_assessment(db, study.users["rater"], study.p1["id"], "baseline", "phq9", "kiosk")


def test_staff_see_a_self_report_questionnaire_read_only(app_world):
    draft = _kiosk_draft(app_world)
    at = app("pages/rate.py", app_world.users["rater"], query={"assessment": str(draft["id"])}).run()
    assert not at.exception, at.exception
    answers = [r for r in at.radio if r.key and r.key.startswith("v:")]
    assert answers and all(r.disabled for r in answers)  # the suicide item cannot be answered here
    assert not any(b.label == "Sign and submit" for b in at.button)
    assert "participant's own questionnaire" in texts(at)


def test_db_refuses_a_staff_answer_to_a_self_report_questionnaire(app_world):
    draft = _kiosk_draft(app_world)
    with unit_of_work() as db, pytest.raises(PermissionDeniedError, match="participant"):
        assessments.save_draft_response(db, app_world.users["rater"], draft["id"], "phq9_9", 3)
    with unit_of_work(write=False) as db:
        assert assessments.load_assessment(db, draft["id"])["responses"] == {}
