"""HL7 FHIR R4 out: one Questionnaire per scale definition and a Bundle of QuestionnaireResponses.

`python -m exports fhir-questionnaire SCALE_ID` prints the Questionnaire of one shipped scale:

- every item is a `choice` item whose linkId is the Scalebook item id; each scored option is an
  answerOption whose `valueCoding` carries the option value as its code (or the LOINC answer
  code where the definition maps one) and whose `ordinalValue` extension carries the value that
  is summed, so any SDC renderer (LHC-Forms, ...) computes `weight()` as Scalebook does;
- not-assessed codes are answerOptions WITHOUT an ordinalValue: a renderer offers them and
  `weight()` never adds them;
- visibility rules become `enableWhen` (comparisons on an ordinal are expanded into the option
  codes they allow, because R4 only compares codings with `=`); choice groups (HAM-D 16A/16B)
  become mutual `exists = false` conditions; a rule `enableWhen` cannot express is written as
  an SDC `enableWhenExpression` instead;
- the total (and each subscale) is a read-only `integer` item with an SDC
  `calculatedExpression` in the form LHC-Forms writes, e.g.
  `%resource.item.where(linkId != 'phq9_10' and linkId != 'total').answer.weight().sum()`;
  QIDS-SR16's domain maxima are `.max()` terms;
- LOINC codes of the panel, items and total where the definition has them.

`python -m exports fhir-responses --out FILE` writes a Bundle (type `collection`) with one
QuestionnaireResponse per submitted assessment (drafts are work in progress, not data, in every
export: db.exports), optionally one site's (--site) and as an account (--as, which a site-bound
account cannot widen); the export is an audit event. Each references its Questionnaire by canonical URL and
the definition version it was scored under (`<url>|<version>`), names the participant by
pseudonymous code only (a logical identifier reference: Scalebook holds no Patient record),
the rater as author, the time the rating happened (`authored`, in the site's local time with
its offset), the answers as the Questionnaire's codings, and the stored total and subscales.

The canonical base URL defaults to https://scalebook.invalid/fhir (`.invalid` is reserved and
never resolves); a trial sets its own with --base-url.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from db import exports as db_exports
from db.clock import parse_utc, utc_now
from db.demo import is_demo
from exports.cli import CommandError
from exports.files import write_text_atomically
from exports.scope import NO_ARM, add_file_export_arguments, export_to_file
from scales import ScaleDefinition
from scales.loader import registry

DEFAULT_BASE_URL = "https://scalebook.invalid/fhir"

ORDINAL_VALUE = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
ITEM_WEIGHT = "http://hl7.org/fhir/StructureDefinition/itemWeight"
CO_VALUE = "http://hl7.org/fhir/StructureDefinition/iso21090-CO-value"
WEIGHT_EXTENSIONS = (ORDINAL_VALUE, ITEM_WEIGHT, CO_VALUE)
CALCULATED_EXPRESSION = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-calculatedExpression"
ENABLE_WHEN_EXPRESSION = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-enableWhenExpression"
VARIABLE = "http://hl7.org/fhir/StructureDefinition/variable"
LOINC = "http://loinc.org"

TOTAL_LINK_ID = "total"
SUBSCALE_PREFIX = "sub_"

# Assessment status -> QuestionnaireResponse.status (R4 value set questionnaire-answers-status).
RESPONSE_STATUS = {
    "draft": "in-progress",
    "complete": "completed",
    "signed": "completed",
    "locked": "completed",
    "amended": "amended",
}
SELF_MODES = frozenset({"self", "kiosk", "link"})

_OPS_FHIRPATH = {"==": "=", "!=": "!=", ">": ">", ">=": ">=", "<": "<", "<=": "<="}
_COMPARE = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
}


# ---------------------------------------------------------------------------------------------
# Questionnaire
# ---------------------------------------------------------------------------------------------


def questionnaire_url(scale_id: str, base_url: str = DEFAULT_BASE_URL) -> str:
    return f"{base_url.rstrip('/')}/Questionnaire/{scale_id}"


def resource_id(text: str) -> str:
    """A FHIR id ([A-Za-z0-9-.]{1,64}) from a Scalebook id: underscores become hyphens."""
    return re.sub(r"[^A-Za-z0-9.-]", "-", text)[:64]


def computable_name(definition: ScaleDefinition) -> str:
    """Questionnaire.name: starts with a capital, letters/digits/underscore only (e.g. HAMD17)."""
    name = re.sub(r"[^A-Za-z0-9_]", "", definition.abbreviation) or definition.id
    name = name[0].upper() + name[1:]
    return name if name[0].isalpha() else "Scale" + name


def _loinc_answers(definition: ScaleDefinition, item) -> Mapping[str, str]:
    """The definition's LOINC answer codes (value -> code) where they apply to this item: they
    describe the scale's shared answer list, so an item with its own options (PHQ-9 item 10,
    'how difficult') keeps plain value codes rather than borrowing another list's codes."""
    answers = definition.raw.get("loinc", {}).get("answers", {})
    if not answers:
        return {}
    shared = isinstance(item.raw.get("options"), str) or not definition.raw.get("option_sets")
    return answers if shared else {}


def answer_coding(definition: ScaleDefinition, item, value: int, label: str | None) -> dict[str, Any]:
    """The coding of one option value: the LOINC answer code where the definition maps one, else
    the value itself as the code (no system: the code only means something within its item)."""
    loinc_answers = _loinc_answers(definition, item)
    coding: dict[str, Any] = {}
    if str(value) in loinc_answers:
        coding["system"] = LOINC
        coding["code"] = loinc_answers[str(value)]
    else:
        coding["code"] = str(value)
    if label:
        coding["display"] = label
    return coding


def _answer_options(definition: ScaleDefinition, item) -> list[dict[str, Any]]:
    options = [
        {
            "extension": [{"url": ORDINAL_VALUE, "valueDecimal": option["value"]}],
            "valueCoding": answer_coding(definition, item, option["value"], option["label"]),
        }
        for option in item.options
    ]
    # Not-assessed codes carry no weight: offered, never summed.
    options += [{"valueCoding": {"code": str(code["value"]), "display": code["label"]}} for code in item.not_assessed]
    return options


def _satisfying(item, op: str, threshold: int) -> list[dict[str, Any]]:
    return [o for o in item.options if _COMPARE[op](o["value"], threshold)]


def _simple_enable_when(definition: ScaleDefinition, spec: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """One comparison as `=` conditions on the option codings it allows (any of them)."""
    item = definition.item_by_id[spec["item"]]
    allowed = _satisfying(item, spec["op"], spec["value"])
    if not allowed:
        return None
    return [
        {"question": item.id, "operator": "=", "answerCoding": answer_coding(definition, item, o["value"], o["label"])}
        for o in allowed
    ]


def _enable_when(definition: ScaleDefinition, spec: Mapping[str, Any]) -> tuple[list[dict], str | None] | None:
    """(enableWhen list, enableBehavior) for a visibility condition, or None when flat
    enableWhen cannot say it (an `all` whose parts allow several codes, nesting)."""
    if "item" in spec:
        conditions = _simple_enable_when(definition, spec)
        if conditions is None:
            return None
        return conditions, ("any" if len(conditions) > 1 else None)
    key = "any" if "any" in spec else "all"
    parts = spec[key]
    if len(parts) == 1:
        return _enable_when(definition, parts[0])
    if any("item" not in p for p in parts):
        return None
    simple = [_simple_enable_when(definition, p) for p in parts]
    expanded = [e for e in simple if e is not None]
    if len(expanded) != len(simple):
        return None
    if key == "all" and any(len(e) != 1 for e in expanded):
        return None
    return [c for e in expanded for c in e], key


def _fhirpath_answer(item_id: str) -> str:
    return f"%resource.repeat(item).where(linkId = '{item_id}').answer"


def condition_fhirpath(spec: Mapping[str, Any]) -> str:
    """A visibility condition as FHIRPath on answer weights (for enableWhenExpression)."""
    if "item" in spec:
        return f"{_fhirpath_answer(spec['item'])}.weight() {_OPS_FHIRPATH[spec['op']]} {spec['value']}"
    joiner = " or " if "any" in spec else " and "
    return "(" + joiner.join(condition_fhirpath(p) for p in spec.get("any", spec.get("all", []))) + ")"


def _visibility(definition: ScaleDefinition, item) -> dict[str, Any]:
    """enableWhen/enableBehavior (or an enableWhenExpression) for one item."""
    group = definition.group_of.get(item.id)
    group_conditions: list[dict[str, Any]] = [
        {"question": other, "operator": "exists", "answerBoolean": False} for other in (group or ()) if other != item.id
    ]
    rule = item.raw.get("visible_if")
    if rule is None and not group_conditions:
        return {}
    if rule is None:
        out: dict[str, Any] = {"enableWhen": group_conditions}
        if len(group_conditions) > 1:
            out["enableBehavior"] = "all"
        return out
    flat = _enable_when(definition, rule)
    if flat is not None and not group_conditions:
        conditions, behavior = flat
        out = {"enableWhen": conditions}
        if behavior:
            out["enableBehavior"] = behavior
        return out
    if flat is not None and (flat[1] in (None, "all")):
        conditions = flat[0] + group_conditions
        return {"enableWhen": conditions, "enableBehavior": "all"}
    expression = condition_fhirpath(rule)
    if group_conditions:
        others = " and ".join(f"{_fhirpath_answer(c['question'])}.exists().not()" for c in group_conditions)
        expression = f"{expression} and {others}"
    return {
        "extension": [
            {
                "url": ENABLE_WHEN_EXPRESSION,
                "valueExpression": {"language": "text/fhirpath", "expression": expression},
            }
        ]
    }


def _where_clause(included: Sequence[str], excluded: Sequence[str]) -> str:
    if excluded and len(excluded) < len(included):
        return " and ".join(f"linkId != '{x}'" for x in excluded)
    return " or ".join(f"linkId = '{x}'" for x in included)


def _items_expression(
    item_ids: Sequence[str], all_weighted: Sequence[str], other_link_ids: Sequence[str], aggregate: str
) -> str:
    """`%resource.item.where(...).answer.weight().<aggregate>()` selecting exactly `item_ids`
    among the top-level items: excluded ids (shorter) or included ids."""
    excluded = [i for i in all_weighted if i not in item_ids] + list(other_link_ids)
    return f"%resource.item.where({_where_clause(item_ids, excluded)}).answer.weight().{aggregate}()"


def calculated_items(definition: ScaleDefinition) -> list[dict[str, Any]]:
    """The subscale items and the total item, each with its calculatedExpression."""
    weighted = [i.id for i in definition.items]
    calculated_ids = [f"{SUBSCALE_PREFIX}{s.id}" for s in definition.subscales] + [TOTAL_LINK_ID]
    out = []
    for sub in definition.subscales:
        expression = _items_expression(sub.items, weighted, calculated_ids, sub.method)
        out.append(
            {
                "linkId": f"{SUBSCALE_PREFIX}{sub.id}",
                "text": sub.label,
                "type": "integer",
                "readOnly": True,
                "extension": [
                    {
                        "url": CALCULATED_EXPRESSION,
                        "valueExpression": {
                            "description": f"{sub.label}: {'highest' if sub.method == 'max' else 'sum'} of the item weights",
                            "language": "text/fhirpath",
                            "expression": expression,
                        },
                    }
                ],
            }
        )
    # The total: runs of plain item terms become one .sum() clause; subscale terms their own clause.
    clauses: list[str] = []
    run: list[str] = []
    for term in definition.total_terms:
        if term in definition.subscale_by_id:
            if run:
                clauses.append(_items_expression(run, weighted, calculated_ids, "sum"))
                run = []
            sub = definition.subscale_by_id[term]
            clauses.append(_items_expression(sub.items, weighted, calculated_ids, sub.method))
        else:
            run.append(term)
    if run:
        clauses.append(_items_expression(run, weighted, calculated_ids, "sum"))
    total = definition.raw["scoring"]["total"]
    missing_note = {
        "none": "Scalebook reports no total while a scored item is missing",
        "prorate_mean": f"Scalebook prorates up to {definition.max_missing} missing item(s) (see the definition)",
    }[definition.missing_policy]
    total_item: dict[str, Any] = {
        "linkId": TOTAL_LINK_ID,
        "text": f"{definition.abbreviation} total score ({definition.total_min}-{definition.total_max})",
        "type": "integer",
        "readOnly": True,
        "extension": [
            {
                "url": CALCULATED_EXPRESSION,
                "valueExpression": {
                    "description": f"Total score: {total['source']} {missing_note}.",
                    "language": "text/fhirpath",
                    "expression": " + ".join(clauses),
                },
            }
        ],
    }
    if total.get("loinc"):
        total_item["code"] = [{"system": LOINC, "code": total["loinc"], "display": total_item["text"]}]
    out.append(total_item)
    return out


def questionnaire(definition: ScaleDefinition, base_url: str = DEFAULT_BASE_URL) -> dict[str, Any]:
    """The FHIR R4 Questionnaire of one scale definition (a plain JSON-ready dict)."""
    raw = definition.raw
    resource: dict[str, Any] = {
        "resourceType": "Questionnaire",
        "id": resource_id(definition.id),
        "url": questionnaire_url(definition.id, base_url),
        "identifier": [{"system": f"{base_url.rstrip('/')}/scale", "value": definition.id}],
        "version": definition.version,
        "name": computable_name(definition),
        "title": definition.title,
        "status": "active",
        "subjectType": ["Patient"],
        "publisher": "Scalebook",
        "description": raw["instructions"],
        "copyright": raw["licence"],
    }
    if raw.get("loinc", {}).get("panel"):
        resource["code"] = [{"system": LOINC, "code": raw["loinc"]["panel"], "display": definition.title}]
    items = []
    for item in definition.items:
        entry: dict[str, Any] = {
            "linkId": item.id,
            "prefix": item.number,
            "text": item.prompt,
            "type": "choice",
            "required": bool(item.required and definition.group_of.get(item.id) is None),
            "answerOption": _answer_options(definition, item),
        }
        if item.raw.get("loinc"):
            entry["code"] = [{"system": LOINC, "code": item.raw["loinc"], "display": item.short_name}]
        visibility = _visibility(definition, item)
        if "extension" in visibility:
            entry["extension"] = visibility.pop("extension")
        entry.update(visibility)
        items.append(entry)
    resource["item"] = items + calculated_items(definition)
    return resource


# ---------------------------------------------------------------------------------------------
# QuestionnaireResponse and Bundle
# ---------------------------------------------------------------------------------------------


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_time(stored: str | None, timezone: str | None) -> str | None:
    """A stored UTC time as ISO 8601 in the site's local time with its offset (seconds)."""
    if not stored:
        return None
    moment: datetime = parse_utc(stored).astimezone(_zone(timezone))
    return moment.isoformat(timespec="seconds")


class _AnswerCoder:
    """Codings of stored answers, per scale: built once per definition (a Bundle codes hundreds of
    thousands of answers), with each item's position to keep the Questionnaire's item order."""

    def __init__(self, definitions: Mapping[str, ScaleDefinition] | None = None) -> None:
        self.definitions = registry() if definitions is None else definitions
        self._tables: dict[str, tuple[dict[str, int], dict[tuple[str, int], dict[str, Any]]]] = {}

    def table(self, scale_id: str) -> tuple[dict[str, int], dict[tuple[str, int], dict[str, Any]]]:
        if scale_id not in self._tables:
            definition = self.definitions.get(scale_id)
            order: dict[str, int] = {}
            codings: dict[tuple[str, int], dict[str, Any]] = {}
            if definition is not None:  # a scale this build does not know gets no codings
                for position, item in enumerate(definition.items):
                    order[item.id] = position
                    for option in item.options:
                        codings[(item.id, option["value"])] = answer_coding(
                            definition, item, option["value"], option["label"]
                        )
                    for code in item.not_assessed:
                        codings[(item.id, code["value"])] = {"code": str(code["value"]), "display": code["label"]}
            self._tables[scale_id] = (order, codings)
        return self._tables[scale_id]


def questionnaire_response(
    assessment: Mapping[str, Any],
    responses: Iterable[Mapping[str, Any]],
    base_url: str = DEFAULT_BASE_URL,
    coder: _AnswerCoder | None = None,
) -> dict[str, Any]:
    """One assessment as a QuestionnaireResponse.

    `assessment`: a db.exports.assessment_rows row (assessment_id, participant, site_timezone,
    scale_id, scale_version, status, mode, rater, happened_at (stored UTC), timepoint,
    infusion_number, total, subscales as JSON text or a dict); `responses`: its response rows
    (item_id, value, not_assessed_reason). Answers are coded as the current definition's
    Questionnaire codes them; a value it no longer has (or a scale no longer shipped) keeps its
    plain code.
    """
    base = base_url.rstrip("/")
    order, codings = (coder or _AnswerCoder()).table(assessment["scale_id"])
    happened = (
        assessment.get("happened_at")
        or assessment.get("assessed_at")
        or assessment.get("completed_at")
        or assessment.get("started_at")
    )
    zone = assessment.get("site_timezone") or assessment.get("timezone")
    subject = {
        "identifier": {"system": f"{base}/participant", "value": assessment["participant"]},
        "display": assessment["participant"],
    }
    resource: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "id": f"assessment-{assessment['assessment_id']}",
        "identifier": {"system": f"{base}/assessment", "value": str(assessment["assessment_id"])},
        "questionnaire": f"{questionnaire_url(assessment['scale_id'], base)}|{assessment['scale_version']}",
        "status": RESPONSE_STATUS.get(assessment["status"], "completed"),
        "subject": subject,
        "authored": local_time(happened, zone),
    }
    extensions = [{"url": f"{base}/StructureDefinition/timepoint", "valueString": assessment["timepoint"]}]
    if assessment.get("infusion_number") is not None:
        extensions.append(
            {"url": f"{base}/StructureDefinition/infusion-number", "valueInteger": int(assessment["infusion_number"])}
        )
    resource["extension"] = extensions
    if assessment.get("rater"):
        resource["author"] = {
            "identifier": {"system": f"{base}/user", "value": assessment["rater"]},
            "display": assessment["rater"],
        }
    if assessment.get("mode") in SELF_MODES:
        resource["source"] = subject
    if resource["authored"] is None:
        del resource["authored"]
    items = []
    last = len(order)
    for row in sorted(responses, key=lambda r: (order.get(r["item_id"], last), r["item_id"])):
        value = row["value"]
        if value is None:
            continue
        coding = codings.get((row["item_id"], value)) or {"code": str(value)}
        item: dict[str, Any] = {"linkId": row["item_id"], "answer": [{"valueCoding": coding}]}
        # Rows are dicts or sqlite3.Row (db.exports.response_rows), which has keys() but no get().
        reason = row["not_assessed_reason"] if "not_assessed_reason" in row.keys() else None
        if reason:
            item["extension"] = [{"url": f"{base}/StructureDefinition/not-assessed-reason", "valueString": reason}]
        items.append(item)
    subscales = assessment.get("subscales") or {}
    if isinstance(subscales, str):
        subscales = json.loads(subscales)
    for sub_id, value in subscales.items():
        if value is not None:
            items.append({"linkId": f"{SUBSCALE_PREFIX}{sub_id}", "answer": [{"valueInteger": int(value)}]})
    if assessment.get("total") is not None:
        items.append({"linkId": TOTAL_LINK_ID, "answer": [{"valueInteger": int(assessment["total"])}]})
    if items:
        resource["item"] = items
    return resource


# Response rows are dicts or sqlite3.Row (db.exports.response_rows): read by key, never .get().
ResponseRows = Iterable[Any]


def in_step(
    assessments: Iterable[Mapping[str, Any]], responses: ResponseRows
) -> Iterator[tuple[Mapping[str, Any], list[Mapping[str, Any]]]]:
    """Pair each assessment with its responses, walking two streams that come in the same order
    (db.exports' ordering contract), so no more than one assessment's answers is held at once."""
    pending = iter(responses)
    following = next(pending, None)
    for assessment in assessments:
        own = []
        while following is not None and following["assessment_id"] == assessment["assessment_id"]:
            own.append(following)
            following = next(pending, None)
        yield assessment, own


def _entry(
    assessment: Mapping[str, Any], responses: list[Mapping[str, Any]], base: str, coder: _AnswerCoder
) -> dict[str, Any]:
    resource = questionnaire_response(assessment, responses, base, coder)
    return {"fullUrl": f"{base}/QuestionnaireResponse/{resource['id']}", "resource": resource}


# HL7 v3 ActReason HTEST ("test health data"): the standard meta tag for data that is not real.
SYNTHETIC_TAG = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ActReason",
    "code": "HTEST",
    "display": "test health data",
}


def _bundle_head(timestamp: str | None, synthetic: bool = False) -> dict[str, Any]:
    head: dict[str, Any] = {"resourceType": "Bundle"}
    if synthetic:  # a demo database (db.demo): tagged as test data
        head["meta"] = {"tag": [SYNTHETIC_TAG]}
    return head | {"type": "collection", "timestamp": local_time(timestamp or utc_now(), "UTC")}


def response_bundle(
    assessments: Iterable[Mapping[str, Any]],
    responses: Iterable[Mapping[str, Any]],
    base_url: str = DEFAULT_BASE_URL,
    timestamp: str | None = None,
    synthetic: bool = False,
) -> dict[str, Any]:
    """A Bundle of type collection with one QuestionnaireResponse per assessment (in memory);
    `synthetic` (a demo database) tags it as test data."""
    base = base_url.rstrip("/")
    bundle = _bundle_head(timestamp, synthetic)
    coder = _AnswerCoder()
    entries = [_entry(a, r, base, coder) for a, r in in_step(assessments, responses)]
    if entries:  # FHIR JSON never has an empty array
        bundle["entry"] = entries
    return bundle


def write_bundle(
    handle: TextIO,
    assessments: Iterable[Mapping[str, Any]],
    responses: ResponseRows,
    base_url: str = DEFAULT_BASE_URL,
    timestamp: str | None = None,
    synthetic: bool = False,
) -> int:
    """Stream the same Bundle as JSON to `handle`, one entry per line; returns the entry count."""
    base = base_url.rstrip("/")
    head = json.dumps(_bundle_head(timestamp, synthetic), ensure_ascii=False)
    count = 0
    coder = _AnswerCoder()
    for assessment, own in in_step(assessments, responses):
        handle.write((head[:-1] + ', "entry": [\n') if count == 0 else ",\n")
        handle.write(json.dumps(_entry(assessment, own, base, coder), ensure_ascii=False))
        count += 1
    handle.write("\n]}\n" if count else head + "\n")
    return count


# ---------------------------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------------------------


def _json_text(resource: Mapping[str, Any]) -> str:
    return json.dumps(resource, ensure_ascii=False, indent=2) + "\n"


def _check_base_url(url: str) -> str:
    if not re.match(r"^https?://[^\s/]+(/\S*)?$", url):
        raise CommandError(f"--base-url: '{url}' is not an absolute http(s) URL (e.g. https://trial.example.org/fhir)")
    return url.rstrip("/")


def run_questionnaire(args: argparse.Namespace) -> int:
    base = _check_base_url(args.base_url)
    scales = registry()
    if args.scale_id not in scales:
        raise CommandError(f"SCALE_ID: unknown scale '{args.scale_id}'; known scales: {', '.join(sorted(scales))}")
    text = _json_text(questionnaire(scales[args.scale_id], base))
    if args.out:
        write_text_atomically(args.out, text)
    else:
        print(text, end="")
    return 0


def run_responses(args: argparse.Namespace) -> int:
    base = _check_base_url(args.base_url)

    def write(db, scope, handle, scale_ids):
        count = write_bundle(
            handle,
            db_exports.assessment_rows(db, site_id=scope.site_id, scale_ids=scale_ids),
            db_exports.response_rows(db, site_id=scope.site_id, scale_ids=scale_ids),
            base,
            synthetic=is_demo(db),
        )
        return {"QuestionnaireResponse": count}

    export_to_file(args, "fhir-responses", write, details=NO_ARM)
    return 0


def register(commands) -> None:
    p = commands.add_parser(
        "fhir-questionnaire",
        help="print the FHIR R4 Questionnaire of one scale",
        description="Print the HL7 FHIR R4 Questionnaire of one shipped scale (JSON): linkId = item id, "
        "answerOption codings with ordinalValue weights, enableWhen for visibility rules, the total and "
        "subscales as SDC calculatedExpression items, LOINC codes where the definition has them.",
    )
    p.add_argument("scale_id", metavar="SCALE_ID", help="scale id, e.g. phq9 (see `python -m scales list`)")
    p.add_argument(
        "--base-url",
        default=DEFAULT_BASE_URL,
        metavar="URL",
        help=f"canonical base of the Questionnaire URL (default {DEFAULT_BASE_URL})",
    )
    p.add_argument("--out", metavar="FILE", help="write to FILE instead of printing")
    p.set_defaults(run=run_questionnaire)

    p = commands.add_parser(
        "fhir-responses",
        help="write a FHIR R4 Bundle of QuestionnaireResponses, one per assessment",
        description="Write a Bundle (type collection) of QuestionnaireResponses, one per assessment, each "
        "referencing its Questionnaire by canonical URL and version (<url>|<version>), with the "
        "answers as codings of that Questionnaire, the stored total and subscales, and the time the "
        "rating happened in the site's local time.",
    )
    add_file_export_arguments(p, "the Bundle (JSON) to write")
    p.add_argument(
        "--base-url",
        default=DEFAULT_BASE_URL,
        metavar="URL",
        help=f"canonical base of the Questionnaire URLs (default {DEFAULT_BASE_URL})",
    )
    p.set_defaults(run=run_responses)
