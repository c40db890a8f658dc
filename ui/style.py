"""Tablet styling: tap targets of at least 44 px (WCAG 2.5.5 / Apple HIG), readable type.

Injected once per run by the pages that show forms; the selectors are Streamlit's stable
data-testid attributes, so no layout is rebuilt by hand.
"""

import streamlit as st

TABLET_CSS = """
<style>
/* Every radio option is a full-width row at least 48 px high: a finger, not a mouse. */
div[data-testid="stRadio"] label[data-testid="stRadioOption"],
div[data-testid="stRadio"] label[data-baseweb="radio"] {
  min-height: 48px; width: 100%; padding: 6px 10px; margin: 2px 0;
  border: 1px solid rgba(49, 51, 63, 0.2); border-radius: 8px; align-items: center;
}
div[data-testid="stRadio"] label[data-testid="stRadioOption"]:has(input:checked),
div[data-testid="stRadio"] label[data-baseweb="radio"]:has(input:checked) {
  border: 2px solid #1f4e9c; background: #eaf0fb;
}
div[data-testid="stRadio"] [data-testid="stRadioGroup"],
div[data-testid="stRadio"] div[role="radiogroup"] {
  gap: 0; width: 100%; display: flex; flex-direction: column; align-items: stretch;
}
div[data-testid="stButton"] button, div[data-testid="stFormSubmitButton"] button {
  min-height: 48px; min-width: 48px;
}
div[data-testid="stCheckbox"] label { min-height: 44px; align-items: center; }
</style>
"""


def apply_tablet_style() -> None:
    st.html(TABLET_CSS)
