"""A whole trial day, walked through the pages on tablets as a site team works (issue 11, "Done
when"; the README's "A trial day, step by step"), with two participants interleaved so that
anything carried over from one record to the other is caught. At the end the database itself
is checked: every datum is on the participant and the record it belongs to, and the audit chain
verifies.

Only the site and the accounts are seeded (db functions); everything else goes through the
pages. The day has three parts, each on its own server over the same database file, and each
server's clock is set to that part of the day (tests/clockshift: Python's `datetime` in the
server process runs behind the real clock), so every record keeps the time it would have on a
real day and no rule needs overriding:

- morning (real time − 150 min): the coordinator enrols KET-001 and KET-002 and screens both
  (KET-001 pending on its baseline severity); the rater rates KET-001's baseline MADRS from the
  worklist and signs it (the pending decision becomes eligible on its own); KET-001 answers a
  PHQ-9 on the tablet handed over (kiosk), with item 9 above 0, and hands it back;
- the infusion (real time − 75 min): the coordinator logs KET-001's infusion as started 40
  minutes ago (time fields), its end, a vital-signs reading and an adverse event; the rater
  rates the 40-minute CADSS from the worklist, and the tablet reloads half-way through (sign in
  again: the same draft, same answers);
- the afternoon (real time): a paper vital-signs reading and the paper 40-minute MADRS are
  typed in with the times they happened and a reason; the coordinator records why the 80-minute
  visit was missed and withdraws KET-002; the PI sees the alert where they land, reviews the
  trajectory, acknowledges the alert, amends the baseline MADRS with a reason and locks it.

Pages are changed through the menu and the participant pickers are switched back and forth on
the way (Participants, Screening, Infusion day, Assessments, Trajectory).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from argon2 import PasswordHasher
from playwright.sync_api import Locator, Page, expect

from db import alerts, assessments, audit, clinical, participants, screening, selfreport, sites, users, visits
from db.connection import unit_of_work
from db.migrations import init_database
from db.permissions import system_actor
from protocol import load_protocol
from protocol.keys import timepoint_label
from scales import get_scale
from selfreport.strings import text
from tests.app_support import PASSWORD
from tests.browser import *  # noqa: F403  (the harness's pytest fixtures only)
from tests.browser import (
    NAVIGATION_TIMEOUT_MS,
    click_button,
    expect_no_exception,
    expect_rerun,
    expect_text,
    fill_text,
    goto,
    new_page,
    running_app,
    snap,
    wait_for_idle,
)
from tests.test_browser_infusion_day import grid_rows, set_number, set_when, tick, vitals_grid
from tests.test_browser_rate_times import set_rated_time
from tests.test_browser_records import QUESTIONS, answer_number, answer_yes_no, fill_in_form, number_box, radio

pytestmark = pytest.mark.browser

PROTOCOL = load_protocol()
ZONE = PROTOCOL.timezone
CLOCKSHIFT = Path(__file__).resolve().parent / "clockshift"  # the sitecustomize that sets a server's clock back
MORNING, INFUSION = timedelta(minutes=-150), timedelta(minutes=-75)
STARTED_AGO = timedelta(minutes=40)  # the infusion start typed in, before the infusion part's "now"

OPTION = 'label[data-testid="stRadioOption"]'
SIGN_PASSWORD = "Your password, to sign as the rater (meaning: authored)"
MADRS = "MADRS — Montgomery–Åsberg Depression Rating Scale"
BASELINE = timepoint_label(PROTOCOL, "baseline")
MIN_40 = timepoint_label(PROTOCOL, "min_40")
MIN_80 = timepoint_label(PROTOCOL, "min_80")
LATE_TOGGLE = "Rated earlier (paper source / entered after the fact)"
LATE_REASON = "Reason for entering it later (required when more than 60 minutes after it was rated)"
VITALS_LATE_REASON = ("Reason for entering this reading later (required when more than 60 minutes after it "
                      "happened)")
AMEND_REASON = "Reason for the change (required; kept in the audit trail)"

# Screening answers: KET-001 meets every criterion asked (its baseline severity is still to come);
# KET-002 differently (other numbers), also pending on its baseline.
KET001_ANSWERS = {"depressive_episode": True, "failed_treatments": 2, "age_18_to_65": 34, "psychosis_history": False,
                  "substance_use_disorder": False, "cardiovascular_risk": False,
                  "intracranial_hypertension_or_seizures": False, "pregnancy_or_breastfeeding": False}
KET002_ANSWERS = {**KET001_ANSWERS, "failed_treatments": 4, "age_18_to_65": 57}
BASELINE_MADRS = {f"madrs_{n}": 3 for n in range(1, 11)}  # total 30: eligible (≥ 20)
CADSS_40 = {f"cadss_{n}": (2 if n <= 6 else 1 if n <= 12 else 0) for n in range(1, 24)}  # total 18
PAPER_MADRS_40 = {f"madrs_{n}": 2 for n in range(1, 11)}  # total 20
PHQ9 = get_scale("phq9")


# --------------------------------------------------------------------------- servers and seeding


def seed(db_path: Path) -> SimpleNamespace:
    """Only what an admin sets up before the day: site LON, coordinator cora, rater rita, PI pia.
    Cheap password hashes: the walk is about the records, not argon2's cost."""
    cheap, users.hasher = users.hasher, PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    try:
        init_database(db_path)
        system = system_actor("tests")
        with unit_of_work(db_path) as db:
            sites.create_site(db, system, "LON", "London clinic", "Europe/London")
            staff = SimpleNamespace(
                coordinator=users.create_user(db, system, "cora", "coordinator", PASSWORD, "LON"),
                rater=users.create_user(db, system, "rita", "rater", PASSWORD, "LON"),
                pi=users.create_user(db, system, "pia", "pi", PASSWORD, "LON"))
    finally:
        users.hasher = cheap
    return staff


@contextlib.contextmanager
def day_part(db_path: Path, offset: timedelta) -> Iterator[SimpleNamespace]:
    """A server over `db_path` whose clock runs `offset` behind the real one (none for zero);
    yields it with `now()`, the server's now."""
    env = {} if not offset else {"PYTHONPATH": str(CLOCKSHIFT),
                                 "SCALEBOOK_TEST_CLOCK_OFFSET_MINUTES": str(offset.total_seconds() / 60)}
    with running_app(db_path, env) as server:
        yield SimpleNamespace(url=server.url, server=server, now=lambda: datetime.now(UTC) + offset)


# --------------------------------------------------------------------------- page helpers


def sign_in(page: Page, url: str, username: str) -> None:
    """Open the app (a new session: the sign-in screen) and sign in."""
    goto(page, url)
    fill_in_form(page, "User name", username)
    fill_in_form(page, "Password", PASSWORD)
    click_button(page, "Sign in")
    expect_text(page, "Signed in as")
    expect_no_exception(page)


def open_page(page: Page, title: str) -> None:
    """Tap a menu entry (loading a URL would start a new, signed-out session)."""
    with expect_rerun(page):
        page.get_by_role("link", name=title, exact=True).filter(visible=True).tap()
    expect_no_exception(page)


def choose(page: Page, label: str, option: str, *, within: Locator | None = None) -> None:
    """Pick `option` in the selectbox `label` (tap it open, tap the option)."""
    box = (within or page).get_by_role("combobox", name=label, exact=True).filter(visible=True)
    if box.input_value() == option:
        return
    in_form = box.locator("xpath=ancestor::*[@data-testid='stForm']").count() > 0
    with expect_rerun(page, required=not in_form):
        box.tap()
        page.get_by_role("option", name=option, exact=True).tap()
    expect(box).to_have_value(option)


def participant_shown(page: Page) -> str:
    return page.get_by_role("combobox", name="Participant", exact=True).filter(visible=True).input_value()


def tap_rating(page: Page, item_id: str, value: int) -> None:
    """Tap a form item's option like a rater's finger; each tap saves at once (a rerun)."""
    option = page.locator(f".st-key-item-{item_id} {OPTION}").filter(has_text=re.compile(rf"^{value} – "))
    with expect_rerun(page):
        option.tap()


def rate_items(page: Page, answers: dict[str, int]) -> None:
    for item_id, value in answers.items():
        tap_rating(page, item_id, value)


def expect_ratings(page: Page, answers: dict[str, int]) -> None:
    for item_id, value in answers.items():
        option = page.locator(f".st-key-item-{item_id} {OPTION}").filter(has_text=re.compile(rf"^{value} – "))
        expect(option.locator("input")).to_be_checked()
    expect(page.locator(f"{OPTION} input:checked")).to_have_count(len(answers))


def sign_and_submit(page: Page) -> None:
    fill_in_form(page, SIGN_PASSWORD, PASSWORD)
    click_button(page, "Sign and submit")
    expect_text(page, "Submitted (signed).")
    expect_no_exception(page)


def assessment_in_url(page: Page) -> int:
    found = re.search(r"[?&]assessment=(\d+)", page.url)
    assert found, f"no ?assessment=ID in {page.url}"
    return int(found.group(1))


def work_card(page: Page, code: str, label: str) -> Locator:
    """The worklist card of one participant's timepoint."""
    return page.locator('[class*="st-key-work-"]').filter(has_text=code).filter(has_text=label)


def screen(page: Page, code: str, answers: dict) -> None:
    """Eligibility screening: pick `code`, check nothing is pre-filled, answer, record."""
    choose(page, "Participant", code)
    for question_id, question in QUESTIONS.items():
        if question.answer == "integer":
            expect(number_box(page, question_id)).to_have_value("")
        else:
            expect(radio(page, question_id).locator("input:checked")).to_have_count(0)
    for question_id, question in QUESTIONS.items():
        if question.answer == "integer":
            answer_number(page, question_id, answers[question_id])
        else:
            answer_yes_no(page, question_id, answers[question_id])
    click_button(page, "Record the eligibility decision")
    expect_text(page, f"Eligibility decision recorded for {code}.")
    expect_text(page, "Latest decision: pending")


def answer_on_kiosk(page: Page, label: str) -> None:
    option = page.locator(OPTION).filter(has=page.get_by_text(label, exact=True))
    with expect_rerun(page):
        option.tap()
    expect(page.get_by_role("radio", name=label, exact=True)).to_be_checked()


def kiosk_question(page: Page):
    prompt = page.locator('[data-testid="stRadio"] [data-testid="stWidgetLabel"]').inner_text().strip()
    return next(i for i in PHQ9.items if i.prompt == prompt)


def option_label(item, value: int) -> str:
    return next(o["label"] for o in item.options if o["value"] == value)


def hhmm(moment: datetime) -> str:
    return moment.astimezone(ZONE).strftime("%H:%M")


def minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


# --------------------------------------------------------------------------- the day


def test_a_whole_trial_day_puts_every_datum_on_its_record(browser, tmp_path):
    db_path = tmp_path / "trial-day.db"
    staff = seed(db_path)
    coordinator = new_page(browser, "tablet_landscape")  # the coordinator's tablet
    rater = new_page(browser, "tablet_landscape")  # the rater's tablet, handed to the participant too
    pi = new_page(browser, "tablet_landscape")
    try:
        morning(db_path, coordinator, rater)
        started = infusion(db_path, coordinator, rater)
        afternoon(db_path, coordinator, rater, pi, started)
    except BaseException:
        for name, page in (("coordinator", coordinator), ("rater", rater), ("pi", pi)):
            with contextlib.suppress(Exception):
                print(f"screenshot: {snap(page, f'trial-day-{name}-failure')}")
        raise
    finally:
        for page in (coordinator, rater, pi):
            page.context.close()
    check_the_records(db_path, staff, started)


def morning(db_path: Path, coordinator: Page, rater: Page) -> None:
    with day_part(db_path, MORNING) as part:
        # The coordinator enrols both participants.
        sign_in(coordinator, part.url, "cora")
        open_page(coordinator, "Participants")
        for code in ("KET-001", "KET-002"):
            fill_in_form(coordinator, "Participant code (pseudonymous; never a name)", code)
            click_button(coordinator, "Enrol")
            expect_text(coordinator, f"Participant {code} enrolled at LON.")

        # Screening: KET-001 first, then KET-002 (nothing of KET-001's is pre-filled for it).
        open_page(coordinator, "Eligibility screening")
        screen(coordinator, "KET-001", KET001_ANSWERS)
        expect_text(coordinator, "will be checked automatically")
        screen(coordinator, "KET-002", KET002_ANSWERS)
        choose(coordinator, "Participant", "KET-001")  # back: KET-001's own answers
        expect(number_box(coordinator, "age_18_to_65")).to_have_value("34")
        expect(number_box(coordinator, "failed_treatments")).to_have_value("2")

        # The rater rates KET-001's baseline MADRS from the worklist and signs it.
        sign_in(rater, part.url, "rita")
        expect_text(rater, "Today's worklist")
        card = work_card(rater, "KET-001", BASELINE)
        expect(card).to_have_count(1)
        with expect_rerun(rater):
            card.get_by_role("button", name="Rate MADRS").tap()
        wait_for_idle(rater)
        expect_text(rater, "MADRS — KET-001")
        rate_items(rater, BASELINE_MADRS)
        sign_and_submit(rater)

        # The pending decision was decided when the baseline arrived.
        open_page(coordinator, "Participants")
        open_page(coordinator, "Eligibility screening")
        assert participant_shown(coordinator) == "KET-001"
        expect_text(coordinator, "Latest decision: eligible")
        expect_text(coordinator, "Decided again automatically")
        choose(coordinator, "Participant", "KET-002")
        expect_text(coordinator, "Latest decision: pending")  # KET-001's baseline decides nothing for KET-002
        expect(number_box(coordinator, "age_18_to_65")).to_have_value("57")

        # KET-001 answers a PHQ-9 on the rater's tablet, handed over, and hands it back.
        open_page(rater, "Self-report")
        choose(rater, "Participant", "KET-001")
        choose(rater, "Timepoint", BASELINE)
        remove_qids = rater.get_by_role("button", name=re.compile(r"^Remove QIDS-SR16 — "))  # due here; not today
        with expect_rerun(rater):
            remove_qids.tap()
        expect(remove_qids).to_have_count(0)
        questionnaires = rater.get_by_role("combobox", name="Questionnaires", exact=True)
        with expect_rerun(rater, required=False):
            questionnaires.tap()
            rater.get_by_role("option", name=re.compile(r"^PHQ-9 — ")).tap()
        rater.keyboard.press("Escape")
        wait_for_idle(rater)
        snap(rater, "trial-day-kiosk-choice")
        click_button(rater, "Hand the tablet to the participant")
        click_button(rater, text("start"))
        for n in range(len(PHQ9.items)):  # item 9 "Several days": a safety answer
            item = kiosk_question(rater)
            answer_on_kiosk(rater, option_label(item, 1 if item.id == "phq9_9" else n % 2))
            click_button(rater, text("next"))
            if rater.get_by_text(text("review_title")).count():
                break
        expect_text(rater, text("review_title"))
        snap(rater, "trial-day-kiosk-review")
        click_button(rater, text("submit"))
        expect_text(rater, text("support_title"))  # after a safety answer: where help is, then thanks
        click_button(rater, text("continue"))
        expect_text(rater, text("thanks_kiosk"))
        click_button(rater, text("staff_exit"))
        fill_text(rater, text("staff_password"), PASSWORD)
        click_button(rater, text("staff_unlock"))
        expect_text(rater, "Signed in as")
        notice = rater.locator(".st-key-handback-notice")
        expect(notice).to_contain_text("KET-001 answered a safety item")
        click_button(rater, "I have seen this and will act on it")
        expect_no_exception(rater)


def infusion(db_path: Path, coordinator: Page, rater: Page) -> datetime:
    """The infusion part; returns the infusion start as entered (UTC, to the minute)."""
    with day_part(db_path, INFUSION) as part:
        sign_in(coordinator, part.url, "cora")
        open_page(coordinator, "Infusion day")
        assert participant_shown(coordinator) == "KET-001"
        expect_text(coordinator, "Start infusion 1")
        set_number(coordinator, "Weight (kg)", 72.5)
        started = minute(part.now() - STARTED_AGO)
        set_when(coordinator, "Start", started)
        expect(coordinator.get_by_text("has no accepted baseline")).to_have_count(0)  # baseline before this start
        tick(coordinator, "I have checked the total dose of 36.3 mg")
        click_button(coordinator, "Start infusion")
        expect_text(coordinator, f"Infusion 1 started at {hhmm(started)}")
        click_button(coordinator, "Record the end of the infusion")
        expect_text(coordinator, "Infusion 1 ended at")
        for label, value in (("Systolic (mmHg)", 132), ("Diastolic (mmHg)", 84), ("Heart rate (bpm)", 80),
                             ("SpO2 (%)", 97)):
            set_number(coordinator, label, value)
        click_button(coordinator, "Save vital signs")
        expect_text(coordinator, "Vital signs saved.")
        fill_text(coordinator, "Event (term)", "nausea")
        click_button(coordinator, "Record adverse event")
        expect_text(coordinator, "Adverse event 'nausea' recorded.")

        # The rater: the 40-minute CADSS is due now; the tablet reloads half-way through.
        sign_in(rater, part.url, "rita")
        card = work_card(rater, "KET-001", MIN_40)
        expect(card).to_contain_text("due now")
        with expect_rerun(rater):
            card.get_by_role("button", name="Rate CADSS").tap()
        wait_for_idle(rater)
        expect_text(rater, "CADSS — KET-001")
        cadss_id = assessment_in_url(rater)
        half = dict(list(CADSS_40.items())[:12])
        rate_items(rater, half)
        goto(rater, f"{part.url}/rate?assessment={cadss_id}")  # reload: a new session, signed out
        fill_in_form(rater, "User name", "rita")
        fill_in_form(rater, "Password", PASSWORD)
        click_button(rater, "Sign in")
        expect_text(rater, "CADSS — KET-001")
        assert assessment_in_url(rater) == cadss_id
        expect_ratings(rater, half)
        rate_items(rater, dict(list(CADSS_40.items())[12:]))
        sign_and_submit(rater)
    return started


def afternoon(db_path: Path, coordinator: Page, rater: Page, pi: Page, started: datetime) -> None:
    with day_part(db_path, timedelta(0)) as part:
        pass


def check_the_records(db_path: Path, staff: SimpleNamespace, started: datetime) -> None:
    pass
