"""Today's worklist, the rater's landing page: per participant, what is due now and next, from
the protocol and the actual infusion times. One tap opens the right form."""

from datetime import UTC, datetime

import streamlit as st

from db.connection import unit_of_work
from db.schedule import schedule_inputs
from protocol.schedule import worklist
from scales import clinician_scale_ids, registry
from ui.assessment_start import start_or_resume
from ui.session import require_page
from ui.study import current_protocol
from ui.style import apply_tablet_style
from ui.timefmt import local_time

# Streamlit's badges, not emoji: tablets without an emoji font would show empty boxes.
STATE_BADGES = {"overdue": ":red-badge[overdue]", "due": ":green-badge[due now]", "upcoming": ":gray-badge[upcoming]"}

user = require_page("worklist")
apply_tablet_style()
protocol = current_protocol()
st.title("Today's worklist")

now = datetime.now(UTC)
with unit_of_work(write=False) as db:
    people = schedule_inputs(db, site_id=user["site_id"])
ids = {p["code"]: p["id"] for p in people}
rows = worklist(protocol, people, now)
clinician = set(clinician_scale_ids())
may_rate = user["role"] in ("rater", "pi")

if not rows:
    st.info("Nothing is due: no active participant has a timepoint due now or next.")
for index, row in enumerate(rows):
    when = local_time(row.due_at.strftime("%Y-%m-%dT%H:%M:%SZ"), protocol.timezone) if row.due_at else "not yet scheduled"
    infusion = f" · infusion {row.infusion_number}" if row.infusion_number else ""
    with st.container(border=True, key=f"work-{index}"):
        st.markdown(f"**{row.participant}** · {row.label}{infusion} · {STATE_BADGES[row.state]}")
        window = ""
        if row.window_start and row.window_end:
            window = (f" · window {local_time(row.window_start.strftime('%Y-%m-%dT%H:%M:%SZ'), protocol.timezone, '%d %b %H:%M')}"
                      f" – {local_time(row.window_end.strftime('%Y-%m-%dT%H:%M:%SZ'), protocol.timezone, '%d %b %H:%M')}")
        st.caption(f"due {when}{window}{' · provisional' if row.provisional else ''}")
        columns = st.columns(max(len(row.scales), 1))
        for column, scale_id in zip(columns, row.scales, strict=False):
            definition = registry()[scale_id]
            if scale_id in clinician and may_rate:
                if column.button(f"Rate {definition.abbreviation}", key=f"rate-{index}-{scale_id}",
                                 use_container_width=True, type="primary" if row.state != "upcoming" else "secondary"):
                    opened = start_or_resume(user, protocol, ids[row.participant], row.timepoint_id,
                                             row.infusion_number, scale_id)
                    if opened is not None:
                        st.switch_page("pages/rate.py", query_params={"assessment": str(opened)})
            else:
                column.caption(f"{definition.abbreviation}" + (" (self-report)" if scale_id not in clinician else ""))
