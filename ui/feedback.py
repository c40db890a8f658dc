"""Run one audited write from a page and tell the user what happened, in words.

A successful write reruns the page so every table on it shows the new state, and carries its
message across the rerun; a refused write shows the storage layer's message (which says what
is wrong and how to fix it) and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from db.connection import unit_of_work
from db.errors import StorageError
from scales.errors import ScaleError

_FLASH = "flash_message"


def show_flash() -> None:
    message = st.session_state.pop(_FLASH, None)
    if message:
        st.success(message)


def run_write(action: Callable[[Any], Any], success: str) -> None:
    """Run `action(db)` in one unit of work; on success rerun with `success` shown, else show the error."""
    try:
        with unit_of_work() as db:
            action(db)
    except (StorageError, ScaleError) as exc:
        st.error(str(exc))
        return
    st.session_state[_FLASH] = success
    st.rerun()
