"""The one baseline rule: which rating of a scale is a participant's baseline.

Every view and every check asks this module (the trajectory and the cohort through
analytics.outcomes, eligibility screening and the infusion log through db.baseline), so a
rating is the baseline everywhere or nowhere.

The baseline of a scale is the LAST USABLE rating of that scale

- taken at the protocol's baseline timepoint (`baseline.timepoint`, e.g. 'baseline'; for a
  timepoint repeated around each infusion, its occurrence for infusion 1) — a rating stored
  under another timepoint (e.g. 'week_1') is never the baseline, whenever it was done;
- that HAPPENED strictly before infusion 1 started (a rating entered later counts at the time
  it was done, not the time it was typed in);
- and, if the protocol sets a lookback (e.g. 14 days), no longer than that before the start.

"Usable" is the caller's filter: submitted (not a draft), with a total. Of two ratings at the
same time, the first one listed wins. Before infusion 1 exists, pass `first_infusion_at=None`:
the baseline is then the last usable rating at the baseline timepoint, with no time bound (what
eligibility screening reads while the participant waits for the infusion); pass the PROPOSED
start to ask whether an infusion starting then would have a baseline (what record_infusion asks).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from protocol.keys import parse_assessment_timepoint
from protocol.model import Protocol
from protocol.timing import require_aware, shift

Key = tuple[str, int | None]


def is_baseline_timepoint(protocol: Protocol, timepoint_id: str, infusion_number: int | None) -> bool:
    """True for the protocol's baseline timepoint (its infusion-1 occurrence if it repeats)."""
    return timepoint_id == protocol.baseline_rule.timepoint and infusion_number in (None, 1)


def earliest_accepted(protocol: Protocol, first_infusion_at: datetime) -> datetime | None:
    """The oldest time a baseline may have happened for an infusion starting at `first_infusion_at`
    (None when the protocol sets no lookback)."""
    rule = protocol.baseline_rule
    if not rule.lookback:
        return None
    return shift(require_aware(first_infusion_at, "first_infusion_at"), rule.lookback, protocol.timezone, sign=-1)


def baseline_index(
    protocol: Protocol, happened_at: Sequence[datetime], keys: Sequence[Key], first_infusion_at: datetime | None
) -> int | None:
    """The position of the baseline among one scale's usable ratings, or None.

    `happened_at[i]` is when rating i was done (aware), `keys[i]` its (timepoint id, infusion
    number), as protocol.keys.parse_assessment_timepoint reads a stored timepoint.
    """
    if len(happened_at) != len(keys):
        raise ValueError("happened_at and keys must describe the same ratings")
    target = protocol.baseline_rule.timepoint
    first = None if first_infusion_at is None else require_aware(first_infusion_at, "first_infusion_at")
    earliest = None if first is None else earliest_accepted(protocol, first)
    best: int | None = None
    best_time: datetime | None = None
    for index, (moment, (timepoint_id, infusion_number)) in enumerate(zip(happened_at, keys, strict=True)):
        if timepoint_id != target or infusion_number not in (None, 1):
            continue
        if moment.tzinfo is not UTC:  # stored times are UTC already; anything else is checked
            moment = require_aware(moment, "the time a rating happened")
        if first is not None and (moment >= first or (earliest is not None and moment < earliest)):
            continue
        if best_time is None or moment > best_time:
            best, best_time = index, moment
    return best


def happened_at(assessment: Mapping[str, Any]) -> datetime | None:
    """When a rating was done: `assessed_at` if it was entered later, else `completed_at`."""
    return assessment.get("assessed_at") or assessment.get("completed_at")


def select_baseline(
    protocol: Protocol, assessments: Iterable[Mapping[str, Any]], first_infusion_at: datetime | None
) -> Mapping[str, Any] | None:
    """The baseline among one scale's ratings, or None (rule in the module docstring).

    `assessments`: mappings with `complete` (bool), `completed_at` (aware datetime; None for a
    draft), optionally `assessed_at` (when done, if entered later) and `timepoint` (the stored
    key, e.g. 'baseline' or 'pre_infusion@1'; a rating without one is at no timepoint).
    """
    usable: list[Mapping[str, Any]] = []
    times: list[datetime] = []
    for a in assessments:
        at = happened_at(a)
        if a.get("complete") and at is not None:
            usable.append(a)
            times.append(at)
    index = baseline_index(
        protocol,
        times,
        [parse_assessment_timepoint(a.get("timepoint") or "") for a in usable],
        first_infusion_at,
    )
    return None if index is None else usable[index]


def describe(protocol: Protocol) -> str:
    """The rule in words, for captions and messages."""
    rule = protocol.baseline_rule
    try:
        label = protocol.timepoint(rule.timepoint).label
    except Exception:  # pragma: no cover - the loader checks that the timepoint exists
        label = rule.timepoint
    text = f"the last usable rating at '{label}' done before infusion 1 starts"
    if rule.lookback:
        text += f", no older than {rule.lookback}"
    return text
