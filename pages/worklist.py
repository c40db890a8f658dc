"""Today's worklist, the rater's landing page: per participant, what is due now and next, from
the protocol and the actual infusion times. One tap opens the right form. An overdue timepoint
stays until its window closes; then it is listed under "Missed visits", where a coordinator or
the PI records why. Withdrawn and completed participants are not on it."""

from datetime import UTC, datetime

import streamlit as st

from db import visits
from db.connection import unit_of_work
from scales import clinician_scale_ids, registry
from ui.assessment_start import start_or_resume
from ui.feedback import show_feedback, show_flash
from ui.page_request import follow_page_request, request_page
from ui.pickers import scoped_key
from ui.session import require_page, user_for_write
from ui.study import current_protocol
from ui.style import apply_tablet_style
from ui.text import md
from ui.timefmt import local_time
from ui.visits import explained_visit_list, may_record_reasons, missed_visit_card, reason_place

# Streamlit's badges, not emoji: tablets without an emoji font would show empty boxes.
STATE_BADGES = {"overdue": ":red-badge[overdue]", "due": ":green-badge[due now]", "upcoming": ":gray-badge[upcoming]"}


def open_rating(participant_id: int, timepoint_id: str, infusion_number: int | None, scale_id: str) -> None:
    """A Rate button's callback: find or start the assessment before the page runs, so the run the
    tap causes goes straight to the form instead of drawing the whole worklist first (issue 16
    item 9: ui.page_request). A refusal (window, status, permission) is drawn by start_or_resume
    above the list."""
    current = user_for_write()
    if current is None:
        return
    opened = start_or_resume(current, current_protocol(), participant_id, timepoint_id, infusion_number, scale_id)
    if opened is not None:
        request_page("pages/rate.py", {"assessment": str(opened)})


user = require_page("worklist")
follow_page_request()  # app.py has followed it already, unless this page runs on its own
apply_tablet_style()
protocol = current_protocol()
st.title("Today's worklist")

show_flash()

now = datetime.now(UTC)
with unit_of_work(write=False) as db:
    rows, missed, ids = visits.worklist_view(db, protocol, site_id=user["site_id"], now=now)
clinician = set(clinician_scale_ids())
may_rate = user["role"] in ("rater", "pi")

if not rows:
    st.info("Nothing is due: no active participant has a timepoint due now or next.")
for index, row in enumerate(rows):
    # Without a due time the anchor (an infusion) is not logged yet: say so, not "due not yet scheduled".
    when = (
        f"due {local_time(row.due_at, protocol.timezone)}"
        if row.due_at
        else "not yet scheduled: its time follows from the infusion start, once logged"
    )
    infusion = f" · infusion {row.infusion_number}" if row.infusion_number else ""
    with st.container(border=True, key=f"work-{index}"):
        st.markdown(f"**{md(row.participant)}** · {md(row.label + infusion)} · {STATE_BADGES[row.state]}")
        window = ""
        if row.window_start and row.window_end:
            window = (
                f" · window {local_time(row.window_start, protocol.timezone, '%d %b %H:%M')}"
                f" – {local_time(row.window_end, protocol.timezone, '%d %b %H:%M')}"
            )
        st.caption(f"{when}{window}{' · provisional' if row.provisional else ''}")
        columns = st.columns(max(len(row.scales), 1))
        for column, scale_id in zip(columns, row.scales, strict=False):
            definition = registry().get(scale_id)
            if definition is None:  # its definition file is not installed (removed, or skipped as broken)
                column.caption(md(f"{scale_id.upper()} (definition not installed)"))
                continue
            if scale_id in clinician and may_rate:
                rate_key = scoped_key("participant", ids[row.participant], f"rate-{row.timepoint_key}-{scale_id}")
                column.button(
                    f"Rate {definition.abbreviation}",
                    key=rate_key,
                    width="stretch",
                    type="primary" if row.state != "upcoming" else "secondary",
                    on_click=open_rating,
                    args=(ids[row.participant], row.timepoint_id, row.infusion_number, scale_id),
                )
            else:
                column.caption(f"{definition.abbreviation}" + (" (self-report)" if scale_id not in clinician else ""))

if missed:
    st.subheader("Missed visits")
    open_ = [v for v in missed if not v["reason"]]
    explained = [v for v in missed if v["reason"]]
    st.caption(
        "Windows closed without every rating. A rating entered later still counts (as a protocol "
        "deviation). "
        + (
            "Record why each was missed."
            if may_record_reasons(user)
            else "A coordinator or the PI records why each was missed."
        )
    )
    for visit in open_:
        missed_visit_card(user, protocol, visit)
    for visit in explained:  # a reason just saved: its card is gone, its message shows here
        show_feedback(reason_place(visit))
    if explained:
        with st.expander(f"{len(explained)} missed visit{'s' if len(explained) != 1 else ''} with a reason recorded"):
            explained_visit_list(protocol, explained)
