"""The README's screenshots, taken from the demo study in a real browser, and the check that a
demo database shows what a newcomer is promised (issue 15, items 3 and 4): the PI's trajectory
draws its charts, the cohort view shows its participants table, and the open safety alert is
listed there, under the "synthetic demo data" banner.

One browser test on one small demo (DEMO_PARTICIPANTS, built straight into the server's database
by `demo.build`, the code behind `make demo`) takes four pictures, and a test without a browser
checks that the README shows each of them and that each is committed:

    docs/screenshots/rater-form.png          a MADRS form on a tablet (1024 wide), a few items tapped
    docs/screenshots/self-report-phone.png   a QIDS-SR16 question on a phone, opened by a one-time link
    docs/screenshots/trajectory.png          the PI's participant trajectory
    docs/screenshots/cohort.png              the PI's cohort view with the open safety alert

Every run takes the pictures (so a page that no longer renders fails here); they are written to
docs/screenshots/ only with SCALEBOOK_UPDATE_SCREENSHOTS=1, otherwise to tests/.artifacts/. The
demo's dates move with the day it is built, so rewriting docs/ on every `make test` would leave
the working tree changed after each run; refresh the committed pictures with

    SCALEBOOK_UPDATE_SCREENSHOTS=1 .venv/bin/python -m pytest tests/test_browser_screenshots.py
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import demo
import pytest
from argon2 import PasswordHasher
from playwright.sync_api import Page, expect

from db import alerts, assessments, users
from db.connection import unit_of_work
from db.demo import DEMO_LABEL
from db.visits import worklist_view
from protocol import load_protocol
from selfreport.strings import text
from study.assessments import find_or_start_assessment
from study.self_report import start_self_report
from tests.browser import (
    ARTIFACTS_DIR,
    REPO_ROOT,
    AppServer,
    click_button,
    expect_no_exception,
    expect_text,
    goto,
    new_page,
    open_page,
    running_app,
    sign_in,
    wait_for_idle,
)

DEMO_PARTICIPANTS = 8  # enough for both arms, both sites, the open alert and a cohort table
SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"
UPDATE_ENV = "SCALEBOOK_UPDATE_SCREENSHOTS"
# Height of each picture: the viewport is stretched to it before the shot (Streamlit scrolls
# inside its own container, so a "full page" screenshot would show only the first screen).
TABLET_WIDTH = 1024
PICTURE_HEIGHT = {"rater-form": 1150, "trajectory": 1450, "cohort": 1300}
SHOTS = ("rater-form", "self-report-phone", "trajectory", "cohort")
FORM_TAPS = {"madrs_1": 3, "madrs_2": 2, "madrs_3": 3}  # answers already given on the rater's form


def picture_path(name: str) -> Path:
    """docs/screenshots/<name>.png when updating the README's pictures, else tests/.artifacts/."""
    folder = SCREENSHOTS if os.environ.get(UPDATE_ENV, "").strip() in {"1", "true", "yes"} else ARTIFACTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}.png"


def take(page: Page, name: str, height: int | None = None) -> Path:
    """Save the page as <name>.png: the viewport, stretched to `height` CSS pixels first (when given)."""
    if height is not None:
        page.set_viewport_size({"width": page.viewport_size["width"], "height": height})
        wait_for_idle(page)
        page.wait_for_timeout(300)  # charts re-layout to the new size
    path = picture_path(name)
    page.screenshot(path=str(path), animations="disabled")
    assert path.stat().st_size > 10_000, f"{path} looks empty"
    return path


def build_demo(db_path: Path) -> dict[str, Any]:
    """A small demo study in the server's (still empty) database; the accounts by role, and the
    participant with the open alert. The passwords are hashed cheaply (the server checks any
    argon2 hash), which saves seconds on a slow machine and changes nothing the pages show."""
    cheap, users.hasher = users.hasher, PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    try:
        accounts = demo.build(db_path, participants=DEMO_PARTICIPANTS)
    finally:
        users.hasher = cheap
    with unit_of_work(db_path, write=False) as db:
        open_alerts = alerts.list_alerts(db, open_only=True)
    assert len(open_alerts) == 1, f"the demo study should have one open safety alert, not {len(open_alerts)}"
    return {"accounts": accounts, "alert_code": open_alerts[0]["participant_code"]}


def account(accounts: list[demo.Account], role: str, site: str | None = None) -> demo.Account:
    return next(a for a in accounts if a.role == role and (site is None or a.site in (site, None)))


def open_rater_form(db_path: Path, accounts: list[demo.Account]) -> tuple[int, str, demo.Account]:
    """The next MADRS on the worklist, started as a draft by the rater of its site with a few
    items answered (as after the first taps); returns its id, participant code and rater.

    With few participants the next MADRS may be days ahead, so the draft is started with the
    window check's clock at its due time: the picture shows the form, not an out-of-window
    warning (the draft lives only in this test's database)."""
    protocol = load_protocol()
    with unit_of_work(db_path) as db:
        rows, _missed, ids = worklist_view(db, protocol)
        row = next((r for r in rows if "madrs" in r.scales and not r.provisional), None)
        assert row is not None, f"the demo's worklist has no MADRS to rate: {rows}"
        site = db.execute(
            "SELECT s.code FROM participants p JOIN sites s ON s.id = p.site_id WHERE p.id = ?", [ids[row.participant]]
        ).fetchone()[0]
        rater = account(accounts, "rater", site)
        actor = users.get_user(db, rater.username)
        opened = find_or_start_assessment(
            db,
            actor,
            protocol,
            ids[row.participant],
            row.timepoint_id,
            row.infusion_number,
            "madrs",
            recall="24h",
            now=row.due_at,
        )
        draft = opened.assessment
        for item_id, value in FORM_TAPS.items():
            draft = assessments.save_draft_response(
                db, actor, draft["id"], item_id, value, expected_version=draft["version"]
            )
    return draft["id"], row.participant, rater


def self_report_link(db_path: Path, accounts: list[demo.Account], code: str) -> str:
    """A one-time QIDS-SR16 link for `code`'s next self-report, made as the PI would."""
    protocol = load_protocol()
    with unit_of_work(db_path) as db:
        rows, _missed, ids = worklist_view(db, protocol)
        row = next((r for r in rows if "qids_sr16" in r.scales), None)
        participant, timepoint = (ids[row.participant], row.timepoint_key) if row else (ids[code], "day_7")
        pi = users.get_user(db, account(accounts, "pi").username)
        link = start_self_report(db, pi, protocol, participant, timepoint, ["qids_sr16"])
    return link["token"]


def test_readme_shows_every_screenshot_and_each_is_committed():
    """No browser: the README links each picture this module takes, and each file exists as a PNG
    (a clean clone shows them without running the browser test)."""
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    for name in SHOTS:
        assert f"(docs/screenshots/{name}.png)" in readme, f"README.md does not show docs/screenshots/{name}.png"
        path = SCREENSHOTS / f"{name}.png"
        assert path.is_file(), f"{path} is missing: run {UPDATE_ENV}=1 pytest {Path(__file__).name}"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"


@pytest.fixture
def demo_server(tmp_path: Path, app_env: dict[str, object]) -> Iterator[tuple[AppServer, dict[str, Any]]]:
    """A server on a new demo database: the demo is built while the server starts (importing
    Streamlit takes seconds; the app touches the database only when the first browser comes), so
    the two slow steps overlap. Yields the server and build_demo's result."""
    db_path = tmp_path / "scalebook.db"
    result: dict[str, Any] = {}

    def build() -> None:
        try:
            result["made"] = build_demo(db_path)
        except BaseException as exc:  # re-raised in the test's thread
            result["error"] = exc

    builder = threading.Thread(target=build, name="demo-build")
    builder.start()
    try:
        with running_app(db_path, app_env) as server:
            builder.join()
            if "error" in result:
                raise result["error"]
            yield server, result["made"]
    finally:
        builder.join()


@pytest.mark.browser
def test_demo_study_in_the_browser_and_the_readme_screenshots(demo_server, browser):
    server, made = demo_server
    accounts = made["accounts"]

    # The rater's form on a tablet, reached by its address (as after a reload) and signed in.
    assessment_id, code, rater = open_rater_form(server.db_path, accounts)
    tablet = new_page(browser, "tablet_landscape")
    try:
        goto(tablet, f"{server.url}/rate?assessment={assessment_id}")
        expect_text(tablet, DEMO_LABEL)  # the banner, before anyone signs in
        sign_in(tablet, rater.username, rater.password)
        expect_text(tablet, f"MADRS — {code}")
        expect_no_exception(tablet)
        expect(tablet.get_by_role("radio", checked=True)).to_have_count(len(FORM_TAPS))
        take(tablet, "rater-form", PICTURE_HEIGHT["rater-form"])
    finally:
        tablet.context.close()

    # Self-report on the participant's phone, by a one-time link: the first question.
    phone = new_page(browser, "phone", device_scale_factor=1)
    try:
        goto(phone, f"{server.url}/?token={self_report_link(server.db_path, accounts, code)}")
        click_button(phone, text("start"))
        expect_text(phone, "Question 1 of 16")
        expect_text(phone, DEMO_LABEL)
        expect_no_exception(phone)
        take(phone, "self-report-phone")
    finally:
        phone.context.close()

    # The PI: the participant with the open alert, then the cohort with the alert and the table.
    pi = account(accounts, "pi")
    page = new_page(browser, "tablet_landscape")
    try:
        goto(page, f"{server.url}/trajectory?participant={made['alert_code']}")
        sign_in(page, pi.username, pi.password)
        expect_text(page, "Participant trajectory")
        charts = page.locator('[data-testid="stVegaLiteChart"]')
        expect(charts.first.locator("canvas, svg").first).to_be_visible()  # Vega drew it
        assert charts.count() >= 2, f"expected the score and dissociation panels, found {charts.count()} charts"
        expect_no_exception(page)
        take(page, "trajectory", PICTURE_HEIGHT["trajectory"])

        page.set_viewport_size({"width": TABLET_WIDTH, "height": 640})
        open_page(page, "Cohort and alerts")
        expect_text(page, "Open safety alerts (1)")
        alert_table = page.locator('[data-testid="stDataFrame"]').first
        expect(alert_table).to_contain_text(made["alert_code"])  # the alert's row (glide grid: text in its DOM copy)
        expect(page.get_by_text(re.compile(r"^Trajectories \(\d+ participants\)$"))).to_be_visible()
        table = page.get_by_role("heading", name="Participants", exact=True).locator(
            "xpath=following::*[@data-testid='stDataFrame'][1]"
        )
        table.scroll_into_view_if_needed()
        expect(table).to_contain_text(made["alert_code"])  # one row per participant
        page.locator('[data-testid="stMain"]').evaluate("main => { main.scrollTo(0, 0); window.scrollTo(0, 0); }")
        expect_no_exception(page)
        take(page, "cohort", PICTURE_HEIGHT["cohort"])
    finally:
        page.context.close()
