"""REDCap out: a data dictionary with one instrument per scale, and the flat record import file.

`python -m exports redcap-dictionary [SCALE_ID...]` prints a data dictionary CSV that REDCap's
"Upload Data Dictionary" accepts: REDCap's 18 standard columns with the header exactly as
REDCap writes it when it downloads one (every name quoted except `Identifier?`), then

- `record_id` (the project's first field, text) in the first instrument;
- one instrument per scale (form name = scale id), its items as `radio` fields named by item id
  with `value, label | value, label` choices (scored options only: a not-assessed code in a
  REDCap calc would be summed, so it is described in the Field Annotation and exported blank);
  the prompt is the Field Label, the printed item number the Question Number, the scale's
  instructions the first field's Section Header;
- visibility rules as branching logic (`[phq9_1] > 0 or ...`); a choice group (HAM-D 16A/16B)
  as "show only while the other is blank" (`[hamd17_16b] = ''`);
- the total as a `calc` field `<scale>_total`: `sum([a],[b],...)`, with QIDS-SR16's domain
  maxima as `max(...)` terms inside the sum.

Cells are quoted as REDCap quotes them: labels, section headers, notes, choices/calculations,
branching logic and annotations always; names and codes only when they must be.

`python -m exports redcap-records --out FILE` writes REDCap's flat import format for that
dictionary: one row per participant (record_id = pseudonymous code) and timepoint
(redcap_event_name = the timepoint as a REDCap unique event name, `<timepoint>_arm_1`; the
project's events must carry those names), the item fields of every instrument, and
`<form>_complete` (2 Complete: only submitted assessments are exported, as in every export;
blank where the scale was not rated at that event). Not-assessed codes are left blank, as in the
dictionary. Calc fields are not written: REDCap computes them and refuses imported values for
them. --site and --as scope the export as for the other exports; it is an audit event.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from db import exports as db_exports
from exports.cli import CommandError
from exports.fhir import in_step
from exports.files import write_text_atomically
from exports.scope import NO_ARM, add_file_export_arguments, export_to_file, scale_ids_or_error
from scales import ScaleDefinition, csvout
from scales.loader import registry

# REDCap's own download writes these 18 names in this order, every one quoted except "Identifier?".
COLUMNS = (
    "Variable / Field Name",
    "Form Name",
    "Section Header",
    "Field Type",
    "Field Label",
    "Choices, Calculations, OR Slider Labels",
    "Field Note",
    "Text Validation Type OR Show Slider Number",
    "Text Validation Min",
    "Text Validation Max",
    "Identifier?",
    "Branching Logic (Show field only if...)",
    "Required Field?",
    "Custom Alignment",
    "Question Number (surveys only)",
    "Matrix Group Name",
    "Matrix Ranking?",
    "Field Annotation",
)
HEADER = ",".join(name if name == "Identifier?" else f'"{name}"' for name in COLUMNS)
# The API / REDCap R names of the same columns (accepted on import).
API_NAMES = (
    "field_name",
    "form_name",
    "section_header",
    "field_type",
    "field_label",
    "select_choices_or_calculations",
    "field_note",
    "text_validation_type_or_show_slider_number",
    "text_validation_min",
    "text_validation_max",
    "identifier",
    "branching_logic",
    "required_field",
    "custom_alignment",
    "question_number",
    "matrix_group_name",
    "matrix_ranking",
    "field_annotation",
)
# Text REDCap always quotes in its own download.
_ALWAYS_QUOTED = frozenset(
    {
        "Section Header",
        "Field Label",
        "Choices, Calculations, OR Slider Labels",
        "Field Note",
        "Branching Logic (Show field only if...)",
        "Field Annotation",
    }
)
_FREE_TEXT = frozenset({"Section Header", "Field Label", "Field Note", "Field Annotation"})
RECORD_ID = "record_id"
EVENT_SUFFIX = "_arm_1"
RAW_COLUMNS = (RECORD_ID, "redcap_event_name")  # codes, never neutralised
COMPLETE = {"draft": 0}  # every other status is 2 (Complete)

_REDCAP_OPS = {"==": "=", "!=": "<>", ">": ">", ">=": ">=", "<": "<", "<=": "<="}


def _cell(column: str, value: Any) -> str:
    text = "" if value is None else str(value)
    if column in _FREE_TEXT and text:
        text = csvout.neutralise(text)
    if not text:
        return ""
    if column in _ALWAYS_QUOTED or any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def dictionary_line(row: Mapping[str, Any]) -> str:
    return ",".join(_cell(column, row.get(column)) for column in COLUMNS)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _choice_label(label: str) -> str:
    # "|" separates choices in REDCap; keep labels on one line without it.
    return _one_line(label).replace("|", "/")


def choices(item) -> str:
    return " | ".join(f"{o['value']}, {_choice_label(o['label'])}" for o in item.options)


def branching_logic(spec: Mapping[str, Any], top: bool = True) -> str:
    """A Scalebook condition in REDCap's branching-logic syntax."""
    if "item" in spec:
        return f"[{spec['item']}] {_REDCAP_OPS[spec['op']]} {spec['value']}"
    joiner = " or " if "any" in spec else " and "
    parts = spec.get("any", spec.get("all", []))
    text = joiner.join(branching_logic(p, top=False) for p in parts)
    return text if top or len(parts) == 1 else f"({text})"


def _item_logic(definition: ScaleDefinition, item) -> str:
    parts = []
    rule = item.raw.get("visible_if")
    if rule is not None:
        parts.append(branching_logic(rule, top=False) if definition.group_of.get(item.id) else branching_logic(rule))
    for other in definition.group_of.get(item.id, ()):
        if other != item.id:
            parts.append(f"[{other}] = ''")
    return " and ".join(parts)


def total_field(definition: ScaleDefinition) -> str:
    return f"{definition.id}_total"


def total_calculation(definition: ScaleDefinition) -> str:
    """`sum([a],[b],...)`, a subscale term as `max(...)` (or a nested `sum(...)`)."""
    terms = []
    for term in definition.total_terms:
        sub = definition.subscale_by_id.get(term)
        if sub is None:
            terms.append(f"[{term}]")
        else:
            terms.append(f"{sub.method}(" + ",".join(f"[{m}]" for m in sub.items) + ")")
    return "sum(" + ",".join(terms) + ")"


def _annotation(definition: ScaleDefinition, item) -> str:
    text = f"{item.short_name}. Scalebook {definition.id} {definition.version}, item {item.id}"
    if item.raw.get("cdisc_testcd"):
        text += f"; CDISC {definition.raw['cdisc']['domain']}TESTCD {item.raw['cdisc_testcd']}"
    if item.not_assessed:
        codes = ", ".join(f"{c['value']} = {c['label']}" for c in item.not_assessed)
        text += f"; not-assessed code(s) {codes} are left blank in REDCap (never summed)"
    if not item.scored:
        text += "; not part of the total"
    return text


def dictionary_rows(definitions: Sequence[ScaleDefinition]) -> list[dict[str, Any]]:
    """The dictionary as rows keyed by REDCap's column names."""
    rows: list[dict[str, Any]] = []
    for index, definition in enumerate(definitions):
        if index == 0:
            rows.append(
                {
                    "Variable / Field Name": RECORD_ID,
                    "Form Name": definition.id,
                    "Field Type": "text",
                    "Field Label": "Participant code",
                }
            )
        for k, item in enumerate(definition.items):
            rows.append(
                {
                    "Variable / Field Name": item.id,
                    "Form Name": definition.id,
                    "Section Header": _one_line(definition.raw["instructions"]) if k == 0 else "",
                    "Field Type": "radio",
                    "Field Label": _one_line(item.prompt),
                    "Choices, Calculations, OR Slider Labels": choices(item),
                    "Branching Logic (Show field only if...)": _item_logic(definition, item),
                    "Required Field?": "y" if item.required and not definition.group_of.get(item.id) else "",
                    "Question Number (surveys only)": item.number,
                    "Field Annotation": _annotation(definition, item),
                }
            )
        missing = (
            "REDCap's sum() adds the answered items; "
            + {
                "none": "Scalebook reports no total while a scored item is blank",
                "prorate_mean": f"Scalebook prorates up to {definition.max_missing} blank item(s) and reports no total "
                f"beyond that",
            }[definition.missing_policy]
        )
        rows.append(
            {
                "Variable / Field Name": total_field(definition),
                "Form Name": definition.id,
                "Field Type": "calc",
                "Field Label": f"{definition.abbreviation} total score ({definition.total_min}-{definition.total_max})",
                "Choices, Calculations, OR Slider Labels": total_calculation(definition),
                "Field Note": missing,
                "Field Annotation": _one_line(definition.raw["scoring"]["total"]["source"]),
            }
        )
    return rows


def dictionary_csv(definitions: Sequence[ScaleDefinition]) -> str:
    lines = [HEADER] + [dictionary_line(row) for row in dictionary_rows(definitions)]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# records
# ---------------------------------------------------------------------------------------------


def event_name(timepoint: str, suffix: str = EVENT_SUFFIX) -> str:
    """A timepoint as a REDCap unique event name: lower case, runs of other characters as '_'."""
    slug = re.sub(r"[^a-z0-9]+", "_", timepoint.lower()).strip("_") or "event"
    if slug[0].isdigit():
        slug = "t_" + slug
    return slug + suffix


def records_columns(definitions: Sequence[ScaleDefinition]) -> list[str]:
    columns = [RECORD_ID, "redcap_event_name"]
    for definition in definitions:
        columns += [i.id for i in definition.items] + [f"{definition.id}_complete"]
    return columns


def records_rows(
    definitions: Sequence[ScaleDefinition],
    pairs: Iterable[tuple[Mapping[str, Any], list[Mapping[str, Any]]]],
    suffix: str = EVENT_SUFFIX,
) -> Iterator[dict[str, Any]]:
    """One row per participant and event (in the order the events happened), with the item
    values of every form rated at that event. `pairs`: (assessment, its responses) ordered by
    participant, as fhir.in_step yields them; one participant is held in memory at a time."""
    by_id = {d.id: d for d in definitions}
    current: str | None = None
    rows: dict[str, dict[str, Any]] = {}
    for assessment, responses in pairs:
        definition = by_id.get(assessment["scale_id"])
        if definition is None:
            continue
        if assessment["participant"] != current:
            yield from rows.values()
            current, rows = assessment["participant"], {}
        event = event_name(assessment["timepoint"], suffix)
        row = rows.setdefault(event, {RECORD_ID: current, "redcap_event_name": event})
        for response in responses:
            item = definition.item_by_id.get(response["item_id"])
            if item is not None and response["value"] in item.scored_values:
                row[item.id] = response["value"]
        row[f"{definition.id}_complete"] = COMPLETE.get(assessment["status"], 2)
    yield from rows.values()


def records_csv(definitions: Sequence[ScaleDefinition], rows: Iterable[Mapping[str, Any]]) -> str:
    return csvout.to_csv_text(records_columns(definitions), rows, raw=RAW_COLUMNS)


# ---------------------------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------------------------


def _definitions(scale_ids: Sequence[str], what: str) -> list[ScaleDefinition]:
    known = registry()
    chosen = scale_ids_or_error(scale_ids, what) if scale_ids else sorted(known)
    return [known[s] for s in chosen]


def run_dictionary(args: argparse.Namespace) -> int:
    text = dictionary_csv(_definitions(args.scale_ids, "SCALE_ID"))
    if args.out:
        write_text_atomically(args.out, text)
    else:
        sys.stdout.write(text)
    return 0


def run_records(args: argparse.Namespace) -> int:
    if not re.fullmatch(r"_[a-z0-9_]+", args.event_suffix):
        raise CommandError(
            f"--event-suffix: '{args.event_suffix}' must be '_' and lower-case letters, digits or '_' (e.g. _arm_1)"
        )
    definitions = _definitions(args.scale or [], "--scale")

    def write(db, scope, handle, scale_ids):
        pairs = in_step(
            db_exports.assessment_rows(db, site_id=scope.site_id, scale_ids=scale_ids),
            db_exports.response_rows(db, site_id=scope.site_id, scale_ids=scale_ids),
        )
        writer = csvout.Writer(handle, records_columns(definitions), raw=RAW_COLUMNS)
        writer.writerows(records_rows(definitions, pairs, args.event_suffix))
        return {"records": writer.rows}

    export_to_file(args, "redcap-records", write, details=NO_ARM)
    return 0


def register(commands) -> None:
    p = commands.add_parser(
        "redcap-dictionary",
        help="print a REDCap data dictionary (one instrument per scale)",
        description="Print a REDCap data dictionary CSV with REDCap's 18 standard columns: record_id, then one "
        "instrument per scale with its items as radio fields ('value, label | ...'), visibility rules as "
        "branching logic and the total as a calc field (sum(...), QIDS-SR16 domain maxima as max(...)).",
    )
    p.add_argument("scale_ids", nargs="*", metavar="SCALE_ID", help="scales to include (default: every shipped scale)")
    p.add_argument("--out", metavar="FILE", help="write to FILE instead of printing")
    p.set_defaults(run=run_dictionary)

    p = commands.add_parser(
        "redcap-records",
        help="write REDCap's flat record import file",
        description="Write REDCap's flat import CSV for the dictionary of `redcap-dictionary`: record_id "
        "(participant code), redcap_event_name (timepoint + event suffix), the item fields and "
        "<form>_complete (2 Complete). Submitted assessments only; not-assessed codes are left blank.",
    )
    add_file_export_arguments(p, "the CSV file to write")
    p.add_argument(
        "--event-suffix",
        default=EVENT_SUFFIX,
        metavar="TEXT",
        help=f"appended to each timepoint to form the unique event name (default {EVENT_SUFFIX})",
    )
    p.set_defaults(run=run_records)
