"""Sign-in, sign-out, idle time-out and the access guard every page calls first.

Why every page guards itself: on a freshly started server Streamlit serves a file in pages/
by its URL before app.py has ever run, so a menu that hides a page protects nothing. Each page
therefore begins with `user = require_page("<page id>")`, which makes sure the database is
ready, signs the visitor in (or shows nothing but the sign-in form), checks the idle time and
the role against `ui.navigation.PAGES`, and stops the script otherwise. Writes check the role
again in db/ (db.permissions.authorize), so a page bug cannot bypass it either. The guard also
draws the open safety alerts of the user's scope (ui.alerts), so they are seen where staff land.
"""

from __future__ import annotations

import os
import time
from typing import Any

import streamlit as st
from streamlit.errors import StreamlitAPIException, StreamlitPageNotFoundError

from db import users
from db.connection import database_path, unit_of_work
from db.errors import StorageError
from db.integrity import hold_app_lock
from db.migrations import init_database
from ui.alerts import render_alert_banner
from ui.navigation import PAGES, may_open, pages_for_role
from ui.participant_mode import participant_mode_active

USER_KEY = "signed_in_user"
ACTIVITY_KEY = "last_activity"
FAILURES_KEY = "failed_sign_ins"
NOTICE_KEY = "sign_in_notice"
IDLE_ENV = "SCALEBOOK_IDLE_TIMEOUT_MINUTES"
DEFAULT_IDLE_MINUTES = 15.0


@st.cache_resource(show_spinner=False)
def _database_ready(path: str) -> int:
    """Create or migrate the database once per server process and path (which also checks the
    audit trail against its witness), and hold the app lock that `db restore` tests."""
    version = init_database(path)
    hold_app_lock(path)
    return version


def ensure_database() -> None:
    try:
        _database_ready(str(database_path()))
    except StorageError as exc:
        st.error(f"The database could not be opened: {exc}")
        st.stop()


def idle_timeout_seconds() -> float:
    """Minutes from SCALEBOOK_IDLE_TIMEOUT_MINUTES (default 15), as seconds."""
    raw = os.environ.get(IDLE_ENV, "")
    try:
        minutes = float(raw) if raw else DEFAULT_IDLE_MINUTES
    except ValueError:
        minutes = DEFAULT_IDLE_MINUTES
    return max(minutes, 0.05) * 60


def sign_in_delay(failed_attempts: int) -> float:
    """Seconds to wait before checking a password after `failed_attempts` failures in a row:
    nothing for the first, then 0.5, 1, 2, 4 s (capped). With the lock-out after five failures
    (db.users) this turns password guessing from thousands a minute into a handful."""
    if failed_attempts <= 0:
        return 0.0
    return min(0.5 * 2 ** (failed_attempts - 1), 4.0)


def is_idle(last_activity: float | None, now: float, timeout: float) -> bool:
    return last_activity is not None and now - last_activity > timeout


def touch() -> None:
    """Record user activity (called on every full run and by form callbacks)."""
    st.session_state[ACTIVITY_KEY] = time.time()


IDLE_NOTICE = "You were signed out after a period of inactivity. Please sign in again."


def current_user() -> dict[str, Any] | None:
    """The signed-in account, or None. Signs out first a session that is idle, or whose account
    no longer matches what it signed in as (deactivated, deleted, role or site changed, password
    reset): the account is re-read on every run (one read by primary key), so access ends when
    authority ends, not at the next sign-in."""
    user = st.session_state.get(USER_KEY)
    if user is None:
        return None
    if is_idle(st.session_state.get(ACTIVITY_KEY), time.time(), idle_timeout_seconds()):
        sign_out(notice=IDLE_NOTICE)
        return None
    with unit_of_work(write=False) as db:
        problem = users.session_mismatch(user, users.session_account(db, user.get("id")))
    if problem:
        sign_out(notice=problem)
        return None
    return user


def user_for_write() -> dict[str, Any] | None:
    """Call first in every widget callback that writes: the session's user when it is still
    signed in, not idle and matching its account, and then (only then) counted as activity; None
    after signing the session out. A tap that arrives after the idle time-out is therefore refused,
    not taken as activity that revives the session (the tap is not saved; the sign-in screen says
    why)."""
    user = current_user()
    if user is not None:
        touch()
    return user


def sign_out(notice: str | None = None) -> None:
    """Forget everything this browser session held (drafts are already in the database)."""
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    if notice:
        st.session_state[NOTICE_KEY] = notice


def _has_accounts() -> bool:
    with unit_of_work(write=False) as db:
        return users.has_users(db)


def render_first_run() -> None:
    """On a database without accounts, create the administrator, once."""
    st.title("Welcome to Scalebook")
    st.write("No accounts exist yet. Create the administrator account; it can then add sites and users.")
    with st.form("first_admin"):
        username = st.text_input("Administrator user name")
        password = st.text_input("Password", type="password", help=f"At least {users.MIN_PASSWORD_LENGTH} characters")
        repeat = st.text_input("Repeat the password", type="password")
        submitted = st.form_submit_button("Create administrator", type="primary")
    if not submitted:
        return
    if password != repeat:
        st.error("The two passwords differ; type the same password twice.")
        return
    try:
        with unit_of_work() as db:
            admin = users.create_first_admin(db, username, password)
    except StorageError as exc:
        st.error(str(exc))
        return
    st.session_state[NOTICE_KEY] = f"Administrator '{admin['username']}' created. Sign in to continue."
    st.rerun()


def render_sign_in() -> None:
    """The sign-in form (local accounts), with throttling and lock-out messages."""
    st.title("Scalebook")
    notice = st.session_state.pop(NOTICE_KEY, None)
    if notice:
        st.info(notice)
    with st.form("sign_in"):
        username = st.text_input("User name", autocomplete="username")
        password = st.text_input("Password", type="password", autocomplete="current-password")
        submitted = st.form_submit_button("Sign in", type="primary", use_container_width=True)
    if _oidc_configured():
        st.button("Sign in with your organisation", on_click=st.login)
    if not submitted:
        return
    if not username.strip() or not password:
        st.error("Enter your user name and password.")
        return
    failures = st.session_state.get(FAILURES_KEY, 0)
    time.sleep(sign_in_delay(failures))
    with unit_of_work(write=False) as db:
        locked_until = users.is_locked(db, username)
    if locked_until:
        st.error(f"This account is locked after repeated failed sign-ins until {locked_until} (UTC). "
                 "Try again later or ask an administrator to reset the password.")
        return
    with unit_of_work() as db:
        user = users.authenticate(db, username, password)
    if user is None:
        st.session_state[FAILURES_KEY] = failures + 1
        st.error("User name or password not recognised.")
        return
    _start_session(user)
    st.rerun()


def _start_session(user: dict[str, Any]) -> None:
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    st.session_state[USER_KEY] = {k: user.get(k) for k in users.SESSION_FIELDS}
    touch()


def _oidc_configured() -> bool:
    try:
        return "auth" in st.secrets
    except (FileNotFoundError, KeyError, AttributeError):
        return False
    except Exception:  # no secrets file at all
        return False


def _oidc_user() -> dict[str, Any] | None:
    """Map an OIDC identity (st.login) to an active local account whose user name is its e-mail."""
    if not _oidc_configured() or not getattr(st.user, "is_logged_in", False):
        return None
    email = st.user.get("email")
    if not email:
        return None
    with unit_of_work(write=False) as db:
        try:
            user = users.get_user(db, email)
        except StorageError:
            return None
    return user if user["active"] else None


def require_signed_in() -> dict[str, Any]:
    """Return the signed-in user, or draw the first-run / sign-in screen and stop.

    In participant mode (kiosk or link) no staff screen is drawn at all, not even sign-in. A page
    Streamlit served by its own URL, without app.py's routing (e.g. /self_report_start typed in
    before the hand-over), reruns itself after a kiosk hand-over: it sends the session on to
    the questionnaire, so the participant is not left on a dead end."""
    ensure_database()
    if participant_mode_active():
        try:
            st.switch_page("pages/self_report.py", query_params=st.query_params.to_dict())
        except StreamlitAPIException:  # app.py's navigation routes participants itself; this is a fallback
            pass
        st.warning("This screen is in participant mode. Please hand the tablet back to the study team.")
        st.stop()
    user = current_user()
    if user is None:
        oidc = _oidc_user()
        if oidc is not None:
            _start_session(oidc)
            return st.session_state[USER_KEY]
        if _has_accounts():
            render_sign_in()
        else:
            render_first_run()
        st.stop()
    touch()
    return user


def render_menu(user: dict[str, Any]) -> None:
    """The sidebar: who is signed in, the pages of their role, and sign-out. Drawn by every
    page's guard, so it is there even when a page was served without app.py."""
    with st.sidebar:
        st.caption(f"Signed in as **{user['username']}** ({user['role']})")
        section = None
        for spec in pages_for_role(user["role"]):
            if spec.section != section:
                section = spec.section
                st.caption(section.upper())
            try:
                st.page_link(spec.path, label=spec.title, icon=spec.icon)
            except StreamlitPageNotFoundError:
                # The page was started as its own entry point (AppTest): links relative to app.py
                # do not resolve there; sign-out below still works.
                pass
        if st.button("Sign out", icon=":material/logout:"):
            sign_out(notice="You have signed out.")
            st.rerun()


def require_page(page_id: str) -> dict[str, Any]:
    """The guard at the top of every page: signed in, not idle, and a role that may open it."""
    user = require_signed_in()
    alerts_in_menu = st.sidebar.container()  # the top of the menu, filled once the role is checked
    render_menu(user)
    if not may_open(user["role"], page_id):
        st.error(f"Your role ({user['role']}) does not give access to “{PAGES[page_id].title}”.")
        st.stop()
    render_alert_banner(user, page_id, alerts_in_menu)  # open safety alerts of the user's scope, every page
    idle_watch()
    return user


def idle_watch() -> None:
    """Re-check the idle time on a timer so an unattended tablet returns to the sign-in screen
    on its own (a full rerun only happens on a tap). The timer's own reruns are not activity."""
    interval = min(30.0, max(1.0, idle_timeout_seconds() / 3))
    st.fragment(run_every=interval)(_idle_check)()


def _idle_check() -> None:
    if st.session_state.get(USER_KEY) and is_idle(
        st.session_state.get(ACTIVITY_KEY), time.time(), idle_timeout_seconds()
    ):
        sign_out(notice=IDLE_NOTICE)
        st.rerun(scope="app")
