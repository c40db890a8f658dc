"""The dissociation panel: CADSS total and BPRS positive subscale around each infusion.

x is minutes from the start of each infusion (linear); the last rating before the infusion is
drawn in a labelled `pre` slot at x = −30 (its real time is in the tooltip), so one axis shows
the pre-infusion value and the course over the first hours. One colour per infusion (Okabe-Ito,
fixed order by infusion number); the peak of each infusion is a diamond with its value and time.
"""

from __future__ import annotations

from collections.abc import Sequence
from zoneinfo import ZoneInfo

import altair as alt

from analytics.dissociation import MEASURE_LABELS, MEASURES, InfusionCourse
from charts.data import Datasets, collect, compose, lean_build
from charts.palette import categorical
from charts.participant import local_text

PRE_SLOT = -30
LABEL_EXPR = f"datum.value == {PRE_SLOT} ? 'pre' : datum.value"
MEASURE_RANGES = {("cadss", "total"): (0, 92), ("bprs", "positive"): (4, 28)}


def course_records(courses: Sequence[InfusionCourse], tz: ZoneInfo, timepoint_labels: dict[str, str]
                   ) -> tuple[list[dict], list[dict]]:
    """(points, peaks) records for one measure's courses."""
    points, peaks = [], []
    for course in courses:
        label = f"Infusion {course.infusion.number}"
        rows = ([(course.pre, True)] if course.pre else []) + [(p, False) for p in course.post]
        for point, is_pre in rows:
            points.append({
                "x": PRE_SLOT if is_pre else point.minutes, "minutes": round(point.minutes), "value": point.value,
                "infusion": label, "pre": is_pre, "time": local_text(point.assessment.completed_at, tz),
                "timepoint": timepoint_labels.get(point.assessment.timepoint, point.assessment.timepoint),
                "rater": point.assessment.rater or ""})
        peak = course.peak
        if peak is not None:
            change = "" if course.peak_change is None else f" ({course.peak_change:+d} from pre)"
            peaks.append({"x": peak.minutes, "value": peak.value, "infusion": label, "minutes": round(peak.minutes),
                          "text": f"peak {peak.value} at {peak.minutes:.0f} min{change}"})
    return points, peaks


@lean_build
def measure_chart(courses: Sequence[InfusionCourse], scale_id: str, measure: str, *, tz: ZoneInfo,
                  timepoint_labels: dict[str, str], infusion_numbers: Sequence[int], width: int = 260,
                  height: int = 220) -> alt.LayerChart:
    own = [c for c in courses if (c.scale_id, c.measure) == (scale_id, measure)]
    points, peaks = course_records(own, tz, timepoint_labels)
    labels = [f"Infusion {n}" for n in infusion_numbers]
    color = alt.Color("infusion:N", sort=labels, scale=alt.Scale(domain=labels, range=list(categorical(len(labels)))),
                      legend=alt.Legend(title=None, orient="bottom"))
    high = max([p["x"] for p in points] + [240])
    ticks = [PRE_SLOT, 0] + [m for m in (40, 80, 120, 180, 240, 360, 480, 720, 1440) if m <= high + 15]
    low_y, high_y = MEASURE_RANGES.get((scale_id, measure), (0, max([p["value"] for p in points] + [1])))
    x = alt.X("x:Q", scale=alt.Scale(domain=[PRE_SLOT - 15, high + 15], nice=False),
              axis=alt.Axis(values=ticks, labelExpr=LABEL_EXPR, labelOverlap="greedy",
                            title="Minutes from infusion start"))
    y = alt.Y("value:Q", scale=alt.Scale(domain=[low_y, high_y], nice=False),
              axis=alt.Axis(title=MEASURE_LABELS.get((scale_id, measure), measure)))
    tooltip = [alt.Tooltip("infusion:N", title="Infusion"), alt.Tooltip("timepoint:N", title="Timepoint"),
               alt.Tooltip("time:N", title="Completed"), alt.Tooltip("minutes:Q", title="Minutes from start"),
               alt.Tooltip("value:Q", title="Score"), alt.Tooltip("rater:N", title="Rater")]
    data = Datasets(f"{scale_id}-{measure}")
    ref = data("points", points)
    layers = [
        alt.Chart(data("start", [{"x": 0}]), name=f"{scale_id}-infusion-start").mark_rule(color="#6b6b6b", strokeDash=[3, 3]).encode(
            x=alt.X("x:Q")),
        alt.Chart(ref, name=f"{scale_id}-course").mark_line(strokeWidth=1.8).encode(x=x, y=y, color=color,
                                                                           order=alt.Order("x:Q")),
        alt.Chart(ref, name=f"{scale_id}-points").mark_point(filled=True, size=60).encode(x=x, y=y, color=color,
                                                                                tooltip=tooltip),
    ]
    if peaks:
        peak_data = data("peaks", peaks)
        layers += [
            alt.Chart(peak_data, name=f"{scale_id}-peaks").mark_point(shape="diamond", filled=True, size=190, stroke="black",
                                                          strokeWidth=1).encode(
                x=x, y=y, color=color, tooltip=[alt.Tooltip("text:N", title="Peak")]),
            alt.Chart(peak_data, name=f"{scale_id}-peak-labels").mark_text(align="left", dx=8, dy=-8, fontSize=10).encode(
                x=x, y=y, text=alt.Text("text:N")),
        ]
    title = MEASURE_LABELS.get((scale_id, measure), f"{scale_id} {measure}")
    return data.attach(compose("layer", layers, title=title, width=width, height=height))


@lean_build
def dissociation_chart(courses: Sequence[InfusionCourse], *, tz: ZoneInfo | str = "UTC",
                       timepoint_labels: dict[str, str] | None = None,
                       measures: Sequence[tuple[str, str]] = MEASURES, width: int = 260) -> alt.HConcatChart:
    """CADSS total and BPRS+ side by side (only the measures that have ratings)."""
    tz = ZoneInfo(tz) if isinstance(tz, str) else tz
    numbers = sorted({c.infusion.number for c in courses})
    shown = [m for m in measures if any((c.scale_id, c.measure) == m for c in courses)] or list(measures[:1])
    panels = [measure_chart(courses, s, m, tz=tz, timepoint_labels=timepoint_labels or {}, infusion_numbers=numbers,
                            width=width) for s, m in shown]
    chart = compose("hconcat", panels, title=alt.TitleParams(
        "Dissociation and psychotomimetic effects around each infusion", anchor="start",
        subtitle="'pre' = last rating before the infusion; ◆ = peak after the start"))
    collect(chart)
    return chart
