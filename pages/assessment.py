"""Assessments: open any assessment of a participant to see its answers, stored score, signatures
and full audit history; raters and the PI amend with a reason, the PI locks. Locked assessments
are read-only (and the database refuses changes to them even if this page did not).

The page stays on the record acted on: the chosen assessment is remembered per participant and
the picker is keyed by participant (its labels change with the status, e.g. "signed" → "locked",
which would otherwise make Streamlit reset it to another assessment), and every amend and lock
widget is keyed by the assessment id, so a save always targets the assessment shown. A refused
amendment keeps what the user chose and shows why right under the form until the next try.

The audit history is drawn only for roles `db.permissions.may_read_audit` allows (the same rule
as the certified copy on the trajectory page). An assessment whose scale definition file is no
longer installed opens read-only, from what is stored, with a note saying so (it cannot be
rescored, so it cannot be amended here). Every stored or typed text is shown through ui.text.md.
The assessments and their history are read through study.records, which checks the one read
rule (`data.read` at the participant's site; `audit.read` as well for the history)."""

import pandas as pd
import streamlit as st

from db import assessments
from db.connection import unit_of_work
from db.permissions import allowed, may_read_audit
from protocol.keys import timepoint_label
from scales import get_scale, registry
from scales.errors import ScaleError
from study import records
from ui.feedback import run_write, show_feedback, show_flash
from ui.form_text import action_label, audit_value, item_name, mode_label, recall_label, scale_name, value_label
from ui.pickers import choose_participant, scoped_key
from ui.reads import read_or_stop
from ui.scale_form import render_result
from ui.session import require_page
from ui.study import current_protocol
from ui.text import md
from ui.timefmt import local_time

user = require_page("assessment")
protocol = current_protocol()
st.title("Assessments")
show_flash()

participant = choose_participant(user)
code = participant["code"]
with unit_of_work(write=False) as db:
    rows = read_or_stop(lambda: records.list_assessments(db, user, participant["id"]))
if not rows:
    st.info(f"No assessments for {md(code)} yet.")
    st.stop()


def describe(row) -> str:
    scale = registry().get(row["scale_id"])
    return f"{timepoint_label(protocol, row['timepoint'])} · {scale_name(scale, row['scale_id'])} · {row['status']}"


def field_name(field: str | None) -> str:
    """An audited field in words: an item as "item 4 (Reduced sleep)"; other fields spelled out."""
    return "" if not field else item_name(definition, field)


def tp_label(timepoint: str) -> str:
    return timepoint_label(protocol, timepoint)


ids = [r["id"] for r in rows]
by_id = {r["id"]: r for r in rows}
picker_key = scoped_key("participant", participant["id"], "assessment-picker")
chosen_key = scoped_key("participant", participant["id"], "assessment")  # survives reruns and page changes
current = st.session_state.get(picker_key)
if current not in by_id:  # first visit, or the label sent back by the browser changed with the status
    kept = st.session_state.get(chosen_key)
    current = kept if kept in by_id else ids[-1]
st.session_state[picker_key] = current  # set on every run, so the box shows the current label ("… · locked")
choice = st.selectbox("Assessment", ids, format_func=lambda i: describe(by_id[i]), key=picker_key)
st.session_state[chosen_key] = choice
read_audit = may_read_audit(user)  # the one rule for audit history, on every page
with unit_of_work(write=False) as db:
    assessment = read_or_stop(lambda: records.load_assessment(db, user, choice))
    history = read_or_stop(lambda: records.assessment_history(db, user, choice)) if read_audit else []
try:
    definition = get_scale(assessment["scale_id"])
except ScaleError:  # its definition file was removed (or is broken): show what is stored, change nothing
    definition = None
title = scale_name(definition, assessment["scale_id"])

st.subheader(md(f"{title} · {timepoint_label(protocol, assessment['timepoint'])}"))
st.caption(
    md(
        f"Status {assessment['status']} · version {assessment['version']} · rater {assessment['rater'] or '—'} · "
        f"{mode_label(assessment['mode'])} · recall {recall_label(definition, assessment['recall'])} · "
        f"started {local_time(assessment['started_at'], protocol.timezone)}"
    )
)
if assessment["assessed_at"]:  # a rating entered after it happened (paper source): both times, and why
    st.caption(
        f"**Entered later** · rated {md(local_time(assessment['assessed_at'], protocol.timezone))} · "
        f"reason: {md(assessment['late_entry_reason'] or '—')}"
    )
if definition is None:
    st.warning(
        md(
            f"The definition of scale {title} (version {assessment['scale_version']}) is not "
            "installed on this server any more, so this assessment is shown read-only, as stored: answers by "
            "item id and the score kept when it was scored. It cannot be amended or locked until the "
            "definition file is restored; tell the data manager."
        ),
        icon=":material/visibility:",
    )
render_result(assessment["score"], definition)

answers = []
if definition is not None:
    for item in definition.items:
        value = assessment["responses"].get(item.id)
        answers.append(
            {
                "item": item.number,
                "name": item.short_name,
                "value": "" if value is None else value,
                "answer": value_label(definition, item.id, value),
                "not-assessed reason": assessment["not_assessed_reasons"].get(item.id, ""),
            }
        )
else:
    for item_id, value in assessment["responses"].items():
        answers.append(
            {
                "item": item_id,
                "value": "" if value is None else value,
                "not-assessed reason": assessment["not_assessed_reasons"].get(item_id, ""),
            }
        )
st.dataframe(pd.DataFrame(answers), hide_index=True, use_container_width=True)

for signature in assessment["signatures"]:
    st.caption(
        md(
            f"Signed by {signature['username']} ({signature['meaning']}) at "
            f"{local_time(signature['signed_at'], protocol.timezone)}, version {signature['assessment_version']}"
        )
    )

if read_audit:
    with st.expander("History (audit trail)", expanded=assessment["status"] == "amended"):
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "when": local_time(e["ts"], protocol.timezone),
                        "who": e["username"],
                        "action": action_label(e["action"]),
                        "item": field_name(e["field"]),
                        "old": "" if e["old_value"] is None else audit_value(definition, e["old_value"], tp_label),
                        "new": "" if e["new_value"] is None else audit_value(definition, e["new_value"], tp_label),
                        "reason": e["reason"] or "",
                    }
                    for e in history
                ]
            ),
            hide_index=True,
            use_container_width=True,
        )
else:
    st.caption(
        "The audit history of this assessment is shown to the PI, monitors and admins (who may read the "
        "audit trail); every change is recorded in it."
    )

aid = assessment["id"]
lock_place = scoped_key("assessment", aid, "lock")
if definition is None:
    st.stop()
if assessment["status"] == "locked":
    show_feedback(lock_place)
    st.info("This assessment is locked: it can no longer be changed.")
    st.stop()
if assessment["status"] == "draft":
    st.info("This is a draft; open it on the Rate page to continue.")
    st.stop()

if allowed(user["role"], "assessment.amend"):
    st.subheader("Amend a rating")
    item_id = st.selectbox(
        "Item to amend",
        [i.id for i in definition.items],
        key=scoped_key("assessment", aid, "amend-item"),
        format_func=lambda i: f"{definition.item_by_id[i].number}. {definition.item_by_id[i].short_name}",
    )
    item = definition.item_by_id[item_id]
    options = {o["value"]: o["label"] for o in (*item.options, *item.not_assessed)}
    values = list(options)
    stored = assessment["responses"].get(item_id)
    amend_place = scoped_key("assessment", aid, "amend")
    # Not cleared on submit: after a refusal the form still shows what the user chose. The keys
    # carry the version, so after a saved amendment the form starts again from the stored values.
    with st.form(scoped_key("assessment", aid, "amend-form")):
        new_value = st.selectbox(
            "New value",
            values,
            index=values.index(stored) if stored in values else 0,
            key=scoped_key("assessment", aid, f"amend-v{assessment['version']}-{item_id}"),
            format_func=lambda v: value_label(definition, item_id, v),
        )
        reason = st.text_input(
            "Reason for the change (required; kept in the audit trail)",
            key=scoped_key("assessment", aid, f"amend-v{assessment['version']}-reason"),
        )
        submitted = st.form_submit_button("Save the amendment", type="primary")
    if submitted:
        run_write(
            lambda db: assessments.amend_assessment(
                db, user, aid, {item_id: new_value}, reason, expected_version=assessment["version"]
            ),
            f"Item {item.number} amended; the score was recomputed and the change is recorded in the audit trail.",
            place=amend_place,
        )
    show_feedback(amend_place)

if allowed(user["role"], "assessment.lock"):
    lock_reason = st.text_input("Reason for locking (optional)", key=scoped_key("assessment", aid, "lock-reason"))
    if st.button("Lock this assessment", key=scoped_key("assessment", aid, "lock-button")):
        run_write(
            lambda db: assessments.lock_assessment(db, user, aid, assessment["version"], lock_reason or None),
            "Assessment locked.",
            place=lock_place,
        )
    show_feedback(lock_place)
