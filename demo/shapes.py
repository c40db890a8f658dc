"""The shapes of the synthetic ratings: pure functions of time since an infusion, the arm and a
per-participant draw, so the demo's trajectories look like the IV ketamine literature.

- MADRS: baseline 30-35; a fall already at 40 minutes, larger by 4 hours and largest at 24 hours
  (about 60 % of the ketamine arm responders, a 50 % or larger fall), drifting back toward
  baseline by days 7-14 (Zarate et al. 2006; Murrough et al. 2013, midazolam active placebo).
- CADSS: dissociation peaking at the end of the 40-minute infusion and back near baseline by
  120 minutes.
- BPRS: a small, transient rise of the positive-symptom items (4, 11, 12, 15) at 40 minutes.
- QIDS-SR16 and PHQ-9 (self-report) follow the MADRS course on their own ranges.

Item answers are drawn around a target total and scored afterwards by the engine (scales.score),
never computed here; safety items are capped below their alert thresholds except where the
caller asks for one alert on purpose.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

from scales.definition import ScaleDefinition

# Fraction of the baseline MADRS gone, by hours since the latest infusion start, for a ketamine
# responder; other groups scale it (GROUP_SCALE).
_RESPONDER_COURSE: Sequence[tuple[float, float]] = (
    (0.0, 0.0),
    (40 / 60, 0.30),
    (80 / 60, 0.38),
    (2.0, 0.42),
    (230 / 60, 0.50),
    (24.0, 0.66),
    (48.0, 0.60),
    (72.0, 0.52),
    (168.0, 0.30),
    (336.0, 0.12),
    (1000.0, 0.08),
)
GROUP_SCALE = {
    ("ketamine", True): 1.0,
    ("ketamine", False): 0.42,
    ("midazolam", True): 0.82,
    ("midazolam", False): 0.25,
}
# CADSS above baseline, as a fraction of the participant's peak, by hours since the infusion start.
_CADSS_COURSE: Sequence[tuple[float, float]] = ((0.0, 0.0), (40 / 60, 1.0), (80 / 60, 0.35), (2.0, 0.06), (4.0, 0.0))
BPRS_POSITIVE = ("bprs_4", "bprs_11", "bprs_12", "bprs_15")
# Safety items and the highest value that raises no alert (scales/definitions rules).
SAFETY_CAPS = {"madrs_10": 3, "qids_sr16_12": 1, "phq9_9": 0}


def _interpolate(course: Sequence[tuple[float, float]], hours: float) -> float:
    if hours <= course[0][0]:
        return course[0][1]
    for (h0, v0), (h1, v1) in zip(course, course[1:], strict=False):
        if hours <= h1:
            return v0 + (v1 - v0) * (hours - h0) / (h1 - h0)
    return course[-1][1]


def improvement(arm: str, responder: bool, hours_since_infusion: float | None, infusions_so_far: int = 1) -> float:
    """Fraction of the baseline depression score gone at this time (0 before any infusion).

    In a repeated-infusion course each infusion after the first adds a little lasting gain."""
    if hours_since_infusion is None or hours_since_infusion < 0:
        return 0.0
    gain = _interpolate(_RESPONDER_COURSE, hours_since_infusion) + 0.05 * max(infusions_so_far - 1, 0)
    return min(gain, 0.8) * GROUP_SCALE[(arm, responder)]


def cadss_above_baseline(arm: str, peak: float, hours_since_infusion: float | None) -> float:
    """CADSS points above the participant's baseline; midazolam sedates a little, dissociates little."""
    if hours_since_infusion is None or hours_since_infusion < 0:
        return 0.0
    height = peak if arm == "ketamine" else min(peak, 4.0)
    return height * _interpolate(_CADSS_COURSE, hours_since_infusion)


def bprs_positive_rise(arm: str, hours_since_infusion: float | None) -> int:
    """Points added over the BPRS positive-symptom items: 2-3 at 40 minutes on ketamine, gone by 4 hours."""
    if arm != "ketamine" or hours_since_infusion is None or not 0 < hours_since_infusion < 3:
        return 0
    return 3 if hours_since_infusion < 1 else 1


def _nearest(allowed: Sequence[int], wish: float) -> int:
    return min(allowed, key=lambda value: abs(value - wish))


def answers_for(
    definition: ScaleDefinition,
    target: float,
    rng: random.Random,
    *,
    caps: Mapping[str, int] | None = None,
    raise_items: Mapping[str, int] | None = None,
    fixed: Mapping[str, int] | None = None,
) -> dict[str, int]:
    """One complete answer set whose simple sum is close to `target`: each scored item drawn
    around the mean it would need, then moved one step at a time toward the target. `caps`
    limits items (safety items below their thresholds by default), `raise_items` adds points to
    named items (the BPRS positive rise), `fixed` sets items outright (the one alert)."""
    caps = {**SAFETY_CAPS, **(caps or {})}
    fixed = dict(fixed or {})
    items = [item for item in definition.items if item.scored and item.scored_values]
    ranges = {item.id: sorted(item.scored_values) for item in items}
    low = sum(r[0] for r in ranges.values())
    per_item = (target - low) / max(len(items), 1)
    out: dict[str, int] = {}
    for item in items:
        allowed = [v for v in ranges[item.id] if v <= caps.get(item.id, v)]
        out[item.id] = _nearest(allowed, allowed[0] + per_item + rng.uniform(-1.0, 1.0))
    for item_id, extra in (raise_items or {}).items():
        if item_id in out:
            out[item_id] = min(out[item_id] + extra, ranges[item_id][-1])
    out.update(fixed)
    movable = [i.id for i in items if i.id not in fixed and i.id not in (raise_items or {})]
    goal = round(target) + sum(raise_items.values() if raise_items else [])
    for _ in range(4 * len(items)):
        gap = goal - sum(out.values())
        if gap == 0 or not movable:
            break
        item_id = rng.choice(movable)
        allowed = [v for v in ranges[item_id] if v <= caps.get(item_id, v)]
        index = allowed.index(out[item_id]) + (1 if gap > 0 else -1)
        if 0 <= index < len(allowed):
            out[item_id] = allowed[index]
    return out
