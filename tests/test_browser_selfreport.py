"""Participant self-report in Chromium: a phone completing QIDS-SR16 by link (and the staff side
showing the stored total), nothing else reachable from the participant session, a used or
expired link refused, resuming after closing the page (from the page's own address: the link
itself is held by the first browser that tapped, issue 13 item 6), 200 % zoom, and a kiosk tablet that
cannot be left without a staff password.

One server for the module; each test uses its own participant and timepoint, so the tests do
not depend on each other's order. Data is seeded straight into the server's database file.
"""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
from argon2 import PasswordHasher
from playwright.sync_api import expect

from db import assessments, participants, sites, tokens, users
from db.connection import unit_of_work
from db.migrations import init_database
from db.permissions import system_actor
from protocol import load_protocol
from scales import get_scale
from selfreport.strings import text
from study.self_report import start_self_report
from tests.app_support import PASSWORD
from tests.browser import (
    click_button,
    expect_no_exception,
    expect_rerun,
    expect_text,
    fill_text,
    goto,
    new_page,
    wait_for_idle,
)

pytestmark = pytest.mark.browser

SITE_PHONE = "020 7946 0000"
QIDS = get_scale("qids_sr16")
OPTION = '[data-testid="stRadioOption"]'


@pytest.fixture(scope="module")
def app_env():
    return {"SCALEBOOK_SITE_PHONE": SITE_PHONE, "SCALEBOOK_SITE_PHONE_HOURS": "any time, day or night"}


@pytest.fixture(scope="module")
def seeded(app_server):
    """Sites LON and OXF, a rater and a coordinator at LON, a PI; KET-001 (LON), KET-002 (OXF)."""
    cheap, users.hasher = users.hasher, PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    try:
        init_database(app_server.db_path)
        system = system_actor("tests")
        with unit_of_work(app_server.db_path) as db:
            sites.create_site(db, system, "LON", "London clinic", "Europe/London")
            sites.create_site(db, system, "OXF", "Oxford clinic", "Europe/London")
            made = {
                role: users.create_user(
                    db, system, role, role, PASSWORD, "LON" if role != "pi" else None, all_sites=role == "pi"
                )
                for role in ("rater", "coordinator", "pi")
            }
            p1 = participants.create_participant(db, made["coordinator"], "KET-001", "LON")
            p2 = participants.create_participant(db, made["pi"], "KET-002", "OXF")
    finally:
        users.hasher = cheap
    return SimpleNamespace(server=app_server, path=app_server.db_path, users=made, p1=p1, p2=p2)


def make_link(seeded, participant, timepoint, scales=("qids_sr16",), ttl_hours=None):
    with unit_of_work(seeded.path) as db:
        return start_self_report(
            db, seeded.users["pi"], load_protocol(), participant["id"], timepoint, list(scales), ttl_hours=ttl_hours
        )


def link_url(seeded, link):
    return f"{seeded.server.url}/?token={link['token']}"


def stored(seeded, participant, timepoint, scale_id="qids_sr16"):
    with unit_of_work(seeded.path, write=False) as db:
        return assessments.find_assessment(db, participant["id"], timepoint, scale_id)


def choose(page, label):
    """Tap an answer (the whole answer box is the target) and wait for it to be saved."""
    option = page.locator(OPTION).filter(has=page.get_by_text(label, exact=True))
    with expect_rerun(page):
        option.tap()
    expect(page.get_by_role("radio", name=label, exact=True)).to_be_checked()


def answer_questions(page, definition, count, value=1):
    for _ in range(count):
        question = page.locator('[data-testid="stRadio"] [data-testid="stWidgetLabel"]').inner_text()
        item = next(i for i in definition.items if i.prompt == question.strip())
        choose(page, next(o["label"] for o in item.options if o["value"] == value))
        click_button(page, text("next"))


def assert_only_the_questionnaire(page):
    assert page.locator('[data-testid="stSidebar"]').filter(visible=True).count() == 0
    assert page.locator('[data-testid="stSidebarNav"]').count() == 0
    for staff_word in ("Sign out", "Signed in", "Participants", "Users and sites", "KET-00"):
        assert page.get_by_text(staff_word).filter(visible=True).count() == 0, staff_word


def no_horizontal_scroll(page):
    width, inner = page.evaluate("[document.documentElement.scrollWidth, innerWidth]")
    assert width <= inner, (width, inner)


def test_participant_completes_qids_by_link_and_staff_see_the_stored_total(seeded, phone_page, browser):
    link = make_link(seeded, seeded.p1, "day_7")
    goto(phone_page, link_url(seeded, link))
    assert "token" not in phone_page.url  # removed from the address bar once used
    assert_only_the_questionnaire(phone_page)
    click_button(phone_page, text("start"))
    expect_text(phone_page, "Question 1 of 16")
    assert phone_page.get_by_role("radio").count() == 4
    assert all(not r.is_checked() for r in phone_page.get_by_role("radio").all())  # nothing preselected
    expect(phone_page.get_by_role("button", name=text("next"), exact=True)).to_be_disabled()
    answer_questions(phone_page, QIDS, 16, value=1)
    expect_text(phone_page, text("review_title"))
    no_horizontal_scroll(phone_page)
    click_button(phone_page, text("submit"))
    expect_text(phone_page, text("thanks_link"))
    expect_no_exception(phone_page)
    done = stored(seeded, seeded.p1, "day_7")
    assert done["status"] == "complete" and done["mode"] == "link" and done["score"]["total"] == 9

    again = new_page(browser, "phone")  # the same link, used up
    try:
        goto(again, link_url(seeded, link))
        expect_text(again, text("link_used"))
        assert again.get_by_role("button").filter(visible=True).count() == 0
    finally:
        again.context.close()

    staff = new_page(browser, "tablet_landscape")
    try:
        goto(staff, seeded.server.url)
        fill_text(staff, "User name", "rater")
        fill_text(staff, "Password", PASSWORD)
        click_button(staff, "Sign in")
        with expect_rerun(staff):
            staff.get_by_role("link", name="Self-report").click()
        row = staff.locator("table tr").filter(has_text="QIDS-SR16").filter(has_text="Day 7")
        expect(row).to_have_count(1)
        cells = [c.strip() for c in row.locator("td, th").all_inner_texts()]
        assert "complete" in cells and "9" in cells and "link" in cells, cells
    finally:
        staff.context.close()


def test_other_pages_are_refused_from_the_participant_session(seeded, phone_page):
    link = make_link(seeded, seeded.p2, "day_14", ("madrs_s",))
    goto(phone_page, link_url(seeded, link))
    click_button(phone_page, text("start"))
    expect_text(phone_page, "Question 1 of 9")
    for path in ("/participants", "/admin", "/assessment", "/self_report_start", "/rate"):
        # in-app navigation (what a link or the back button does): the session stays in participant mode
        with expect_rerun(phone_page, required=False):
            phone_page.evaluate(
                "p => { history.pushState({}, '', p); dispatchEvent(new PopStateEvent('popstate')); }", path
            )
        wait_for_idle(phone_page)
        expect_text(phone_page, "Question 1 of 9")
        assert_only_the_questionnaire(phone_page)
    # typing a staff address opens a new session: the sign-in form, and nothing of the participant's
    goto(phone_page, f"{seeded.server.url}/participants")
    expect(phone_page.get_by_role("button", name="Sign in")).to_be_visible()
    assert phone_page.get_by_text("KET-00").count() == 0 and phone_page.get_by_text("Question 1").count() == 0


def test_a_used_token_is_refused(seeded, phone_page):
    link = make_link(seeded, seeded.p1, "day_14", ("phq9",))
    with unit_of_work(seeded.path) as db:
        me = tokens.redeem_token(db, link["token"])
        for n in range(1, 10):
            draft = assessments.save_draft_response(db, me, link["assessment_ids"][0], f"phq9_{n}", 0)
        assessments.complete_assessment(db, me, draft["id"], draft["version"])
    goto(phone_page, link_url(seeded, link))
    expect_text(phone_page, text("link_used"))
    assert phone_page.get_by_role("button").filter(visible=True).count() == 0
    assert phone_page.get_by_role("radio").count() == 0
    expect_no_exception(phone_page)


def test_an_expired_token_is_refused(seeded, phone_page):
    link = make_link(seeded, seeded.p1, "day_3", ttl_hours=1 / 3600)  # one second
    time.sleep(1.2)
    goto(phone_page, link_url(seeded, link))
    expect_text(phone_page, text("link_expired"))
    assert phone_page.get_by_role("button").filter(visible=True).count() == 0
    assert phone_page.get_by_role("radio").count() == 0
    expect_no_exception(phone_page)


def test_resume_after_closing_halfway(seeded, browser):
    link = make_link(seeded, seeded.p2, "day_7")
    first = new_page(browser, "phone")
    try:
        goto(first, link_url(seeded, link))
        click_button(first, text("start"))  # the first tap: this browser holds the link (issue 13 item 6)
        answer_questions(first, QIDS, 5, value=2)
        expect_text(first, "Question 6 of 16")
        assert "token=" not in first.url and "resume=" in first.url
        first.reload()  # a reload (or a phone waking a sleeping tab): a new session continues as the holder
        wait_for_idle(first)
        expect_text(first, "Question 6 of 16")
        assert first.get_by_role("button", name="Sign in").count() == 0  # no staff sign-in
        address = first.url
    finally:
        first.context.close()  # the participant closes the page
    assert len(stored(seeded, seeded.p2, "day_7")["responses"]) == 5
    second = new_page(browser, "phone")
    try:
        goto(second, address)  # reopened later from the browser's history
        expect_text(second, "Question 6 of 16")
        assert all(not r.is_checked() for r in second.get_by_role("radio").all())
        click_button(second, text("back"))
        expect_text(second, "Question 5 of 16")
        label = next(o["label"] for o in QIDS.item_by_id["qids_sr16_5"].options if o["value"] == 2)
        expect(second.get_by_role("radio", name=label, exact=True)).to_be_checked()
    finally:
        second.context.close()


def contrast(page, selector):
    """WCAG contrast ratio of the first element matching `selector` against its background."""
    return page.evaluate(
        """sel => {
      const lum = c => { const [r, g, b] = c.match(/[\\d.]+/g).slice(0, 3).map(Number).map(v => {
        v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
        return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
      const background = el => { for (; el; el = el.parentElement) { const c = getComputedStyle(el).backgroundColor;
        if (c && c !== 'transparent' && !/rgba\\(.*, 0\\)$/.test(c)) return c; } return 'rgb(255, 255, 255)'; };
      const el = document.querySelector(sel);
      const [hi, lo] = [lum(getComputedStyle(el).color), lum(background(el))].sort((a, b) => b - a);
      return (hi + 0.05) / (lo + 0.05); }""",
        selector,
    )


def test_readable_at_200_percent_zoom_high_contrast_and_keyboard_usable(seeded, browser):
    """A 390-px phone at 200 % zoom is a 195-CSS-px viewport with twice the pixels."""
    link = make_link(seeded, seeded.p2, "day_3", ("phq9",))
    context = browser.new_context(
        viewport={"width": 195, "height": 422},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        reduced_motion="reduce",
    )
    page = context.new_page()
    try:
        goto(page, link_url(seeded, link))
        no_horizontal_scroll(page)
        with expect_rerun(page):  # keyboard only: focus and Enter / Space, no pointer
            page.get_by_role("button", name=text("start"), exact=True).focus()
            page.keyboard.press("Enter")
        expect_text(page, "Question 1 of 9")
        no_horizontal_scroll(page)
        box = page.locator(OPTION).first.locator("xpath=..").bounding_box()
        assert box["height"] >= 48 and box["width"] <= 195  # a finger-sized answer that fits the screen
        assert contrast(page, '[data-testid="stRadio"] [data-testid="stWidgetLabel"] p') >= 7  # WCAG AAA
        assert contrast(page, f"{OPTION} p") >= 7
        assert contrast(page, '[data-testid="stBaseButton-secondary"] p') >= 7
        with expect_rerun(page):
            page.get_by_role("radio").first.focus()
            page.keyboard.press("Space")
        expect(page.get_by_role("radio").first).to_be_checked()
        assert contrast(page, '[data-testid="stBaseButton-primary"] p') >= 7
        with expect_rerun(page):
            page.get_by_role("button", name=text("next"), exact=True).focus()
            page.keyboard.press("Enter")
        expect_text(page, "Question 2 of 9")
        answer_questions(page, get_scale("phq9"), 8, value=0)
        expect_text(page, text("review_title"))
        no_horizontal_scroll(page)
    finally:
        context.close()


def test_a_kiosk_session_cannot_be_left_without_a_staff_password(seeded, tablet_page):
    goto(tablet_page, seeded.server.url)
    fill_text(tablet_page, "User name", "rater")
    fill_text(tablet_page, "Password", PASSWORD)
    click_button(tablet_page, "Sign in")
    with expect_rerun(tablet_page):
        tablet_page.get_by_role("link", name="Self-report").click()
    expect_text(tablet_page, "QIDS-SR16")  # the scale due at baseline, preselected
    click_button(tablet_page, "Hand the tablet to the participant")
    expect_text(tablet_page, "Quick Inventory of Depressive Symptomatology")
    assert_only_the_questionnaire(tablet_page)
    click_button(tablet_page, text("start"))
    answer_questions(tablet_page, QIDS, 2)
    for path in ("/participants", "/admin"):
        with expect_rerun(tablet_page, required=False):
            tablet_page.evaluate(
                "p => { history.pushState({}, '', p); dispatchEvent(new PopStateEvent('popstate')); }", path
            )
        wait_for_idle(tablet_page)
        expect_text(tablet_page, "Question 3 of 16")
        assert_only_the_questionnaire(tablet_page)

    click_button(tablet_page, text("staff_exit"))
    fill_text(tablet_page, text("staff_username"), "rater")  # typed: the exit form offers no name (issue 13 item 12)
    fill_text(tablet_page, text("staff_password"), "not the staff password")
    click_button(tablet_page, text("staff_unlock"))
    expect_text(tablet_page, text("staff_wrong"))
    expect_text(tablet_page, "Question 3 of 16")
    assert_only_the_questionnaire(tablet_page)

    fill_text(tablet_page, text("staff_password"), PASSWORD)
    click_button(tablet_page, text("staff_unlock"))
    expect_text(tablet_page, "Signed in as")
    expect_no_exception(tablet_page)
    assert tablet_page.get_by_text("Question 3 of 16").count() == 0
    draft = stored(seeded, seeded.p1, "baseline")
    assert draft["mode"] == "kiosk" and draft["status"] == "draft" and len(draft["responses"]) == 2
