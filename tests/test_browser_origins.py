"""Issue 13 item 14 in Chromium: participant pages fetch nothing from another origin, and no page
of another origin can show Scalebook in a frame.

- Every request the browser makes (documents, scripts, styles, fonts, icons, images, the
  WebSocket) on the sign-in page and through a participant's questionnaire by one-time link goes
  to the app's own origin: Streamlit serves its fonts and the Material icons from its own static
  files, and gatherUsageStats = false keeps its usage statistics at home.
- A page of another origin that puts the app in an iframe gets Chromium's error page instead
  (Content-Security-Policy frame-ancestors 'self', X-Frame-Options SAMEORIGIN: ui/server.py); a
  page of the app's own origin still can. The other origin is a tiny loopback server on another
  port (a page of a public origin, or one made up by Playwright's router, would be refused a
  loopback frame by Chromium's local network rules anyway, headers or not, and prove nothing).
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from argon2 import PasswordHasher

from db import participants, sites, users
from db.connection import unit_of_work
from db.migrations import init_database
from db.permissions import system_actor
from protocol import load_protocol
from selfreport.strings import text
from study.self_report import start_self_report
from tests.app_support import PASSWORD
from tests.browser import click_button, expect_text, goto

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def seeded(app_server):
    """Site LON, a PI, participant KET-001."""
    cheap, users.hasher = users.hasher, PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    try:
        init_database(app_server.db_path)
        system = system_actor("tests")
        with unit_of_work(app_server.db_path) as db:
            sites.create_site(db, system, "LON", "London clinic", "Europe/London")
            pi = users.create_user(db, system, "pi", "pi", PASSWORD, None, all_sites=True)
            person = participants.create_participant(db, pi, "KET-001", "LON")
    finally:
        users.hasher = cheap
    return SimpleNamespace(server=app_server, pi=pi, person=person)


def origin(url: str) -> tuple[str, str | None, int | None]:
    """Scheme (a WebSocket counts as its page's http/https), host and port of a URL."""
    parts = urlsplit(url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    return scheme, parts.hostname, parts.port


def record_requests(page) -> list[str]:
    seen: list[str] = []
    page.on("request", lambda request: seen.append(request.url))
    page.on("websocket", lambda socket: seen.append(socket.url))
    return seen


def foreign(seen: list[str], base: str) -> list[str]:
    """The URLs that are not of the app's origin (data: and blob: URLs are made in the page)."""
    home = origin(base)
    return [u for u in seen if urlsplit(u).scheme not in ("data", "blob") and origin(u) != home]


def test_the_sign_in_page_and_a_questionnaire_by_link_fetch_only_from_the_app(seeded, phone_page):
    base = seeded.server.url
    seen = record_requests(phone_page)
    goto(phone_page, base)
    expect_text(phone_page, "Sign in")
    assert len(seen) > 5 and foreign(seen, base) == [], foreign(seen, base)
    # The tab icon is Scalebook's own, inline (a ":material/...:" icon would come from Google's fonts).
    icon = phone_page.locator("link[rel='shortcut icon']").get_attribute("href")
    assert icon.startswith("data:image/svg+xml"), icon

    with unit_of_work(seeded.server.db_path) as db:
        link = start_self_report(db, seeded.pi, load_protocol(), seeded.person["id"], "day_7", ["qids_sr16"])
    seen.clear()
    goto(phone_page, f"{base}/?token={link['token']}")
    click_button(phone_page, text("start"))
    expect_text(phone_page, "Question 1 of 16")
    phone_page.locator('[data-testid="stRadioOption"]').first.tap()
    expect_text(phone_page, "Question 1 of 16")
    assert any("/_stcore/stream" in u for u in seen) and any("/static/" in u for u in seen), seen
    assert foreign(seen, base) == [], foreign(seen, base)


@pytest.fixture
def other_origin(seeded):
    """A second web server on another loopback port (another origin than the app's), serving one
    page that shows the app in an iframe."""
    html = (
        f'<!doctype html><title>framer</title><iframe id="app" src="{seeded.server.url}/" width="800" '
        f'height="600"></iframe>'
    ).encode()

    class Framer(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802  (the http.server name)
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(html)))
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Framer)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/framer.html"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


_FRAME_IT = """url => new Promise(done => {
    const frame = document.createElement('iframe');
    frame.onload = () => done(frame.contentWindow.location.href);
    frame.src = url;
    document.body.appendChild(frame);
})"""


def test_another_origin_cannot_frame_the_app_and_its_own_origin_can(seeded, other_origin, tablet_page):
    tablet_page.goto(other_origin, wait_until="load")  # the load event waits for the iframe's own load
    frame = next(f for f in tablet_page.frames if f != tablet_page.main_frame)
    assert frame.url.startswith("chrome-error://"), frame.url  # Chromium refused to show the app there

    base = seeded.server.url
    goto(tablet_page, base)  # the app's own page puts the app in a frame: allowed
    assert tablet_page.evaluate(_FRAME_IT, base + "/").startswith(base)
    tablet_page.frame_locator("iframe").last.get_by_text("Sign in").first.wait_for()
