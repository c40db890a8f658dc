"""Render the scale library: every shipped definition with its items, options and scoring rules.

Read-only reference material (no participant data), drawn straight from the definitions so
that what a rater reads here is what the engine scores.
"""

from collections.abc import Mapping
from typing import Any

import streamlit as st

from scales import ScaleDefinition, registry
from scales.loader import skipped_definitions
from ui.text import md


def _range_text(definition: ScaleDefinition) -> str:
    return f"{definition.total_min}–{definition.total_max}"


def render_scale(definition: ScaleDefinition) -> None:
    raw = definition.raw
    st.markdown(f"**{definition.title}** · version {definition.version} · rated by {definition.rater}")
    st.caption(
        f"Recall: {', '.join(o['label'] for o in definition.recall_options)} · "
        f"total {_range_text(definition)} · `{definition.hash[:19]}…`"
    )
    st.write(raw["instructions"])
    for band_set_id, bands in definition.band_sets.items():
        st.caption(f"Bands ({band_set_id}): " + "; ".join(f"{b['min']}–{b['max']} {b['label']}" for b in bands))
    for sub in definition.subscales:
        st.caption(f"Subscale {sub.label}: items {', '.join(sub.items)} ({sub.method}, {sub.min}–{sub.max})")
    for item in definition.items:
        with st.expander(f"{item.number}. {item.short_name}"):
            st.write(item.prompt)
            if item.guide:
                st.caption(item.guide)
            rows = [{"value": o["value"], "label": o["label"], "anchor": o.get("anchor", "")} for o in item.options]
            rows += [{"value": o["value"], "label": o["label"], "anchor": "not summed"} for o in item.not_assessed]
            st.table(rows)
    st.caption("Sources: " + " · ".join(raw["citations"]))
    st.caption("Licence: " + raw["licence"])


def render_definition_problems(user: Mapping[str, Any] | None) -> None:
    """For an admin: one warning per definition file the registry skipped (scales.loader), naming
    the file and what is wrong with it. The app serves the other scales meanwhile; the scale comes
    back once its file is valid (the registry reloads a changed file). Other roles see the
    library without it: the fix is the admin's, and the message quotes the file's contents."""
    if not user or user.get("role") != "admin":
        return
    for skipped in skipped_definitions():
        st.warning(
            f"Scale definition skipped: {md(skipped.message)}. Every other scale works as usual; fix the "
            f"file (check it with `python -m scales validate`) to bring this one back.",
            icon=":material/warning:",
        )


def render_library(user: Mapping[str, Any] | None = None) -> None:
    render_definition_problems(user)
    scales = registry()
    if not scales:
        st.info("No scale definition is loaded.")
        return
    tabs = st.tabs([d.abbreviation for d in scales.values()])
    for tab, definition in zip(tabs, scales.values(), strict=True):
        with tab:
            render_scale(definition)
