"""The infusion day in a real browser on a tablet (issue 11, points 6, 7, 11 for vital signs and
adverse events, 13 and 16 for the infusion page).

1. Infusion 1 logged as having started before the baseline MADRS: the warning shows next to the
   Start button, a start without a reason is refused there, a start with the reason and the
   confirmation records the infusion and an 'infusion_before_baseline' deviation. Then a vital
   signs reading typed in after the fact keeps its measured time and its reason, fills its
   15-minute slot and shows "entered later" (the refusal without a reason is tested in
   tests/test_db_clinical.py); and a systolic of 184 warns next to the vitals form
   until the warning is acknowledged.
2. Under the repeated-infusion protocol, infusion 2 five minutes after infusion 1 ended is
   refused without a reason (induction infusions at least 2 calendar days apart), and recorded as
   an 'infusion_interval' deviation with one.
3. An adverse event is edited with a reason (end date, outcome, action taken, SAE date) and the
   tables and pickers show labels, never codes.

Data a flow does not test is seeded straight into the server's database with the db package.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from playwright.sync_api import Locator, Page, expect

from db import audit, clinical, participants, sites, users
from db.connection import unit_of_work
from db.deviations import list_deviations
from db.migrations import init_database
from db.permissions import system_actor
from protocol import load_protocol
from protocol.loader import STUDIES_DIR
from tests.app_support import PASSWORD
from tests.browser import (
    choose,
    click_button,
    expect_no_exception,
    expect_rerun,
    expect_text,
    fill_text,
    goto,
    running_app,
    snap,
)
from tests.conftest_db import mark_eligible
from tests.test_analytics_db import frozen

ZONE = "Europe/London"
REPEATED_FILE = STUDIES_DIR / "repeated_infusion.json"


# --------------------------------------------------------------------------- seeding and helpers


def seed(db_path, *, enrolled_ago: timedelta, baseline_ago: timedelta, protocol=None) -> SimpleNamespace:
    """A London site, a coordinator (cora) and participant KET-101, enrolled `enrolled_ago` and
    given a baseline MADRS and an eligible decision `baseline_ago`."""
    init_database(db_path)
    system = system_actor("tests")
    now = datetime.now(UTC)
    with frozen(now - enrolled_ago), unit_of_work(db_path) as db:
        sites.create_site(db, system, "LON", "London clinic", ZONE)
        coordinator = users.create_user(db, system, "cora", "coordinator", PASSWORD, "LON")
        rater = users.create_user(db, system, "rita", "rater", PASSWORD, "LON")
        person = participants.create_participant(db, coordinator, "KET-101", "LON")
    with frozen(now - baseline_ago), unit_of_work(db_path) as db:
        mark_eligible(db, coordinator, rater, person["id"], protocol=protocol)
    return SimpleNamespace(coordinator=coordinator, rater=rater, participant=person, now=now)


def sign_in_and_open_infusion_day(page: Page, url: str) -> None:
    goto(page, url)
    for label, value in (("User name", "cora"), ("Password", PASSWORD)):
        page.get_by_label(label, exact=True).fill(value)
    click_button(page, "Sign in")
    with expect_rerun(page):
        page.get_by_role("link", name="Infusion day", exact=True).tap()
    expect_no_exception(page)


def set_number(page: Page, label: str, value: float) -> None:
    box = page.get_by_label(label, exact=True).filter(visible=True)
    with expect_rerun(page):
        box.fill(str(value))
        box.press("Tab")


def tick(page: Page, label: str) -> None:
    with expect_rerun(page):
        page.get_by_text(label, exact=False).filter(visible=True).tap()


def set_when(page: Page, label: str, moment: datetime, *, within: Locator | None = None) -> None:
    """Type the study-local date and time of `moment` into the "<label>: date" and "<label>: time"
    fields, segment by segment (the date field sends its value on Escape, the time field on Enter)."""
    local = moment.astimezone(load_protocol().timezone)
    scope = within or page
    for field, parts, done in (
        (f"{label}: date", (("year", "%Y"), ("month", "%m"), ("day", "%d")), "Escape"),
        (f"{label}: time ({ZONE})", (("hour", "%H"), ("minute", "%M")), "Enter"),
    ):
        changed = False
        for part, fmt in parts:
            segment = scope.get_by_role("spinbutton", name=f"{part}, {field}").filter(visible=True)
            if segment.inner_text() != local.strftime(fmt):
                segment.click()
                page.keyboard.type(local.strftime(fmt))
                changed = True
        if changed:
            with expect_rerun(page):
                page.keyboard.press(done)
    for field, parts in (
        (f"{label}: date", (("year", "%Y"), ("month", "%m"), ("day", "%d"))),
        (f"{label}: time ({ZONE})", (("hour", "%H"), ("minute", "%M"))),
    ):
        for part, fmt in parts:
            expect(scope.get_by_role("spinbutton", name=f"{part}, {field}").filter(visible=True)).to_have_text(
                local.strftime(fmt)
            )


def hhmm(moment: datetime) -> str:
    return moment.astimezone(load_protocol().timezone).strftime("%H:%M")


def error_box(page: Page, text: str) -> Locator:
    """The visible error alert (st.error) containing `text`."""
    return page.locator('[data-testid="stAlertContentError"]').filter(has_text=text).filter(visible=True)


def just_below(control: Locator, message: Locator, within_px: float = 260) -> None:
    """`message` is drawn right under `control` (not at the top of the page)."""
    top, below = control.bounding_box(), message.bounding_box()
    assert top and below, "both must be on screen"
    gap = below["y"] - (top["y"] + top["height"])
    assert 0 <= gap <= within_px, f"the message is {gap:.0f} px below the control, not next to it"


def just_above(message: Locator, control: Locator, within_px: float = 320) -> None:
    """`message` is drawn right above `control` (e.g. a warning before the button it concerns)."""
    first, then = message.bounding_box(), control.bounding_box()
    assert first and then, "both must be on screen"
    gap = then["y"] - (first["y"] + first["height"])
    assert 0 <= gap <= within_px, f"the message is {gap:.0f} px above the control, not next to it"


def grid_rows(page: Page, grid: Locator) -> list[dict[str, str]]:
    """The rows of an st.dataframe from its accessible copy (small tables: every row is in view)."""
    expect(grid).to_be_visible()
    grid.scroll_into_view_if_needed()
    grid.hover()
    page.wait_for_timeout(200)
    header = [c.strip() for c in grid.locator('thead th[role="columnheader"]').all_text_contents()]
    return [
        dict(zip(header, (c.strip() for c in row.locator('td[role="gridcell"]').all_text_contents()), strict=False))
        for row in grid.locator('tbody tr[role="row"]').all()
    ]


def vitals_grid(page: Page) -> Locator:
    heading = page.get_by_role("heading", name=re.compile(r"^Vital signs, infusion"))
    return heading.locator("xpath=following::*[@data-testid='stDataFrame'][1]")


# --------------------------------------------------------------------------- 1. baseline, vitals


@pytest.mark.browser
def test_infusion_before_baseline_needs_a_reason_then_late_and_high_vitals(fresh_app_server, tablet_page):
    world = seed(fresh_app_server.db_path, enrolled_ago=timedelta(hours=3), baseline_ago=timedelta(minutes=1))
    started = world.now - timedelta(minutes=100)  # logged as started before the baseline MADRS was rated
    page = tablet_page
    sign_in_and_open_infusion_day(page, fresh_app_server.url)
    expect_text(page, "Start infusion 1")
    set_number(page, "Weight (kg)", 72.5)
    set_when(page, "Start", started)

    # point 6: the warning stands next to the Start button, with a reason field and a confirmation
    warning = expect_text(page, "KET-101 has no accepted baseline MADRS")
    expect_text(page, "after this start")
    start_button = page.get_by_role("button", name="Start infusion", exact=True)
    just_above(warning, start_button)
    tick(page, "I have checked the total dose of 36.3 mg")
    click_button(page, "Start infusion")
    refusal = error_box(page, "give a reason to start anyway")
    expect(refusal).to_be_visible()
    just_below(start_button, refusal)
    with unit_of_work(fresh_app_server.db_path, write=False) as db:
        assert clinical.list_infusions(db, world.participant["id"]) == []
    fill_text(page, "Reason for starting anyway", "baseline MADRS done on paper before the infusion, typed in later")
    tick(page, "I confirm starting infusion 1 anyway")
    click_button(page, "Start infusion")
    expect_text(page, f"Infusion 1 started at {hhmm(started)}")
    with unit_of_work(fresh_app_server.db_path, write=False) as db:
        [deviation] = list_deviations(db, participant_id=world.participant["id"])
        [event] = audit.events_for(db, "protocol_deviation", deviation["id"])
    assert (deviation["kind"], deviation["reason"]) == (
        "infusion_before_baseline",
        "baseline MADRS done on paper before the infusion, typed in later",
    )
    assert event["reason"] == deviation["reason"] and event["username"] == "cora"

    # point 11: a reading from the 15-minute slot, typed in 85 minutes later, keeps its time
    slot = started + timedelta(minutes=15)
    set_number(page, "Heart rate (bpm)", 78)
    set_when(page, "Measured", slot)
    fill_text(
        page,
        "Reason for entering this reading later (required when more than 60 minutes after it happened)",
        "read off the monitor printout",
    )
    click_button(page, "Save vital signs")
    expect_text(page, f"Vital signs saved. Measured at {hhmm(slot)}.")
    [row] = grid_rows(page, vitals_grid(page))
    assert row["time"] == hhmm(slot) and row["heart rate"] == "78"
    assert row["entered"].startswith("entered later (") and row["entered"].endswith(": read off the monitor printout")
    missed = expect_text(page, "Missed readings:").inner_text()
    assert hhmm(started) in missed and hhmm(slot) not in missed  # the slot it was measured in is filled

    # point 16: a systolic of 184 warns next to the vitals form, and the warning stays until acted on
    set_number(page, "Systolic (mmHg)", 184)
    click_button(page, "Save vital signs")
    expect_text(page, "Vital signs saved.")
    high = error_box(page, "systolic blood pressure 184 mmHg is above the protocol's threshold of 180 mmHg")
    expect(high).to_be_visible()
    just_below(page.get_by_role("button", name="Save vital signs", exact=True), high, within_px=200)
    fill_text(page, "What was done (optional note)", "repeated after 5 minutes: 176/92; physician informed")
    expect(high).to_be_visible()  # another rerun: still there
    snap(page, "infusion-day-sbp-warning-next-to-the-form")
    click_button(page, "Acknowledge the warning")
    expect(high).to_have_count(0)
    expect_no_exception(page)


# --------------------------------------------------------------------------- 2. spacing


@pytest.mark.browser
def test_repeated_protocol_refuses_infusion_two_five_minutes_after_infusion_one(tmp_path, tablet_page, monkeypatch):
    monkeypatch.setenv("SCALEBOOK_PROTOCOL", str(REPEATED_FILE))  # the seeding's protocol, as the server's
    db_path = tmp_path / "scalebook.db"
    world = seed(
        db_path, enrolled_ago=timedelta(days=3), baseline_ago=timedelta(days=2), protocol=load_protocol(REPEATED_FILE)
    )
    with unit_of_work(db_path) as db:
        clinical.record_infusion(
            db,
            world.coordinator,
            world.participant["id"],
            1,
            clinical.clock.format_utc(world.now - timedelta(minutes=45)),
            70,
            0.5,
            ended_at=clinical.clock.format_utc(world.now - timedelta(minutes=5)),
        )
    with running_app(db_path, {"SCALEBOOK_PROTOCOL": str(REPEATED_FILE)}) as server:
        page = tablet_page
        sign_in_and_open_infusion_day(page, server.url)
        expect_text(page, "Start infusion 2")
        set_number(page, "Weight (kg)", 70)
        warning = expect_text(page, re.compile(r"Infusion 2 would start \d calendar days? after infusion 1"))
        expect(warning).to_contain_text("the protocol allows induction infusions no less than 2 days apart")
        tick(page, "I have checked the total dose of 35.0 mg")
        click_button(page, "Start infusion")
        expect(error_box(page, "Choose a later start, or give a reason")).to_be_visible()
        with unit_of_work(db_path, write=False) as db:
            assert [i["number"] for i in clinical.list_infusions(db, world.participant["id"])] == [1]
        fill_text(page, "Reason for starting anyway", "PI approved: participant travels from Wednesday")
        tick(page, "I confirm starting infusion 2 anyway")
        click_button(page, "Start infusion")
        expect_text(page, "Infusion 2 started")
        expect_no_exception(page)
    with unit_of_work(db_path, write=False) as db:
        [deviation] = list_deviations(db, participant_id=world.participant["id"])
    assert (deviation["kind"], deviation["timepoint"], deviation["reason"]) == (
        "infusion_interval",
        "Infusion 2",
        "PI approved: participant travels from Wednesday",
    )


# --------------------------------------------------------------------------- 3. adverse events


@pytest.mark.browser
def test_an_adverse_event_is_edited_with_a_reason_and_shown_with_labels(fresh_app_server, tablet_page):
    world = seed(fresh_app_server.db_path, enrolled_ago=timedelta(days=2), baseline_ago=timedelta(days=1))
    now = world.now
    with frozen(now - timedelta(minutes=85)), unit_of_work(fresh_app_server.db_path) as db:
        infusion = clinical.record_infusion(
            db,
            world.coordinator,
            world.participant["id"],
            1,
            clinical.clock.format_utc(now - timedelta(hours=2)),
            70,
            0.5,
            ended_at=clinical.clock.format_utc(now - timedelta(minutes=80)),
        )
        clinical.record_adverse_event(
            db,
            world.coordinator,
            world.participant["id"],
            "headache",
            clinical.clock.format_utc(now - timedelta(minutes=90)),
            "mild",
            "possible",
            infusion_id=infusion["id"],
        )
    page = tablet_page
    sign_in_and_open_infusion_day(page, fresh_app_server.url)
    with expect_rerun(page, required=False):
        page.get_by_text("Edit an adverse event", exact=True).tap()
    editor = page.locator('[data-testid="stExpander"]').filter(has_text="Edit an adverse event")
    expect(editor.get_by_role("combobox", name="Related to the study drug", exact=True)).to_have_value(
        "Possibly related"
    )  # a label, not the code 'possible'
    choose(page, "Severity", "Severe", within=editor)
    choose(page, "Outcome", "Recovered / resolved", within=editor)
    choose(page, "Action taken with the infusion", "Infusion stopped", within=editor)
    set_when(page, "End", now - timedelta(minutes=10), within=editor)
    with expect_rerun(page):
        editor.get_by_text("Serious adverse event (SAE)").tap()
    set_when(page, "Became serious (SAE date)", now - timedelta(minutes=60), within=editor)
    fill_text(page, "Reason for the change", "admitted for observation; resolved before discharge")
    click_button(page, "Save the changes")
    expect_text(page, "Adverse event 'headache' updated.")
    events = page.get_by_role("heading", name="Adverse events").locator(
        "xpath=following::*[@data-testid='stDataFrame'][1]"
    )
    [row] = grid_rows(page, events)
    assert (row["severity"], row["relatedness"], row["outcome"], row["action taken"]) == (
        "Severe",
        "Possibly related",
        "Recovered / resolved",
        "Infusion stopped",
    )
    assert (
        row["serious"]
        == f"Yes (SAE {(now - timedelta(minutes=60)).astimezone(load_protocol().timezone):%Y-%m-%d %H:%M})"
    )
    assert not {"possible", "recovered", "infusion_stopped", "severe"} & set(row.values())
    with unit_of_work(fresh_app_server.db_path, write=False) as db:
        [ae] = clinical.list_adverse_events(db, world.participant["id"])
        changes = [e for e in audit.events_for(db, "adverse_event", ae["id"]) if e["action"] == "adverse_event.update"]
    assert {e["field"] for e in changes} == {
        "severity",
        "outcome",
        "action_taken",
        "resolved_at",
        "serious",
        "serious_at",
    }
    assert {e["reason"] for e in changes} == {"admitted for observation; resolved before discharge"}
    snap(page, "infusion-day-adverse-event-edited")
    expect_no_exception(page)
