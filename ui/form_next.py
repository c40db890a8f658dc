"""After a rating is submitted: the next scale due for this participant now, one tap away, and
the way back to the worklist.

What is due comes from the same schedule functions the worklist uses (db.schedule.schedule_inputs
and protocol.schedule.worklist_and_missed), so "next" here and the worklist never disagree: at
40 minutes after the infusion start, submitting the CADSS offers the BPRS, and the other way
round. Only clinician-rated scales are offered (self-report is handed to the participant).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import streamlit as st

from db.connection import unit_of_work
from db.errors import StorageError
from db.schedule import schedule_inputs
from protocol import Protocol
from protocol.schedule import WorklistRow, worklist_and_missed
from scales import clinician_scale_ids, registry
from ui.assessment_start import start_or_resume
from ui.text import md

DUE_NOW = ("overdue", "due")
WORKLIST_PAGE = "pages/worklist.py"


def next_due(
    protocol: Protocol,
    participant_id: int,
    timepoint: str | None = None,
    rated: str | None = None,
    now: datetime | None = None,
) -> list[tuple[WorklistRow, str]]:
    """(worklist row, scale id) of each clinician scale due now for this participant.

    Those of `timepoint` (the stored key just rated, e.g. 'min_40') come first, starting with the
    scale after `rated` (the scale just rated) in the protocol's list for that timepoint and
    wrapping round: at 40 minutes (MADRS, CADSS, BPRS) the CADSS is followed by the BPRS."""
    with unit_of_work(write=False) as db:
        people = schedule_inputs(db, participant_id=participant_id)
    rows, _missed = worklist_and_missed(protocol, people, now or datetime.now(UTC))
    clinician = set(clinician_scale_ids())
    due = [(row, s) for row in rows if row.state in DUE_NOW for s in row.scales if s in clinician]

    def order(pair: tuple[WorklistRow, str]) -> tuple[bool, int]:
        row, scale = pair
        listed = list(protocol.scales_due(row.timepoint_id))
        after = listed.index(rated) + 1 if rated in listed else 0
        return row.timepoint_key != timepoint, (listed.index(scale) - after) % len(listed)

    return sorted(due, key=order)


def render_next_scale(user: dict[str, Any], protocol: Protocol, assessment: dict[str, Any]) -> int | None:
    """The "next scale due now" button and "Back to the worklist"; returns the id of the
    assessment the rater opened with the first (None until tapped)."""
    if user["role"] not in ("rater", "pi"):
        return None
    try:
        due = next_due(protocol, assessment["participant_id"], assessment["timepoint"], assessment["scale_id"])
    except StorageError:
        due = []
    code = assessment["participant_code"]
    with st.container(border=True, key="form-next"):
        if due:
            row, scale_id = due[0]
            definition = registry().get(scale_id)
            name = definition.abbreviation if definition else scale_id.upper()
            infusion = f" · infusion {row.infusion_number}" if row.infusion_number else ""
            st.markdown(f"**Next scale due for {md(code)} now:** {md(name)} · {md(row.label + infusion)}")
            if len(due) > 1:
                later = ", ".join((registry()[s].abbreviation if s in registry() else s.upper()) for _r, s in due[1:])
                st.caption(f"Also due now: {md(later)}")
            if st.button(f"Rate {name} now", type="primary", key="form-next-rate", use_container_width=True):
                return start_or_resume(
                    user, protocol, assessment["participant_id"], row.timepoint_id, row.infusion_number, scale_id
                )
        else:
            st.markdown(f"Nothing else is due for {md(code)} now.")
        if st.button("Back to the worklist", key="form-next-worklist", use_container_width=True):
            st.switch_page(WORKLIST_PAGE)
    return None
