"""Streamlit widgets shared by the pages. The only package besides app.py and pages/ that
may import Streamlit; everything it shows comes from domain functions."""
