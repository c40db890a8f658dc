"""Assessments: open any assessment of a participant to see its answers, stored score, signatures
and full audit history; raters and the PI amend with a reason, the PI locks. Locked assessments
are read-only (and the database refuses changes to them even if this page did not)."""

import pandas as pd
import streamlit as st

from db import assessments, audit
from db.connection import unit_of_work
from db.permissions import allowed
from protocol.keys import timepoint_label
from scales import get_scale
from ui.feedback import run_write, show_flash
from ui.pickers import choose_participant
from ui.scale_form import render_result
from ui.session import require_page
from ui.study import current_protocol
from ui.timefmt import local_time

user = require_page("assessment")
protocol = current_protocol()
st.title("Assessments")
show_flash()

participant = choose_participant(user)
code = participant["code"]
with unit_of_work(write=False) as db:
    rows = assessments.list_assessments(db, participant_id=participant["id"])
if not rows:
    st.info(f"No assessments for {code} yet.")
    st.stop()


def describe(row) -> str:
    return f"{timepoint_label(protocol, row['timepoint'])} · {row['scale_id']} · {row['status']}"


choice = st.selectbox("Assessment", [r["id"] for r in rows], format_func=lambda i: describe(next(r for r in rows if r["id"] == i)),
                      index=len(rows) - 1)
with unit_of_work(write=False) as db:
    assessment = assessments.load_assessment(db, choice)
    history = audit.events_for(db, "assessment", choice)
definition = get_scale(assessment["scale_id"])

st.subheader(f"{definition.abbreviation} · {timepoint_label(protocol, assessment['timepoint'])}")
st.caption(f"Status {assessment['status']} · version {assessment['version']} · rater {assessment['rater'] or '—'} · "
           f"mode {assessment['mode']} · recall {assessment['recall']} · started {local_time(assessment['started_at'], protocol.timezone)}")
render_result(assessment["score"], definition)

answers = []
for item in definition.items:
    value = assessment["responses"].get(item.id)
    label = next((o["label"] for o in (*item.options, *item.not_assessed) if o["value"] == value), "")
    answers.append({"item": item.number, "name": item.short_name, "value": "" if value is None else value,
                    "answer": label, "not-assessed reason": assessment["not_assessed_reasons"].get(item.id, "")})
st.dataframe(pd.DataFrame(answers), hide_index=True, use_container_width=True)

for signature in assessment["signatures"]:
    st.caption(f"Signed by {signature['username']} ({signature['meaning']}) at "
               f"{local_time(signature['signed_at'], protocol.timezone)}, version {signature['assessment_version']}")

with st.expander("History (audit trail)", expanded=assessment["status"] == "amended"):
    st.dataframe(
        pd.DataFrame(
            [{"when": local_time(e["ts"], protocol.timezone), "who": e["username"], "action": e["action"],
              "item": e["field"] or "", "old": "" if e["old_value"] is None else str(e["old_value"]),
              "new": "" if e["new_value"] is None else str(e["new_value"]), "reason": e["reason"] or ""}
             for e in history]
        ),
        hide_index=True, use_container_width=True,
    )

if assessment["status"] == "locked":
    st.info("This assessment is locked: it can no longer be changed.")
    st.stop()
if assessment["status"] == "draft":
    st.info("This is a draft; open it on the Rate page to continue.")
    st.stop()

if allowed(user["role"], "assessment.amend"):
    st.subheader("Amend a rating")
    item_id = st.selectbox("Item to amend", [i.id for i in definition.items],
                           format_func=lambda i: f"{definition.item_by_id[i].number}. {definition.item_by_id[i].short_name}")
    item = definition.item_by_id[item_id]
    options = {o["value"]: o["label"] for o in (*item.options, *item.not_assessed)}
    with st.form("amend", clear_on_submit=True):
        new_value = st.selectbox("New value", list(options), format_func=lambda v: options[v] if options[v].startswith(str(v)) else f"{v} – {options[v]}")
        reason = st.text_input("Reason for the change (required; kept in the audit trail)")
        if st.form_submit_button("Save the amendment", type="primary"):
            run_write(
                lambda db: assessments.amend_assessment(db, user, assessment["id"], {item_id: new_value}, reason,
                                                        expected_version=assessment["version"]),
                f"Item {item.number} amended; the score was recomputed and the change is in the history.",
            )

if allowed(user["role"], "assessment.lock"):
    lock_reason = st.text_input("Reason for locking (optional)", key="lock_reason")
    if st.button("Lock this assessment"):
        run_write(lambda db: assessments.lock_assessment(db, user, assessment["id"], assessment["version"],
                                                         lock_reason or None), "Assessment locked.")
