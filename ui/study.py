"""The study protocol as the pages see it: loaded once per server process (it is a file that
changes only with a deployment), validated at start so a broken file stops the app with a
message instead of a half-working schedule."""

import streamlit as st

from protocol import ProtocolError, load_protocol


@st.cache_resource(show_spinner=False)
def _load():
    return load_protocol()


def current_protocol():
    try:
        return _load()
    except ProtocolError as exc:
        st.error(f"The study protocol file is not valid: {exc}")
        st.stop()
