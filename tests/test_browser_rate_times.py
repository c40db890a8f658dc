"""The Rate page in a real browser on a tablet (issue 11, points 4 and 11 for ratings).

Point 4: after a form was opened (?assessment=ID in the address), "Rate a scale" from the menu
shows the picker, and changing the picker never jumps back to the old form.

Point 11: a rating done on paper at 24 hours and typed in on day 3 keeps the time it happened:
no window deviation, the schedule counts the 24-hour timepoint done, and the trajectory places
it at 24 hours; a future time, a time before enrolment and a late time without a reason are
refused with a message that says what to change.

Data a flow does not test is seeded straight into the server's database with the db package.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from playwright.sync_api import Page, expect

from analytics.outcomes import scale_outcome
from analytics.records import assessment_from_row, infusion_from_row
from db import analytics, assessments, clinical, clock, participants, sites, users
from db.connection import unit_of_work
from db.migrations import init_database
from db.permissions import system_actor
from db.schedule import schedule_inputs
from protocol import load_protocol
from protocol.schedule import participant_schedule
from tests.app_support import PASSWORD
from tests.browser import (
    choose,
    click_button,
    expect_no_exception,
    expect_rerun,
    expect_text,
    show_menu,
    sign_in,
    wait_for_idle,
)
from tests.conftest_db import full_responses, mark_eligible

MADRS = "MADRS — Montgomery–Åsberg Depression Rating Scale"
ZONE = load_protocol().timezone
LATE = "Rated earlier (paper source / entered after the fact)"
DATE = "Date it was rated"
TIME = f"Time it was rated ({ZONE.key})"
REASON = "Reason for entering it later (required when more than 60 minutes after it was rated)"
SIGN_PASSWORD = "Your password, to sign as the rater (meaning: authored)"


# --------------------------------------------------------------------------- seeding and helpers


def at(moment: datetime):
    """A stand-in for db.clock.utc_now that says it is `moment` (seeding the past)."""
    return lambda: clock.format_utc(moment)


def seed_history(db, staff, code: str, times: SimpleNamespace) -> dict:
    """A participant enrolled 5 days ago, baseline and eligibility an hour later, infusion 1
    started about 3 days ago, and the day-1 QIDS-SR16 done live at 24 hours; the clock is set
    back for each write, as if each was entered when it happened."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(clock, "utc_now", at(times.enrolled))
        person = participants.create_participant(db, staff.coordinator, code, "LON")
        patch.setattr(clock, "utc_now", at(times.enrolled + timedelta(hours=1)))
        mark_eligible(db, staff.coordinator, staff.rater, person["id"])
        patch.setattr(clock, "utc_now", at(times.infusion_start + timedelta(minutes=45)))
        clinical.record_infusion(
            db,
            staff.coordinator,
            person["id"],
            1,
            clock.format_utc(times.infusion_start),
            70,
            0.5,
            ended_at=clock.format_utc(times.infusion_start + timedelta(minutes=40)),
        )
        patch.setattr(clock, "utc_now", at(times.rated + timedelta(minutes=15)))
        assessments.save_assessment(
            db, staff.rater, person["id"], "day_1", "qids_sr16", "kiosk", full_responses("qids_sr16")
        )
    return person


@pytest.fixture(scope="module")
def server_data(app_server) -> SimpleNamespace:
    """The module server's data: site LON, rater rita, coordinator cora; KET-001 with a baseline
    MADRS draft and KET-002 (point 4); KET-301 and KET-302 on day 3 after their infusion, whose
    24-hour MADRS is still to be entered (point 11). Each test uses its own participants."""
    init_database(app_server.db_path)
    system = system_actor("tests")
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    infusion_start = now - timedelta(days=3, minutes=30)
    times = SimpleNamespace(
        now=now,
        enrolled=now - timedelta(days=5),
        infusion_start=infusion_start,
        rated=infusion_start + timedelta(days=1, minutes=10),
    )  # inside the 24-hour window
    with unit_of_work(app_server.db_path) as db:
        sites.create_site(db, system, "LON", "London clinic", "Europe/London")
        staff = SimpleNamespace(
            rater=users.create_user(db, system, "rita", "rater", PASSWORD, "LON"),
            coordinator=users.create_user(db, system, "cora", "coordinator", PASSWORD, "LON"),
        )
        first = participants.create_participant(db, staff.coordinator, "KET-001", "LON")
        participants.create_participant(db, staff.coordinator, "KET-002", "LON")
        draft = assessments.start_assessment(db, staff.rater, first["id"], "baseline", "madrs", "clinician")
        late = {code: seed_history(db, staff, code, times) for code in ("KET-301", "KET-302")}
    return SimpleNamespace(
        path=app_server.db_path, url=app_server.url, staff=staff, draft=draft, late=late, times=times
    )


def open_from_menu(page: Page, title: str) -> None:
    """Tap an entry of the sidebar menu (an st.page_link) and wait for the page."""
    show_menu(page)  # collapsed on the form and review pages
    with expect_rerun(page):
        page.get_by_role("link", name=title, exact=True).tap()


# --------------------------------------------------------------------------- point 4


@pytest.mark.browser
def test_rate_a_scale_from_the_menu_leaves_the_open_form_for_good(server_data, tablet_page):
    page = tablet_page
    sign_in(page, "rita", url=server_data.url)
    open_from_menu(page, "Rate a scale")
    # Drafts name the scale, not its id (issue 16 item 7).
    click_button(page, "Resume KET-001 · Baseline (before the infusion) · MADRS")
    expect(page).to_have_url(re.compile(rf"[?&]assessment={server_data.draft['id']}\b"))
    expect_text(page, "MADRS — KET-001")

    open_from_menu(page, "Rate a scale")
    expect_text(page, "Start or resume an assessment")
    expect(page).not_to_have_url(re.compile(r"assessment="))
    for label, option in (("Participant", "KET-002"), ("Timepoint", "Day 1 (24 hours)")):
        choose(page, label, option)
        expect_text(page, "Start or resume an assessment")
        expect(page.get_by_text("MADRS — KET-001")).to_have_count(0)
        expect(page).not_to_have_url(re.compile(r"assessment="))
    expect_no_exception(page)


# --------------------------------------------------------------------------- point 11


def set_rated_time(page: Page, moment: datetime) -> None:
    """Type the local date and time `moment` into the "rated earlier" fields, segment by segment
    as a finger on the tablet's number pad would."""
    local = moment.astimezone(ZONE)
    # The date field sends its value on Escape (it closes the calendar), the time field on Enter.
    for label, parts, done in (
        (DATE, (("year", "%Y"), ("month", "%m"), ("day", "%d")), "Escape"),
        (TIME, (("hour", "%H"), ("minute", "%M")), "Enter"),
    ):
        changed = False
        for part, fmt in parts:
            field = page.get_by_role("spinbutton", name=f"{part}, {label}")
            if field.inner_text() != local.strftime(fmt):
                field.click()
                page.keyboard.type(local.strftime(fmt))
                changed = True
        if changed:
            with expect_rerun(page):
                page.keyboard.press(done)
    wait_for_idle(page)
    for label, parts in (
        (DATE, (("year", "%Y"), ("month", "%m"), ("day", "%d"))),
        (TIME, (("hour", "%H"), ("minute", "%M"))),
    ):
        for part, fmt in parts:
            expect(page.get_by_role("spinbutton", name=f"{part}, {label}")).to_have_text(local.strftime(fmt))


def expect_refused(page: Page, message: str) -> None:
    """The message shows next to the control, and "Open the form" does not open one."""
    expect_text(page, message)
    click_button(page, "Open the form")
    expect_text(page, "The form was not opened")
    expect(page).not_to_have_url(re.compile(r"assessment="))
    expect(page.get_by_text(re.compile(r"^MADRS — KET-"))).to_have_count(0)


def pick_day_1_madrs_rated_earlier(page: Page, url: str, code: str) -> None:
    sign_in(page, "rita", url=url)
    open_from_menu(page, "Rate a scale")
    choose(page, "Participant", code)
    choose(page, "Timepoint", "Day 1 (24 hours)")
    choose(page, "Scale", MADRS)
    with expect_rerun(page):
        page.get_by_text(LATE, exact=True).tap()


def madrs_outcome(rows):
    """What the trajectory chart and the outcome table are built from for MADRS: the stored rows
    (db.analytics.participant_rows) read by the analytics, hours counted from the infusion start."""
    return scale_outcome(
        load_protocol(),
        "madrs",
        [assessment_from_row(r) for r in rows["assessments"]],
        [infusion_from_row(r) for r in rows["infusions"]],
    )


@pytest.mark.browser
def test_a_future_time_a_time_before_enrolment_and_a_late_time_without_reason_are_refused(server_data, tablet_page):
    page, times = tablet_page, server_data.times
    pick_day_1_madrs_rated_earlier(page, server_data.url, "KET-302")
    set_rated_time(page, times.now + timedelta(days=1))
    expect_refused(page, "is in the future")
    set_rated_time(page, times.enrolled - timedelta(days=1))
    expect_refused(page, "is before the participant's enrolment")
    set_rated_time(page, times.rated)
    expect_refused(page, "give a reason for the late entry")
    expect_no_exception(page)
    with unit_of_work(server_data.path, write=False) as db:
        assert assessments.find_assessment(db, server_data.late["KET-302"]["id"], "day_1", "madrs") is None


@pytest.mark.browser
def test_a_paper_24_hour_madrs_entered_on_day_3_keeps_its_time(server_data, tablet_page):
    page, times, person = tablet_page, server_data.times, server_data.late["KET-301"]
    pick_day_1_madrs_rated_earlier(page, server_data.url, "KET-301")
    set_rated_time(page, times.rated)
    expect_text(page, "give a reason for the late entry")
    reason = "Rated on paper at the 24-hour visit; transcribed from the source form"
    with expect_rerun(page):
        box = page.get_by_label(REASON, exact=True)
        box.fill(reason)
        box.blur()
    expect(page.get_by_text("give a reason for the late entry")).to_have_count(0)
    click_button(page, "Open the form")
    expect(page).to_have_url(re.compile(r"[?&]assessment=\d+"))
    expect_text(page, "MADRS — KET-301")
    expect_text(page, f"Entered later: rated {times.rated.astimezone(ZONE):%Y-%m-%d %H:%M}")
    expect_text(page, reason)
    expect(page.get_by_text("Outside the protocol window")).to_have_count(0)
    assessment_id = int(re.search(r"assessment=(\d+)", page.url).group(1))

    for n in range(1, 11):
        with expect_rerun(page):
            page.locator(f'.st-key-item-madrs_{n} label[data-testid="stRadioOption"]').filter(
                has_text=re.compile(r"^2 – ")
            ).tap()
    page.get_by_label(SIGN_PASSWORD, exact=True).fill(PASSWORD)
    click_button(page, "Sign and submit")
    expect_text(page, "Submitted (signed).")
    expect_no_exception(page)

    with unit_of_work(server_data.path, write=False) as db:
        saved = assessments.load_assessment(db, assessment_id)
        deviations = db.execute(
            "SELECT kind, description FROM protocol_deviations WHERE participant_id = ?", [person["id"]]
        ).fetchall()
        inputs = schedule_inputs(db, participant_id=person["id"])[0]
        rows = analytics.participant_rows(db, person["id"])
    # Both times kept: when it happened (day 1), and when it was entered (now, day 3).
    assert saved["assessed_at"] == clock.format_utc(times.rated)
    assert saved["late_entry_reason"] == reason
    assert clock.parse_utc(saved["completed_at"]) >= times.now
    assert deviations == []  # rated inside the 24-hour window: no window deviation
    # The schedule counts the 24-hour timepoint done, at the time it happened.
    day_1 = next(
        r for r in participant_schedule(load_protocol(), inputs, datetime.now(UTC)) if r.timepoint_id == "day_1"
    )
    assert day_1.state == "done"
    madrs = next(c for c in inputs["completed"] if c["timepoint_id"] == "day_1" and c["scale"] == "madrs")
    assert madrs["completed_at"] == times.rated
    # The trajectory places it 24 hours after the infusion start, not on day 3, and it is the
    # primary endpoint (day 1) rating.
    outcome = madrs_outcome(rows)
    point = next(p for p in outcome.points if p.assessment.id == assessment_id)
    assert point.hours == pytest.approx(24 + 10 / 60, abs=0.01)
    assert outcome.endpoint is not None and outcome.endpoint.assessment.id == assessment_id
