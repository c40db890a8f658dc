"""Show a refused read as a message, not a traceback.

Pages read a participant's clinical data through study.records, whose functions check the one
read rule (`data.read` at the participant's site) on every call. A refusal (the account was
deactivated or moved to another site since the page was drawn, or the record is not there any
more) stops the page with the storage layer's message, which says why and what to do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import streamlit as st

from db.errors import StorageError
from ui.text import md

T = TypeVar("T")


def read_or_stop(read: Callable[[], T]) -> T:
    """`read()`'s result; on a refusal, its message on the page and the run stopped there."""
    try:
        return read()
    except StorageError as exc:
        st.error(md(exc), icon=":material/block:")
        st.stop()
        raise  # not reached: st.stop() ends this run
