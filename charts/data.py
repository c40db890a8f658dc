"""How chart data reaches Altair: explicit JSON values in named top-level datasets.

Layers refer to their data by name ({"name": "madrs-points"}) and the records sit once in the
top-level chart's `datasets`. Two reasons:

* Size. Altair's DataFrame transformer refuses more than 5,000 rows (MaxRowsError) unless its
  global, process-wide setting is changed, which is unsafe under Streamlit's threads. Values
  built here never pass through that transformer, so a 12,000-row cohort chart just works.
* Speed. Altair deep-copies a chart's data for every layer it builds or serialises; with the
  records held once at the top (and detached while serialising, see `detached`), a panel's
  specification costs a few milliseconds instead of tens.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import altair as alt
from altair.utils import schemapi

_COMPOSITES = ("layer", "hconcat", "vconcat", "concat")


def values(records: list[dict]) -> dict:
    """Inline JSON values (Altair moves them to a top-level dataset named by content hash)."""
    return {"values": records}


class Datasets:
    """Named datasets for one chart; `attach` puts them on the (top-level) chart."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.data: dict[str, list[dict]] = {}

    def __call__(self, name: str, records: list[dict]) -> dict:
        key = f"{self.prefix}-{name}"
        self.data[key] = records
        return {"name": key}

    def attach(self, chart: Any) -> Any:
        chart.datasets = self.data  # set after construction: Altair does not copy it
        return chart


def _walk(chart: Any) -> Iterator[Any]:
    yield chart
    for attr in _COMPOSITES:
        children = chart._get(attr) if hasattr(chart, "_get") else alt.Undefined
        if isinstance(children, list):
            for child in children:
                yield from _walk(child)


def collect(chart: Any) -> dict[str, list[dict]]:
    """Move every nested chart's datasets to `chart` (a concatenation of panels must carry its
    datasets at the top level only) and return them."""
    found: dict[str, list[dict]] = {}
    for part in _walk(chart):
        own = part._get("datasets")
        if isinstance(own, dict):
            found.update(own)
            if part is not chart:
                part.datasets = alt.Undefined
    chart.datasets = found if found else alt.Undefined
    return found


@contextmanager
def detached(chart: Any) -> Iterator[dict[str, list[dict]]]:
    """Take the datasets off the chart tree for the body (e.g. while serialising), then put them
    back where they were; yields them merged."""
    held = []
    merged: dict[str, list[dict]] = {}
    for part in _walk(chart):
        own = part._get("datasets")
        if isinstance(own, dict):
            held.append((part, own))
            merged.update(own)
            part.datasets = alt.Undefined
    try:
        yield merged
    finally:
        for part, own in held:
            part.datasets = own


_LEAF_TYPES = frozenset({str, int, float, bool, type(None)})


def _install_fast_leaves() -> None:
    """Give Altair's serialiser (altair.utils.schemapi._todict) a fast path for plain leaves.

    Before returning a string or a number unchanged, Altair 6 asks `isinstance(value, SchemaLike)`
    of it, a runtime-checkable Protocol whose check walks the value's class with
    inspect.getattr_static: about a quarter of the time it takes to serialise a chart here
    (measured with cProfile on a participant view: 0.8 of 3.0 s). For str, int, float, bool and
    None every branch of _todict ends in `return obj`, so answering that at once is the same
    result; tests/test_charts.py compares specifications made with and without it. Installed
    once, process-wide; the original stays reachable as `_todict.original`."""
    original = schemapi._todict
    if getattr(original, "original", None) is not None:
        return

    def _todict(obj: Any, context: Any, np_opt: Any, pd_opt: Any) -> Any:
        if type(obj) in _LEAF_TYPES:
            return obj
        return original(obj, context, np_opt, pd_opt)

    _todict.original = original  # type: ignore[attr-defined]
    schemapi._todict = _todict


_install_fast_leaves()


@contextmanager
def lean() -> Iterator[None]:
    """Build charts without Altair's eager per-object schema validation (its DEBUG_MODE, on by
    default): it validates every MarkDef, Scale and Axis as it is made, which costs more than
    the drawing. The finished specification is validated by the tests (and by `to_png`/`to_svg`),
    so nothing invalid goes unnoticed. The switch is process-wide; a concurrent build in another
    thread can at worst see it on or off, which changes only when an error would be raised."""
    with alt.utils.schemapi.debug_mode(False):
        yield


def lean_build(builder):
    """Decorator: run a chart builder inside `lean()`."""

    @functools.wraps(builder)
    def wrapper(*args, **kwargs):
        with lean():
            return builder(*args, **kwargs)

    return wrapper


def compose(kind: str, parts: list, **properties: Any) -> Any:
    """A LayerChart ('layer'), HConcatChart ('hconcat') or VConcatChart ('vconcat') of `parts`.

    Altair's constructors deep-copy every part twice to merge interactive parameters
    (selections) between them; these charts have none, so the parts are attached as they are.
    The result is the same specification (tests/test_charts.py validates it)."""
    cls = {"layer": alt.LayerChart, "hconcat": alt.HConcatChart, "vconcat": alt.VConcatChart}[kind]
    chart = cls(**properties)
    setattr(chart, kind, list(parts))
    return chart


def to_spec(chart: Any) -> dict[str, Any]:
    """The chart's Vega-Lite dict without validation, serialising each unit view by itself.

    Altair's own `to_dict` on a layered or concatenated chart rebuilds the composition through
    its constructor, deep-copying every view twice more; here the composition keys are written
    directly and only the unit views go through Altair. The output is the same specification
    (minus Altair's theme defaults, which Scalebook's config replaces); the tests validate it
    against the Vega-Lite schema.
    """
    with detached(chart) as datasets:
        out = _view(chart, top=True)
    out["$schema"] = alt.SCHEMA_URL
    if datasets:
        out["datasets"] = datasets
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, alt.SchemaBase):
        return value.to_dict(validate=False)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _view(chart: Any, *, top: bool) -> dict[str, Any]:
    for kind in _COMPOSITES:
        parts = chart._get(kind)
        if isinstance(parts, list):
            out = {k: _plain(v) for k, v in chart._kwds.items()
                   if k != kind and v is not alt.Undefined and not k.startswith("_")}
            out[kind] = [_view(part, top=False) for part in parts]
            return out
    return chart.to_dict(validate=False, context={"top_level": False})
