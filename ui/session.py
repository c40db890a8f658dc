"""Sign-in, sign-out, idle time-out and the access guard every page calls first.

Why every page guards itself: on a freshly started server Streamlit serves a file in pages/
by its URL before app.py has ever run, so a menu that hides a page protects nothing. Each page
therefore begins with `user = require_page("<page id>")`, which makes sure the database is
ready, signs the visitor in (or shows nothing but the sign-in form), checks the idle time and
the role against `ui.navigation.PAGES`, and stops the script otherwise. Writes check the role
again in db/ (db.permissions.authorize), so a page bug cannot bypass it either. The guard also
draws the open safety alerts of the user's scope (ui.alerts), so they are seen where staff land.

Two ways in. A password (db.signin_throttle.password_sign_in: input checks, the wait per account
name and client address, the process-wide bound on password checks, then db.users.authenticate
with its lock-out). Or, when `.streamlit/secrets.toml` has an `[auth]` section, single sign-on
through an OIDC provider (st.login): the identity must have a verified e-mail address that is an
active, unlocked account's user name (db.users.authenticate_identity, audited either way). A
session that came from single sign-on ends it too when it signs out or times out (st.logout), or
the provider's cookie would sign the browser straight back in. `oidc_identity` and
`oidc_logout` are the only places that touch st.user and st.logout, so tests replace them.
"""

from __future__ import annotations

import os
import time
from typing import Any

import streamlit as st
from streamlit.errors import StreamlitAPIException, StreamlitPageNotFoundError

from db import signin_throttle, users
from db.connection import database_path, unit_of_work
from db.errors import StorageError
from db.integrity import hold_app_lock
from db.migrations import init_database
from db.signin_throttle import sign_in_delay  # noqa: F401  (the delay curve, re-exported for callers of old)
from ui.alerts import render_alert_banner
from ui.demo_banner import render_demo_banner
from ui.navigation import PAGES, may_open, pages_for_role
from ui.text import md

USER_KEY = "signed_in_user"
ACTIVITY_KEY = "last_activity"
NOTICE_KEY = "sign_in_notice"
SOURCE_KEY = "sign_in_source"  # "password" or "oidc": how this session signed in
CHECKED_KEY = "session_checked_this_run"  # app.py's check of this run, for the page's guard
OIDC_REFUSAL_KEY = "oidc_refusal"  # the single sign-on identity refused in this session, and why
IDLE_ENV = "SCALEBOOK_IDLE_TIMEOUT_MINUTES"
DEFAULT_IDLE_MINUTES = 15.0

# Participant mode's marks on a browser session (ui.participant_mode draws that mode). They are
# defined here, below it, because the staff guard must recognise participant mode to draw nothing
# for staff, and ui.participant_mode builds on this module (sign-in, idle time-out), not the reverse.
KIOSK_KEY = "kiosk_session"
PARTICIPANT_KEY = "participant_actor"
TOKEN_PARAM = "token"
# Left in the address instead of the token: not a secret, it opens nothing. A phone browser that
# reloads a tab it had put to sleep then shows "open your link again", not the staff sign-in.
MARKER_PARAM = "questionnaire"
MARKER_VALUE = "continue"


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
        st.error(f"The database could not be opened: {md(exc)}")
        st.stop()


def participant_mode_active() -> bool:
    """True for a kiosk hand-over, a redeemed link, or a request that carries a link token (or
    the marker a redeemed link leaves in the address)."""
    return bool(
        st.session_state.get(KIOSK_KEY)
        or st.session_state.get(PARTICIPANT_KEY)
        or st.query_params.get(TOKEN_PARAM)
        or st.query_params.get(MARKER_PARAM) == MARKER_VALUE
    )


def idle_timeout_seconds() -> float:
    """Minutes from SCALEBOOK_IDLE_TIMEOUT_MINUTES (default 15), as seconds."""
    raw = os.environ.get(IDLE_ENV, "")
    try:
        minutes = float(raw) if raw else DEFAULT_IDLE_MINUTES
    except ValueError:
        minutes = DEFAULT_IDLE_MINUTES
    return max(minutes, 0.05) * 60


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
        # The provider's identity, if any, stays: the next run checks it against the account as
        # it is now (refused, and audited, when deactivated; a new session for a new role).
        sign_out(notice=problem, end_single_sign_on=False)
        return None
    return user


def check_user_for_this_run() -> dict[str, Any] | None:
    """app.py's check at the start of a full run (current_user), kept for the page's guard in the
    same run, so the account is read once per run, not twice (issue 16 item 9: each read is a
    new SQLite connection). Only app.py calls this, before `page.run()`; the guard takes the
    result back out (`require_signed_in`). Widget callbacks run before app.py and check for
    themselves (user_for_write)."""
    st.session_state.pop(CHECKED_KEY, None)
    user = current_user()
    if user is not None:
        st.session_state[CHECKED_KEY] = user
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


def sign_out(notice: str | None = None, *, end_single_sign_on: bool = True) -> None:
    """Forget everything this browser session held (drafts are already in the database).

    When the session came from single sign-on, or the browser holds a provider identity, this
    also ends that (`oidc_logout`: the identity cookie goes and the browser is sent through the
    provider's logout), so signing out and the idle time-out really end the session instead of
    the next run signing straight back in. The redirect starts a new browser session, so the
    notice is not shown after it."""
    via_oidc = st.session_state.get(SOURCE_KEY) == "oidc"
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    if notice:
        st.session_state[NOTICE_KEY] = notice
    if end_single_sign_on and (via_oidc or oidc_identity() is not None):
        oidc_logout()


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
    """The sign-in form (local accounts) and, when configured, single sign-on. A refused
    single sign-on identity is explained here, with a way to sign out of it."""
    st.title("Scalebook")
    notice = st.session_state.pop(NOTICE_KEY, None)
    if notice:
        st.info(md(notice))
    refusal = st.session_state.get(OIDC_REFUSAL_KEY)
    if refusal:
        st.error(md(refusal["message"]))
    with st.form("sign_in"):
        username = st.text_input("User name", autocomplete="username")
        password = st.text_input("Password", type="password", autocomplete="current-password")
        submitted = st.form_submit_button("Sign in", type="primary", use_container_width=True)
    if refusal:
        st.button("Sign out of your organisation account", on_click=oidc_logout)
    elif _oidc_configured():
        st.button("Sign in with your organisation", on_click=st.login)
    if not submitted:
        return
    result = signin_throttle.password_sign_in(username, password, client_address())
    if result.user is None:
        st.error(md(result.message))
        return
    start_session(result.user, source="password")
    st.rerun()


def client_address() -> str | None:
    """The client's IP address as Streamlit sees the connection (st.context.ip_address), for the
    wait per address; None when unknown: a loopback peer (local use, or a reverse proxy on this
    machine), or no browser connection at all (AppTest)."""
    try:
        return st.context.ip_address
    except Exception:  # no connection context
        return None


def start_session(user: dict[str, Any], source: str) -> None:
    """Sign this browser session in as `user`, an account that db.signin_throttle.password_sign_in
    or db.users.authenticate_identity has just let in (`source` "password" or "oidc"): everything
    the session held before is forgotten, so nothing of a previous user or participant remains."""
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    st.session_state[USER_KEY] = {k: user.get(k) for k in users.SESSION_FIELDS}
    st.session_state[SOURCE_KEY] = source
    touch()


def _oidc_configured() -> bool:
    try:
        return "auth" in st.secrets
    except (FileNotFoundError, KeyError, AttributeError):
        return False
    except Exception:  # no secrets file at all
        return False


def oidc_identity() -> dict[str, Any] | None:
    """The identity the OIDC provider vouched for in this browser session (st.user, as a plain
    dict with "email", "email_verified", "iss", ...), or None when single sign-on is not
    configured or nobody signed in through it. The one place that reads st.user."""
    if not _oidc_configured():
        return None
    try:
        if not st.user.is_logged_in:
            return None
        return dict(st.user.to_dict())
    except Exception:  # no user information in this context
        return None


def oidc_logout() -> None:
    """End the single sign-on identity of this browser (st.logout: the identity cookie goes and
    the browser goes through the provider's logout, back to a new session). The one place that
    calls st.logout."""
    st.logout()


def _single_sign_on() -> dict[str, Any] | None:
    """Sign this session in with the provider's identity, if there is one and its account may
    enter (db.users.authenticate_identity, which audits the attempt); else None. A refusal is
    remembered for this identity in this session, so it is audited once, not at every rerun, and
    the sign-in screen says why."""
    identity = oidc_identity()
    if identity is None:
        st.session_state.pop(OIDC_REFUSAL_KEY, None)
        return None
    marker = "|".join(str(identity.get(k)) for k in ("iss", "sub", "email"))
    refused = st.session_state.get(OIDC_REFUSAL_KEY)
    if refused and refused["identity"] == marker:
        return None
    try:
        with unit_of_work() as db:
            account, refusal = users.authenticate_identity(db, identity)
    except StorageError as exc:
        st.error(f"Single sign-on could not be checked: {md(exc)}. Reload the page in a moment.")
        return None
    if account is None:
        st.session_state[OIDC_REFUSAL_KEY] = {"identity": marker, "message": refusal}
        return None
    start_session(account, source="oidc")
    return st.session_state[USER_KEY]


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
    # The check app.py made at the start of this run, else (a page run on its own) one now.
    user = st.session_state.pop(CHECKED_KEY, None) or current_user()
    if user is None:
        user = _single_sign_on()
        if user is not None:
            return user
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
        st.caption(f"Signed in as **{md(user['username'])}** ({user['role']})")
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
    render_demo_banner()  # "synthetic demo data" on every page of a demo database, sign-in included
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
