"""Participant self-report (kiosk hand-over and one-time links): the pure logic and every
participant-facing string. No Streamlit and no database here (the same ruff rule as for the
other domain packages): `selfreport.flow` decides which screen comes next, `selfreport.support`
fills in the study's supportive text, `selfreport.strings` holds the words, ready for translation.
"""

from selfreport.strings import LANGUAGES, STRINGS, text

__all__ = ["LANGUAGES", "STRINGS", "text"]
