"""The participant's questionnaire screens: one question per screen, no answer chosen in
advance, Back and Next, progress, a check page with a Change button per answer, Send, the
study's supportive text after a safety answer, and a thank-you screen.

Every tap on an answer is saved at once (db.selfreport.save_answer: one transaction and its
audit event), so a dropped connection loses at most that tap, and a participant who closes the
page continues from it (its address, e.g. from the browser's history). A safety answer raises
the PI's alert as it is saved (the participant sees nothing of it; staff do, see ui.alerts).
Next stays disabled until the answer on screen is stored, so nobody moves on past an answer
that was not saved. Navigation runs in button callbacks, and each screen reads the link's
questionnaires in one small read, so a tap costs one short run of the page. Nothing here shows a score: participants never see totals.

The order of screens is decided by selfreport.flow (pure, tested without Streamlit); every word
comes from selfreport.strings; the supportive text from the protocol and the site's values
(selfreport.support).

One holder at a time (issue 13 item 6): the first tap in a browser (Start, an answer, any step)
claims the link for that browser (db.tokens.claim_link); a browser that opened the same link but
was not first is refused at its next tap or run with one sentence (ask the study team for a new
link). A link on the participant's own device then keeps the holder secret in the address
(selfreport.links.RESUME_PARAM) so that a reload continues (`resume_from_address`, called by the
page before its guard); the kiosk keeps it in the session only.

Every write carries the version of the answers the screen showed (db.selfreport.save_answer,
submit_questionnaire): the page open twice cannot overwrite or send answers it did not show. A
stale tap or send is refused, says so, and the screen then shows the answers stored now; a run
that finds the answers changed by another window redraws them from the database and says so.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import streamlit as st

from db import selfreport, tokens
from db.connection import unit_of_work
from db.errors import StorageError
from scales import ScaleDefinition, get_scale
from scales.errors import ScaleError
from selfreport import flow, support
from selfreport.flow import Step
from selfreport.links import RESUME_PARAM
from selfreport.strings import text
from ui.alerts import after_save
from ui.participant_mode import (
    MARKER_PARAM,
    MARKER_VALUE,
    PARTICIPANT_ACTIVITY_KEY,
    PARTICIPANT_KEY,
    TOKEN_PARAM,
    apply_participant_style,
    end_idle_participant,
    kiosk,
    participant_touch,
    render_staff_exit,
    show_refusal,
)
from ui.session import ensure_database
from ui.study import current_protocol

STEP_KEY = "sr_step"
ERROR_KEY = "sr_error"
SUPPORT_KEY = "sr_support_shown"  # a safety answer was sent in this session: repeat the text at the end
FINISHED_KEY = "sr_finished"
SHOWN_KEY = "sr_shown"  # {assessment id: the version of its answers this session last drew or saved}


def _answer_key(assessment_id: int, item_id: str) -> str:
    return f"sr_answer:{assessment_id}:{item_id}"


def _go(step: Step) -> None:
    st.session_state[STEP_KEY] = step.to_dict()


def _forget_answers(assessment_id: int) -> None:
    """Forget this session's answer widgets of one questionnaire: they are drawn again from the
    database (after another window changed the answers)."""
    prefix = _answer_key(assessment_id, "")
    for key in [k for k in st.session_state.keys() if str(k).startswith(prefix)]:
        del st.session_state[key]


def _record_shown(assessment_id: int, version: int) -> None:
    st.session_state.setdefault(SHOWN_KEY, {})[assessment_id] = version


def _sync_shown(q: dict[str, Any]) -> bool:
    """Make this run draw the answers of `q` as stored now: when their version differs from the
    one this session last drew or saved itself, another window changed them, so the session's
    answer widgets are forgotten (drawn again from the database). True in that case."""
    before = st.session_state.get(SHOWN_KEY, {}).get(q["id"])
    _record_shown(q["id"], q["version"])
    if before is None or before == q["version"]:
        return False
    _forget_answers(q["id"])
    return True


def _holding_actor() -> Mapping[str, Any] | None:
    """The participant actor of this session as the link's holder, for a tap: the first tap in a
    browser claims the link for it (db.tokens.claim_link). None when the session has ended (idle
    time-out) or the link no longer opens anything for this browser (taken by another browser
    first, withdrawn, expired): the run that follows says which."""
    if end_idle_participant():
        return None
    actor = st.session_state.get(PARTICIPANT_KEY)
    if actor is None:
        return None
    if actor.get("holder"):
        return actor
    try:
        with unit_of_work() as db:
            actor = tokens.claim_link(db, actor)
    except tokens.LinkRefused:
        return None  # the page's check (db.selfreport.open_link_set) shows the refusal
    except StorageError:
        st.session_state[ERROR_KEY] = text("busy")
        return None
    st.session_state[PARTICIPANT_KEY] = actor
    return actor


def _step_to(step: Step) -> None:
    """A step button (Start, Back, Next, Change, Continue): also the first tap that claims the link."""
    if _holding_actor() is not None:
        _go(step)


def _on_answer(assessment_id: int, item_id: str, shown_version: int) -> None:
    """Save the tapped answer at once (a callback: runs before the page is drawn again), with the
    version of the answers the screen showed. A tap after the idle time-out is not saved: the
    session ends instead (ui.participant_mode); nor is a tap from a browser that does not hold
    the link, or from a screen whose answers were changed in another window meanwhile."""
    key = _answer_key(assessment_id, item_id)
    actor = _holding_actor()
    if actor is None:
        st.session_state.pop(key, None)  # show what is stored
        return
    try:
        with unit_of_work() as db:
            saved = selfreport.save_answer(
                db, actor, assessment_id, item_id, st.session_state.get(key), shown_version
            )  # raises any safety alert
    except selfreport.StaleAnswers:
        _forget_answers(assessment_id)  # the next run draws the answers stored now
        st.session_state[ERROR_KEY] = text("answer_changed_elsewhere")
        return
    except StorageError:  # busy, or the link was withdrawn meanwhile (the next screen says so)
        st.session_state.pop(key, None)  # show what is stored
        st.session_state[ERROR_KEY] = text("save_failed")
        return
    _record_shown(assessment_id, saved["version"])  # the screen shows exactly this version now
    after_save()  # the PI's e-mail of an alert this answer raised (background; nothing shown here)


def _on_submit(
    assessment_id: int,
    shown_version: int,
    questionnaires: list[dict[str, Any]],
    definitions: dict[str, ScaleDefinition],
) -> None:
    """Complete one questionnaire with the answers the check page showed: score, store, raise any
    safety alert, use the link up after the last one (one transaction, db.selfreport.submit_questionnaire).
    Answers changed in another window since the check page was drawn are not sent: the page
    says so and shows them."""
    actor = _holding_actor()
    if actor is None:
        return
    try:
        with unit_of_work() as db:
            done = selfreport.submit_questionnaire(db, actor, assessment_id, shown_version)
    except selfreport.StaleAnswers:
        _forget_answers(assessment_id)
        st.session_state[ERROR_KEY] = text("submit_changed_elsewhere")
        _go(Step("review", assessment_id))
        return
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
            st.button(
                label,
                key=key,
                type="primary" if primary else "secondary",
                on_click=callback,
                args=args,
                disabled=callback is None,
                width="stretch",
            )


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
    _nav_row([(text("start"), "sr_start", True, _step_to, (first,))])


def _item(q: dict[str, Any], definition: ScaleDefinition, step: Step, q_index: int, q_total: int) -> None:
    responses = q["responses"]
    # render_questionnaire resumes any item step whose item is not among the questions asked now.
    assert step.item_id is not None, "an item step names its item"
    item = definition.item_by_id[step.item_id]
    number, total = flow.position(definition, responses, item.id)
    _progress(number, total, q_index, q_total)
    key = _answer_key(q["id"], item.id)
    if key not in st.session_state:  # drawn from the database: Back shows the stored answer
        st.session_state[key] = responses.get(item.id)
    options = [o["value"] for o in item.options]
    labels = {o["value"]: o["label"] for o in item.options}
    captions = [o.get("anchor", "") or "" for o in item.options]
    st.radio(
        item.prompt,
        options,
        index=None,
        format_func=labels.__getitem__,
        captions=captions if any(captions) else None,
        key=key,
        on_change=_on_answer,
        args=(q["id"], item.id, q["version"]),
        width="stretch",
    )
    answered = item.id in responses
    back = flow.previous_step(definition, step, responses)
    forward = flow.next_step(definition, step, responses)
    _nav_row(
        [
            (text("back"), "sr_back", False, _step_to, (back,)),
            (
                text("return_to_review") if step.from_review else text("next"),
                "sr_next",
                True,
                _step_to if answered else None,
                (forward,),
            ),
        ]
    )


def _review(
    q: dict[str, Any], definition: ScaleDefinition, questionnaires, definitions, q_index: int, q_total: int
) -> None:
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
            label = (
                text("change", number=row.number) if row.answer is not None else text("answer_now", number=row.number)
            )
            st.button(
                label,
                key=f"sr_change:{row.item_id}",
                on_click=_step_to,
                args=(Step("item", q["id"], row.item_id, from_review=True),),
            )
    ready = flow.ready_to_submit(definition, responses)
    if not ready:
        st.markdown(f"**{text('submit_needs_all')}**")
    _nav_row(
        [
            (
                text("back"),
                "sr_back",
                False,
                _step_to,
                (flow.previous_step(definition, Step("review", q["id"]), responses),),
            ),
            (
                text("submit"),
                "sr_submit",
                True,
                _on_submit if ready else None,
                (q["id"], q["version"], questionnaires, definitions),
            ),
        ]
    )


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
    _nav_row([(text("continue"), "sr_continue", True, _step_to, (after,))])


def _thanks(site_code: str | None) -> None:
    st.markdown(f"## {text('thanks_title')}")
    st.markdown(f"#### {text('thanks_kiosk') if kiosk() else text('thanks_link')}")
    if st.session_state.get(SUPPORT_KEY):
        st.info(_supportive_text(site_code))


def resume_from_address() -> None:
    """Before the page's guard (ui.participant_mode.require_participant_session): a new session
    whose address carries the holder secret of a link (a reload, or a phone waking a tab it had
    put to sleep) continues as that link's holder (db.tokens.resume_link); a secret that no
    longer opens anything gets its one friendly sentence. A session that was a participant
    before (e.g. ended by the idle time-out) is not revived by its own address: it shows the
    guard's "reload" sentence, and the reload starts a new session."""
    secret = st.query_params.get(RESUME_PARAM)
    if (
        not secret
        or st.query_params.get(TOKEN_PARAM)
        or kiosk()
        or st.session_state.get(PARTICIPANT_KEY)
        or PARTICIPANT_ACTIVITY_KEY in st.session_state
    ):
        return
    ensure_database()
    try:
        with unit_of_work() as db:
            actor = tokens.resume_link(db, secret)
    except tokens.LinkRefused as exc:
        show_refusal(exc.reason)
        st.stop()
    except StorageError:
        apply_participant_style()
        st.markdown(f"#### {text('busy')}")
        st.stop()
    st.session_state[PARTICIPANT_KEY] = actor
    participant_touch()


def _keep_holder_in_address(actor: dict[str, Any]) -> None:
    """A link on the participant's own device: once this browser holds it, the address carries
    the holder secret (not the token), so a reload continues. The kiosk keeps it in the session
    only (a reload of the clinic tablet shows the staff sign-in)."""
    holder = actor.get("holder")
    if not holder or actor.get("channel") != "link" or kiosk():
        return
    if st.query_params.get(RESUME_PARAM) != holder or st.query_params.get(MARKER_PARAM) != MARKER_VALUE:
        st.query_params[MARKER_PARAM] = MARKER_VALUE
        st.query_params[RESUME_PARAM] = holder


def render_questionnaire(actor: dict[str, Any]) -> None:
    """Draw the screen this participant is on (the page calls this after its guard)."""
    apply_participant_style()
    _keep_holder_in_address(actor)
    site_code = st.session_state.get("sr_site_code")
    if st.session_state.get(FINISHED_KEY):
        last = Step.from_dict(st.session_state.get(STEP_KEY)) or flow.THANKS
        if last.kind == "support":
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
    if (
        step is None
        or step.kind == "thanks"
        or q is None
        or q["status"] != "draft"
        or (step.kind == "item" and step.item_id not in flow.questions(definitions[q["scale_id"]], q["responses"]))
    ):
        if step is not None and step.kind == "support":
            q = None  # the questionnaire was just sent: show the text, then continue
        else:
            step = flow.resume_step(questionnaires, definitions)
            _go(step)
            q = by_id.get(step.assessment_id)

    changed = q is not None and _sync_shown(q)  # before any answer widget is drawn
    error = st.session_state.pop(ERROR_KEY, None)
    if error:
        st.warning(error)
    elif changed:
        st.info(text("answers_changed_elsewhere"))
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
            _item(q, definition, step, q_index, q_total)
        else:
            _review(q, definition, questionnaires, definitions, q_index, q_total)
    render_staff_exit()
