"""Issue 13 item 14 (a, b): the app cannot be framed by another origin, and Streamlit's metrics
endpoint is not public.

The route taken (ui/server.py): Streamlit 1.67's public `st.App(script, middleware=[...])`, which
`streamlit run app.py` finds in app.py and serves. These tests start the real server with
`streamlit run app.py` (tests/browser.py `running_app`, no browser) and read its responses over
HTTP; the middleware's own rules (a base URL path, headers a response already has) are checked
on a stand-in ASGI app.
"""

from __future__ import annotations

import asyncio
import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.browser import running_app
from ui import server

ROOT = Path(__file__).resolve().parent.parent
EXPECTED = {
    "content-security-policy": "frame-ancestors 'self'",
    "x-frame-options": "SAMEORIGIN",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def get(url: str) -> tuple[int, dict[str, str], bytes]:
    """Status, headers (names in lower case) and body of a GET (an error status is a result here,
    not an exception)."""
    try:
        with _OPENER.open(url, timeout=30) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    with running_app(tmp_path_factory.mktemp("headers") / "scalebook.db") as running:
        yield running.url


def test_streamlit_run_app_py_serves_the_app_behind_scalebooks_middleware():
    """`make run` is still `streamlit run app.py`: Streamlit finds the ASGI app in app.py."""
    from streamlit.web.server.app_discovery import discover_asgi_app

    found = discover_asgi_app(ROOT / "app.py")
    assert (found.is_asgi_app, found.import_string) == (True, "app:app")


def test_every_response_forbids_framing_by_another_origin(app_url):
    status, headers, page = get(app_url + "/")
    assert status == 200 and b"<html" in page.lower()
    asset = re.search(rb'src="\.?/?(static/js/[^"]+\.js)"', page)
    assert asset, page[:500]
    for path in (
        "/",
        "/" + asset.group(1).decode(),
        "/_stcore/health",
        "/_stcore/host-config",
        "/rate",
        "/no-such-page",
    ):
        status, headers, _ = get(app_url + path)
        assert status == 200, (path, status)  # unknown paths get the app, which shows its own "not found"
        assert {k: headers.get(k) for k in EXPECTED} == EXPECTED, (path, headers)


@pytest.mark.parametrize(
    "path",
    [
        "/_stcore/metrics",
        "/_stcore/metrics/",
        "/_stcore/metrics?families=session_events",
        "/_stcore/metrics?families=cache_memory_bytes",
    ],
)
def test_the_metrics_endpoint_is_not_served(app_url, path):
    status, headers, body = get(app_url + path)
    assert status == 404 and b"session_events" not in body and b"cache_memory" not in body, (path, status, body[:200])
    assert headers.get("x-frame-options") == "SAMEORIGIN"
    # A doubled slash is not the metrics route: the app's page answers it (no metrics in it).
    assert b"session_events" not in get(app_url + path.replace("/metrics", "//metrics"))[2]


def test_the_health_check_stays_open_for_a_proxy_or_monitor(app_url):
    assert get(app_url + "/_stcore/health")[::2] == (200, b"ok")


# --------------------------------------------------------------------------- the middleware's rules


def _through_middleware(path: str, headers: list[tuple[bytes, bytes]] | None = None) -> tuple[int, dict, bool]:
    """Run one HTTP request for `path` through SecurityHeaders around a stand-in app; return the
    status, the response headers and whether the stand-in app was reached."""
    reached = []
    sent = []

    async def inner(scope, receive, send):
        reached.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": list(headers or [])})
        await send({"type": "http.response.body", "body": b"app"})

    async def receive():
        return {"type": "http.request", "body": b""}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "path": path, "method": "GET", "headers": []}
    asyncio.run(server.SecurityHeaders(inner)(scope, receive, send))
    start = sent[0]
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, bool(reached)


def test_metrics_are_closed_under_a_base_url_path_too():
    assert _through_middleware("/scalebook/_stcore/metrics")[::2] == (404, False)
    assert _through_middleware("/scalebook/_stcore/health")[::2] == (200, True)
    assert _through_middleware("/_stcore/metricsx")[::2] == (200, True)


def test_a_header_the_response_already_has_is_kept():
    status, headers, _ = _through_middleware("/", [(b"x-frame-options", b"DENY")])
    assert headers["x-frame-options"] == "DENY" and headers["content-security-policy"] == "frame-ancestors 'self'"


def test_websocket_and_lifespan_pass_untouched():
    seen = []

    async def inner(scope, receive, send):
        seen.append(scope["type"])

    for kind in ("websocket", "lifespan"):
        asyncio.run(server.SecurityHeaders(inner)({"type": kind, "path": "/_stcore/metrics"}, None, None))
    assert seen == ["websocket", "lifespan"]
