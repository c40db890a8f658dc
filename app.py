"""Scalebook entry point (`streamlit run app.py`).

Navigation is declared before anything else so that the page a browser asked for (e.g. a
draft at /rate?assessment=12 after a reload) is the page that runs, and that page's own guard
(ui.session.require_page) draws the sign-in screen, checks the role and draws the menu. Pages
guard themselves because Streamlit can serve a file under pages/ by URL before this script has
ever run; a signed-out visitor is given every page (each shows only the sign-in form), a
signed-in one only the pages of their role.

`streamlit run app.py` imports this file once as the web server's module: `app` at the bottom is
the ASGI app (ui/server.py: the headers that keep other sites from framing Scalebook, the
metrics endpoint closed). Every session then runs the file as the script (`__main__`), which is
`main()`.
"""

from pathlib import Path

import streamlit as st

from db.connection import database_path
from ui.demo_banner import render_demo_banner
from ui.layout import apply_layout
from ui.navigation import PAGES, pages_for_role
from ui.page_request import follow_page_request
from ui.session import check_user_for_this_run, ensure_database, participant_mode_active
from ui.study import current_protocol
from ui.warmup import start_warmup

FAVICON = Path(__file__).resolve().parent / "ui" / "favicon.svg"


def main() -> None:
    """One run of the app for one session: the page asked for, or the sign-in screen."""
    # The tab icon is a file of ours, sent inline: a ":material/...:" page icon is fetched from
    # fonts.gstatic.com by every browser that opens the app (issue 13 item 14).
    st.set_page_config(page_title="Scalebook", page_icon=str(FAVICON), layout="centered")

    if participant_mode_active():
        # A participant (kiosk hand-over or one-time link) reaches one page and nothing else.
        render_demo_banner()  # on a demo database the participant's page says so too
        st.navigation(
            [st.Page("pages/self_report.py", title="Questionnaire", url_path="questionnaire")], position="hidden"
        ).run()
        st.stop()

    ensure_database()
    start_warmup(str(database_path()), current_protocol())  # once per server process: see ui/warmup.py
    user = check_user_for_this_run()
    if user is not None:
        follow_page_request()  # a callback's "open this page": before anything is drawn (ui/page_request.py)
    specs = pages_for_role(user["role"]) if user else list(PAGES.values())
    page = st.navigation([st.Page(s.path, title=s.title, icon=s.icon, url_path=s.id) for s in specs], position="hidden")
    apply_layout(page.url_path)  # the menu collapsed on the form and review pages; a compact top
    page.run()


if __name__ == "__main__":
    main()
else:
    # Written out as st.App(...): `streamlit run` finds the ASGI app by reading this file.
    from ui.preload import prepare_and_log
    from ui.server import middleware

    # Before the server answers anyone: imports, database check, protocol, warm-up (ui/preload.py),
    # so the first visitor after a restart does not wait for them.
    prepare_and_log(Path(__file__).resolve().parent)
    app = st.App(__file__, middleware=middleware())
