"""Render the scale library: every shipped definition with its items, options and scoring rules.

Read-only reference material (no participant data), drawn straight from the definitions so
that what a rater reads here is what the engine scores.
"""

import re
from collections.abc import Mapping
from typing import Any

import streamlit as st

from scales import ScaleDefinition, registry
from scales.loader import skipped_definitions
from ui.text import md


def _range_text(definition: ScaleDefinition) -> str:
    return f"{definition.total_min}–{definition.total_max}"


def band_set_name(definition: ScaleDefinition, band_set_id: str) -> str:
    """A band set as its source names it ("Snaith et al. 1986 (Br J Psychiatry 148:599-601)"), not
    by its id (`snaith1986`); "default" marks the one scores are banded with."""
    sets = (definition.raw.get("scoring", {}).get("bands") or {}).get("sets", [])
    source = next((str(s.get("source", "")) for s in sets if s.get("id") == band_set_id), "")
    # "scales.md" is the reference document's file name: the words before it say what it is.
    name = re.sub(r"\s*\(?scales\.md\)?", "", source.split(": ")[0]).strip(" ,/") or "bands"
    return name + (", default" if band_set_id == definition.default_band_set else "")


def item_number(definition: ScaleDefinition, item_id: str) -> str:
    """An item as its number on the form ("4"), not its id (`madrs_4`)."""
    item = definition.item_by_id.get(item_id)
    return str(item.number) if item else item_id


def render_scale(definition: ScaleDefinition) -> None:
    raw = definition.raw
    st.markdown(f"**{definition.title}** · version {definition.version} · rated by {definition.rater}")
    st.caption(
        f"Recall: {', '.join(o['label'] for o in definition.recall_options)} · "
        f"total {_range_text(definition)} · `{definition.hash[:19]}…`"
    )
    st.write(raw["instructions"])
    for band_set_id, bands in definition.band_sets.items():
        st.caption(
            f"Bands ({band_set_name(definition, band_set_id)}): "
            + "; ".join(f"{b['min']}–{b['max']} {b['label']}" for b in bands)
        )
    for sub in definition.subscales:
        numbers = ", ".join(item_number(definition, i) for i in sub.items)
        st.caption(f"Subscale {sub.label}: items {numbers} ({sub.method}, {sub.min}–{sub.max})")
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
