"""The study protocol as the pages see it: loaded once per server process and version of the file
(it changes only with a deployment) and of the scale definitions it names, validated so that a
broken file stops the pages with one message instead of a half-working schedule."""

import streamlit as st

from protocol import ProtocolError, load_protocol
from protocol.loader import protocol_version
from ui.text import md


@st.cache_resource(show_spinner=False, max_entries=4)
def _load(version: tuple = ()):
    return load_protocol()


def current_protocol():
    # Keyed by the protocol file and the scale definition files (protocol.loader.protocol_version):
    # a definition file broken while the server runs turns into this one message on every page,
    # not a scale missing under a page that still holds the protocol validated before.
    try:
        return _load(protocol_version())
    except ProtocolError as exc:
        st.error(md(f"The study protocol file is not valid: {exc}"))
        st.stop()
