"""Charts as Vega-Lite specifications, PNG and SVG (vl-convert, offline, no browser).

The builders (charts.participant, charts.dissociation, charts.cohort) return Vega-Lite
specifications as plain dicts (charts.vegalite). `spec(chart)` is what a page draws: the
specification with Scalebook's config, not validated at run time (every builder's output is
validated by the test suite, tests/test_charts.py). `to_png`/`to_svg` validate what they convert
(a download is rare and must be right). Nothing here touches Altair's global state.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import vl_convert as vlc

from charts import vegalite as vl

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CONFIG = {
    "font": "DejaVu Sans, Liberation Sans, Arial, sans-serif",
    "view": {"stroke": None},
    "axis": {"labelFontSize": 11, "titleFontSize": 12},
    "legend": {"labelFontSize": 11, "titleFontSize": 12},
    "title": {"fontSize": 14, "subtitleFontSize": 11},
}


def spec(chart: dict[str, Any]) -> dict[str, Any]:
    """The specification to draw: a builder's chart with Scalebook's config and autosize (a new
    dict; the chart is left as it was)."""
    out = dict(chart)
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
