"""Tablet styling: tap targets of at least 44 px (WCAG 2.5.5 / Apple HIG), readable type, and the
rater's compact form.

Injected once per run by the pages that show forms; the selectors are Streamlit's stable
data-testid attributes and the `st-key-<key>` classes of keyed containers, so no layout is
rebuilt by hand and every widget stays a Streamlit widget (an `st.radio` stays a radio group for
screen readers and tests).

The scale form (ui.scale_form) is laid out so that each item fits one screen of a tablet:
- an item's answer options are a grid of large cards, as many per row as fit (at least 112 px
  wide), each card the whole tap target, with its score, words and anchor text inside;
- the heading row carries the item's name, the interview guide (a popover: one tap) and "Not
  assessed"; the prompt is the options' label, right above them;
- the header with progress (`st-key-form-head`) sticks to the top of the scrolling page
  (FORM_PAGE_CSS, drawn with that header).
"""

import streamlit as st

from ui.layout import HEADER_HEIGHT_REM

TABLET_CSS = """
<style>
/* Every radio option is at least 48 px high: a finger, not a mouse. */
div[data-testid="stRadio"] label[data-testid="stRadioOption"] {
  min-height: 48px; width: 100%; padding: 6px 10px; margin: 2px 0;
  border: 1px solid rgba(49, 51, 63, 0.2); border-radius: 8px; align-items: center;
}
div[data-testid="stRadio"] label[data-testid="stRadioOption"]:has(input:checked) {
  border: 2px solid #1f4e9c; background: #eaf0fb;
}
div[data-testid="stRadio"] [data-testid="stRadioGroup"] {
  gap: 0; width: 100%; display: flex; flex-direction: column; align-items: stretch;
}
div[data-testid="stButton"] button, div[data-testid="stFormSubmitButton"] button,
div[data-testid="stPopover"] button {
  min-height: 48px; min-width: 48px;
}
div[data-testid="stCheckbox"] label { min-height: 44px; align-items: center; }

/* ---- the rater's scale form ---------------------------------------------------------------- */
.st-key-form-head {
  background: var(--background-color, #fff); background-color: rgb(255, 255, 255);
  border-bottom: 1px solid rgba(49, 51, 63, 0.2); padding: 6px 0 6px 0; gap: 4px;
}
.st-key-form-head div[data-testid="stMarkdownContainer"] p { margin: 0; }
.st-key-form-head div[data-testid="stMarkdownContainer"] { margin-bottom: 0; }
.st-key-form-chips { flex-wrap: wrap; align-items: center; gap: 4px 6px; min-height: 44px; }
.st-key-form-chips div[data-testid="stButton"] button {
  min-height: 44px; min-width: 44px; padding: 0 8px;
}
[class*="st-key-chip-answered-"] button { background: #eaf0fb; border-color: #1f4e9c; }
[class*="st-key-chip-not_assessed-"] button { background: #f3f3f3; color: #555; border-style: dashed; }
[class*="st-key-chip-unanswered-"] button { border: 2px solid #c26a00; }

/* An item card (ui.scale_form): one wrapping row, tight spacing. Its heading, guide and "Not
   assessed" share the first line; the options (labelled with the prompt), the reason for "not
   assessed" and any message take whole lines. */
[class*="st-key-item-"] { gap: 4px 8px; padding: 8px 10px; flex-wrap: wrap; }
[class*="st-key-item-"] > .stElementContainer[class*="st-key-v-"],
[class*="st-key-item-"] > .stElementContainer[class*="st-key-v-"] ~ * { flex: 1 1 100%; width: 100%; }
[class*="st-key-item-"] div[data-testid="stRadio"] > [data-testid="stWidgetLabel"] p {
  font-size: 0.875rem; color: rgba(49, 51, 63, 0.6);
}
[class*="st-key-item-"] div[data-testid="stPopover"] button { min-height: 44px; }

/* Its options: cards in one row when the form is wide enough, else a grid of cards at least
   112 px wide. The label's ::after covers the whole card, so a tap anywhere on it (anchor text
   included) picks that option. */
[class*="st-key-item-"] div[data-testid="stRadio"] { container-type: inline-size; width: 100%; }
[class*="st-key-item-"] div[data-testid="stRadio"] [data-testid="stRadioGroup"] {
  display: grid; grid-template-columns: repeat(auto-fit, minmax(112px, 1fr)); gap: 6px;
}
@container (min-width: 560px) {
  [class*="st-key-item-"] div[data-testid="stRadio"] [data-testid="stRadioGroup"] {
    display: flex; flex-direction: row; flex-wrap: nowrap; align-items: stretch;
  }
  [class*="st-key-item-"] div[data-testid="stRadioGroup"] > div { flex: 1 1 0; min-width: 0; }
  [class*="st-key-item-"] div[data-testid="stRadioGroup"] > div:not(:has([data-testid="stRadioCaption"] p)) {
    flex: 0.6 1 0;
  }
}
[class*="st-key-item-"] div[data-testid="stRadioGroup"] > div {
  position: relative; padding: 0 6px 6px 6px; min-height: 48px;
  border: 1px solid rgba(49, 51, 63, 0.25); border-radius: 8px;
}
[class*="st-key-item-"] div[data-testid="stRadioGroup"] > div:has(input:checked) {
  border: 2px solid #1f4e9c; background: #eaf0fb;
}
[class*="st-key-item-"] div[data-testid="stRadioGroup"] > div:has(input:disabled) { opacity: 0.6; }
[class*="st-key-item-"] div[data-testid="stRadio"] label[data-testid="stRadioOption"],
[class*="st-key-item-"] div[data-testid="stRadio"] label[data-testid="stRadioOption"]:has(input:checked) {
  position: static; margin: 0; padding: 4px 0 2px 0; min-height: 0;
  border: none; background: transparent; align-items: flex-start;
}
[class*="st-key-item-"] label[data-testid="stRadioOption"]::after {
  content: ""; position: absolute; inset: 0; border-radius: 8px;
}
[class*="st-key-item-"] label[data-testid="stRadioOption"] p { font-weight: 600; line-height: 1.2; overflow-wrap: normal; }
/* The card's border and colour show the choice: the small radio circle would only take width. */
[class*="st-key-item-"] label[data-testid="stRadioOption"] > div > div:first-child:not([data-testid]) { display: none; }
[class*="st-key-item-"] div[data-testid="stRadioCaption"] { padding: 0; margin: 0; }
[class*="st-key-item-"] div[data-testid="stRadioCaption"] p { font-size: 0.78rem; line-height: 1.2; margin: 0; }
</style>
"""


#: The page around a draft form: the whole width (the menu starts collapsed there: ui.layout), so
#: wider option cards wrap their anchor text onto fewer lines and each item is shorter; the
#: progress header (`st-key-form-head`) stays at the top of the scrolling page, right under
#: Streamlit's header bar (ui.layout sets its height; it holds the button that opens the menu, so
#: it stays on top). Streamlit wraps a keyed container in a layout wrapper of the same size: the
#: wrapper sticks. With the menu open (`data-collapsed="false"` on the sidebar, whose sibling holds
#: the page) that bar is transparent and lets taps through, so the header goes to the very top.
#: Drawn with the header (ui.form_focus), so no rule has to ask whether the page holds a form: a
#: rule like `.stApp:has(...)` is checked again on every change anywhere in the page, and a tap
#: makes over a hundred (issue 16 item 9).
FORM_PAGE_CSS = """
<style>
.stMainBlockContainer {
  max-width: 100%; padding: calc(HEADER_HEIGHTrem + 0.5rem) 1.5rem 6rem 1.5rem;
}
[data-testid="stSidebar"][data-collapsed="false"] ~ div .stMainBlockContainer { padding-top: 1rem; }
div[data-testid="stLayoutWrapper"]:has(> .st-key-form-head) {
  position: sticky; top: HEADER_HEIGHTrem; z-index: 50;
}
[data-testid="stSidebar"][data-collapsed="false"] ~ div div[data-testid="stLayoutWrapper"]:has(> .st-key-form-head) {
  top: 0;
}
/* Less space between the form's blocks: the cards' borders separate them. */
.stMainBlockContainer div[data-testid="stVerticalBlock"] { gap: 0.5rem; }
</style>
""".replace("HEADER_HEIGHT", str(HEADER_HEIGHT_REM))


def apply_tablet_style() -> None:
    st.html(TABLET_CSS)


def apply_form_page_style() -> None:
    """The page around a draft form (FORM_PAGE_CSS); drawn with the form's sticky header."""
    st.html(FORM_PAGE_CSS)
