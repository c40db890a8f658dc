"""The participant picker every study page starts with: only the user's site's participants
(all sites for staff without a site), optionally of some statuses, preselected from
?participant=CODE so a link from another page lands on the right person."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import streamlit as st

from db import participants
from db.connection import unit_of_work


def choose_participant(user: dict[str, Any], *, statuses: Iterable[str] | None = None,
                       empty: str = "No participants yet.") -> dict[str, Any]:
    """The chosen participant; with none to choose from, says `empty` and stops the page."""
    with unit_of_work(write=False) as db:
        people = participants.participant_codes(db, site=user["site_id"])
    if statuses is not None:
        wanted = set(statuses)
        people = [p for p in people if p[2] in wanted]
    if not people:
        st.info(empty)
        st.stop()
    codes = [code for _, code, _ in people]
    requested = st.query_params.get("participant")
    code = st.selectbox("Participant", codes, index=codes.index(requested) if requested in codes else 0)
    with unit_of_work(write=False) as db:
        return participants.get_participant(db, people[codes.index(code)][0])
