"""In a real browser: the PI signs in, opens a participant's trajectory, sees the charts drawn,
downloads a chart as PNG (a deferred st.download_button: vl-convert renders it on the server when
clicked) and the participant's certified copy (HTML, digest verified)."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from playwright.sync_api import expect

from analytics.report import verify_report
from db import assessments, clinical, clock, participants, sites, users
from db.connection import unit_of_work
from db.migrations import init_database
from db.permissions import system_actor
from tests.browser import click_button, expect_no_exception, expect_text, fill_text, goto
from tests.conftest_db import mark_eligible
from tests.test_analytics_db import DAY1, T0, frozen, madrs

PASSWORD = "browser test password"


def seed(path) -> SimpleNamespace:
    init_database(path)
    system = system_actor("tests")
    with unit_of_work(path) as db:
        sites.create_site(db, system, "LON", "London clinic", "Europe/London")
        pi = users.create_user(db, system, "pi.browser", "pi", PASSWORD, all_sites=True)
        rater = users.create_user(db, system, "rater.browser", "rater", PASSWORD, site="LON")
        coordinator = users.create_user(db, system, "coord.browser", "coordinator", PASSWORD, site="LON")
        person = participants.create_participant(db, coordinator, "KET-101", "LON", arm="ketamine")
    with frozen(T0 - timedelta(days=2)), unit_of_work(path) as db:
        mark_eligible(db, coordinator, rater, person["id"])
    with frozen(T0 - timedelta(hours=1)), unit_of_work(path) as db:
        clinical.record_infusion(db, coordinator, person["id"], 1, clock.format_utc(T0), 70, 0.5)
    with frozen(T0 + timedelta(minutes=42)), unit_of_work(path) as db:
        assessments.save_assessment(
            db, rater, person["id"], "min_40", "madrs", "clinician", madrs(dict.fromkeys(range(1, 11), 2)), recall="24h"
        )
        assessments.save_assessment(
            db, rater, person["id"], "min_40", "cadss", "clinician", {f"cadss_{n}": 1 for n in range(1, 24)}
        )
    with frozen(T0 + timedelta(days=1)), unit_of_work(path) as db:
        assessments.save_assessment(db, rater, person["id"], "day_1", "madrs", "clinician", DAY1, recall="24h")
    return SimpleNamespace(pi=pi, participant=person)


@pytest.mark.browser
def test_pi_opens_a_trajectory_and_downloads_a_png(fresh_app_server, tablet_page, tmp_path):
    seed(fresh_app_server.db_path)
    page = tablet_page
    goto(page, f"{fresh_app_server.url}/trajectory?participant=KET-101")
    fill_text(page, "User name", "pi.browser")
    fill_text(page, "Password", PASSWORD)
    click_button(page, "Sign in")
    expect_text(page, "Participant trajectory")
    expect_text(page, "KET-101")
    expect_no_exception(page)
    charts = page.locator('[data-testid="stVegaLiteChart"]')
    expect(charts.first).to_be_visible()
    expect(charts.first.locator("canvas, svg").first).to_be_visible()  # Vega drew it
    expect(charts).to_have_count(3)  # MADRS, CADSS and the dissociation panel
    # our server-side (vl-convert) download, not the chart toolbar's own "Download as PNG"
    button = page.locator(".st-key-png-KET-101-madrs").get_by_role("button", name="PNG", exact=True)
    with page.expect_download(timeout=60_000) as info:
        button.click()
    download = info.value
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    content = target.read_bytes()
    assert download.suggested_filename == "KET-101-madrs-compressed.png"
    assert content[:8] == b"\x89PNG\r\n\x1a\n" and len(content) > 10_000
    expect_no_exception(page)

    # the certified copy: generated on click, self-contained, and its printed digest checks out
    report = page.locator(".st-key-report").get_by_role("button")
    with page.expect_download(timeout=90_000) as info:
        report.click()
    html = tmp_path / "record.html"
    info.value.save_as(html)
    text = html.read_text(encoding="utf-8")
    assert info.value.suggested_filename == "KET-101-record.html"
    assert verify_report(text) and "Participant record: KET-101" in text and "<svg" in text
    assert "Blinded copy" in text  # the PI rates blind in this study
