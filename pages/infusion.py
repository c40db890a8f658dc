"""Infusion day (coordinator): log an infusion with the dose checked against the protocol and
the total shown for confirmation, record vital signs on the protocol's schedule (with a due
reminder and threshold warnings), and record and edit adverse events.

Every write goes through the use cases of study.infusions (the one entry point, also the demo
builder's; db.clinical enforces the rules where it stores and audits): the page shows their
warnings next to the control they concern before anything is written (an infusion before the
baseline, too soon after the previous one; a reading past a threshold) and passes the user's
reasons on. The dose range, total-dose rounding and weight checks are the protocol's (the total
shown here is study.infusions.total_to_prepare, the figure record_infusion checks the confirmed
total against); the threshold warnings come from below too, the page only shows them. Every read
goes through study.records (data.read at the participant's site). Times are parsed and formatted
by protocol.timing and entered as they happened, in the study's local time; until the user
changes a time it follows the clock and means "now". Every widget is keyed by the participant, infusion or adverse
event it shows (ui.pickers.scoped_key), and a successful save starts its inputs afresh.
"""

from datetime import UTC, datetime, timedelta

import pandas as pd
import streamlit as st

from db import clinical, screening
from db.connection import unit_of_work
from db.errors import StorageError
from db.permissions import allowed
from protocol.errors import ProtocolInputError
from protocol.late_entry import LATE_ENTRY_MINUTES
from protocol.timing import CLOCK_FORMAT, format_utc, local_text, parse_stored
from protocol.vitals import next_vitals_due, vitals_schedule
from study import infusions as infusion_day
from study import records
from ui.blinding import arm_visible, may_record_dose
from ui.feedback import run_write, set_error, show_feedback, show_flash
from ui.pickers import choose_participant, scoped_key
from ui.reads import read_or_stop
from ui.session import require_page
from ui.study import current_protocol
from ui.text import md
from ui.timefmt import local_time

user = require_page("infusion")
protocol = current_protocol()
writer = allowed(user["role"], "clinical.record")
# One blinding rule (protocol.blinding via ui.blinding) decides both: a blinded role never sees a
# dose here, and only an unblinded recorder (the coordinator in a blinded study) records one.
see_dose = arm_visible(user["role"], protocol)
dose_writer = may_record_dose(user["role"], protocol)
zone = protocol.timezone
st.title("Infusion day")
show_flash()

participant = choose_participant(
    user, statuses=("screening", "enrolled"), empty="No participant is screening or enrolled."
)
pid = participant["id"]
with unit_of_work(write=False) as db:
    decision = screening.latest_eligibility(db, pid)
    infusions = read_or_stop(lambda: records.list_infusions(db, user, pid))
    vitals = read_or_stop(lambda: records.list_vitals(db, user, pid))
    events = read_or_stop(lambda: records.list_adverse_events(db, user, pid))
LATE_REASON = (
    f"Reason for entering this {{what}} later (required when more than {LATE_ENTRY_MINUTES} minutes after it happened)"
)


def shown(text: str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return local_time(text, zone, fmt)


def when_entry(label: str, key: str) -> datetime:
    """The local date and time something happened, as an aware datetime. Until the user changes
    either field both follow the clock and the answer is now, to the second (so an infusion
    started right after its baseline rating is not read as a minute before it); once changed, the
    answer is what was chosen."""
    touched = f"{key}-touched"
    now = datetime.now(zone)
    if not st.session_state.get(touched):
        st.session_state[f"{key}-date"] = now.date()
        st.session_state[f"{key}-time"] = now.time().replace(second=0, microsecond=0)

    def mark() -> None:
        st.session_state[touched] = True

    left, right = st.columns(2)
    day = left.date_input(f"{label}: date", key=f"{key}-date", on_change=mark, format="YYYY-MM-DD")
    clock = right.time_input(f"{label}: time ({zone.key})", key=f"{key}-time", step=60, on_change=mark)
    if not st.session_state.get(touched) or day is None or clock is None:
        return now
    return datetime.combine(day, clock).replace(tzinfo=zone)


def optional_when(label: str, key: str, stored: str | None) -> tuple[datetime | None, str | None]:
    """An optional local date and time (empty by default, or the stored one, which is kept to the
    second while its minute is not changed): (moment or None, what is missing or None)."""
    current = parse_stored(stored).astimezone(zone) if stored else None
    left, right = st.columns(2)
    day = left.date_input(
        f"{label}: date", value=current.date() if current else None, key=f"{key}-date", format="YYYY-MM-DD"
    )
    clock = right.time_input(
        f"{label}: time ({zone.key})", value=current.time() if current else None, key=f"{key}-time", step=60
    )
    if day is None and clock is None:
        return None, None
    if day is None or clock is None:
        return None, f"{label}: give both the date and the time, or neither."
    chosen = datetime.combine(day, clock).replace(tzinfo=zone)
    if current is not None and chosen == current.replace(second=0, microsecond=0):
        return current, None  # unchanged: keep the stored time to the second
    return chosen, None


def generation(key: str) -> int:
    """Which round of a form this is: bumped after a successful save, so its inputs start afresh."""
    return st.session_state.setdefault(key, 0)


def next_generation(key: str) -> None:
    st.session_state[key] = st.session_state.get(key, 0) + 1


def entered_note(row: dict, reason_key: str = "late_entry_reason") -> str:
    if not row.get("entered_later"):
        return ""
    return f"entered later ({shown(row['created_at'])})" + (f": {row[reason_key]}" if row.get(reason_key) else "")


if infusions:
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "infusion": i["number"],
                    "start": shown(i["started_at"]),
                    "end": shown(i["ended_at"]),
                    "weight (kg)": i["weight_kg"],
                    **({"dose (mg/kg)": i["dose_mg_per_kg"], "total (mg)": i["total_dose_mg"]} if see_dose else {}),
                }
                for i in infusions
            ]
        ),
        hide_index=True,
        width="stretch",
    )
    if not see_dose:
        st.caption("Doses are hidden: this study is blinded and your role reviews it blind.")

running = next((i for i in infusions if i["ended_at"] is None), None)
eligible = decision is not None and decision["eligible"] is True

# --- start an infusion -----------------------------------------------------------------------
if writer and running is None and not dose_writer:
    st.info(
        "This study is blinded, so infusions (and their doses) are recorded by the unblinded coordinator. "
        "You can record vital signs and adverse events here.",
        icon=":material/visibility_off:",
    )
if dose_writer and running is None:
    number = len(infusions) + 1
    here = f"infusion{number}"
    st.subheader(f"Start infusion {number}")
    if not eligible:
        st.warning(
            "This participant cannot be dosed: record an eligible screening decision first "
            "(Eligibility screening page)."
        )
    else:
        dosing = protocol.dosing
        weight = st.number_input(
            "Weight (kg)",
            min_value=0.0,
            max_value=400.0,
            value=None,
            step=0.1,
            placeholder="e.g. 72.5",
            key=scoped_key("participant", pid, f"{here}-weight"),
        )
        mg_per_kg = st.number_input(
            f"Dose (mg/kg; protocol range {dosing.mg_per_kg.min}–{dosing.mg_per_kg.max})",
            min_value=0.0,
            max_value=5.0,
            value=float(dosing.mg_per_kg.default or 0.5),
            step=0.05,
            key=scoped_key("participant", pid, f"{here}-dose"),
        )
        duration = st.number_input(
            "Planned duration (minutes)",
            min_value=1,
            max_value=600,
            value=int(dosing.duration_minutes.default or 40),
            step=5,
            key=scoped_key("participant", pid, f"{here}-duration"),
        )
        started = when_entry("Start", scoped_key("participant", pid, f"{here}-start"))
        total = None
        if weight:
            try:
                total = infusion_day.total_to_prepare(protocol, weight, mg_per_kg)
            except ProtocolInputError as exc:
                st.error(md(exc))
        if total is not None:
            st.metric("Total dose to prepare", f"{total} mg")
            confirmed = st.checkbox(
                f"I have checked the total dose of {total} mg of {md(dosing.drug)}",
                key=scoped_key("participant", pid, f"{here}-dose-checked"),
            )
            try:
                with unit_of_work(write=False) as db:
                    warnings = infusion_day.infusion_warnings(db, user, protocol, pid, number, format_utc(started))
            except StorageError as exc:
                st.error(md(exc))
                warnings = []
            overrides = {}
            for warning in warnings:
                st.warning(md(warning.message), icon=":material/warning:")
                reason = st.text_input(
                    "Reason for starting anyway", key=scoped_key("participant", pid, f"{here}-{warning.kind}-reason")
                )
                if st.checkbox(
                    f"I confirm starting infusion {number} anyway; this is recorded as a protocol deviation",
                    key=scoped_key("participant", pid, f"{here}-{warning.kind}-confirm"),
                ):
                    overrides[warning.kind] = reason
            place = scoped_key("participant", pid, f"{here}-start-button")
            if st.button("Start infusion", type="primary", disabled=not confirmed, key=place):
                run_write(
                    lambda db: infusion_day.record_infusion(
                        db,
                        user,
                        protocol,
                        pid,
                        number,
                        format_utc(started),
                        float(weight),
                        float(mg_per_kg),
                        total_dose_mg=float(total),
                        planned_duration_min=int(duration),
                        override_reasons=overrides,
                    ),
                    f"Infusion {number} started at {local_text(started, zone, CLOCK_FORMAT)}.",
                    place=place,
                )
            show_feedback(place)

# --- a running infusion: end it, and the vitals schedule ------------------------------------
current = running or (infusions[-1] if infusions else None)
if current is not None:
    iid = current["id"]
    start = parse_stored(current["started_at"])
    end = parse_stored(current["ended_at"]) or start + timedelta(minutes=current["planned_duration_min"] or 40)
    if running is not None and writer:
        st.subheader(f"Infusion {running['number']} running since {shown(running['started_at'], '%H:%M')}")
        show_feedback(scoped_key("participant", pid, f"infusion{running['number']}-start-button"))  # "started at"
        ended = when_entry("End", scoped_key("infusion", iid, "end"))
        place = scoped_key("infusion", iid, "end-button")
        if st.button("Record the end of the infusion", key=place):
            run_write(
                lambda db: infusion_day.end_infusion(db, user, iid, format_utc(ended)),
                f"Infusion {running['number']} ended at {local_text(ended, zone, CLOCK_FORMAT)}.",
                place=place,
            )
        show_feedback(place)

    if running is None:
        show_feedback(scoped_key("infusion", iid, "end-button"))  # "ended at", once, after the end is recorded
    st.subheader(f"Vital signs, infusion {current['number']}")
    mine = [v for v in vitals if v["infusion_id"] == iid]
    schedule = vitals_schedule(start, end, protocol)
    reminder = next_vitals_due(
        schedule, [parse_stored(v["measured_at"]) for v in mine], datetime.now(UTC), protocol.vitals.tolerance_minutes
    )
    if reminder is None:
        st.caption("Vital-sign monitoring for this infusion is complete.")
    else:
        text = (
            f"Next vital signs {reminder.state}: {shown(format_utc(reminder.due_at), '%H:%M')} "
            f"({reminder.minutes_from_start} min after the start)"
        )
        (st.warning if reminder.state == "overdue" else st.info)(text)
        if reminder.missed:
            st.caption("Missed readings: " + ", ".join(shown(format_utc(m), "%H:%M") for m in reminder.missed))
    if mine:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "time": shown(v["measured_at"], "%H:%M"),
                        "BP": f"{v['systolic'] or '—'}/{v['diastolic'] or '—'}",
                        "heart rate": "—" if v["heart_rate"] is None else str(v["heart_rate"]),
                        "SpO2 %": "—" if v["spo2"] is None else str(v["spo2"]),
                        "entered": entered_note(v),
                    }
                    for v in mine
                ]
            ),
            hide_index=True,
            width="stretch",
        )
    if writer:
        round_key = scoped_key("infusion", iid, "vitals-round")
        form = scoped_key("infusion", iid, f"vitals{generation(round_key)}")
        cols = st.columns(4)
        reading = {
            measure: cols[n].number_input(
                f"{name} ({unit})", min_value=0, max_value=top, value=None, step=1, key=f"{form}-{measure}"
            )
            for n, (measure, name, unit, top) in enumerate(
                (
                    ("systolic", "Systolic", "mmHg", 400),
                    ("diastolic", "Diastolic", "mmHg", 300),
                    ("heart_rate", "Heart rate", "bpm", 300),
                    ("spo2", "SpO2", "%", 100),
                )
            )
        }
        measured = when_entry("Measured", f"{form}-when")
        late_reason = st.text_input(LATE_REASON.format(what="reading"), key=f"{form}-reason")
        place = scoped_key("infusion", iid, "vitals-save")
        if st.button("Save vital signs", type="primary", key=place):
            values = {k: v for k, v in reading.items() if v is not None}
            if not values:
                set_error(place, "Enter at least one measurement before saving.")
            else:

                def save(db):
                    saved = infusion_day.record_vitals(
                        db,
                        user,
                        protocol,
                        pid,
                        format_utc(measured),
                        infusion_id=iid,
                        late_entry_reason=late_reason or None,
                        **values,
                    )
                    next_generation(round_key)  # the inputs start empty after the rerun
                    return saved

                run_write(
                    save, f"Vital signs saved. Measured at {local_text(measured, zone, CLOCK_FORMAT)}.", place=place
                )
        show_feedback(place)
    with unit_of_work(write=False) as db:
        attention = read_or_stop(lambda: records.open_vitals_warning(db, user, protocol, pid, iid))
    if attention is not None:
        reading_id = attention["vitals"]["id"]
        st.error(
            md(
                "Vital sign outside the protocol's limits (reading at "
                f"{shown(attention['vitals']['measured_at'], '%H:%M')}): " + "; ".join(attention["warnings"]) + "."
            ),
            icon=":material/warning:",
        )
        if writer:
            note = st.text_input(
                "What was done (optional note)",
                key=scoped_key("vitals", reading_id, "note"),
                placeholder="e.g. repeated after 5 minutes, physician informed",
            )
            place = scoped_key("vitals", reading_id, "acknowledge")
            if st.button("Acknowledge the warning", key=place):
                run_write(
                    lambda db: infusion_day.acknowledge_vitals_warning(db, user, protocol, reading_id, note or None),
                    "Warning acknowledged.",
                    place=place,
                )
            show_feedback(place)
            st.caption("The warning stays here until it is acknowledged or a later reading is saved.")

# --- adverse events --------------------------------------------------------------------------
st.subheader("Adverse events")
if events:
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "term": e["term"],
                    "onset": shown(e["onset_at"]),
                    "severity": clinical.label("severity", e["severity"]),
                    "serious": f"Yes (SAE {shown(e['serious_at'])})" if e["serious"] else "No",
                    "relatedness": clinical.label("relatedness", e["relatedness"]),
                    "outcome": clinical.label("outcome", e["outcome"]) or "Ongoing",
                    "end": shown(e["resolved_at"]),
                    "action taken": clinical.label("action_taken", e["action_taken"]),
                    "entered": entered_note(e),
                }
                for e in events
            ]
        ),
        hide_index=True,
        width="stretch",
    )


def event_fields(key: str, stored: dict | None) -> tuple[dict, str | None]:
    """The adverse-event inputs (empty for a new event, else the stored values): the values in
    the shape db.clinical takes, and what is missing, if anything."""
    stored = stored or {}
    term = st.text_input("Event (term)", value=stored.get("term", ""), placeholder="e.g. nausea", key=f"{key}-term")
    cols = st.columns(2)
    severity = cols[0].selectbox(
        "Severity",
        clinical.SEVERITIES,
        format_func=clinical.SEVERITY_LABELS.get,
        index=clinical.SEVERITIES.index(stored.get("severity", "mild")),
        key=f"{key}-severity",
    )
    relatedness = cols[1].selectbox(
        "Related to the study drug",
        clinical.RELATEDNESS,
        format_func=clinical.RELATEDNESS_LABELS.get,
        index=clinical.RELATEDNESS.index(stored.get("relatedness", "possible")),
        key=f"{key}-relatedness",
    )
    if stored:
        onset, missing = optional_when("Onset", f"{key}-onset", stored["onset_at"])
        missing = missing or (None if onset else "Onset: give the date and time the event began.")
    else:
        onset, missing = when_entry("Onset", f"{key}-onset"), None
    cols = st.columns(2)
    outcomes = [None, *clinical.OUTCOMES]
    outcome = cols[0].selectbox(
        "Outcome",
        outcomes,
        index=outcomes.index(stored.get("outcome")),
        format_func=lambda c: "Ongoing (no outcome yet)" if c is None else clinical.OUTCOME_LABELS[c],
        key=f"{key}-outcome",
    )
    actions = [None, *clinical.ACTIONS]
    recorded = stored.get("action_taken")
    action = cols[1].selectbox(
        "Action taken with the infusion",
        actions,
        index=actions.index(recorded) if recorded in actions else 0,
        format_func=lambda c: "Not recorded" if c is None else clinical.ACTION_LABELS[c],
        key=f"{key}-action",
    )
    resolved, problem = optional_when("End", f"{key}-end", stored.get("resolved_at"))
    missing = missing or problem
    serious = st.checkbox("Serious adverse event (SAE)", value=bool(stored.get("serious")), key=f"{key}-serious")
    serious_at = None
    if serious:
        serious_at, problem = optional_when("Became serious (SAE date)", f"{key}-sae", stored.get("serious_at"))
        missing = missing or problem
    values = {
        "term": term,
        "onset_at": onset and format_utc(onset),
        "severity": severity,
        "relatedness": relatedness,
        "outcome": outcome,
        "action_taken": action,
        "resolved_at": resolved and format_utc(resolved),
        "serious": serious,
        "serious_at": serious_at and format_utc(serious_at),
    }
    return values, missing


if writer:
    with st.expander("Record an adverse event", expanded=not events):
        round_key = scoped_key("participant", pid, "ae-round")
        form = scoped_key("participant", pid, f"ae-new{generation(round_key)}")
        values, missing = event_fields(form, None)
        late_reason = st.text_input(LATE_REASON.format(what="event"), key=f"{form}-reason")
        place = scoped_key("participant", pid, "ae-record")
        if st.button("Record adverse event", key=place):
            if missing:
                set_error(place, missing)
            else:

                def record(db):
                    saved = infusion_day.record_adverse_event(
                        db,
                        user,
                        protocol,
                        pid,
                        values["term"],
                        values["onset_at"],
                        values["severity"],
                        values["relatedness"],
                        serious=values["serious"],
                        serious_at=values["serious_at"],
                        resolved_at=values["resolved_at"],
                        outcome=values["outcome"],
                        action_taken=values["action_taken"],
                        infusion_id=current["id"] if current else None,
                        late_entry_reason=late_reason or None,
                    )
                    next_generation(round_key)
                    return saved

                # The success message goes under the expander: the first event recorded closes it
                # (expanded only while there is none), which would hide a message drawn inside.
                run_write(
                    record,
                    f"Adverse event '{(values['term'] or '').strip()}' recorded.",
                    place=place,
                    success_place=scoped_key("participant", pid, "ae-recorded"),
                )
        show_feedback(place)
    show_feedback(scoped_key("participant", pid, "ae-recorded"))

    if events:
        with st.expander("Edit an adverse event"):
            by_id = {e["id"]: e for e in events}
            chosen = st.selectbox(
                "Adverse event",
                list(by_id),
                key=scoped_key("participant", pid, "ae-edit-pick"),
                format_func=lambda i: f"{by_id[i]['term']} (onset {shown(by_id[i]['onset_at'])})",
            )
            event = by_id[chosen]
            form = scoped_key("adverse_event", chosen, f"edit-{event['updated_at']}")
            values, missing = event_fields(form, event)
            reason = st.text_input(
                "Reason for the change",
                key=f"{form}-why",
                placeholder="e.g. event resolved; outcome confirmed at follow-up call",
            )
            place = scoped_key("adverse_event", chosen, "edit-save")
            if st.button("Save the changes", key=place):
                if missing:
                    set_error(place, missing)
                else:
                    run_write(
                        lambda db: infusion_day.update_adverse_event(
                            db, user, protocol, chosen, values, reason, expected_updated_at=event["updated_at"]
                        ),
                        f"Adverse event '{event['term']}' updated.",
                        place=place,
                    )
            show_feedback(place)
