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

The result is a Vega-Lite specification (a dict, built with charts.vegalite); data is passed as
explicit JSON records in named top-level datasets (charts.data).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from analytics.outcomes import ScaleOutcome, Threshold
from analytics.records import Assessment, InfusionEvent, chronological, hours_between, sorted_infusions
from charts import vegalite as vl
from charts.data import Datasets
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
from protocol.timing import DATE_FORMAT, local_text
from scales import ScaleDefinition

RECALL_SHAPES = ("circle", "triangle-up", "square", "diamond", "cross")
STATUS_COLOR = OKABE_ITO["reddish_purple"]  # the end of participation: apart from infusions and amendments
WIDTH, HEIGHT = 640, 260


def origin_of(infusions: Sequence[InfusionEvent], axis: TimeAxis, assessments: Sequence[Assessment]) -> datetime | None:
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
    records = [
        {
            "low": max(b["min"] - 0.5, definition.total_min),
            "high": min(b["max"] + 0.5, definition.total_max),
            "band": b["label"],
            "range": f"{b['min']}–{b['max']}",
        }
        for b in bands
    ]
    return records, [b["label"] for b in bands]


def recall_labels(definition: ScaleDefinition) -> dict[str, str]:
    return {o["id"]: o["label"] for o in definition.recall_options}


def point_records(
    definition: ScaleDefinition,
    assessments: Iterable[Assessment],
    origin: datetime | None,
    axis: TimeAxis,
    tz: ZoneInfo,
    timepoint_labels: dict[str, str],
    outcome: ScaleOutcome | None,
) -> list[dict]:
    if origin is None:  # origin_of gives one whenever there is a rating to plot
        return []
    recall = recall_labels(definition)
    changes = {p.assessment.id: p for p in outcome.points} if outcome else {}
    records = []
    for a in chronological(x for x in assessments if x.scale_id == definition.id):
        completed = a.completed_at
        assert completed is not None  # chronological() keeps usable (completed) assessments only
        hours = hours_between(completed, origin)
        point = changes.get(a.id)
        status = a.status + (" (amended)" if a.amended and a.status != "amended" else "")
        change = (
            "baseline"
            if outcome and outcome.baseline and outcome.baseline.id == a.id
            else ("" if point is None or point.percent_change is None else f"{point.percent_change:+.0f} %")
        )
        records.append(
            {
                "x": axis.x(hours),
                "hours": hours,
                "total": a.total,
                "band": a.band or "",
                "timepoint": timepoint_labels.get(a.timepoint, a.timepoint),
                "time": local_text(a.completed_at, tz),
                "since": offset_text(hours),
                "rater": a.rater or "",
                "status": status,
                "recall": recall.get(a.recall, a.recall) if a.recall else "",
                "change": change,
                "amended": a.amended,
                "assessment": a.id,
            }
        )
    return records


def _tooltip() -> list[dict]:
    c = vl.channel
    return [
        c("timepoint:N", title="Timepoint"),
        c("time:N", title="Completed"),
        c("since:N", title="Since infusion start"),
        c("total:Q", title="Total"),
        c("band:N", title="Band"),
        c("change:N", title="Change from baseline"),
        c("rater:N", title="Rater"),
        c("status:N", title="Status"),
        c("recall:N", title="Recall period"),
    ]


def infusion_layers(
    infusions: Sequence[InfusionEvent],
    origin: datetime | None,
    axis: TimeAxis,
    domain: tuple[float, float],
    y_top: float,
    tz: ZoneInfo,
    show_dose: bool,
    data: Datasets,
) -> list[dict]:
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
        records.append(
            {
                "x": start,
                "x2": end,
                "label": infusion.label(show_dose),
                "y": y_top,
                "started": local_text(infusion.started_at, tz),
                "ended": local_text(infusion.ended_at, tz),
                "dose": (
                    f"{infusion.dose_mg_per_kg:g} mg/kg ({infusion.total_dose_mg:g} mg)"
                    if show_dose and infusion.dose_mg_per_kg is not None
                    else "blinded"
                ),
            }
        )
    if not records:
        return []
    ref = data("infusions", records)
    tooltip = [
        vl.channel("label:N", title="Infusion"),
        vl.channel("started:N", title="Started"),
        vl.channel("ended:N", title="Ended"),
        vl.channel("dose:N", title="Dose"),
    ]
    x = vl.channel("x:Q")
    layers = []
    if axis.view == "day":
        layers.append(
            vl.unit(
                ref,
                "infusion-spans",
                vl.mark("rect", color=INFUSION_COLOR, opacity=0.18, clip=True),
                {"x": x, "x2": vl.channel(field="x2"), "tooltip": tooltip},
            )
        )
    layers += [
        vl.unit(
            ref,
            "infusion-markers",
            vl.mark("rule", color=INFUSION_COLOR, strokeWidth=1.5, clip=True),
            {"x": x, "tooltip": tooltip},
        ),
        vl.unit(
            ref,
            "infusion-labels",
            vl.mark("text", align="left", baseline="top", dx=3, dy=2, fontSize=11, color=INFUSION_COLOR, clip=True),
            {"x": x, "y": vl.channel("y:Q"), "text": vl.channel("label:N")},
        ),
    ]
    return layers


def status_layers(
    status_change: tuple[str, datetime] | None,
    origin: datetime | None,
    axis: TimeAxis,
    domain: tuple[float, float],
    y_top: float,
    tz: ZoneInfo,
    data: Datasets,
) -> list[dict]:
    """A dashed rule where participation ended (withdrawn or completed) and its label."""
    if status_change is None or origin is None:
        return []
    status, moment = status_change
    x = axis.x(hours_between(moment, origin))
    if not domain[0] <= x <= domain[1]:
        return []
    label = f"{status} {local_text(moment, tz, DATE_FORMAT)}"
    ref = data("status", [{"x": x, "y": y_top, "label": label, "when": local_text(moment, tz)}])
    tooltip = [vl.channel("label:N", title="Participation"), vl.channel("when:N", title="Since")]
    return [
        vl.unit(
            ref,
            "status-marker",
            vl.mark("rule", color=STATUS_COLOR, strokeWidth=2, strokeDash=[6, 3], clip=True),
            {"x": vl.channel("x:Q"), "tooltip": tooltip},
        ),
        vl.unit(
            ref,
            "status-label",
            vl.mark(
                "text",
                align="right",
                baseline="top",
                dx=-3,
                dy=2,
                fontSize=11,
                fontWeight="bold",
                color=STATUS_COLOR,
                clip=True,
            ),
            {"x": vl.channel("x:Q"), "y": vl.channel("y:Q"), "text": vl.channel("label:N")},
        ),
    ]


def line_records(outcome: ScaleOutcome | None, thresholds: Sequence[Threshold], x_label: float) -> list[dict]:
    """The baseline and the protocol's thresholds as labelled horizontal lines."""
    lines = []
    if outcome is not None and outcome.baseline_total is not None:
        lines.append(
            {
                "kind": "baseline",
                "y": outcome.baseline_total,
                "label": f"Baseline {outcome.baseline_total}",
                "rule": f"Baseline {outcome.baseline_total} (last usable baseline rating before infusion 1)",
                "x": x_label,
            }
        )
    lines += [{"kind": t.kind, "y": t.value, "label": t.text, "rule": t.label, "x": x_label} for t in thresholds]
    return lines


def _line_layers(lines: list[dict], data: Datasets, y_scale: dict) -> list[dict]:
    if not lines:
        return []
    kinds = list(LINE_STYLES)

    def styled(position: int) -> dict:  # one property of LINE_STYLES per kind, no legend
        return vl.channel(
            "kind:N", scale={"domain": kinds, "range": [LINE_STYLES[k][position] for k in kinds]}, legend=None
        )

    color = styled(0)
    ref = data("lines", lines)
    y = vl.channel("y:Q", scale=y_scale)
    return [
        vl.unit(
            ref,
            "lines",
            vl.mark("rule"),
            {
                "y": y,
                "color": color,
                "strokeDash": styled(1),
                "strokeWidth": styled(2),
                "tooltip": [vl.channel("rule:N", title="Line")],
            },
        ),
        vl.unit(
            ref,
            "line-labels",
            vl.mark("text", align="right", baseline="bottom", dy=-2, fontSize=11, fontWeight="bold"),
            {"x": vl.channel("x:Q"), "y": y, "text": vl.channel("label:N"), "color": color},
        ),
    ]


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
) -> dict:
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
    y_scale = {"domain": [definition.total_min, definition.total_max], "nice": False}
    y_axis = {"title": f"{definition.abbreviation} total ({definition.total_min}–{definition.total_max})"}

    layers: list[dict] = []
    set_id = next((a.band_set for a in own if a.band_set), None)
    bands, order = band_records(definition, set_id)
    if bands:
        layers.append(
            vl.unit(
                data("bands", bands),
                "bands",
                vl.mark("rect", opacity=BAND_OPACITY),
                {
                    "y": vl.channel("low:Q", scale=y_scale, axis=y_axis),
                    "y2": vl.channel(field="high"),
                    "color": vl.channel(
                        "band:N",
                        sort=order,
                        scale={"domain": order, "range": list(band_colors(len(order)))},
                        legend={"title": f"Severity ({set_id or definition.default_band_set})", "orient": "right"},
                    ),
                    "tooltip": [vl.channel("band:N", title="Band"), vl.channel("range:N", title="Range")],
                },
            )
        )
    layers += infusion_layers(infusions, origin, axis, domain, definition.total_max, tz, show_dose, data)
    layers += status_layers(status_change, origin, axis, domain, definition.total_max, tz, data)
    layers += _line_layers(line_records(outcome, thresholds, domain[1]), data, y_scale)

    ref = data("points", points)
    x = vl.channel("x:Q", scale=x_scale, axis=x_axis)
    y = vl.channel("total:Q", scale=y_scale, axis=y_axis)
    recalls = [label for label in recall_labels(definition).values() if any(p["recall"] == label for p in points)]
    mixed = len(recalls) > 1
    layers.append(
        vl.unit(
            ref,
            "trajectory",
            vl.mark("line", color=POINT_COLOR, strokeWidth=1.5, clip=True),
            {"x": x, "y": y, "order": vl.channel("hours:Q")},
        )
    )
    point = vl.mark(
        "point", filled=True, size=70, color=POINT_COLOR, opacity=1, stroke="white", strokeWidth=0.8, clip=True
    )
    shape = (
        vl.channel(
            "recall:N",
            scale={"domain": recalls, "range": list(RECALL_SHAPES[: len(recalls)])},
            legend={"title": "Recall period", "orient": "bottom"},
        )
        if mixed
        else None
    )
    layers.append(vl.unit(ref, "points", point, {"x": x, "y": y, "shape": shape, "tooltip": _tooltip()}))
    amended = [p for p in points if p["amended"]]
    if amended:
        layers.append(
            vl.unit(
                data("amended", amended),
                "amended",
                vl.mark(
                    "point", filled=False, size=260, strokeWidth=2.2, color=AMENDED_COLOR, shape="circle", clip=True
                ),
                {"x": x, "y": y, "tooltip": _tooltip()},
            )
        )

    subtitle = []
    if outcome is not None:
        subtitle.append(
            f"Baseline {outcome.baseline_total}"
            if outcome.baseline_total is not None
            else "No baseline (no usable baseline rating before infusion 1): response cannot be judged"
        )
    if status_change is not None:
        subtitle.append(
            f"{status_change[0]} {local_text(status_change[1], tz, DATE_FORMAT)}: "
            f"no ratings expected after the dashed line"
        )
    if amended:
        subtitle.append("ringed points were amended after completion")
    if mixed:
        subtitle.append("recall periods differ: shape shows each rating's recall")
    elif recalls:
        subtitle.append(f"recall: {recalls[0]}")
    title = vl.title(f"{definition.abbreviation} — {definition.title}", subtitle=" · ".join(subtitle), anchor="start")
    return data.attach(
        {
            "title": title,
            "width": width,
            "height": height,
            "layer": layers,
            "resolve": {"scale": {"color": "independent", "shape": "independent"}},
        }
    )
