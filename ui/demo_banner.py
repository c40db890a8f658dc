"""The "synthetic demo data" banner, drawn at the top of every page when the database is the
demo's (db.demo.is_demo, the one rule; demo/ builds such a database). Called by the staff page
guard (ui.session.require_page, which also draws the sign-in screen) and by app.py before the
participant's questionnaire, so no page of a demo database shows without it."""

from __future__ import annotations

import streamlit as st

from db.connection import database_path, unit_of_work
from db.demo import DEMO_LABEL, is_demo
from db.errors import StorageError
from ui.text import md


@st.cache_data(ttl=15, show_spinner=False)
def _demo_database(path: str) -> bool:
    try:
        with unit_of_work(path, write=False) as db:
            return is_demo(db)
    except StorageError:
        return False


def render_demo_banner() -> None:
    """One line saying the data are synthetic, on a demo database; nothing otherwise."""
    if _demo_database(str(database_path())):
        st.warning(md(DEMO_LABEL), icon=":material/science:")
