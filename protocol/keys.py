"""How an assessment names the planned timepoint it belongs to.

Assessments store one text `timepoint`: the protocol's timepoint id for timepoints that occur
once (baseline, day_1 after the first infusion), and `<id>@<infusion number>` for timepoints
repeated around each infusion (min40@3 = 40 minutes after infusion 3), so the same scale at the
same timepoint of two infusions are two assessments.
"""

from __future__ import annotations

from functools import lru_cache

SEPARATOR = "@"


def assessment_timepoint(timepoint_id: str, infusion_number: int | None) -> str:
    return timepoint_id if infusion_number is None else f"{timepoint_id}{SEPARATOR}{int(infusion_number)}"


@lru_cache(maxsize=4096)
def parse_assessment_timepoint(text: str) -> tuple[str, int | None]:
    """Inverse of assessment_timepoint; free text that is not a key comes back unchanged.
    Memoised: a cohort stores tens of thousands of assessments under a few dozen keys."""
    head, sep, tail = text.partition(SEPARATOR)
    if sep and tail.isdigit():
        return head, int(tail)
    return text, None


def timepoint_label(protocol, stored: str) -> str:
    """What a person reads for a stored timepoint: 'Day 1 (24 hours)', or
    '40 minutes after infusion start · infusion 2' for 'min_40@2'; free text stays as it is."""
    timepoint_id, infusion_number = parse_assessment_timepoint(stored)
    try:
        label = protocol.timepoint(timepoint_id).label
    except Exception:  # a timepoint the protocol does not name (free text, an older protocol)
        label = timepoint_id
    return label if infusion_number is None else f"{label} · infusion {infusion_number}"
