"""The clinician scale form, drawn from a scale definition: any new definition works unchanged.

Each tap saves that one answer at once (db.assessments.save_draft_response, one transaction
with its audit event), so a reload, a sleeping tablet or a server restart brings back every
answered item. Nothing here adds up a score: progress, the live total and band, the flags and
the final result all come from the scale engine or from the stored score.

A safety answer raises the PI's alert as it is saved (in the same transaction); the form shows
it inside the item at once, with whom it reached (ui.alerts), and the resolution if the answer
is corrected before submit. A save that fails (another tablet saved this assessment first, or
the database was busy) is explained inside the item it concerned, and the message stays until
the rater answers that item again or dismisses it.

On a tablet each item fits one screen (issue 16): a heading row with the interview guide (a
popover, one tap) and "Not assessed", the prompt, then the options as a row of large cards with
their anchors (ui.style). Option labels carry their score by one rule for every scale
(ui.form_text.option_label). A sticky header (ui.form_focus) keeps participant, timepoint,
progress, the unanswered items and, unless blinded, the live total in sight; focus mode shows
one item per screen. A blinded rating shows no total or band after submit either.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from db import alerts as alert_store
from db import assessments, audit, signin_throttle
from db.connection import unit_of_work
from db.errors import ConflictError, StorageError
from scales import ScaleDefinition, form_progress, get_scale, score, visible_items
from scales.errors import ScaleError
from ui.alerts import after_save, load_context, render_item_alerts, render_result_alerts, scroll_into_view
from ui.form_focus import (
    focused_slot,
    jump_to,
    render_focus_nav,
    render_sticky_header,
    slots,
    take_jump,
)
from ui.form_text import item_names, mode_label, option_label, recall_label, scale_name
from ui.session import user_for_write
from ui.study import current_protocol
from ui.text import md
from ui.timefmt import local_time

ERROR_KEY = "form_error"


def _key(kind: str, assessment_id: int, name: str) -> str:
    return f"{kind}:{assessment_id}:{name}"


def _version_key(assessment_id: int) -> str:
    """The version of the answers on screen: the version every save and the signature expect."""
    return f"form_version:{assessment_id}"


def _event_key(assessment_id: int) -> str:
    """The newest audit event of this assessment when the answers on screen were read."""
    return f"form_event:{assessment_id}"


def _conflict_key(assessment_id: int) -> str:
    """The note saying who changed what since the answers on screen were read (kept until the next save)."""
    return f"form_conflict:{assessment_id}"


def _notice_key(assessment_id: int) -> str:
    """Per-item messages of a failed save ({item_id: text}), kept until acted on."""
    return f"form_notice:{assessment_id}"


def _dismiss(assessment_id: int, item_id: str) -> None:
    st.session_state.get(_notice_key(assessment_id), {}).pop(item_id, None)


def _refusal_key(assessment_id: int) -> str:
    """Why the last "Sign and submit" was refused, for the form to show once (not a widget key:
    a reload of the answers after a conflict keeps it)."""
    return f"form_sign_refused:{assessment_id}"


def _scroll_key(assessment_id: int) -> str:
    """The item whose message is new in this run (brought into view once)."""
    return f"form_scroll_to:{assessment_id}"


def _seen_key(assessment_id: int) -> str:
    """The alert states this form last showed, to notice a new, resolved or re-opened one."""
    return f"form_alerts_seen:{assessment_id}"


def _reset_widgets(assessment_id: int) -> None:
    """Forget widget values so they are drawn again from the database (after a conflict)."""
    prefix = f":{assessment_id}:"
    for key in [k for k in st.session_state.keys() if prefix in str(k)]:
        del st.session_state[key]


def _save(user: dict[str, Any], assessment_id: int, item_id: str, value: int | None, reason: str | None = None) -> None:
    """Persist one answer with the version this form last saw; on a conflict reload instead and
    say so inside the item (the message stays until that item is answered again or dismissed).
    A tap from a session that is idle or whose account changed is refused (ui.session.user_for_write)."""
    current = user_for_write()
    if current is None:
        return
    user = current
    notices = st.session_state.setdefault(_notice_key(assessment_id), {})
    try:
        with unit_of_work() as db:
            saved = assessments.save_draft_response(
                db,
                user,
                assessment_id,
                item_id,
                value,
                expected_version=st.session_state.get(_version_key(assessment_id)),
                not_assessed_reason=reason,
            )
            newest_event = audit.newest_event_id(db, "assessment", assessment_id)  # the save's own event
        st.session_state[_version_key(assessment_id)] = saved["version"]
        st.session_state[_event_key(assessment_id)] = newest_event
        st.session_state.pop(_conflict_key(assessment_id), None)
    except ConflictError as exc:
        # The form keeps the stale version: render_form sees it differs, reloads the answers and
        # says who changed what.
        _reset_widgets(assessment_id)
        what = str(exc).split(";")[0]  # "someone else saved a newer copy of assessment 7 (you have version ...)"
        notices[item_id] = (
            f"**Your answer here was not saved**: {md(what)}. The form now shows the latest saved "
            f"answers. Check this item and tap your answer again."
        )
        st.session_state[_scroll_key(assessment_id)] = item_id
    except (StorageError, ScaleError) as exc:
        st.session_state.pop(_key("v", assessment_id, item_id), None)  # show what is stored
        notices[item_id] = f"**Your answer here was not saved** — {md(exc)}. Tap your answer again."
        st.session_state[_scroll_key(assessment_id)] = item_id
    else:
        notices.pop(item_id, None)
        after_save()  # the e-mail of an alert this answer raised, in the background (if e-mail is on)


def describe_changes(events: list[dict[str, Any]], since_event: int, definition: ScaleDefinition, zone) -> str:
    """Who changed what on this assessment after event `since_event` (from the audit trail), as one
    Markdown list item per change: "14:02 rater2 set item 3 (Suicide) from 1 to 2" (names and values
    escaped: they are stored text)."""
    lines = []
    for event in events:
        if event["id"] <= since_event:
            continue
        when = local_time(event["ts"], zone, "%H:%M")
        item = definition.item_by_id.get(event.get("field") or "")
        if event["action"] in ("response.save", "response.clear") and item is not None:
            old = "no answer" if event["old_value"] is None else event["old_value"]
            new = "no answer" if event["new_value"] is None else event["new_value"]
            lines.append(
                md(f"{when} {event['username']} changed item {item.number} ({item.short_name}) from {old} to {new}")
            )
        elif not event["action"].startswith("alert"):
            lines.append(md(f"{when} {event['username']}: {event['action']}"))
    return "\n".join(f"- {line}" for line in lines) or "- (no recorded change found)"


def _on_rating(user, assessment_id: int, item_id: str) -> None:
    _save(user, assessment_id, item_id, st.session_state[_key("v", assessment_id, item_id)])


def _on_not_assessed(user, assessment_id: int, item_id: str, code: int) -> None:
    checked = st.session_state[_key("na", assessment_id, item_id)]
    reason = (st.session_state.get(_key("nar", assessment_id, item_id)) or "").strip()
    if checked and reason:
        _save(user, assessment_id, item_id, code, reason)
    elif not checked:
        _save(user, assessment_id, item_id, None)


def _on_group_choice(user, assessment_id: int, group: tuple[str, ...], responses: dict[str, int]) -> None:
    """Switching HAM-D 16 between A and B clears the part no longer used (saved and audited)."""
    chosen = st.session_state[_key("grp", assessment_id, group[0])]
    for member in group:
        if member != chosen and member in responses:
            _save(user, assessment_id, member, None)
            st.session_state.pop(_key("v", assessment_id, member), None)


def _draw_notice(assessment_id: int, item_id: str, text: str) -> None:
    st.error(text, icon=":material/sync_problem:")
    st.button(
        "I have checked this item",
        key=_key("dismiss", assessment_id, item_id),
        on_click=_dismiss,
        args=(assessment_id, item_id),
    )


def _draw_item(
    user,
    assessment: dict[str, Any],
    item,
    responses: dict[str, int],
    reasons: dict[str, str],
    editable: bool,
    item_alerts: dict[str, Any] | None = None,
) -> None:
    aid = assessment["id"]
    stored = responses.get(item.id)
    na_code = item.not_assessed[0]["value"] if item.not_assessed else None
    is_na = stored is not None and stored in item.not_assessed_values
    value_key, na_key, reason_key = _key("v", aid, item.id), _key("na", aid, item.id), _key("nar", aid, item.id)
    st.session_state.setdefault(value_key, None if is_na else stored)
    st.session_state.setdefault(na_key, is_na)
    st.session_state.setdefault(reason_key, reasons.get(item.id, ""))

    # One card, one wrapping row (ui.style): what the item is and its two side actions (its
    # guide, "not assessed") share the first line; the options, labelled with the item's prompt,
    # and the reason for "not assessed" take whole lines under it. No container for the heading
    # and no separate prompt: each element Streamlit sends costs server and browser time on every
    # tap (issue 16 item 9), and this drops two of them per item.
    with st.container(border=True, horizontal=True, vertical_alignment="center", gap="small", key=f"item-{item.id}"):
        rated_by = " · observed" if item.rated_by == "observer" else ""
        st.markdown(f"**{item.number}. {item.short_name}**{rated_by}", width="stretch")
        if item.guide:
            with st.popover("Guide", width="content"):
                st.markdown(f"**Interview guide · item {item.number}**\n\n{item.guide}")
        # The tick and its reason are one answer: both widgets save through _on_not_assessed.
        na_args = (user, aid, item.id, na_code)
        if na_code is not None:
            st.checkbox(
                "Not assessed",
                key=na_key,
                disabled=not editable,
                on_change=_on_not_assessed,
                args=na_args,
                width="content",
            )
        values = [o["value"] for o in item.options]
        labels = {o["value"]: option_label(o) for o in item.options}
        st.radio(
            item.prompt,  # never empty: scales/schema.json requires it
            values,
            index=None,
            format_func=labels.__getitem__,
            captions=[o.get("anchor", "") for o in item.options],
            key=value_key,
            disabled=not editable or st.session_state[na_key],
            on_change=_on_rating,
            args=(user, aid, item.id),
            width="stretch",
        )
        if na_code is not None and st.session_state[na_key]:
            with st.container(key=f"why-{aid}-{item.id}"):
                st.text_input(
                    "Why was this item not assessed?",
                    key=reason_key,
                    disabled=not editable,
                    on_change=_on_not_assessed,
                    args=na_args,
                    placeholder="e.g. participant too drowsy to answer",
                )
                if not st.session_state[reason_key].strip():
                    st.warning("Give a reason to record this item as not assessed.")
        notice = st.session_state.get(_notice_key(aid), {}).get(item.id)
        rows = (item_alerts or {}).get("rows", {}).get(item.id)
        if notice or rows:
            with st.container(key=f"item-msg-{aid}-{item.id}"):  # messages about this item, right under it
                if notice:
                    _draw_notice(aid, item.id, notice)
                if rows and item_alerts:
                    render_item_alerts(rows, item_alerts["context"], item_alerts["timezone"])
                if item_alerts and item_alerts.get("scroll_to") == item.id:
                    scroll_into_view(f"item-msg-{aid}-{item.id}")


def _draw_group_choice(
    user, assessment, group: tuple[str, ...], definition: ScaleDefinition, responses: dict[str, int], editable: bool
) -> str | None:
    aid = assessment["id"]
    key = _key("grp", aid, group[0])
    answered = next((m for m in group if m in responses), None)
    st.session_state.setdefault(key, answered)
    spec = next(g for g in definition.raw.get("choice_groups", []) if g["items"][0] == group[0])
    st.radio(
        spec["label"],
        list(group),
        index=None,
        key=key,
        horizontal=True,
        disabled=not editable,
        format_func=lambda m: f"{definition.item_by_id[m].number}: {definition.item_by_id[m].short_name}",
        on_change=_on_group_choice,
        args=(user, aid, group, responses),
    )
    return st.session_state[key]


def render_header(
    assessment: dict[str, Any], definition: ScaleDefinition, timepoint_label: str, *, compact: bool = False
) -> None:
    """What is being rated. `compact`: the sticky header already names scale, participant and
    timepoint, and the instructions' heading names the scale's title and recall period: nothing
    more is drawn."""
    recall = recall_label(definition, assessment["recall"])
    if compact:
        return
    st.subheader(md(f"{definition.abbreviation} — {assessment['participant_code']}"))
    st.caption(
        md(f"{definition.title} · timepoint: {timepoint_label} · recall: {recall} · status: {assessment['status']}")
    )


def render_without_definition(assessment: dict[str, Any], timepoint_label: str) -> None:
    """An assessment whose scale definition file is no longer installed (removed, or skipped as
    broken): read-only, from what is stored, with a note saying why; nothing can be answered,
    scored or signed without the definition (issue 13 item 15)."""
    name = scale_name(None, assessment["scale_id"])
    st.subheader(md(f"{name} — {assessment['participant_code']}"))
    st.caption(md(f"timepoint: {timepoint_label} · recall: {assessment['recall']} · status: {assessment['status']}"))
    st.warning(
        md(
            f"The definition of scale {name} (version {assessment['scale_version']}) is not "
            "installed on this server any more, so this assessment opens read-only: nothing can be answered, "
            "scored or signed until the definition file is restored. Tell the data manager."
        ),
        icon=":material/visibility:",
    )
    answered = {k: v for k, v in assessment["responses"].items() if v is not None}
    if answered:
        st.dataframe(
            [
                {"item": k, "value": v, "not-assessed reason": assessment["not_assessed_reasons"].get(k, "")}
                for k, v in answered.items()
            ],
            hide_index=True,
        )
    render_result(assessment["score"], None)


def render_result(
    stored: dict[str, Any] | None, definition: ScaleDefinition | None, *, show_score: bool = True
) -> None:
    """The stored score: total, band, subscales, completeness and any safety alert, prominently.
    `show_score` False (a blinded rating) keeps total, band and subscales off the screen; the
    safety alerts stay. Without a definition (its file is no longer installed) subscales are
    named by their ids."""
    if stored is None:
        return
    render_result_alerts(stored["assessment_id"], stored)
    if not show_score:
        st.caption(
            "Total and band are not shown: this is a blinded rating (“Hide the live total” is on). "
            "They are stored with the assessment."
        )
        return
    cols = st.columns(3)
    cols[0].metric("Total", "—" if stored["total"] is None else stored["total"])
    cols[1].metric("Band", md(stored["band"] or "—"))  # a metric's value is Markdown too
    cols[2].metric("Complete", "yes" if stored["complete"] else "no")
    if stored["prorated"]:
        st.caption("Total prorated under the scale's missing-item rule.")
    if stored["subscales"]:
        labels = {s.id: s.label for s in definition.subscales} if definition else {}
        st.table(
            [
                {"subscale": md(labels.get(k, k)), "score": "—" if v is None else v}  # table cells are Markdown
                for k, v in stored["subscales"].items()
            ]
        )
    if stored["missing"]:
        st.caption("Missing or not assessed: " + md(item_names(definition, stored["missing"])))


def render_form(
    user: dict[str, Any],
    assessment_id: int,
    timepoint_label: str,
    *,
    show_live_total: bool,
    focus_mode: bool = False,
) -> None:
    """Draw the whole form for a draft (or the result for a finished assessment).

    `show_live_total` False (a blinded rating) draws no total or band, during rating or after
    submit; `focus_mode` shows one item at a time (ui.form_focus)."""
    error = st.session_state.pop(ERROR_KEY, None)
    with unit_of_work(write=False) as db:
        assessment = assessments.load_assessment(db, assessment_id)
        alert_rows = (
            alert_store.list_alerts(db, open_only=False, assessment_id=assessment_id)
            if assessment["status"] == "draft"
            else []
        )
        alert_context = load_context(db, alert_rows)
        events = audit.events_for(db, "assessment", assessment_id)
    try:
        definition = get_scale(assessment["scale_id"])
    except ScaleError:
        render_without_definition(assessment, timepoint_label)
        return
    # The expected version is always the version of the answers on screen. When the stored draft
    # moved on since they were drawn (another tablet saved), the widgets are redrawn from the
    # database, the change is named, and nothing is signed in this run.
    shown_version = st.session_state.get(_version_key(assessment_id))
    changed_under_us = (
        assessment["status"] == "draft" and shown_version is not None and shown_version != assessment["version"]
    )
    if changed_under_us:
        _reset_widgets(assessment_id)
        st.session_state[_conflict_key(assessment_id)] = describe_changes(
            events, st.session_state.get(_event_key(assessment_id), 0), definition, current_protocol().timezone
        )
    st.session_state[_version_key(assessment_id)] = assessment["version"]
    st.session_state[_event_key(assessment_id)] = max((e["id"] for e in events), default=0)
    responses: dict[str, int] = assessment["responses"]
    is_draft = assessment["status"] == "draft"
    editable = is_draft and assessment["mode"] == "clinician"
    shown = set(visible_items(definition, responses))
    form_slots = slots(definition, responses, shown)
    focus_index = focused_slot(assessment_id, form_slots) if focus_mode and editable and form_slots else None
    result = score(definition, responses)
    if is_draft:
        render_sticky_header(
            assessment,
            definition,
            timepoint_label,
            form_slots,
            form_progress(definition, responses),
            live_total_text(result) if show_live_total else None,
            focus_index=focus_index,
        )
    render_header(assessment, definition, timepoint_label, compact=is_draft)
    if error:
        st.error(md(error))
    conflict = st.session_state.get(_conflict_key(assessment_id)) if is_draft else None
    if conflict:
        st.warning(
            "**This form was changed on another device** since you last saw it. It now shows the "
            "answers as saved; check them before you go on.\n\n" + conflict,
            icon=":material/sync_problem:",
        )
    if not is_draft:
        st.success(f"Submitted ({assessment['status']}).")
        render_result(assessment["score"], definition, show_score=show_live_total)
        return
    if assessment["definition_hash"] != definition.hash:
        st.error(
            "This scale's definition changed after this assessment was started, so it cannot be scored "
            "with the new rules. Ask the data manager."
        )
        return

    reasons: dict[str, str] = assessment["not_assessed_reasons"]
    # A self-report questionnaire is the participant's own: staff see it read-only (db.assessments
    # refuses a staff answer too); the participant answers it in participant mode.
    if editable:
        recall = recall_label(definition, assessment["recall"])
        with st.expander(md(f"Instructions · {definition.title} · recall: {recall}")):
            st.markdown(definition.raw["instructions"])
    else:
        st.info(
            f"This is the participant's own questionnaire ({mode_label(assessment['mode'])}). Staff can view "
            "the answers here but not change or submit them; the participant answers it in participant mode "
            "(Self-report page).",
            icon=":material/visibility:",
        )
    by_item: dict[str, list[dict[str, Any]]] = {}
    for alert in alert_rows:
        by_item.setdefault(alert["item_id"] or "", []).append(alert)
    # Bring a message into view once when it is new: a failed save, or an alert raised, resolved
    # or re-opened by the last tap (not when the form is first opened).
    shown_states = {(a["id"], a["resolved_at"] is None, a["acknowledged_at"] is None) for a in alert_rows}
    previous = st.session_state.get(_seen_key(assessment_id))
    st.session_state[_seen_key(assessment_id)] = shown_states
    changed = sorted(
        {
            a["item_id"]
            for a in alert_rows
            if a["item_id"]
            and (a["id"], a["resolved_at"] is None, a["acknowledged_at"] is None) not in (previous or set())
        }
    )
    scroll_to = st.session_state.pop(_scroll_key(assessment_id), None) or (
        changed[0] if previous is not None and changed else None
    )
    item_alerts = {
        "rows": by_item,
        "context": alert_context,
        "timezone": current_protocol().timezone,
        "scroll_to": scroll_to,
    }
    # Focus mode draws the one slot on screen; otherwise every slot, in order.
    on_screen = [form_slots[focus_index]] if focus_index is not None else form_slots
    drawn: set[str] = set()
    for slot in on_screen:
        group = definition.group_of.get(slot.first)
        if group is not None:
            with st.container(key=slot.key):
                chosen = _draw_group_choice(user, assessment, group, definition, responses, editable)
                if chosen is not None:
                    _draw_item(
                        user, assessment, definition.item_by_id[chosen], responses, reasons, editable, item_alerts
                    )
                    drawn.add(chosen)
            continue
        _draw_item(user, assessment, definition.item_by_id[slot.first], responses, reasons, editable, item_alerts)
        drawn.add(slot.first)
    if focus_index is not None:
        render_focus_nav(assessment_id, form_slots, focus_index)
    jump = take_jump(assessment_id)
    if jump is not None:
        jump_to(jump)
    # An alert or a failed save of an item not on screen (hidden by a later answer, or another
    # item than the one focus mode shows): shown here.
    for item_id, rows in by_item.items():
        if item_id not in drawn:
            render_item_alerts(rows, alert_context, item_alerts["timezone"])
    for item_id, notice in list(st.session_state.get(_notice_key(assessment_id), {}).items()):
        if item_id not in drawn:
            _draw_notice(assessment_id, item_id, notice)

    render_summary_and_submit(
        assessment,
        definition,
        responses,
        show_live_total=show_live_total,
        editable=editable,
    )


def announce_not_assessed(definition: ScaleDefinition, result, unanswered: list[str]) -> None:
    """Before signing, say what a not-assessed item does to the score: a total left blank by the
    scale's missing-item rule, or a prorated one (the engine decides; this only words it)."""
    if not result.not_assessed:
        return
    names = item_names(definition, result.not_assessed)
    if result.total is None and not unanswered:
        st.warning(
            f"Marked not assessed: {md(names)}. Under the {md(definition.abbreviation)} missing-item rule this "
            "leaves the total blank (no total and no band will be stored). Rate the item if you can, or sign "
            "as it is.",
            icon=":material/block:",
        )
    elif result.prorated:
        st.info(
            f"Marked not assessed: {md(names)}. The total will be prorated under the scale's missing-item rule.",
            icon=":material/block:",
        )


def live_total_text(result) -> str:
    """The live total and band as the header and the summary show them (Markdown)."""
    total = "—" if result.total is None else str(result.total)
    return f"**Total:** {total} · **Band:** {md(result.band or '—')}"


def render_summary_and_submit(
    assessment,
    definition: ScaleDefinition,
    responses: dict[str, int],
    *,
    show_live_total: bool,
    editable: bool = True,
) -> None:
    result = score(definition, responses)
    answered, expected = form_progress(definition, responses)
    st.divider()
    st.progress(answered / expected if expected else 1.0, text=f"{answered} of {expected} items rated")
    if show_live_total:
        st.markdown(live_total_text(result))
    unanswered = [i for i in result.missing if responses.get(i) is None]
    if unanswered:
        numbers = ", ".join(definition.item_by_id[i].number for i in unanswered)
        st.warning(f"Still to rate (or mark not assessed with a reason): items {numbers}.")
    announce_not_assessed(definition, result, unanswered)
    consistency = [f for f in result.flags if f["kind"] == "consistency"]
    for flag in consistency:
        st.warning(f"Please check: {md(flag['message'])}")
    if not editable:
        return

    aid = assessment["id"]
    # Signing happens in the button's callback, before the page runs: the run the tap causes
    # then draws the signed result and the next scale at once, instead of drawing the whole form
    # again only to sign at its end and rerun (issue 16 item 9). The answers signed are those on
    # screen: the callback signs the version this form last drew or saved.
    with st.form(f"submit:{aid}"):
        if consistency:
            st.checkbox("I have checked the flagged ratings and confirm them", key=_key("confirm", aid, "flags"))
        st.text_input(
            "Your password, to sign as the rater (meaning: authored)",
            type="password",
            key=_key("password", aid, "sign"),
        )
        st.form_submit_button(
            "Sign and submit",
            type="primary",
            disabled=bool(unanswered),
            on_click=_on_sign,
            args=(aid, bool(consistency)),
        )
    refusal = st.session_state.pop(_refusal_key(aid), None)
    if refusal:
        st.error(refusal)


def _on_sign(assessment_id: int, confirmation_needed: bool) -> None:
    """The "Sign and submit" callback: the checks the form's run made before, then the signature
    (ui.scale_form.submit). A refusal is kept for the form to show under the button."""
    password = st.session_state.get(_key("password", assessment_id, "sign")) or ""
    st.session_state[_key("password", assessment_id, "sign")] = ""  # not kept in the session once used
    confirmed = bool(st.session_state.get(_key("confirm", assessment_id, "flags"))) or not confirmation_needed
    refused = _refusal_key(assessment_id)
    current = user_for_write()
    if current is None:
        return  # signed out (idle, or the account changed): the next run shows the sign-in screen
    with unit_of_work(write=False) as db:
        assessment = assessments.load_assessment(db, assessment_id)
    shown_version = st.session_state.get(_version_key(assessment_id))
    if assessment["status"] != "draft":
        return  # signed already (a second tap, or another tablet): the run shows the result
    if shown_version is not None and shown_version != assessment["version"]:
        st.session_state[refused] = (
            "Not submitted: the answers were changed on another device since you saw them. The form now "
            "shows the saved answers; check them, then sign again."
        )
        return
    try:
        definition = get_scale(assessment["scale_id"])
    except ScaleError as exc:
        st.session_state[refused] = f"Not submitted: {md(exc)}"
        return
    responses = assessment["responses"]
    if [i for i in score(definition, responses).missing if responses.get(i) is None]:
        st.session_state[refused] = "Rate every item, or mark it not assessed with a reason, before submitting."
        return
    if not confirmed:
        st.session_state[refused] = "Confirm the flagged ratings (tick the box) before submitting."
        return
    problem = submit(current, assessment, password)
    if problem:
        st.session_state[refused] = problem


def submit(user: dict[str, Any], assessment: dict[str, Any], password: str) -> str | None:
    """Re-check the password (the signature), then complete and sign in one transaction; None when
    signed, else why not (nothing was signed). The version signed is the caller's `assessment`
    version (the answers on screen), so answers another tablet saved in between are refused,
    never signed unseen."""
    signer = signin_throttle.authenticate_on_own_connection(user["username"], password or "")
    if signer is None or signer["id"] != user["id"]:
        return "That password is not correct; the assessment was not submitted. Your answers are saved."
    try:
        with unit_of_work() as db:
            done = assessments.complete_assessment(db, user, assessment["id"], expected_version=assessment["version"])
            assessments.sign_assessment(
                db, user, assessment["id"], expected_version=done["version"], meaning="authored"
            )
    except (StorageError, ScaleError) as exc:
        return f"Not submitted: {md(exc)}"
    after_save()
    return None
