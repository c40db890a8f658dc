"""Charts as Vega-Lite specifications, PNG and SVG (vl-convert, offline, no browser).

The builders (charts.participant, charts.dissociation, charts.cohort) return Vega-Lite
specifications as plain dicts (charts.vegalite). `spec(chart)` is what a page draws: the
specification with Scalebook's config, not validated at run time (every builder's output is
validated by the test suite, tests/test_charts.py). `to_png`/`to_svg` validate what they convert
(a download is rare and must be right). Nothing here touches Altair's global state.
"""

from __future__ import annotations

import textwrap
from typing import Any

import pyarrow as pa
import vl_convert as vlc

from charts import vegalite as vl

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CONFIG: dict[str, Any] = {
    "font": "DejaVu Sans, Liberation Sans, Arial, sans-serif",
    "view": {"stroke": None},
    "axis": {"labelFontSize": 11, "titleFontSize": 12},
    "legend": {"labelFontSize": 11, "titleFontSize": 12},
    "title": {"fontSize": 14, "subtitleFontSize": 11},
}


#: Average glyph width as a share of the font size (DejaVu Sans, the first font of CONFIG; bold is
#: wider), to estimate how many characters of a title fit on a line.
GLYPH_WIDTH = {False: 0.60, True: 0.68}
#: A title is wrapped to at most this width (px), even on a wider chart: a chart drawn on a page
#: fills the column it is in, which on a tablet in portrait is about 700 px, minus the axis.
MAX_TITLE_WIDTH = 560
DEFAULT_VIEW_WIDTH = 400  # Vega-Lite's default continuous width


def wrap_text(text: Any, width: float, font_size: float, *, bold: bool = False) -> Any:
    """A title as lines that each fit `width` px (Vega-Lite draws a list of strings as lines);
    anything but a string too long for one line is returned as it is. Lines break between the
    parts of a " · "-joined title first, then between words, never inside a word."""
    if not isinstance(text, str):
        return text
    per_line = max(12, int(min(width, MAX_TITLE_WIDTH) / (font_size * GLYPH_WIDTH[bold])))
    if len(text) <= per_line:
        return text
    lines: list[str] = []
    for part in text.split(" · "):
        pieces = textwrap.wrap(part, per_line) or [part]
        if lines and len(lines[-1]) + 3 + len(pieces[0]) <= per_line:
            lines[-1] = f"{lines[-1]} · {pieces.pop(0)}"
        lines += pieces
    return lines


def _fitted(node: dict[str, Any], width: float) -> dict[str, Any]:
    """A view (or composition) of a spec with its titles wrapped to its width: a new dict for every
    view on the way, data and datasets shared, never copied."""
    out = dict(node)
    width = out["width"] if isinstance(out.get("width"), (int, float)) else width
    title = out.get("title")
    if isinstance(title, dict):
        title = dict(title)
        title["text"] = wrap_text(title.get("text"), width, CONFIG["title"]["fontSize"], bold=True)
        if "subtitle" in title:
            title["subtitle"] = wrap_text(title["subtitle"], width, CONFIG["title"]["subtitleFontSize"])
        out["title"] = title
    elif isinstance(title, str):
        out["title"] = wrap_text(title, width, CONFIG["title"]["fontSize"], bold=True)
    if isinstance(out.get("encoding"), dict):
        encoding = dict(out["encoding"])
        for name in ("x", "y"):
            channel = encoding.get(name)
            if not isinstance(channel, dict):
                continue
            channel = dict(channel)
            length = width if name == "x" else out.get("height", DEFAULT_VIEW_WIDTH)
            if isinstance(channel.get("axis"), dict) and "title" in channel["axis"]:
                channel["axis"] = {
                    **channel["axis"],
                    "title": wrap_text(channel["axis"]["title"], length, CONFIG["axis"]["titleFontSize"], bold=True),
                }
            elif "title" in channel:
                channel["title"] = wrap_text(channel["title"], length, CONFIG["axis"]["titleFontSize"], bold=True)
            encoding[name] = channel
        out["encoding"] = encoding
    for key in ("layer", "vconcat", "hconcat", "concat"):
        if isinstance(out.get(key), list):
            out[key] = [_fitted(part, width) if isinstance(part, dict) else part for part in out[key]]
    return out


def spec(chart: dict[str, Any]) -> dict[str, Any]:
    """The specification to draw: a builder's chart with Scalebook's config and autosize, and every
    title, subtitle and axis title wrapped into lines that fit the chart's width (a long one was
    cut off at the edge of an exported PNG or SVG, and of the chart on a tablet). A new dict; the
    chart is left as it was."""
    out = _fitted(chart, DEFAULT_VIEW_WIDTH)
    out["config"] = {**CONFIG, **out.get("config", {})}
    # Fit the width to the page, keep the height: Streamlit's default for a stretched chart
    # ("fit") squeezes the plot to make room for titles and legends inside the given height.
    composite = any(k in out for k in ("hconcat", "vconcat", "concat"))
    out.setdefault("autosize", {"type": "pad" if composite else "fit-x", "contains": "padding"})
    return out


def _vl_version(spec_dict: dict[str, Any]) -> str | None:
    schema = str(spec_dict.get("$schema", ""))
    for version in sorted(vlc.get_vegalite_versions(), key=lambda v: [int(x) for x in v.split(".")], reverse=True):
        if f"/v{version.split('.')[0]}." in schema or f"/v{version}" in schema:
            return version
    return None


def to_svg(chart: dict[str, Any]) -> str:
    """The chart (a builder's output or a stored `spec`) as an SVG document (text), validated
    first."""
    spec_dict = vl.validate(spec(chart))
    return vlc.vegalite_to_svg(spec_dict, vl_version=_vl_version(spec_dict))


def to_png(chart: dict[str, Any], *, scale: float = 2.0) -> bytes:
    """The chart as PNG bytes (`scale` 2 = sharp on high-density screens and in print), validated
    first."""
    spec_dict = vl.validate(spec(chart))
    return vlc.vegalite_to_png(spec_dict, scale=scale, vl_version=_vl_version(spec_dict))


def stack(charts: list[dict[str, Any]], title: str | None = None) -> dict[str, Any]:
    """Several panels one under the other (e.g. a participant's whole view as one image); their
    datasets move to the top."""
    return vl.compose("vconcat", charts, **({"title": title} if title else {}))


def drawable(spec_dict: dict[str, Any]) -> dict[str, Any]:
    """The specification with its datasets as Arrow tables, for Streamlit to draw.

    Streamlit sends chart data to the browser as Arrow; given JSON records it converts them
    through pandas on every run. A table converted once, here, goes
    through its fast path (serialisation only), so a cached view redraws quickly.
    """
    out = dict(spec_dict)
    if isinstance(out.get("datasets"), dict):
        out["datasets"] = {
            name: arrow_table(records) if isinstance(records, list) else records
            for name, records in out["datasets"].items()
        }
    return out


def arrow_table(records: list[dict[str, Any]]) -> pa.Table:
    """JSON records as an Arrow table, one column per key found in ANY record (missing → null).

    Column by column through pyarrow: faster than through a pandas DataFrame, and
    integers with gaps stay integers. (A column mixing numbers and text is refused either way;
    the chart builders never make one.)"""
    names = list(dict.fromkeys(key for record in records for key in record))
    return pa.table({name: pa.array([record.get(name) for record in records]) for name in names})
