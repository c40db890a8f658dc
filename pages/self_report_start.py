"""Self-report: hand this tablet to a participant (kiosk), or make a one-time link for their own
phone, for the questionnaires due at a timepoint; see and withdraw the participant's links; see
their submitted self-reports with the stored totals.

A link's token is shown once (address and QR code) and stored only as a hash. The first phone or
computer that uses a link keeps it (db.tokens: one holder at a time); the list of links says
which are taken, and a new link is the way to move to another device. A kiosk hand-over
makes a short-lived link and redeems it in this browser session, which then shows nothing but
the questionnaire until a staff member enters their password (ui.participant_mode).
"""

import logging
import os

import pandas as pd
import streamlit as st

from db import selfreport, tokens
from db.connection import unit_of_work
from db.errors import StorageError
from protocol.keys import timepoint_label
from scales import get_scale, registry, score, self_report_scale_ids
from selfreport import links, support
from study.self_report import start_self_report
from ui.feedback import run_write, show_flash
from ui.names import scale_abbreviation
from ui.participant_mode import begin_kiosk
from ui.pickers import choose_participant, scoped_key
from ui.self_report import site_secrets
from ui.session import require_page
from ui.study import current_protocol
from ui.text import md
from ui.timefmt import local_time

log = logging.getLogger("scalebook.pages.self_report_start")

user = require_page("self_report_start")
protocol = current_protocol()
labels = {tp.id: tp.label for tp in protocol.timepoints}  # for the timepoint picker (protocol ids)
NEW_LINK_KEY = "self_report_new_link"

st.title("Self-report")
show_flash()

participant = choose_participant(user, empty="No participants yet: a coordinator enrols them on the Participants page.")
code = participant["code"]
timepoint = st.selectbox(
    "Timepoint",
    [tp.id for tp in protocol.timepoints],
    format_func=labels.__getitem__,
    key=scoped_key("participant", participant["id"], "self-report-timepoint"),
)

self_scales = self_report_scale_ids()
due = [s for s in protocol.scales_due(timepoint) if s in self_scales]


def scale_label(scale_id: str) -> str:
    definition = get_scale(scale_id)
    return f"{definition.abbreviation} — {definition.title}" + ("" if scale_id in due else " (not scheduled here)")


chosen = st.multiselect(
    "Questionnaires",
    self_scales,
    default=due,
    format_func=scale_label,
    key=scoped_key("participant", participant["id"], f"self-report-scales:{timepoint}"),
    help="The self-report scales due at this timepoint are chosen for you; add or remove as needed.",
)
if not due:
    st.caption("No self-report questionnaire is scheduled at this timepoint in the protocol; choose the ones to give.")

supportive = protocol.supportive_text
site_values = support.site_values(supportive, participant["site_code"], os.environ, site_secrets())
missing = support.missing_values(supportive, site_values)
if missing:
    # Staff read what is missing in words; the settings' names are for the administrator, in the
    # server log and the README ("Configuration"), not on a clinic tablet.
    settings = ", ".join(support.env_names(name, participant["site_code"])[0] for name, _ in missing)
    log.warning("Supportive text of site %s lacks values; set %s", participant["site_code"], settings)
    st.warning(
        md(
            "The supportive text a participant sees after a safety answer is missing this site's "
            f"{'value' if len(missing) == 1 else 'values'} for: {'; '.join(what for _, what in missing)}. "
            "Until the administrator sets them, participants see a short general message instead."
        )
    )

kiosk_tab, link_tab = st.tabs(["Hand this tablet over", "Send a link"])

with kiosk_tab:
    st.write(
        "The tablet switches to participant mode: one question per screen, large buttons, nothing else. "
        "When the participant has finished, a staff password is needed to leave participant mode. "
        "Any earlier link for the same questionnaires stops working; answers already given are kept."
    )
    if st.button("Hand the tablet to the participant", type="primary", disabled=not chosen, width="stretch"):
        try:
            with unit_of_work() as db:
                started = start_self_report(db, user, protocol, participant["id"], timepoint, chosen, channel="kiosk")
            begin_kiosk(user, started["token"])
        except StorageError as exc:
            st.error(md(exc))
        else:
            st.rerun()

with link_tab:
    st.write(
        "A link opens only these questionnaires for this participant, once. It works until it is used up, "
        "withdrawn or expires. The first phone or computer that uses it keeps it: the participant can stop and "
        "carry on later on that device, and the link opens nothing anywhere else. To move to another device, "
        "make a new link (the old one stops working; answers already given are kept)."
    )
    ttl = st.number_input(
        "Valid for (hours)",
        min_value=1,
        max_value=tokens.MAX_TTL_HOURS,
        value=links.default_ttl_hours(os.environ),
        step=1,
    )
    if st.button("Create the link", type="primary", disabled=not chosen, width="stretch"):
        try:
            with unit_of_work() as db:
                made = start_self_report(
                    db, user, protocol, participant["id"], timepoint, chosen, channel="link", ttl_hours=int(ttl)
                )
        except StorageError as exc:
            st.error(md(exc))
        else:
            base = links.base_url(os.environ, st.context.url, "self_report_start")
            st.session_state[NEW_LINK_KEY] = {
                "url": links.link_url(base, made["token"]),
                "participant": code,
                "expires_at": made["expires_at"],
                "relative": not base,
                "scales": [get_scale(q).abbreviation for q in chosen if q not in made["already_done"]],
                "already_done": made["already_done"],
                "deviations": made["deviations"],
            }
            st.rerun()
    new_link = st.session_state.get(NEW_LINK_KEY)
    if new_link and new_link["participant"] != code:  # shown for the participant it was made for only
        st.session_state.pop(NEW_LINK_KEY, None)
        new_link = None
    if new_link:
        st.success(
            f"Link for {md(new_link['participant'])} ({', '.join(new_link['scales'])}), valid until "
            f"{local_time(new_link['expires_at'], protocol.timezone)}. It is shown only now: copy it, or let "
            f"the participant scan the code."
        )
        if new_link["already_done"]:
            st.caption(f"Already submitted, so not in the link: {', '.join(new_link['already_done'])}.")
        for text in new_link.get("deviations", []):
            st.warning(
                md(f"Outside the protocol window: {text}. A protocol deviation was recorded."),
                icon=":material/schedule:",
            )
        st.code(new_link["url"], language=None, wrap_lines=True)
        if new_link["relative"]:
            st.warning(
                f"The server's public address is unknown: add it in front of the link, or set "
                f"{links.PUBLIC_URL_ENV} (e.g. https://ecoa.example.org)."
            )
        image, kind = links.qr_image(new_link["url"])
        st.image(image, width=260, caption="Scan with the phone's camera", alt="QR code of the participant's link")
        if st.button("Done: hide the link"):
            st.session_state.pop(NEW_LINK_KEY, None)
            st.rerun()

st.subheader(f"Links for {md(code)}")
with unit_of_work(write=False) as db:
    made_links = selfreport.list_links(db, participant["id"])
    reports = selfreport.list_self_reports(db, participant["id"])
if not made_links:
    st.caption("No links yet.")
for link in made_links:
    what = ", ".join(
        f"{scale_abbreviation(q['scale_id'])} ({timepoint_label(protocol, q['timepoint'])})"
        for q in link["questionnaires"]
    )
    line = (
        f"**{link['state']}** · {link['channel']} · {what} · made {local_time(link['created_at'], protocol.timezone)}"
        f" · expires {local_time(link['expires_at'], protocol.timezone)} · opened {link['use_count']}×"
        + (f" · in use on one device since {local_time(link['held_at'], protocol.timezone)}" if link["held"] else "")
    )
    if link["state"] != "active":
        st.caption(line)
        continue
    cols = st.columns([4, 1], vertical_alignment="center")
    cols[0].markdown(line)
    if cols[1].button("Withdraw", key=f"revoke:{link['id']}"):
        run_write(
            lambda db, token_id=link["id"]: tokens.revoke_token(db, user, token_id, reason="withdrawn by staff"),
            "Link withdrawn: it no longer opens anything. Answers already given are kept.",
        )

st.subheader(f"Self-reports of {md(code)}")
if not reports:
    st.caption("None yet.")
else:
    for report in reports:
        if report["status"] != "draft" or not report["responses"]:
            continue
        installed = registry().get(report["scale_id"])  # None: its definition file is gone (nothing to score)
        flags = score(installed, report["responses"]).safety_flags if installed else []
        for flag in flags:
            st.error(
                md(
                    f"Not yet sent ({scale_abbreviation(report['scale_id'])}, {timepoint_label(protocol, report['timepoint'])}): "
                    f"{flag['message']}"
                ),
                icon=":material/emergency:",
            )
    table = pd.DataFrame(
        [
            {
                "timepoint": timepoint_label(protocol, r["timepoint"]),
                "questionnaire": registry()[r["scale_id"]].abbreviation
                if r["scale_id"] in registry()
                else f"{r['scale_id'].upper()} (definition not installed)",
                "mode": r["mode"],
                "status": r["status"],
                "answered": r["answered"],
                "total": r["total"],
                "band": r["band"] or "",
                "safety alert": "yes" if any(f.get("kind") == "safety" for f in r["flags"]) else "",
                "sent": local_time(r["completed_at"], protocol.timezone),
            }
            for r in reports
        ]
    )
    table["total"] = table["total"].astype("Int64").astype(str).replace("<NA>", "")
    st.table(table.set_index("timepoint"))
    st.caption("Open a questionnaire on the Assessments page to see every answer and its history.")
