"""Progress in sight on the rater's form: the sticky header, item chips and focus mode.

The header (a keyed container, `st-key-form-head`, made sticky by ui.style) names the
participant, timepoint and scale, says "7 of 10 rated", shows the live total and band unless
the rating is blinded, and lists the unanswered items as chips: a tap brings that item to the
top of the screen, under the header. In focus mode the form shows one item per screen with
Back and Next, and the header's chips cover every item, marked answered, unanswered or not
assessed, to jump to any of them. Whether a rater uses focus mode is their own preference
(db.preferences), so it follows them to any tablet and survives signing out.

Nothing here decides what is answered: the slot states come from the stored answers and the
scale's not-assessed codes, the progress from scales.form_progress.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Any

import streamlit as st

from db import preferences
from db.connection import unit_of_work
from db.errors import StorageError
from scales import ScaleDefinition
from ui.style import apply_form_page_style
from ui.text import md

FOCUS_TOGGLE = "One item per screen"
MAX_CHIPS = 4  # unanswered chips in the list-mode header (the next four); more are counted, not drawn
_jump_counter = itertools.count()


@dataclass(frozen=True)
class Slot:
    """One place on the form: an item, or a choice group (HAM-D 16 A/B) shown as one."""

    key: str  # the Streamlit key of its container ("item-madrs_4", "slot-hamd17_16a")
    first: str  # its (first) item id: names the slot in session state
    number: str  # what the chip says ("4", "16")
    name: str  # the item's short name (for the chip's tooltip)
    state: str  # "answered", "unanswered" or "not_assessed"


def slots(definition: ScaleDefinition, responses: dict[str, int], shown: set[str]) -> list[Slot]:
    """The form's slots in order, with their state from the stored answers."""
    out: list[Slot] = []
    seen: set[tuple[str, ...]] = set()
    for item in definition.items:
        group = definition.group_of.get(item.id)
        if group is not None:
            if group in seen:
                continue
            seen.add(group)
            members = [definition.item_by_id[m] for m in group]
            values = [(m, responses[m.id]) for m in members if responses.get(m.id) is not None]
            number = re.sub(r"[A-Za-z]+$", "", members[0].number) or members[0].number
            out.append(
                Slot(f"slot-{group[0]}", group[0], number, " / ".join(m.short_name for m in members), _state(values))
            )
            continue
        if item.id in shown:
            value = responses.get(item.id)
            out.append(
                Slot(
                    f"item-{item.id}",
                    item.id,
                    item.number,
                    item.short_name,
                    _state([(item, value)] if value is not None else []),
                )
            )
    return out


def _state(values: list[tuple[Any, int]]) -> str:
    if not values:
        return "unanswered"
    item, value = values[0]
    return "not_assessed" if value in item.not_assessed_values else "answered"


# --------------------------------------------------------------------------- the rater's preference


def _pref_key(user: dict[str, Any]) -> str:
    return f"form_focus_mode:{user['id']}"


def focus_mode_on(user: dict[str, Any]) -> bool:
    """Whether this rater uses focus mode (read from their stored preference once per session)."""
    key = _pref_key(user)
    if key not in st.session_state:
        try:
            with unit_of_work(write=False) as db:
                st.session_state[key] = preferences.get_preference(db, user["id"], "form_layout") == "focus"
        except StorageError:
            st.session_state[key] = False
    return bool(st.session_state[key])


def _store_focus_choice(user: dict[str, Any]) -> None:
    on = bool(st.session_state[_pref_key(user)])
    try:
        with unit_of_work() as db:
            preferences.set_preference(db, user, "form_layout", "focus" if on else "list")
    except StorageError:
        st.toast("Your choice of layout applies now but could not be kept for next time.")


def focus_toggle(user: dict[str, Any]) -> bool:
    """The rater's switch between all items and one item per screen; remembered for them."""
    focus_mode_on(user)
    return st.toggle(
        FOCUS_TOGGLE,
        key=_pref_key(user),
        on_change=_store_focus_choice,
        args=(user,),
        help="Show one item at a time with Back and Next; the chips at the top jump to any item.",
    )


# --------------------------------------------------------------------------- where the form is


def _focus_key(assessment_id: int) -> str:
    return f"form_focus_at:{assessment_id}"


def _jump_key(assessment_id: int) -> str:
    return f"form_jump:{assessment_id}"


def focused_slot(assessment_id: int, form_slots: list[Slot]) -> int:
    """The index of the slot focus mode shows: the one last chosen, else the first unanswered."""
    wanted = st.session_state.get(_focus_key(assessment_id))
    firsts = [s.first for s in form_slots]
    if wanted in firsts:
        return firsts.index(wanted)
    index = next((i for i, s in enumerate(form_slots) if s.state == "unanswered"), 0)
    if form_slots:
        st.session_state[_focus_key(assessment_id)] = form_slots[index].first
    return index


def _go(assessment_id: int, slot: Slot) -> None:
    st.session_state[_focus_key(assessment_id)] = slot.first
    st.session_state[_jump_key(assessment_id)] = slot.key


def take_jump(assessment_id: int) -> str | None:
    """The container key a chip asked to bring into view in this run (once)."""
    return st.session_state.pop(_jump_key(assessment_id), None)


_JUMP_JS = """<script>
(() => {
  // jump %d
  let tries = 0;
  const go = () => {
    const target = document.querySelector(".st-key-%s");
    const main = document.querySelector('[data-testid="stMain"]');
    if (!target || !main) { if (++tries < 40) setTimeout(go, 50); return; }
    // Where the header's bottom will be once it sticks (it may not be stuck yet at the top).
    const head = document.querySelector(".st-key-form-head");
    const wrap = head ? (head.closest('[data-testid="stLayoutWrapper"]') || head) : null;
    const top = main.getBoundingClientRect().top
      + (head ? (parseFloat(getComputedStyle(wrap).top) || 0) + head.offsetHeight : 0);
    main.scrollBy({top: target.getBoundingClientRect().top - top - 8, behavior: "instant"});
  };
  setTimeout(go, 0);
})();
</script>"""


def jump_to(key: str) -> None:
    """Scroll the form so the container `key` (one of this module's slot keys) sits just under
    the sticky header."""
    if not re.fullmatch(r"[A-Za-z0-9_-]+", key):
        raise ValueError(f"not a slot key: {key!r}")
    st.html(_JUMP_JS % (next(_jump_counter), key), unsafe_allow_javascript=True, width="content")


# --------------------------------------------------------------------------- drawing

_ICONS = {"answered": ":material/check:", "not_assessed": ":material/block:", "unanswered": None}


def _chip(assessment_id: int, slot: Slot, *, current: bool = False) -> None:
    """One chip: the item's number, a tick when rated, a bar when not assessed (not colour alone);
    no tooltip (a finger cannot hover)."""
    st.button(
        slot.number,
        key=f"chip-{slot.state}-{assessment_id}-{slot.first}",
        icon=_ICONS[slot.state],
        type="primary" if current else "secondary",
        on_click=_go,
        args=(assessment_id, slot),
    )


def render_sticky_header(
    assessment: dict[str, Any],
    definition: ScaleDefinition,
    timepoint_label: str,
    form_slots: list[Slot],
    progress: tuple[int, int],
    total_and_band: str | None,
    *,
    focus_index: int | None,
) -> None:
    """The header that stays at the top while the form scrolls (ui.style makes it sticky).

    `total_and_band` is None for a blinded rating (nothing of the score is drawn);
    `focus_index` is the slot on screen in focus mode (None: every item is on screen)."""
    aid = assessment["id"]
    answered, expected = progress
    parts = [
        f"**{md(definition.abbreviation)} — {md(assessment['participant_code'])}**",
        md(timepoint_label),
        f"**{answered} of {expected} rated**",
    ]
    if total_and_band is not None:
        parts.append(total_and_band)
    apply_form_page_style()  # the page around the form, and the header made sticky
    with st.container(key="form-head"):
        # One wrapping row: what is rated and how far, then the chips (as many rows as they need).
        with st.container(horizontal=True, gap="small", key="form-chips", vertical_alignment="center"):
            st.markdown(" · ".join(parts), width="content")
            if focus_index is not None:
                for index, slot in enumerate(form_slots):
                    _chip(aid, slot, current=index == focus_index)
            else:
                waiting = [s for s in form_slots if s.state == "unanswered"]
                for slot in waiting[:MAX_CHIPS]:
                    _chip(aid, slot)
                if len(waiting) > MAX_CHIPS:
                    st.markdown(f"+{len(waiting) - MAX_CHIPS} more", width="content")
                if not waiting:
                    st.markdown("Every item is rated: check, then sign below.", width="content")


def render_focus_nav(assessment_id: int, form_slots: list[Slot], index: int) -> None:
    """Back, where the rater is, Next (under the one item focus mode shows)."""
    with st.container(horizontal=True, key="form-focus-nav", vertical_alignment="center"):
        st.button(
            "← Back",
            key=f"focus-back-{assessment_id}",
            disabled=index == 0,
            on_click=_go,
            args=(assessment_id, form_slots[max(index - 1, 0)]),
        )
        st.markdown(f"Item {form_slots[index].number} · {index + 1} of {len(form_slots)}")
        st.button(
            "Next →",
            key=f"focus-next-{assessment_id}",
            type="primary",
            disabled=index >= len(form_slots) - 1,
            on_click=_go,
            args=(assessment_id, form_slots[min(index + 1, len(form_slots) - 1)]),
        )
