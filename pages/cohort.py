"""Cohort and alerts (PI, monitor): every participant's trajectory with the mean and 95 % CI per
planned timepoint (by arm only for roles that may see arms), response and remission rates with
their denominators, a sortable participant table (CSV download), the completeness matrix, and
the open safety alerts, which the PI acknowledges with a comment (audited in db.alerts).

Load, compute and chart through the one cohort snapshot (ui/cohort_data.py: keyed by the
database's data version, which every audited write changes) → draw. The completeness matrix,
which depends on the clock, is recomputed every minute.
"""

from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from analytics.cohort import format_rate
from charts import to_png, to_svg
from db import alerts as alert_store
from db.connection import database_path, unit_of_work
from db.permissions import allowed
from protocol.keys import timepoint_label
from scales.csvout import frame_csv
from ui import cohort_data
from ui.blinding import arm_visible
from ui.feedback import run_write, set_error, show_feedback, show_flash
from ui.names import for_display, scale_abbreviation
from ui.pickers import scoped_key
from ui.session import require_page
from ui.study import current_protocol
from ui.text import md
from ui.timefmt import local_time

#: The participant table's headings (analytics.cohort.PARTICIPANT_COLUMNS are its stored names).
PARTICIPANT_HEADINGS = {
    "percent_change": "% change",
    "response_and_remission": "response and remission",
    "first_response_hours": "first response (h)",
    "first_response_at": "first response at",
    "relapse_at": "relapse at",
    "dissociation_peak": "CADSS peak",
    "dissociation_peak_minutes": "peak at (min)",
    "missed_assessments": "missed assessments",
    "rater_changes": "rater changes",
}

user = require_page("cohort")
protocol = current_protocol()
st.title("Cohort and alerts")
show_flash()

with unit_of_work(write=False) as db:
    open_alerts = alert_store.list_alerts(db, open_only=True, site_id=user["site_id"])
show_arm = arm_visible(user["role"], protocol)
# Shared read-only between sessions (the page copies before it changes anything); right after a
# server start this waits for the warm-up (ui/warmup.py) instead of computing beside it.
snapshot = cohort_data.snapshot(str(database_path()), user["site_id"])


# --------------------------------------------------------------------------- alerts first: safety


st.subheader(f"Open safety alerts ({len(open_alerts)})")
if open_alerts:
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "alert": a["id"],
                    "participant": a["participant_code"],
                    "scale": scale_abbreviation(a["scale_id"]),
                    "timepoint": timepoint_label(protocol, a["timepoint"]),
                    "message": a["message"],
                    "raised": local_time(a["created_at"], protocol.timezone),
                }
                for a in open_alerts
            ]
        ),
        hide_index=True,
    )
    if allowed(user["role"], "alert.acknowledge"):
        # The picker is keyed (a new alert arriving does not switch the choice to another one) and
        # the note and its messages are keyed by the alert chosen, so a note is never filed
        # against an alert it was not written for, and is kept after a refusal.
        labels = {a["id"]: f"#{a['id']} {a['participant_code']}: {a['message']}" for a in open_alerts}
        chosen = st.selectbox(
            "Alert to acknowledge", list(labels), key="acknowledge-alert", format_func=lambda i: labels.get(i, f"#{i}")
        )
        place = scoped_key("alert", chosen, "acknowledge")
        with st.form(scoped_key("alert", chosen, "acknowledge-form")):
            note = st.text_area(
                "What was done (kept in the audit trail)",
                key=scoped_key("alert", chosen, "note"),
                placeholder="e.g. participant called, safety plan reviewed, seen by psychiatrist",
            )
            submitted = st.form_submit_button("Acknowledge alert", type="primary")
        if submitted:
            if not note.strip():
                set_error(place, "Write what was done before acknowledging the alert.")
            else:
                run_write(
                    lambda db: alert_store.acknowledge_alert(db, user, chosen, note),
                    f"Alert {chosen} acknowledged; your note is in the audit trail.",
                    place=place,
                    success_place=None,
                )  # the alert leaves the list: the message goes to the top
        show_feedback(place)
    else:
        st.caption("Only the PI acknowledges alerts.")
else:
    st.success("No open safety alerts.")

# --------------------------------------------------------------------------- outcomes

with_rules = list(protocol.outcome_scales)
primary = protocol.primary_endpoint.scale
scale_id = st.selectbox(
    "Scale",
    with_rules,
    index=with_rules.index(primary) if primary in with_rules else 0,
    format_func=scale_abbreviation,
)
view = snapshot.view(protocol, scale_id, show_arm)
matrix = snapshot.completeness(protocol, datetime.now(UTC).replace(second=0, microsecond=0))
if not show_arm:
    st.caption("Arms are hidden: this study is blinded for your role, so summaries pool all participants.")

st.subheader(f"Trajectories ({view.n_participants} participants)")
if view.chart is None:
    st.info("No submitted ratings of this scale yet.")
else:
    st.vega_lite_chart(view.chart.draw, width="stretch", key="cohort-chart")
    a, b, _ = st.columns([1, 1, 3])
    a.download_button(
        "PNG",
        data=lambda s=view.chart.spec: to_png(s, scale=1.5),
        file_name=f"cohort-{scale_id}.png",
        mime="image/png",
        on_click="ignore",
        key="cohort-png",
        icon=":material/image:",
        width="stretch",
    )
    b.download_button(
        "SVG",
        data=lambda s=view.chart.spec: to_svg(s),
        file_name=f"cohort-{scale_id}.svg",
        mime="image/svg+xml",
        on_click="ignore",
        key="cohort-svg",
        icon=":material/draw:",
        width="stretch",
    )

    summary = (
        view.summary.drop(columns=["order", "timepoint"])
        .rename(columns={"label": "timepoint", "ci_low": "95 % CI low", "ci_high": "95 % CI high"})
        .round(1)
    )
    st.dataframe(summary, hide_index=True)

    st.subheader("Response and remission by timepoint")
    rates = view.rates
    st.dataframe(
        pd.DataFrame(
            {
                "timepoint": rates["label"],
                **({"arm": rates["arm"]} if "arm" in rates else {}),
                "response": [format_rate(m, n) for m, n in zip(rates["responders"], rates["response_n"], strict=True)],
                "remission": [format_rate(m, n) for m, n in zip(rates["remitters"], rates["remission_n"], strict=True)],
            }
        ),
        hide_index=True,
    )
    st.caption(
        "Denominator: participants with a rating there for whom the rule could be decided (response "
        "needs a baseline). " + "; ".join(md(r.label) for r in protocol.outcome_rules_for(scale_id))
    )

st.subheader("Participants")
table = view.participants.copy()
table["missed_assessments"] = pd.array([matrix.missed.get(c, 0) for c in table["participant"]], dtype="Int64")
# On screen: headings and plain words; the CSV below keeps the stored column names for analysis.
st.dataframe(
    for_display(table, PARTICIPANT_HEADINGS, words=["status"]),
    hide_index=True,
    column_config={
        PARTICIPANT_HEADINGS["percent_change"]: st.column_config.NumberColumn(format="%.1f"),
        PARTICIPANT_HEADINGS["first_response_hours"]: st.column_config.NumberColumn(format="%.1f"),
    },
)
st.download_button(
    "Download the table (CSV)",
    data=frame_csv(table),
    file_name=f"participants-{scale_id}.csv",
    mime="text/csv",
    key="table-csv",
    on_click="ignore",
    icon=":material/download:",
)

st.subheader("Completeness")
st.caption(
    "Each participant's planned timepoints from the protocol schedule: done, due, overdue, missing (window "
    "closed without every scale due), upcoming."
)
st.dataframe(matrix.counts(), key="completeness-counts")
st.dataframe(matrix.matrix, key="completeness-matrix")
for code, problem in matrix.problems.items():
    st.warning(md(f"{code}: schedule cannot be computed: {problem}"))
