"""The machine-readable side of the benchmarks: each script's `--json PATH` writes its rows here
for bench/report.py, which prints one table of them.

A row is one figure: what was timed, its median and 95th percentile in seconds, and the floor
measured in the same run (seconds, with what it is), so the report can print the ratio.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path


def percentile_95(samples: list[float]) -> float:
    """The 95th percentile (nearest rank) of samples; the one sample when there is one."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def row(
    figure: str, samples: list[float], floor: list[float] | float | None = None, floor_label: str = "", note: str = ""
) -> dict:
    """One table row from the figure's samples (seconds) and the floor's (samples or one median)."""
    if isinstance(floor, list):
        floor = statistics.median(floor) if floor else None
    return {
        "figure": figure,
        "median": statistics.median(samples),
        "p95": percentile_95(samples),
        "floor": floor,
        "floor_label": floor_label,
        "note": note,
    }


def write(path: Path | None, rows: list[dict]) -> None:
    """Write rows as JSON to path (nothing when path is None: the script ran without --json)."""
    if path is not None:
        Path(path).write_text(json.dumps(rows, indent=1))
