"""Charts that fit (issue 16 item 8): an exported chart keeps its full title, subtitle and axis
titles, and the cohort chart's confidence interval stays inside the axes.

Every chart builder's output (the fixed charts of tests/test_charts_golden.py) is rendered to SVG
by vl-convert, as the PNG/SVG downloads and the certified record are, and every text of the
image is measured in the chart's font (DejaVu Sans, as charts.export.CONFIG names it first): no
text may be wider than the image, so none is cut off at its edge. Each title line must appear
whole (Vega truncates with "…").
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pandas as pd
import pytest
from PIL import ImageFont

from charts import cohort_chart, spec, to_svg
from charts.cohort import MIN_N_FOR_CI, plotted_participants
from charts.export import wrap_text
from scales import get_scale
from tests.test_charts_golden import NAMES, build_specs

FONTS = Path("/usr/share/fonts/truetype/dejavu")
TEXT = re.compile(r"<text([^>]*)>(.*?)</text>", re.S)
LINE = re.compile(r"<tspan[^>]*>([^<]*)</tspan>")


def drawn_lines(svg: str) -> list[tuple[str, str]]:
    """(attributes of its <text>, one line) for every line of text in the SVG (a multi-line title
    is one <text> with a <tspan> per line)."""
    lines = []
    for attrs, body in TEXT.findall(svg):
        for line in LINE.findall(body) or [body]:
            lines.append((attrs, line.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")))
    return lines


@cache
def font(size: int, bold: bool) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONTS / f"DejaVuSans{'-Bold' if bold else ''}.ttf"), size)


def title_lines(node) -> list[str]:
    """Every title, subtitle and x/y axis title line of a spec."""
    found: list[str] = []
    if not isinstance(node, dict):
        return found

    def add(text):
        found.extend([text] if isinstance(text, str) else list(text or []))

    title = node.get("title")
    if isinstance(title, dict):
        add(title.get("text"))
        add(title.get("subtitle"))
    else:
        add(title)
    for name in ("x", "y"):
        channel = (node.get("encoding") or {}).get(name)
        if isinstance(channel, dict):
            add((channel.get("axis") or {}).get("title") or channel.get("title"))
    for key in ("layer", "vconcat", "hconcat", "concat"):
        for part in node.get(key, []):
            found += title_lines(part)
    return found


@pytest.fixture(scope="module")
def rendered() -> dict[str, tuple[dict, str]]:
    if not FONTS.is_dir():
        pytest.skip("DejaVu fonts not installed (fonts-dejavu-core)")
    return {name: (s, to_svg(s)) for name, s in build_specs().items()}


@pytest.mark.parametrize("name", NAMES)
def test_every_text_of_the_exported_chart_fits_the_image(rendered, name):
    chart, svg = rendered[name]
    width = float(re.search(r'<svg[^>]*\swidth="([\d.]+)"', svg).group(1))
    too_wide = []
    for attrs, text in drawn_lines(svg):
        size = re.search(r'font-size="([\d.]+)px"', attrs)
        measured = font(int(float(size.group(1)) if size else 11), "bold" in attrs).getlength(text)
        if measured > width:
            too_wide.append(f"{measured:.0f} px > {width:.0f} px: {text}")
    assert not too_wide, f"{name}: texts wider than the image:\n" + "\n".join(too_wide)
    texts = [line for _, line in drawn_lines(svg)]
    missing = [line for line in title_lines(chart) if line not in texts]
    assert not missing, f"{name}: title lines not drawn whole: {missing}"


def test_a_long_title_is_wrapped_between_parts_then_words():
    subtitle = "Baseline 30 · withdrawn 2026-03-12: no ratings expected after the dashed line · recall: 7 days"
    lines = wrap_text(subtitle, 300, 11)
    assert isinstance(lines, list) and len(lines) > 1
    assert " ".join(lines).replace(" · ", " ") == subtitle.replace(" · ", " ")  # nothing lost
    assert wrap_text("MADRS total", 300, 12) == "MADRS total"  # short: left as it is


def _cohort(ns: list[int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two timepoints whose ratings number `ns`, plus one participant never rated (a screen failure)."""
    rows = [
        {"participant": f"P{p}", "arm": None, "timepoint": tp, "order": order, "total": 10 + 20 * (p % 2)}
        for order, (tp, n) in enumerate(zip(("baseline", "day_1"), ns, strict=True))
        for p in range(n)
    ]
    rows.append({"participant": "SF1", "arm": None, "timepoint": "baseline", "order": 0, "total": None})
    frame = pd.DataFrame(rows)
    summary = pd.DataFrame(
        [
            {"timepoint": tp, "order": o, "label": tp, "n": n, "mean": 20.0, "ci_low": -80.0, "ci_high": 120.0}
            for o, (tp, n) in enumerate(zip(("baseline", "day_1"), ns, strict=True))
        ]
    )
    return frame, summary


def test_cohort_ci_is_clipped_and_shown_only_from_three_ratings():
    frame, summary = _cohort([2, MIN_N_FOR_CI])
    chart = spec(cohort_chart(get_scale("madrs"), frame, summary))
    ci = next(layer for layer in chart["layer"] if layer["name"] == "ci")
    assert ci["mark"]["clip"] is True
    shown = chart["datasets"][ci["data"]["name"]]
    assert [row["n"] for row in shown] == [MIN_N_FOR_CI]  # the timepoint with 2 ratings has no CI


def test_cohort_title_counts_the_participants_with_a_line():
    frame, summary = _cohort([4, 4])
    assert plotted_participants(frame) == 4  # the screen failure has no rating
    chart = cohort_chart(get_scale("madrs"), frame, summary)
    assert chart["title"]["text"] == "MADRS: 4 participants"
