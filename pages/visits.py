"""Visits and deviations, for the study: every missed visit (window closed without its ratings)
with the reason recorded for it, and every protocol deviation, for the PI, the monitor and the
coordinators. Staff tied to a site see only that site's participants. A reason is recorded or
corrected on the participant's record (Participants page) or on the worklist."""

import streamlit as st

from db import visits
from db.connection import unit_of_work
from db.deviations import list_deviations
from ui.session import require_page
from ui.study import current_protocol
from ui.visits import deviation_table, missed_visit_table

user = require_page("visits")
protocol = current_protocol()
st.title("Visits and deviations")

with unit_of_work(write=False) as db:
    missed = visits.missed_visits(db, protocol, site_id=user["site_id"])
    deviations = list_deviations(db, site_id=user["site_id"])

st.subheader("Missed visits")
if missed:
    waiting = sum(1 for v in missed if not v["reason"])
    st.caption(
        f"{len(missed)} missed visit{'s' if len(missed) != 1 else ''}, {waiting} without a reason. "
        "Withdrawn and completed participants count only up to the date they left the study. "
        "Record a reason on the participant's record (Participants) or on the worklist."
    )
    missed_visit_table(protocol, missed, key="study-missed")
else:
    st.caption("No missed visits.")

st.subheader("Protocol deviations")
if deviations:
    st.caption(
        f"{len(deviations)} deviation{'s' if len(deviations) != 1 else ''}, newest first; times in "
        f"{protocol.timezone.key}."
    )
    deviation_table(protocol, deviations, key="study-deviations", with_participant=True)
else:
    st.caption("No protocol deviations recorded.")
