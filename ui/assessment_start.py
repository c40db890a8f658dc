"""Open the assessment for a participant, planned timepoint and scale: resume it if it exists,
else start it, and record a protocol deviation when it is started outside the timepoint's
window (the rater sees a warning saying by how much)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import streamlit as st

from db import assessments, screening
from db.connection import unit_of_work
from db.errors import StorageError
from db.schedule import schedule_inputs
from protocol import Protocol
from protocol.keys import assessment_timepoint
from protocol.schedule import plan_timepoints, window_check
from scales.errors import ScaleError

WARNING_KEY = "window_warning"


def start_or_resume(user: dict[str, Any], protocol: Protocol, participant_id: int, timepoint_id: str,
                    infusion_number: int | None, scale_id: str, *, mode: str = "clinician",
                    recall: str | None = None) -> int | None:
    """The assessment id to open, or None after showing why it could not be started."""
    key = assessment_timepoint(timepoint_id, infusion_number)
    now = datetime.now(UTC)
    try:
        with unit_of_work() as db:
            existing = assessments.find_assessment(db, participant_id, key, scale_id)
            if existing is not None:
                return existing["id"]
            inputs = schedule_inputs(db, participant_id=participant_id, active_only=False)[0]
            infusion_id = next((i["id"] for i in inputs["infusions"] if i["number"] == (infusion_number or 1)), None)
            started = assessments.start_assessment(db, user, participant_id, key, scale_id, mode, recall,
                                                   infusion_id=infusion_id if timepoint_id != "baseline" else None)
            planned = next((p for p in plan_timepoints(protocol, inputs["enrolled_at"], inputs["infusions"])
                            if p.key == (timepoint_id, infusion_number)), None)
            if planned is not None and planned.scheduled:
                check = window_check(planned, now)
                if not check.inside:
                    text = f"{scale_id} at {planned.label} started {check.describe()}"
                    screening.record_deviation(db, user, participant_id, key, text, assessment_id=started["id"],
                                               minutes_early=check.minutes_early or None,
                                               minutes_late=check.minutes_late or None)
                    st.session_state[WARNING_KEY] = (f"Outside the protocol window: {text}. A protocol deviation "
                                                     "was recorded.")
            return started["id"]
    except (StorageError, ScaleError) as exc:
        st.error(str(exc))
        return None


def show_window_warning() -> None:
    message = st.session_state.pop(WARNING_KEY, None)
    if message:
        st.warning(message, icon=":material/schedule:")
