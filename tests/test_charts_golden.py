"""Every chart builder's Vega-Lite specification, for a fixed dataset, equals the golden file.

The golden files in tests/data/charts/ were generated from commit 22159e4 (before issue 14 moved
chart building off Altair's internals), so this test shows that what the pages draw did not
change. The comparison is of canonical JSON (keys sorted, floats as Python writes them): the
same specification, whatever order the keys were written in.

Regenerate (only when a chart is meant to change, and say why in the commit):
    .venv/bin/python tests/test_charts_golden.py --write
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from analytics.dissociation import infusion_courses
from analytics.outcomes import scale_outcome, threshold_lines
from analytics.records import InfusionEvent, assessment
from charts import cohort_chart, dissociation_chart, spec, stack, time_axis, trajectory_chart
from protocol import load_protocol
from scales import get_scale

GOLDEN = Path(__file__).parent / "data" / "charts"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DAY = 24 * 60


def _world():
    protocol = load_protocol()
    labels = {t.id: t.label for t in protocol.timepoints}
    ids = iter(range(1, 10_000))

    def rating(timepoint, minutes, total, scale="madrs", recall="7d", status="signed", **kw):
        return assessment(
            next(ids),
            1,
            scale,
            timepoint,
            status,
            T0 + timedelta(minutes=minutes),
            total,
            rater="rita",
            recall=recall,
            band_set="snaith1986" if scale == "madrs" else None,
            **kw,
        )

    first = InfusionEvent(1, T0, T0 + timedelta(minutes=40), 0.5, 35.0)
    second = InfusionEvent(2, T0 + timedelta(days=3), T0 + timedelta(days=3, minutes=40), 0.5, 35.0)
    madrs = [
        rating("baseline", -2 * DAY, 30),
        rating("min_40", 42, 22, recall="24h"),
        rating("day_1", DAY, 14, recall="24h", status="amended", n_scores=2),
        rating("day_7", 7 * DAY, 20),
    ]
    dissociation = [
        rating("baseline", -30, 2, scale="cadss", recall="now"),
        rating("min_40", 40, 34, scale="cadss"),
        rating("min_120", 120, 8, scale="cadss"),
        rating("min_40", 41, 30, scale="bprs", subscales={"positive": 9}),
        rating("baseline", 3 * DAY - 60, 4, scale="cadss"),
        rating("min_40", 3 * DAY + 45, 20, scale="cadss"),
    ]
    return protocol, labels, rating, (first, second), madrs, dissociation


def _cohort_frames(by_arm: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A small cohort's trajectories and per-timepoint summary, built directly in the shape
    analytics.cohort hands to the chart (so this test does not depend on how that is computed)."""
    timepoints = [
        ("baseline", 0, "Baseline"),
        ("min_40", 1, "40 minutes after infusion start"),
        ("day_1", 2, "Day 1 (24 hours)"),
        ("min_40@2", 3, "40 minutes · infusion 2"),
    ]
    rows = [
        {
            "participant": f"P{p:02d}",
            "arm": "ketamine" if p % 2 else "midazolam",
            "timepoint": tp,
            "order": order,
            "total": None if (p, order) == (3, 2) else 30 - (order * 3 + p) % 17,
        }
        for p in range(8)
        for tp, order, _ in timepoints
    ]
    frame = pd.DataFrame(rows)
    frame["total"] = frame["total"].astype("Int64")
    groups = ["arm"] if by_arm else []
    summary = []
    for keys, part in frame.groupby([*groups, "timepoint", "order"], sort=True):
        keys = keys if isinstance(keys, tuple) else (keys,)
        values = part["total"].dropna()
        record = dict(zip([*groups, "timepoint", "order"], keys, strict=True))
        single = len(values) < 2
        record.update(
            label=dict((t, lab) for t, _, lab in timepoints)[record["timepoint"]],
            n=len(values),
            mean=float(values.mean()),
            ci_low=None if single else float(values.mean()) - 2.5,
            ci_high=None if single else float(values.mean()) + 2.5,
        )
        summary.append(record)
    return frame, pd.DataFrame(summary)


def build_specs() -> dict[str, dict]:
    """{name: specification} of every builder, in the variants pages use."""
    protocol, labels, rating, infusions, madrs, dissociation = _world()
    definition = get_scale("madrs")

    def panel(ratings=madrs, view="compressed", show_dose=True, status=None, infusion=1):
        outcome = scale_outcome(protocol, "madrs", ratings, infusions)
        return trajectory_chart(
            definition,
            ratings,
            infusions,
            outcome=outcome,
            thresholds=threshold_lines(protocol, "madrs", outcome.baseline_total),
            axis=time_axis(view, infusion),
            tz="Europe/London",
            show_dose=show_dose,
            timepoint_labels=labels,
            status_change=status,
        )

    withdrawn = ("withdrawn", T0 + timedelta(days=10))
    courses = infusion_courses(madrs + dissociation, infusions)
    charts = {
        "trajectory-compressed": panel(),
        "trajectory-day-blinded": panel(view="day", show_dose=False, infusion=2),
        "trajectory-course-withdrawn": panel(view="course", status=withdrawn),
        "trajectory-no-baseline-single-recall": panel([rating("day_1", DAY, 9), rating("day_7", 7 * DAY, 12)]),
        "trajectory-no-infusions": trajectory_chart(definition, madrs, (), tz="UTC"),
        "dissociation": dissociation_chart(courses, tz="Europe/London", timepoint_labels=labels),
        "dissociation-cadss-only": dissociation_chart(infusion_courses(dissociation[:3], infusions[:1])),
    }
    for by_arm in (False, True):
        frame, summary = _cohort_frames(by_arm)
        charts[f"cohort-{'by-arm' if by_arm else 'pooled'}"] = cohort_chart(
            definition, frame, summary, by_arm=by_arm, arms=["ketamine", "midazolam"] if by_arm else ()
        )
    specs = {name: spec(chart) for name, chart in charts.items()}
    specs["stack"] = spec(stack([panel(), dissociation_chart(courses)], title="KET-001"))
    return specs


def canonical(spec_dict: dict) -> str:
    return json.dumps(spec_dict, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


NAMES = [
    "trajectory-compressed",
    "trajectory-day-blinded",
    "trajectory-course-withdrawn",
    "trajectory-no-baseline-single-recall",
    "trajectory-no-infusions",
    "dissociation",
    "dissociation-cadss-only",
    "cohort-pooled",
    "cohort-by-arm",
    "stack",
]


@pytest.fixture(scope="module")
def built() -> dict[str, dict]:
    return build_specs()


@pytest.mark.parametrize("name", NAMES)
def test_specification_equals_the_golden_file(built, name):
    expected = (GOLDEN / f"{name}.json").read_text(encoding="utf-8")
    assert canonical(built[name]) == expected, f"{name}: the chart's specification changed (see module docstring)"


def test_every_built_chart_has_a_golden_file(built):
    assert sorted(built) == sorted(NAMES)


if __name__ == "__main__":
    if "--write" not in sys.argv:
        sys.exit(__doc__)
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for name, spec_dict in build_specs().items():
        (GOLDEN / f"{name}.json").write_text(canonical(spec_dict), encoding="utf-8")
        print("wrote", name)
