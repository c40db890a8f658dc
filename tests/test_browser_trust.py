"""Issue 13 in a real browser at tablet size (1024x640): blinding on the Infusion day page (item 1),
a session that ends when its password is reset (item 4), no signing of answers changed on
another tablet (item 5), and a read-only self-report questionnaire for staff (item 7).

Each server's database is seeded through db/ functions; "the other tablet" is a db/ write."""

import pytest
from playwright.sync_api import expect

from db import assessments, participants, sites, users
from db.connection import unit_of_work
from db.migrations import init_database
from db.permissions import system_actor
from tests.app_support import PASSWORD, actor
from tests.browser import expect_no_exception, expect_rerun, expect_text, goto, show_menu, sign_in
from tests.conftest_db import mark_eligible
from tests.test_browser_rater import (
    RADIO_OPTION,
    expect_sign_in_screen,
    open_from_menu,
    open_madrs,
    rating,
    show_live_total,
    tap_rating,
)

NEW_PASSWORD = "a different long passphrase 7"


def seed(db_path):
    """Site LON; rater rita, coordinator cora, PI petra (blinded study: the default protocol);
    participant KET-201, eligible (baseline MADRS done), and KET-202, not yet rated."""
    init_database(db_path)
    system = system_actor("tests")
    with unit_of_work(db_path) as db:
        sites.create_site(db, system, "LON", "London clinic", "Europe/London")
        admin = users.create_user(db, system, "ada", "admin", PASSWORD, all_sites=True)
        rater = users.create_user(db, system, "rita", "rater", PASSWORD, "LON")
        coordinator = users.create_user(db, system, "cora", "coordinator", PASSWORD, "LON")
        pi = users.create_user(db, system, "petra", "pi", PASSWORD, all_sites=True)
        person = participants.create_participant(db, coordinator, "KET-201", "LON")
        mark_eligible(db, coordinator, rater, person["id"])
        participants.create_participant(db, coordinator, "KET-202", "LON")  # not yet rated
    return admin, rater, coordinator, pi, person


@pytest.mark.browser
def test_blinded_pi_is_offered_no_dose_on_the_infusion_day_page(fresh_app_server, tablet_page):
    seed(fresh_app_server.db_path)
    page = tablet_page
    goto(page, fresh_app_server.url)
    sign_in(page, "petra")
    open_from_menu(page, "Infusion day")
    expect_text(page, "recorded by the unblinded coordinator")
    expect(page.get_by_text("Dose (mg/kg", exact=False)).to_have_count(0)
    expect(page.get_by_text("Total dose to prepare", exact=False)).to_have_count(0)
    expect_no_exception(page)


@pytest.mark.browser
def test_a_password_reset_ends_the_open_session_at_the_next_tap(fresh_app_server, tablet_page):
    admin, rater, *_ = seed(fresh_app_server.db_path)
    page = tablet_page
    goto(page, fresh_app_server.url)
    sign_in(page, "rita")
    open_from_menu(page, "Rate a scale")
    with unit_of_work(fresh_app_server.db_path) as db:
        users.reset_password(db, admin, rater["id"], NEW_PASSWORD)
    show_menu(page)  # collapsed on the form page; opening it sends nothing
    with expect_rerun(page):
        page.get_by_role("link", name="Rate a scale", exact=True).tap()
    expect_sign_in_screen(page)
    expect_text(page, "password was changed or reset", exact=False)


@pytest.mark.browser
def test_a_change_on_another_tablet_is_shown_and_not_signed_unseen(fresh_app_server, tablet_page):
    _, rater, _, pi, person = seed(fresh_app_server.db_path)
    page = tablet_page
    goto(page, fresh_app_server.url)
    sign_in(page, "rita")
    open_from_menu(page, "Rate a scale")
    assessment_id = open_madrs(page, "KET-202")
    tap_rating(page, "madrs_1", 2)
    with unit_of_work(fresh_app_server.db_path) as db:  # the other tablet
        draft = assessments.load_assessment(db, assessment_id)
        assessments.save_draft_response(db, actor(pi), assessment_id, "madrs_1", 5, expected_version=draft["version"])
    show_live_total(page)  # a rerun that saves nothing (on old code it took the new version, kept the old answer)
    expect_text(page, "changed on another device", exact=False)
    expect_text(page, "petra changed item 1", exact=False)
    expect(rating(page, "madrs_1", 5).locator("input")).to_be_checked()  # the saved answer is on screen
    with unit_of_work(fresh_app_server.db_path, write=False) as db:
        assert assessments.load_assessment(db, assessment_id)["responses"]["madrs_1"] == 5
    tap_rating(page, "madrs_2", 1)  # the next tap is against the version on screen: accepted
    with unit_of_work(fresh_app_server.db_path, write=False) as db:
        assert assessments.load_assessment(db, assessment_id)["responses"] == {"madrs_1": 5, "madrs_2": 1}


@pytest.mark.browser
def test_staff_get_a_read_only_view_of_a_self_report_questionnaire(fresh_app_server, tablet_page):
    _, rater, _, _, person = seed(fresh_app_server.db_path)
    with unit_of_work(fresh_app_server.db_path) as db:
        draft = assessments.start_assessment(db, rater, person["id"], "baseline", "phq9", "kiosk")
    page = tablet_page
    goto(page, f"{fresh_app_server.url}/rate?assessment={draft['id']}")
    sign_in(page, "rita")
    expect_text(page, "participant's own questionnaire", exact=False)
    options = page.locator(f".st-key-item-phq9_9 {RADIO_OPTION} input")
    expect(options.first).to_be_disabled()
    expect(page.get_by_role("button", name="Sign and submit")).to_have_count(0)
    with unit_of_work(fresh_app_server.db_path, write=False) as db:
        assert assessments.load_assessment(db, draft["id"])["responses"] == {}
