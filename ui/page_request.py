"""A widget callback's request to open another page, followed before anything is drawn.

Streamlit cannot switch pages inside a callback. Without this, the page that drew the button runs
again in full (its guard, menu, alert banner and content) only to call `st.switch_page` at the
end, and the rater waits for two page runs (issue 16 item 9). A callback calls `request_page`
instead; app.py follows the request at the start of the next run, right after checking who is
signed in, and the page that made it also follows it first thing (for a run without app.py). The
page opened runs its own guard, so a request never opens a page the role may not see.
"""

from __future__ import annotations

from collections.abc import Mapping

import streamlit as st

REQUEST_KEY = "page_request"


def request_page(path: str, query_params: Mapping[str, str] | None = None) -> None:
    """From a callback: open `path` (a file under pages/) with these query parameters next."""
    st.session_state[REQUEST_KEY] = (path, dict(query_params or {}))


def follow_page_request() -> None:
    """Open the page a callback asked for, if any (st.switch_page: this run ends here)."""
    request = st.session_state.pop(REQUEST_KEY, None)
    if request is not None:
        path, query_params = request
        st.switch_page(path, query_params=query_params)
