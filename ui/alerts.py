"""Safety alerts where staff look: next to the item on the form, a banner on every staff page,
the hand-back notice after a kiosk session, and the truth about who was alerted.

- `render_item_alerts`: on the clinician form, inside the item that fired the rule, the moment
  the answer is saved (the alert itself is raised in db.assessments.save_draft_response); a
  corrected answer shows the resolution instead.
- `render_alert_banner`: drawn by the page guard (ui.session.require_page) on every staff page:
  the open alerts of the user's scope (their site; every site for staff without a site), as a
  count and a list with links to act on them, at the top of the page the role lands on and at
  the top of the menu on every other page (so a form never jumps when an alert appears).
- `remember_handback` / the banner: after a kiosk hand-back, the staff member who unlocks the
  tablet is told which safety item the participant answered. Computed only after the staff
  password was checked, so the participant never sees it.
- `who_was_alerted`: whom the alert reaches, from the users table (active PI accounts covering
  the site) and from the e-mail settings and recorded attempts (notify/), never a blanket
  "the PI has been alerted".

The sentences built here are plain text (user names, e-mail addresses, a mail server's error,
participant codes); they are escaped (ui.text.md) where they are drawn, never read as Markdown.

After every save that may raise an alert, `after_save` hands pending e-mails to a background
thread (notify.dispatch), so a tap never waits for a mail server.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError

from db import alerts as alert_store
from db import clock
from db.connection import unit_of_work
from db.errors import StorageError
from notify import dispatch
from notify.email import EmailSettings, describe_item, load_settings
from protocol.keys import timepoint_label
from scales import get_scale
from scales.errors import ScaleError
from ui.navigation import STAFF, may_open, pages_for_role
from ui.study import current_protocol
from ui.text import md
from ui.timefmt import local_time

HANDBACK_KEY = "handback_safety_notice"
HANDBACK_SCROLL_KEY = "handback_safety_notice_new"

_SCROLL_JS = """<script>
(() => {
  let tries = 0;
  const go = () => {
    const target = document.querySelector(".st-key-%s");
    if (target) { target.scrollIntoView({block: "nearest", behavior: "instant"}); return; }
    if (++tries < 40) { setTimeout(go, 50); }
  };
  setTimeout(go, 0);
})();
</script>"""


def scroll_into_view(key: str) -> None:
    """Bring the element with Streamlit key `key` into view (once, in the run that draws it): a
    message appears where the eye is, not below the fold. `key` is one of this app's own keys
    (letters, digits, '-', '_'), never user input."""
    if not re.fullmatch(r"[A-Za-z0-9_-]+", key):
        raise ValueError(f"not a widget key this helper may scroll to: {key!r}")
    st.html(_SCROLL_JS % key, unsafe_allow_javascript=True, width="content")


def notification_settings() -> EmailSettings:
    """The e-mail settings ([notifications] in .streamlit/secrets.toml); off by default."""
    return load_settings()


def after_save() -> None:
    """Send the e-mail of any alert just raised, in the background (nothing when e-mail is off)."""
    settings = notification_settings()
    if not settings.enabled:
        return
    protocol = current_protocol()
    dispatch.dispatch_pending(settings=settings, timepoint_label=lambda tp: timepoint_label(protocol, tp))


# --------------------------------------------------------------------------- words


def _pi_sentence(alert: Mapping[str, Any], audience: Mapping[str, Any]) -> str:
    site = audience.get("site_code") or alert.get("site_code")
    if audience.get("pis"):
        return f"Recorded as an open safety alert for the PI(s) of site {site}: {', '.join(audience['pis'])}."
    return (
        f"Recorded as an open safety alert for site {site}, but no active PI account covers this site: "
        f"tell the PI yourself now."
    )


def email_sentence(
    alert: Mapping[str, Any], audience: Mapping[str, Any], attempts: list[Mapping[str, Any]], settings: EmailSettings
) -> str:
    """What happened to the alert's e-mail, from the settings and the recorded attempts."""
    sent = [a["recipient"] for a in attempts if a["status"] == "sent"]
    failed = [a for a in attempts if a["status"] == "failed"]
    parts = []
    if sent:
        parts.append(f"E-mail sent to {', '.join(sent)}.")
    for attempt in failed:
        parts.append(
            f"E-mail to {attempt['recipient']} failed ({attempt['error'] or 'no reason given'}); "
            f"the alert is recorded here all the same."
        )
    if parts:
        return " ".join(parts)
    if settings.problem:
        return f"E-mail notification is not working: {settings.problem}."
    if not settings.enabled:
        return "E-mail notification is off."
    recipients = settings.recipients(audience.get("site_code"), audience.get("pi_emails", ()))
    if not recipients:
        return (
            f"E-mail notification is on, but site {audience.get('site_code')} has no e-mail recipient (a PI "
            f"account named by e-mail address, or a contact in the settings)."
        )
    window_start = clock.utc_after(clock.utc_now(), hours=-dispatch.WINDOW_HOURS)
    if alert["created_at"] < window_start:
        return "No e-mail was sent for this alert (e-mail notification was off or not set up when it was raised)."
    return f"E-mail to {', '.join(recipients)} is being sent."


def who_was_alerted(
    alert: Mapping[str, Any], audience: Mapping[str, Any], attempts: list[Mapping[str, Any]], settings: EmailSettings
) -> str:
    """e.g. "Recorded as an open safety alert for the PI(s) of site LON: pi@x. E-mail sent to pi@x." """
    return f"{_pi_sentence(alert, audience)} {email_sentence(alert, audience, attempts, settings)}"


def load_context(db, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """What the words about these alerts need, read in the caller's unit of work: each site's
    audience and each alert's e-mail attempts."""
    audiences = {site: alert_store.alert_audience(db, site) for site in {r["site_id"] for r in rows}}
    return {"audiences": audiences, "attempts": alert_store.notifications_for(db, [r["id"] for r in rows])}


def _who(alert: Mapping[str, Any], context: Mapping[str, Any], settings: EmailSettings) -> str:
    return who_was_alerted(
        alert, context["audiences"][alert["site_id"]], context["attempts"].get(alert["id"], []), settings
    )


# --------------------------------------------------------------------------- on the form


def render_item_alerts(rows: Sequence[Mapping[str, Any]], context: Mapping[str, Any], timezone: Any) -> None:
    """The alerts of one item, drawn inside the item: open ones as an error with whom they
    reach, resolved and acknowledged ones as what happened to them."""
    settings = notification_settings()
    for alert in rows:
        if alert["acknowledged_at"] is not None:
            st.success(
                md(
                    f"Safety alert acknowledged by {alert['acknowledged_by_name']} at "
                    f"{local_time(alert['acknowledged_at'], timezone)}."
                ),
                icon=":material/task_alt:",
            )
        elif alert["resolved_at"] is not None:
            st.info(
                "**Safety alert resolved** "
                + md(
                    f"at {local_time(alert['resolved_at'], timezone)} by {alert['resolved_by']}: {alert['resolution']}. "
                    "The alert stays in the record with its history."
                ),
                icon=":material/history:",
            )
        else:
            st.error(
                "**Safety alert** — " + md(f"{alert['message']} {_who(alert, context, settings)}"),
                icon=":material/emergency:",
            )


def render_result_alerts(assessment_id: int, stored: Mapping[str, Any]) -> None:
    """The safety alerts of a submitted assessment with whom they reached; without stored alert
    rows (an older database) the stored flags, without claims about who was told."""
    try:
        with unit_of_work(write=False) as db:
            rows = alert_store.list_alerts(db, open_only=False, assessment_id=assessment_id)
            context = load_context(db, rows)
    except StorageError:
        rows, context = [], {}
    settings = notification_settings()
    by_rule = {r["rule_id"]: r for r in rows}
    protocol = current_protocol()
    for flag in stored["flags"]:
        if flag["kind"] != "safety":
            continue
        alert = by_rule.get(flag["id"])
        if alert is None:
            st.error("**Safety alert** — " + md(flag["message"]), icon=":material/emergency:")
        elif alert["acknowledged_at"] is not None:
            st.error(
                "**Safety alert** — "
                + md(
                    f"{flag['message']} Acknowledged by {alert['acknowledged_by_name']} "
                    f"at {local_time(alert['acknowledged_at'], protocol.timezone)}."
                ),
                icon=":material/emergency:",
            )
        else:
            st.error(
                "**Safety alert** — " + md(f"{flag['message']} {_who(alert, context, settings)}"),
                icon=":material/emergency:",
            )


# --------------------------------------------------------------------------- the staff banner


def _item_words(alert: Mapping[str, Any]) -> tuple[str, str]:
    scale, item = describe_item(alert["scale_id"], alert.get("item_id"))
    abbreviation = scale.split(" — ")[0]
    value = f" = {alert['item_value']}" if alert.get("item_value") is not None else ""
    return abbreviation, f"{item}{value}"


def _state(alert: Mapping[str, Any]) -> str:
    if alert["assessment_status"] == "draft":
        return "draft: not yet submitted"
    return f"submitted ({alert['assessment_status']})"


def remember_handback(token_id: int | None) -> None:
    """After a kiosk hand-back (the staff password already checked): remember, for this staff
    session, the safety items the participant answered, to show until the staff member has
    acted on the notice."""
    if token_id is None:
        return
    try:
        with unit_of_work(write=False) as db:
            rows = alert_store.alerts_for_link(db, token_id)
            context = load_context(db, rows)
    except StorageError:
        return
    if not rows:
        return
    settings = notification_settings()
    notices = []
    for alert in rows:
        abbreviation, item = _item_words(alert)
        answer = ""
        try:
            definition = get_scale(alert["scale_id"])
            option = next(
                (o for o in definition.item_by_id[alert["item_id"]].options if o["value"] == alert["item_value"]), None
            )
            answer = f" (“{option['label']}”)" if option else ""
        except (ScaleError, KeyError):
            pass
        notices.append(
            {
                "alert_id": alert["id"],
                "participant": alert["participant_code"],
                "scale": abbreviation,
                "item": item + answer,
                "message": alert["message"],
                "resolved": alert["resolved_at"] is not None,
                "resolution": alert["resolution"],
                "who": _who(alert, context, settings),
            }
        )
    st.session_state[HANDBACK_KEY] = notices
    st.session_state[HANDBACK_SCROLL_KEY] = True


def _dismiss_handback() -> None:
    st.session_state.pop(HANDBACK_KEY, None)
    st.session_state.pop(HANDBACK_SCROLL_KEY, None)


def render_handback_notice() -> None:
    notices = st.session_state.get(HANDBACK_KEY)
    if not notices:
        return
    with st.container(border=True, key="handback-notice"):
        for n in notices:
            said = f"**While the tablet was with the participant, {md(n['participant'])} answered a safety item**: "
            if n["resolved"]:
                st.warning(
                    said
                    + md(
                        f"{n['scale']} {n['item']}, then changed the answer ({n['resolution']}). "
                        "Talk to the participant before they leave."
                    ),
                    icon=":material/emergency:",
                )
            else:
                st.error(said + md(f"{n['scale']} {n['item']}. {n['message']} {n['who']}"), icon=":material/emergency:")
        st.button("I have seen this and will act on it", key="handback-seen", on_click=_dismiss_handback)
        if st.session_state.pop(HANDBACK_SCROLL_KEY, False):
            scroll_into_view("handback-notice")


def _page_link(page: str, label: str, **params: str) -> None:
    try:
        st.page_link(page, label=label, icon=":material/arrow_forward:", query_params=params or None)
    except StreamlitPageNotFoundError:  # a page started on its own (AppTest): no links to other pages
        pass


def render_alert_banner(user: Mapping[str, Any], page_id: str, sidebar: Any = None) -> None:
    """Open safety alerts of the user's scope, on every staff page.

    On the page the role lands on (worklist, participants): at the top of the page, the count
    and the list (participant, questionnaire, item, timepoint, when, state, message, who was
    alerted) with links to act (the PI acknowledges on "Cohort and alerts"). On every other page:
    the count and a short list in the menu (`sidebar`, a container at the top of it), so a form
    being filled in never jumps down when an alert appears. A kiosk hand-back notice, when there
    is one, is drawn at the top of the page whatever the page."""
    if user.get("role") not in STAFF:
        return
    render_handback_notice()
    try:
        with unit_of_work(write=False) as db:
            rows = alert_store.list_alerts(db, open_only=True, site_id=user["site_id"])
            context = load_context(db, rows)
            site = alert_store.alert_audience(db, user["site_id"])["site_code"] if user["site_id"] is not None else None
    except StorageError as exc:
        st.warning(md(f"Open safety alerts could not be read just now ({exc}); reload the page."))
        return
    roles_pages = pages_for_role(user["role"])
    landing = bool(roles_pages) and roles_pages[0].id == page_id
    scope = f"site {site}" if site else "all sites"
    settings = notification_settings()
    if settings.enabled:
        _catch_up()
    email = (
        ("E-mail notification is not working: " + settings.problem)
        if settings.problem
        else ("E-mail notification is on." if settings.enabled else "E-mail notification is off.")
    )
    count = f"{len(rows)} open safety alert{'s' if len(rows) != 1 else ''}"
    if not landing:
        if rows:
            with sidebar if sidebar is not None else st.sidebar, st.container(key="alert-menu"):
                st.error(f"**{count}** ({md(scope)})", icon=":material/emergency:")
                for alert in rows[:5]:
                    abbreviation, item = _item_words(alert)
                    st.caption(
                        f"**{md(alert['participant_code'])}** · " + md(f"{abbreviation} {item} · {_state(alert)}")
                    )
                if len(rows) > 5:
                    st.caption(f"… and {len(rows) - 5} more.")
                _action_links(user, rows if page_id != "rate" else [])
                st.caption(md(email))
        return
    if not rows:
        st.caption(md(f"No open safety alerts ({scope}). {email}"))
        return
    protocol = current_protocol()
    with st.container(border=True, key="alert-banner"):
        st.error(
            f"**{count}** " + md(f"({scope}): follow the study's suicide-risk procedure. {email}"),
            icon=":material/emergency:",
        )
        for alert in rows:  # one short block each: readable on a tablet, unlike a wide table
            abbreviation, item = _item_words(alert)
            st.markdown(
                f"**{md(alert['participant_code'])}** · "
                + md(
                    f"{abbreviation} {item} · {timepoint_label(protocol, alert['timepoint'])} · raised "
                    f"{local_time(alert['created_at'], protocol.timezone)} · {_state(alert)}"
                )
            )
            st.caption(md(f"{alert['message']} {_who(alert, context, settings)}"))
        _action_links(user, rows)


def _action_links(user: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> None:
    """Where to act: the PI acknowledges on "Cohort and alerts"; a rater opens a clinician draft."""
    if may_open(user["role"], "cohort"):
        _page_link("pages/cohort.py", "Acknowledge on “Cohort and alerts”")
    if may_open(user["role"], "rate"):
        for alert in rows:
            if alert["mode"] == "clinician" and alert["assessment_status"] == "draft":
                _page_link(
                    "pages/rate.py",
                    md(f"Open the {alert['scale_id'].upper()} draft of {alert['participant_code']}"),
                    assessment=str(alert["assessment_id"]),
                )


_last_catch_up = {"at": 0.0}
CATCH_UP_SECONDS = 60.0


def _catch_up() -> None:
    """At most once a minute per server process: e-mail alerts raised by other paths (imports,
    the command line) that no save in this app has dispatched."""
    now = time.monotonic()
    if now - _last_catch_up["at"] < CATCH_UP_SECONDS:
        return
    _last_catch_up["at"] = now
    after_save()
