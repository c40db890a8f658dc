"""A participant's trajectory: one Altair panel per scale.

Layers (each named, so tests and readers can find them): severity `bands` behind everything
(from the scale definition, fixed colour-blind-safe order), `infusion-spans` and
`infusion-markers`/`infusion-labels` (number and, where the viewer may see it, dose; the
`infusion-spans` start-to-end in the infusion-day view), the baseline and the protocol's
response/remission thresholds as `lines` with their `line-labels` (one colour and dash pattern
per kind), the `trajectory` line, the `points` with tooltips (timepoint, time, total, band, change, rater,
status, recall) and `amended` rings around assessments changed after completion. Where ratings
with different recall periods are mixed (MADRS 7-day and 24-hour), point shape shows the recall.
A participant who was withdrawn (or completed the study) gets a dashed `status-marker` rule at
that date with its `status-label` ("withdrawn 2026-05-05"), and the subtitle says so: no rating
is expected after it, so a trajectory that stops there is not read as missing data.

Data is passed as explicit JSON values in named top-level datasets (charts.data explains why:
no MaxRowsError, no global Altair state, no per-layer copies).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

import altair as alt

from analytics.outcomes import ScaleOutcome, Threshold
from analytics.records import Assessment, InfusionEvent, chronological, hours_between, sorted_infusions
from charts.data import Datasets, compose, lean_build
from charts.palette import (
    AMENDED_COLOR,
    BAND_OPACITY,
    INFUSION_COLOR,
    LINE_STYLES,
    OKABE_ITO,
    POINT_COLOR,
    band_colors,
)
from charts.timeaxis import TimeAxis, offset_text, time_axis
from scales import ScaleDefinition

RECALL_SHAPES = ("circle", "triangle-up", "square", "diamond", "cross")
STATUS_COLOR = OKABE_ITO["reddish_purple"]  # the end of participation: apart from infusions and amendments
WIDTH, HEIGHT = 640, 260


def local_text(moment: datetime | None, tz: ZoneInfo) -> str:
    return "" if moment is None else moment.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")


def origin_of(infusions: Sequence[InfusionEvent], axis: TimeAxis, assessments: Sequence[Assessment]
              ) -> datetime | None:
    """Time zero: the start of the axis's infusion (infusion 1 unless the day view picks another);
    before any infusion, the first rating."""
    ordered = sorted_infusions(infusions)
    chosen = next((i for i in ordered if i.number == axis.origin_infusion), ordered[0] if ordered else None)
    if chosen is not None:
        return chosen.started_at
    times = [a.completed_at for a in assessments if a.completed_at is not None]
    return min(times) if times else None


def band_records(definition: ScaleDefinition, band_set: str | None = None) -> tuple[list[dict], list[str]]:
    """Background rectangles (integer bands widened by half a point so they tile) and the labels
    in severity order."""
    set_id = band_set if band_set in definition.band_sets else definition.default_band_set
    bands = definition.band_sets.get(set_id, ()) if set_id else ()
    records = [{"low": max(b["min"] - 0.5, definition.total_min), "high": min(b["max"] + 0.5, definition.total_max),
                "band": b["label"], "range": f"{b['min']}–{b['max']}"} for b in bands]
    return records, [b["label"] for b in bands]


def recall_labels(definition: ScaleDefinition) -> dict[str, str]:
    return {o["id"]: o["label"] for o in definition.recall_options}


def point_records(definition: ScaleDefinition, assessments: Iterable[Assessment], origin: datetime | None,
                  axis: TimeAxis, tz: ZoneInfo, timepoint_labels: dict[str, str],
                  outcome: ScaleOutcome | None) -> list[dict]:
    recall = recall_labels(definition)
    changes = {p.assessment.id: p for p in outcome.points} if outcome else {}
    records = []
    for a in chronological(x for x in assessments if x.scale_id == definition.id):
        hours = hours_between(a.completed_at, origin)
        point = changes.get(a.id)
        status = a.status + (" (amended)" if a.amended and a.status != "amended" else "")
        change = "baseline" if outcome and outcome.baseline and outcome.baseline.id == a.id else (
            "" if point is None or point.percent_change is None else f"{point.percent_change:+.0f} %")
        records.append({
            "x": axis.x(hours), "hours": hours, "total": a.total, "band": a.band or "",
            "timepoint": timepoint_labels.get(a.timepoint, a.timepoint), "time": local_text(a.completed_at, tz),
            "since": offset_text(hours), "rater": a.rater or "", "status": status,
            "recall": recall.get(a.recall, a.recall or ""), "change": change, "amended": a.amended,
            "assessment": a.id,
        })
    return records


def _tooltip() -> list[alt.Tooltip]:
    return [alt.Tooltip("timepoint:N", title="Timepoint"), alt.Tooltip("time:N", title="Completed"),
            alt.Tooltip("since:N", title="Since infusion start"), alt.Tooltip("total:Q", title="Total"),
            alt.Tooltip("band:N", title="Band"), alt.Tooltip("change:N", title="Change from baseline"),
            alt.Tooltip("rater:N", title="Rater"), alt.Tooltip("status:N", title="Status"),
            alt.Tooltip("recall:N", title="Recall period")]


def infusion_layers(infusions: Sequence[InfusionEvent], origin: datetime | None, axis: TimeAxis,
                    domain: tuple[float, float], y_top: float, tz: ZoneInfo, show_dose: bool,
                    data: Datasets) -> list[alt.Chart]:
    """A rule at each infusion start with its label (number, and dose where the viewer may see
    it), and in the infusion-day view the shaded span from start to end."""
    if origin is None or not infusions:
        return []
    records = []
    for infusion in sorted_infusions(infusions):
        start = axis.x(hours_between(infusion.started_at, origin))
        end = axis.x(hours_between(infusion.ended_at, origin)) if infusion.ended_at else start
        if not domain[0] <= start <= domain[1]:
            continue
        records.append({"x": start, "x2": end, "label": infusion.label(show_dose), "y": y_top,
                        "started": local_text(infusion.started_at, tz), "ended": local_text(infusion.ended_at, tz),
                        "dose": (f"{infusion.dose_mg_per_kg:g} mg/kg ({infusion.total_dose_mg:g} mg)"
                                 if show_dose and infusion.dose_mg_per_kg is not None else "blinded")})
    if not records:
        return []
    ref = data("infusions", records)
    tooltip = [alt.Tooltip("label:N", title="Infusion"), alt.Tooltip("started:N", title="Started"),
               alt.Tooltip("ended:N", title="Ended"), alt.Tooltip("dose:N", title="Dose")]
    x = alt.X("x:Q")
    layers = []
    if axis.view == "day":
        layers.append(alt.Chart(ref, name="infusion-spans").mark_rect(
            color=INFUSION_COLOR, opacity=0.18, clip=True).encode(x=x, x2=alt.X2(field="x2"), tooltip=tooltip))
    layers += [
        alt.Chart(ref, name="infusion-markers").mark_rule(color=INFUSION_COLOR, strokeWidth=1.5, clip=True).encode(
            x=x, tooltip=tooltip),
        alt.Chart(ref, name="infusion-labels").mark_text(align="left", baseline="top", dx=3, dy=2, fontSize=11,
                                                         color=INFUSION_COLOR, clip=True).encode(
            x=x, y=alt.Y("y:Q"), text=alt.Text("label:N")),
    ]
    return layers


def status_layers(status_change: tuple[str, datetime] | None, origin: datetime | None, axis: TimeAxis,
                  domain: tuple[float, float], y_top: float, tz: ZoneInfo, data: Datasets) -> list[alt.Chart]:
    """A dashed rule where participation ended (withdrawn or completed) and its label."""
    if status_change is None or origin is None:
        return []
    status, moment = status_change
    x = axis.x(hours_between(moment, origin))
    if not domain[0] <= x <= domain[1]:
        return []
    label = f"{status} {moment.astimezone(tz).strftime('%Y-%m-%d')}"
    ref = data("status", [{"x": x, "y": y_top, "label": label, "when": local_text(moment, tz)}])
    tooltip = [alt.Tooltip("label:N", title="Participation"), alt.Tooltip("when:N", title="Since")]
    return [
        alt.Chart(ref, name="status-marker").mark_rule(color=STATUS_COLOR, strokeWidth=2, strokeDash=[6, 3],
                                                       clip=True).encode(x=alt.X("x:Q"), tooltip=tooltip),
        alt.Chart(ref, name="status-label").mark_text(align="right", baseline="top", dx=-3, dy=2, fontSize=11,
                                                      fontWeight="bold", color=STATUS_COLOR, clip=True).encode(
            x=alt.X("x:Q"), y=alt.Y("y:Q"), text=alt.Text("label:N")),
    ]


def line_records(outcome: ScaleOutcome | None, thresholds: Sequence[Threshold], x_label: float) -> list[dict]:
    """The baseline and the protocol's thresholds as labelled horizontal lines."""
    lines = []
    if outcome is not None and outcome.baseline_total is not None:
        lines.append({"kind": "baseline", "y": outcome.baseline_total, "label": f"Baseline {outcome.baseline_total}",
                      "rule": f"Baseline {outcome.baseline_total} (last usable baseline rating before infusion 1)",
                      "x": x_label})
    lines += [{"kind": t.kind, "y": t.value, "label": t.text, "rule": t.label, "x": x_label} for t in thresholds]
    return lines


def _line_layers(lines: list[dict], data: Datasets, y_scale: alt.Scale) -> list[alt.Chart]:
    if not lines:
        return []
    kinds = list(LINE_STYLES)
    color = alt.Color("kind:N", scale=alt.Scale(domain=kinds, range=[LINE_STYLES[k][0] for k in kinds]), legend=None)
    dash = alt.StrokeDash("kind:N", scale=alt.Scale(domain=kinds, range=[LINE_STYLES[k][1] for k in kinds]),
                          legend=None)
    width = alt.StrokeWidth("kind:N", scale=alt.Scale(domain=kinds, range=[LINE_STYLES[k][2] for k in kinds]),
                            legend=None)
    ref = data("lines", lines)
    y = alt.Y("y:Q", scale=y_scale)
    return [
        alt.Chart(ref, name="lines").mark_rule().encode(
            y=y, color=color, strokeDash=dash, strokeWidth=width, tooltip=[alt.Tooltip("rule:N", title="Line")]),
        alt.Chart(ref, name="line-labels").mark_text(align="right", baseline="bottom", dy=-2, fontSize=11,
                                                     fontWeight="bold").encode(
            x=alt.X("x:Q"), y=y, text=alt.Text("label:N"), color=color),
    ]


@lean_build
def trajectory_chart(
    definition: ScaleDefinition,
    assessments: Sequence[Assessment],
    infusions: Sequence[InfusionEvent],
    *,
    outcome: ScaleOutcome | None = None,
    thresholds: Sequence[Threshold] = (),
    axis: TimeAxis | None = None,
    tz: ZoneInfo | str = "UTC",
    show_dose: bool = False,
    timepoint_labels: dict[str, str] | None = None,
    width: int = WIDTH,
    height: int = HEIGHT,
    status_change: tuple[str, datetime] | None = None,
) -> alt.LayerChart:
    """The panel of one scale for one participant (see the module docstring for its layers).

    `status_change`: ("withdrawn" or "completed", aware time) when participation has ended."""
    tz = ZoneInfo(tz) if isinstance(tz, str) else tz
    axis = axis or time_axis("compressed")
    data = Datasets(definition.id)
    own = [a for a in assessments if a.scale_id == definition.id]
    origin = origin_of(infusions, axis, own)
    points = point_records(definition, own, origin, axis, tz, timepoint_labels or {}, outcome)
    infusion_hours = [hours_between(i.started_at, origin) for i in infusions] if origin else []
    if origin and status_change is not None:
        infusion_hours.append(hours_between(status_change[1], origin))  # keep the withdrawal in view
    domain = axis.domain([p["hours"] for p in points if p["hours"] is not None] + infusion_hours)
    x_scale, x_axis = axis.scale(domain), axis.axis(domain)
    y_scale = alt.Scale(domain=[definition.total_min, definition.total_max], nice=False)
    y_axis = alt.Axis(title=f"{definition.abbreviation} total ({definition.total_min}–{definition.total_max})")

    layers: list[alt.Chart] = []
    set_id = next((a.band_set for a in own if a.band_set), None)
    bands, order = band_records(definition, set_id)
    if bands:
        layers.append(alt.Chart(data("bands", bands), name="bands").mark_rect(opacity=BAND_OPACITY).encode(
            y=alt.Y("low:Q", scale=y_scale, axis=y_axis), y2=alt.Y2(field="high"),
            color=alt.Color("band:N", sort=order, scale=alt.Scale(domain=order, range=list(band_colors(len(order)))),
                            legend=alt.Legend(title=f"Severity ({set_id or definition.default_band_set})",
                                              orient="right")),
            tooltip=[alt.Tooltip("band:N", title="Band"), alt.Tooltip("range:N", title="Range")]))
    layers += infusion_layers(infusions, origin, axis, domain, definition.total_max, tz, show_dose, data)
    layers += status_layers(status_change, origin, axis, domain, definition.total_max, tz, data)
    layers += _line_layers(line_records(outcome, thresholds, domain[1]), data, y_scale)

    ref = data("points", points)
    x = alt.X("x:Q", scale=x_scale, axis=x_axis)
    y = alt.Y("total:Q", scale=y_scale, axis=y_axis)
    recalls = [label for label in recall_labels(definition).values() if any(p["recall"] == label for p in points)]
    mixed = len(recalls) > 1
    layers.append(alt.Chart(ref, name="trajectory").mark_line(color=POINT_COLOR, strokeWidth=1.5, clip=True).encode(
        x=x, y=y, order=alt.Order("hours:Q")))
    point = alt.Chart(ref, name="points").mark_point(filled=True, size=70, color=POINT_COLOR, opacity=1,
                                                     stroke="white", strokeWidth=0.8, clip=True)
    if mixed:
        shape = alt.Shape("recall:N", scale=alt.Scale(domain=recalls, range=list(RECALL_SHAPES[:len(recalls)])),
                          legend=alt.Legend(title="Recall period", orient="bottom"))
        layers.append(point.encode(x=x, y=y, shape=shape, tooltip=_tooltip()))
    else:
        layers.append(point.encode(x=x, y=y, tooltip=_tooltip()))
    amended = [p for p in points if p["amended"]]
    if amended:
        layers.append(alt.Chart(data("amended", amended), name="amended").mark_point(
            filled=False, size=260, strokeWidth=2.2, color=AMENDED_COLOR, shape="circle", clip=True).encode(
            x=x, y=y, tooltip=_tooltip()))

    subtitle = []
    if outcome is not None:
        subtitle.append(f"Baseline {outcome.baseline_total}" if outcome.baseline_total is not None else
                        "No baseline (no usable baseline rating before infusion 1): response cannot be judged")
    if status_change is not None:
        subtitle.append(f"{status_change[0]} {status_change[1].astimezone(tz).strftime('%Y-%m-%d')}: "
                        f"no ratings expected after the dashed line")
    if amended:
        subtitle.append("ringed points were amended after completion")
    if mixed:
        subtitle.append("recall periods differ: shape shows each rating's recall")
    elif recalls:
        subtitle.append(f"recall: {recalls[0]}")
    title = alt.TitleParams(f"{definition.abbreviation} — {definition.title}", subtitle=" · ".join(subtitle),
                            anchor="start")
    chart = compose("layer", layers, title=title, width=width, height=height,
                           resolve=alt.Resolve(scale=alt.ScaleResolveMap(color="independent", shape="independent")))
    return data.attach(chart)
