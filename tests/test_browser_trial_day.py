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
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from argon2 import PasswordHasher
from playwright.sync_api import Locator, Page, expect

from db import alerts, assessments, audit, clinical, participants, screening, selfreport, sites, users, visits
from db.clock import format_utc, parse_utc
from db.connection import unit_of_work
from db.migrations import init_database
from db.permissions import system_actor
from protocol import load_protocol
from protocol.keys import timepoint_label
from scales import get_scale
from selfreport.strings import text
from tests.app_support import PASSWORD
from tests.browser import (
    choose,
    click_button,
    expect_no_exception,
    expect_rerun,
    expect_text,
    fill_in_form,
    fill_text,
    goto,
    new_page,
    open_page,
    running_app,
    sign_in,
    snap,
    wait_for_idle,
)
from tests.test_browser_infusion_day import grid_rows, set_number, set_when, tick, vitals_grid
from tests.test_browser_rate_times import set_rated_time
from tests.test_browser_records import QUESTIONS, answer_number, answer_yes_no, number_box, radio

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
LATE_TOGGLE = "Rated earlier (paper source / entered after the fact)"
LATE_REASON = "Reason for entering it later (required when more than 60 minutes after it was rated)"
VITALS_LATE_REASON = "Reason for entering this reading later (required when more than 60 minutes after it happened)"
AMEND_REASON = "Reason for the change (required; kept in the audit trail)"

# Screening answers: KET-001 meets every criterion asked (its baseline severity is still to come);
# KET-002 differently (other numbers), also pending on its baseline.
KET001_ANSWERS = {
    "depressive_episode": True,
    "failed_treatments": 2,
    "age_18_to_65": 34,
    "psychosis_history": False,
    "substance_use_disorder": False,
    "cardiovascular_risk": False,
    "intracranial_hypertension_or_seizures": False,
    "pregnancy_or_breastfeeding": False,
}
KET002_ANSWERS = {**KET001_ANSWERS, "failed_treatments": 4, "age_18_to_65": 57}
BASELINE_MADRS = {f"madrs_{n}": 3 for n in range(1, 11)}  # total 30: eligible (≥ 20)
CADSS_40 = {f"cadss_{n}": (2 if n <= 6 else 1 if n <= 12 else 0) for n in range(1, 24)}  # total 18
PAPER_MADRS_40 = {f"madrs_{n}": 2 for n in range(1, 11)}  # total 20
PHQ9 = get_scale("phq9")
PAPER_MADRS_AT = timedelta(minutes=42)  # the paper 40-minute MADRS, after the infusion start
PAPER_REASON = "Rated on paper at the 40-minute visit; transcribed from the source form"
VITALS_REASON = "read off the monitor printout"
MISSED_80 = "participant asleep after the infusion"
MISSED_40 = "BPRS not done: rater with another participant"
WITHDRAWN = "consent withdrawn before the baseline visit"
ALERT_NOTE = "participant seen by the psychiatrist; safety plan reviewed"
AMEND_WHY = "transcription error: the worksheet says 4"


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
                pi=users.create_user(db, system, "pia", "pi", PASSWORD, "LON"),
            )
    finally:
        users.hasher = cheap
    return staff


@contextlib.contextmanager
def day_part(db_path: Path, offset: timedelta) -> Iterator[SimpleNamespace]:
    """A server over `db_path` whose clock runs `offset` behind the real one (none for zero);
    yields it with `now()`, the server's now."""
    path = os.pathsep.join(p for p in (str(CLOCKSHIFT), os.environ.get("PYTHONPATH", "")) if p)
    env = (
        {}
        if not offset
        else {"PYTHONPATH": path, "SCALEBOOK_TEST_CLOCK_OFFSET_MINUTES": str(offset.total_seconds() / 60)}
    )
    with running_app(db_path, env) as server:
        yield SimpleNamespace(url=server.url, server=server, now=lambda: datetime.now(UTC) + offset)


# --------------------------------------------------------------------------- page helpers


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


@pytest.mark.timeout(600)  # three servers and some 200 taps: about 3 minutes, more on a loaded 2-core machine
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
        sign_in(coordinator, "cora", url=part.url)
        open_page(coordinator, "Participants")
        for code in ("KET-001", "KET-002"):
            fill_in_form(coordinator, "Participant code (pseudonymous; never a name)", code)
            click_button(coordinator, "Enrol")
            expect_text(coordinator, f"Participant {code} enrolled at LON.")
        with unit_of_work(db_path, write=False) as db:
            enrolled = parse_utc(participants.find_participant(db, "KET-001")["created_at"])
        assert abs(enrolled - part.now()) < timedelta(minutes=5), (
            "the server's clock was not set back: tests/clockshift/sitecustomize.py was not loaded"
        )

        # Screening: KET-001 first, then KET-002 (nothing of KET-001's is pre-filled for it).
        open_page(coordinator, "Eligibility screening")
        screen(coordinator, "KET-001", KET001_ANSWERS)
        expect_text(coordinator, "will be checked automatically")
        screen(coordinator, "KET-002", KET002_ANSWERS)
        choose(coordinator, "Participant", "KET-001")  # back: KET-001's own answers
        expect(number_box(coordinator, "age_18_to_65")).to_have_value("34")
        expect(number_box(coordinator, "failed_treatments")).to_have_value("2")

        # The rater rates KET-001's baseline MADRS from the worklist and signs it.
        sign_in(rater, "rita", url=part.url)
        expect_text(rater, "Today's worklist")
        card = work_card(rater, "KET-001", BASELINE)
        expect(card).to_have_count(1)
        expect(card).to_contain_text("not yet scheduled: its time follows from the infusion start")
        snap(rater, "trial-day-1-worklist-baseline")
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
        fill_text(rater, text("staff_username"), "rita")  # typed: the exit form offers no name (issue 13 item 12)
        fill_text(rater, text("staff_password"), PASSWORD)
        click_button(rater, text("staff_unlock"))
        expect_text(rater, "Signed in as")
        notice = rater.locator(".st-key-handback-notice")
        expect(notice).to_contain_text("KET-001 answered a safety item")
        click_button(rater, "I have seen this and will act on it")
        open_page(rater, "Self-report")  # the submitted PHQ-9 is listed for KET-001 only
        choose(rater, "Participant", "KET-001")
        expect(rater.locator("[data-testid=stTable]")).to_contain_text("PHQ-9")
        choose(rater, "Participant", "KET-002")
        expect_text(rater, "Self-reports of KET-002")
        expect(rater.locator("[data-testid=stTable]")).to_have_count(0)
        expect_no_exception(rater)


def infusion(db_path: Path, coordinator: Page, rater: Page) -> datetime:
    """The infusion part; returns the infusion start as entered (UTC, to the minute)."""
    with day_part(db_path, INFUSION) as part:
        sign_in(coordinator, "cora", url=part.url)
        open_page(coordinator, "Infusion day")
        choose(coordinator, "Participant", "KET-002")  # still pending: cannot be dosed
        expect_text(coordinator, "This participant cannot be dosed")
        choose(coordinator, "Participant", "KET-001")
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
        for label, value in (
            ("Systolic (mmHg)", 132),
            ("Diastolic (mmHg)", 84),
            ("Heart rate (bpm)", 80),
            ("SpO2 (%)", 97),
        ):
            set_number(coordinator, label, value)
        click_button(coordinator, "Save vital signs")
        expect_text(coordinator, "Vital signs saved.")
        fill_text(coordinator, "Event (term)", "nausea")
        click_button(coordinator, "Record adverse event")
        expect_text(coordinator, "Adverse event 'nausea' recorded.")
        snap(coordinator, "trial-day-2-infusion-day")

        # The rater: the 40-minute CADSS is due now; the tablet reloads half-way through.
        sign_in(rater, "rita", url=part.url)
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
    ids = participant_ids(db_path)
    with day_part(db_path, timedelta(0)) as part:
        # The rater types in the 40-minute MADRS done on paper, with the time it was rated.
        sign_in(rater, "rita", url=part.url)
        open_page(rater, "Rate a scale")
        choose(rater, "Participant", "KET-002")  # the picker is switched on the way, as a finger slips
        choose(rater, "Participant", "KET-001")
        choose(rater, "Timepoint", MIN_40)
        choose(rater, "Scale", MADRS)
        with expect_rerun(rater):
            rater.get_by_text(LATE_TOGGLE, exact=True).tap()
        set_rated_time(rater, started + PAPER_MADRS_AT)
        expect_text(rater, "give a reason for the late entry")
        fill_text(rater, LATE_REASON, PAPER_REASON)
        click_button(rater, "Open the form")
        expect_text(rater, "MADRS — KET-001")
        expect_text(rater, f"Entered later: rated {(started + PAPER_MADRS_AT).astimezone(ZONE):%Y-%m-%d %H:%M}")
        expect(rater.get_by_text("Outside the protocol window")).to_have_count(0)
        rate_items(rater, PAPER_MADRS_40)
        sign_and_submit(rater)

        # The coordinator types in the paper vital-signs reading of the 15-minute slot.
        sign_in(coordinator, "cora", url=part.url)
        open_page(coordinator, "Infusion day")
        assert participant_shown(coordinator) == "KET-001"
        slot = started + timedelta(minutes=15)
        for label, value in (("Systolic (mmHg)", 138), ("Diastolic (mmHg)", 88), ("Heart rate (bpm)", 84)):
            set_number(coordinator, label, value)
        set_when(coordinator, "Measured", slot)
        fill_text(coordinator, VITALS_LATE_REASON, VITALS_REASON)
        click_button(coordinator, "Save vital signs")
        expect_text(coordinator, f"Vital signs saved. Measured at {hhmm(slot)}.")
        rows = {row["time"]: row for row in grid_rows(coordinator, vitals_grid(coordinator))}
        assert rows[hhmm(slot)]["entered"].endswith(f": {VITALS_REASON}"), rows
        assert rows[hhmm(slot)]["heart rate"] == "84"

        # The worklist: the 80-minute visit was missed (and the 40-minute BPRS was not done).
        open_page(coordinator, "Today's worklist")
        for name, reason in (("min_80", MISSED_80), ("min_40", MISSED_40)):
            missed = coordinator.locator(f".st-key-participant-{ids['KET-001']}-missed-{name}")
            expect(missed).to_contain_text("missed")
            missed.get_by_text("Record reason").tap()
            missed.get_by_label("Why was this visit missed?", exact=True).fill(reason)
            with expect_rerun(coordinator):
                missed.get_by_role("button", name="Save reason").tap()
            expect_text(coordinator, f"Reason recorded for KET-001 · {timepoint_label(PROTOCOL, name)}.")
        expect(work_card(coordinator, "KET-001", timepoint_label(PROTOCOL, "min_120"))).to_contain_text(
            re.compile("due now|overdue")
        )  # its window opened 110 minutes after the start
        snap(coordinator, "trial-day-3-worklist-afternoon")

        # KET-002 withdraws before any baseline; KET-001's record shows its missed visits.
        open_page(coordinator, "Participants")
        choose(coordinator, "Participant", "KET-002")
        coordinator.get_by_role("tab", name="Withdraw KET-002").tap()
        coordinator.get_by_label("Reason for withdrawal", exact=True).fill(WITHDRAWN)
        click_button(coordinator, "Withdraw participant")
        expect_text(coordinator, "KET-002 withdrawn from")
        choose(coordinator, "Participant", "KET-001")
        expect(coordinator.locator(f".st-key-participant-{ids['KET-001']}-missed-min_80")).to_contain_text(
            f"Reason: {MISSED_80}"
        )
        expect(coordinator.get_by_role("tab", name="Withdraw KET-001")).to_be_visible()  # still in the study
        expect_no_exception(coordinator)

        # The PI lands on the worklist and sees the open alert there.
        sign_in(pi, "pia", url=part.url)
        banner = pi.locator(".st-key-alert-banner")
        expect(banner).to_contain_text("1 open safety alert")
        expect(banner).to_contain_text("KET-001 · PHQ-9 item 9")
        expect(pi.get_by_text("KET-002")).to_have_count(0)  # withdrawn: off the worklist
        snap(pi, "trial-day-4-pi-lands")

        # Trajectory: KET-001's ratings and the open alert; KET-002 has none.
        open_page(pi, "Participant trajectory")
        choose(pi, "Participant", "KET-001")
        expect_text(pi, re.compile(r"^Open safety alert: "))
        expect_text(pi, "Dissociation around each infusion")
        snap(pi, "trial-day-5-trajectory")
        choose(pi, "Participant", "KET-002")
        expect_text(pi, "No submitted ratings for KET-002 yet.")
        expect(pi.get_by_text(re.compile(r"^Open safety alert: "))).to_have_count(0)
        choose(pi, "Participant", "KET-001")

        # The PI acknowledges the alert.
        open_page(pi, "Cohort and alerts")
        expect_text(pi, "Open safety alerts (1)")
        pi.get_by_label("What was done (kept in the audit trail)", exact=True).fill(ALERT_NOTE)
        click_button(pi, "Acknowledge alert")
        expect_text(pi, "acknowledged; your note is in the audit trail")
        expect_text(pi, "No open safety alerts.")

        # Assessments: the baseline MADRS amended with a reason, then locked; KET-002 on the way.
        open_page(pi, "Assessments")
        choose(pi, "Participant", "KET-002")
        expect_text(pi, "No assessments for KET-002 yet.")
        choose(pi, "Participant", "KET-001")
        choose(pi, "Assessment", f"{BASELINE} · MADRS · signed")
        choose(pi, "Item to amend", "3. Inner tension")
        choose(pi, "New value", "4 – Constant tension or panic")
        fill_in_form(pi, AMEND_REASON, AMEND_WHY)
        click_button(pi, "Save the amendment")
        expect_text(pi, "Item 3 amended")
        click_button(pi, "Lock this assessment")
        expect_text(pi, "Assessment locked.")
        open_page(pi, "Participant trajectory")
        open_page(pi, "Assessments")
        assert participant_shown(pi) == "KET-001"
        expect(pi.get_by_role("combobox", name="Assessment", exact=True)).to_have_value(f"{BASELINE} · MADRS · locked")
        expect_text(pi, "This assessment is locked")
        expect_no_exception(pi)
        snap(pi, "trial-day-6-assessment-locked")


def participant_ids(db_path: Path) -> dict[str, int]:
    with unit_of_work(db_path, write=False) as db:
        return {code: participants.find_participant(db, code)["id"] for code in ("KET-001", "KET-002")}


# --------------------------------------------------------------------------- the records, read back


def rows(db, table: str, participant_id: int) -> list[dict]:
    return [dict(r) for r in db.query(f"SELECT * FROM {table} WHERE participant_id = ? ORDER BY id", [participant_id])]


def check_the_records(db_path: Path, staff: SimpleNamespace, started: datetime) -> None:
    ids = participant_ids(db_path)
    one, two = ids["KET-001"], ids["KET-002"]
    with unit_of_work(db_path, write=False) as db:
        # Participants and their eligibility.
        assert participants.get_participant(db, one)["status"] == "enrolled"
        ket002 = participants.get_participant(db, two)
        assert (ket002["status"], ket002["status_reason"]) == ("withdrawn", WITHDRAWN)
        decisions = rows(db, "eligibility_decisions", one)
        assert [d["eligible"] for d in decisions] == [None, 1]
        latest = screening.latest_eligibility(db, one)
        assert latest["automatic"] and latest["baseline_total"] == 30 and latest["answers"] == KET001_ANSWERS
        assert [screening.latest_eligibility(db, two)[k] for k in ("eligible", "answers")] == [None, KET002_ANSWERS]
        assert len(rows(db, "eligibility_decisions", two)) == 1  # KET-001's baseline decided nothing for KET-002

        # Assessments: each on KET-001, at its timepoint, with its answers; none on KET-002.
        mine = {
            (a["timepoint"], a["scale_id"]): assessments.load_assessment(db, a["id"])
            for a in assessments.list_assessments(db, participant_id=one)
        }
        assert set(mine) == {("baseline", "madrs"), ("baseline", "phq9"), ("min_40", "cadss"), ("min_40", "madrs")}
        assert assessments.list_assessments(db, participant_id=two) == []
        baseline = mine[("baseline", "madrs")]
        assert baseline["status"] == "locked" and baseline["responses"] == {**BASELINE_MADRS, "madrs_3": 4}
        assert baseline["rater"] == "rita" and baseline["assessed_at"] is None
        phq9 = mine[("baseline", "phq9")]
        assert phq9["mode"] == "kiosk" and phq9["status"] == "complete" and phq9["responses"]["phq9_9"] == 1
        cadss = mine[("min_40", "cadss")]
        assert cadss["status"] == "signed" and cadss["responses"] == CADSS_40 and cadss["score"]["total"] == 18
        paper = mine[("min_40", "madrs")]
        assert paper["status"] == "signed" and paper["responses"] == PAPER_MADRS_40
        assert paper["assessed_at"] == format_utc(started + PAPER_MADRS_AT)
        assert paper["late_entry_reason"] == PAPER_REASON

        # The infusion, its vital signs and its adverse event: KET-001's, none for KET-002.
        [infusion] = clinical.list_infusions(db, one)
        assert (infusion["started_at"], infusion["weight_kg"], infusion["total_dose_mg"]) == (
            format_utc(started),
            72.5,
            36.3,
        )
        assert infusion["ended_at"] is not None
        assert cadss["infusion_id"] == paper["infusion_id"] == infusion["id"]
        vitals = clinical.list_vitals(db, one)  # by the time measured: the paper reading first
        assert [(v["infusion_id"], v["heart_rate"]) for v in vitals] == [(infusion["id"], 84), (infusion["id"], 80)]
        late, live = vitals
        assert live["late_entry_reason"] is None
        assert (late["measured_at"], late["late_entry_reason"]) == (
            format_utc(started + timedelta(minutes=15)),
            VITALS_REASON,
        )
        [event] = clinical.list_adverse_events(db, one)
        assert (event["term"], event["infusion_id"]) == ("nausea", infusion["id"])
        for table in ("infusions", "vitals", "adverse_events", "missed_visits", "protocol_deviations", "safety_alerts"):
            assert rows(db, table, two) == [], table

        # No deviation: every rating inside its window, the infusion after its baseline.
        assert rows(db, "protocol_deviations", one) == []
        # The missed visits' reasons.
        reasons = visits.latest_reasons(db, [one, two])
        assert {k: v["reason"] for k, v in reasons.items()} == {(one, "min_80"): MISSED_80, (one, "min_40"): MISSED_40}

        # The safety alert: KET-001's PHQ-9, acknowledged by the PI with the note.
        [alert] = alerts.list_alerts(db, open_only=False)
        assert (alert["participant_id"], alert["assessment_id"], alert["item_id"]) == (one, phq9["id"], "phq9_9")
        assert alert["acknowledged_by"] == staff.pi["id"] and alert["acknowledged_at"] is not None
        # Only the kiosk hand-over made a link.
        assert [link["channel"] for link in selfreport.list_links(db, one)] == ["kiosk"]
        assert selfreport.list_links(db, two) == []

        # The audit trail: every event about a record names that record's participant, and the
        # amendment and the lock carry what the PI did.
        check_audit_participants(db, ids)
        amended = [e for e in audit.events_for(db, "assessment", baseline["id"]) if e["action"] == "assessment.amend"]
        assert [(e["field"], e["old_value"], e["new_value"], e["reason"], e["username"]) for e in amended] == [
            ("madrs_3", 3, 4, AMEND_WHY, "pia")
        ]
        assert any(
            e["action"] == "assessment.lock" and e["username"] == "pia"
            for e in audit.events_for(db, "assessment", baseline["id"])
        )
        assert audit.verify_audit(db) is None


OWNED = (
    ("participant", "participants", "id"),
    ("assessment", "assessments", "participant_id"),
    ("infusion", "infusions", "participant_id"),
    ("vitals", "vitals", "participant_id"),
    ("adverse_event", "adverse_events", "participant_id"),
    ("missed_visit", "missed_visits", "participant_id"),
    ("protocol_deviation", "protocol_deviations", "participant_id"),
    ("safety_alert", "safety_alerts", "participant_id"),
    ("self_report_token", "self_report_tokens", "participant_id"),
)


def check_audit_participants(db, ids: dict[str, int]) -> None:
    """Each audit event about a participant's record carries that record's participant, and
    KET-002's events are exactly what was done for KET-002."""
    owner = {}
    for entity, table, column in OWNED:
        for row in db.query(f"SELECT id, {column} AS participant_id FROM {table}"):
            owner[(entity, str(row["id"]))] = row["participant_id"]
    events = list(db.query("SELECT id, action, entity, entity_id, participant_id FROM audit_events"))
    for event in events:
        if event["entity"] in {entity for entity, _, _ in OWNED}:
            assert event["participant_id"] == owner[(event["entity"], event["entity_id"])], event
    assert {e["action"] for e in events if e["participant_id"] == ids["KET-002"]} == {
        "participant.create",
        "eligibility.decide",
        "participant.change_status",
        "participant.change_status_at",
        "participant.change_status_reason",
    }
    # The kiosk link's questionnaire is the participant's own.
    assert (
        list(
            db.query(
                "SELECT count(*) AS n FROM self_report_link_assessments l JOIN self_report_tokens t ON "
                "t.id = l.token_id JOIN assessments a ON a.id = l.assessment_id WHERE a.participant_id <> "
                "t.participant_id OR l.participant_id <> t.participant_id"
            )
        )[0]["n"]
        == 0
    )
