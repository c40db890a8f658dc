"""Data on the right record through AppTest (issue 11, points 1, 2, 3, 16): screening answers
keyed by participant, a refused amendment that keeps its value and its message, the Assessments
page that stays on the record acted on. The browser versions are in test_browser_records.py."""

import pytest

from db import assessments, screening
from db.connection import unit_of_work
from protocol import load_protocol
from tests.app_support import app, texts
from tests.conftest_db import PASSING_SCREENING
from ui.pickers import scoped_key

PROTOCOL = load_protocol()
MADRS = {f"madrs_{n}": 2 for n in range(1, 11)}


def box(at, label):
    return next(s for s in at.selectbox if s.label == label)


def button(at, label):
    return next(b for b in at.button if b.label == label)


def answer_widgets(at, participant_id):
    """The screening answer widgets drawn for one participant, by question id."""
    prefix = scoped_key("participant", participant_id, "q-")
    return {str(w.key)[len(prefix) :]: w for w in [*at.radio, *at.number_input] if str(w.key).startswith(prefix)}


def signed(study, timepoint):
    with unit_of_work() as db:
        row = assessments.save_assessment(
            db, study.users["rater"], study.p1["id"], timepoint, "madrs", "clinician", MADRS
        )
        return assessments.sign_assessment(db, study.users["rater"], row["id"], row["version"])


def test_scoped_key_names_the_record():
    assert scoped_key("participant", 7, "q-age") == "participant:7:q-age"
    assert scoped_key("assessment", 7, "amend") != scoped_key("participant", 7, "amend")
    with pytest.raises(ValueError):
        scoped_key("participant", None, "q-age")


def test_screening_answers_belong_to_the_participant_shown(app_world):
    with unit_of_work() as db:
        screening.record_eligibility(
            db, app_world.users["pi"], PROTOCOL, app_world.p1["id"], {**PASSING_SCREENING, "psychosis_history": True}
        )
    at = app("pages/screening.py", app_world.users["pi"]).run()  # the PI sees both sites
    assert box(at, "Participant").value == "KET-001"
    first = answer_widgets(at, app_world.p1["id"])
    assert first["psychosis_history"].value == "Yes" and first["age_18_to_65"].value == 40

    box(at, "Participant").select("KET-002").run()
    second = answer_widgets(at, app_world.p2["id"])
    assert set(second) == set(first)  # every question drawn again, for KET-002
    assert all(w.value is None for w in second.values()), {k: w.value for k, w in second.items()}
    assert not answer_widgets(at, app_world.p1["id"])

    second["depressive_episode"].set_value("Yes")
    second["age_18_to_65"].set_value(30)
    button(at, "Record the eligibility decision").click().run()
    assert "Eligibility decision recorded for KET-002" in texts(at)
    with unit_of_work(write=False) as db:
        stored = screening.latest_eligibility(db, app_world.p2["id"])
    assert stored["answers"] == {"depressive_episode": True, "age_18_to_65": 30}


def test_a_refusal_stays_under_the_button_until_the_next_try(app_world):
    at = app("pages/screening.py", app_world.users["coordinator"]).run()
    answer_widgets(at, app_world.p1["id"])["age_18_to_65"].set_value(200)
    button(at, "Record the eligibility decision").click().run()
    assert any("200 is not a plausible number" in e.value for e in at.error)
    answer_widgets(at, app_world.p1["id"])["depressive_episode"].set_value("Yes").run()  # an unrelated rerun
    assert any("200 is not a plausible number" in e.value for e in at.error)
    answer_widgets(at, app_world.p1["id"])["age_18_to_65"].set_value(30)
    button(at, "Record the eligibility decision").click().run()
    assert not at.error and "Eligibility decision recorded for KET-001" in texts(at)


def test_a_refused_amendment_keeps_the_chosen_value_and_its_message(app_world):
    done = signed(app_world, "day_1")
    at = app("pages/assessment.py", app_world.users["rater"]).run()
    box(at, "Item to amend").select("madrs_3").run()
    box(at, "New value").select(5)
    button(at, "Save the amendment").click().run()
    assert any("reason for the change" in e.value for e in at.error)
    assert box(at, "New value").value == 5  # not reset to the first option
    at.run()  # any other rerun: the choice and the message stay
    assert box(at, "New value").value == 5 and any("reason for the change" in e.value for e in at.error)

    next(t for t in at.text_input if t.label.startswith("Reason for the change")).input("worksheet says 5")
    button(at, "Save the amendment").click().run()
    assert "Item 3 amended" in texts(at) and not at.error
    assert box(at, "New value").value == 5  # the form now starts from the stored (new) value
    with unit_of_work(write=False) as db:
        assert assessments.load_assessment(db, done["id"])["responses"]["madrs_3"] == 5


def test_the_page_stays_on_the_assessment_amended_and_locked(app_world):
    day3, day7 = signed(app_world, "day_3"), signed(app_world, "day_7")
    at = app("pages/assessment.py", app_world.users["pi"]).run()
    assert box(at, "Assessment").value == day7["id"]  # the newest by default
    box(at, "Assessment").select(day3["id"]).run()
    assert at.subheader[0].value == "MADRS · Day 3"

    box(at, "Item to amend").select("madrs_3").run()
    box(at, "New value").select(4)
    next(t for t in at.text_input if t.label.startswith("Reason for the change")).input("worksheet says 4")
    button(at, "Save the amendment").click().run()
    assert at.subheader[0].value == "MADRS · Day 3" and box(at, "Assessment").value == day3["id"]
    button(at, "Lock this assessment").click().run()
    assert at.subheader[0].value == "MADRS · Day 3" and "Assessment locked." in texts(at)
    with unit_of_work(write=False) as db:
        assert assessments.load_assessment(db, day3["id"])["status"] == "locked"
        assert assessments.load_assessment(db, day7["id"])["status"] == "signed"
