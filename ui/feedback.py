"""Run one audited write from a page and tell the user what happened, in words, where they look.

A successful write reruns the page so every table on it shows the new state, and carries its
message across the rerun; a refused write shows the storage layer's message (which says what
is wrong and how to fix it) and changes nothing.

Where the message appears. Pass `place` (a key naming the control and the record it acts on,
built with ui.pickers.scoped_key, e.g. scoped_key("assessment", 12, "amend")) and call
`show_feedback(place)` right under that button or form, after the code that handles its click
(the message of this very run is then drawn too): a refusal then shows there, next to the
control that caused it, and STAYS on every rerun (another tap elsewhere on the page does not wipe
it) until the same action is tried again; the success message shows there once after the rerun.
Without `place`, an error shows where `run_write` was called, for that run only, and the success
message goes to the top of the page (`show_flash`).

Every message drawn here is plain text (ui.text.md): success messages name what was typed (a
code, a term, a user name) and refusals repeat the input that was wrong, so none of it may be read
as Markdown. Callers pass raw text and never escape it themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from db.connection import unit_of_work
from db.errors import StorageError
from scales.errors import ScaleError
from ui.text import md

_FLASH = "flash_message"
_PLACED_FLASH = "flash-at:"
_PLACED_ERROR = "error-at:"


def show_flash() -> None:
    """The success message of a write run without a `place` (top of the page)."""
    message = st.session_state.pop(_FLASH, None)
    if message:
        st.success(md(message))


def set_error(place: str, message: str) -> None:
    """Keep `message` under `place` until the action there is tried again (a page's own check,
    e.g. a required note, shown like a refusal from the storage layer)."""
    st.session_state[_PLACED_ERROR + place] = message


def clear_error(place: str) -> None:
    """Forget the error kept under `place` (the user acted on it)."""
    st.session_state.pop(_PLACED_ERROR + place, None)


def show_feedback(place: str) -> None:
    """Draw, here, the message of the last action at `place`: its success once (after the rerun
    that follows a write), or its refusal for as long as it stands."""
    message = st.session_state.pop(_PLACED_FLASH + place, None)
    if message:
        st.success(md(message))
    error = st.session_state.get(_PLACED_ERROR + place)
    if error:
        st.error(md(error), icon=":material/error:")


_SAME = object()


def run_write(
    action: Callable[[Any], Any], success: str, *, place: str | None = None, success_place: Any = _SAME
) -> bool:
    """Run `action(db)` in one unit of work; on success rerun with `success` shown, else show the error.

    With `place`, the error is kept for `show_feedback(place)` (which the page calls right under
    the control) instead of being drawn here. `success_place` is where the success message shows
    after the rerun: `place` unless given; None sends it to the top of the page (`show_flash`),
    for a control that is gone once the action succeeded (e.g. an alert acknowledged leaves the
    list). Returns False after a refusal (a success reruns the page and never returns).
    """
    if success_place is _SAME:
        success_place = place
    if place is not None:
        clear_error(place)
    try:
        with unit_of_work() as db:
            action(db)
    except (StorageError, ScaleError) as exc:
        if place is None:
            st.error(md(exc))
        else:
            set_error(place, str(exc))
        return False
    if success_place is None:
        st.session_state[_FLASH] = success
    else:
        st.session_state[_PLACED_FLASH + success_place] = success
    st.rerun()
    return True  # not reached: st.rerun() ends this run
