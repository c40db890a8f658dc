"""The one scoring engine: a definition plus responses in, a `ScoreResult` out.

Pure Python with no Streamlit and no database, so that the pages, the storage layer, the CLI,
the exports and the tests all get the same numbers from the same rules. Every rule applied
here is declared (and cited) in the scale's JSON; nothing about any particular scale is
written in this file.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from scales.definition import ScaleDefinition
from scales.errors import ResponseError

ENGINE_VERSION = "1.0.0"


@dataclass(frozen=True)
class ScoreResult:
    """What one administration scores to. `total` is None when the missing-item policy allows
    no total; `missing` names every visible scored or required item without a scored value
    (unanswered or coded not assessed), `not_assessed` the subset coded not assessed."""

    scale_id: str
    scale_version: str
    definition_hash: str
    engine_version: str
    total: int | None
    band: str | None
    band_set: str | None
    complete: bool
    missing: list[str]
    not_assessed: list[str]
    hidden: list[str]
    prorated: bool
    subscales: dict[str, int | None]
    flags: list[dict[str, str]] = field(default_factory=list)

    @property
    def safety_flags(self) -> list[dict[str, str]]:
        return [f for f in self.flags if f["kind"] == "safety"]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _round_half_up(x: float) -> int:
    return int(math.floor(x + 0.5))


def normalise_value(definition: ScaleDefinition, item_id: str, value: Any) -> int | None:
    """Check one response against its item and return it as an int (None = unanswered).

    Raises ResponseError for an unknown item or a value outside the options and not-assessed codes.
    """
    item = definition.item_by_id.get(item_id)
    if item is None:
        raise ResponseError(
            f"unknown item '{item_id}' for scale '{definition.id}'; its items are "
            f"{definition.items[0].id} ... {definition.items[-1].id}"
        )
    if value is None:
        return None
    if type(value) is int and value in item.scored_values:  # the common case, kept cheap
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ResponseError(f"item {item_id}: value {value!r} is not a number; allowed values are {_allowed(item)}")
    if not isinstance(value, numbers.Integral):  # floats, numpy floats, Decimals
        if not float(value).is_integer():
            raise ResponseError(
                f"item {item_id}: value {value} is not a whole number; allowed values are {_allowed(item)}"
            )
    value = int(value)  # type: ignore[call-overload]  # numpy and pandas integers arrive from DataFrames (typeshed's Real has no __int__)
    if value not in item.scored_values and value not in item.not_assessed_values:
        raise ResponseError(f"item {item_id}: value {value} is not allowed; allowed values are {_allowed(item)}")
    return value


def _allowed(item) -> str:
    text = f"{item.min}-{item.max}"
    if item.not_assessed:
        text += " or " + ", ".join(f"{c['value']} ({c['label'].lower()})" for c in item.not_assessed)
    return text


def visible_items(definition: ScaleDefinition, values: Mapping[str, int | None]) -> list[str]:
    """Items the form shows for these answers (visibility rules and choice groups applied)."""
    scored = _scored_only(definition, values)
    shown = []
    for item in definition.items:
        if item.visible_if is not None and not item.visible_if(scored):
            continue
        group = definition.group_of.get(item.id)
        if group and any(values.get(other) is not None for other in group if other != item.id):
            continue
        shown.append(item.id)
    return shown


def form_progress(definition: ScaleDefinition, responses: Mapping[str, int | None]) -> tuple[int, int]:
    """(answered, expected) for a form's progress bar: every visible scored or required item
    counts once, a choice group counts once, and a not-assessed code counts as answered."""
    values = {k: v for k, v in responses.items() if v is not None}
    shown = set(visible_items(definition, values))
    answered = expected = 0
    seen_groups: set[tuple[str, ...]] = set()
    for item in definition.items:
        group = definition.group_of.get(item.id)
        if group is not None:
            if group in seen_groups:
                continue
            seen_groups.add(group)
            expected += 1
            answered += any(m in values for m in group)
            continue
        if item.id not in shown or not (item.scored or item.required):
            continue
        expected += 1
        answered += item.id in values
    return answered, expected


def _scored_only(definition: ScaleDefinition, values: Mapping[str, int | None]) -> dict[str, int]:
    return {k: v for k, v in values.items() if v is not None and v in definition.item_by_id[k].scored_values}


def check_responses(definition: ScaleDefinition, responses: Mapping[str, Any]) -> dict[str, int | None]:
    """Validate every response and the choice groups; return normalised values."""
    if not isinstance(responses, Mapping):
        raise ResponseError(f"responses must be an object of item id to value, not {type(responses).__name__}")
    values = {item_id: normalise_value(definition, item_id, value) for item_id, value in responses.items()}
    for group in definition.choice_groups:
        answered = [m for m in group if values.get(m) is not None]
        if len(answered) > 1:
            raise ResponseError(
                f"{' and '.join(answered)} are both answered, but only one of {', '.join(group)} may be "
                f"rated; clear the one that does not apply"
            )
    return values


def score(definition: ScaleDefinition, responses: Mapping[str, Any], band_set: str | None = None) -> ScoreResult:
    """Score one administration.

    Hidden items and not-assessed codes are never summed. Missing scored items follow the
    definition's missing-item policy (no total, or prorating by the mean of answered items).
    """
    values = check_responses(definition, responses)
    band_set_id = band_set or definition.default_band_set
    if band_set_id is not None and band_set_id not in definition.band_sets:
        raise ResponseError(
            f"unknown band set '{band_set_id}' for scale '{definition.id}'; choose one of {definition.band_set_ids()}"
        )
    scored = _scored_only(definition, values)
    visible = set(visible_items(definition, values))

    missing: list[str] = []
    not_assessed: list[str] = []
    hidden: list[str] = []
    for item in definition.items:
        if item.id not in visible:
            hidden.append(item.id)
            continue
        if item.id in scored:
            continue
        if values.get(item.id) is not None:
            not_assessed.append(item.id)
        if item.scored or item.required:
            missing.append(item.id)
    # A choice group with nothing answered shows all members; the form still lacks one rating,
    # which the members already listed as missing say.

    subscales: dict[str, int | None] = {}
    for sub in definition.subscales:
        members = [m for m in sub.items if m in visible]
        if not members or any(m not in scored for m in members):
            subscales[sub.id] = None
        elif sub.method == "sum":
            subscales[sub.id] = sum(scored[m] for m in members)
        else:
            subscales[sub.id] = max(scored[m] for m in members)

    total, prorated = _total(definition, scored, visible, subscales)
    band = _band(definition, band_set_id, total)
    flags = [
        {"id": rule.id, "kind": rule.kind, "message": rule.message}
        for rule in definition.rules
        if rule.holds({k: v for k, v in scored.items() if k in visible})
    ]
    return ScoreResult(
        scale_id=definition.id,
        scale_version=definition.version,
        definition_hash=definition.hash,
        engine_version=ENGINE_VERSION,
        total=total,
        band=band,
        band_set=band_set_id,
        complete=not missing,
        missing=missing,
        not_assessed=not_assessed,
        hidden=hidden,
        prorated=prorated,
        subscales=subscales,
        flags=flags,
    )


def _total(definition, scored, visible, subscales) -> tuple[int | None, bool]:
    total = 0
    answered = 0
    expected = 0
    for term in definition.total_terms:
        if term in definition.subscale_by_id:
            value = subscales[term]
            if value is None:
                return None, False
            total += value
            continue
        if term not in visible:
            continue
        expected += 1
        if term in scored:
            total += scored[term]
            answered += 1
    if answered == expected:
        return total, False
    if definition.missing_policy == "prorate_mean" and answered and expected - answered <= definition.max_missing:
        return _round_half_up(total * expected / answered), True
    return None, False


def _band(definition: ScaleDefinition, band_set_id: str | None, total: int | None) -> str | None:
    if total is None or band_set_id is None:
        return None
    for band in definition.band_sets[band_set_id]:
        if band["min"] <= total <= band["max"]:
            return band["label"]
    return None
