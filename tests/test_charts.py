"""Chart specifications: layers, severity bands (fixed colour-blind-safe order), thresholds from
the protocol, infusion markers (and blinding of the dose), tooltips, amended rings, the recall
encoding, the three time axes, the dissociation panel, the cohort chart beyond Altair's 5,000-row
default, and PNG/SVG export through vl-convert."""

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import altair as alt
import jsonschema
import pandas as pd
import pytest

from analytics.cohort import Cohort, Participant, cohort_outcomes, timepoint_summary, trajectory_frame
from analytics.dissociation import infusion_courses
from analytics.outcomes import scale_outcome, threshold_lines
from analytics.records import ASSESSMENT_FIELDS, INFUSION_FIELDS, InfusionEvent, assessment
from charts import PNG_SIGNATURE, cohort_chart, dissociation_chart, spec, stack, time_axis, to_png, to_svg
from charts.cohort import short_label
from charts.export import arrow_table
from charts.palette import YLORBR, band_colors, categorical
from charts.participant import trajectory_chart
from charts.timeaxis import offset_text
from charts.vegalite import validate
from charts.views import participant_view
from protocol import load_protocol
from scales import get_scale
from scales.loader import DEFINITIONS_DIR, SCALES_DIR_ENV

PROTOCOL = load_protocol()
MADRS = get_scale("madrs")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DAY = 24 * 60
INFUSION = InfusionEvent(1, T0, T0 + timedelta(minutes=40), 0.5, 35.0)
LABELS = {t.id: t.label for t in PROTOCOL.timepoints}
_ids = iter(range(1, 100_000))


def rating(timepoint, minutes, total, scale="madrs", recall="7d", status="signed", **kw):
    return assessment(
        next(_ids),
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


RATINGS = [
    rating("baseline", -2 * DAY, 30),
    rating("min_40", 42, 22, recall="24h"),
    rating("day_1", DAY, 14, recall="24h", status="amended", n_scores=2),
    rating("day_7", 7 * DAY, 20),
]


def panel(ratings=RATINGS, view="compressed", show_dose=True, infusions=(INFUSION,)):
    outcome = scale_outcome(PROTOCOL, "madrs", ratings, infusions)
    return trajectory_chart(
        MADRS,
        ratings,
        infusions,
        outcome=outcome,
        thresholds=threshold_lines(PROTOCOL, "madrs", outcome.baseline_total),
        axis=time_axis(view),
        tz="Europe/London",
        show_dose=show_dose,
        timepoint_labels=LABELS,
    )


def valid(spec_dict):
    """Validate a specification against the Vega-Lite JSON schema Altair ships; return it."""
    return validate(spec_dict)


def layers(spec_dict):
    return {layer["name"]: layer for layer in spec_dict["layer"]}


def data(spec_dict, layer):
    return spec_dict["datasets"][layer["data"]["name"]]


def test_trajectory_panel_layers_in_drawing_order_and_valid():
    chart = panel()
    fast = spec(chart)  # what the page draws: not validated at run time ...
    valid(fast)  # ... so validated here
    assert [layer["name"] for layer in fast["layer"]] == [
        "bands",
        "infusion-markers",
        "infusion-labels",
        "lines",
        "line-labels",
        "trajectory",
        "points",
        "amended",
    ]
    assert fast["title"]["text"].startswith("MADRS")
    assert fast["autosize"] == {"type": "fit-x", "contains": "padding"}  # fit the width, keep the height


def test_severity_bands_come_from_the_definition_in_fixed_colour_blind_safe_order():
    out = spec(panel())
    bands = layers(out)["bands"]
    labels = [b["label"] for b in MADRS.band_sets["snaith1986"]]
    assert bands["encoding"]["color"]["scale"] == {"domain": labels, "range": list(YLORBR[4])}
    assert [(b["band"], b["low"], b["high"]) for b in data(out, bands)] == [
        ("Normal / symptom absent", 0, 6.5),
        ("Mild", 6.5, 19.5),
        ("Moderate", 19.5, 34.5),
        ("Severe", 34.5, 60),
    ]
    assert band_colors(5) == YLORBR[5] and band_colors(1) == (YLORBR[3][0],) and categorical(2)[0] == "#0072B2"
    with pytest.raises(ValueError):
        band_colors(10)


def test_baseline_and_protocol_thresholds_are_labelled_lines():
    out = spec(panel())
    lines = data(out, layers(out)["lines"])
    assert [(line["kind"], line["y"], line["label"]) for line in lines] == [
        ("baseline", 30, "Baseline 30"),
        ("response", 15.0, "Response ≤ 15"),
        ("remission", 10.0, "Remission ≤ 10"),
    ]
    assert "50 % below the baseline of 30" in lines[1]["rule"]
    assert layers(out)["line-labels"]["encoding"]["text"]["field"] == "label"
    dash = layers(out)["lines"]["encoding"]["strokeDash"]["scale"]
    assert dash["domain"] == ["baseline", "response", "remission"] and dash["range"][0] == []  # not colour alone


def one_line(text) -> str:
    """A title as one string: charts.export.spec wraps a long one into lines (a list)."""
    return " ".join(text) if isinstance(text, list) else text


def test_no_baseline_draws_no_baseline_or_response_line():
    out = spec(panel([rating("day_1", DAY, 9)]))
    assert [line["kind"] for line in data(out, layers(out)["lines"])] == ["remission"]
    assert "No baseline" in one_line(out["title"]["subtitle"])


def test_infusion_markers_carry_number_and_dose_unless_blinded():
    out = spec(panel())
    marker = data(out, layers(out)["infusion-markers"])[0]
    assert (marker["label"], marker["x"], marker["dose"]) == ("#1 0.5 mg/kg", 0.0, "0.5 mg/kg (35 mg)")
    blind = spec(panel(show_dose=False))
    marker = data(blind, layers(blind)["infusion-markers"])[0]
    assert (marker["label"], marker["dose"]) == ("#1", "blinded")
    assert "0.5" not in str(data(blind, layers(blind)["infusion-labels"]))
    day = spec(panel(view="day"))
    assert "infusion-spans" in layers(day)  # start to end, in the hours view
    assert data(day, layers(day)["infusion-spans"])[0]["x2"] == pytest.approx(40 / 60)


def test_points_have_tooltips_and_amended_points_are_ringed():
    out = spec(panel())
    points = layers(out)["points"]
    assert [t["field"] for t in points["encoding"]["tooltip"]] == [
        "timepoint",
        "time",
        "since",
        "total",
        "band",
        "change",
        "rater",
        "status",
        "recall",
    ]
    rows = data(out, points)
    day1 = next(r for r in rows if r["timepoint"] == "Day 1 (24 hours)")
    assert (day1["total"], day1["since"], day1["change"], day1["status"], day1["recall"]) == (
        14,
        "+1.0 d",
        "-53 %",
        "amended",
        "the past 24 hours",
    )
    assert day1["time"] == "2026-03-03 09:00 GMT"  # study time zone
    assert [r["total"] for r in data(out, layers(out)["amended"])] == [14]
    assert "amended" not in layers(spec(panel([rating("day_1", DAY, 14)])))


def test_recall_period_is_encoded_only_where_7_day_and_24_hour_ratings_are_mixed():
    mixed = layers(spec(panel()))["points"]["encoding"]["shape"]
    assert mixed["field"] == "recall" and mixed["legend"]["title"] == "Recall period"
    assert mixed["scale"]["domain"] == ["the past 7 days", "the past 24 hours"]
    single = spec(panel([rating("baseline", -DAY, 30), rating("day_1", DAY, 12)]))
    assert (
        "shape" not in layers(single)["points"]["encoding"] and "recall: the past 7 days" in single["title"]["subtitle"]
    )


def test_three_time_axes():
    compressed = layers(spec(panel()))["trajectory"]["encoding"]["x"]
    assert compressed["scale"]["type"] == "symlog" and compressed["scale"]["constant"] == pytest.approx(1 / 6)
    assert {0, 24, 168} <= set(compressed["axis"]["values"]) and "min" in compressed["axis"]["labelExpr"]
    course = spec(panel(view="course"))
    assert "type" not in layers(course)["trajectory"]["encoding"]["x"]["scale"]
    assert [r["x"] for r in data(course, layers(course)["points"])] == [-2.0, pytest.approx(42 / DAY), 1.0, 7.0]
    day = layers(spec(panel(view="day")))["trajectory"]["encoding"]["x"]
    assert day["scale"]["domain"][1] == 30 and day["axis"]["title"] == "Hours since the start of infusion 1"
    assert offset_text(2 / 3) == "+40 min" and offset_text(-48) == "−2.0 d"
    with pytest.raises(ValueError):
        time_axis("weeks")


def test_dissociation_panel_shows_pre_course_and_peak_per_infusion():
    ratings = [
        rating("baseline", -30, 2, scale="cadss", recall="now"),
        rating("min_40", 40, 34, scale="cadss"),
        rating("min_120", 120, 8, scale="cadss"),
        rating("min_40", 41, 30, scale="bprs", subscales={"positive": 9}),
    ]
    chart = dissociation_chart(infusion_courses(ratings, [INFUSION]), tz="Europe/London", timepoint_labels=LABELS)
    out = valid(spec(chart))
    assert [one_line(p["title"]) for p in out["hconcat"]] == ["CADSS total (0–92)", "BPRS positive subscale (4–28)"]
    cadss = {layer["name"]: layer for layer in out["hconcat"][0]["layer"]}
    assert set(cadss) == {"cadss-infusion-start", "cadss-course", "cadss-points", "cadss-peaks", "cadss-peak-labels"}
    points = out["datasets"][cadss["cadss-points"]["data"]["name"]]
    assert [(p["x"], p["value"], p["pre"]) for p in points] == [(-30, 2, True), (40.0, 34, False), (120.0, 8, False)]
    peaks = out["datasets"][cadss["cadss-peaks"]["data"]["name"]]
    assert peaks == [
        {"x": 40.0, "value": 34, "infusion": "Infusion 1", "minutes": 40, "text": "peak 34 at 40 min (+32 from pre)"}
    ]
    assert "pre" in cadss["cadss-points"]["encoding"]["x"]["axis"]["labelExpr"]
    assert all("datasets" not in p for p in out["hconcat"])  # datasets only at the top


def big_cohort(
    people=520,
    timepoints=("baseline", "min_40", "min_80", "min_120", "min_230", "day_1", "day_2", "day_3", "day_7", "day_14"),
):
    offsets = {
        "baseline": -DAY,
        "min_40": 40,
        "min_80": 80,
        "min_120": 120,
        "min_230": 230,
        "day_1": DAY,
        "day_2": 2 * DAY,
        "day_3": 3 * DAY,
        "day_7": 7 * DAY,
        "day_14": 14 * DAY,
    }
    participants = [Participant(p, f"P{p:04d}", "LON", "ketamine" if p % 2 else "midazolam") for p in range(people)]
    ratings = [
        assessment(
            p * 100 + i, p, "madrs", tp, "signed", T0 + timedelta(minutes=offsets[tp]), 30 - (i * 2 + p % 5) % 25
        )
        for p in range(people)
        for i, tp in enumerate(timepoints)
    ]
    return Cohort.from_assessments(participants, ratings, {p: [INFUSION] for p in range(people)})


def test_cohort_chart_beyond_altairs_default_row_limit_exports():
    cohort = big_cohort()
    frame = trajectory_frame(PROTOCOL, cohort, cohort_outcomes(PROTOCOL, cohort, "madrs"))
    assert len(frame) == 5200 > 5000
    chart = cohort_chart(
        MADRS, frame, timepoint_summary(frame, by_arm=True), by_arm=True, arms=["ketamine", "midazolam"]
    )
    out = valid(spec(chart))
    assert [layer["name"] for layer in out["layer"]] == ["participants", "ci", "mean-line", "mean"]
    assert len(data(out, layers(out)["participants"])) == 5200
    summary = data(out, layers(out)["ci"])
    assert {"ci_low", "ci_high", "n", "mean", "arm"} <= set(summary[0])
    assert layers(out)["participants"]["encoding"]["detail"]["field"] == "participant"
    assert out["layer"][0]["encoding"]["x"]["sort"][:3] == ["baseline", "min 40", "min 80"]
    assert {"label", "short"} <= set(summary[0]) and short_label("min_40@2") == "min 40 #2"
    assert to_svg(chart).lstrip().startswith("<svg")
    # Altair's own limit is untouched for everyone else (no global switch was flipped):
    with pytest.raises(alt.MaxRowsError):
        alt.Chart(pd.DataFrame({"x": range(5001)})).mark_point().encode(x=alt.X("x:Q")).to_dict()


def test_png_and_svg_export():
    png = to_png(panel())
    assert png.startswith(PNG_SIGNATURE) and len(png) > 10_000
    svg = to_svg(spec(panel()))  # a stored spec (what the page caches) exports too
    assert svg.lstrip().startswith("<svg") and "MADRS" in svg and "Baseline 30" in svg


def test_spec_leaves_the_chart_intact_and_stack_moves_datasets_to_the_top():
    chart = panel()
    before = repr(chart)
    spec(chart)
    assert repr(chart) == before and "madrs-points" in chart["datasets"] and "config" not in chart
    combined = stack(
        [panel(), dissociation_chart(infusion_courses([rating("min_40", 40, 10, scale="cadss")], [INFUSION]))],
        title="KET-001",
    )
    out = valid(spec(combined))
    assert "datasets" in out and all("datasets" not in part and "$schema" not in part for part in out["vconcat"])
    assert {"madrs-points", "cadss-total-points"} <= set(out["datasets"])


def test_participant_view_assembles_one_panel_per_scale_and_blinds_doses():
    rows = {
        "assessments": [
            (
                1,
                1,
                "baseline",
                "madrs",
                "signed",
                "7d",
                "rita",
                None,
                "2026-02-28T09:00:00.000000Z",
                30,
                "Moderate",
                "snaith1986",
                "{}",
                1,
                "sha256:a",
                "1.0.0",
                1,
            ),
            (
                2,
                1,
                "day_1",
                "madrs",
                "signed",
                "24h",
                "rob",
                None,
                "2026-03-03T09:00:00.000000Z",
                14,
                "Mild",
                "snaith1986",
                "{}",
                1,
                "sha256:a",
                "1.0.0",
                1,
            ),
            (
                3,
                1,
                "min_40",
                "cadss",
                "signed",
                "now",
                "rita",
                None,
                "2026-03-02T09:42:00.000000Z",
                30,
                None,
                None,
                "{}",
                1,
                "sha256:b",
                "1.0.0",
                1,
            ),
        ],
        "infusions": [(1, 1, "2026-03-02T09:00:00.000000Z", None, 0.5, 35.0, 40)],
    }
    # rows as db.analytics returns them, by column name (analytics.records names the columns)
    rows = {
        "assessments": [dict(zip(ASSESSMENT_FIELDS, r, strict=True)) for r in rows["assessments"]],
        "infusions": [dict(zip(INFUSION_FIELDS, r, strict=True)) for r in rows["infusions"]],
    }
    view = participant_view(PROTOCOL, rows, show_dose=False)
    assert [p.key for p in view.panels] == ["madrs", "cadss"] and view.dissociation is not None
    for drawn in [p.spec for p in view.panels] + [view.dissociation.spec]:
        valid(drawn)
    assert view.outcomes.iloc[0][["baseline", "endpoint", "responder"]].tolist() == [30, 14, "yes"]
    assert list(view.infusions["dose (mg/kg)"]) == ["blinded"]
    assert view.rater_changes == ["madrs: Day 1 (24 hours) rated by rob (before: rita)"]
    assert view.peaks.iloc[0]["peak"] == 30
    shown = participant_view(PROTOCOL, rows, show_dose=True, view="day")
    assert list(shown.infusions["dose (mg/kg)"]) == [0.5]


def test_chart_datasets_become_arrow_tables_with_every_key_of_every_record():
    # Records need not share keys (a tooltip field only some points have); no column may be lost.
    table = arrow_table([{"x": 1, "label": "a"}, {"x": 2, "extra": 2.5}, {"x": None, "label": None}])
    assert table.column_names == ["x", "label", "extra"]
    assert table.to_pylist() == [
        {"x": 1, "label": "a", "extra": None},
        {"x": 2, "label": None, "extra": 2.5},
        {"x": None, "label": None, "extra": None},
    ]
    assert str(table.schema.field("x").type) == "int64"  # integers with a gap stay integers
    assert arrow_table([]).num_rows == 0


def test_an_invalid_specification_is_refused_before_export():
    broken = spec(panel())
    broken["layer"][0]["mark"] = {"type": "no-such-mark"}
    with pytest.raises(jsonschema.ValidationError):
        validate(broken)
    with pytest.raises(jsonschema.ValidationError):
        to_svg(broken)


def test_chart_code_uses_public_altair_only():
    # Issue 14: no patching of altair.utils internals, no private attributes (_get, _kwds), no
    # process-wide switches (debug_mode, data_transformers) anywhere a chart is built or drawn.
    root = Path(__file__).resolve().parent.parent
    banned = re.compile(r"altair\.utils|alt\.utils|schemapi|\._get\(|\._kwds|debug_mode|data_transformers")
    found = [
        f"{path.relative_to(root)}:{n}: {line.strip()}"
        for folder in ("charts", "ui", "analytics", "pages")
        for path in sorted((root / folder).rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if banned.search(line)
    ]
    assert not found, "Altair internals used:\n" + "\n".join(found)


def test_a_new_dissociation_definition_gets_its_own_panel_on_its_declared_range(tmp_path, monkeypatch):
    # Which scores are dissociation measures, and their ranges, come from the definitions
    # ("measures": "dissociation"), not from chart or analytics code.
    from tests.test_scale_cases import TOY

    for path in DEFINITIONS_DIR.glob("*.json"):
        (tmp_path / path.name).write_bytes(path.read_bytes())
    (tmp_path / "toy3.json").write_text(json.dumps(TOY), encoding="utf-8")
    monkeypatch.setenv(SCALES_DIR_ENV, str(tmp_path))
    ratings = [rating("min_40", 40, 20, scale="cadss"), rating("min_40", 41, 5, scale="toy3")]
    out = valid(spec(dissociation_chart(infusion_courses(ratings, [INFUSION]))))
    panels = {p["title"]: p for p in out["hconcat"]}
    assert list(panels) == ["CADSS total (0–92)", "TOY3 total (0–6)"]
    toy_y = panels["TOY3 total (0–6)"]["layer"][1]["encoding"]["y"]
    assert toy_y["scale"]["domain"] == [0, 6] and toy_y["axis"]["title"] == "TOY3 total (0–6)"
