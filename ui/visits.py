"""Widgets for the end of the trial day's bookkeeping, shared by the worklist, the participant's
record and the study's visits page: a missed visit with its reason (and the control to record
one), the list of protocol deviations, and a participant's status with withdraw/complete forms.

Every widget key names the participant (and timepoint) it acts on (ui.pickers.scoped_key), so a
reason typed for one visit can never be submitted for another; a refusal is shown under the
control that caused it (ui.feedback place) and stays until the action is tried again. Times are
shown in the study's local time. The rules themselves live in db.visits and db.participants.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import streamlit as st

from db import participants, visits
from db.permissions import allowed
from protocol import Protocol
from protocol.keys import timepoint_label
from protocol.timing import local_date_at, local_text
from scales import registry
from ui.feedback import run_write, show_feedback
from ui.pickers import scoped_key
from ui.text import md

ACTIVE = ("screening", "enrolled")


def local(moment: datetime | str | None, protocol: Protocol, fmt: str = "%Y-%m-%d %H:%M %Z") -> str:
    """A UTC time (aware datetime or stored text) in the study's time zone; '' for None."""
    return local_text(moment, protocol.timezone, fmt)


def _scales(scale_ids) -> str:
    known = registry()
    return ", ".join(known[s].abbreviation if s in known else s for s in scale_ids)


def _name(timepoint: str) -> str:
    """A timepoint key as part of a widget key (no '@', which a CSS class name would need escaped)."""
    return timepoint.replace("@", "-inf")


def may_record_reasons(user: dict[str, Any]) -> bool:
    return allowed(user["role"], "participant.update")


def reason_place(visit: dict[str, Any]) -> str:
    """Where the message of recording this visit's reason is shown (ui.feedback place)."""
    return scoped_key("participant", visit["participant_id"], f"missed-reason-{_name(visit['timepoint'])}")


def missed_visit_card(
    user: dict[str, Any], protocol: Protocol, visit: dict[str, Any], *, show_participant: bool = True
) -> None:
    """One missed visit: what was not rated, when its window closed, the reason recorded (if
    any), and for coordinators and PIs the form that records or corrects it."""
    pid, key, code = visit["participant_id"], visit["timepoint"], visit["participant"]
    name = _name(key)
    with st.container(border=True, key=scoped_key("participant", pid, f"missed-{name}")):
        who = f"**{md(code)}** · " if show_participant else ""
        st.markdown(f"{who}{md(visit['label'])} · :orange-badge[missed]")
        st.caption(
            md(
                f"window {local(visit['window_start'], protocol, '%d %b %H:%M')} – "
                f"{local(visit['window_end'], protocol, '%d %b %H:%M %Z')} closed · not rated: "
                f"{_scales(visit['scales'])}"
            )
        )
        if visit["reason"]:
            st.markdown(f"Reason: {md(visit['reason'])}")
            st.caption(md(f"recorded by {visit['reason_by'] or 'unknown'}, {local(visit['reason_at'], protocol)}"))
        else:
            st.caption("No reason recorded yet.")
        place = reason_place(visit)
        if may_record_reasons(user):
            # A new key after each saved reason, so the form starts empty for a correction.
            version = visit["reason_at"] or "new"
            with st.expander("Change the reason" if visit["reason"] else "Record reason"):
                with st.form(scoped_key("participant", pid, f"missed-form-{name}-{version}")):
                    reason = st.text_input(
                        "Why was this visit missed?",
                        key=scoped_key("participant", pid, f"missed-text-{name}-{version}"),
                        placeholder="e.g. participant asleep; rater with another participant",
                    )
                    if st.form_submit_button("Save reason"):
                        run_write(
                            lambda db: visits.record_missed_reason(db, user, protocol, pid, key, reason),
                            f"Reason recorded for {code} · {visit['label']}.",
                            place=place,
                        )
        show_feedback(place)


def explained_visit_list(protocol: Protocol, rows: list[dict[str, Any]]) -> None:
    """Missed visits that have a reason, one compact line each (the worklist's short form)."""
    st.markdown(
        "\n".join(
            f"- **{md(v['participant'])}** · "
            + md(
                f"{v['label']}: {v['reason']} ({v['reason_by'] or 'unknown'}, "
                f"{local(v['reason_at'], protocol, '%d %b %H:%M')})"
            )
            for v in rows
        )
    )


def missed_visit_table(protocol: Protocol, rows: list[dict[str, Any]], *, key: str) -> None:
    """Missed visits as one table (the study view): participant, status, visit, window, reason."""
    st.dataframe(
        [
            {
                "participant": v["participant"],
                "status": v["status"],
                "visit": v["label"],
                "window closed": local(v["window_end"], protocol),
                "not rated": _scales(v["scales"]),
                "reason": v["reason"] or "",
                "reason by": v["reason_by"] or "",
                "reason recorded": local(v["reason_at"], protocol),
            }
            for v in rows
        ],
        hide_index=True,
        width="stretch",
        key=key,
    )


def deviation_table(protocol: Protocol, rows: list[dict[str, Any]], *, key: str, with_participant: bool) -> None:
    """Protocol deviations, newest first: when (local time), kind, timepoint, description, the
    reason given for an override, how early or late, and who recorded it. `st.table` renders
    Markdown in every cell, so each cell is escaped (ui.text.md)."""
    table = []
    for d in rows:
        row = {
            **({"participant": d["participant"], "site": d["site_code"]} if with_participant else {}),
            "recorded": local(d["recorded_at"], protocol),
            "kind": d["kind_label"],
            "timepoint": timepoint_label(protocol, d["timepoint"]),
            "description": d["description"],
            "reason": d.get("reason") or "",
            "early / late": _early_late(d),
            "recorded by": d["recorded_by_name"] or "",
        }
        table.append({column: md(value) for column, value in row.items()})
    # A static table, not a grid: every cell is text on the page (printable, readable by
    # assistive technology and by the browser tests), and a study's deviations are a short list.
    with st.container(key=key):
        st.table(table)


def deviation_cards(protocol: Protocol, rows: list[dict[str, Any]], participant_id: int) -> None:
    """One participant's deviations, newest first, one card each (readable on a tablet)."""
    for d in rows:
        with st.container(border=True, key=scoped_key("participant", participant_id, f"deviation-{d['id']}")):
            st.markdown(f"**{md(d['kind_label'])}** · {md(timepoint_label(protocol, d['timepoint']))}")
            st.markdown(md(d["description"]))
            if d.get("reason"):
                st.markdown(f"Reason given: {md(d['reason'])}")
            st.caption(
                md(
                    f"recorded {local(d['recorded_at'], protocol)} by {d['recorded_by_name'] or 'unknown'}"
                    + (f" · {_early_late(d)}" if _early_late(d) else "")
                )
            )


def _early_late(d: dict[str, Any]) -> str:
    if d.get("minutes_late"):
        return f"{d['minutes_late']:.0f} min late"
    if d.get("minutes_early"):
        return f"{d['minutes_early']:.0f} min early"
    return ""


def status_text(protocol: Protocol, participant: dict[str, Any]) -> str:
    """'withdrawn on 2026-05-05 10:00 BST: consent withdrawn', or the plain status, as Markdown
    that shows exactly that text (the reason is typed by a user)."""
    status = participant["status"].replace("_", " ")
    if participant["status"] in participants.ENDED and participant.get("status_at"):
        text = f"{status} on {local(participant['status_at'], protocol)}"
        return md(text + (f": {participant['status_reason']}" if participant.get("status_reason") else ""))
    return md(status)


def participation_controls(user: dict[str, Any], protocol: Protocol, participant: dict[str, Any]) -> None:
    """Withdraw (with reason, date and time) or complete a participant still in the study;
    coordinators and PIs only. Date and time are the study's local time, defaulting to now."""
    pid, code, tz = participant["id"], participant["code"], protocol.timezone
    place = scoped_key("participant", pid, "participation")
    if participant["status"] not in ACTIVE or not allowed(user["role"], "participant.update"):
        show_feedback(place)  # the message of a withdrawal or completion just saved
        return
    now = datetime.now(UTC).astimezone(tz).replace(second=0, microsecond=0)
    actions = ["Withdraw"] + (["Complete"] if participant["status"] == "enrolled" else [])
    tabs = st.tabs([f"{a} {md(code)}" for a in actions])  # tab labels are Markdown
    with tabs[0], st.form(scoped_key("participant", pid, "withdraw")):
        st.caption(f"{md(code)} leaves every worklist; nothing planned after this date counts as missed.")
        reason = st.text_input(
            "Reason for withdrawal",
            key=scoped_key("participant", pid, "withdraw-reason"),
            placeholder="e.g. consent withdrawn; adverse event; lost to follow-up",
        )
        left, right = st.columns(2)
        day = left.date_input(
            "Date withdrawn",
            value=now.date(),
            max_value=now.date(),
            format="YYYY-MM-DD",
            key=scoped_key("participant", pid, "withdraw-date"),
        )
        clock = right.time_input(
            f"Time ({tz.key})", value=now.time(), step=60, key=scoped_key("participant", pid, "withdraw-time")
        )
        if st.form_submit_button("Withdraw participant", type="primary"):
            at = local_date_at(day, clock, tz)
            run_write(
                lambda db: participants.withdraw_participant(db, user, pid, reason, at),
                f"{code} withdrawn from {local(at, protocol)}.",
                place=place,
            )
    if len(tabs) > 1:
        with tabs[1], st.form(scoped_key("participant", pid, "complete")):
            st.caption(f"{md(code)} completed the study schedule and leaves every worklist.")
            note = st.text_input("Note (optional)", key=scoped_key("participant", pid, "complete-note"))
            left, right = st.columns(2)
            day = left.date_input(
                "Date completed",
                value=now.date(),
                max_value=now.date(),
                format="YYYY-MM-DD",
                key=scoped_key("participant", pid, "complete-date"),
            )
            clock = right.time_input(
                f"Time ({tz.key})", value=now.time(), step=60, key=scoped_key("participant", pid, "complete-time")
            )
            if st.form_submit_button("Mark as completed"):
                at = local_date_at(day, clock, tz)
                run_write(
                    lambda db: participants.complete_participant(db, user, pid, at, note or None),
                    f"{code} marked as completed on {local(at, protocol)}.",
                    place=place,
                )
    show_feedback(place)
