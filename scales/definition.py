"""The in-memory form of a scale definition, compiled once from its JSON for fast scoring.

A `ScaleDefinition` keeps the raw JSON (what the content hash covers and what pages render)
next to lookup tables the engine needs on every score: allowed values per item, not-assessed
codes, visibility conditions compiled to Python closures, choice groups and the total's terms.
It is built only by `scales.loader`, which validates the JSON first.
"""

from __future__ import annotations

import hashlib
import json
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

Responses = dict[str, int]
Condition = Callable[[Responses], bool]

_OPERATORS: dict[str, Callable[[int, int], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


def compile_condition(spec: dict[str, Any]) -> Condition:
    """Turn a JSON condition into a function of the scored responses.

    Only scored values take part: an unanswered, hidden or not-assessed item satisfies no
    comparison, so a 'not assessed' code can never fire a safety trigger by its number.
    """
    if "any" in spec:
        parts = [compile_condition(s) for s in spec["any"]]
        return lambda values: any(p(values) for p in parts)
    if "all" in spec:
        parts = [compile_condition(s) for s in spec["all"]]
        return lambda values: all(p(values) for p in parts)
    item, compare, threshold = spec["item"], _OPERATORS[spec["op"]], spec["value"]

    def holds(values: Responses) -> bool:
        value = values.get(item)
        return value is not None and compare(value, threshold)

    return holds


def condition_items(spec: dict[str, Any]) -> list[str]:
    """Every item id a condition refers to (the loader checks they exist)."""
    if "any" in spec or "all" in spec:
        return [i for s in spec.get("any", spec.get("all", [])) for i in condition_items(s)]
    return [spec["item"]]


def canonical_hash(raw: dict[str, Any]) -> str:
    """SHA-256 of the definition's canonical JSON: whitespace and key order do not matter,
    any change to content does, so a stored score always names the exact rules it used."""
    text = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Item:
    id: str
    number: str
    short_name: str
    prompt: str
    min: int
    max: int
    options: tuple[dict[str, Any], ...]
    not_assessed: tuple[dict[str, Any], ...]
    scored: bool
    required: bool
    rated_by: str
    guide: str | None
    raw: dict[str, Any]
    visible_if: Condition | None = None

    @cached_property
    def scored_values(self) -> frozenset[int]:
        return frozenset(o["value"] for o in self.options)

    @cached_property
    def not_assessed_values(self) -> frozenset[int]:
        return frozenset(o["value"] for o in self.not_assessed)


@dataclass(frozen=True)
class Rule:
    """A safety trigger or consistency check."""

    id: str
    kind: str
    message: str
    source: str
    holds: Condition
    items: tuple[str, ...]


@dataclass(frozen=True)
class Subscale:
    id: str
    label: str
    method: str
    items: tuple[str, ...]
    min: int
    max: int
    source: str
    raw: dict[str, Any]


@dataclass(frozen=True)
class ScaleDefinition:
    id: str
    version: str
    title: str
    abbreviation: str
    rater: str
    raw: dict[str, Any]
    hash: str
    source_file: str
    items: tuple[Item, ...]
    choice_groups: tuple[tuple[str, ...], ...]
    subscales: tuple[Subscale, ...]
    total_terms: tuple[str, ...]
    total_min: int
    total_max: int
    missing_policy: str
    max_missing: int
    band_sets: dict[str, tuple[dict[str, Any], ...]]
    default_band_set: str | None
    rules: tuple[Rule, ...]
    # Derived lookups, filled in by the loader.
    item_by_id: dict[str, Item] = field(default_factory=dict)
    group_of: dict[str, tuple[str, ...]] = field(default_factory=dict)
    subscale_by_id: dict[str, Subscale] = field(default_factory=dict)

    @property
    def scored_items(self) -> list[Item]:
        return [i for i in self.items if i.scored]

    @property
    def recall_options(self) -> list[dict[str, Any]]:
        return list(self.raw["recall"]["options"])

    @property
    def default_recall(self) -> str:
        return self.raw["recall"]["default"]

    def band_set_ids(self) -> list[str]:
        return list(self.band_sets)
