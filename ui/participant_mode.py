"""Participant mode: the browser session belongs to a participant answering a questionnaire,
either on a staff tablet handed over (kiosk) or through a one-time link on their own phone.

While it is active nothing but the questionnaire is reachable: app.py routes every request
to pages/self_report.py, and the staff guard (ui.session.require_page) refuses every staff page,
even one opened by URL.

One code path for both channels: a link's token arrives in the address (?token=...); the kiosk
page (pages/self_report_start.py) mints a short-lived link for the chosen questionnaires and
hands its token to `begin_kiosk`, which redeems it at once. Either way the session then holds
only the participant actor that db.tokens.redeem_token returned (whose every use the database
checks again), and the token leaves the address bar at once (replaced by a marker that opens
nothing: ?questionnaire=continue), so a reload or a screenshot does not leak it. Once the
participant's first tap has taken the link for this browser, ui.self_report adds that browser's
holder secret to the address (db.tokens: one holder at a time, issue 13 item 6), so a reload
continues there, while the token itself no longer opens for any other browser.

Kiosk: starting the hand-over forgets the staff sign-in (the session keeps the staff member's
id and user name for the record, never on screen). Leaving participant mode takes a staff user
name and password, typed in full: the exit form offers no name, so a participant holding the
tablet learns no staff user name from it (`leave_kiosk`: the same checks, waits and lock-out as
the sign-in screen, db.signin_throttle.password_sign_in). The participant never acts as staff.
A reload of the tablet starts a new, empty session, which shows the staff sign-in: leaving
still takes a password. Once the password is checked, the staff member is told which safety
items (if any) the participant answered during the hand-over (ui.alerts.remember_handback); the
participant never sees it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import streamlit as st
from streamlit.errors import StreamlitAPIException

from db import tokens
from db.connection import unit_of_work
from db.errors import StorageError
from db.signin_throttle import password_sign_in
from selfreport.strings import text
from ui.alerts import remember_handback
from ui.navigation import pages_for_role
from ui.session import (  # the session marks of participant mode live there, below this module
    KIOSK_KEY,
    MARKER_PARAM,
    MARKER_VALUE,
    PARTICIPANT_KEY,
    TOKEN_PARAM,
    USER_KEY,
    client_address,
    ensure_database,
    idle_timeout_seconds,
    is_idle,
    start_session,
)
from ui.text import md

FLOW_PREFIX = "sr_"  # session keys of the questionnaire screens (ui.self_report)
# The participant's last tap (not under FLOW_PREFIX: it outlives the flow's reset). A kiosk or link
# session left alone for the idle time-out (ui.session.idle_timeout_seconds) ends like a staff one.
PARTICIPANT_ACTIVITY_KEY = "participant_last_activity"

PARTICIPANT_CSS = """
<style>
/* Participant mode: no menu, no sidebar, no toolbar; large type; strong contrast (WCAG AA or better). */
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], [data-testid="stSidebarNav"],
header[data-testid="stHeader"], [data-testid="stToolbar"], [data-testid="stDecoration"],
[data-testid="stMainMenu"], [data-testid="stStatusWidget"] { display: none !important; }
html { font-size: 20px; }
.stApp { background: #ffffff; }
.stApp p, .stApp li, .stApp label, .stApp h1, .stApp h2, .stApp h3, .stApp h4 { color: #111111; overflow-wrap: anywhere; }
.block-container, [data-testid="stMainBlockContainer"] {
  padding: 1rem 0.75rem 3rem 0.75rem !important; max-width: 44rem;
}
/* Streamlit greys captions with opacity: too faint for older eyes. */
[data-testid="stCaptionContainer"], [data-testid="stRadioCaption"] { opacity: 1 !important; }
[data-testid="stCaptionContainer"] p { color: #333333 !important; }
/* The question is the radio group's own label (read out with the answers by screen readers). */
div[data-testid="stRadio"] [data-testid="stWidgetLabel"] p { font-size: 1.3rem; font-weight: 600; line-height: 1.4; }
/* Each answer is a large box; the whole box (caption included) is the tap target. */
div[data-testid="stRadioGroup"] { gap: 0.5rem; width: 100%; }
div[data-testid="stRadioGroup"] > div {
  position: relative; box-sizing: border-box; width: 100%; min-height: 56px; padding: 10px 12px;
  border: 2px solid #4a4a4a; border-radius: 10px; background: #ffffff;
  display: flex; flex-direction: column; justify-content: center;
}
div[data-testid="stRadioGroup"] > div:has(label[data-selected="true"]) { border: 3px solid #0b3d91; background: #e3ecfa; }
div[data-testid="stRadioGroup"] > div:has(label[data-focus-visible="true"]) { outline: 3px solid #b34700; outline-offset: 2px; }
label[data-testid="stRadioOption"] { position: static !important; width: 100%; cursor: pointer; }
label[data-testid="stRadioOption"]::after { content: ""; position: absolute; inset: 0; }
label[data-testid="stRadioOption"] p { font-size: 1.05rem; }
label[data-testid="stRadioOption"] > div > div:first-child { border: 2px solid #4a4a4a !important; }
label[data-testid="stRadioOption"][data-selected="true"] > div > div:first-child {
  background-color: #0b3d91 !important; border-color: #0b3d91 !important;
}
.stApp button:focus-visible, .stApp input:focus-visible { outline: 3px solid #b34700 !important; outline-offset: 2px; }
.stApp button { min-height: 52px; min-width: 52px; }
.stApp button p { font-size: 1.05rem; }
.stApp button[kind="primary"], .stApp button[data-testid="stBaseButton-primary"],
.stApp button[data-testid="stBaseButton-primaryFormSubmit"] {
  background: #0b3d91; border-color: #0b3d91; color: #ffffff;
}
.stApp button[kind="primary"] p, .stApp button[data-testid="stBaseButton-primary"] p,
.stApp button[data-testid="stBaseButton-primaryFormSubmit"] p { color: #ffffff; }
.stApp button[data-testid="stBaseButton-secondary"], .stApp button[data-testid="stBaseButton-tertiary"] {
  border: 2px solid #4a4a4a; color: #111111; background: #ffffff;
}
.stApp button:disabled { background: #e6e6e6 !important; border-color: #8a8a8a !important; }
.stApp button:disabled p { color: #4d4d4d !important; }
[data-testid="stProgressBarTrack"] { background: #e6e6e6; }
[data-testid="stProgressBarTrack"] > div { background-color: #0b3d91 !important; }
</style>
"""


def kiosk() -> dict[str, Any] | None:
    """The kiosk hand-over of this session ({staff_username, staff_id, token_id}), if any."""
    return st.session_state.get(KIOSK_KEY) or None


def apply_participant_style() -> None:
    st.html(PARTICIPANT_CSS)


def show_refusal(reason: str) -> None:
    """One short, friendly sentence for a link that opens nothing, and nothing else."""
    apply_participant_style()
    key = {
        "invalid": "link_invalid",
        "revoked": "link_revoked",
        "expired": "link_expired",
        "used": "link_used",
        "closed": "link_closed",
        "held": "link_held",
    }.get(reason, "link_invalid")
    st.markdown(f"#### {text(key)}")


def _forget_flow() -> None:
    for key in [k for k in st.session_state.keys() if str(k).startswith(FLOW_PREFIX)]:
        del st.session_state[key]


def participant_touch() -> None:
    st.session_state[PARTICIPANT_ACTIVITY_KEY] = time.time()


def end_idle_participant() -> bool:
    """If this participant session has been idle longer than the idle time-out, forget its actor
    and questionnaire screens (every answer is already saved) and return True. Called before any
    participant write (ui.self_report) and on every participant page run, so a tap after the
    time-out is refused rather than reviving the session. A kiosk then shows the staff exit; a
    link asks the participant to open it again."""
    if st.session_state.get(PARTICIPANT_KEY) is None:
        return False
    if not is_idle(st.session_state.get(PARTICIPANT_ACTIVITY_KEY), time.time(), idle_timeout_seconds()):
        return False
    st.session_state.pop(PARTICIPANT_KEY, None)
    _forget_flow()
    return True


def begin_kiosk(staff: dict[str, Any], raw_token: str) -> Mapping[str, Any]:
    """Hand this browser session to the participant: redeem the kiosk link just made, forget the
    staff sign-in (keeping only the user name, to offer at the exit) and return the actor."""
    with unit_of_work() as db:
        actor = tokens.redeem_token(db, raw_token)
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    st.session_state[KIOSK_KEY] = {
        "staff_username": staff["username"],
        "staff_id": staff["id"],
        "token_id": actor["token_id"],
    }
    st.session_state[PARTICIPANT_KEY] = actor
    participant_touch()
    st.query_params.clear()
    return actor


def require_participant_session() -> Mapping[str, Any]:
    """The guard at the top of the participant page: return the participant actor of this
    session, redeeming a link token from the address first; otherwise show one friendly
    sentence (or the kiosk's end screen) and stop. Never draws anything for staff."""
    ensure_database()
    staff = st.session_state.get(USER_KEY)
    if staff and not st.session_state.get(PARTICIPANT_KEY) and not st.query_params.get(TOKEN_PARAM):
        # Participant mode was just left on a page Streamlit served by its own URL (not routed by
        # app.py): take the staff member to their landing page instead of a participant screen.
        landing = pages_for_role(staff["role"])
        try:
            if landing:
                st.switch_page(landing[0].path)
        except StreamlitAPIException:
            pass
    raw = st.query_params.get(TOKEN_PARAM)
    if raw and not kiosk():
        try:
            with unit_of_work() as db:
                actor = tokens.redeem_token(db, raw)
        except tokens.LinkRefused as exc:
            st.session_state.pop(PARTICIPANT_KEY, None)
            show_refusal(exc.reason)
            st.stop()
        except StorageError:
            apply_participant_style()
            st.markdown(f"#### {text('busy')}")
            st.stop()
        _forget_flow()
        st.session_state[PARTICIPANT_KEY] = actor
        participant_touch()
        st.query_params.clear()  # the token leaves the address bar once used
        st.query_params[MARKER_PARAM] = MARKER_VALUE
        return actor
    if raw:  # a kiosk session never takes another link
        st.query_params.clear()
    end_idle_participant()
    held = st.session_state.get(PARTICIPANT_KEY)
    if held is None:
        show_refusal("closed")
        if kiosk():
            render_staff_exit()
        st.stop()
    participant_touch()
    return held


def leave_kiosk(username: str, password: str) -> str | None:
    """End participant mode with a staff member's user name and password: on success the
    session is signed in as that account (and the kiosk link, if still open, is withdrawn;
    every answer stays saved) and None is returned; otherwise the message to show. The check is
    the sign-in screen's (db.signin_throttle.password_sign_in): the wait grows per account and
    per address, not per tablet session, and a locked account gets the same message as a wrong
    password."""
    result = password_sign_in(username, password, client_address())
    staff = result.user
    if staff is None:
        if result.problem == "wait":
            return text("staff_wait", seconds=result.wait_seconds)
        return {"missing": text("staff_missing"), "busy": text("busy"), "input": result.message}.get(
            result.problem or "", text("staff_wrong")
        )
    hand_over = kiosk() or {}
    token_id = hand_over.get("token_id")
    if token_id is not None:
        try:
            with unit_of_work() as db:
                if tokens.token_state(tokens.get_token(db, token_id)) == "active":
                    tokens.revoke_token(db, staff, token_id, reason="kiosk session ended by the study team")
        except StorageError:
            pass  # e.g. a role that may not manage links: the kiosk link expires on its own within hours
    start_session(staff, source="password")  # the sign-in screen's own step: nothing of the participant stays
    remember_handback(token_id)  # tell the staff member about any safety item answered meanwhile
    return None


def render_staff_exit() -> None:
    """The kiosk's way out, for the study team: a small button that opens a user name and
    password form, both empty (issue 13 item 12: a pre-filled name would show a participant a
    staff user name, half of what leaving takes). Nothing else about staff is shown."""
    hand_over = kiosk()
    if not hand_over:
        return
    st.divider()
    if not st.session_state.get("sr_exit_open"):
        if st.button(text("staff_exit"), key="sr_exit_button", type="tertiary"):
            st.session_state["sr_exit_open"] = True
            st.rerun()
        return
    with st.form("sr_exit_form"):
        st.markdown(text("staff_exit_intro"))
        username = st.text_input(text("staff_username"), autocomplete="off")
        password = st.text_input(text("staff_password"), type="password", autocomplete="off")
        submitted = st.form_submit_button(text("staff_unlock"), type="primary")
    if st.button(text("staff_cancel"), key="sr_exit_cancel"):
        st.session_state["sr_exit_open"] = False
        st.rerun()
    if submitted:
        problem = leave_kiosk(username, password)
        if problem is None:
            st.rerun()
        st.error(md(problem))  # a sign-in refusal may repeat what was typed: shown as text
