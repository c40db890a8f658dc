"""Charts as Vega-Lite specifications, PNG and SVG (vl-convert, offline, no browser).

`spec(chart)` is what a page draws: the specification without run-time validation, serialised
view by view (charts.data.to_spec). Schema validation costs about 20 ms per layered panel, and
every builder's output is validated by the test suite (tests/test_charts.py), so the page does
not validate again at run time. `to_png`/`to_svg`
validate (a download is rare and must be right). None of these touches Altair's global
data-transformer or theme state: builders pass data as explicit values (charts.participant),
so charts of any size convert without MaxRowsError.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import pyarrow as pa
import vl_convert as vlc

from charts.data import collect, compose, detached, to_spec

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CONFIG = {
    "font": "DejaVu Sans, Liberation Sans, Arial, sans-serif",
    "view": {"stroke": None},
    "axis": {"labelFontSize": 11, "titleFontSize": 12},
    "legend": {"labelFontSize": 11, "titleFontSize": 12},
    "title": {"fontSize": 14, "subtitleFontSize": 11},
}


def spec(chart: alt.TopLevelMixin | dict[str, Any], *, validate: bool = False) -> dict[str, Any]:
    """The Vega-Lite specification (a dict) with Scalebook's config. The datasets are detached
    while Altair serialises the chart and added back to the result (charts.data: speed)."""
    if isinstance(chart, dict):
        out = dict(chart)
    elif validate:
        with detached(chart) as datasets:
            out = chart.to_dict(validate=True)
        if datasets:
            out["datasets"] = {**out.get("datasets", {}), **datasets}
    else:
        out = to_spec(chart)
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


def to_svg(chart: alt.TopLevelMixin | dict[str, Any]) -> str:
    """The chart as an SVG document (text)."""
    spec_dict = spec(chart, validate=True) if not isinstance(chart, dict) else spec(chart)
    return vlc.vegalite_to_svg(spec_dict, vl_version=_vl_version(spec_dict))


def to_png(chart: alt.TopLevelMixin | dict[str, Any], *, scale: float = 2.0) -> bytes:
    """The chart as PNG bytes (`scale` 2 = sharp on high-density screens and in print)."""
    spec_dict = spec(chart, validate=True) if not isinstance(chart, dict) else spec(chart)
    return vlc.vegalite_to_png(spec_dict, scale=scale, vl_version=_vl_version(spec_dict))


def stack(charts: list[alt.TopLevelMixin], title: str | None = None) -> alt.VConcatChart:
    """Several panels one under the other (e.g. a participant's whole view as one image)."""
    chart = compose("vconcat", charts, **({"title": title} if title else {}))
    collect(chart)
    return chart


def drawable(spec_dict: dict[str, Any]) -> dict[str, Any]:
    """The specification with its datasets as Arrow tables, for Streamlit to draw.

    Streamlit sends chart data to the browser as Arrow; given JSON records it converts them
    through pandas on every run (about 10 ms per chart). A table converted once, here, goes
    through its fast path (serialisation only), so a cached view redraws quickly.
    """
    out = dict(spec_dict)
    if isinstance(out.get("datasets"), dict):
        out["datasets"] = {name: arrow_table(records) if isinstance(records, list) else records
                           for name, records in out["datasets"].items()}
    return out


def arrow_table(records: list[dict[str, Any]]) -> pa.Table:
    """JSON records as an Arrow table, one column per key found in ANY record (missing → null).

    Column by column through pyarrow: about 15 times faster than through a pandas DataFrame, and
    integers with gaps stay integers. (A column mixing numbers and text is refused either way;
    the chart builders never make one.)"""
    names = list(dict.fromkeys(key for record in records for key in record))
    return pa.table({name: pa.array([record.get(name) for record in records]) for name in names})
