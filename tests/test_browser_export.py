"""The Data export page in a real browser: the monitor chooses one site, builds a ZIP of the demo
study and downloads it, and the file that arrives holds that site's participants only, labelled
synthetic, with the download in the audit trail; a rater who opens the page by its address is
offered nothing (the page's own refusal, for a server that has not run app.py, is tested
without a browser in tests/test_app_access.py).

AppTest runs the page's logic (tests/test_app_export.py); only a browser shows that the
download button delivers the bytes the page built, which is what a data manager relies on.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import demo
import pytest
from argon2 import PasswordHasher

from db import users
from db.connection import unit_of_work
from db.demo import DEMO_LABEL
from db.exports import EXPORT_ACTION
from tests.browser import choose, click_button, expect_text, open_page, running_app, sign_in

DEMO_PARTICIPANTS = 6


def build_demo(db_path: Path) -> list[demo.Account]:
    """A small demo study; passwords hashed cheaply (the server checks any argon2 hash)."""
    cheap, users.hasher = users.hasher, PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    try:
        return demo.build(db_path, participants=DEMO_PARTICIPANTS)
    finally:
        users.hasher = cheap


@pytest.mark.browser
def test_a_monitor_downloads_one_site_the_zip_the_page_built_and_a_rater_gets_nothing(tmp_path, app_env, browser):
    db_path = tmp_path / "scalebook.db"
    accounts = build_demo(db_path)
    monitor = next(a for a in accounts if a.role == "monitor")
    rater = next(a for a in accounts if a.role == "rater")
    site = rater.site
    with unit_of_work(db_path, write=False) as db:
        at_site = {
            code
            for (code,) in db.execute(
                "SELECT p.code FROM participants p JOIN sites s ON s.id = p.site_id WHERE s.code = ?", [site]
            )
        }
        everyone = {code for (code,) in db.execute("SELECT code FROM participants")}
    assert at_site and at_site != everyone, "the demo should have participants at two sites"

    with running_app(db_path, app_env) as server:
        context = browser.new_context(viewport={"width": 1024, "height": 768}, accept_downloads=True)
        page = context.new_page()
        try:
            sign_in(page, monitor.username, monitor.password, url=server.url)
            open_page(page, "Data export")
            choose(page, "Site", site)
            click_button(page, "Build the ZIP file")
            download_button = page.get_by_role("button", name="Download")
            download_button.wait_for()
            with page.expect_download() as arrived:
                download_button.click()
            data = Path(arrived.value.path()).read_bytes()

            # The rater opens the page by its address and signs in there: the app's navigation has no
            # export page for a rater, so the address falls back to their worklist; nothing offered.
            rater_page = browser.new_page(viewport={"width": 1024, "height": 768})
            sign_in(rater_page, rater.username, rater.password, url=f"{server.url}/export")
            expect_text(rater_page, "Today's worklist")
            assert rater_page.get_by_role("heading", name="Data export").count() == 0
            assert rater_page.get_by_role("button", name="Build the ZIP file").count() == 0
        finally:
            context.close()

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        participants_file = next(n for n in archive.namelist() if n.endswith("participants.csv"))
        rows = list(csv.DictReader(io.StringIO(archive.read(participants_file).decode("utf-8-sig"))))
    assert manifest["synthetic_demo"] == DEMO_LABEL
    assert (manifest["exported_by"], manifest["site"]) == (monitor.username, site)
    code_column = next(c for c in rows[0] if c in {"participant", "participant_code", "code", "SUBJID"})
    assert {r[code_column] for r in rows if not r[code_column].startswith("#")} <= at_site
    with unit_of_work(db_path, write=False) as db:
        exported = db.execute(
            "SELECT COUNT(*) FROM audit_events WHERE action = ? AND username = ?", [EXPORT_ACTION, monitor.username]
        ).fetchone()[0]
    assert exported == 1, "the download should be one audit event"
