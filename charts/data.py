"""How chart data reaches Vega-Lite: explicit JSON records in named top-level datasets.

Layers refer to their data by name ({"name": "madrs-points"}) and the records sit once in the
top-level specification's `datasets` (charts.vegalite explains why: no row limit, no copies).
"""

from __future__ import annotations

from typing import Any

from charts import vegalite as vl


class Datasets:
    """Named datasets for one chart: calling it registers records under "<prefix>-<name>" and
    returns that name for a view's `data`; `attach` makes the finished view a top-level
    specification carrying them."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.data: dict[str, list[dict]] = {}

    def __call__(self, name: str, records: list[dict]) -> str:
        key = f"{self.prefix}-{name}"
        self.data[key] = records
        return key

    def attach(self, view: dict[str, Any]) -> dict[str, Any]:
        return vl.top_level(view, self.data)
