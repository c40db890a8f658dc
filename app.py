"""Scalebook entry point (`streamlit run app.py`).

Navigation is declared before anything else so that the page a browser asked for (e.g. a
draft at /rate?assessment=12 after a reload) is the page that runs, and that page's own guard
(ui.session.require_page) draws the sign-in screen, checks the role and draws the menu. Pages
guard themselves because Streamlit can serve a file under pages/ by URL before this script has
ever run; a signed-out visitor is given every page (each shows only the sign-in form), a
signed-in one only the pages of their role.
"""

import streamlit as st

from db.connection import database_path
from ui.navigation import PAGES, pages_for_role
from ui.participant_mode import participant_mode_active
from ui.session import current_user, ensure_database
from ui.study import current_protocol
from ui.warmup import start_warmup

st.set_page_config(page_title="Scalebook", page_icon=":material/assignment:", layout="centered")

if participant_mode_active():
    # A participant (kiosk hand-over or one-time link) reaches one page and nothing else.
    st.navigation([st.Page("pages/self_report.py", title="Questionnaire", url_path="questionnaire")],
                  position="hidden").run()
    st.stop()

ensure_database()
start_warmup(str(database_path()), current_protocol())  # once per server process: see ui/warmup.py
user = current_user()
specs = pages_for_role(user["role"]) if user else list(PAGES.values())
st.navigation([st.Page(s.path, title=s.title, icon=s.icon, url_path=s.id) for s in specs], position="hidden").run()
