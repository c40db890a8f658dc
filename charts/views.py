"""Whole views, assembled from analytics and the chart builders: what a page draws, as plain data
(Vega-Lite specs and tables), so a page only loads, calls one function and draws, and the result
can be cached as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from analytics.cohort import (
    Cohort,
    build_cohort,
    cohort_outcomes,
    participant_table,
    response_rates,
    timepoint_label,
    timepoint_summary,
    trajectory_frame,
)
from analytics.dissociation import infusion_courses
from analytics.outcomes import ScaleOutcome, participant_outcomes, threshold_lines
from analytics.records import (
    Assessment,
    InfusionEvent,
    assessment_from_row,
    infusion_from_row,
    sorted_infusions,
    stored_time,
)
from charts.cohort import cohort_chart, plotted_participants
from charts.dissociation import dissociation_chart
from charts.export import drawable, spec
from charts.participant import local_text, trajectory_chart
from charts.timeaxis import offset_text, time_axis
from protocol import Protocol
from protocol.keys import parse_assessment_timepoint
from scales import get_scale
from scales.errors import ScaleError


@dataclass
class Panel:
    """One chart: `spec` is the Vega-Lite specification (JSON, what PNG/SVG export and the report
    use), `draw` the same with its data as Arrow tables (what the page hands to Streamlit)."""

    key: str
    title: str
    spec: dict[str, Any]
    draw: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.draw:
            self.draw = drawable(self.spec)


@dataclass
class ParticipantView:
    panels: list[Panel]
    dissociation: Panel | None
    outcomes: pd.DataFrame
    peaks: pd.DataFrame
    infusions: pd.DataFrame
    rater_changes: list[str]
    infusion_numbers: list[int]
    notes: list[str] = field(default_factory=list)


def timepoint_labels(protocol: Protocol, stored: list[str]) -> dict[str, str]:
    """{stored timepoint text: label}, e.g. 'min_40@2' → '40 minutes after infusion start · infusion 2'."""
    return {text: timepoint_label(protocol, parse_assessment_timepoint(text)) for text in stored}


def scale_order(protocol: Protocol, scale_ids: list[str]) -> list[str]:
    """Scales in the order the protocol lists them at its timepoints (outcome scales first)."""
    order: list[str] = list(protocol.outcome_scales)
    for timepoint in protocol.timepoints:
        order += [s for s in timepoint.scales if s not in order]
    return sorted(set(scale_ids), key=lambda s: (order.index(s) if s in order else len(order), s))


def _yes_no(flag: bool | None) -> str:
    return "—" if flag is None else ("yes" if flag else "no")


def outcome_rows(protocol: Protocol, outcomes: Mapping[str, ScaleOutcome], labels: Mapping[str, str]) -> pd.DataFrame:
    rows = []
    for scale_id, o in outcomes.items():
        if not protocol.outcome_rules_for(scale_id):
            continue
        first, relapse, end = o.first_response, o.relapse, o.endpoint
        rows.append(
            {
                "scale": scale_id,
                "baseline": o.baseline_total,
                "endpoint": None if end is None else end.total,
                "% change": None if end is None or end.percent_change is None else round(end.percent_change, 1),
                "responder": _yes_no(o.endpoint_flag("response")),
                "remitter": _yes_no(o.endpoint_flag("remission")),
                "response and remission": _yes_no(o.endpoint_flag("combined")),
                "first response": ""
                if first is None
                else f"{labels.get(first.timepoint, first.timepoint)} ({offset_text(first.hours)})",
                "relapse": "" if relapse is None else labels.get(relapse.timepoint, relapse.timepoint),
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "scale",
            "baseline",
            "endpoint",
            "% change",
            "responder",
            "remitter",
            "response and remission",
            "first response",
            "relapse",
        ],
    )


def participant_view(
    protocol: Protocol, rows: Mapping[str, Any], *, view: str = "compressed", infusion: int = 1, show_dose: bool = False
) -> ParticipantView:
    """Panels (one per scale given), dissociation panel and tables for one participant.

    `rows`: db.analytics.participant_rows(...). `show_dose`: False for blinded viewers.
    """
    assessments: list[Assessment] = [assessment_from_row(r) for r in rows["assessments"]]
    infusions: tuple[InfusionEvent, ...] = sorted_infusions(infusion_from_row(r) for r in rows["infusions"])
    outcomes = participant_outcomes(protocol, assessments, infusions)
    labels = timepoint_labels(protocol, sorted({a.timepoint for a in assessments}))
    axis = time_axis(view, infusion)
    tz = protocol.timezone
    person = rows.get("participant") or {}
    ended_at = (
        stored_time(person["status_at"])
        if person.get("status") in ("withdrawn", "completed") and person.get("status_at")
        else None
    )
    ended = None if ended_at is None else (person["status"], ended_at)
    panels = []
    for scale_id in scale_order(protocol, [a.scale_id for a in assessments if a.usable]):
        try:
            definition = get_scale(scale_id)
        except ScaleError:
            continue
        outcome = outcomes.get(scale_id)
        lines = threshold_lines(protocol, scale_id, outcome.baseline_total if outcome else None)
        chart = trajectory_chart(
            definition,
            assessments,
            infusions,
            outcome=outcome,
            thresholds=lines,
            axis=axis,
            tz=tz,
            show_dose=show_dose,
            timepoint_labels=labels,
            status_change=ended,
        )
        panels.append(Panel(scale_id, definition.abbreviation, spec(chart)))
    courses = infusion_courses(assessments, infusions)
    dissociation = None
    if courses:
        dissociation = Panel(
            "dissociation", "Dissociation", spec(dissociation_chart(courses, tz=tz, timepoint_labels=labels))
        )
    peaks = pd.DataFrame(
        [
            {
                "measure": c.label,
                "infusion": c.infusion.number,
                "pre-infusion": None if c.pre is None else c.pre.value,
                "peak": None if c.peak is None else c.peak.value,
                "peak at (min)": None if c.peak is None else round(c.peak.minutes),
                "change at peak": c.peak_change,
                "ratings after start": len(c.post),
            }
            for c in courses
        ],
        columns=[
            "measure",
            "infusion",
            "pre-infusion",
            "peak",
            "peak at (min)",
            "change at peak",
            "ratings after start",
        ],
    )
    infusion_table = pd.DataFrame(
        [
            {
                "infusion": i.number,
                "started": local_text(i.started_at, tz),
                "ended": local_text(i.ended_at, tz),
                "dose (mg/kg)": i.dose_mg_per_kg if show_dose else "blinded",
                "total dose (mg)": i.total_dose_mg if show_dose else "blinded",
            }
            for i in infusions
        ],
        columns=["infusion", "started", "ended", "dose (mg/kg)", "total dose (mg)"],
    )
    changes = [
        f"{o.scale_id}: {labels.get(c.timepoint, c.timepoint)} rated by {c.rater or '?'} "
        f"(before: {c.previous_rater or '?'})"
        for o in outcomes.values()
        for c in o.rater_changes
    ]
    notes = []
    if not infusions:
        notes.append(
            "No infusion is logged yet: times count from the first rating, and no baseline or response "
            "can be judged until infusion 1 is logged."
        )
    return ParticipantView(
        panels,
        dissociation,
        outcome_rows(protocol, outcomes, labels),
        peaks,
        infusion_table,
        changes,
        [i.number for i in infusions],
        notes,
    )


# --------------------------------------------------------------------------- cohort


@dataclass
class CohortView:
    scale_id: str
    chart: Panel | None
    summary: pd.DataFrame
    rates: pd.DataFrame
    participants: pd.DataFrame
    n_participants: int


def cohort_from_rows(rows: Mapping[str, Any]) -> Cohort:
    return build_cohort(rows["participants"], rows["assessments"], rows["infusions"])


def cohort_view(
    protocol: Protocol, cohort: Cohort, scale_id: str, *, show_arm: bool, missed: Mapping[str, int] | None = None
) -> CohortView:
    """Chart spec, per-timepoint summary and rates, and the participant table for one scale."""
    definition = get_scale(scale_id)
    outcomes = cohort_outcomes(protocol, cohort, scale_id)
    frame = trajectory_frame(protocol, cohort, outcomes)
    summary = timepoint_summary(frame, by_arm=show_arm)
    rates = response_rates(frame, by_arm=show_arm)
    arms = [a.id for a in protocol.arms] if show_arm else []
    chart = (
        Panel(
            "cohort",
            definition.abbreviation,
            spec(cohort_chart(definition, frame, summary, by_arm=show_arm, arms=arms)),
        )
        if len(frame)
        else None
    )
    table = participant_table(protocol, cohort, outcomes, missed or {}, show_arm=show_arm)
    # The number the chart's title says (participants with a line), not everyone in the study.
    return CohortView(scale_id, chart, summary, rates, table, plotted_participants(frame) if len(frame) else 0)
