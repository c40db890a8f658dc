"""The time axis of a participant's trajectory, in three views of the same data.

Ratings in a ketamine trial are minutes apart on the infusion day (40, 80, 120, 230 minutes) and
days to weeks apart afterwards (day 1 ... day 14), so no single linear axis shows both:

* `compressed` (default): hours since the start of infusion 1 on a symmetric-log scale
  (Vega-Lite `symlog`, linear within ±10 minutes of the start, logarithmic beyond), with every
  tick labelled in its own unit ("40 min", "4 h", "1 d", "14 d"), so the infusion day and the
  following weeks share one clearly labelled, non-linear axis;
* `day`: linear hours around one infusion (from 1 day before to 30 hours after its start);
* `course`: linear days since the start of infusion 1.

Every view plots the same points (the completion time of each assessment); only x changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

VIEWS = ("compressed", "day", "course")
VIEW_LABELS = {
    "compressed": "Whole course (compressed time)",
    "day": "Infusion day (hours)",
    "course": "Weeks (days)",
}
SYMLOG_CONSTANT_HOURS = 1 / 6  # 10 minutes: linear inside ±10 min, logarithmic outside

# A tick in its natural unit: minutes under an hour, hours under a day, days beyond.
LABEL_EXPR = (
    "datum.value == 0 ? '0' : abs(datum.value) < 1 ? format(datum.value * 60, 'd') + ' min' : "
    "abs(datum.value) < 24 ? format(datum.value, '~g') + ' h' : format(datum.value / 24, '~g') + ' d'"
)
HOURS_EXPR = "datum.value == 0 ? '0' : format(datum.value, '~g') + ' h'"
_COMPRESSED_TICKS = (
    -672,
    -336,
    -168,
    -72,
    -48,
    -24,
    -4,
    0,
    2 / 3,
    2,
    4,
    8,
    24,
    48,
    72,
    168,
    336,
    504,
    672,
    1008,
    1344,
    2016,
    2688,
    4032,
    5376,
    8760,
)


def offset_text(hours: float | None) -> str:
    """'+40 min', '+3.8 h', '+1.0 d', '−2.0 d' (the time since an infusion, for tooltips)."""
    if hours is None:
        return ""
    sign = "−" if hours < 0 else "+"
    size = abs(hours)
    if size < 1:
        return f"{sign}{size * 60:.0f} min"
    if size < 24:
        return f"{sign}{size:.1f} h"
    return f"{sign}{size / 24:.1f} d"


@dataclass(frozen=True)
class TimeAxis:
    view: str
    title: str
    origin_infusion: int = 1  # the infusion whose start is 0

    def x(self, hours: float) -> float:
        """The plotted x of a time `hours` after the origin infusion's start."""
        return hours / 24 if self.view == "course" else hours

    def domain(self, hours: Iterable[float]) -> tuple[float, float]:
        values = [h for h in hours if h is not None]
        if self.view == "day":
            low = max(min(values, default=-1.0), -24.0)
            return min(low, -1.0) - 0.5, 30.0
        low, high = min(values, default=-1.0), max(values, default=24.0)
        low, high = min(low, -1.0), max(high, 24.0)
        if self.view == "course":
            return low / 24 - 0.5, high / 24 + 0.5
        # compressed: 30 % more room at both ends (small on the log part) keeps end points off the frame
        return low * 1.3 - 0.1, high * 1.3

    def scale(self, domain: tuple[float, float]) -> dict:
        """The Vega-Lite x scale for `domain`."""
        if self.view == "compressed":
            return {"type": "symlog", "constant": SYMLOG_CONSTANT_HOURS, "domain": list(domain), "nice": False}
        return {"domain": list(domain), "nice": False}

    def axis(self, domain: tuple[float, float]) -> dict:
        """The Vega-Lite x axis for `domain`: ticks in their own unit (see the module docstring)."""
        if self.view == "compressed":
            ticks = [t for t in _COMPRESSED_TICKS if domain[0] <= t <= domain[1]]
            return {
                "values": ticks,
                "labelExpr": LABEL_EXPR,
                "labelOverlap": "greedy",
                "grid": True,
                "title": self.title,
            }
        if self.view == "day":
            ticks = [h for h in range(-24, 31, 2) if domain[0] <= h <= domain[1]]
            return {
                "values": ticks,
                "labelExpr": HOURS_EXPR,
                "labelOverlap": "greedy",
                "grid": True,
                "title": self.title,
            }
        return {"tickMinStep": 1, "grid": True, "title": self.title}


def time_axis(view: str, infusion: int = 1) -> TimeAxis:
    """The axis of a view: 'compressed', 'day' (around infusion `infusion`) or 'course'."""
    if view == "compressed":
        return TimeAxis(
            view, "Time since the start of infusion 1 (non-linear: minutes near the infusion, then hours and days)"
        )
    if view == "day":
        return TimeAxis(view, f"Hours since the start of infusion {infusion}", infusion)
    if view == "course":
        return TimeAxis(view, "Days since the start of infusion 1")
    raise ValueError(f"unknown time view {view!r}; use one of {', '.join(VIEWS)}")
