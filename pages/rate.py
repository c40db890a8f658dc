"""Rate a clinician scale: pick participant, timepoint and scale, then tap through the form.

The open assessment's id sits in the address (?assessment=ID), so a reload or a tablet that
slept returns to the same draft (after signing in again) with every answered item.
"""

import streamlit as st

from db import assessments
from db.connection import unit_of_work
from db.errors import StorageError
from protocol.keys import timepoint_label
from scales import clinician_scale_ids, get_scale
from ui.assessment_start import show_window_warning, start_or_resume
from ui.pickers import choose_participant
from ui.scale_form import render_form
from ui.session import require_page
from ui.study import current_protocol
from ui.style import apply_tablet_style

user = require_page("rate")
apply_tablet_style()
protocol = current_protocol()
labels = {tp.id: tp.label for tp in protocol.timepoints}


def open_assessment(assessment_id: int) -> None:
    st.query_params["assessment"] = str(assessment_id)
    st.rerun()


requested = st.query_params.get("assessment")
if requested:
    try:
        assessment_id = int(requested)
        with unit_of_work(write=False) as db:
            row = assessments.load_assessment(db, assessment_id)
    except (ValueError, StorageError):  # a mistyped or unknown id in the address: say so, nothing else
        st.error(f"There is no assessment {requested!r} you can open here. Pick one below.")
        st.query_params.clear()
        st.stop()
    if user["site_id"] is not None and row["site_id"] != user["site_id"]:
        st.error("This assessment belongs to another site.")
        st.stop()
    if st.button("← Back to the list"):
        st.query_params.clear()
        st.rerun()
    show_window_warning()
    hide_total = st.toggle("Hide the live total and band (blinded rating)", key="hide_live_total",
                           value=protocol.blinded)
    render_form(user, assessment_id, timepoint_label(protocol, row["timepoint"]), show_live_total=not hide_total)
    st.stop()

st.title("Rate a scale")
with unit_of_work(write=False) as db:
    drafts = [a for a in assessments.list_assessments(db, status="draft", site_id=user["site_id"])
              if a["mode"] == "clinician"]
if drafts:
    st.subheader("Drafts in progress")
    for draft in drafts:
        label = f"{draft['participant_code']} · {timepoint_label(protocol, draft['timepoint'])} · {draft['scale_id']}"
        if st.button(f"Resume {label}", key=f"resume-{draft['id']}", use_container_width=True):
            open_assessment(draft["id"])

st.subheader("Start or resume an assessment")
participant = choose_participant(user, empty="No participants yet: a coordinator enrols them on the Participants page.")
clinician_scales = {sid: get_scale(sid) for sid in clinician_scale_ids()}
timepoint = st.selectbox("Timepoint", [tp.id for tp in protocol.timepoints], format_func=labels.__getitem__)
due = [s for s in protocol.scales_due(timepoint) if s in clinician_scales]
others = [s for s in clinician_scales if s not in due]  # unscheduled ratings stay possible, listed last


def scale_label(scale_id: str) -> str:
    definition = clinician_scales[scale_id]
    return f"{definition.abbreviation} — {definition.title}" + ("" if scale_id in due else " (not scheduled here)")


scale_id = st.selectbox("Scale", due + others, format_func=scale_label)
definition = clinician_scales[scale_id]
recall = st.radio("Recall period", [o["id"] for o in definition.recall_options], horizontal=True,
                  index=[o["id"] for o in definition.recall_options].index(definition.default_recall),
                  format_func=lambda r: next(o["label"] for o in definition.recall_options if o["id"] == r))
infusion_number = None
if protocol.timepoint(timepoint).anchor == "each_infusion":
    infusion_number = int(st.number_input("Infusion number", min_value=1, max_value=100, value=1, step=1))

if st.button("Open the form", type="primary", use_container_width=True):
    opened = start_or_resume(user, protocol, participant["id"], timepoint, infusion_number, scale_id, recall=recall)
    if opened is not None:
        open_assessment(opened)
