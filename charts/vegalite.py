"""The one place that writes Vega-Lite: small constructors for plain specification dictionaries.

Scalebook's charts are Vega-Lite specifications (https://vega.github.io/vega-lite/docs/), built
here as plain dicts rather than through Altair's object model. Why:

* Public surface only. Altair's fast paths (no eager validation, no per-layer deep copies) are
  reachable only through its internals or a process-wide debugging switch, which is unsafe
  under Streamlit's threads. A dict is already what a page hands to Streamlit.
* Size and speed. Records sit once in the top-level `datasets` and layers refer to them by
  name (`{"name": "madrs-points"}`); nothing copies or converts them, so a 12,000-row cohort
  chart needs no change to Altair's 5,000-row data-transformer limit.
* Checked where it matters. `validate` checks a specification against the Vega-Lite JSON Schema
  that Altair ships (`altair.load_schema`, public); the tests validate every builder's output and
  the PNG/SVG export validates what it converts.

The constructors mirror Vega-Lite's own names: `channel("x:Q", scale=...)` is an encoding
channel, `mark("line", strokeWidth=2)` a mark definition, `unit(...)` a single view, `layer` and
`concat` compositions, `title` a title block. Keyword values are written as given (`None` is
JSON null: `legend=None` hides a legend, as in Vega-Lite).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import altair as alt
import jsonschema

#: The Vega-Lite version Altair is built against (its `$schema` URL): the vl-convert export picks
#: the matching renderer from it.
SCHEMA_URL: str = alt.SCHEMA_URL

_TYPES = {"Q": "quantitative", "N": "nominal", "O": "ordinal", "T": "temporal"}
_COMPOSITES = ("layer", "hconcat", "vconcat", "concat")

Spec = dict[str, Any]


def channel(shorthand: str | None = None, **properties: Any) -> Spec:
    """An encoding channel: "total:Q" → {"field": "total", "type": "quantitative"} plus the
    given properties (scale, axis, legend, sort, title, format ...). Without a shorthand, only the
    properties (e.g. `channel(field="high")` for a y2 channel)."""
    out: Spec = {}
    if shorthand is not None:
        field, _, code = shorthand.rpartition(":")
        if not field or code not in _TYPES:
            raise ValueError(f"channel shorthand {shorthand!r} must be 'field:T' with T one of {', '.join(_TYPES)}")
        out = {"field": field, "type": _TYPES[code]}
    out.update(properties)
    return out


def mark(kind: str, **properties: Any) -> Spec:
    """A mark definition: `mark("rule", strokeWidth=2)` → {"type": "rule", "strokeWidth": 2}."""
    return {"type": kind, **properties}


def unit(data: str, name: str, mark_def: Spec, encoding: Mapping[str, Spec | list[Spec] | None]) -> Spec:
    """One view: the named dataset `data`, drawn with `mark_def`, encoded by `encoding` (channels
    given as None are left out, so optional channels read naturally at the call site)."""
    return {
        "name": name,
        "data": {"name": data},
        "mark": mark_def,
        "encoding": {k: v for k, v in encoding.items() if v is not None},
    }


def title(text: str, **properties: Any) -> Spec:
    """A title block: {"text": ..., "subtitle": ..., "anchor": ...}."""
    return {"text": text, **properties}


def _lift(parts: Sequence[Spec]) -> tuple[list[Spec], dict[str, list[dict]]]:
    """The parts without their top-level keys ($schema, datasets), and their datasets merged:
    a composition carries every dataset once, at its own top level."""
    datasets: dict[str, list[dict]] = {}
    inner = []
    for part in parts:
        datasets.update(part.get("datasets", {}))
        inner.append({k: v for k, v in part.items() if k not in ("$schema", "datasets")})
    return inner, datasets


def top_level(view: Spec, datasets: Mapping[str, list[dict]] | None = None) -> Spec:
    """A specification ready to draw: the view with `$schema` and (if any) its named datasets."""
    out = {"$schema": SCHEMA_URL, **view}
    if datasets:
        out["datasets"] = dict(datasets)
    return out


def compose(kind: str, parts: Sequence[Spec], **properties: Any) -> Spec:
    """A 'layer', 'hconcat', 'vconcat' or 'concat' of `parts` (unit views or whole top-level
    charts) as a top-level specification: the parts' datasets move to the top."""
    if kind not in _COMPOSITES:
        raise ValueError(f"unknown composition {kind!r}; use one of {', '.join(_COMPOSITES)}")
    inner, datasets = _lift(parts)
    return top_level({**properties, kind: inner}, datasets)


@functools.cache
def _validator() -> jsonschema.protocols.Validator:
    schema = alt.load_schema()
    return jsonschema.validators.validator_for(schema)(schema)


def validate(spec: Spec) -> Spec:
    """Check `spec` against the Vega-Lite JSON Schema; raise jsonschema.ValidationError naming
    the first offending path. Returns the spec, for chaining."""
    error = jsonschema.exceptions.best_match(_validator().iter_errors(spec))
    if error is not None:
        raise error
    return spec
