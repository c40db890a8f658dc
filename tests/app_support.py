"""Helpers for Streamlit AppTest page tests: an app signed in as a role (the seeded `app_world`
fixture lives in tests/conftest_db.py)."""

from __future__ import annotations

import re
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery"
ROLES = ("admin", "pi", "rater", "coordinator", "monitor")


def actor(account: dict) -> dict:
    """The session's copy of an account, as ui.session keeps it (it must match the stored account,
    password-change time included, or the session is signed out: issue 13 item 4)."""
    return {k: account.get(k) for k in ("id", "username", "role", "site_id", "password_changed_at")}


def app(script: str = "app.py", user: dict | None = None, query: dict | None = None) -> AppTest:
    """An AppTest of `script` (app.py or a file under pages/), signed in as `user` if given."""
    at = AppTest.from_file(str(ROOT / script), default_timeout=30)
    if user is not None:
        at.session_state["signed_in_user"] = actor(user)
        at.session_state["last_activity"] = time.time()
    for key, value in (query or {}).items():
        at.query_params[key] = value
    return at


def texts(at: AppTest) -> str:
    """Every piece of text the run drew, for assertions that do not care about the element type."""
    parts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success", "text"):
        parts.extend(str(e.value) for e in getattr(at, kind))
    return "\n".join(parts)


def texts_without_clock_times(at: AppTest) -> str:
    """The run's text with clock times (09:35) and dates removed, so an assertion that a number
    (a hidden dose or total) is absent does not fail at 09:35 or on the 22nd."""
    return re.sub(r"\b\d{1,2}:\d{2}(:\d{2})?\b|\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2} [A-Z][a-z]{2} \d{4}\b", "", texts(at))
