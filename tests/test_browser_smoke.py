"""Smoke test of the running app in a real browser, and tests of the browser harness itself."""

import re
import textwrap
from pathlib import Path

import pytest
from playwright.sync_api import expect

import tests.browser as harness
from tests.browser import (
    click_button,
    expect_no_exception,
    expect_text,
    fill_text,
    goto,
    new_page,
    running_app,
    snap,
)


def _process_env(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item)


# --------------------------------------------------------------------------- the app loads


@pytest.mark.browser
def test_app_loads_on_tablet_landscape(app_server, tablet_page):
    goto(tablet_page, app_server.url)
    expect(tablet_page).to_have_title(re.compile("Scalebook"))
    expect_no_exception(tablet_page)
    assert tablet_page.evaluate("[innerWidth, innerHeight, navigator.maxTouchPoints > 0]") == [1024, 640, True]


@pytest.mark.browser
def test_app_loads_on_phone(app_server, phone_page):
    goto(phone_page, app_server.url)
    expect(phone_page).to_have_title(re.compile("Scalebook"))
    expect_no_exception(phone_page)
    assert phone_page.evaluate("[innerWidth, devicePixelRatio, navigator.maxTouchPoints > 0]") == [390, 2, True]


# --------------------------------------------------------------------------- the harness


def test_app_server_gets_its_own_database(app_server):
    assert app_server.process.poll() is None
    assert app_server.env["SCALEBOOK_DB"] == str(app_server.db_path)
    assert _process_env(app_server.process.pid)["SCALEBOOK_DB"] == str(app_server.db_path)
    assert not app_server.db_path.is_relative_to(harness.REPO_ROOT)  # never the developer's data/


def test_running_app_passes_extra_env_and_restarts_on_the_same_database(tmp_path):
    db = tmp_path / "scalebook.db"
    with running_app(db, env={"SCALEBOOK_IDLE_TIMEOUT_MINUTES": 7}) as first:
        assert _process_env(first.process.pid)["SCALEBOOK_IDLE_TIMEOUT_MINUTES"] == "7"
        assert first.env["SCALEBOOK_DB"] == str(db)
    assert first.process.returncode is not None  # stopped on exit
    with running_app(db) as second:
        assert _process_env(second.process.pid)["SCALEBOOK_DB"] == str(db)


def test_missing_chromium_fails_under_ci_and_skips_elsewhere(monkeypatch, tmp_path):
    monkeypatch.setattr(harness, "CHROMIUM_PATH", str(tmp_path / "no-chromium"))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"apt-get install -y chromium"):
        harness.require_chromium()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match=r"apt-get install -y chromium"):
        harness.require_chromium()


PROBE_APP = textwrap.dedent("""
    import time

    import streamlit as st

    st.set_page_config(page_title="Harness probe")
    st.session_state.setdefault("runs", 0)
    st.session_state.runs += 1
    st.write(f"run count={st.session_state.runs}")
    if st.button("Slow step"):
        time.sleep(1.5)
        st.write("slow step done")
    if st.button("Rerun from script"):
        st.session_state.reruns = st.session_state.get("reruns", 0) + 1
        st.rerun()
    st.write(f"script reruns={st.session_state.get('reruns', 0)}")
    name = st.text_input("Name")
    st.write(f"hello [{name}]")
    with st.form("note"):
        note = st.text_input("Note")
        saved = st.form_submit_button("Save")
    if saved:
        st.write(f"saved [{note}]")
    if st.button("Break"):
        raise RuntimeError("probe failure")
""")


@pytest.mark.browser
def test_helpers_return_only_after_the_rerun_is_rendered(browser, tmp_path, monkeypatch):
    """Every check reads the page immediately (inner_text does not retry), so it only passes
    if the helper really waited for Streamlit's rerun."""
    monkeypatch.setattr(harness, "ARTIFACTS_DIR", tmp_path / "artifacts")  # a passing run leaves no files
    script = tmp_path / "probe_app.py"
    script.write_text(PROBE_APP)
    with running_app(tmp_path / "scalebook.db", script=script) as server:
        page = new_page(browser, "tablet_portrait")
        main = page.locator('[data-testid="stMain"]')
        try:
            goto(page, server.url)
            assert "run count=1" in main.inner_text()
            click_button(page, "Slow step")  # a 1.5 s run
            assert "slow step done" in main.inner_text() and "run count=2" in main.inner_text()
            click_button(page, "Rerun from script")  # st.rerun(): two runs for one click
            assert "script reruns=1" in main.inner_text()
            fill_text(page, "Name", "Ann")  # outside a form: commits and reruns
            assert "hello [Ann]" in main.inner_text()
            runs = re.search(r"run count=\d+", main.inner_text()).group()
            fill_text(page, "Note", "calm")  # inside a form: no rerun until submitted
            assert runs in main.inner_text() and "saved [" not in main.inner_text()
            click_button(page, "Save")
            assert "saved [calm]" in main.inner_text()
            expect_text(page, "hello [Ann]")
            expect_no_exception(page)
            click_button(page, "Break")
            assert page.locator(harness.EXCEPTION).count() == 1
            with pytest.raises(AssertionError, match="probe failure"):  # quoted from the server log
                expect_no_exception(page)
            assert snap(page, "harness probe").read_bytes().startswith(b"\x89PNG")
        finally:
            page.context.close()
