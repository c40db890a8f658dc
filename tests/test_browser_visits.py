"""Missed visits, participant status and protocol deviations in a real browser at tablet size
(issue 11, points 12, 14 and 15).

Each server's database is seeded through db/ functions with the clock set back (db.clock), so
every record has the time it happened: KET-101 enrolled and rated at baseline almost three hours
ago, infusion 1 started 87 minutes ago. With the default protocol the 40-minute window
(35-50 min) has closed, and the 80-minute one (70-90 min, grace capped at 85 min) is overdue for
three more minutes.
"""

import contextlib
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from playwright.sync_api import expect

from db import clock, participants, sites, users
from db.assessments import save_assessment
from db.clinical import record_infusion
from db.connection import unit_of_work
from db.deviations import record_deviation
from db.migrations import init_database
from db.permissions import system_actor
from tests.app_support import PASSWORD
from tests.browser import (
    click_button,
    expect_no_exception,
    expect_rerun,
    expect_text,
    open_page,
    sign_in,
    snap,
)
from tests.conftest_db import full_responses, mark_eligible

INFUSION_AGO = timedelta(minutes=87)


@contextlib.contextmanager
def clock_at(moment):
    """Stored times from db.clock are `moment` inside the block (seeding the past)."""
    real = clock.utc_now
    clock.utc_now = lambda: clock.format_utc(moment)
    try:
        yield
    finally:
        clock.utc_now = real


def seed(db_path, *, infused=True):
    """Site LON, coordinator cora, rater rita, PI petra; KET-101 (and KET-102, not dosed) enrolled
    three hours ago with a complete baseline; KET-101's infusion 1 started 87 minutes ago."""
    init_database(db_path)
    system = system_actor("tests")
    now = datetime.now(UTC)
    with unit_of_work(db_path) as db:
        sites.create_site(db, system, "LON", "London clinic", "Europe/London")
        coordinator = users.create_user(db, system, "cora", "coordinator", PASSWORD, "LON")
        rater = users.create_user(db, system, "rita", "rater", PASSWORD, "LON")
        users.create_user(db, system, "petra", "pi", PASSWORD, all_sites=True)
        with clock_at(now - timedelta(hours=3)):
            person = participants.create_participant(db, coordinator, "KET-101", "LON")
            participants.create_participant(db, coordinator, "KET-102", "LON")
        with clock_at(now - timedelta(hours=2, minutes=50)):
            mark_eligible(db, coordinator, rater, person["id"])
            for scale, mode in (("qids_sr16", "self"), ("cadss", "clinician"), ("bprs", "clinician")):
                save_assessment(db, rater, person["id"], "baseline", scale, mode, full_responses(scale, 1))
        if infused:
            with clock_at(now - INFUSION_AGO):
                record_infusion(db, coordinator, person["id"], 1, now - INFUSION_AGO, 70, 0.5)
    return SimpleNamespace(participant=person, coordinator=coordinator, rater=rater)


def card(page, participant_id, name):
    """The bordered container keyed scoped_key("participant", id, name) (Streamlit turns the
    key's ':' into '-' in the class name)."""
    return page.locator(f".st-key-participant-{participant_id}-{name}")


def second_page(browser):
    page = browser.new_page(viewport={"width": 1024, "height": 640}, has_touch=True)
    page.set_default_timeout(15_000)
    return page


@pytest.mark.browser
def test_overdue_until_the_window_closes_then_missed_with_a_reason(fresh_app_server, tablet_page):
    seeded = seed(fresh_app_server.db_path)
    pid = seeded.participant["id"]
    page = tablet_page
    sign_in(page, "cora", url=fresh_app_server.url)
    expect_text(page, "Today's worklist")
    # The 80-minute rating is late but its window is open: overdue, first on the list.
    first = page.locator(".st-key-work-0")
    expect(first).to_contain_text("KET-101")
    expect(first).to_contain_text("80 minutes after infusion start")
    expect(first).to_contain_text("overdue")
    # The 40-minute window closed: listed as missed, not silently gone.
    expect_text(page, "Missed visits")
    missed = card(page, pid, "missed-min_40")
    expect(missed).to_contain_text("40 minutes after infusion start")
    expect(missed).to_contain_text("missed")
    expect(missed).to_contain_text("No reason recorded yet.")
    snap(page, "worklist-overdue-and-missed")

    missed.get_by_text("Record reason").click()
    box = missed.get_by_label("Why was this visit missed?", exact=True)
    box.fill("participant asleep after the infusion")
    with expect_rerun(page):
        missed.get_by_role("button", name="Save reason").click()
    expect_text(page, "Reason recorded for KET-101 · 40 minutes after infusion start.")
    expect(missed).to_have_count(0)  # explained: it moves to the short list
    page.get_by_text("1 missed visit with a reason recorded").click()
    expect_text(page, "participant asleep after the infusion (cora,")

    # ...and on the participant's record.
    open_page(page, "Participants")
    record = card(page, pid, "missed-min_40")
    expect(record).to_contain_text("Reason: participant asleep after the infusion")
    expect(record).to_contain_text("recorded by cora")
    expect_no_exception(page)
    snap(page, "participant-missed-visit-reason")


@pytest.mark.browser
def test_withdrawn_participant_leaves_the_worklist_and_the_trajectory_says_so(fresh_app_server, tablet_page, browser):
    seed(fresh_app_server.db_path)
    rater = second_page(browser)
    try:
        sign_in(rater, "rita", url=fresh_app_server.url)
        expect(rater.locator(".st-key-work-0")).to_contain_text("KET-101")

        page = tablet_page
        sign_in(page, "cora", url=fresh_app_server.url)
        open_page(page, "Participants")
        expect_text(page, "Participant record")
        page.get_by_role("tab", name="Withdraw KET-101").click()
        page.get_by_label("Reason for withdrawal", exact=True).fill("consent withdrawn")
        click_button(page, "Withdraw participant")
        expect_text(page, "KET-101 withdrawn from")
        expect_text(page, "withdrawn on")
        expect_text(page, "consent withdrawn")
        expect(page.get_by_role("tab", name="Withdraw KET-101")).to_have_count(0)  # no second withdrawal
        snap(page, "participant-withdrawn")

        open_page(rater, "Participant trajectory")
        expect_text(rater, "Withdrawn on")
        expect_text(rater, "the dashed line on each chart marks it")
        open_page(rater, "Today's worklist")
        expect(rater.locator(".st-key-work-0")).to_contain_text("KET-102")  # the others stay
        expect(rater.get_by_text("KET-101")).to_have_count(0)
        expect_no_exception(rater)
        snap(rater, "worklist-after-withdrawal")
    finally:
        rater.context.close() if rater.context != browser.contexts[0] else rater.close()


@pytest.mark.browser
def test_deviations_are_listed_per_participant_and_for_the_study(fresh_app_server, tablet_page):
    seeded = seed(fresh_app_server.db_path, infused=False)
    with unit_of_work(fresh_app_server.db_path) as db:
        deviation_id = record_deviation(
            db,
            seeded.rater,
            seeded.participant["id"],
            "baseline",
            "MADRS rated by telephone, not in person",
            kind="other",
        )["id"]
    page = tablet_page
    sign_in(page, "petra", url=fresh_app_server.url)
    open_page(page, "Participants")
    expect_text(page, "Protocol deviations")
    deviation = page.locator(f".st-key-participant-{seeded.participant['id']}-deviation-{deviation_id}")
    expect(deviation).to_contain_text("Other · Baseline (before the infusion)")
    expect(deviation).to_contain_text("MADRS rated by telephone, not in person")
    expect(deviation).to_contain_text("by rita")
    open_page(page, "Visits and deviations")
    expect_text(page, "1 deviation, newest first")
    table = page.locator(".st-key-study-deviations")
    for text in (
        "KET-101",
        "LON",
        "Other",
        "Baseline (before the infusion)",
        "MADRS rated by telephone, not in person",
        "rita",
    ):
        expect(table).to_contain_text(text)
    expect_no_exception(page)
    snap(page, "study-deviations")
