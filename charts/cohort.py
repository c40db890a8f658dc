"""The cohort chart: every participant's trajectory as a thin line, and the mean with its 95 %
confidence interval per planned timepoint (by arm when the viewer may see arms).

x is the planned timepoint, in nominal time order, as a labelled ordinal axis (equally spaced:
40 minutes and 14 days are both one step), which is what "per planned timepoint" summaries need.
The result is a Vega-Lite specification (a dict, built with charts.vegalite); data is passed as
explicit JSON records (charts.data): 1,000 participants × 12 timepoints is 12,000 rows, over
Altair's default 5,000-row limit for DataFrames, and works.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from charts import vegalite as vl
from charts.data import Datasets
from charts.palette import SPAGHETTI_COLOR, categorical
from scales import ScaleDefinition

#: Fewest ratings at a timepoint for its confidence interval to be drawn.
MIN_N_FOR_CI = 3


def plotted_participants(trajectories: pd.DataFrame) -> int:
    """How many participants have a line on the chart: those with at least one total (a screen
    failure, or a participant not yet rated on this scale, has none). The chart's title and the
    page's heading both say this number."""
    return int(trajectories.dropna(subset=["total"])["participant"].nunique())


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


def cohort_chart(
    definition: ScaleDefinition,
    trajectories: pd.DataFrame,
    summary: pd.DataFrame,
    *,
    by_arm: bool = False,
    arms: Sequence[str] = (),
    width: int = 680,
    height: int = 320,
) -> dict:
    """Spaghetti (`trajectories` from analytics.cohort.trajectory_frame) under the mean and CI
    (`summary` from analytics.cohort.timepoint_summary, by arm when `by_arm`)."""
    source = summary if len(summary) else trajectories
    order = [short_label(t) for t in source.sort_values("order")["timepoint"].drop_duplicates()]
    x = vl.channel(
        "short:N",
        sort=order,
        scale={"domain": order},
        axis={
            "title": "Planned timepoint (nominal time order; # = infusion)",
            "labelAngle": -40,
            "labelOverlap": False,
            "labelLimit": 140,
        },
    )
    y_scale = {"domain": [definition.total_min, definition.total_max], "nice": False}
    y = vl.channel(
        "total:Q",
        scale=y_scale,
        axis={"title": f"{definition.abbreviation} total ({definition.total_min}–{definition.total_max})"},
    )
    present = sorted({str(a) for a in trajectories["arm"].dropna()}) if by_arm else []
    arm_labels = list(dict.fromkeys([*arms, *present])) if by_arm else []
    color = (
        vl.channel(
            "arm:N",
            sort=arm_labels,
            scale={"domain": arm_labels, "range": list(categorical(len(arm_labels)))},
            legend={"title": "Arm"},
        )
        if by_arm
        else None
    )

    data = Datasets("cohort")
    lines = trajectories[["participant", "arm", "timepoint", "order", "total"]].dropna(subset=["total"])
    shorts = {t: short_label(t) for t in lines["timepoint"].unique()}
    lines = lines.assign(short=[shorts[t] for t in lines["timepoint"].tolist()])
    # by arm: coloured by arm (explicitly linear); pooled: one grey for everyone
    line = (
        vl.mark("line", strokeWidth=0.7, opacity=0.25, interpolate="linear")
        if by_arm
        else vl.mark("line", strokeWidth=0.7, opacity=0.25, color=SPAGHETTI_COLOR)
    )
    spaghetti = vl.unit(
        data("participants", records(lines, ["participant", "arm", "short", "order", "total"])),
        "participants",
        line,
        {"x": x, "y": y, "detail": vl.channel("participant:N"), "order": vl.channel("order:Q"), "color": color},
    )

    stats = summary.copy()
    # A 95 % CI from one or two ratings is wider than the scale (t with 1 degree of freedom: ±12.7
    # standard errors): drawn, it runs off the axes. It is shown, and listed in the tooltip,
    # from MIN_N_FOR_CI ratings at a timepoint on; the mean is shown from one.
    few = stats["n"] < MIN_N_FOR_CI
    stats.loc[few, ["ci_low", "ci_high"]] = None
    stats["ci"] = [
        ("" if lo is None or lo != lo else f"{lo:.1f} to {hi:.1f}")
        for lo, hi in zip(stats["ci_low"], stats["ci_high"], strict=True)
    ]
    stats["short"] = [short_label(t) for t in stats["timepoint"]]
    columns = ["short", "label", "order", "n", "mean", "ci_low", "ci_high", "ci"] + (["arm"] if by_arm else [])
    ref = data("summary", records(stats, columns))
    ci_ref = data("summary-ci", records(stats[~few], columns))
    tooltip = ([vl.channel("arm:N", title="Arm")] if by_arm else []) + [
        vl.channel("label:N", title="Timepoint"),
        vl.channel("n:Q", title="n"),
        vl.channel("mean:Q", title="Mean", format=".1f"),
        vl.channel("ci:N", title="95 % CI (t)"),
    ]
    mean_y = vl.channel("mean:Q", scale=y_scale)
    const = {} if by_arm else {"color": "black"}  # pooled: black summary marks; by arm: the arm's colour
    layers = [
        spaghetti,
        vl.unit(
            ci_ref,
            "ci",
            vl.mark("rule", strokeWidth=2.5, clip=True, **const),
            {
                "x": x,
                "y": vl.channel("ci_low:Q", scale=y_scale),
                "y2": vl.channel(field="ci_high"),
                "tooltip": tooltip,
                "color": color,
            },
        ),
        vl.unit(
            ref,
            "mean-line",
            vl.mark("line", strokeWidth=2.5, clip=True, **const),
            {
                "x": x,
                "y": mean_y,
                "order": vl.channel("order:Q"),
                "detail": vl.channel("arm:N") if by_arm else None,
                "color": color,
            },
        ),
        vl.unit(
            ref,
            "mean",
            vl.mark("point", filled=True, size=70, opacity=1, clip=True, **const),
            {"x": x, "y": mean_y, "tooltip": tooltip, "color": color},
        ),
    ]
    n_people = plotted_participants(trajectories)
    title = vl.title(
        f"{definition.abbreviation}: {n_people} participants",
        anchor="start",
        subtitle="thin lines: each participant; thick: mean with 95 % confidence interval (t distribution)"
        + (" by arm" if by_arm else ""),
    )
    return data.attach({"title": title, "width": width, "height": height, "layer": layers})
