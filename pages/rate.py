"""Rate a clinician scale: pick participant, timepoint and scale, then tap through the form.

The open assessment's id is in the address (?assessment=ID) while, and only while, its form is
shown: a reload or a tablet that slept returns to the same draft (after signing in again) with
every answered item. Whenever the picker is drawn it takes the id out of the address. Why: the
menu link to the page one is on ("Rate a scale" from the form) reruns the page without the id but
leaves it in the browser's copy of the address, and the next tap on the picker would send it back
and reopen the old form. Runs caused by a picker widget also ignore any id (their on_change marks
them), so a picker change never opens a record. The picker's widgets are keyed by participant.

A rating done earlier (on paper, or entered after the fact) is entered with the date and time it
was done, in the study's time zone; the one rule for that time (protocol.late_entry: not in the
future, not before enrolment, a reason when entered more than LATE_ENTRY_MINUTES later) is shown
next to the control and applied again by db.assessments when the form is opened.

Above the form one row holds "Back to the list", the blinding switch and the rater's layout
(all items, or one per screen: ui.form_focus, remembered for the rater). After submit the page
offers the next scale due for this participant now and the way back to the worklist
(ui.form_next).
"""

from datetime import UTC, datetime

import streamlit as st

from db import assessments
from db.clock import parse_utc
from db.connection import unit_of_work
from db.errors import StorageError
from protocol.keys import timepoint_label
from protocol.late_entry import LATE_ENTRY_MINUTES, late_entry_problem
from protocol.timing import local_date_at
from scales import clinician_scale_ids, get_scale, registry
from ui.assessment_start import show_window_warning, start_or_resume
from ui.form_focus import focus_toggle
from ui.form_next import render_next_scale
from ui.form_text import scale_name
from ui.pickers import choose_participant, scoped_key
from ui.scale_form import render_form
from ui.session import require_page
from ui.study import current_protocol
from ui.style import apply_tablet_style
from ui.text import md
from ui.timefmt import local_time

user = require_page("rate")
apply_tablet_style()
protocol = current_protocol()
zone = protocol.timezone
labels = {tp.id: tp.label for tp in protocol.timepoints}
PARAM = "assessment"
PICKER_RUN = "rate:picker-run"  # set by the picker widgets' on_change: this run is a picker change


def open_assessment(assessment_id: int) -> None:
    st.query_params[PARAM] = str(assessment_id)
    st.rerun()


def leave_form() -> None:
    """Take the assessment id out of the address (the browser's copy too), keeping any other
    parameter (e.g. ?participant=CODE from a link)."""
    st.query_params.from_dict({k: st.query_params.get_all(k) for k in st.query_params if k != PARAM})


def picker_changed() -> None:
    st.session_state[PICKER_RUN] = True


requested = None if st.session_state.pop(PICKER_RUN, False) else st.query_params.get(PARAM)
if requested:
    try:
        assessment_id = int(requested)
        with unit_of_work(write=False) as db:
            row = assessments.load_assessment(db, assessment_id)
    except (ValueError, StorageError):  # a mistyped or unknown id in the address: say so, nothing else
        # The address is anyone's to write: shown as text, never as Markdown (issue 13 item 8).
        st.error(f"There is no assessment '{md(requested)}' you can open here. Pick one below.")
        st.query_params.clear()
        st.stop()
    if user["site_id"] is not None and row["site_id"] != user["site_id"]:
        st.error("This assessment belongs to another site.")
        st.stop()
    # One row of controls above the form: back, blinding, layout (the rater's own choice).
    back_column, blind_column, focus_column = st.columns([1.2, 2.2, 1.6], vertical_alignment="center")
    if back_column.button("← Back to the list"):
        st.query_params.clear()
        st.rerun()
    show_window_warning(assessment_id)
    if row["assessed_at"]:
        st.info(
            md(
                f"Entered later: rated {local_time(row['assessed_at'], zone)}, entered "
                f"{local_time(row['started_at'], zone)}."
                + (f" Reason: {row['late_entry_reason']}" if row["late_entry_reason"] else "")
            ),
            icon=":material/history:",
        )
    hide_total = blind_column.toggle(
        "Hide the live total and band (blinded rating)", key="hide_live_total", value=protocol.blinded
    )
    focus = False
    if row["status"] == "draft" and row["mode"] == "clinician":
        with focus_column:
            focus = focus_toggle(user)
    shown_label = timepoint_label(protocol, row["timepoint"])
    render_form(user, assessment_id, shown_label, show_live_total=not hide_total, focus_mode=focus)
    if row["status"] != "draft":
        opened = render_next_scale(user, protocol, row)
        if opened is not None:
            open_assessment(opened)
    st.stop()

leave_form()
st.title("Rate a scale")
with unit_of_work(write=False) as db:
    drafts = [
        a for a in assessments.list_assessments(db, status="draft", site_id=user["site_id"]) if a["mode"] == "clinician"
    ]
if drafts:
    st.subheader("Drafts in progress")
    for draft in drafts:
        scale = registry().get(draft["scale_id"])
        label = (
            f"{draft['participant_code']} · {timepoint_label(protocol, draft['timepoint'])} · "
            f"{scale_name(scale, draft['scale_id'])}"
        )
        if st.button(f"Resume {md(label)}", key=f"resume-{draft['id']}", use_container_width=True):
            open_assessment(draft["id"])

st.subheader("Start or resume an assessment")
participant = choose_participant(user, empty="No participants yet: a coordinator enrols them on the Participants page.")
pid = participant["id"]


def key(name: str) -> str:
    """The widget key of `name` for the participant shown (nothing carries over to another one)."""
    return scoped_key("participant", pid, f"rate-{name}")


clinician_scales = {sid: get_scale(sid) for sid in clinician_scale_ids()}
timepoint = st.selectbox(
    "Timepoint",
    [tp.id for tp in protocol.timepoints],
    format_func=labels.__getitem__,
    key=key("timepoint"),
    on_change=picker_changed,
)
due = [s for s in protocol.scales_due(timepoint) if s in clinician_scales]
others = [s for s in clinician_scales if s not in due]  # unscheduled ratings stay possible, listed last


def scale_label(scale_id: str) -> str:
    definition = clinician_scales[scale_id]
    return f"{definition.abbreviation} — {definition.title}" + ("" if scale_id in due else " (not scheduled here)")


scale_id = st.selectbox(
    "Scale", due + others, format_func=scale_label, key=key(f"scale-{timepoint}"), on_change=picker_changed
)
definition = clinician_scales[scale_id]
recall_ids = [o["id"] for o in definition.recall_options]
recall = st.radio(
    "Recall period",
    recall_ids,
    horizontal=True,
    index=recall_ids.index(definition.default_recall),
    format_func=lambda r: next(o["label"] for o in definition.recall_options if o["id"] == r),
    key=key(f"recall-{scale_id}"),
    on_change=picker_changed,
)
infusion_number = None
if protocol.timepoint(timepoint).anchor == "each_infusion":
    infusion_number = int(
        st.number_input(
            "Infusion number",
            min_value=1,
            max_value=100,
            value=1,
            step=1,
            key=key("infusion"),
            on_change=picker_changed,
        )
    )

# --- a rating done earlier (paper source, entered after the fact) --------------------------------
assessed_at = late_reason = late_problem = None
if st.toggle("Rated earlier (paper source / entered after the fact)", key=key("late"), on_change=picker_changed):
    # The default is fixed when the control opens, so the widgets keep their identity as the clock moves.
    opened_at = st.session_state.setdefault(key("late-opened"), datetime.now(zone).replace(second=0, microsecond=0))
    left, right = st.columns(2)
    day = left.date_input(
        "Date it was rated", value=opened_at.date(), format="YYYY-MM-DD", key=key("late-date"), on_change=picker_changed
    )
    clock = right.time_input(
        f"Time it was rated ({zone.key})",
        value=opened_at.time(),
        step=60,
        key=key("late-time"),
        on_change=picker_changed,
    )
    late_reason = st.text_input(
        f"Reason for entering it later (required when more than {LATE_ENTRY_MINUTES} minutes after it was rated)",
        key=key("late-reason"),
        on_change=picker_changed,
        placeholder="e.g. rated on paper during the home visit, transcribed from the source",
    )
    if day is None or clock is None:  # a field emptied by the user
        late_problem = "Enter the date and the time the rating was done, or switch “Rated earlier” off."
    else:
        assessed_at = local_date_at(day, clock, zone)
        late_problem = late_entry_problem(
            assessed_at, datetime.now(UTC), parse_utc(participant["created_at"]), late_reason, zone=zone
        )
    if late_problem:
        st.error(md(late_problem), icon=":material/error:")
    else:
        st.caption(
            f"The rating will be kept at {assessed_at.astimezone(zone):%Y-%m-%d %H:%M %Z} (when it was done) "
            "and marked as entered later; schedule, window and charts use that time."
        )
else:
    st.session_state.pop(key("late-opened"), None)

if st.button("Open the form", type="primary", use_container_width=True):
    if late_problem:
        st.error(f"The form was not opened: {md(late_problem)}", icon=":material/error:")
    else:
        opened = start_or_resume(
            user,
            protocol,
            pid,
            timepoint,
            infusion_number,
            scale_id,
            recall=recall,
            assessed_at=assessed_at,
            late_entry_reason=late_reason,
        )
        if opened is not None:
            open_assessment(opened)
