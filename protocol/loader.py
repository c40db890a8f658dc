"""Load and validate a study protocol file.

The protocol is data a coordinator can read (`protocol/studies/*.json`). Validation runs in two
passes, like scale definitions: the JSON Schema (`protocol/schema.json`) for shape, then
cross-field rules the schema cannot express (unique ids, scales that exist in the scale registry,
a real IANA time zone, a default dose inside its allowed range, exactly one primary endpoint,
rules that refer to rules and scales that exist, placeholders that are declared). Any failure
raises `ProtocolError` naming the file, the JSON path and the rule.

Which file: an explicit path, else the `SCALEBOOK_PROTOCOL` environment variable, else
`protocol/studies/default.json`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from protocol.errors import ProtocolError
from protocol.model import (
    Arm,
    BaselineRule,
    Condition,
    Dosing,
    Eligibility,
    EligibilityCriterion,
    InductionCourse,
    InfusionPlan,
    MaintenanceCourse,
    OutcomeRule,
    PrimaryEndpoint,
    Protocol,
    Range,
    SeverityCriterion,
    Site,
    SupportiveText,
    Threshold,
    Timepoint,
    VitalsPolicy,
    VitalsThresholds,
    Window,
    placeholder_names,
)
from protocol.timing import Duration
from scales import registry
from scales.definition import canonical_hash
from scales.jsonfiles import check_schema, display_name, read_json_file
from scales.loader import registry_version, skipped_note

PACKAGE_DIR = Path(__file__).resolve().parent
SCHEMA_PATH = PACKAGE_DIR / "schema.json"
STUDIES_DIR = PACKAGE_DIR / "studies"
DEFAULT_PROTOCOL = STUDIES_DIR / "default.json"
PROTOCOL_ENV = "SCALEBOOK_PROTOCOL"

log = logging.getLogger(__name__)

COMPARISONS = (
    "total_at_most",
    "total_below",
    "total_at_least",
    "total_above",
    "percent_reduction_at_least",
    "percent_reduction_below",
)


def _display_name(path: Path) -> str:
    return display_name(path, PACKAGE_DIR.parent)


def default_protocol_path() -> Path:
    """The protocol file the app runs: $SCALEBOOK_PROTOCOL if set, else the shipped default."""
    chosen = os.environ.get(PROTOCOL_ENV, "").strip()
    return Path(chosen) if chosen else DEFAULT_PROTOCOL


def read_protocol_file(path: Path) -> Any:
    """Parse one file, turning JSON syntax errors into a ProtocolError with line and column."""
    return read_json_file(path, _display_name(path), ProtocolError)


def validate_schema(raw: Any, file: str) -> None:
    """Check the protocol against protocol/schema.json and report the most relevant error."""
    check_schema(raw, file, SCHEMA_PATH, ProtocolError)


# --- cross-field checks -------------------------------------------------------------------


def _check_unique(entries: list[dict[str, Any]], path: str, what: str, file: str) -> None:
    """Ids name things that are stored (arms, sites, timepoints, rules): a repeated id would let
    one silently replace the other."""
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        if entry["id"] in seen:
            raise ProtocolError(file, f"{path}[{index}].id", "ids-unique", f"{what} id '{entry['id']}' is used twice")
        seen.add(entry["id"])


def _check_scale(scale_id: str, path: str, file: str, known: Iterable[str]) -> None:
    known = sorted(known)
    if scale_id not in known:
        raise ProtocolError(
            file,
            path,
            "scale-exists",
            f"scale '{scale_id}' is not a known scale; known scales: {', '.join(known)}{skipped_note(scale_id)}",
        )


def _check_timezone(raw: dict[str, Any], file: str) -> ZoneInfo:
    name = raw["timezone"]
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ProtocolError(
            file,
            "$.timezone",
            "timezone-valid",
            f"'{name}' is not an IANA time zone; use a name such as Europe/London or America/New_York",
        ) from None


def _check_range(spec: dict[str, Any], path: str, what: str, file: str) -> Range:
    lo, hi = Decimal(str(spec["min"])), Decimal(str(spec["max"]))
    if lo > hi:
        raise ProtocolError(file, path, "range-ordered", f"{what}: min {lo} is greater than max {hi}")
    default = None
    if "default" in spec:
        default = Decimal(str(spec["default"]))
        if not lo <= default <= hi:
            raise ProtocolError(
                file,
                f"{path}.default",
                "default-in-range",
                f"{what}: default {default} is outside the allowed range {lo}–{hi}",
            )
    return Range(min=lo, max=hi, default=default)


def _check_timepoints(raw: dict[str, Any], file: str, scales: set[str]) -> str:
    """Unique ids, known scales, exactly one primary endpoint; returns the primary endpoint id."""
    timepoints = raw["timepoints"]
    _check_unique(timepoints, "$.timepoints", "timepoint", file)
    primaries: list[int] = []
    for t, timepoint in enumerate(timepoints):
        for s, scale_id in enumerate(timepoint["scales"]):
            _check_scale(scale_id, f"$.timepoints[{t}].scales[{s}]", file, scales)
        if timepoint.get("primary_endpoint"):
            primaries.append(t)
    if not primaries:
        raise ProtocolError(
            file,
            "$.timepoints",
            "primary-endpoint-exists",
            'no timepoint is the primary endpoint; mark one with "primary_endpoint": true',
        )
    if len(primaries) > 1:
        names = ", ".join(f"'{timepoints[t]['id']}'" for t in primaries)
        raise ProtocolError(
            file,
            f"$.timepoints[{primaries[1]}].primary_endpoint",
            "one-primary-endpoint",
            f"{len(primaries)} timepoints ({names}) are marked as the primary endpoint; a study has one",
        )
    return timepoints[primaries[0]]["id"]


def _require_due(
    scale_id: str, timepoint_id: str, path: str, rule: str, what: str, raw: dict[str, Any], file: str
) -> None:
    by_id = {t["id"]: t for t in raw["timepoints"]}
    if timepoint_id not in by_id:
        raise ProtocolError(
            file,
            path,
            "timepoint-exists",
            f"{what} names timepoint '{timepoint_id}', which is not defined; known: {', '.join(by_id)}",
        )
    if scale_id not in by_id[timepoint_id]["scales"]:
        raise ProtocolError(
            file,
            path,
            rule,
            f"{what} reads scale '{scale_id}', which is not due at timepoint '{timepoint_id}' "
            f"(due there: {', '.join(by_id[timepoint_id]['scales'])})",
        )


def _check_outcomes(raw: dict[str, Any], file: str, scales: set[str]) -> None:
    rules = raw["outcomes"]
    _check_unique(rules, "$.outcomes", "outcome rule", file)
    by_id = {r["id"]: r for r in rules}
    for r, rule in enumerate(rules):
        where = f"$.outcomes[{r}]"
        _check_scale(rule["scale"], f"{where}.scale", file, scales)
        references = [(f"{where}.requires[{k}]", ref) for k, ref in enumerate(rule.get("requires", []))]
        if "after" in rule:
            references.append((f"{where}.after", rule["after"]))
        for path, ref in references:
            if ref not in by_id:
                raise ProtocolError(file, path, "rule-exists", f"rule '{rule['id']}' refers to unknown rule '{ref}'")
            target = by_id[ref]
            if target["kind"] not in ("response", "remission"):
                raise ProtocolError(
                    file,
                    path,
                    "rule-reference-kind",
                    f"rule '{rule['id']}' refers to {target['kind']} rule '{ref}'; "
                    f"only response and remission rules can be combined or followed by a relapse",
                )
            if target["scale"] != rule["scale"]:
                raise ProtocolError(
                    file,
                    path,
                    "rule-reference-same-scale",
                    f"rule '{rule['id']}' ({rule['scale']}) refers to rule '{ref}' of another scale ({target['scale']})",
                )


def _check_eligibility(raw: dict[str, Any], file: str, scales: set[str]) -> None:
    eligibility = raw["eligibility"]
    criteria = eligibility["criteria"] + [eligibility["severity"]]
    _check_unique(criteria, "$.eligibility.criteria+severity", "eligibility criterion", file)
    for c, criterion in enumerate(eligibility["criteria"]):
        answer = criterion["answer"]
        where = f"$.eligibility.criteria[{c}]"
        if criterion["kind"] == "exclusion" and answer["type"] != "yes_no":
            raise ProtocolError(
                file,
                f"{where}.answer",
                "exclusion-yes-no",
                f"exclusion criterion '{criterion['id']}' must be answered yes/no (yes = applies = not eligible)",
            )
        if answer["type"] == "integer" and "max" in answer and answer["min"] > answer["max"]:
            raise ProtocolError(
                file,
                f"{where}.answer",
                "range-ordered",
                f"criterion '{criterion['id']}': min {answer['min']} is greater than max {answer['max']}",
            )
    severity = eligibility["severity"]
    _check_scale(severity["scale"], "$.eligibility.severity.scale", file, scales)
    total_max = registry()[severity["scale"]].total_max
    if severity["min_total"] > total_max:
        raise ProtocolError(
            file,
            "$.eligibility.severity.min_total",
            "threshold-reachable",
            f"min_total {severity['min_total']} is above the highest possible {severity['scale']} total ({total_max})",
        )
    _require_due(
        severity["scale"],
        raw["baseline"]["timepoint"],
        "$.eligibility.severity.scale",
        "severity-scale-due",
        "the severity criterion",
        raw,
        file,
    )


def _check_vitals(raw: dict[str, Any], file: str) -> None:
    for measure, threshold in raw["vitals"]["thresholds"].items():
        if "above" in threshold and "below" in threshold and threshold["below"] >= threshold["above"]:
            raise ProtocolError(
                file,
                f"$.vitals.thresholds.{measure}",
                "threshold-ordered",
                f"{measure}: 'below' {threshold['below']} must be smaller than 'above' {threshold['above']}",
            )


def _check_supportive_text(raw: dict[str, Any], file: str) -> None:
    spec = raw["supportive_text"]
    try:
        used = placeholder_names(spec["text"])
    except ValueError as exc:
        raise ProtocolError(
            file,
            "$.supportive_text.text",
            "placeholder-syntax",
            f"the text has a broken placeholder ({exc}); write {{name}}, and {{{{ for a brace",
        ) from None
    declared = list(spec["placeholders"])
    undeclared = [name for name in used if name not in declared]
    if undeclared:
        raise ProtocolError(
            file,
            "$.supportive_text.text",
            "placeholders-declared",
            f"placeholder(s) {', '.join('{' + n + '}' for n in undeclared)} are used but not declared in placeholders",
        )
    unused = [name for name in declared if name not in used]
    if unused:
        raise ProtocolError(
            file,
            "$.supportive_text.placeholders",
            "placeholders-used",
            f"placeholder(s) {', '.join(unused)} are declared but not used in the text",
        )


def _check_infusion_plan(raw: dict[str, Any], file: str) -> None:
    plan = raw["infusion_plan"]
    maintenance = plan.get("maintenance") or {}
    if maintenance.get("min_days_between", 0) > maintenance.get("interval_days", 56):
        raise ProtocolError(
            file,
            "$.infusion_plan.maintenance.min_days_between",
            "range-ordered",
            f"maintenance min_days_between {maintenance['min_days_between']} is more than its interval_days "
            f"{maintenance['interval_days']}: the planned infusions themselves would be too close",
        )
    uses_each = [t["id"] for t in raw["timepoints"] if t["anchor"] == "each_infusion"]
    if plan["kind"] == "single" and uses_each:
        # Harmless (there is only infusion 1) but usually a copy-paste slip; say so.
        raise ProtocolError(
            file,
            "$.infusion_plan.kind",
            "anchor-fits-plan",
            f"a single-infusion study anchors timepoint(s) {', '.join(uses_each)} to each infusion; "
            f"use the first_infusion anchor",
        )


# --- compilation --------------------------------------------------------------------------


def _duration(spec: dict[str, Any]) -> Duration:
    return Duration(value=spec["value"], unit=spec["unit"])


def _condition(spec: dict[str, Any]) -> Condition:
    if "all" in spec or "any" in spec:
        op = "all" if "all" in spec else "any"
        return Condition(op=op, parts=tuple(_condition(part) for part in spec[op]))
    ((op, value),) = spec.items()
    return Condition(op=op, value=Decimal(str(value)))


def _threshold(spec: dict[str, Any]) -> Threshold:
    return Threshold(
        above=Decimal(str(spec["above"])) if "above" in spec else None,
        below=Decimal(str(spec["below"])) if "below" in spec else None,
    )


def _infusion_plan(spec: dict[str, Any]) -> InfusionPlan:
    if spec["kind"] == "single":
        return InfusionPlan(kind="single")
    induction = spec["induction"]
    maintenance = spec.get("maintenance")
    return InfusionPlan(
        kind="repeated",
        induction=InductionCourse(induction["count"], tuple(induction["weekdays"]), induction["min_days_between"]),
        maintenance=MaintenanceCourse(
            maintenance["count"], maintenance["interval_days"], maintenance.get("min_days_between")
        )
        if maintenance
        else None,
    )


def _criterion(spec: dict[str, Any]) -> EligibilityCriterion:
    answer = spec["answer"]
    return EligibilityCriterion(
        id=spec["id"],
        kind=spec["kind"],
        text=spec["text"],
        answer=answer["type"],
        min=answer.get("min"),
        max=answer.get("max"),
        unit=answer.get("unit"),
    )


def compile_protocol(raw: Any, file: str = "<protocol>") -> Protocol:
    """Validate a parsed protocol and compile it. Raises ProtocolError."""
    validate_schema(raw, file)
    scales = set(registry())
    timezone = _check_timezone(raw, file)
    _check_unique(raw["sites"], "$.sites", "site", file)
    _check_unique(raw["arms"], "$.arms", "arm", file)
    primary_timepoint = _check_timepoints(raw, file, scales)
    _check_infusion_plan(raw, file)
    dosing = raw["dosing"]
    mg_per_kg = _check_range(dosing["mg_per_kg"], "$.dosing.mg_per_kg", "dose in mg/kg", file)
    weight_kg = _check_range(dosing["weight_kg"], "$.dosing.weight_kg", "weight in kg", file)
    duration = _check_range(dosing["duration_minutes"], "$.dosing.duration_minutes", "duration in minutes", file)
    _check_vitals(raw, file)
    primary = raw["primary_outcome"]
    _check_scale(primary["scale"], "$.primary_outcome.scale", file, scales)
    _require_due(
        primary["scale"],
        primary_timepoint,
        "$.primary_outcome.scale",
        "primary-scale-due",
        "the primary outcome",
        raw,
        file,
    )
    baseline = raw["baseline"]
    by_id = {t["id"]: t for t in raw["timepoints"]}
    if baseline["timepoint"] not in by_id:
        raise ProtocolError(
            file,
            "$.baseline.timepoint",
            "timepoint-exists",
            f"baseline timepoint '{baseline['timepoint']}' is not defined in timepoints",
        )
    chosen = by_id[baseline["timepoint"]]
    if chosen["anchor"] != "enrolment" and chosen["offset"]["value"] > 0:
        # A rating due after the infusion starts can never be the baseline (protocol.baseline).
        raise ProtocolError(
            file,
            "$.baseline.timepoint",
            "baseline-before-infusion",
            f"baseline timepoint '{chosen['id']}' is due {chosen['offset']['value']} "
            f"{chosen['offset']['unit']} after the infusion starts; the baseline is rated before it",
        )
    _check_outcomes(raw, file, scales)
    _check_eligibility(raw, file, scales)
    _check_supportive_text(raw, file)

    vitals = raw["vitals"]
    thresholds = vitals["thresholds"]
    return Protocol(
        id=raw["id"],
        version=raw["version"],
        title=raw["title"],
        description=raw.get("description", ""),
        sites=tuple(Site(s["id"], s["name"]) for s in raw["sites"]),
        arms=tuple(Arm(a["id"], a["label"]) for a in raw["arms"]),
        blinded=raw["blinded"],
        timezone=timezone,
        infusion_plan=_infusion_plan(raw["infusion_plan"]),
        dosing=Dosing(
            drug=dosing["drug"],
            diluent=dosing.get("diluent"),
            mg_per_kg=mg_per_kg,
            weight_kg=weight_kg,
            duration_minutes=duration,
        ),
        vitals=VitalsPolicy(
            interval_minutes=vitals["interval_minutes"],
            after_infusion_minutes=vitals["after_infusion_minutes"],
            tolerance_minutes=vitals["tolerance_minutes"],
            thresholds=VitalsThresholds(
                **{m: _threshold(thresholds[m]) for m in ("systolic", "diastolic", "heart_rate", "spo2")}
            ),
        ),
        overdue_after=_duration(raw["schedule"]["overdue_after"]),
        timepoints=tuple(
            Timepoint(
                id=t["id"],
                label=t["label"],
                anchor=t["anchor"],
                offset=_duration(t["offset"]),
                window=Window(_duration(t["window"]["before"]), _duration(t["window"]["after"])),
                scales=tuple(t["scales"]),
                primary_endpoint=t.get("primary_endpoint", False),
            )
            for t in raw["timepoints"]
        ),
        primary_endpoint=PrimaryEndpoint(primary_timepoint, primary["scale"], primary["description"]),
        baseline_rule=BaselineRule(
            rule=baseline["rule"],
            timepoint=baseline["timepoint"],
            lookback=_duration(baseline["lookback"]) if "lookback" in baseline else None,
        ),
        outcome_rules=tuple(
            OutcomeRule(
                id=r["id"],
                kind=r["kind"],
                scale=r["scale"],
                label=r["label"],
                source=r["source"],
                when=_condition(r["when"]) if "when" in r else None,
                requires=tuple(r.get("requires", ())),
                after=r.get("after"),
                consecutive=r.get("consecutive", 1),
            )
            for r in raw["outcomes"]
        ),
        eligibility=Eligibility(
            criteria=tuple(_criterion(c) for c in raw["eligibility"]["criteria"]),
            severity=SeverityCriterion(**raw["eligibility"]["severity"]),
        ),
        supportive_text=SupportiveText(
            text=raw["supportive_text"]["text"],
            placeholders=tuple(raw["supportive_text"]["placeholders"].items()),
        ),
        raw=raw,
        hash=canonical_hash(raw),
        source_file=file,
    )


def load_file(path: Path | str) -> Protocol:
    """Load, validate and compile one protocol file (no caching).

    Every failure is a ProtocolError, so that the pages and the command line show one message:
    a case no check foresaw still names the file and the error (and is logged), never a traceback."""
    path = Path(path)
    name = _display_name(path)
    try:
        return compile_protocol(read_protocol_file(path), name)
    except ProtocolError:
        raise
    except Exception as exc:
        log.warning("protocol %s could not be loaded: %s: %s", name, type(exc).__name__, exc)
        raise ProtocolError(
            name,
            "$",
            "loadable",
            f"could not be loaded ({type(exc).__name__}: {exc}); check it with `python -m protocol validate {name}`",
        ) from None


@lru_cache(maxsize=8)
def _cached_load(path: str, signature: tuple[int, int], scales_version: tuple) -> Protocol:
    return load_file(path)


def protocol_version(path: Path | str | None = None) -> tuple:
    """What `load_protocol(path)` depends on: the file chosen, its time and size, and the scale
    definitions it is validated against. A cache keyed by it (ui/study.py) sees every change."""
    chosen = Path(path) if path is not None else default_protocol_path()
    try:
        stat = chosen.stat()
        signature = (stat.st_mtime_ns, stat.st_size)
    except OSError:
        signature = None
    return str(chosen), signature, registry_version()


def load_protocol(path: Path | str | None = None) -> Protocol:
    """The study protocol: `path`, else $SCALEBOOK_PROTOCOL, else protocol/studies/default.json.

    Reloaded only when the file (or a scale definition file) changes. Raises ProtocolError naming
    file, JSON path and rule.
    """
    chosen = Path(path) if path is not None else default_protocol_path()
    try:
        stat = chosen.stat()
    except OSError as exc:
        raise ProtocolError(_display_name(chosen), "$", "readable", f"cannot read the file ({exc.strerror})") from None
    # Validated against the scale registry too: a changed or broken definition file is seen here.
    return _cached_load(str(chosen.resolve()), (stat.st_mtime_ns, stat.st_size), registry_version())


def study_files(directory: Path | str = STUDIES_DIR) -> list[Path]:
    return sorted(Path(directory).glob("*.json"))


def validate_files(paths: Iterable[Path | str]) -> list[str]:
    """Validate protocol files and return one message per failure (empty when all are valid)."""
    problems = []
    for path in paths:
        try:
            load_file(path)
        except ProtocolError as exc:
            problems.append(str(exc))
    return problems
