"""Infusion day (coordinator): log an infusion with the dose checked against the protocol and
the total shown for confirmation, record vital signs on the protocol's schedule (with a due
reminder and threshold warnings), and record adverse events. Every write is audited in db/."""

from datetime import UTC, datetime, timedelta

import pandas as pd
import streamlit as st

from db import clinical, screening
from db.connection import unit_of_work
from db.permissions import allowed
from protocol.dosing import total_dose_mg
from protocol.errors import ProtocolInputError
from protocol.vitals import check_vitals, next_vitals_due, vitals_schedule
from ui.feedback import run_write, show_flash
from ui.pickers import choose_participant
from ui.session import require_page
from ui.study import current_protocol
from ui.timefmt import local_time

VITALS_WARNINGS = "vitals_warnings"

user = require_page("infusion")
protocol = current_protocol()
writer = allowed(user["role"], "clinical.record")
st.title("Infusion day")
show_flash()
for warning in st.session_state.pop(VITALS_WARNINGS, []):
    st.error(f"Vital sign outside the protocol's limits: {warning}", icon=":material/warning:")

participant = choose_participant(user, statuses=("screening", "enrolled"),
                                 empty="No participant is screening or enrolled.")
with unit_of_work(write=False) as db:
    decision = screening.latest_eligibility(db, participant["id"])
    infusions = clinical.list_infusions(db, participant["id"])
    vitals = clinical.list_vitals(db, participant["id"])
    events = clinical.list_adverse_events(db, participant["id"])
zone = protocol.timezone


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00"))


def time_entry(label: str, key: str) -> datetime:
    """A local date and time (default: now), returned as an aware datetime."""
    now = datetime.now(zone)
    left, right = st.columns(2)
    day = left.date_input(f"{label}: date", value=now.date(), key=f"{key}-date")
    clock = right.time_input(f"{label}: time ({zone.key})", value=now.time().replace(second=0, microsecond=0),
                             key=f"{key}-time", step=60)
    return datetime.combine(day, clock, tzinfo=zone)


if infusions:
    st.dataframe(pd.DataFrame([{
        "infusion": i["number"], "start": local_time(i["started_at"], zone), "end": local_time(i["ended_at"], zone),
        "weight (kg)": i["weight_kg"], "dose (mg/kg)": i["dose_mg_per_kg"], "total (mg)": i["total_dose_mg"],
    } for i in infusions]), hide_index=True, use_container_width=True)

running = next((i for i in infusions if i["ended_at"] is None), None)
eligible = decision is not None and decision["eligible"] is True

# --- start an infusion -----------------------------------------------------------------------
if writer and running is None:
    st.subheader(f"Start infusion {len(infusions) + 1}")
    if not eligible:
        st.warning("This participant cannot be dosed: record an eligible screening decision first "
                   "(Eligibility screening page).")
    else:
        dosing = protocol.dosing
        weight = st.number_input("Weight (kg)", min_value=0.0, max_value=400.0, value=None, step=0.1,
                                 placeholder="e.g. 72.5")
        mg_per_kg = st.number_input(
            f"Dose (mg/kg; protocol range {dosing.mg_per_kg.min}–{dosing.mg_per_kg.max})",
            min_value=0.0, max_value=5.0, value=float(dosing.mg_per_kg.default or 0.5), step=0.05)
        duration = st.number_input("Planned duration (minutes)", min_value=1, max_value=600,
                                   value=int(dosing.duration_minutes.default or 40), step=5)
        started = time_entry("Start", "start")
        total = None
        if weight:
            try:
                total = total_dose_mg(weight, mg_per_kg, dosing)
            except ProtocolInputError as exc:
                st.error(str(exc))
        if total is not None:
            st.metric("Total dose to prepare", f"{total} mg")
            confirmed = st.checkbox(f"I have checked the total dose of {total} mg of {dosing.drug}")
            if st.button("Start infusion", type="primary", disabled=not confirmed):
                run_write(lambda db: clinical.record_infusion(
                    db, user, participant["id"], len(infusions) + 1, utc_text(started), float(weight),
                    float(mg_per_kg), total_dose_mg=float(total), planned_duration_min=int(duration)),
                    f"Infusion {len(infusions) + 1} started at {started.strftime('%H:%M')}.")

# --- a running infusion: end it, and the vitals schedule ------------------------------------
current = running or (infusions[-1] if infusions else None)
if current is not None:
    start = parse(current["started_at"])
    end = parse(current["ended_at"]) or start + timedelta(minutes=current["planned_duration_min"] or 40)
    if running is not None and writer:
        st.subheader(f"Infusion {running['number']} running since {local_time(running['started_at'], zone, '%H:%M')}")
        ended = time_entry("End", "end")
        if st.button("Record the end of the infusion"):
            run_write(lambda db: clinical.end_infusion(db, user, running["id"], utc_text(ended)),
                      f"Infusion {running['number']} ended at {ended.strftime('%H:%M')}.")

    st.subheader(f"Vital signs, infusion {current['number']}")
    schedule = vitals_schedule(start, end, protocol)
    taken = [parse(v["measured_at"]) for v in vitals if v["infusion_id"] == current["id"]]
    reminder = next_vitals_due(schedule, taken, datetime.now(UTC), protocol.vitals.tolerance_minutes)
    if reminder is None:
        st.caption("Vital-sign monitoring for this infusion is complete.")
    else:
        text = f"Next vital signs {reminder.state}: {local_time(utc_text(reminder.due_at), zone, '%H:%M')} " \
               f"({reminder.minutes_from_start} min after the start)"
        (st.warning if reminder.state == "overdue" else st.info)(text)
        if reminder.missed:
            st.caption("Missed readings: " + ", ".join(local_time(utc_text(m), zone, "%H:%M") for m in reminder.missed))
    mine = [v for v in vitals if v["infusion_id"] == current["id"]]
    if mine:
        st.dataframe(pd.DataFrame([{
            "time": local_time(v["measured_at"], zone, "%H:%M"), "BP": f"{v['systolic'] or '—'}/{v['diastolic'] or '—'}",
            "heart rate": v["heart_rate"], "SpO2 %": v["spo2"],
        } for v in mine]), hide_index=True, use_container_width=True)
    if writer:
        with st.form("vitals", clear_on_submit=True):
            cols = st.columns(4)
            systolic = cols[0].number_input("Systolic (mmHg)", min_value=0, max_value=400, value=None, step=1)
            diastolic = cols[1].number_input("Diastolic (mmHg)", min_value=0, max_value=300, value=None, step=1)
            heart_rate = cols[2].number_input("Heart rate (bpm)", min_value=0, max_value=300, value=None, step=1)
            spo2 = cols[3].number_input("SpO2 (%)", min_value=0, max_value=100, value=None, step=1)
            submitted = st.form_submit_button("Save vital signs", type="primary")
        if submitted:
            reading = {k: v for k, v in (("systolic", systolic), ("diastolic", diastolic),
                                         ("heart_rate", heart_rate), ("spo2", spo2)) if v is not None}
            try:
                warnings = [w.message for w in check_vitals(reading, protocol.vitals.thresholds)] if reading else []
            except ProtocolInputError as exc:
                st.error(str(exc))
            else:
                st.session_state[VITALS_WARNINGS] = warnings
                run_write(lambda db: clinical.record_vitals(db, user, participant["id"], utc_text(datetime.now(UTC)),
                                                            infusion_id=current["id"], **reading),
                          "Vital signs saved.")
                st.session_state.pop(VITALS_WARNINGS, None)  # the save failed: nothing to warn about

# --- adverse events --------------------------------------------------------------------------
st.subheader("Adverse events")
if events:
    st.dataframe(pd.DataFrame([{
        "term": e["term"], "onset": local_time(e["onset_at"], zone), "severity": e["severity"],
        "serious": bool(e["serious"]), "relatedness": e["relatedness"], "outcome": e["outcome"] or "",
    } for e in events]), hide_index=True, use_container_width=True)
if writer:
    with st.form("adverse_event", clear_on_submit=True):
        term = st.text_input("Event (term)", placeholder="e.g. nausea")
        cols = st.columns(3)
        severity = cols[0].selectbox("Severity", clinical.SEVERITIES)
        relatedness = cols[1].selectbox("Related to the study drug", clinical.RELATEDNESS, index=2)
        outcome = cols[2].selectbox("Outcome", ["(ongoing)", *clinical.OUTCOMES])
        serious = st.checkbox("Serious adverse event")
        record = st.form_submit_button("Record adverse event")
    if record:
        run_write(lambda db: clinical.record_adverse_event(
            db, user, participant["id"], term, utc_text(datetime.now(UTC)), severity, relatedness, serious=serious,
            infusion_id=current["id"] if current else None, outcome=None if outcome == "(ongoing)" else outcome),
            f"Adverse event '{term.strip()}' recorded.")
