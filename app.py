"""Scalebook entry point: `streamlit run app.py`."""

import streamlit as st

from ui.scale_library import render_library

st.set_page_config(page_title="Scalebook", layout="wide")
st.title("Scalebook — scale library")
render_library()
