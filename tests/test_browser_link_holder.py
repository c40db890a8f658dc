"""Issue 13 item 6 in Chromium: one self-report link, several browsers. The first browser that
taps holds the link; another browser opening the same link is refused with one sentence that
says what to do; a second window of the holder (its own address, e.g. from history) that shows
an older copy of the answers cannot overwrite a newer answer: the tap is refused, said so, and
the answer stored now is shown.
"""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from playwright.sync_api import expect

from db import assessments, participants, sites, users
from db.connection import unit_of_work
from db.migrations import init_database
from db.permissions import system_actor
from protocol import load_protocol
from scales import get_scale
from selfreport.strings import text
from study.self_report import start_self_report
from tests.app_support import PASSWORD
from tests.browser import click_button, expect_no_exception, expect_rerun, expect_text, goto, new_page

pytestmark = pytest.mark.browser

QIDS = get_scale("qids_sr16")
OPTION = '[data-testid="stRadioOption"]'


def label(item_id: str, value: int) -> str:
    return next(o["label"] for o in QIDS.item_by_id[item_id].options if o["value"] == value)


def tap_answer(page, item_id: str, value: int) -> None:
    """Tap an answer box and wait for the run that saves it (or refuses it)."""
    with expect_rerun(page):
        page.locator(OPTION).filter(has=page.get_by_text(label(item_id, value), exact=True)).tap()


def test_one_link_one_holder_and_a_stale_window_cannot_overwrite(app_server, browser):
    cheap, users.hasher = users.hasher, PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    try:
        init_database(app_server.db_path)
        with unit_of_work(app_server.db_path) as db:
            sites.create_site(db, system_actor("tests"), "LON", "London clinic", "Europe/London")
            pi = users.create_user(db, system_actor("tests"), "pi", "pi", PASSWORD, None, all_sites=True)
            person = participants.create_participant(db, pi, "KET-001", "LON")
            link = start_self_report(db, pi, load_protocol(), person["id"], "day_7", ["qids_sr16"])
    finally:
        users.hasher = cheap

    def stored() -> dict:
        with unit_of_work(app_server.db_path, write=False) as db:
            return assessments.find_assessment(db, person["id"], "day_7", "qids_sr16")["responses"]

    url = f"{app_server.url}/?token={link['token']}"
    phone, laptop, second_tab = (new_page(browser, "phone") for _ in range(3))
    try:
        goto(phone, url)  # the participant's phone: the first tap takes the link
        click_button(phone, text("start"))
        tap_answer(phone, "qids_sr16_1", 1)
        click_button(phone, text("next"))
        expect_text(phone, "Question 2 of 16")
        assert "token=" not in phone.url and "resume=" in phone.url  # the holder's address, not the token

        goto(laptop, url)  # the same link in another browser: one sentence, nothing to answer
        expect_text(laptop, text("link_held"))
        assert laptop.get_by_role("radio").count() == 0
        assert laptop.get_by_role("button").filter(visible=True).count() == 0
        expect_no_exception(laptop)

        goto(second_tab, phone.url)  # the holder's page opened again (history): it continues there
        expect_text(second_tab, "Question 2 of 16")
        tap_answer(phone, "qids_sr16_2", 2)  # the phone answers question 2 ...
        expect(phone.get_by_role("radio", name=label("qids_sr16_2", 2), exact=True)).to_be_checked()
        assert stored() == {"qids_sr16_1": 1, "qids_sr16_2": 2}
        tap_answer(second_tab, "qids_sr16_2", 0)  # ... the older window taps another answer: refused
        expect_text(second_tab, text("answer_changed_elsewhere"))
        expect(second_tab.get_by_role("radio", name=label("qids_sr16_2", 2), exact=True)).to_be_checked()
        assert stored() == {"qids_sr16_1": 1, "qids_sr16_2": 2}  # never overwritten silently
        expect_no_exception(second_tab)
    finally:
        for page in (phone, laptop, second_tab):
            page.context.close()
