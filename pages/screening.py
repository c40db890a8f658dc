"""Eligibility screening, generated from the protocol's criteria. The baseline severity is read
from the stored baseline rating, never typed in; the decision is computed and stored by
db.screening (append-only, audited) and an ineligible participant cannot be dosed. A decision
pending on the baseline rating is decided again by db.screening when that rating is completed.

Every answer widget is keyed by the participant (ui.pickers.scoped_key): switching the picker
shows the other participant's stored answers, or nothing, never the previous one's."""

import streamlit as st

from db import screening
from db.connection import unit_of_work
from db.permissions import allowed
from protocol import screening_questions
from ui.feedback import run_write, show_feedback, show_flash
from ui.names import scale_abbreviation
from ui.pickers import choose_participant, scoped_key
from ui.session import require_page
from ui.study import current_protocol
from ui.text import md
from ui.timefmt import local_time

user = require_page("screening")
protocol = current_protocol()
st.title("Eligibility screening")
show_flash()

participant = choose_participant(user, empty="No participants yet: enrol one on the Participants page first.")
pid = participant["id"]
with unit_of_work(write=False) as db:
    latest = screening.latest_eligibility(db, pid)
    baseline = screening.baseline_severity(db, protocol, pid)
questions = screening_questions(protocol)
question_text = {q.id: q.text for q in questions}
severity = protocol.eligibility.severity

if latest is not None:
    verdict = {True: "eligible", False: "not eligible", None: "pending"}[latest["eligible"]]
    show = {True: st.success, False: st.error, None: st.info}[latest["eligible"]]
    show(
        f"Latest decision: **{verdict}** — "
        + md(f"by {latest['decided_by_name'] or '—'} at {local_time(latest['decided_at'], protocol.timezone)}")
    )
    if latest.get("automatic"):
        st.caption(
            f"Decided again automatically when the baseline {scale_abbreviation(severity.scale)} rating (total "
            f"{latest['baseline_total']}) was submitted, with the answers of the pending decision."
        )
    for reason in latest["reasons"]:
        st.caption(f"• {md(reason)}")
    if latest["pending"]:
        st.caption("Pending: " + "; ".join(md(question_text.get(p, p)) for p in latest["pending"]))
    if (
        latest["eligible"] is None
        and severity is not None
        and severity.id in latest["pending"]
        and baseline is not None
    ):
        st.warning(
            f"The baseline {scale_abbreviation(severity.scale)} rating (total {baseline['total']}) is stored, but this pending "
            "decision was not decided again with it. Record the decision below to apply it."
        )

if severity is not None:
    if baseline is None:
        st.info(
            f"Baseline severity ({scale_abbreviation(severity.scale)}, at least {severity.min_total}) will be checked automatically "
            "once the baseline rating is submitted."
        )
    else:
        st.caption(
            f"Baseline {scale_abbreviation(severity.scale)} total {baseline['total']} (threshold ≥ {severity.min_total}), "
            f"from the stored rating at {baseline['timepoint']}."
        )

if not allowed(user["role"], "participant.update"):
    st.caption("Your role can read screening decisions but not record them.")
    st.stop()

st.subheader(f"Criteria for {md(participant['code'])}")
previous = latest["answers"] if latest else {}
answers: dict = {}
for question in questions:
    if question.automatic:
        continue
    label = f"{'Inclusion' if question.kind == 'inclusion' else 'Exclusion'}: {question.text}"
    key = scoped_key("participant", pid, f"q-{question.id}")
    before = previous.get(question.id)
    if question.answer == "integer":
        answers[question.id] = st.number_input(
            label,
            value=None if isinstance(before, bool) else before,
            step=1,
            min_value=0,
            placeholder=question.unit or "",
            key=key,
        )
    else:
        choice = st.radio(
            label, ["Yes", "No"], index=None if before is None else (0 if before else 1), horizontal=True, key=key
        )
        answers[question.id] = None if choice is None else choice == "Yes"
answers = {k: (int(v) if isinstance(v, float) else v) for k, v in answers.items() if v is not None}

place = scoped_key("participant", pid, "eligibility")
if st.button("Record the eligibility decision", type="primary", key=scoped_key("participant", pid, "record")):
    run_write(
        lambda db: screening.record_eligibility(db, user, protocol, pid, answers),
        f"Eligibility decision recorded for {participant['code']}.",
        place=place,
    )
show_feedback(place)
