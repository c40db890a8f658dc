"""Participants: list and search by pseudonymous code; enrol (code, site, arm).

Staff tied to a site see only that site's participants. In a blinded study the arm column is
drawn only for roles that may see it (ui.blinding)."""

import streamlit as st

from db import participants, sites
from db.connection import unit_of_work
from db.permissions import allowed
from ui.blinding import arm_visible
from ui.feedback import run_write, show_flash
from ui.session import require_page
from ui.study import current_protocol

user = require_page("participants")
st.title("Participants")
show_flash()

with unit_of_work(write=False) as db:
    rows = participants.list_participants(db, site=user["site_id"])
    site_rows = sites.list_sites(db)
show_arm = arm_visible(user["role"], current_protocol())

query = st.text_input("Search by participant code", placeholder="e.g. KET-014").strip().lower()
shown = [r for r in rows if query in r["code"].lower()]
table = [
    {"code": r["code"], "site": r["site_code"], "status": r["status"], **({"arm": r["arm"] or ""} if show_arm else {})}
    for r in shown
]
if table:
    st.dataframe(table, hide_index=True, use_container_width=True)
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
