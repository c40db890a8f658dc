"""The participant picker every study page starts with, and the rule for widget keys.

`choose_participant` lists only the user's site's participants (all sites for staff without a
site), optionally of some statuses, preselected from ?participant=CODE so a link from another page
lands on the right person. The picker is a keyed widget, so the person chosen stays chosen when
the list changes under it (a new enrolment, a status change) instead of jumping to another one.

`scoped_key` is the one rule for every widget and session-state key that shows or holds one
record's data: the key names the record, so Streamlit never hands one participant's (or
assessment's, infusion's, alert's) answers to the widget drawn for another one. Without it a
widget keyed `q-age` keeps the value typed for KET-001 when the page is redrawn for KET-005, and
a form submits it as KET-005's answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import streamlit as st

from db import participants
from db.connection import unit_of_work

PICKER_KEY = "participant-picker"


def scoped_key(kind: str, entity_id: Any, name: str) -> str:
    """The Streamlit key of widget or state `name` for one record, e.g.
    `scoped_key("participant", 7, "q-age")` → "participant:7:q-age".

    Use it for every widget that shows one entity's data and for session state that belongs to
    one entity. When the page switches to another record the key changes, so the widget starts
    from that record's stored value (its `value`/`index` argument) or empty, never from what was
    shown for the previous record; coming back starts again from the stored value. Put a version
    in `name` (e.g. f"amend-v{version}") to start afresh after each successful save.
    """
    if entity_id is None or str(entity_id) == "":
        raise ValueError(f"scoped_key({kind!r}, …, {name!r}) needs the id of the record the widget shows")
    return f"{kind}:{entity_id}:{name}"


def choose_participant(
    user: dict[str, Any], *, statuses: Iterable[str] | None = None, empty: str = "No participants yet."
) -> dict[str, Any]:
    """The chosen participant; with none to choose from, says `empty` and stops the page.

    The first run on a page preselects ?participant=CODE when it names one of the listed people,
    else the first one; after that the user's choice stands (a keyed widget).
    """
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
    code = st.selectbox("Participant", codes, index=codes.index(requested) if requested in codes else 0, key=PICKER_KEY)
    with unit_of_work(write=False) as db:
        return participants.get_participant(db, people[codes.index(code)][0])
