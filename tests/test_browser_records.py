"""Data on the right record, in a real browser on a tablet (issue 11, points 1, 2, 3, 5 and 16):

1. screening answers never carry over from one participant to the next;
2. a refused amendment keeps the value the user chose, and says why under the form;
3. after an amendment or a lock the Assessments page stays on that assessment, and the next
   amendment lands on it;
5. a decision pending on the baseline rating is decided when the rater submits that rating;
16. a refusal shows under the control that caused it and stays while the user taps elsewhere.

Each test seeds a fresh server's database through the db package and drives only the pages.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from playwright.sync_api import Locator, Page, expect

from db import assessments, audit, participants, screening, sites, users
from db.connection import unit_of_work
from db.migrations import init_database
from db.permissions import system_actor
from protocol import load_protocol, screening_questions
from protocol.keys import timepoint_label
from tests.app_support import PASSWORD
from tests.browser import (
    choose,
    click_button,
    expect_no_exception,
    expect_rerun,
    expect_text,
    fill_in_form,
    goto,
    new_page,
    open_page,
    sign_in,
    snap,
)
from tests.conftest_db import PASSING_SCREENING

PROTOCOL = load_protocol()
QUESTIONS = {q.id: q for q in screening_questions(PROTOCOL) if not q.automatic}
RADIO_OPTION = 'label[data-testid="stRadioOption"]'
REASON = "Reason for the change (required; kept in the audit trail)"
SIGN_PASSWORD = "Your password, to sign as the rater (meaning: authored)"
ALL_TWOS = {f"madrs_{n}": 2 for n in range(1, 11)}  # total 20


# --------------------------------------------------------------------------- seeding and helpers


def seed(db_path, codes) -> SimpleNamespace:
    """Site LON; coordinator cora, rater rita (LON) and PI pia (all sites); participants `codes`."""
    init_database(db_path)
    system = system_actor("tests")
    with unit_of_work(db_path) as db:
        sites.create_site(db, system, "LON", "London clinic", "Europe/London")
        coordinator = users.create_user(db, system, "cora", "coordinator", PASSWORD, "LON")
        rater = users.create_user(db, system, "rita", "rater", PASSWORD, "LON")
        pi = users.create_user(db, system, "pia", "pi", PASSWORD, all_sites=True)
        people = {code: participants.create_participant(db, coordinator, code, "LON") for code in codes}
    return SimpleNamespace(path=db_path, coordinator=coordinator, rater=rater, pi=pi, people=people)


def combobox(page: Page, label: str) -> Locator:
    return page.get_by_role("combobox", name=label, exact=True).filter(visible=True)


def question_label(question_id: str) -> str:
    question = QUESTIONS[question_id]
    return f"{'Inclusion' if question.kind == 'inclusion' else 'Exclusion'}: {question.text}"


def radio(page: Page, question_id: str) -> Locator:
    return page.locator('[data-testid="stRadio"]').filter(has_text=question_label(question_id))


def answer_yes_no(page: Page, question_id: str, yes: bool) -> None:
    option = radio(page, question_id).locator(RADIO_OPTION).filter(has_text=re.compile("^Yes$" if yes else "^No$"))
    with expect_rerun(page):
        option.tap()
    expect(option.locator("input")).to_be_checked()


def number_box(page: Page, question_id: str) -> Locator:
    return page.get_by_label(question_label(question_id), exact=True).filter(visible=True)


def answer_number(page: Page, question_id: str, value: int) -> None:
    box = number_box(page, question_id)
    with expect_rerun(page):
        box.fill(str(value))
        box.press("Tab")
    expect(box).to_have_value(str(value))


def error_alert(page: Page, text: str) -> Locator:
    return page.locator('[data-testid="stAlertContentError"]').filter(has_text=text).filter(visible=True)


def just_below(page: Page, message: Locator, button_name: str, within_px: int = 160) -> None:
    """The message is drawn right under the button that caused it (not at the top of the page)."""
    button = page.get_by_role("button", name=button_name, exact=True).filter(visible=True)
    message.scroll_into_view_if_needed()
    under, above = message.bounding_box(), button.bounding_box()
    assert under and above, "message or button not drawn"
    gap = under["y"] - (above["y"] + above["height"])
    assert 0 <= gap <= within_px, f"the message is {gap:.0f} px from the {button_name!r} button"


def stored(db_path, assessment_id: int) -> dict:
    with unit_of_work(db_path, write=False) as db:
        return assessments.load_assessment(db, assessment_id)


def signed_madrs(study, code: str, timepoint: str, responses=ALL_TWOS) -> dict:
    with unit_of_work(study.path) as db:
        done = assessments.save_assessment(
            db, study.rater, study.people[code]["id"], timepoint, "madrs", "clinician", responses
        )
        return assessments.sign_assessment(db, study.rater, done["id"], done["version"])


def heading(page: Page) -> Locator:
    """The subheading naming the assessment shown ("MADRS · Day 3")."""
    return page.locator('[data-testid="stHeading"]').filter(has_text=re.compile(r"^MADRS · "))


# --------------------------------------------------------------------------- 1 (and 16). screening


@pytest.mark.browser
def test_screening_answers_stay_with_their_participant(fresh_app_server, tablet_page):
    study = seed(fresh_app_server.db_path, ("KET-001", "KET-005"))
    page = tablet_page
    goto(page, fresh_app_server.url)
    sign_in(page, "cora")
    open_page(page, "Eligibility screening")
    choose(page, "Participant", "KET-001")

    # KET-001: every question answered, including an exclusion that applies.
    for question_id, question in QUESTIONS.items():
        if question.answer == "integer":
            answer_number(page, question_id, PASSING_SCREENING[question_id])
        else:
            answer_yes_no(page, question_id, question_id == "psychosis_history" or PASSING_SCREENING[question_id])
    click_button(page, "Record the eligibility decision")
    expect_text(page, "Eligibility decision recorded for KET-001.")
    expect_text(page, "Latest decision: not eligible")

    # KET-005 has never been screened: nothing may be pre-filled from KET-001.
    choose(page, "Participant", "KET-005")
    expect_no_exception(page)
    for question_id, question in QUESTIONS.items():
        if question.answer == "integer":
            expect(number_box(page, question_id)).to_have_value("")
        else:
            expect(radio(page, question_id).locator("input:checked")).to_have_count(0)

    # 16: an implausible age is refused under the button, and the message stays while the
    # coordinator answers other questions (each answer reruns the page).
    answer_yes_no(page, "depressive_episode", True)
    answer_number(page, "age_18_to_65", 200)
    click_button(page, "Record the eligibility decision")
    refusal = error_alert(page, "200 is not a plausible number")
    expect(refusal).to_be_visible()
    just_below(page, refusal, "Record the eligibility decision")
    answer_yes_no(page, "pregnancy_or_breastfeeding", False)
    expect(refusal).to_be_visible()
    just_below(page, refusal, "Record the eligibility decision")
    snap(page, "screening-refusal-stays-under-the-button")

    answer_number(page, "age_18_to_65", 30)
    click_button(page, "Record the eligibility decision")
    expect_text(page, "Eligibility decision recorded for KET-005.")
    expect(refusal).to_have_count(0)
    expect_no_exception(page)
    with unit_of_work(study.path, write=False) as db:
        ket005 = screening.latest_eligibility(db, study.people["KET-005"]["id"])
        ket001 = screening.latest_eligibility(db, study.people["KET-001"]["id"])
    assert ket005["answers"] == {"depressive_episode": True, "age_18_to_65": 30, "pregnancy_or_breastfeeding": False}
    assert ket005["eligible"] is None  # the rest was never asked for KET-005
    assert ket001["answers"]["psychosis_history"] is True and ket001["eligible"] is False

    # Back to KET-001: its own stored answers, not KET-005's.
    choose(page, "Participant", "KET-001")
    expect(number_box(page, "age_18_to_65")).to_have_value(str(PASSING_SCREENING["age_18_to_65"]))
    yes = radio(page, "psychosis_history").locator(RADIO_OPTION).filter(has_text=re.compile("^Yes$"))
    expect(yes.locator("input")).to_be_checked()


# --------------------------------------------------------------------------- 2. amend keeps the value


@pytest.mark.browser
def test_a_refused_amendment_keeps_the_chosen_value(fresh_app_server, tablet_page):
    study = seed(fresh_app_server.db_path, ("KET-002",))
    done = signed_madrs(study, "KET-002", "day_3")
    page = tablet_page
    goto(page, fresh_app_server.url)
    sign_in(page, "rita")
    open_page(page, "Assessments")
    choose(page, "Participant", "KET-002")
    expect_text(page, "Status signed")

    choose(page, "Item to amend", "3. Inner tension")
    choose(page, "New value", "5 – between 4 and 6")  # neither the first option nor the stored 2
    click_button(page, "Save the amendment")
    refusal = error_alert(page, "reason for the change")
    expect(refusal).to_be_visible()
    just_below(page, refusal, "Save the amendment")
    expect(combobox(page, "New value")).to_have_value("5 – between 4 and 6")  # not reset to "0 – Calm"
    assert stored(study.path, done["id"])["responses"] == ALL_TWOS
    snap(page, "amend-refused-keeps-value")

    fill_in_form(page, REASON, "transcription error: the worksheet says 5")
    click_button(page, "Save the amendment")
    expect_text(page, "Item 3 amended")
    expect(refusal).to_have_count(0)
    expect_no_exception(page)
    saved = stored(study.path, done["id"])
    assert saved["status"] == "amended" and saved["responses"]["madrs_3"] == 5
    with unit_of_work(study.path, write=False) as db:
        amends = [e for e in audit.events_for(db, "assessment", done["id"]) if e["action"] == "assessment.amend"]
    assert [(e["field"], e["old_value"], e["new_value"]) for e in amends] == [("madrs_3", 2, 5)]


# --------------------------------------------------------------------------- 3. stays on the record


@pytest.mark.browser
def test_after_an_amendment_and_a_lock_the_page_stays_on_the_same_assessment(fresh_app_server, tablet_page):
    study = seed(fresh_app_server.db_path, ("KET-003",))
    day3 = signed_madrs(study, "KET-003", "day_3")
    day7 = signed_madrs(study, "KET-003", "day_7")  # the newest: where the old page jumped to
    day3_label, day7_label = timepoint_label(PROTOCOL, "day_3"), timepoint_label(PROTOCOL, "day_7")
    page = tablet_page
    goto(page, fresh_app_server.url)
    sign_in(page, "pia")
    open_page(page, "Assessments")
    choose(page, "Participant", "KET-003")
    choose(page, "Assessment", f"{day3_label} · MADRS · signed")
    expect(heading(page)).to_have_text(f"MADRS · {day3_label}")

    choose(page, "Item to amend", "3. Inner tension")
    choose(page, "New value", "4 – Constant tension or panic")
    fill_in_form(page, REASON, "worksheet says 4")
    click_button(page, "Save the amendment")
    expect_text(page, "Item 3 amended")
    expect(heading(page)).to_have_text(f"MADRS · {day3_label}")
    expect(combobox(page, "Assessment")).to_have_value(f"{day3_label} · MADRS · amended")
    expect_text(page, "Status amended")

    # The next amendment lands on the day-3 assessment too.
    choose(page, "Item to amend", "4. Reduced sleep")
    choose(page, "New value", "5 – between 4 and 6")
    fill_in_form(page, REASON, "worksheet says 5")
    click_button(page, "Save the amendment")
    expect_text(page, "Item 4 amended")
    expect(heading(page)).to_have_text(f"MADRS · {day3_label}")

    click_button(page, "Lock this assessment")
    expect_text(page, "Assessment locked.")
    expect_text(page, "This assessment is locked")
    expect(heading(page)).to_have_text(f"MADRS · {day3_label}")
    expect(combobox(page, "Assessment")).to_have_value(f"{day3_label} · MADRS · locked")
    expect_no_exception(page)

    first, other = stored(study.path, day3["id"]), stored(study.path, day7["id"])
    assert first["status"] == "locked"
    assert (first["responses"]["madrs_3"], first["responses"]["madrs_4"]) == (4, 5)
    assert other["status"] == "signed" and other["responses"] == ALL_TWOS  # day 7 untouched

    # Day 7 is still one tap away and shows its own record.
    choose(page, "Assessment", f"{day7_label} · MADRS · signed")
    expect(heading(page)).to_have_text(f"MADRS · {day7_label}")


# --------------------------------------------------------------------------- 5. pending eligibility


@pytest.mark.browser
def test_a_pending_decision_is_decided_when_the_rater_submits_the_baseline(fresh_app_server, browser):
    study = seed(fresh_app_server.db_path, ("KET-004",))
    person = study.people["KET-004"]
    answers = {q: PASSING_SCREENING[q] for q in QUESTIONS}
    with unit_of_work(study.path) as db:
        pending = screening.record_eligibility(db, study.coordinator, PROTOCOL, person["id"], answers)
        draft = assessments.start_assessment(db, study.rater, person["id"], "baseline", "madrs", "clinician")
        for n in range(1, 10):  # items 1-9 rated 3; the rater taps item 10 and signs
            assessments.save_draft_response(db, study.rater, draft["id"], f"madrs_{n}", 3)
    assert pending["eligible"] is None and pending["pending"] == [PROTOCOL.eligibility.severity.id]

    rater = new_page(browser, "tablet_landscape")
    coordinator = new_page(browser, "tablet_landscape")
    try:
        goto(coordinator, fresh_app_server.url)
        sign_in(coordinator, "cora")
        open_page(coordinator, "Eligibility screening")
        expect_text(coordinator, "Latest decision: pending")
        expect_text(coordinator, "will be checked automatically")

        goto(rater, f"{fresh_app_server.url}/rate?assessment={draft['id']}")
        sign_in(rater, "rita")
        expect_text(rater, "MADRS — KET-004")
        option = rater.locator(f".st-key-item-madrs_10 {RADIO_OPTION}").filter(has_text=re.compile(r"^3 – "))
        with expect_rerun(rater):
            option.tap()
        fill_in_form(rater, SIGN_PASSWORD, PASSWORD)
        click_button(rater, "Sign and submit")
        expect_text(rater, "Submitted (signed).")
        expect_no_exception(rater)

        with unit_of_work(study.path, write=False) as db:
            decision = screening.latest_eligibility(db, person["id"])
            status = participants.get_participant(db, person["id"])["status"]
            events = [
                e for e in audit.events_for(db, "participant", person["id"]) if e["action"] == "eligibility.reevaluate"
            ]
        assert decision["eligible"] is True and decision["baseline_total"] == 30 and decision["automatic"]
        assert decision["answers"] == answers and decision["id"] != pending["id"]
        assert status == "enrolled"
        assert [(e["username"], e["new_value"]["eligible"]) for e in events] == [("rita", "eligible")]

        open_page(coordinator, "Participants")  # the coordinator comes back to the page
        open_page(coordinator, "Eligibility screening")
        expect_text(coordinator, "Latest decision: eligible")
        expect_text(coordinator, "Decided again automatically")
        expect_no_exception(coordinator)
        snap(coordinator, "screening-decided-when-baseline-arrived")
    finally:
        rater.context.close()
        coordinator.context.close()
