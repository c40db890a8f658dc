"""Participants: list and search by pseudonymous code; enrol (code, site, arm); and one
participant's record: status (withdraw or complete), missed visits with their reasons, and
protocol deviations.

Staff tied to a site see only that site's participants. In a blinded study the arm column is
drawn only for roles that may see it (ui.blinding)."""

import streamlit as st

from db import participants, sites
from db.connection import unit_of_work
from db.permissions import allowed
from study import records
from ui.blinding import arm_visible
from ui.feedback import run_write, show_flash
from ui.names import plain_words
from ui.pickers import choose_participant
from ui.reads import read_or_stop
from ui.session import require_page
from ui.study import current_protocol
from ui.text import md
from ui.visits import deviation_cards, missed_visit_card, participation_controls, status_text

user = require_page("participants")
st.title("Participants")
show_flash()

with unit_of_work(write=False) as db:
    rows = read_or_stop(lambda: records.list_participants(db, user))
    site_rows = sites.list_sites(db)
protocol = current_protocol()
show_arm = arm_visible(user["role"], protocol)

query = st.text_input("Search by participant code", placeholder="e.g. KET-014").strip().lower()
shown = [r for r in rows if query in r["code"].lower()]
table = [
    {
        "code": r["code"],
        "site": r["site_code"],
        "status": plain_words(r["status"]),
        **({"arm": r["arm"] or ""} if show_arm else {}),
    }
    for r in shown
]
if table:
    st.dataframe(table, hide_index=True, width="stretch")
else:
    st.info("No participants match." if rows else "No participants enrolled yet.")
if not show_arm:
    st.caption("Treatment arms are hidden: this study is blinded for your role.")

if allowed(user["role"], "participant.enrol"):
    own_sites = [s["code"] for s in site_rows if user["site_id"] in (None, s["id"])]
    with st.form("enrol", clear_on_submit=True):
        st.subheader("Enrol a participant")
        code = st.text_input("Participant code (pseudonymous; never a name)")
        site = st.selectbox("Site", own_sites) if own_sites else None
        arm = st.text_input("Arm (as randomised; leave blank if allocated later)") if show_arm else None
        if st.form_submit_button("Enrol", type="primary"):
            if site is None:
                st.error("No site exists yet: an admin must add a site first.")
            else:
                run_write(
                    lambda db: participants.create_participant(db, user, code, site, arm or None),
                    f"Participant {code.strip()} enrolled at {site}.",
                )

if rows:
    st.divider()
    st.subheader("Participant record")
    person = choose_participant(user)
    pid = person["id"]
    st.markdown(f"**{md(person['code'])}** · site {md(person['site_code'])} · {status_text(protocol, person)}")
    participation_controls(user, protocol, person)
    with unit_of_work(write=False) as db:
        missed = read_or_stop(lambda: records.missed_visits(db, user, protocol, pid))
        deviations = read_or_stop(lambda: records.list_deviations(db, user, pid))
    st.markdown("##### Missed visits")
    if not missed:
        st.caption(f"No missed visits for {md(person['code'])}.")
    for visit in missed:
        missed_visit_card(user, protocol, visit, show_participant=False)
    st.markdown("##### Protocol deviations")
    if deviations:
        deviation_cards(protocol, deviations, pid)
    else:
        st.caption(f"No protocol deviations recorded for {md(person['code'])}.")
