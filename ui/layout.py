"""The frame of every staff page on a tablet: where the menu starts, and how much room the top of
the page takes.

The menu (the sidebar ui.session.render_menu draws) starts:
- collapsed on the pages where a rater has a participant in front of them: the rating form and
  the assessment review (`COLLAPSED_MENU_PAGES`), at any width, so the form has the whole screen
  (in portrait an open menu left a chart 45 px wide); the menu is one tap away (the arrow at the
  top left);
- elsewhere "auto": Streamlit's own rule, collapsed when the viewport is narrow (at most 768 px
  wide, a tablet in portrait) and open otherwise.
Both are the public `st.set_page_config(initial_sidebar_state=...)`, set per page by app.py.

The top of the page: Streamlit leaves 6rem (96 px) above the first element of a centered page for
its header bar. `LAYOUT_CSS` keeps the header (it holds the arrow that opens the menu) but makes
it shorter, and starts the page's content right below it, so the title is in the first 100 px.
The selectors are Streamlit's stable data-testid attributes.
"""

from __future__ import annotations

from typing import Literal

import streamlit as st

#: Pages (ui.navigation ids) whose menu starts collapsed at any width.
COLLAPSED_MENU_PAGES = frozenset({"rate", "assessment"})

#: The header bar's height and the room above a page's first element.
HEADER_HEIGHT_REM = 2.75
CONTENT_TOP_REM = 3.0

LAYOUT_CSS = f"""
<style>
header[data-testid="stHeader"] {{ height: {HEADER_HEIGHT_REM}rem; min-height: {HEADER_HEIGHT_REM}rem; }}
[data-testid="stMainBlockContainer"] {{ padding-top: {CONTENT_TOP_REM}rem; }}
[data-testid="stSidebarHeader"] {{ height: {HEADER_HEIGHT_REM}rem; margin-bottom: 0.5rem; }}
</style>
"""


def menu_state(page_id: str | None) -> Literal["auto", "collapsed"]:
    """How the menu starts on a page: collapsed on the form and review pages, else auto."""
    return "collapsed" if page_id in COLLAPSED_MENU_PAGES else "auto"


def apply_layout(page_id: str | None) -> None:
    """Set the menu's starting state for the page about to run, and the top-of-page style."""
    st.set_page_config(initial_sidebar_state=menu_state(page_id))
    st.html(LAYOUT_CSS)
