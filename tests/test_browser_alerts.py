"""Safety alerts reach a person at once (issue 11, points 8, 9, 10 and the form's part of 16), in
Chromium on a tablet:

- a rater taps MADRS item 10 = 4 in a draft: the form shows the alert inside the item at once,
  without submitting, saying truthfully whom it reached, and the alert row exists; a PI signing
  in on another tablet sees the open alert (count and list) on the page they land on;
- correcting the answer to 2 before submitting resolves the alert, which stays on record;
- a participant answers PHQ-9 item 9 above 0 on a kiosk tablet: the participant sees nothing of
  it, and the staff member who takes the tablet back sees which safety item was answered;
- with e-mail notification on (a real SMTP server on loopback), the form says so and to whom
  the e-mail went, and the e-mail arrives;
- a save refused because another tablet saved first is explained inside the item concerned and
  the message stays until the rater answers that item again.

Data a flow does not test is seeded straight into the server's database with the db package.
"""

from __future__ import annotations

import email
import re
import time
from email import policy
from pathlib import Path
from types import SimpleNamespace

import pytest
from aiosmtpd.controller import Controller
from argon2 import PasswordHasher
from playwright.sync_api import Page, expect

from db import alerts, assessments, participants, sites, users
from db.connection import unit_of_work
from db.migrations import init_database
from db.permissions import system_actor
from protocol import load_protocol
from scales import get_scale, self_report_scale_ids
from selfreport.strings import text
from tests.app_support import PASSWORD
from tests.browser import (
    click_button,
    expect_no_exception,
    expect_rerun,
    expect_text,
    fill_text,
    free_port,
    goto,
    new_page,
    running_app,
    sign_in,
    snap,
    wait_for_idle,
)

pytestmark = pytest.mark.browser

RATER = "rita"
PI = "pi@clinic.example.org"
OPTION = '[data-testid="stRadioOption"]'
ERROR = '[data-testid="stAlertContentError"]'
INFO = '[data-testid="stAlertContentInfo"]'
NINE = {f"madrs_{n}": 2 for n in range(1, 10)}
PHQ9 = get_scale("phq9")
RULE_TEXT = "MADRS item 10 (suicidal thoughts) was rated 4 or higher"


def shown(text: str) -> re.Pattern[str]:
    """`text` as the page shows it: stored text is escaped (ui.text.md), which puts an invisible
    word joiner after every '@' so an address is not made a mailto link."""
    return re.compile(re.escape(text).replace("@", "@\u2060?"))


# --------------------------------------------------------------------------- seeding


def seed(db_path: Path, codes: tuple[str, ...]) -> SimpleNamespace:
    """Site LON, rater `rita`, coordinator `cora`, the PI `pi@clinic.example.org` (LON) and the
    participants `codes`. Cheap password hashes: the tests are about alerts, not argon2."""
    cheap, users.hasher = users.hasher, PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    try:
        init_database(db_path)
        system = system_actor("tests")
        with unit_of_work(db_path) as db:
            sites.create_site(db, system, "LON", "London clinic", "Europe/London")
            rater = users.create_user(db, system, RATER, "rater", PASSWORD, "LON")
            coordinator = users.create_user(db, system, "cora", "coordinator", PASSWORD, "LON")
            pi = users.create_user(db, system, PI, "pi", PASSWORD, "LON")
            people = {code: participants.create_participant(db, coordinator, code, "LON") for code in codes}
    finally:
        users.hasher = cheap
    return SimpleNamespace(path=db_path, rater=rater, pi=pi, people=people)


def madrs_draft(study: SimpleNamespace, code: str, answers: dict[str, int]) -> dict:
    """A clinician MADRS draft at baseline for `code` with `answers` saved (as the rater would)."""
    with unit_of_work(study.path) as db:
        draft = assessments.start_assessment(
            db, study.rater, study.people[code]["id"], "baseline", "madrs", "clinician"
        )
        for item_id, value in answers.items():
            draft = assessments.save_draft_response(db, study.rater, draft["id"], item_id, value)
    return draft


def alert_rows(study: SimpleNamespace, assessment_id: int) -> list[dict]:
    with unit_of_work(study.path, write=False) as db:
        return alerts.list_alerts(db, open_only=False, assessment_id=assessment_id)


@pytest.fixture(scope="module")
def server_data(app_server) -> SimpleNamespace:
    """The module server's data; one participant per test."""
    return seed(app_server.db_path, ("KET-002", "KET-003", "KET-004"))


# --------------------------------------------------------------------------- page helpers


def open_draft(page: Page, base_url: str, assessment_id: int, code: str) -> None:
    """Open the draft by its address (as after a reload), signing in as the rater."""
    goto(page, f"{base_url}/rate?assessment={assessment_id}")
    sign_in(page, RATER)
    expect_text(page, f"MADRS — {code}")
    expect_no_exception(page)


def item_box(page: Page, item_id: str):
    return page.locator(f".st-key-item-{item_id}")


def tap_rating(page: Page, item_id: str, value: int) -> None:
    """Tap an option of a form item like a finger; each tap saves at once (a rerun)."""
    option = item_box(page, item_id).locator(OPTION).filter(has_text=re.compile(rf"^{value} – "))
    with expect_rerun(page):
        option.tap()


def item_alert(page: Page, item_id: str):
    return item_box(page, item_id).locator(ERROR).filter(has_text="Safety alert")


def answer(page: Page, label: str) -> None:
    """Participant screen: tap an answer (the whole box is the target) and wait for the save."""
    option = page.locator(OPTION).filter(has=page.get_by_text(label, exact=True))
    with expect_rerun(page):
        option.tap()
    expect(page.get_by_role("radio", name=label, exact=True)).to_be_checked()


def current_question(page: Page):
    prompt = page.locator('[data-testid="stRadio"] [data-testid="stWidgetLabel"]').inner_text().strip()
    return next(i for i in PHQ9.items if i.prompt == prompt)


# --------------------------------------------------------------------------- 8 + 9: at once, and for the PI


def test_a_safety_answer_alerts_on_the_form_at_once_and_the_pi_sees_it_where_they_land(
    fresh_app_server, tablet_page, browser
):
    study = seed(fresh_app_server.db_path, ("KET-001",))
    draft = madrs_draft(study, "KET-001", NINE)  # items 1-9 rated; the rater now taps item 10
    page = tablet_page
    open_draft(page, fresh_app_server.url, draft["id"], "KET-001")
    tap_rating(page, "madrs_10", 4)

    alert = item_alert(page, "madrs_10")  # inside the item, at once: nothing was submitted
    expect(alert).to_be_visible()
    expect(alert).to_contain_text(RULE_TEXT)
    expect(alert).to_contain_text(shown(f"Recorded as an open safety alert for the PI(s) of site LON: {PI}."))
    expect(alert).to_contain_text("E-mail notification is off.")
    expect(alert).to_be_in_viewport()
    expect(page.get_by_text("Submitted (", exact=False)).to_have_count(0)
    expect_no_exception(page)
    snap(page, "alerts-form-item-alert-tablet-landscape")
    [row] = alert_rows(study, draft["id"])
    assert (row["rule_id"], row["score_id"], row["item_id"], row["item_value"]) == (
        "madrs_suicidal_thoughts",
        None,
        "madrs_10",
        4,
    )
    assert row["resolved_at"] is None and row["assessment_status"] == "draft"

    pi_page = new_page(browser, "tablet_landscape")  # the PI, on another tablet
    try:
        goto(pi_page, fresh_app_server.url)
        sign_in(pi_page, PI)
        expect(pi_page.get_by_role("heading", name="Today's worklist")).to_be_visible()  # the PI's landing page
        banner = pi_page.locator(".st-key-alert-banner")
        expect(banner).to_contain_text("1 open safety alert (site LON)")
        expect(banner).to_contain_text("KET-001 · MADRS item 10 (Suicidal thoughts) = 4 · Baseline")
        expect(banner).to_contain_text("draft: not yet submitted")
        expect(banner).to_contain_text(RULE_TEXT)
        expect(banner.get_by_role("link", name=re.compile("Acknowledge on"))).to_be_visible()
        expect_no_exception(pi_page)
        snap(pi_page, "alerts-pi-landing-tablet-landscape")
    finally:
        pi_page.context.close()


# --------------------------------------------------------------------------- 8: corrected before submit


def test_correcting_the_answer_before_submit_resolves_the_alert_and_keeps_it(app_server, server_data, tablet_page):
    draft = madrs_draft(server_data, "KET-002", {**NINE, "madrs_10": 4})  # the alert was raised by this save
    page = tablet_page
    open_draft(page, app_server.url, draft["id"], "KET-002")
    expect(item_alert(page, "madrs_10")).to_be_visible()  # the reopened draft shows its open alert

    tap_rating(page, "madrs_10", 2)
    expect(item_alert(page, "madrs_10")).to_have_count(0)
    resolved = item_box(page, "madrs_10").locator(INFO).filter(has_text="Safety alert resolved")
    expect(resolved).to_be_visible()
    expect(resolved).to_contain_text("madrs_10 changed from 4 to 2")
    expect(resolved).to_contain_text("stays in the record")
    expect_no_exception(page)
    [row] = alert_rows(server_data, draft["id"])  # the row is kept, with its resolution
    assert row["resolved_at"] is not None and row["resolved_by"] == RATER
    assert "changed from 4 to 2" in row["resolution"]
    with unit_of_work(server_data.path, write=False) as db:
        assert draft["id"] not in [a["assessment_id"] for a in alerts.list_alerts(db)]  # no longer open


# --------------------------------------------------------------------------- 9: after a kiosk hand-back


def quiet_timepoint() -> str:
    """The label of a timepoint with no self-report scale due (its questionnaire list starts empty)."""
    protocol = load_protocol()
    own = set(self_report_scale_ids())
    return next(tp.label for tp in protocol.timepoints if not own & set(protocol.scales_due(tp.id)))


def test_after_a_kiosk_hand_back_the_staff_member_sees_the_safety_item_answered(app_server, server_data, tablet_page):
    page = tablet_page
    goto(page, f"{app_server.url}/self_report_start?participant=KET-003")
    sign_in(page, RATER)
    expect(page.get_by_role("combobox", name="Participant", exact=True)).to_have_value("KET-003")
    timepoint = page.get_by_role("combobox", name="Timepoint", exact=True)
    with expect_rerun(page):
        timepoint.tap()
        page.get_by_role("option", name=quiet_timepoint(), exact=True).tap()
    with expect_rerun(page, required=False):
        page.get_by_role("combobox", name="Questionnaires", exact=True).tap()
        page.get_by_role("option", name=re.compile(r"^PHQ-9 — ")).tap()
    page.keyboard.press("Escape")
    wait_for_idle(page)
    click_button(page, "Hand the tablet to the participant")

    click_button(page, text("start"))  # the participant: eight answers "Not at all", item 9 "Several days"
    for _ in range(8):
        answer(page, "Not at all")
        click_button(page, text("next"))
    assert current_question(page).id == "phq9_9"
    answer(page, "Several days")  # saved: the alert is raised now, even if nothing is sent
    for staff_word in ("Safety alert", "Recorded as", "PI(s)", "E-mail", "Signed in"):
        assert page.get_by_text(staff_word).filter(visible=True).count() == 0, staff_word  # nothing for staff here

    click_button(page, text("staff_exit"))
    fill_text(page, text("staff_username"), RATER)  # typed: the exit form offers no name (issue 13 item 12)
    fill_text(page, text("staff_password"), PASSWORD)
    click_button(page, text("staff_unlock"))
    expect_text(page, "Signed in as")
    notice = page.locator(".st-key-handback-notice")
    expect(notice).to_contain_text("While the tablet was with the participant, KET-003 answered a safety item")
    expect(notice).to_contain_text("PHQ-9 item 9 (Thoughts of death or self-harm) = 1 (“Several days”)")
    expect(notice).to_contain_text(shown(f"Recorded as an open safety alert for the PI(s) of site LON: {PI}."))
    expect(notice).to_be_in_viewport()
    expect_no_exception(page)
    snap(page, "alerts-kiosk-handback-notice-tablet-landscape")
    with unit_of_work(server_data.path, write=False) as db:
        [row] = alerts.list_alerts(db, participant_id=server_data.people["KET-003"]["id"])
    assert (row["rule_id"], row["mode"], row["assessment_status"], row["item_value"]) == (
        "phq9_self_harm",
        "kiosk",
        "draft",
        1,
    )

    click_button(page, "I have seen this and will act on it")  # stays until acted on
    expect(page.locator(".st-key-handback-notice")).to_have_count(0)


# --------------------------------------------------------------------------- 10: e-mail, with a real server


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"


def test_with_email_on_the_form_says_where_the_alert_was_sent_and_it_arrives(browser, tmp_path):
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(
        f'[notifications]\nenabled = true\nsmtp_host = "127.0.0.1"\nsmtp_port = {smtp.port}\n'
        f'from = "scalebook@clinic.example.org"\ntimeout_seconds = 5\n'
        f'contacts = {{ LON = ["safety-desk@clinic.example.org"] }}\n'
    )
    study = seed(tmp_path / "mail.db", ("KET-010",))
    draft = madrs_draft(study, "KET-010", NINE)
    try:
        with running_app(study.path, {"SCALEBOOK_SECRETS_FILE": str(secrets)}) as server:
            page = new_page(browser, "tablet_landscape")
            try:
                open_draft(page, server.url, draft["id"], "KET-010")
                tap_rating(page, "madrs_10", 5)
                alert = item_alert(page, "madrs_10")
                expect(alert).to_contain_text(
                    shown(f"Recorded as an open safety alert for the PI(s) of site LON: {PI}.")
                )
                expect(alert).to_contain_text(
                    re.compile(
                        rf"E-mail (to {shown(PI).pattern}, {shown('safety-desk@clinic.example.org').pattern} is being sent|"
                        rf"sent to {shown(PI).pattern}, {shown('safety-desk@clinic.example.org').pattern})\."
                    )
                )
                deadline = time.monotonic() + 15
                while not inbox.messages and time.monotonic() < deadline:
                    time.sleep(0.1)
                assert len(inbox.messages) == 1, "the alert's e-mail did not arrive"
                message = inbox.messages[0]
                assert message["Subject"] == "Scalebook safety alert: KET-010, site LON, MADRS item 10"
                assert "answered 5" in message.get_content() and "Apparent sadness" not in message.get_content()
                time.sleep(0.5)  # the attempt is recorded right after the server accepted it
                tap_rating(page, "madrs_1", 3)  # any next tap redraws the form with the recorded attempt
                expect(alert).to_contain_text(shown(f"E-mail sent to {PI}, safety-desk@clinic.example.org."))
                expect_no_exception(page)
            finally:
                page.context.close()
    finally:
        smtp.stop()
    with unit_of_work(study.path, write=False) as db:
        [row] = alerts.list_alerts(db, assessment_id=draft["id"])
        sent = alerts.notifications_for(db, [row["id"]])[row["id"]]
    assert [(n["recipient"], n["status"]) for n in sent] == [(PI, "sent"), ("safety-desk@clinic.example.org", "sent")]


# --------------------------------------------------------------------------- 16: the conflict, next to its item


def test_an_edit_conflict_is_explained_inside_the_item_and_stays_until_answered_again(
    app_server, server_data, tablet_page
):
    draft = madrs_draft(server_data, "KET-004", {"madrs_1": 2})
    page = tablet_page
    open_draft(page, app_server.url, draft["id"], "KET-004")
    with unit_of_work(server_data.path) as db:  # meanwhile another tablet saves the same draft
        assessments.save_draft_response(
            db, server_data.rater, draft["id"], "madrs_2", 5, expected_version=draft["version"]
        )

    tap_rating(page, "madrs_3", 1)
    notice = item_box(page, "madrs_3").locator(ERROR).filter(has_text="Your answer here was not saved")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("someone else saved a newer copy")
    expect(notice).to_contain_text("The form now shows the latest saved answers")
    expect(notice).to_be_in_viewport()
    snap(page, "alerts-edit-conflict-tablet-landscape")
    expect(
        item_box(page, "madrs_2").locator(OPTION).filter(has_text=re.compile(r"^5 – ")).locator("input")
    ).to_be_checked()  # the other tablet's answer is shown
    tap_rating(page, "madrs_4", 2)  # another item answered: the message is still there
    expect(notice).to_be_visible()
    tap_rating(page, "madrs_3", 1)  # acted on: answered again, saved, message gone
    expect(notice).to_have_count(0)
    expect_no_exception(page)
    with unit_of_work(server_data.path, write=False) as db:
        saved = assessments.load_assessment(db, draft["id"])
    assert saved["responses"] == {"madrs_1": 2, "madrs_2": 5, "madrs_4": 2, "madrs_3": 1}
