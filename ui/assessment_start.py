"""Open the assessment for a participant, planned timepoint and scale: resume it if it exists,
else start it, and record a protocol deviation when it is rated outside the timepoint's window
(the rater sees a warning saying by how much). The rule is study.assessments.find_or_start_assessment,
the one every path calls; this module only shows what it returns.

The window is checked at the time the rating HAPPENED: now for a live rating, or the time the
rater gives for one entered after the fact (`assessed_at`, e.g. a paper 24-hour MADRS typed in
on day 3, which is inside its window and no deviation)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import streamlit as st

from db.connection import unit_of_work
from db.errors import StorageError
from protocol import Protocol
from scales.errors import ScaleError
from study.assessments import find_or_start_assessment
from ui.text import md


def _warning_key(assessment_id: int) -> str:
    """The window warning belongs to the assessment it was raised for, never the next one opened."""
    return f"assessment:{assessment_id}:window-warning"


def start_or_resume(
    user: dict[str, Any],
    protocol: Protocol,
    participant_id: int,
    timepoint_id: str,
    infusion_number: int | None,
    scale_id: str,
    *,
    mode: str = "clinician",
    recall: str | None = None,
    assessed_at: datetime | None = None,
    late_entry_reason: str | None = None,
) -> int | None:
    """The assessment id to open, or None after showing why it could not be started.

    `assessed_at`: when the rating was actually done, for one entered after the fact (checked and
    stored by db.assessments, with `late_entry_reason`); None for a rating done now."""
    try:
        with unit_of_work() as db:
            # The placement and window rule live below the UI (study.assessments), shared with the
            # self-report kiosk and link and the import of transcribed ratings.
            opened = find_or_start_assessment(
                db,
                user,
                protocol,
                participant_id,
                timepoint_id,
                infusion_number,
                scale_id,
                mode=mode,
                recall=recall,
                assessed_at=assessed_at,
                late_entry_reason=late_entry_reason,
            )
        if not opened.created and assessed_at is not None:
            st.session_state[_warning_key(opened.id)] = (
                "This rating was already started, so it was opened as it is; the time it was rated that "
                "you gave was not applied to it."
            )
        if opened.deviation:
            st.session_state[_warning_key(opened.id)] = (
                f"Outside the protocol window: {opened.deviation}. A protocol deviation was recorded."
            )
        return opened.id
    except (StorageError, ScaleError) as exc:
        st.error(md(exc))
        return None


def show_window_warning(assessment_id: int) -> None:
    message = st.session_state.pop(_warning_key(assessment_id), None)
    if message:
        st.warning(md(message), icon=":material/schedule:")
