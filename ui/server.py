"""The web server around the app: Scalebook's headers on every response, and Streamlit's internal
metrics endpoint closed.

Streamlit 1.67 serves every app with Starlette, and its one public way to change that server is
`st.App(script, middleware=[...])`, an ASGI app whose middleware runs before Streamlit's own on
every request. `streamlit run app.py` finds `app = st.App(...)` in app.py and serves it with
uvicorn, with the same command line, `.streamlit/config.toml` and flags as before; every session
then runs app.py as the script (see app.py). No config option adds response headers or turns the
metrics endpoint off (checked in the installed 1.67: `server.*` options and
`web/server/starlette/starlette_app.py`).

Headers added to every HTTP response (pages, scripts, media, downloads, health checks):

- `Content-Security-Policy: frame-ancestors 'self'` and `X-Frame-Options: SAMEORIGIN`: no page
  of another origin can show Scalebook in a frame, so nobody can overlay a rater's or a
  participant's taps with a page of their own ("clickjacking"); the second header is for browsers
  that predate frame-ancestors;
- `X-Content-Type-Options: nosniff`: a browser never runs a download or an upload as a script;
- `Referrer-Policy: no-referrer`: a participant's one-time link (its token is in the address)
  is never sent to another site in a Referer header.

`/_stcore/metrics` answers 404 Not Found: it tells anyone who asks how many sessions are open and
how much memory the caches hold (and, where configured, who is signed in); a clinic server has no
use for it. `/_stcore/health` stays open for a reverse proxy's or a monitor's health check.

deploy/reverse-proxy.md shows the reverse proxy (TLS) in front of the app: it passes these headers
through, and may set the same headers itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The headers every HTTP response carries (lower-case names, as ASGI sends them).
SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("content-security-policy", "frame-ancestors 'self'"),
    ("x-frame-options", "SAMEORIGIN"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
)
#: Paths (after any server.baseUrlPath) that answer 404 whatever the request.
CLOSED_PATHS: tuple[str, ...] = ("_stcore/metrics",)

_ENCODED = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in SECURITY_HEADERS]


def closed(path: str) -> bool:
    """Whether a request path (as ASGI gives it: decoded, with any base URL path in front) is one
    of CLOSED_PATHS, with or without a trailing slash."""
    stripped = path.rstrip("/")
    return any(stripped == f"/{p}" or stripped.endswith(f"/{p}") for p in CLOSED_PATHS)


class SecurityHeaders:
    """ASGI middleware: adds SECURITY_HEADERS to every HTTP response (a header the response
    already has is kept as it is) and answers CLOSED_PATHS with 404. WebSocket and lifespan
    messages pass untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in _ENCODED if name not in present]
                message["headers"] = headers
            await send(message)

        if closed(scope.get("path", "")):
            body = b"Not found"
            await send_with_headers(
                {
                    "type": "http.response.start",
                    "status": 404,
                    "headers": [
                        (b"content-type", b"text/plain; charset=utf-8"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send_with_headers({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send_with_headers)


def middleware() -> list:
    """The middleware of the ASGI app that app.py gives `streamlit run` (`st.App(..., middleware=)`)."""
    from starlette.middleware import Middleware

    return [Middleware(SecurityHeaders)]
