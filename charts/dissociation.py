"""The dissociation panel: each dissociation measure (CADSS total and BPRS positive subscale in
the shipped definitions: analytics.dissociation) around each infusion, one panel per measure on
the range its definition gives.

x is minutes from the start of each infusion (linear); the last rating before the infusion is
drawn in a labelled `pre` slot at x = −30 (its real time is in the tooltip), so one axis shows
the pre-infusion value and the course over the first hours. One colour per infusion (Okabe-Ito,
fixed order by infusion number); the peak of each infusion is a diamond with its value and time.
"""

from __future__ import annotations

from collections.abc import Sequence
from zoneinfo import ZoneInfo

from analytics.dissociation import InfusionCourse, measure_of, measure_pairs
from charts import vegalite as vl
from charts.data import Datasets
from charts.palette import categorical
from charts.participant import local_text

PRE_SLOT = -30
LABEL_EXPR = f"datum.value == {PRE_SLOT} ? 'pre' : datum.value"


def course_records(
    courses: Sequence[InfusionCourse], tz: ZoneInfo, timepoint_labels: dict[str, str]
) -> tuple[list[dict], list[dict]]:
    """(points, peaks) records for one measure's courses."""
    points, peaks = [], []
    for course in courses:
        label = f"Infusion {course.infusion.number}"
        rows = ([(course.pre, True)] if course.pre else []) + [(p, False) for p in course.post]
        for point, is_pre in rows:
            points.append(
                {
                    "x": PRE_SLOT if is_pre else point.minutes,
                    "minutes": round(point.minutes),
                    "value": point.value,
                    "infusion": label,
                    "pre": is_pre,
                    "time": local_text(point.assessment.completed_at, tz),
                    "timepoint": timepoint_labels.get(point.assessment.timepoint, point.assessment.timepoint),
                    "rater": point.assessment.rater or "",
                }
            )
        peak = course.peak
        if peak is not None:
            change = "" if course.peak_change is None else f" ({course.peak_change:+d} from pre)"
            peaks.append(
                {
                    "x": peak.minutes,
                    "value": peak.value,
                    "infusion": label,
                    "minutes": round(peak.minutes),
                    "text": f"peak {peak.value} at {peak.minutes:.0f} min{change}",
                }
            )
    return points, peaks


def measure_chart(
    courses: Sequence[InfusionCourse],
    scale_id: str,
    measure: str,
    *,
    tz: ZoneInfo,
    timepoint_labels: dict[str, str],
    infusion_numbers: Sequence[int],
    width: int = 260,
    height: int = 220,
) -> dict:
    """One measure's panel (a top-level Vega-Lite specification)."""
    own = [c for c in courses if (c.scale_id, c.measure) == (scale_id, measure)]
    points, peaks = course_records(own, tz, timepoint_labels)
    labels = [f"Infusion {n}" for n in infusion_numbers]
    color = vl.channel(
        "infusion:N",
        sort=labels,
        scale={"domain": labels, "range": list(categorical(len(labels)))},
        legend={"title": None, "orient": "bottom"},
    )
    high = max([p["x"] for p in points] + [240])
    ticks = [PRE_SLOT, 0] + [m for m in (40, 80, 120, 180, 240, 360, 480, 720, 1440) if m <= high + 15]
    known = measure_of(scale_id, measure)  # its range and label from the definition
    low_y, high_y = (known.min, known.max) if known else (0, max([p["value"] for p in points] + [1]))
    x = vl.channel(
        "x:Q",
        scale={"domain": [PRE_SLOT - 15, high + 15], "nice": False},
        axis={
            "values": ticks,
            "labelExpr": LABEL_EXPR,
            "labelOverlap": "greedy",
            "title": "Minutes from infusion start",
        },
    )
    y = vl.channel(
        "value:Q", scale={"domain": [low_y, high_y], "nice": False}, axis={"title": known.label if known else measure}
    )
    tooltip = [
        vl.channel("infusion:N", title="Infusion"),
        vl.channel("timepoint:N", title="Timepoint"),
        vl.channel("time:N", title="Completed"),
        vl.channel("minutes:Q", title="Minutes from start"),
        vl.channel("value:Q", title="Score"),
        vl.channel("rater:N", title="Rater"),
    ]
    data = Datasets(f"{scale_id}-{measure}")
    ref = data("points", points)
    layers = [
        vl.unit(
            data("start", [{"x": 0}]),
            f"{scale_id}-infusion-start",
            vl.mark("rule", color="#6b6b6b", strokeDash=[3, 3]),
            {"x": vl.channel("x:Q")},
        ),
        vl.unit(
            ref,
            f"{scale_id}-course",
            vl.mark("line", strokeWidth=1.8),
            {"x": x, "y": y, "color": color, "order": vl.channel("x:Q")},
        ),
        vl.unit(
            ref,
            f"{scale_id}-points",
            vl.mark("point", filled=True, size=60),
            {"x": x, "y": y, "color": color, "tooltip": tooltip},
        ),
    ]
    if peaks:
        peak_data = data("peaks", peaks)
        layers += [
            vl.unit(
                peak_data,
                f"{scale_id}-peaks",
                vl.mark("point", shape="diamond", filled=True, size=190, stroke="black", strokeWidth=1),
                {"x": x, "y": y, "color": color, "tooltip": [vl.channel("text:N", title="Peak")]},
            ),
            vl.unit(
                peak_data,
                f"{scale_id}-peak-labels",
                vl.mark("text", align="left", dx=8, dy=-8, fontSize=10),
                {"x": x, "y": y, "text": vl.channel("text:N")},
            ),
        ]
    title = known.label if known else f"{scale_id} {measure}"
    return data.attach({"title": title, "width": width, "height": height, "layer": layers})


def dissociation_chart(
    courses: Sequence[InfusionCourse],
    *,
    tz: ZoneInfo | str = "UTC",
    timepoint_labels: dict[str, str] | None = None,
    measures: Sequence[tuple[str, str]] | None = None,
    width: int = 260,
) -> dict:
    """The dissociation measures side by side (only those with ratings; `measures` None = every
    dissociation measure, analytics.dissociation.measure_pairs)."""
    measures = measure_pairs() if measures is None else measures
    tz = ZoneInfo(tz) if isinstance(tz, str) else tz
    numbers = sorted({c.infusion.number for c in courses})
    shown = [m for m in measures if any((c.scale_id, c.measure) == m for c in courses)] or list(measures[:1])
    panels = [
        measure_chart(
            courses, s, m, tz=tz, timepoint_labels=timepoint_labels or {}, infusion_numbers=numbers, width=width
        )
        for s, m in shown
    ]
    return vl.compose(
        "hconcat",
        panels,
        title=vl.title(
            "Dissociation and psychotomimetic effects around each infusion",
            anchor="start",
            subtitle="'pre' = last rating before the infusion; ◆ = peak after the start",
        ),
    )
