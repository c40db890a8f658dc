"""Eligibility screening, generated from the protocol's criteria. The baseline severity is read
from the stored baseline rating, never typed in; the decision is computed and stored by
db.screening (append-only, audited) and an ineligible participant cannot be dosed."""

import streamlit as st

from db import screening
from db.connection import unit_of_work
from db.permissions import allowed
from protocol import screening_questions
from ui.feedback import run_write, show_flash
from ui.pickers import choose_participant
from ui.session import require_page
from ui.study import current_protocol
from ui.timefmt import local_time

user = require_page("screening")
protocol = current_protocol()
st.title("Eligibility screening")
show_flash()

participant = choose_participant(user, empty="No participants yet: enrol one on the Participants page first.")
with unit_of_work(write=False) as db:
    latest = screening.latest_eligibility(db, participant["id"])
    baseline = screening.baseline_severity(db, protocol, participant["id"])

if latest is not None:
    verdict = {True: "eligible", False: "not eligible", None: "pending"}[latest["eligible"]]
    show = {True: st.success, False: st.error, None: st.info}[latest["eligible"]]
    show(f"Latest decision: **{verdict}** — by {latest['decided_by_name'] or '—'} at "
         f"{local_time(latest['decided_at'], protocol.timezone)}")
    for reason in latest["reasons"]:
        st.caption(f"• {reason}")
    if latest["pending"]:
        st.caption("Pending: " + ", ".join(latest["pending"]))

severity = protocol.eligibility.severity
if severity is not None:
    if baseline is None:
        st.info(f"Baseline severity ({severity.scale}, at least {severity.min_total}) will be checked automatically "
                "once the baseline rating is submitted.")
    else:
        st.caption(f"Baseline {severity.scale} total {baseline['total']} (threshold ≥ {severity.min_total}), "
                   f"from the stored rating at {baseline['timepoint']}.")

if not allowed(user["role"], "participant.update"):
    st.caption("Your role can read screening decisions but not record them.")
    st.stop()

st.subheader("Criteria")
previous = latest["answers"] if latest else {}
answers: dict = {}
for question in screening_questions(protocol):
    if question.automatic:
        continue
    label = f"{'Inclusion' if question.kind == 'inclusion' else 'Exclusion'}: {question.text}"
    if question.answer == "integer":
        answers[question.id] = st.number_input(label, value=previous.get(question.id), step=1, min_value=0,
                                               placeholder=question.unit or "", key=f"q-{question.id}")
    else:
        before = previous.get(question.id)
        choice = st.radio(label, ["Yes", "No"], index=None if before is None else (0 if before else 1),
                          horizontal=True, key=f"q-{question.id}")
        answers[question.id] = None if choice is None else choice == "Yes"
answers = {k: (int(v) if isinstance(v, float) else v) for k, v in answers.items() if v is not None}

if st.button("Record the eligibility decision", type="primary"):
    run_write(lambda db: screening.record_eligibility(db, user, protocol, participant["id"], answers),
              f"Eligibility decision recorded for {participant['code']}.")
