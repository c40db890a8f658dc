"""Participant trajectory: one panel per scale given (severity bands, baseline, response and
remission thresholds from the protocol, infusion markers, amended ratings ringed), the
dissociation panel (CADSS and BPRS+ around each infusion, with peaks), the outcome summary, PNG
and SVG downloads of every chart, and the participant's record as a certified HTML copy.

Load (study.records, which checks the read rule, over db.analytics) → compute (analytics) → chart (charts) → draw. The view is cached per
participant on a cheap data version that changes with every audited write for that participant
(a submitted rating, an amendment, a logged infusion), so a new rating shows at once.
Staff tied to a site see only that site's participants; blinded roles see no arm and no dose.
The certified copy holds the audit history, so it is offered only to roles
`db.permissions.may_read_audit` allows (the same rule as the history on the Assessments page).
"""

from datetime import UTC, datetime

import streamlit as st

from analytics.outcomes import participant_outcomes
from analytics.records import assessment_from_row, infusion_from_row
from analytics.report import build_report
from charts import VIEW_LABELS, VIEWS, to_png, to_svg
from charts.views import participant_view
from db import analytics as store
from db.connection import database_path, unit_of_work
from db.permissions import may_read_audit
from protocol.keys import timepoint_label
from study import records
from ui.blinding import arm_visible
from ui.names import for_display, scale_abbreviation
from ui.pickers import choose_participant
from ui.reads import read_or_stop
from ui.session import require_page
from ui.study import current_protocol
from ui.text import md
from ui.visits import status_text

user = require_page("trajectory")
protocol = current_protocol()
st.title("Participant trajectory")

participant = choose_participant(user)
code = participant["code"]
blinded = not arm_visible(user["role"], protocol)
st.query_params["participant"] = code

left, right = st.columns([3, 1])
view = (
    left.segmented_control(
        "Time axis", VIEWS, default="compressed", format_func=VIEW_LABELS.__getitem__, key="time_view"
    )
    or "compressed"
)


# cache_resource, not cache_data: the view is shared read-only (never changed below), so a rerun
# does not pay for unpickling five charts' specifications and Arrow tables.
@st.cache_resource(max_entries=64, show_spinner=False)
def load_view(
    db_path: str,
    participant_id: int,
    version: str,
    view: str,
    infusion: int,
    show_dose: bool,
    protocol_hash: str,
    _actor,
):
    """Everything drawn below, cached on (participant, data version, view, blinding, protocol).
    The read rule is checked before (records.list_infusions, every run) and here on a miss."""
    with unit_of_work(write=False) as db:
        rows = records.participant_rows(db, _actor, participant_id)
    return participant_view(protocol, rows, view=view, infusion=infusion, show_dose=show_dose), rows["alerts"]


with unit_of_work(write=False) as db:
    version = store.participant_version(db, participant["id"])
    # The read rule (study.records: data.read at the participant's site), on every run, before any cached view.
    logged = read_or_stop(lambda: records.list_infusions(db, user, participant["id"]))
    numbers = [i["number"] for i in logged] if view == "day" else []
infusion = 1
if len(numbers) > 1:
    infusion = right.selectbox("Infusion", numbers, format_func=lambda n: f"Infusion {n}")
result, alerts = load_view(
    str(database_path()), participant["id"], version, view, infusion, not blinded, protocol.hash, user
)

header = f"**{md(code)}** · " + md(f"site {participant['site_code']} · {participant['status']}")
header += " · arm hidden (blinded)" if blinded else " · " + md(f"arm {participant['arm'] or 'not allocated'}")
st.markdown(header)
if participant["status"] in ("withdrawn", "completed") and participant.get("status_at"):
    ended = status_text(protocol, participant)
    st.caption(
        f"{ended[:1].upper()}{ended[1:]}. No ratings are expected after this date: the dashed line on "
        "each chart marks it."
    )
for note in result.notes:
    st.info(md(note))
open_alerts = [a for a in alerts if a["acknowledged_at"] is None and a["resolved_at"] is None]  # as db.alerts.OPEN
for alert in open_alerts:
    st.error(
        md(
            f"Open safety alert: {alert['message']} ({scale_abbreviation(alert['scale_id'])}, {timepoint_label(protocol, alert['timepoint'])})"
        ),
        icon=":material/emergency:",
    )

if not result.outcomes.empty:
    st.subheader("Outcome at the primary endpoint")
    shown = result.outcomes.assign(scale=result.outcomes["scale"].map(scale_abbreviation))
    st.dataframe(for_display(shown, {}), hide_index=True)
    st.caption(
        "Rules from the study protocol: "
        + "; ".join(md(r.label) for r in protocol.outcome_rules if r.scale in set(result.outcomes["scale"]))
    )
if result.rater_changes:
    st.warning("Rater changed: " + "; ".join(md(change) for change in result.rater_changes))

if not result.panels:
    st.info(f"No submitted ratings for {md(code)} yet.")


def draw(panel) -> None:
    """The chart, then its PNG and SVG downloads (rendered by vl-convert only when clicked)."""
    st.vega_lite_chart(panel.draw, width="stretch", key=f"chart-{panel.key}")
    stem = f"{code}-{panel.key}-{view}"
    # Keys carry the participant: a download button never outlives the participant it was drawn for.
    for column, (label, render, mime, icon) in zip(
        st.columns([1, 1, 3])[:2],
        (("PNG", to_png, "image/png", ":material/image:"), ("SVG", to_svg, "image/svg+xml", ":material/draw:")),
        strict=True,
    ):
        column.download_button(
            label,
            data=lambda s=panel.spec, render=render: render(s),
            file_name=f"{stem}.{label.lower()}",
            mime=mime,
            key=f"{label.lower()}-{code}-{panel.key}",
            on_click="ignore",
            icon=icon,
            width="stretch",
        )


for panel in result.panels:
    st.markdown(f"#### {md(panel.title)}")
    draw(panel)

if result.dissociation is not None:
    st.markdown("#### Dissociation around each infusion")
    draw(result.dissociation)
    st.dataframe(result.peaks, hide_index=True)

if not result.infusions.empty:
    st.subheader("Infusions")
    st.dataframe(result.infusions, hide_index=True)

st.subheader("Certified copy")
if may_read_audit(user):
    st.caption(
        "One HTML file with the trajectories, every assessment's items and scores, the alerts and the "
        "audit history, with a SHA-256 of its content printed in it so a kept copy can be checked."
        + (" Blinded copy: arm and doses are withheld." if blinded else "")
    )

    def report() -> bytes:
        with unit_of_work(write=False) as db:
            record = records.participant_record(db, user, participant["id"])
            rows = records.participant_rows(db, user, participant["id"])
        outcomes = participant_outcomes(
            protocol,
            [assessment_from_row(r) for r in rows["assessments"]],
            [infusion_from_row(r) for r in rows["infusions"]],
        )
        full = participant_view(protocol, rows, view="compressed", show_dose=not blinded)
        svgs = [(p.title, to_svg(p.spec)) for p in full.panels]
        if full.dissociation is not None:
            svgs.append(("Dissociation around each infusion", to_svg(full.dissociation.spec)))
        return build_report(
            record,
            protocol,
            outcomes,
            charts_svg=svgs,
            generated_by=user,
            blinded=blinded,
            generated_at=datetime.now(UTC),
        ).encode("utf-8")

    st.download_button(
        "Download the participant record (HTML)",
        data=report,
        file_name=f"{code}-record.html",
        mime="text/html",
        on_click="ignore",
        icon=":material/verified:",
        key="report",
    )
else:
    st.caption("The certified copy includes the audit trail, which your role may not read; ask the PI or a monitor.")
