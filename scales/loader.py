"""Load and validate scale definitions.

Every `<id>.json` file in `scales/definitions/` is a definition; a new file dropped in is picked
up without code changes. `<id>.cases.json` beside it holds the scale's hand-computed test cases
(tests/test_scale_cases.py) and is never read as a definition.

Validation runs in two passes: the JSON Schema (`scales/schema.json`) for shape (including the
`measures` mark, e.g. "dissociation", that `score_measures` reads), then cross-field rules the
schema cannot express (unique ids, option values inside the item range, not-assessed codes
outside the scored values, bands that tile the total range, references that exist, a declared
total range equal to the one the items imply). Any failure raises `DefinitionError` naming the
file, the JSON path and the rule.

The running app reads `registry()`, which skips a broken file (logged, and listed by
`skipped_definitions()` for the admin's warning) and serves the others: one bad file must not
take every scale, or the sign-in screen, down with it. `load_directory` is the strict variant.
The directory is $SCALEBOOK_SCALES_DIR, else scales/definitions.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from scales.definition import (
    Item,
    Rule,
    ScaleDefinition,
    Subscale,
    canonical_hash,
    compile_condition,
    condition_items,
)
from scales.errors import DefinitionError, UnknownScaleError
from scales.jsonfiles import check_schema, display_name, read_json_file

PACKAGE_DIR = Path(__file__).resolve().parent
SCHEMA_PATH = PACKAGE_DIR / "schema.json"
DEFINITIONS_DIR = PACKAGE_DIR / "definitions"
SCALES_DIR_ENV = "SCALEBOOK_SCALES_DIR"

log = logging.getLogger(__name__)


def _display_name(path: Path) -> str:
    return display_name(path, PACKAGE_DIR.parent)


def read_definition_file(path: Path) -> dict[str, Any]:
    """Parse one file, turning JSON syntax errors into a DefinitionError with line and column."""
    return read_json_file(path, _display_name(path), DefinitionError)


def validate_schema(raw: Any, file: str) -> None:
    """Check the definition against scales/schema.json and report the most relevant error."""
    check_schema(raw, file, SCHEMA_PATH, DefinitionError)


def _resolve_options(raw: dict[str, Any], index: int, file: str) -> list[dict[str, Any]]:
    options = raw["items"][index]["options"]
    if isinstance(options, str):
        sets = raw.get("option_sets", {})
        if options not in sets:
            raise DefinitionError(
                file,
                f"$.items[{index}].options",
                "option-set-exists",
                f"names option set '{options}', which is not defined in option_sets "
                f"(defined: {', '.join(sorted(sets)) or 'none'})",
            )
        return sets[options]
    return options


def _check_item(raw: dict[str, Any], index: int, options: list[dict[str, Any]], file: str) -> None:
    item = raw["items"][index]
    where = f"$.items[{index}]"
    lo, hi = item["min"], item["max"]
    if lo > hi:
        raise DefinitionError(file, where, "item-range", f"min {lo} is greater than max {hi}")
    values = [o["value"] for o in options]
    if len(set(values)) != len(values):
        raise DefinitionError(file, f"{where}.options", "option-values-unique", f"option values repeat: {values}")
    for j, value in enumerate(values):
        if not lo <= value <= hi:
            raise DefinitionError(
                file,
                f"{where}.options[{j}].value",
                "option-in-range",
                f"value {value} is outside the item range {lo}-{hi}; fix the value or the item's min/max",
            )
    if hi - lo + 1 != len(values):
        # The values are unique and inside the range, so fewer values than the range is wide means gaps.
        # Only the first few are listed, and the range is never built: a mistyped max of 10**9 must
        # cost a message, not the server's memory (the schema caps the range too).
        taken = set(values)
        gaps = list(itertools.islice((v for v in range(lo, hi + 1) if v not in taken), 10))
        count = hi - lo + 1 - len(values)
        listed = f"{gaps}" + (f" and {count - len(gaps)} more" if count > len(gaps) else "")
        raise DefinitionError(
            file,
            f"{where}.options",
            "options-cover-range",
            f"no option for value(s) {listed} inside the item range {lo}-{hi}; add them (with a label) or narrow "
            f"the range",
        )
    for j, code in enumerate(item.get("not_assessed", [])):
        if lo <= code["value"] <= hi:
            raise DefinitionError(
                file,
                f"{where}.not_assessed[{j}].value",
                "not-assessed-outside-scored",
                f"not-assessed code {code['value']} lies inside the scored range {lo}-{hi}; it would be "
                f"indistinguishable from a score",
            )


def _term_range(term: str, items: dict[str, dict], subscale_ranges: dict[str, tuple[int, int]]) -> tuple[int, int]:
    if term in subscale_ranges:
        return subscale_ranges[term]
    return items[term]["min"], items[term]["max"]


def _collapse_groups(terms: list[str], group_of: dict[str, tuple[str, ...]]) -> list[list[str]]:
    """Group the terms so that each choice group counts once (only one member is ever rated)."""
    seen: set[tuple[str, ...]] = set()
    collapsed: list[list[str]] = []
    for term in terms:
        group = group_of.get(term)
        if group is None:
            collapsed.append([term])
        elif group not in seen:
            seen.add(group)
            collapsed.append([t for t in group if t in terms])
    return collapsed


def _sum_range(
    terms: list[str], items: dict[str, dict], subscale_ranges: dict[str, tuple[int, int]], group_of
) -> tuple[int, int]:
    lo = hi = 0
    for alternatives in _collapse_groups(terms, group_of):
        ranges = [_term_range(t, items, subscale_ranges) for t in alternatives]
        lo += min(r[0] for r in ranges)
        hi += max(r[1] for r in ranges)
    return lo, hi


def _check_bands(raw: dict[str, Any], total_min: int, total_max: int, file: str) -> None:
    if "bands" not in raw["scoring"]:
        return
    bands = raw["scoring"]["bands"]
    set_ids = [s["id"] for s in bands["sets"]]
    if bands["default"] not in set_ids:
        raise DefinitionError(
            file,
            "$.scoring.bands.default",
            "default-band-set-exists",
            f"default band set '{bands['default']}' is not one of {set_ids}",
        )
    for s, band_set in enumerate(bands["sets"]):
        where = f"$.scoring.bands.sets[{s}].bands"
        expected = total_min
        for b, band in enumerate(band_set["bands"]):
            if band["min"] > band["max"]:
                raise DefinitionError(file, f"{where}[{b}]", "band-range", f"min {band['min']} > max {band['max']}")
            if band["min"] != expected:
                problem = "gap before" if band["min"] > expected else "overlap at"
                raise DefinitionError(
                    file,
                    f"{where}[{b}].min",
                    "bands-tile-total-range",
                    f"band '{band['label']}' starts at {band['min']} but should start at {expected} "
                    f"({problem} {expected}); bands must cover {total_min}-{total_max} with no gap or overlap",
                )
            expected = band["max"] + 1
        if expected - 1 != total_max:
            raise DefinitionError(
                file,
                f"{where}[{len(band_set['bands']) - 1}].max",
                "bands-tile-total-range",
                f"the last band ends at {expected - 1} but the total range ends at {total_max}",
            )


def _check_unique(entries: list[dict[str, Any]], path: str, what: str, file: str) -> None:
    """Ids that name things (band sets, rules, recall options) must be unique, or one silently
    replaces another and a score is labelled by the wrong rule."""
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        if entry["id"] in seen:
            raise DefinitionError(file, f"{path}[{index}].id", "ids-unique", f"{what} id '{entry['id']}' is used twice")
        seen.add(entry["id"])


def compile_definition(raw: dict[str, Any], file: str = "<definition>") -> ScaleDefinition:
    """Validate a parsed definition and compile it. Raises DefinitionError."""
    validate_schema(raw, file)
    _check_unique(raw["recall"]["options"], "$.recall.options", "recall option", file)
    _check_unique(raw.get("scoring", {}).get("bands", {}).get("sets", []), "$.scoring.bands.sets", "band set", file)
    _check_unique(raw.get("choice_groups", []), "$.choice_groups", "choice group", file)
    _check_unique(
        raw.get("safety_triggers", []) + raw.get("consistency_checks", []),
        "$.safety_triggers+consistency_checks",
        "rule",
        file,
    )
    scale_id = raw["id"]
    raw_items = raw["items"]

    ids = [i["id"] for i in raw_items]
    for index, item_id in enumerate(ids):
        if ids.index(item_id) != index:
            raise DefinitionError(file, f"$.items[{index}].id", "item-ids-unique", f"item id '{item_id}' is used twice")
        if not item_id.startswith(scale_id + "_"):
            raise DefinitionError(
                file,
                f"$.items[{index}].id",
                "item-id-prefix",
                f"item id '{item_id}' must start with the scale id: '{scale_id}_<number>'",
            )
    items_by_id = {i["id"]: i for i in raw_items}

    def require_item(item_id: str, path: str, what: str) -> None:
        if item_id not in items_by_id:
            raise DefinitionError(file, path, "reference-exists", f"{what} refers to unknown item '{item_id}'")

    resolved_options = [_resolve_options(raw, k, file) for k in range(len(raw_items))]
    for k, options in enumerate(resolved_options):
        _check_item(raw, k, options, file)
        if "visible_if" in raw_items[k]:
            for ref in condition_items(raw_items[k]["visible_if"]):
                require_item(ref, f"$.items[{k}].visible_if", "visibility rule")

    recall_ids = [o["id"] for o in raw["recall"]["options"]]
    if raw["recall"]["default"] not in recall_ids:
        raise DefinitionError(
            file,
            "$.recall.default",
            "default-recall-exists",
            f"default recall '{raw['recall']['default']}' is not one of {recall_ids}",
        )

    group_of: dict[str, tuple[str, ...]] = {}
    groups: list[tuple[str, ...]] = []
    for g, group in enumerate(raw.get("choice_groups", [])):
        members = tuple(group["items"])
        for m, member in enumerate(members):
            require_item(member, f"$.choice_groups[{g}].items[{m}]", f"choice group '{group['id']}'")
            if member in group_of:
                raise DefinitionError(
                    file,
                    f"$.choice_groups[{g}].items[{m}]",
                    "choice-group-disjoint",
                    f"item '{member}' is already in another choice group",
                )
            group_of[member] = members
        groups.append(members)

    scoring = raw["scoring"]
    subscales: list[Subscale] = []
    subscale_ranges: dict[str, tuple[int, int]] = {}
    for s, spec in enumerate(scoring.get("subscales", [])):
        if spec["id"] in items_by_id or spec["id"] in subscale_ranges:
            raise DefinitionError(
                file,
                f"$.scoring.subscales[{s}].id",
                "subscale-ids-unique",
                f"subscale id '{spec['id']}' clashes with an item or another subscale",
            )
        for m, member in enumerate(spec["items"]):
            require_item(member, f"$.scoring.subscales[{s}].items[{m}]", f"subscale '{spec['id']}'")
            if not items_by_id[member].get("scored", True):
                raise DefinitionError(
                    file,
                    f"$.scoring.subscales[{s}].items[{m}]",
                    "subscale-items-scored",
                    f"subscale '{spec['id']}' includes unscored item '{member}'",
                )
        if spec["method"] == "sum":
            lo, hi = _sum_range(spec["items"], items_by_id, {}, group_of)
        else:
            lo = max(items_by_id[m]["min"] for m in spec["items"])
            hi = max(items_by_id[m]["max"] for m in spec["items"])
        subscale_ranges[spec["id"]] = (lo, hi)
        subscales.append(
            Subscale(spec["id"], spec["label"], spec["method"], tuple(spec["items"]), lo, hi, spec["source"], spec)
        )

    total = scoring["total"]
    if total["terms"] == "all_scored_items":
        terms = [i["id"] for i in raw_items if i.get("scored", True)]
    else:
        terms = list(total["terms"])
        for t, term in enumerate(terms):
            if term not in items_by_id and term not in subscale_ranges:
                raise DefinitionError(
                    file,
                    f"$.scoring.total.terms[{t}]",
                    "reference-exists",
                    f"total term '{term}' is neither an item nor a subscale",
                )
            if term in items_by_id and not items_by_id[term].get("scored", True):
                raise DefinitionError(
                    file, f"$.scoring.total.terms[{t}]", "total-items-scored", f"total includes unscored item '{term}'"
                )
    total_min, total_max = _sum_range(terms, items_by_id, subscale_ranges, group_of)
    if (total["min"], total["max"]) != (total_min, total_max):
        raise DefinitionError(
            file,
            "$.scoring.total",
            "total-range-matches-items",
            f"declared total range {total['min']}-{total['max']} differs from the range the items imply "
            f"({total_min}-{total_max}); fix the items' min/max or the declared range",
        )

    missing = scoring["missing"]
    if missing["policy"] == "prorate_mean":
        if "max_missing" not in missing:
            raise DefinitionError(
                file, "$.scoring.missing", "prorate-needs-max", "policy prorate_mean needs max_missing"
            )
        if any(t in subscale_ranges for t in terms):
            raise DefinitionError(
                file,
                "$.scoring.missing.policy",
                "prorate-items-only",
                "prorating is defined for a plain sum of items; this total sums subscales",
            )
    _check_bands(raw, total_min, total_max, file)

    rules: list[Rule] = []
    for kind, key in (("safety", "safety_triggers"), ("consistency", "consistency_checks")):
        for r, spec in enumerate(raw.get(key, [])):
            refs = condition_items(spec["when"])
            for ref in refs:
                require_item(ref, f"$.{key}[{r}].when", f"{kind} rule '{spec['id']}'")
            rules.append(
                Rule(spec["id"], kind, spec["message"], spec["source"], compile_condition(spec["when"]), tuple(refs))
            )

    items = tuple(
        Item(
            id=i["id"],
            number=i["number"],
            short_name=i["short_name"],
            prompt=i["prompt"],
            min=i["min"],
            max=i["max"],
            options=tuple(resolved_options[k]),
            not_assessed=tuple(i.get("not_assessed", [])),
            scored=i.get("scored", True),
            required=i.get("required", True),
            rated_by=i.get("rated_by", raw["rater"]),
            guide=i.get("guide"),
            raw=i,
            visible_if=compile_condition(i["visible_if"]) if "visible_if" in i else None,
        )
        for k, i in enumerate(raw_items)
    )
    definition = ScaleDefinition(
        id=scale_id,
        version=raw["version"],
        title=raw["title"],
        abbreviation=raw["abbreviation"],
        rater=raw["rater"],
        raw=raw,
        hash=canonical_hash(raw),
        source_file=file,
        items=items,
        choice_groups=tuple(groups),
        subscales=tuple(subscales),
        total_terms=tuple(terms),
        total_min=total_min,
        total_max=total_max,
        missing_policy=missing["policy"],
        max_missing=missing.get("max_missing", 0),
        band_sets={s["id"]: tuple(s["bands"]) for s in scoring.get("bands", {}).get("sets", [])},
        default_band_set=scoring.get("bands", {}).get("default"),
        rules=tuple(rules),
    )
    definition.item_by_id.update({i.id: i for i in items})
    definition.group_of.update(group_of)
    definition.subscale_by_id.update({s.id: s for s in subscales})
    return definition


def load_file(path: Path | str) -> ScaleDefinition:
    """Load, validate and compile one definition file."""
    path = Path(path)
    name = _display_name(path)
    definition = compile_definition(read_definition_file(path), name)
    if path.stem != definition.id:
        raise DefinitionError(
            name,
            "$.id",
            "file-name-matches-id",
            f"scale id '{definition.id}' must match the file name '{path.stem}.json'; rename one of them",
        )
    return definition


def definitions_dir() -> Path:
    """The directory of scale definitions: $SCALEBOOK_SCALES_DIR if set, else scales/definitions.

    The variable lets a site try a definition (or a test use a copy of the directory) without
    touching the shipped files."""
    chosen = os.environ.get(SCALES_DIR_ENV, "").strip()
    return Path(chosen) if chosen else DEFINITIONS_DIR


CASES_SUFFIX = ".cases.json"


def definition_files(directory: Path | str | None = None) -> list[Path]:
    """The definition files of a directory: every *.json except the test cases (*.cases.json)."""
    return sorted(p for p in Path(directory or definitions_dir()).glob("*.json") if not p.name.endswith(CASES_SUFFIX))


def cases_file(scale_id: str, directory: Path | str | None = None) -> Path:
    """Where a scale's hand-computed test cases live: `<id>.cases.json` beside its definition."""
    return Path(directory or definitions_dir()) / f"{scale_id}{CASES_SUFFIX}"


def load_directory(directory: Path | str | None = None) -> dict[str, ScaleDefinition]:
    """Load every definition in a directory, failing on the first invalid one (for checks that
    must see every file valid; the running app uses `registry`, which skips a broken file)."""
    return {d.id: d for d in (load_file(p) for p in definition_files(directory))}


def validate_files(paths: Iterable[Path | str]) -> list[str]:
    """Validate files and return one message per failure (empty when all are valid)."""
    problems = []
    for path in paths:
        try:
            load_file(path)
        except DefinitionError as exc:
            problems.append(str(exc))
    return problems


@dataclass(frozen=True)
class SkippedDefinition:
    """A definition file the registry could not load: its file name (without .json, which is
    the scale id it should have had) and the message naming file, JSON path and rule."""

    stem: str
    message: str


@dataclass(frozen=True)
class _Loaded:
    scales: dict[str, ScaleDefinition]
    skipped: tuple[SkippedDefinition, ...]


def _directory_signature(directory: Path) -> tuple[tuple[str, int, int], ...]:
    signature = []
    for path in definition_files(directory):
        try:
            stat = path.stat()
        except OSError:
            continue  # removed between the listing and the stat: the next call sees it gone
        signature.append((path.name, stat.st_mtime_ns, stat.st_size))
    return tuple(signature)


def _load_leniently(directory: Path) -> _Loaded:
    """Every valid definition in the directory; each invalid one is skipped with its message
    and a warning in the log, so one bad file never takes the other scales (or the app) down."""
    scales: dict[str, ScaleDefinition] = {}
    skipped: list[SkippedDefinition] = []
    if not directory.is_dir():
        message = f"{directory}: the scale definitions directory does not exist (check ${SCALES_DIR_ENV})"
        log.warning("no scale definitions loaded: %s", message)
        return _Loaded({}, (SkippedDefinition("", message),))
    for path in definition_files(directory):
        try:
            definition = load_file(path)
        except DefinitionError as exc:
            message = str(exc)
        except Exception as exc:  # a rule the loader does not check yet: still skip the file, never crash
            message = f"{_display_name(path)}: could not be loaded ({type(exc).__name__}: {exc})"
        else:
            scales[definition.id] = definition
            continue
        # One line per broken file each time the directory is (re)loaded: the server log in the app,
        # stderr on the command line (where an export would otherwise silently lack the scale).
        log.warning("scale definition skipped: %s", message)
        skipped.append(SkippedDefinition(path.stem, message))
    return _Loaded(scales, tuple(skipped))


@lru_cache(maxsize=4)
def _cached_registry(directory: str, signature: tuple) -> _Loaded:
    return _load_leniently(Path(directory))


def registry_version(directory: Path | str | None = None) -> tuple[str, tuple]:
    """What the registry's content depends on (the directory and each file's name, time and size),
    for caches of things validated against it (protocol.loader)."""
    directory = Path(directory or definitions_dir())
    return str(directory), _directory_signature(directory)


def _loaded(directory: Path | str | None) -> _Loaded:
    return _cached_registry(*registry_version(directory))


def registry(directory: Path | str | None = None) -> dict[str, ScaleDefinition]:
    """Every valid definition by id; reloaded only when a file is added, removed or changed.

    A file that fails validation is left out (see `skipped_definitions`), so the app keeps
    serving every other scale while an admin fixes it."""
    return _loaded(directory).scales


def skipped_definitions(directory: Path | str | None = None) -> list[SkippedDefinition]:
    """The definition files `registry` left out, each with the message saying what is wrong."""
    return list(_loaded(directory).skipped)


def skipped_note(scale_id: str, directory: Path | str | None = None) -> str:
    """' (its definition file was skipped: ...)' when `scale_id`'s file failed to load, else ''."""
    for entry in _loaded(directory).skipped:
        if entry.stem == scale_id:
            return f" (its definition file was skipped: {entry.message})"
    return ""


def get_scale(scale_id: str, directory: Path | str | None = None) -> ScaleDefinition:
    """One definition by id; UnknownScaleError names the known ids (and says so when the
    scale's file exists but is broken)."""
    scales = registry(directory)
    if scale_id not in scales:
        raise UnknownScaleError(
            f"unknown scale '{scale_id}'; known scales: {', '.join(sorted(scales))}{skipped_note(scale_id, directory)}"
        )
    return scales[scale_id]


def clinician_scale_ids() -> list[str]:
    """Scales a rater administers (clinician- or observer-rated), in registry order."""
    return [sid for sid, d in registry().items() if d.rater in ("clinician", "observer")]


def self_report_scale_ids() -> list[str]:
    """Scales participants rate themselves, in registry order."""
    return [sid for sid, d in registry().items() if d.rater == "self"]


@dataclass(frozen=True)
class ScoreMeasure:
    """One score (a scale's total or one of its subscales) that a definition marks with
    `"measures": <kind>` (scales/schema.json), with its range and axis label.

    `score` is "total" or the subscale id; `label` e.g. "CADSS total (0–92)" or
    "BPRS positive subscale (4–28)"."""

    scale_id: str
    score: str
    label: str
    min: int
    max: int


def score_measures(kind: str, directory: Path | str | None = None) -> tuple[ScoreMeasure, ...]:
    """Every score the loaded definitions mark as measuring `kind` (e.g. "dissociation").

    Order: totals before subscales (a whole scale built for the construct, such as CADSS, leads
    a subscale borrowed from a broader scale, such as BPRS+), then by scale id and subscale
    order. A new definition that marks a score joins without code changes."""
    found: list[tuple[tuple, ScoreMeasure]] = []
    for scale_id, definition in registry(directory).items():
        abbreviation = definition.abbreviation
        if definition.raw["scoring"]["total"].get("measures") == kind:
            lo, hi = definition.total_min, definition.total_max
            found.append(
                ((0, scale_id, 0), ScoreMeasure(scale_id, "total", f"{abbreviation} total ({lo}–{hi})", lo, hi))
            )
        for position, raw in enumerate(definition.raw["scoring"].get("subscales", [])):
            if raw.get("measures") == kind:
                sub = definition.subscale_by_id[raw["id"]]
                found.append(
                    (
                        (1, scale_id, position),
                        ScoreMeasure(
                            scale_id,
                            sub.id,
                            f"{abbreviation} {sub.id} subscale ({sub.min}–{sub.max})",
                            sub.min,
                            sub.max,
                        ),
                    )
                )
    return tuple(measure for _, measure in sorted(found, key=lambda pair: pair[0]))
