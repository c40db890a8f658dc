"""Instruments in: a REDCap data dictionary instrument or a FHIR R4 Questionnaire becomes a draft
Scalebook scale definition that passes `python -m scales validate`.

    python -m exports import-redcap FILE [--form FORM] --id NEW_ID [--out FILE]
    python -m exports import-fhir FILE --id NEW_ID [--out FILE]

What is carried over (both sources):

- each scorable question becomes an item `<NEW_ID>_<n>` (n = 1, 2, ... in order): a REDCap
  `radio` or `dropdown` field with integer choice codes, or a FHIR `choice` item whose options
  carry weights (`ordinalValue`, `itemWeight` or `iso21090-CO-value`, on the answerOption or its
  coding, or on a contained ValueSet's concepts). The longest run of consecutive values from
  the lowest is the scored range; codes beyond a gap (REDCap's 9 = unknown, FHIR options
  without a weight whose code is a number) become not-assessed codes, which are never summed;
- visibility: REDCap branching logic (`[x] > 0 or [y] = '2'`, and/or, parentheses) and FHIR
  enableWhen (`=`/`!=` on an option, `exists`, any/all) become `visible_if` rules; items shown
  only while each other is blank (`[b] = ''`; enableWhen `exists false`) become a choice group;
- the total: a REDCap calc `sum(...)`/`max(...)`/`+` of item fields (QIDS-style domain maxima
  `max(...)` become subscales), or a FHIR SDC calculatedExpression that sums answer weights, as
  LHC-Forms writes it (`%resource.item.where(linkId != 'x').answer.weight().sum()`, with
  `linkId = 'a' or ...`, `startsWith`, `repeat(item)`, `.max()` terms, or LHC-Forms' per-item
  `variable` + `iif(...)` form). Items outside the total and every subscale are unscored;
- other calc / calculated items that sum or take the maximum of items become subscales.

Everything else is listed on stderr by field name or linkId with the reason (text, notes,
checkbox, descriptive, date ... fields; choice options that cannot be scored; branching logic or
expressions that do not map), never dropped silently. Bad input (not UTF-8, malformed CSV or
JSON, missing columns, an unknown form, nothing scorable, a draft the loader refuses) exits 1
with one line per problem and writes nothing.

The draft is a starting point, not a validated instrument: its citation, licence, recall period,
missing-item rule, bands and CDISC codes are placeholders that say so, and its rater type is
--rater (default clinician).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from exports.cli import CommandError
from exports.fhir import CALCULATED_EXPRESSION, LOINC, VARIABLE, WEIGHT_EXTENSIONS
from exports.files import write_text_atomically
from exports.redcap import API_NAMES, COLUMNS
from scales.errors import DefinitionError
from scales.jsonfiles import JsonInputError, parse_json
from scales.loader import _sum_range, compile_definition

ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
NUMBER_PATTERN = re.compile(r"^[0-9]+[A-Z]?$")
RATERS = ("clinician", "self", "observer")
# Labels that say an option records a missing rating: taken as not-assessed codes without a note.
MISSING_LABEL = re.compile(r"\b(not assessed|not asked|not applicable|not done|unknown|missing)\b", re.IGNORECASE)


# ---------------------------------------------------------------------------------------------
# the source-neutral draft
# ---------------------------------------------------------------------------------------------

# A condition on source names: ("cmp", source, op, value) | ("blank", source) | ("answered", source)
# | ("any", [conditions]) | ("all", [conditions]).
Condition = tuple


@dataclass
class SourceItem:
    """One scorable question as found in the source, before it gets its Scalebook id."""

    source: str  # REDCap field name or FHIR linkId
    prompt: str
    options: list[tuple[int, str]]  # (value, label) in the source's order
    not_assessed: list[tuple[int, str]] = field(default_factory=list)
    number: str | None = None
    required: bool = True
    weighted: bool = True  # False: numbered in order, never summed
    loinc: str | None = None
    loinc_answers: dict[int, str] = field(default_factory=dict)
    visible_if: Condition | None = None
    top_level: bool = True  # FHIR: directly under the Questionnaire (reached by `.item`)


@dataclass
class Calculation:
    """A parsed calc field / calculated item: the sum of its terms, each an item or a group."""

    source: str
    label: str
    expression: str
    terms: list[tuple[str, Any]]  # ("item", source) | ("max", [sources]) | ("sum", [sources]) | ("calc", source)


@dataclass
class Draft:
    items: list[SourceItem] = field(default_factory=list)
    calculations: list[Calculation] = field(default_factory=list)
    total_source: str | None = None
    title: str = ""
    instructions: str = ""
    loinc_panel: str | None = None
    notes: list[str] = field(default_factory=list)


class Notes:
    """Lines for stderr: what was not carried over and why."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.lines: list[str] = []

    def add(self, text: str) -> None:
        self.lines.append(f"{self.prefix}{text}")


def _one_line(text: Any) -> str:
    return " ".join(str(text or "").split())


def _short_name(prompt: str) -> str:
    text = _one_line(prompt)
    cut = re.split(r"(?<=[?:.;])\s|\s\(", text, maxsplit=1)[0].rstrip("?:.;")
    if len(cut) > 60:
        cut = cut[:60].rsplit(" ", 1)[0] + "..."
    return cut or text[:60] or "Item"


def _scored_range(options: list[tuple[int, str]], where: str, notes: Notes) -> tuple[list, list] | None:
    """Split options into the scored run (consecutive values from the lowest) and codes beyond a
    gap (not assessed). None (with a note) when fewer than two values are left to score."""
    values = [v for v, _ in options]
    if len(set(values)) != len(values):
        repeated = sorted({v for v in values if values.count(v) > 1})
        notes.add(f"{where}: not imported: value(s) {repeated} repeat; a Scalebook item needs one value per option")
        return None
    low = min(values)
    high = low
    while high + 1 in values:
        high += 1
    scored = [(v, label) for v, label in options if v <= high]
    beyond = [(v, label) for v, label in options if v > high]
    if len(scored) < 2:
        notes.add(f"{where}: not imported: only one scored value ({low}); a Scalebook item needs at least two")
        return None
    if any(not MISSING_LABEL.search(label) for _, label in beyond):
        notes.add(
            f"{where}: value(s) {[v for v, _ in beyond]} lie beyond the scored range {low}-{high} and are "
            f"imported as not-assessed codes (never summed); check that this is what they mean"
        )
    return scored, beyond


# ---------------------------------------------------------------------------------------------
# conditions -> Scalebook visible_if and choice groups
# ---------------------------------------------------------------------------------------------


def _collapse_equals(parts: list[Condition], values_of: Callable[[str], list[int]]) -> list[Condition]:
    """In an `any`, equalities on one item that allow a top or bottom run of its values become
    one comparison (`= 1 or = 2 or = 3` on 0-3 is `>= 1`), as Scalebook writes them."""
    by_item: dict[str, set[int]] = {}
    order: list[Any] = []
    for part in parts:
        if part[0] == "cmp" and part[2] == "==":
            if part[1] not in by_item:
                order.append(part[1])
            by_item.setdefault(part[1], set()).add(part[3])
        else:
            order.append(part)
    out: list[Condition] = []
    for entry in order:
        if not isinstance(entry, str):
            out.append(entry)
            continue
        allowed, values = by_item[entry], sorted(values_of(entry))
        if allowed == {v for v in values if v >= min(allowed)}:
            out.append(("cmp", entry, ">=", min(allowed)))
        elif allowed == {v for v in values if v <= max(allowed)}:
            out.append(("cmp", entry, "<=", max(allowed)))
        else:
            out.extend(("cmp", entry, "==", v) for v in sorted(allowed))
    return out


def _blank_members(condition: Condition | None) -> tuple[set[str], Condition | None]:
    """Split `[a] = '' and [b] = '' and rest` into ({a, b}, rest)."""
    if condition is None:
        return set(), None
    if condition[0] == "blank":
        return {condition[1]}, None
    if condition[0] == "all":
        blanks = {c[1] for c in condition[1] if c[0] == "blank"}
        rest = [c for c in condition[1] if c[0] != "blank"]
        if not rest:
            return blanks, None
        return blanks, rest[0] if len(rest) == 1 else ("all", rest)
    return set(), condition


class _Unmapped(Exception):
    pass


def _to_rule(condition: Condition, ids: Mapping[str, str], items: Mapping[str, SourceItem]) -> dict[str, Any]:
    kind = condition[0]
    if kind in ("any", "all"):
        parts = condition[1]
        if kind == "any":
            parts = _collapse_equals(parts, lambda s: [v for v, _ in items[s].options] if s in items else [])
        rules = [_to_rule(p, ids, items) for p in parts]
        return rules[0] if len(rules) == 1 else {kind: rules}
    source = condition[1]
    if source not in ids:
        raise _Unmapped(f"it refers to '{source}', which is not an imported item")
    if kind == "cmp":
        return {"item": ids[source], "op": condition[2], "value": condition[3]}
    if kind == "answered":
        return {"item": ids[source], "op": ">=", "value": min(v for v, _ in items[source].options)}
    raise _Unmapped(f"'{source}' blank is only understood as a choice between items shown while the others are blank")


def _choice_groups(draft: Draft, notes: Notes, describe: Callable[[SourceItem], str]) -> dict[str, list[str]]:
    """Items each shown only while the others are blank form a choice group (HAM-D 16A/16B)."""
    blanks = {}
    for item in draft.items:
        members, rest = _blank_members(item.visible_if)
        if members:
            blanks[item.source] = (members, rest)
    order = {item.source: k for k, item in enumerate(draft.items)}
    groups: dict[str, list[str]] = {}
    for source, (members, _) in blanks.items():
        group = sorted({source} | members, key=lambda s: (order.get(s, len(order)), s))
        consistent = all(m in blanks and blanks[m][0] == set(group) - {m} for m in group)
        if consistent:
            for m in group:
                groups[m] = group
    for item in draft.items:
        if item.source in blanks:
            members, rest = blanks[item.source]
            if item.source in groups:
                item.visible_if = rest
            else:
                notes.add(
                    f"{describe(item)}: shown only while {sorted(members)} are blank, but those items do not "
                    f"mirror it; imported without that condition (always shown)"
                )
                item.visible_if = rest
    return groups


# ---------------------------------------------------------------------------------------------
# draft -> Scalebook definition
# ---------------------------------------------------------------------------------------------


def _subscale_id(text: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_") or "subscale"
    if not base[0].isalpha():
        base = "s_" + base
    candidate, k = base, 2
    while candidate in taken:
        candidate, k = f"{base}_{k}", k + 1
    taken.add(candidate)
    return candidate


def build_definition(
    draft: Draft, new_id: str, origin: str, rater: str, notes: Notes, describe: Callable[[SourceItem], str]
) -> dict[str, Any]:
    """The draft as a Scalebook definition (raw JSON), checked by the loader."""
    if not draft.items:
        raise CommandError(f"{origin}: nothing to import: no radio/dropdown field or weighted choice item")
    ids = {item.source: f"{new_id}_{n}" for n, item in enumerate(draft.items, start=1)}
    by_source = {item.source: item for item in draft.items}
    groups = _choice_groups(draft, notes, describe)
    calc_by_source = {c.source: c for c in draft.calculations}

    # Resolve calculations into item terms and max/sum groups (a calc may name another calc).
    def resolve(calc: Calculation, seen: frozenset[str]) -> list[tuple[str, Any]] | None:
        out: list[tuple[str, Any]] = []
        for kind, value in calc.terms:
            if kind == "calc":
                if value in seen or value not in calc_by_source:
                    return None
                inner = resolve(calc_by_source[value], seen | {value})
                if inner is None:
                    return None
                if len(inner) == 1 and inner[0][0] == "max":
                    out.append(inner[0])
                else:
                    out.extend(inner)
            else:
                out.append((kind, value))
        return out

    taken_ids = set(ids.values())
    subscales: list[dict[str, Any]] = []
    subscale_key: dict[tuple[str, tuple[str, ...]], str] = {}

    def subscale_for(
        method: str, members: list[str], label: str, source: str, expression: str, id_hint: str
    ) -> str | None:
        missing = [m for m in members if m not in ids or not by_source[m].weighted]
        if missing:
            notes.add(f"{source}: term {method}({', '.join(members)}) dropped: {missing} not imported as scored items")
            return None
        key = (method, tuple(ids[m] for m in members))
        if key not in subscale_key:
            sub_id = _subscale_id(id_hint, taken_ids)
            subscale_key[key] = sub_id
            subscales.append(
                {
                    "id": sub_id,
                    "label": label,
                    "method": method,
                    "items": list(key[1]),
                    "source": f"Imported from {origin}: {source} = {expression}",
                }
            )
        return subscale_key[key]

    total_calc = calc_by_source.get(draft.total_source) if draft.total_source else None
    for calc in draft.calculations:
        if calc is total_calc:
            continue
        terms = resolve(calc, frozenset({calc.source}))
        if terms is None:
            notes.add(
                f"{calc.source}: not imported: its calculation '{calc.expression}' refers to a calculation "
                f"that is missing or circular"
            )
            continue
        flat_items = [v for k, v in terms if k == "item"]
        groups_in = [(k, v) for k, v in terms if k in ("max", "sum")]
        hint = re.sub(r"^(sub_|subscale_)", "", calc.source.lower())
        if len(groups_in) == 1 and not flat_items:
            subscale_for(
                groups_in[0][0], groups_in[0][1], calc.label or calc.source, calc.source, calc.expression, hint
            )
        elif not groups_in and flat_items:
            subscale_for("sum", flat_items, calc.label or calc.source, calc.source, calc.expression, hint)
        else:
            notes.add(f"{calc.source}: not imported: '{calc.expression}' mixes sums and maxima; only the total may")

    terms_out: list[str] = []
    domains = 0
    if total_calc is not None:
        resolved = resolve(total_calc, frozenset({total_calc.source})) or []
        for kind, value in resolved:
            if kind == "item":
                if value in ids and by_source[value].weighted:
                    terms_out.append(ids[value])
                else:
                    notes.add(f"{total_calc.source}: total term '{value}' dropped: not imported as a scored item")
            elif kind == "sum":
                for member in value:
                    if member in ids and by_source[member].weighted:
                        terms_out.append(ids[member])
                    else:
                        notes.add(f"{total_calc.source}: total term '{member}' dropped: not imported as a scored item")
            else:
                domains += 1
                members = ", ".join(ids.get(m, m) for m in value)
                sub_id = subscale_for(
                    kind,
                    value,
                    f"{'Highest' if kind == 'max' else 'Sum'} of {members}",
                    total_calc.source,
                    total_calc.expression,
                    f"domain_{domains}",
                )
                if sub_id:
                    terms_out.append(sub_id)
        total_source_text = f"Imported from {origin}: {total_calc.source} = {total_calc.expression}"
        if not terms_out:
            notes.add(
                f"{total_calc.source}: the total calculation names no imported scored item; the draft's total "
                f"is the sum of every imported item (check)"
            )
    if not terms_out:
        terms_out = [ids[i.source] for i in draft.items if i.weighted]
        if not terms_out:
            raise CommandError(f"{origin}: nothing to score: no imported item carries weights")
        if total_calc is None:
            notes.add("total: no calculation found; the draft's total is the sum of every imported item (check)")
        total_source_text = f"Imported from {origin}: no usable total calculation; Scalebook sums every item (check)"

    in_scoring = set(terms_out) | {m for s in subscales for m in s["items"]}
    items_out = []
    for item in draft.items:
        new = ids[item.source]
        entry: dict[str, Any] = {
            "id": new,
            "number": item.number if item.number and NUMBER_PATTERN.match(item.number) else new.rsplit("_", 1)[1],
            "short_name": _short_name(item.prompt),
            "prompt": _one_line(item.prompt) or item.source,
            "min": min(v for v, _ in item.options),
            "max": max(v for v, _ in item.options),
            "options": [{"value": v, "label": _one_line(label) or str(v)} for v, label in item.options],
        }
        if item.not_assessed:
            entry["not_assessed"] = [
                {
                    "value": v,
                    "label": _one_line(label) or "Not assessed",
                    "source": f"Imported from {origin} ({item.source})",
                }
                for v, label in item.not_assessed
            ]
        if new not in in_scoring:
            entry["scored"] = False
        entry["required"] = bool(item.required)
        if item.visible_if is not None:
            try:
                entry["visible_if"] = _to_rule(item.visible_if, ids, by_source)
            except _Unmapped as exc:
                notes.add(f"{describe(item)}: visibility condition not imported ({exc}); the item is always shown")
        if item.loinc:
            entry["loinc"] = item.loinc
        items_out.append(entry)

    seen_groups: list[list[str]] = []
    for group in groups.values():
        if group not in seen_groups:
            seen_groups.append(group)
    choice_groups = [
        {
            "id": f"group_{k}",
            "label": f"Rate one of {', '.join(ids[m] for m in group)}",
            "items": [ids[m] for m in group],
            "source": f"Imported from {origin}",
        }
        for k, group in enumerate(seen_groups, start=1)
    ]

    items_by_id = {e["id"]: e for e in items_out}
    group_of = {ids[m]: tuple(ids[x] for x in g) for g in seen_groups for m in g}
    subscale_ranges: dict[str, tuple[int, int]] = {}
    for sub in subscales:
        if sub["method"] == "sum":
            subscale_ranges[sub["id"]] = _sum_range(sub["items"], items_by_id, {}, group_of)
        else:
            subscale_ranges[sub["id"]] = (
                max(items_by_id[m]["min"] for m in sub["items"]),
                max(items_by_id[m]["max"] for m in sub["items"]),
            )
    total_min, total_max = _sum_range(terms_out, items_by_id, subscale_ranges, group_of)

    title = _one_line(draft.title) or new_id
    raw: dict[str, Any] = {
        "id": new_id,
        "version": "0.1.0",
        "title": title,
        "abbreviation": new_id.upper(),
        "citations": [f"DRAFT imported from {origin}: add the instrument's primary publication before use."],
        "licence": f"Unknown (imported from {origin}): record who owns the instrument and what electronic use needs.",
        "rater": rater,
        "recall": {
            "default": "unspecified",
            "options": [{"id": "unspecified", "label": "the period the instrument specifies (set it before use)"}],
        },
        "instructions": _one_line(draft.instructions)
        or "Draft instrument: add the instructions shown before the first item.",
        "items": items_out,
    }
    if choice_groups:
        raw["choice_groups"] = choice_groups
    scoring: dict[str, Any] = {
        "total": {"terms": terms_out, "min": total_min, "max": total_max, "source": total_source_text}
    }
    if subscales:
        scoring["subscales"] = subscales
    scoring["missing"] = {
        "policy": "none",
        "source": "Draft default: no total while a scored item is missing; set the instrument's published rule.",
    }
    raw["scoring"] = scoring
    raw["cdisc"] = {
        "domain": "QS" if rater == "self" else "RS",
        "category": new_id.upper(),
        "sponsor_defined": True,
        "note": "Draft: no CDISC codes assigned; check CDISC controlled terminology for this instrument.",
    }
    loinc: dict[str, Any] = {}
    if draft.loinc_panel:
        loinc["panel"] = draft.loinc_panel
    answers: dict[str, str] = {}
    for item in draft.items:
        for value, code in item.loinc_answers.items():
            if answers.setdefault(str(value), code) != code:
                answers = {}
                break
    if answers:
        loinc["answers"] = answers
    if loinc:
        raw["loinc"] = loinc
    raw["notes"] = (
        f"Draft imported from {origin} by `python -m exports`. Check the items, the total rule, the "
        f"missing-item policy, bands, recall period, rater type and codes against the instrument's "
        f"published source before use."
    )
    try:
        compile_definition(raw, f"{new_id}.json")
    except DefinitionError as exc:
        raise CommandError(f"{origin}: the draft is not a valid scale definition: {exc}") from None
    return raw


# ---------------------------------------------------------------------------------------------
# reading files
# ---------------------------------------------------------------------------------------------


def read_text(path: str) -> str:
    """A file as text: UTF-8 (a byte-order mark allowed), else one clear error line."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise CommandError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CommandError(
            f"{path}: line {line}: not UTF-8 (byte 0x{data[exc.start]:02x}); save the file as UTF-8 and try again"
        ) from None


# ---------------------------------------------------------------------------------------------
# REDCap
# ---------------------------------------------------------------------------------------------

_REQUIRED_COLUMNS = (
    "Variable / Field Name",
    "Form Name",
    "Field Type",
    "Field Label",
    "Choices, Calculations, OR Slider Labels",
)
_API_TO_COLUMN = dict(zip(API_NAMES, COLUMNS, strict=True))
_LOWER_TO_COLUMN = {c.lower(): c for c in COLUMNS}


def read_redcap_dictionary(path: str) -> list[tuple[int, dict[str, str]]]:
    """(line number, row keyed by REDCap's column names) for every field of the dictionary."""
    text = read_text(path)
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as exc:
        raise CommandError(f"{path}: malformed CSV: {exc}") from None
    if not records or not any(cell.strip() for cell in records[0]):
        raise CommandError(f"{path}: empty file; expected a REDCap data dictionary with a header line")
    header = []
    for cell in records[0]:
        name = cell.strip()
        header.append(_API_TO_COLUMN.get(name) or _LOWER_TO_COLUMN.get(name.lower()) or name)
    missing = [c for c in _REQUIRED_COLUMNS if c not in header]
    if missing:
        raise CommandError(
            [
                f"{path}: line 1: missing column '{c}' (a REDCap data dictionary has "
                f"{', '.join(repr(x) for x in _REQUIRED_COLUMNS)} and the other standard columns)"
                for c in missing
            ]
        )
    rows, problems = [], []
    # Line numbers: csv records can span lines (quoted newlines); count them from the text.
    line_numbers = _record_line_numbers(text)
    for index, record in enumerate(records[1:], start=1):
        line = line_numbers[index] if index < len(line_numbers) else index + 1
        if not any(cell.strip() for cell in record):
            continue
        if len(record) != len(header):
            problems.append(f"{path}: line {line}: {len(record)} cells, but the header has {len(header)}")
            continue
        rows.append((line, dict(zip(header, record, strict=True))))
    if problems:
        raise CommandError(problems)
    return rows


def _record_line_numbers(text: str) -> list[int]:
    """The line on which each CSV record starts (a quoted cell may hold line breaks)."""
    starts, line, quoted, at_start = [], 1, False, True
    for char in text:
        if at_start:
            starts.append(line)
            at_start = False
        if char == '"':
            quoted = not quoted
        elif char == "\n":
            line += 1
            if not quoted:
                at_start = True
    return starts


def _redcap_choices(text: str) -> list[tuple[str, str]]:
    out = []
    for part in text.split("|"):
        if not part.strip():
            continue
        code, _, label = part.partition(",")
        out.append((code.strip(), label.strip()))
    return out


_TOKEN = re.compile(
    r"""\s*(?:(?P<ref>\[[^\]]*\](?:\[[^\]]*\])?)|(?P<num>-?\d+(?:\.\d+)?)|'(?P<sq>[^']*)'|"(?P<dq>[^"]*)"
                        |(?P<op><>|!=|>=|<=|==|=|>|<)|(?P<paren>[()])|(?P<word>[A-Za-z_]+)|(?P<comma>,)|(?P<plus>\+))""",
    re.VERBOSE,
)


def _tokens(text: str) -> list[tuple[str, str]]:
    out, position = [], 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        kind = match.lastgroup if match else None
        if not match or match.end() == position or kind is None:
            raise _Unmapped(f"cannot read '{text[position : position + 20]}'")
        value = match.group(kind)
        if kind in ("sq", "dq"):
            kind = "str"
        out.append((kind, value))
        position = match.end()
        while position < len(text) and text[position].isspace():
            position += 1
    return out


def _field_ref(token: str) -> str:
    inner = token[1:-1]
    if "][" in inner or "(" in inner or ":" in inner:
        raise _Unmapped(f"reference {token} (events, checkbox codes or smart variables) is not supported")
    return inner.strip()


def _literal_int(kind: str, value: str) -> int | None:
    if kind == "num" or (kind == "str" and re.fullmatch(r"-?\d+", value.strip())):
        number = float(value)
        if number.is_integer():
            return int(number)
        raise _Unmapped(f"value {value} is not a whole number")
    return None


_OPS = {"=": "==", "==": "==", "<>": "!=", "!=": "!=", ">": ">", ">=": ">=", "<": "<", "<=": "<="}
_MIRROR = {"==": "==", "!=": "!=", ">": "<", ">=": "<=", "<": ">", "<=": ">="}


def parse_branching(text: str) -> Condition:
    """REDCap branching logic (comparisons of fields with numbers, and/or, parentheses)."""
    tokens = _tokens(text)
    position = 0

    def peek() -> tuple[str, str] | None:
        return tokens[position] if position < len(tokens) else None

    def take() -> tuple[str, str]:
        nonlocal position
        if position >= len(tokens):
            raise _Unmapped("the expression ends too early")
        position += 1
        return tokens[position - 1]

    def joined(word: str, tag: str, part: Callable[[], Condition]) -> Condition:
        """`part (word part)*`: one part as it is, several as (tag, parts)."""
        parts = [part()]
        while (t := peek()) and t[0] == "word" and t[1].lower() == word:
            take()
            parts.append(part())
        return parts[0] if len(parts) == 1 else (tag, parts)

    def expression() -> Condition:
        return joined("or", "any", conjunction)

    def conjunction() -> Condition:
        return joined("and", "all", atom)

    def atom() -> Condition:
        kind, value = take()
        if kind == "paren" and value == "(":
            inner = expression()
            if take() != ("paren", ")"):
                raise _Unmapped("unbalanced parentheses")
            return inner
        left = (kind, value)
        op_kind, op = take()
        if op_kind != "op":
            raise _Unmapped(f"expected a comparison after {value}")
        right = take()
        op = _OPS[op]
        if left[0] == "ref":
            ref, literal = _field_ref(left[1]), right
        elif right[0] == "ref":
            ref, literal, op = _field_ref(right[1]), left, _MIRROR[op]
        else:
            raise _Unmapped("a comparison must name a field")
        if literal[0] == "str" and literal[1].strip() == "":
            if op == "==":
                return ("blank", ref)
            if op == "!=":
                return ("answered", ref)
            raise _Unmapped(f"comparison {op} with a blank value")
        number = _literal_int(*literal)
        if number is None:
            raise _Unmapped(f"'{literal[1]}' is not a number")
        return ("cmp", ref, op, number)

    result = expression()
    if position != len(tokens):
        raise _Unmapped(f"unexpected '{tokens[position][1]}'")
    return result


def parse_redcap_calc(text: str) -> list[tuple[str, Any]]:
    """A REDCap calculation that adds fields: `sum(...)`, `max(...)` of fields, `+`, nesting.
    Returns the terms of the sum: ("item"/"calc" resolved later as ("item", name)), ("max", [names])."""
    tokens = _tokens(text)
    position = 0

    def take() -> tuple[str, str]:
        nonlocal position
        if position >= len(tokens):
            raise _Unmapped("the calculation ends too early")
        position += 1
        return tokens[position - 1]

    def peek() -> tuple[str, str] | None:
        return tokens[position] if position < len(tokens) else None

    def sum_expression() -> list[tuple[str, Any]]:
        terms = term()
        while (t := peek()) and t[0] == "plus":
            take()
            terms += term()
        return terms

    def arguments() -> list[list[tuple[str, Any]]]:
        if take() != ("paren", "("):
            raise _Unmapped("expected '(' after a function name")
        args = [sum_expression()]
        while (t := peek()) and t[0] == "comma":
            take()
            args.append(sum_expression())
        if take() != ("paren", ")"):
            raise _Unmapped("expected ')'")
        return args

    def term() -> list[tuple[str, Any]]:
        kind, value = take()
        if kind == "ref":
            return [("item", _field_ref(value))]
        if kind == "paren" and value == "(":
            inner = sum_expression()
            if take() != ("paren", ")"):
                raise _Unmapped("unbalanced parentheses")
            return inner
        if kind == "word" and value.lower() == "sum":
            return [t for arg in arguments() for t in arg]
        if kind == "word" and value.lower() == "max":
            members = []
            for arg in arguments():
                if len(arg) != 1 or arg[0][0] != "item":
                    raise _Unmapped("max(...) may only list fields")
                members.append(arg[0][1])
            return [("max", members)]
        raise _Unmapped(f"'{value}' is not supported (only sum, max, + and fields)")

    result = sum_expression()
    if position != len(tokens):
        raise _Unmapped(f"unexpected '{tokens[position][1]}'")
    return result


def redcap_draft(path: str, form: str | None, notes: Notes) -> tuple[Draft, str]:
    rows = read_redcap_dictionary(path)
    forms = list(dict.fromkeys(r["Form Name"].strip() for _, r in rows if r["Form Name"].strip()))
    if not forms:
        raise CommandError(f"{path}: no instrument: every row has an empty 'Form Name'")
    if form is None:
        if len(forms) > 1:
            raise CommandError(
                f"{path}: the dictionary has {len(forms)} instruments ({', '.join(forms)}); choose one with --form"
            )
        form = forms[0]
    elif form not in forms:
        raise CommandError(f"--form: no instrument '{form}' in {path}; its instruments are {', '.join(forms)}")
    draft = Draft(title=form.replace("_", " ").strip().capitalize())
    fields = [(line, r) for line, r in rows if r["Form Name"].strip() == form]
    project_first = rows[0][1]["Variable / Field Name"].strip()
    calc_rows: list[tuple[int, dict[str, str]]] = []
    logic: dict[str, tuple[int, str]] = {}
    for line, row in fields:
        name = row["Variable / Field Name"].strip()
        kind = row["Field Type"].strip().lower()
        where = f"{path}: line {line}: field '{name}' ({kind})"
        if not draft.instructions and row.get("Section Header", "").strip():
            draft.instructions = row["Section Header"]
        if kind in ("radio", "dropdown"):
            parsed = _redcap_choices(row["Choices, Calculations, OR Slider Labels"])
            bad = [code for code, _ in parsed if not re.fullmatch(r"-?\d+", code)]
            if not parsed or bad:
                reason = f"choice code(s) {bad} are not whole numbers" if bad else "it has no choices"
                notes.add(f"{where}: not imported: {reason}; Scalebook options are scored integers")
                continue
            split = _scored_range([(int(code), label) for code, label in parsed], where, notes)
            if split is None:
                continue
            scored, beyond = split
            number = row.get("Question Number (surveys only)", "").strip().upper()
            draft.items.append(
                SourceItem(
                    source=name,
                    prompt=_strip_html(row["Field Label"]) or name,
                    options=scored,
                    not_assessed=beyond,
                    number=number or None,
                    required=row.get("Required Field?", "").strip().lower() == "y",
                )
            )
            if row.get("Branching Logic (Show field only if...)", "").strip():
                logic[name] = (line, row["Branching Logic (Show field only if...)"].strip())
        elif kind == "calc":
            calc_rows.append((line, row))
        elif name == project_first and kind == "text":
            notes.add(f"{where}: not imported: the project's record id field, not part of a scale")
        else:
            notes.add(
                f"{where}: not imported: Scalebook imports radio and dropdown fields (and sum/max calc "
                f"fields as the total)"
            )
    for item in draft.items:
        if item.source in logic:
            line, text = logic[item.source]
            try:
                item.visible_if = parse_branching(text)
            except _Unmapped as exc:
                notes.add(
                    f"{path}: line {line}: field '{item.source}': branching logic '{text}' not imported ({exc}); "
                    f"the item is always shown"
                )
    for line, row in calc_rows:
        name = row["Variable / Field Name"].strip()
        expression = row["Choices, Calculations, OR Slider Labels"].strip()
        try:
            terms = parse_redcap_calc(expression)
        except _Unmapped as exc:
            notes.add(f"{path}: line {line}: field '{name}' (calc): not imported: '{expression}': {exc}")
            continue
        calc_names = {r["Variable / Field Name"].strip() for _, r in calc_rows}
        terms = [("calc", v) if k == "item" and v in calc_names else (k, v) for k, v in terms]
        draft.calculations.append(Calculation(name, _strip_html(row["Field Label"]), expression, terms))
    draft.total_source = _pick_total([(c.source, c.label) for c in draft.calculations])
    return draft, form


def _strip_html(text: str) -> str:
    return _one_line(re.sub(r"<[^>]+>", " ", text or ""))


def _pick_total(candidates: list[tuple[str, str]]) -> str | None:
    """The calculation that is the total: one named or labelled 'total', else the last one."""
    if not candidates:
        return None
    for source, label in candidates:
        if re.search(r"(^|[_\-/\s])total($|[_\-\s])", source.lower()) or "total" in (label or "").lower():
            return source
    return candidates[-1][0]


# ---------------------------------------------------------------------------------------------
# FHIR
# ---------------------------------------------------------------------------------------------


def _weight(element: Mapping[str, Any]) -> Decimal | None:
    for extension in element.get("extension", []) or []:
        if extension.get("url") in WEIGHT_EXTENSIONS:
            for key in ("valueDecimal", "valueInteger"):
                if key in extension:
                    try:
                        return Decimal(str(extension[key]))
                    except InvalidOperation:
                        return None
    return None


def _contained_concepts(resource: Mapping[str, Any], reference: str) -> list[Mapping[str, Any]] | None:
    if not reference.startswith("#"):
        return None
    for contained in resource.get("contained", []) or []:
        if contained.get("resourceType") == "ValueSet" and contained.get("id") == reference[1:]:
            concepts: list[Mapping[str, Any]] = [
                dict(c, system=inc.get("system"))
                for inc in contained.get("compose", {}).get("include", [])
                for c in inc.get("concept", [])
            ]
            concepts += list(contained.get("expansion", {}).get("contains", []))
            return concepts
    return None


@dataclass
class _FhirOption:
    key: tuple  # what an answer or enableWhen carries: (system, code) or ("", text)
    label: str
    weight: Decimal | None
    integer: int | None  # the option's own integer (valueInteger, or a numeric code)
    loinc: str | None


def _fhir_options(resource: Mapping[str, Any], item: Mapping[str, Any]) -> list[_FhirOption] | None:
    options = []
    if item.get("answerOption"):
        for option in item["answerOption"]:
            coding = option.get("valueCoding")
            if coding is not None:
                code = str(coding.get("code", ""))
                weight = _weight(option)
                if weight is None:
                    weight = _weight(coding)
                integer = int(code) if re.fullmatch(r"-?\d+", code) else None
                options.append(
                    _FhirOption(
                        (coding.get("system") or "", code),
                        coding.get("display") or code,
                        weight,
                        integer,
                        code if coding.get("system") == LOINC else None,
                    )
                )
            elif "valueInteger" in option:
                value = int(option["valueInteger"])
                options.append(_FhirOption(("", str(value)), str(value), _weight(option), value, None))
            elif "valueString" in option:
                text = option["valueString"]
                options.append(_FhirOption(("", text), text, _weight(option), None, None))
            else:
                return None
        return options
    if item.get("answerValueSet"):
        concepts = _contained_concepts(resource, item["answerValueSet"])
        if concepts is None:
            return None
        for concept in concepts:
            code = str(concept.get("code", ""))
            integer = int(code) if re.fullmatch(r"-?\d+", code) else None
            options.append(
                _FhirOption(
                    (concept.get("system") or "", code),
                    concept.get("display") or code,
                    _weight(concept),
                    integer,
                    code if concept.get("system") == LOINC else None,
                )
            )
        return options
    return None


def _walk(items: Sequence[Mapping[str, Any]], depth: int = 0):
    for item in items or []:
        yield item, depth
        yield from _walk(item.get("item", []), depth + 1)


def _calculated(item: Mapping[str, Any]) -> str | None:
    for extension in item.get("extension", []) or []:
        if extension.get("url") == CALCULATED_EXPRESSION:
            return (extension.get("valueExpression") or {}).get("expression")
    return None


def _split_top(text: str, separator: str) -> list[str]:
    """Split on `separator` outside parentheses, braces and quotes."""
    parts, depth, quote, start, k = [], 0, None, 0, 0
    while k < len(text):
        char = text[k]
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char in "({":
            depth += 1
        elif char in ")}":
            depth -= 1
        elif depth == 0 and text.startswith(separator, k):
            parts.append(text[start:k])
            k += len(separator)
            start = k
            continue
        k += 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def _closing(text: str, start: int) -> int:
    """Index of the parenthesis closing the one at `start` (quotes respected), or -1."""
    depth, quote = 0, None
    for k in range(start, len(text)):
        char = text[k]
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return k
    return -1


def _strip_parens(text: str) -> str:
    """Drop parentheses that enclose the whole text."""
    text = text.strip()
    while text.startswith("(") and _closing(text, 0) == len(text) - 1:
        text = text[1:-1].strip()
    return text


_CLAUSE = re.compile(
    r"^(?:%resource|%context|QuestionnaireResponse)\s*\.\s*(?P<scope>item|repeat\(\s*item\s*\))"
    r"(?P<where>\s*\.\s*where\(.*\))?\s*\.\s*answer\s*(?:\.\s*value\s*)?\.\s*weight\(\s*\)\s*\.\s*"
    r"(?P<aggregate>sum|max)\(\s*\)$",
    re.DOTALL,
)
_LINK_ATOM = re.compile(r"^linkId\s*(?P<op>=|!=)\s*'(?P<id>[^']*)'$")
_STARTS_ATOM = re.compile(r"^linkId\s*\.\s*startsWith\(\s*'(?P<prefix>[^']*)'\s*\)$")


def _link_predicate(condition: str) -> Callable[[str], bool]:
    condition = _strip_parens(condition)
    ors = _split_top(condition, " or ")
    if len(ors) > 1:
        preds = [_link_predicate(p) for p in ors]
        return lambda link: any(p(link) for p in preds)
    ands = _split_top(condition, " and ")
    if len(ands) > 1:
        preds = [_link_predicate(p) for p in ands]
        return lambda link: all(p(link) for p in preds)
    if match := _LINK_ATOM.match(condition):
        target, equal = match["id"], match["op"] == "="
        return lambda link: (link == target) == equal
    if match := _STARTS_ATOM.match(condition):
        prefix = match["prefix"]
        return lambda link: link.startswith(prefix)
    raise _Unmapped(f"cannot read the condition '{condition}' (linkId =, !=, startsWith, and/or are understood)")


def _variables(resource: Mapping[str, Any]) -> dict[str, str]:
    out = {}
    for element, _ in [(resource, 0), *_walk(resource.get("item", []))]:
        for extension in element.get("extension", []) or []:
            if extension.get("url") == VARIABLE:
                expression = extension.get("valueExpression") or {}
                if expression.get("name"):
                    out[expression["name"]] = expression.get("expression", "")
    return out


def parse_fhir_calculation(
    expression: str, weighted: Sequence[SourceItem], variables: Mapping[str, str]
) -> list[tuple[str, Any]]:
    """The terms of a calculatedExpression that adds answer weights (see the module docstring)."""
    text = _strip_parens(expression)
    # LHC-Forms: iif(%any_answered, <sum>, {}) around iif(%x.exists(), %x, 0) terms.
    wrapper = re.fullmatch(r"iif\(\s*%\w+\s*,(?P<body>.*),\s*\{\s*\}\s*\)", text, re.DOTALL)
    if wrapper:
        text = _strip_parens(wrapper["body"])
    text = re.sub(r"iif\(\s*%(\w+)\s*\.\s*exists\(\s*\)\s*,\s*%\1\s*,\s*0\s*\)", r"%\1", text)
    terms: list[tuple[str, Any]] = []
    for part in _split_top(text, "+"):
        part = _strip_parens(part)
        if match := re.fullmatch(r"%(\w+)", part):
            name = match[1]
            if name not in variables:
                raise _Unmapped(f"variable %{name} is not defined")
            linked = set(re.findall(r"linkId\s*=\s*'([^']*)'", variables[name]))
            if len(linked) != 1 or "answer" not in variables[name]:
                raise _Unmapped(f"variable %{name} is not the weight of one item's answer")
            terms.append(("item", linked.pop()))
            continue
        match = _CLAUSE.match(part)
        if not match:
            raise _Unmapped(f"cannot read '{part[:80]}' (expected ...answer.weight().sum() or .max())")
        candidates = [i for i in weighted if i.top_level or match["scope"] != "item"]
        if match["where"]:
            condition = match["where"].strip().lstrip(".").strip()[len("where(") : -1]
            predicate = _link_predicate(condition)
            candidates = [i for i in candidates if predicate(i.source)]
        members = [i.source for i in candidates]
        if not members:
            raise _Unmapped(f"'{part[:80]}' selects no weighted item")
        if match["aggregate"] == "sum":
            terms.append(("sum", members))
        else:
            terms.append(("max", members))
    return terms


def _answer_key(condition: Mapping[str, Any]) -> tuple | None:
    if "answerCoding" in condition:
        coding = condition["answerCoding"]
        return (coding.get("system") or "", str(coding.get("code", "")))
    if "answerString" in condition:
        return ("", condition["answerString"])
    if "answerInteger" in condition:
        return ("", str(condition["answerInteger"]))
    return None


def _enable_when(item: Mapping[str, Any], options_of: Mapping[str, dict]) -> Condition | None:
    parts: list[Condition] = []
    for condition in item.get("enableWhen", []) or []:
        question, operator = condition.get("question"), condition.get("operator")
        if question not in options_of:
            raise _Unmapped(f"it refers to '{question}', which is not an imported item")
        if operator == "exists":
            parts.append(("answered", question) if condition.get("answerBoolean") else ("blank", question))
            continue
        if operator in ("=", "!="):
            key = _answer_key(condition)
            lookup = options_of[question]
            match = (
                lookup.get(key)
                if key in lookup
                else next((v for k, v in lookup.items() if key is not None and k[1] == key[1]), None)
            )
            if match is None:
                raise _Unmapped(f"answer {key} is not a scored option of '{question}'")
            parts.append(("cmp", question, "==" if operator == "=" else "!=", match))
            continue
        if operator in (">", ">=", "<", "<=") and ("answerInteger" in condition or "answerDecimal" in condition):
            number = Decimal(str(condition.get("answerInteger", condition.get("answerDecimal"))))
            if number != number.to_integral_value():
                raise _Unmapped(f"{operator} {number} is not a whole number")
            parts.append(("cmp", question, operator, int(number)))
            continue
        raise _Unmapped(f"operator '{operator}' with {sorted(k for k in condition if k.startswith('answer'))}")
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    return ("all" if item.get("enableBehavior") == "all" else "any", parts)


def read_questionnaire(path: str) -> dict[str, Any]:
    text = read_text(path)
    try:
        resource = parse_json(text)
    except JsonInputError as exc:
        where = f"line {exc.line}, column {exc.column}: " if exc.line is not None else ""
        raise CommandError(f"{path}: {where}{exc.message}") from None
    if not isinstance(resource, dict) or resource.get("resourceType") != "Questionnaire":
        found = resource.get("resourceType") if isinstance(resource, dict) else type(resource).__name__
        raise CommandError(f"{path}: resourceType: expected 'Questionnaire', found {found!r}")
    if not isinstance(resource.get("item"), list) or not resource["item"]:
        raise CommandError(f"{path}: item: the Questionnaire has no items")
    return resource


def fhir_draft(path: str, notes: Notes) -> Draft:
    resource = read_questionnaire(path)
    draft = Draft(
        title=resource.get("title") or resource.get("name") or "", instructions=resource.get("description") or ""
    )
    for code in resource.get("code", []) or []:
        if code.get("system") == LOINC:
            draft.loinc_panel = code.get("code")
    options_of: dict[str, dict] = {}
    pending_logic: list[tuple[SourceItem, Mapping[str, Any]]] = []
    calculated: list[tuple[Mapping[str, Any], str]] = []
    for item, depth in _walk(resource["item"]):
        link = str(item.get("linkId", ""))
        kind = item.get("type")
        where = f"{path}: item '{link}' ({kind})"
        expression = _calculated(item)
        if expression is not None:
            calculated.append((item, expression))
            continue
        if kind == "group":
            if item.get("item"):
                notes.add(f"{where}: group heading not imported (its items are)")
            continue
        if kind not in ("choice", "open-choice", "coding"):
            notes.add(f"{where}: not imported: Scalebook imports choice items (and calculatedExpression totals)")
            continue
        options = _fhir_options(resource, item)
        if not options:
            notes.add(f"{where}: not imported: no answerOption list or contained answerValueSet to read")
            continue
        weights = [o.weight for o in options if o.weight is not None]
        if weights:
            if any(w != w.to_integral_value() for w in weights):
                notes.add(f"{where}: not imported: weights {[str(w) for w in weights]} are not whole numbers")
                continue
            pairs = [(int(o.weight), o.label) for o in options if o.weight is not None]
            extra = [o for o in options if o.weight is None]
            unusable = [o.label for o in extra if o.integer is None]
            if unusable:
                notes.add(f"{where}: option(s) {unusable} carry no weight and no numeric code; not imported")
            split = _scored_range(pairs, where, notes)
            if split is None:
                continue
            scored, beyond = split
            coded = [(o.integer, o.label) for o in extra if o.integer is not None]
            if any(not MISSING_LABEL.search(label) for _, label in coded):
                notes.add(
                    f"{where}: option(s) {[f'{v} {label}' for v, label in coded]} carry no weight and are "
                    f"imported as not-assessed codes (never summed); check that this is what they mean"
                )
            beyond += coded
            high = max(v for v, _ in scored)
            low = min(v for v, _ in scored)
            clash = [v for v, _ in beyond if low <= v <= high]
            if clash:
                notes.add(f"{where}: not imported: unweighted code(s) {clash} fall inside the scored range")
                continue
            value_of: dict[tuple, int] = {}
            for o in options:
                if o.weight is not None:
                    value_of[o.key] = int(o.weight)
                elif o.integer is not None:
                    value_of[o.key] = o.integer
            weighted = True
        else:
            integers = [o.integer for o in options if o.integer is not None]
            if len(integers) == len(options):
                pairs = [(integer, o.label) for integer, o in zip(integers, options, strict=True)]
                note = "its integer codes are its values"
            else:
                pairs = [(k, o.label) for k, o in enumerate(options)]
                note = "its options are numbered 0, 1, ... in order"
            split = _scored_range(pairs, where, notes)
            if split is None:
                continue
            scored, beyond = split
            value_of = {o.key: v for o, (v, _) in zip(options, pairs, strict=True)}
            weighted = False
            notes.add(f"{where}: no option carries a weight (ordinalValue): imported as an unscored item; {note}")
        loinc = next((c.get("code") for c in item.get("code", []) or [] if c.get("system") == LOINC), None)
        source = SourceItem(
            source=link,
            prompt=item.get("text") or link,
            options=scored,
            not_assessed=beyond,
            number=str(item.get("prefix", "")).strip().rstrip(".").upper() or None,
            required=bool(item.get("required", False)),
            weighted=weighted,
            loinc=loinc,
            top_level=depth == 0,
            loinc_answers={value_of[o.key]: o.loinc for o in options if o.loinc and o.key in value_of},
        )
        draft.items.append(source)
        options_of[link] = value_of
        if item.get("enableWhen"):
            pending_logic.append((source, item))
        for extension in item.get("extension", []) or []:
            if extension.get("url", "").endswith("enableWhenExpression"):
                notes.add(f"{where}: enableWhenExpression not imported; the item is always shown")
    for source, item in pending_logic:
        try:
            source.visible_if = _enable_when(item, options_of)
        except _Unmapped as exc:
            notes.add(f"{path}: item '{source.source}': enableWhen not imported ({exc}); the item is always shown")
    weighted_items = [i for i in draft.items if i.weighted]
    variables = _variables(resource)
    for item, expression in calculated:
        link = str(item.get("linkId", ""))
        try:
            terms = parse_fhir_calculation(expression, weighted_items, variables)
        except _Unmapped as exc:
            notes.add(f"{path}: item '{link}' (calculatedExpression): not imported: {exc}")
            continue
        draft.calculations.append(Calculation(link, item.get("text") or link, expression, terms))
    draft.total_source = _pick_total([(c.source, c.label) for c in draft.calculations])
    return draft


# ---------------------------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------------------------


def _check_target(args: argparse.Namespace) -> None:
    problems = []
    if not ID_PATTERN.match(args.id):
        problems.append(
            f"--id: '{args.id}' is not a scale id; use lower-case letters, digits and '_', starting "
            f"with a letter (e.g. madrs_site2)"
        )
    if args.out and Path(args.out).name != f"{args.id}.json":
        problems.append(
            f"--out: name the file '{args.id}.json' (the definition's id must match its file name for "
            f"`python -m scales validate`)"
        )
    if problems:
        raise CommandError(problems)


def _emit(args: argparse.Namespace, raw: Mapping[str, Any], notes: Notes) -> int:
    text = json.dumps(raw, ensure_ascii=False, indent=2) + "\n"
    if args.out:
        write_text_atomically(args.out, text)
    for line in notes.lines:
        print(line, file=sys.stderr)
    if not args.out:
        sys.stdout.write(text)
    return 0


def redcap_definition(
    path: str, new_id: str, form: str | None = None, rater: str = "clinician", notes: Notes | None = None
) -> dict[str, Any]:
    """A draft definition from one instrument of a REDCap data dictionary (raw JSON)."""
    notes = notes or Notes("")
    draft, chosen = redcap_draft(path, form, notes)
    origin = f"REDCap data dictionary {Path(path).name}, instrument {chosen}"
    return build_definition(draft, new_id, origin, rater, notes, lambda i: f"{path}: field '{i.source}'")


def fhir_definition(path: str, new_id: str, rater: str = "clinician", notes: Notes | None = None) -> dict[str, Any]:
    """A draft definition from a FHIR R4 Questionnaire (raw JSON)."""
    notes = notes or Notes("")
    draft = fhir_draft(path, notes)
    origin = f"FHIR Questionnaire {Path(path).name}"
    return build_definition(draft, new_id, origin, rater, notes, lambda i: f"{path}: item '{i.source}'")


def run_redcap(args: argparse.Namespace) -> int:
    _check_target(args)
    notes = Notes(f"python -m exports {args.command}: note: ")
    return _emit(args, redcap_definition(args.file, args.id, args.form, args.rater, notes), notes)


def run_fhir(args: argparse.Namespace) -> int:
    _check_target(args)
    notes = Notes(f"python -m exports {args.command}: note: ")
    return _emit(args, fhir_definition(args.file, args.id, args.rater, notes), notes)


def register(commands) -> None:
    common = "Print the draft (JSON) or write it with --out <NEW_ID>.json; check it with `python -m scales validate`."
    p = commands.add_parser(
        "import-redcap",
        help="turn a REDCap data dictionary instrument into a draft scale definition",
        description="Turn one instrument of a REDCap data dictionary into a draft Scalebook scale definition: "
        "radio/dropdown fields become items <NEW_ID>_<n> with their choices, branching logic becomes "
        "visibility rules, a sum(...)/max(...) calc field the total rule. Every other field is listed "
        "on stderr by name. " + common,
    )
    p.add_argument("file", metavar="FILE", help="the data dictionary CSV (as REDCap downloads it)")
    p.add_argument("--form", metavar="FORM", help="the instrument (form name) to import, if the file has several")
    p.add_argument("--id", required=True, metavar="NEW_ID", help="id of the new scale (lower case, e.g. madrs_site2)")
    p.add_argument("--rater", choices=RATERS, default="clinician", help="who rates the scale (default clinician)")
    p.add_argument("--out", metavar="FILE", help="write the draft to FILE (named <NEW_ID>.json)")
    p.set_defaults(run=run_redcap)

    p = commands.add_parser(
        "import-fhir",
        help="turn a FHIR R4 Questionnaire into a draft scale definition",
        description="Turn a FHIR R4 Questionnaire into a draft Scalebook scale definition: choice items with "
        "ordinalValue weights become items <NEW_ID>_<n>, enableWhen becomes visibility rules, an SDC "
        "calculatedExpression that sums answer weights (e.g. %resource.item.where(linkId != 'x')"
        ".answer.weight().sum(), as LHC-Forms writes it) the total rule without the excluded items. "
        "Every other item is listed on stderr by linkId. " + common,
    )
    p.add_argument("file", metavar="FILE", help="the Questionnaire (JSON)")
    p.add_argument("--id", required=True, metavar="NEW_ID", help="id of the new scale (lower case, e.g. phq9_lhc)")
    p.add_argument("--rater", choices=RATERS, default="clinician", help="who rates the scale (default clinician)")
    p.add_argument("--out", metavar="FILE", help="write the draft to FILE (named <NEW_ID>.json)")
    p.set_defaults(run=run_fhir)
