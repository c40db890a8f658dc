"""The participant's questionnaire screens: one question per screen, no answer chosen in
advance, Back and Next, progress, a check page with a Change button per answer, Send, the
study's supportive text after a safety answer, and a thank-you screen.

Every tap on an answer is saved at once (db.assessments.save_draft_response: one transaction
and its audit event), so a dropped connection loses at most that tap, and a participant who
closes the page continues from the same link. A safety answer raises the PI's alert as it is
saved (the participant sees nothing of it; staff do, see ui.alerts). Next stays disabled until the answer on screen
is stored, so nobody moves on past an answer that was not saved. Navigation runs in button
callbacks, and each screen reads the link's questionnaires in one small read, so a tap costs
one short run of the page. Nothing here shows a score: participants never see totals.

The order of screens is decided by selfreport.flow (pure, tested without Streamlit); every word
comes from selfreport.strings; the supportive text from the protocol and the site's values
(selfreport.support).
"""

from __future__ import annotations

import os
from typing import Any

import streamlit as st

from db import assessments, selfreport, tokens
from db.connection import unit_of_work
from db.errors import StorageError
from scales import ScaleDefinition, get_scale
from scales.errors import ScaleError
from selfreport import flow, support
from selfreport.flow import Step
from selfreport.strings import text
from ui.alerts import after_save
from ui.participant_mode import apply_participant_style, end_idle_participant, kiosk, render_staff_exit, show_refusal
from ui.study import current_protocol

STEP_KEY = "sr_step"
ERROR_KEY = "sr_error"
SUPPORT_KEY = "sr_support_shown"  # a safety answer was sent in this session: repeat the text at the end
FINISHED_KEY = "sr_finished"


def _answer_key(assessment_id: int, item_id: str) -> str:
    return f"sr_answer:{assessment_id}:{item_id}"


def _go(step: Step) -> None:
    st.session_state[STEP_KEY] = step.to_dict()


def _on_answer(actor: dict[str, Any], assessment_id: int, item_id: str) -> None:
    """Save the tapped answer at once (a callback: runs before the page is drawn again). A tap
    after the idle time-out is not saved: the session ends instead (ui.participant_mode)."""
    if end_idle_participant():
        return
    value = st.session_state.get(_answer_key(assessment_id, item_id))
    try:
        with unit_of_work() as db:
            assessments.save_draft_response(db, actor, assessment_id, item_id, value)  # raises any safety alert
    except StorageError:  # busy, or the link was withdrawn meanwhile (the next screen says so)
        st.session_state.pop(_answer_key(assessment_id, item_id), None)  # show what is stored
        st.session_state[ERROR_KEY] = text("save_failed")
        return
    after_save()  # the PI's e-mail of an alert this answer raised (background; nothing shown here)


def _on_submit(actor: dict[str, Any], assessment_id: int, questionnaires: list[dict[str, Any]],
               definitions: dict[str, ScaleDefinition]) -> None:
    """Complete one questionnaire: score, store, raise any safety alert, use the link up after the
    last one (one transaction, in db.assessments.complete_assessment)."""
    if end_idle_participant():
        return
    try:
        with unit_of_work() as db:
            current = assessments.load_assessment(db, assessment_id)
            done = assessments.complete_assessment(db, actor, assessment_id, expected_version=current["version"])
    except StorageError:
        st.session_state[ERROR_KEY] = text("submit_failed")
        return
    after_save()
    following = flow.after_submit(questionnaires, assessment_id, definitions)
    if following.kind == "thanks":
        st.session_state[FINISHED_KEY] = True
    if flow.safety_triggered((done.get("score") or {}).get("flags", [])):
        st.session_state[SUPPORT_KEY] = True
        st.session_state["sr_after_support"] = following.to_dict()
        _go(Step("support", assessment_id))
    else:
        _go(following)


def _nav_row(buttons: list[tuple[str, str, bool, Any, tuple]]) -> None:
    """A row of large buttons that wraps on a narrow screen: (label, key, primary, callback, args)."""
    with st.container(horizontal=True, gap="small"):
        for label, key, primary, callback, args in buttons:
            st.button(label, key=key, type="primary" if primary else "secondary", on_click=callback, args=args,
                      disabled=callback is None, width="stretch")


def _progress(number: int, total: int, q_index: int, q_total: int) -> None:
    if q_total > 1:
        st.caption(text("questionnaire_count", number=q_index, total=q_total))
    st.progress(number / total if total else 1.0, text=text("question_count", number=number, total=total))


def _intro(q: dict[str, Any], definition: ScaleDefinition, q_index: int, q_total: int) -> None:
    if q_index == 1:
        st.markdown(text("welcome"))
    if q_total > 1:
        st.caption(text("questionnaire_count", number=q_index, total=q_total))
    st.markdown(f"### {definition.title}")
    st.markdown(definition.raw.get("instructions", ""))
    if kiosk() is None:
        st.caption(text("resume_note"))
    first = flow.first_question(definition, q["id"], q["responses"])
    _nav_row([(text("start"), "sr_start", True, _go, (first,))])


def _item(actor, q: dict[str, Any], definition: ScaleDefinition, step: Step, q_index: int, q_total: int) -> None:
    responses = q["responses"]
    item = definition.item_by_id[step.item_id]
    number, total = flow.position(definition, responses, item.id)
    _progress(number, total, q_index, q_total)
    key = _answer_key(q["id"], item.id)
    if key not in st.session_state:  # drawn from the database: Back shows the stored answer
        st.session_state[key] = responses.get(item.id)
    options = [o["value"] for o in item.options]
    labels = {o["value"]: o["label"] for o in item.options}
    captions = [o.get("anchor", "") or "" for o in item.options]
    st.radio(item.prompt, options, index=None, format_func=labels.__getitem__,
             captions=captions if any(captions) else None, key=key, on_change=_on_answer,
             args=(actor, q["id"], item.id), width="stretch")
    answered = item.id in responses
    back = flow.previous_step(definition, step, responses)
    forward = flow.next_step(definition, step, responses)
    _nav_row([
        (text("back"), "sr_back", False, _go, (back,)),
        (text("return_to_review") if step.from_review else text("next"), "sr_next", True,
         _go if answered else None, (forward,)),
    ])


def _review(actor, q: dict[str, Any], definition: ScaleDefinition, questionnaires, definitions,
            q_index: int, q_total: int) -> None:
    responses = q["responses"]
    if q_total > 1:
        st.caption(text("questionnaire_count", number=q_index, total=q_total))
    st.markdown(f"### {text('review_title')}")
    st.markdown(text("review_intro"))
    for row in flow.review_rows(definition, responses):
        with st.container(border=True):
            st.caption(text("review_question", number=row.number))
            st.markdown(f"**{row.prompt}**")
            st.markdown(row.answer if row.answer is not None else f"*{text('not_answered')}*")
            label = text("change", number=row.number) if row.answer is not None else text("answer_now", number=row.number)
            st.button(label, key=f"sr_change:{row.item_id}", on_click=_go,
                      args=(Step("item", q["id"], row.item_id, from_review=True),))
    ready = flow.ready_to_submit(definition, responses)
    if not ready:
        st.markdown(f"**{text('submit_needs_all')}**")
    _nav_row([
        (text("back"), "sr_back", False, _go, (flow.previous_step(definition, Step("review", q["id"]), responses),)),
        (text("submit"), "sr_submit", True, _on_submit if ready else None, (actor, q["id"], questionnaires, definitions)),
    ])


def _supportive_text(site_code: str | None) -> str:
    supportive = current_protocol().supportive_text
    values = support.site_values(supportive, site_code, os.environ, site_secrets())
    return support.supportive_message(supportive, values)


def site_secrets() -> dict[str, Any]:
    try:
        section = st.secrets.get(support.SECRETS_SECTION)
    except Exception:  # no secrets file at all
        return {}
    if not section:
        return {}
    return {support.SECRETS_SECTION: {k: (dict(v) if hasattr(v, "items") else v) for k, v in section.items()}}


def _support(site_code: str | None) -> None:
    st.markdown(f"## {text('support_title')}")
    st.info(_supportive_text(site_code))
    after = Step.from_dict(st.session_state.get("sr_after_support")) or flow.THANKS
    _nav_row([(text("continue"), "sr_continue", True, _go, (after,))])


def _thanks(site_code: str | None) -> None:
    st.markdown(f"## {text('thanks_title')}")
    st.markdown(f"#### {text('thanks_kiosk') if kiosk() else text('thanks_link')}")
    if st.session_state.get(SUPPORT_KEY):
        st.info(_supportive_text(site_code))


def render_questionnaire(actor: dict[str, Any]) -> None:
    """Draw the screen this participant is on (the page calls this after its guard)."""
    apply_participant_style()
    site_code = st.session_state.get("sr_site_code")
    if st.session_state.get(FINISHED_KEY):
        step = Step.from_dict(st.session_state.get(STEP_KEY)) or flow.THANKS
        if step.kind == "support":
            _support(site_code)
        else:
            _thanks(site_code)
        render_staff_exit()
        return
    try:
        with unit_of_work(write=False) as db:
            state = selfreport.open_link_set(db, actor)
    except tokens.LinkRefused as exc:
        show_refusal(exc.reason)
        render_staff_exit()
        return
    except StorageError:
        st.markdown(f"#### {text('busy')}")
        render_staff_exit()
        return
    site_code = st.session_state["sr_site_code"] = state["site_code"]
    questionnaires = state["questionnaires"]
    try:
        definitions = {q["scale_id"]: get_scale(q["scale_id"]) for q in questionnaires}
    except ScaleError:
        st.markdown(f"#### {text('busy')}")
        render_staff_exit()
        return
    by_id = {q["id"]: q for q in questionnaires}

    step = Step.from_dict(st.session_state.get(STEP_KEY))
    q = by_id.get(step.assessment_id) if step else None
    if step is None or step.kind == "thanks" or q is None or q["status"] != "draft" or (
            step.kind == "item" and step.item_id not in flow.questions(definitions[q["scale_id"]], q["responses"])):
        if step is not None and step.kind == "support":
            q = None  # the questionnaire was just sent: show the text, then continue
        else:
            step = flow.resume_step(questionnaires, definitions)
            _go(step)
            q = by_id.get(step.assessment_id)

    error = st.session_state.pop(ERROR_KEY, None)
    if error:
        st.warning(error)
    if step.kind == "support":
        _support(site_code)
    elif step.kind == "thanks" or q is None:
        _thanks(site_code)
    else:
        definition = definitions[q["scale_id"]]
        q_index, q_total = questionnaires.index(q) + 1, len(questionnaires)
        if step.kind == "intro":
            _intro(q, definition, q_index, q_total)
        elif step.kind == "item":
            _item(actor, q, definition, step, q_index, q_total)
        else:
            _review(actor, q, definition, questionnaires, definitions, q_index, q_total)
    render_staff_exit()
