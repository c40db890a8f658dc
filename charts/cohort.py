"""The cohort chart: every participant's trajectory as a thin line, and the mean with its 95 %
confidence interval per planned timepoint (by arm when the viewer may see arms).

x is the planned timepoint, in nominal time order, as a labelled ordinal axis (equally spaced:
40 minutes and 14 days are both one step), which is what "per planned timepoint" summaries need.
Data is passed as explicit JSON values (see charts.participant): 1,000 participants × 12
timepoints is 12,000 rows, over Altair's default 5,000-row limit for DataFrames, and works.
"""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import pandas as pd

from charts.data import Datasets, compose, lean_build
from charts.palette import SPAGHETTI_COLOR, categorical
from scales import ScaleDefinition


def _column(series: pd.Series) -> list:
    """A column as JSON-safe Python values: NA/NaN → None, numpy scalars → Python."""
    values = series.astype(object).where(series.notna(), None).tolist()
    return [v.item() if hasattr(v, "item") else v for v in values] if series.dtype.kind in "iufb" else values


def short_label(timepoint: str) -> str:
    """An axis label from a stored timepoint key: 'min_40@2' → 'min 40 #2', 'week_1' → 'week 1'
    (the full label is in the tooltip)."""
    head, _, number = timepoint.partition("@")
    return head.replace("_", " ") + (f" #{number}" if number else "")


def records(frame: pd.DataFrame, columns: Sequence[str]) -> list[dict]:
    """JSON-safe records of the given columns."""
    data = [_column(frame[c]) for c in columns]
    return [dict(zip(columns, row, strict=True)) for row in zip(*data, strict=True)]


@lean_build
def cohort_chart(definition: ScaleDefinition, trajectories: pd.DataFrame, summary: pd.DataFrame, *,
                 by_arm: bool = False, arms: Sequence[str] = (), width: int = 680, height: int = 320
                 ) -> alt.LayerChart:
    """Spaghetti (`trajectories` from analytics.cohort.trajectory_frame) under the mean and CI
    (`summary` from analytics.cohort.timepoint_summary, by arm when `by_arm`)."""
    source = summary if len(summary) else trajectories
    order = [short_label(t) for t in source.sort_values("order")["timepoint"].drop_duplicates()]
    x = alt.X("short:N", sort=order, scale=alt.Scale(domain=order),
              axis=alt.Axis(title="Planned timepoint (nominal time order; # = infusion)", labelAngle=-40,
                            labelOverlap=False, labelLimit=140))
    y_scale = alt.Scale(domain=[definition.total_min, definition.total_max], nice=False)
    y = alt.Y("total:Q", scale=y_scale,
              axis=alt.Axis(title=f"{definition.abbreviation} total ({definition.total_min}–{definition.total_max})"))
    present = sorted({str(a) for a in trajectories["arm"].dropna()}) if by_arm else []
    arm_labels = list(dict.fromkeys([*arms, *present])) if by_arm else []
    color = (alt.Color("arm:N", sort=arm_labels, scale=alt.Scale(domain=arm_labels, range=list(categorical(len(arm_labels)))),
                       legend=alt.Legend(title="Arm")) if by_arm else None)

    data = Datasets("cohort")
    lines = trajectories[["participant", "arm", "timepoint", "order", "total"]].dropna(subset=["total"])
    shorts = {t: short_label(t) for t in lines["timepoint"].unique()}
    lines = lines.assign(short=[shorts[t] for t in lines["timepoint"].tolist()])
    spaghetti = alt.Chart(data("participants", records(lines, ["participant", "arm", "short", "order", "total"])),
                          name="participants").mark_line(strokeWidth=0.7, opacity=0.25, interpolate="linear")
    enc = {"x": x, "y": y, "detail": alt.Detail("participant:N"), "order": alt.Order("order:Q")}
    spaghetti = spaghetti.encode(**enc, color=color) if by_arm else spaghetti.encode(**enc).mark_line(
        strokeWidth=0.7, opacity=0.25, color=SPAGHETTI_COLOR)

    stats = summary.copy()
    stats["ci"] = [("" if lo is None or lo != lo else f"{lo:.1f} to {hi:.1f}")
                   for lo, hi in zip(stats["ci_low"], stats["ci_high"], strict=True)]
    stats["short"] = [short_label(t) for t in stats["timepoint"]]
    columns = ["short", "label", "order", "n", "mean", "ci_low", "ci_high", "ci"] + (["arm"] if by_arm else [])
    ref = data("summary", records(stats, columns))
    tooltip = ([alt.Tooltip("arm:N", title="Arm")] if by_arm else []) + [
        alt.Tooltip("label:N", title="Timepoint"), alt.Tooltip("n:Q", title="n"),
        alt.Tooltip("mean:Q", title="Mean", format=".1f"), alt.Tooltip("ci:N", title="95 % CI (t)")]
    mean_y = alt.Y("mean:Q", scale=y_scale)
    style = {"color": color} if by_arm else {}
    const = {} if by_arm else {"color": "black"}
    layers = [
        spaghetti,
        alt.Chart(ref, name="ci").mark_rule(strokeWidth=2.5, **const).encode(
            x=x, y=alt.Y("ci_low:Q", scale=y_scale), y2=alt.Y2(field="ci_high"), tooltip=tooltip, **style),
        alt.Chart(ref, name="mean-line").mark_line(strokeWidth=2.5, **const).encode(
            x=x, y=mean_y, order=alt.Order("order:Q"), **({"detail": alt.Detail("arm:N")} if by_arm else {}), **style),
        alt.Chart(ref, name="mean").mark_point(filled=True, size=70, opacity=1, **const).encode(
            x=x, y=mean_y, tooltip=tooltip, **style),
    ]
    n_people = trajectories["participant"].nunique()
    title = alt.TitleParams(
        f"{definition.abbreviation}: {n_people} participants", anchor="start",
        subtitle="thin lines: each participant; thick: mean with 95 % confidence interval (t distribution)"
                 + (" by arm" if by_arm else ""))
    return data.attach(compose("layer", layers, title=title, width=width, height=height))
