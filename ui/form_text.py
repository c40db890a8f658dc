"""Words the rater's form and the review page show for things stored under internal names.

One rule for every scale's option labels (`option_label`): a label shows its score first,
"0 – Absent", whether the definition's licensed wording already starts with it (MADRS, CADSS)
or not (HAM-D, BPRS); the wording itself is never changed. Item ids, recall ids, modes and
statuses are stored names; on screen they are the item's number and short name, the recall
period's label and plain words, so a rater never reads `madrs_4` or `7d`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from scales import ScaleDefinition

DASH = "–"  # the en dash the MADRS and CADSS definitions already use between score and words


def option_label(option: Mapping[str, Any]) -> str:
    """The label of an answer option with its score in front: "2 – Moderate"."""
    value, label = option["value"], str(option["label"]).strip()
    if re.match(rf"{re.escape(str(value))}\s*[{DASH}-]", label):  # the wording already starts with its score
        return label
    return f"{value} {DASH} {label}"


def value_label(definition: ScaleDefinition | None, item_id: str, value: Any) -> str:
    """The label of a stored value of one item (its option or not-assessed code), else the value."""
    item = definition.item_by_id.get(item_id) if definition else None
    if item is None or value is None:
        return "" if value is None else str(value)
    for option in (*item.options, *item.not_assessed):
        if option["value"] == value:
            return option_label(option)
    return str(value)


def item_name(definition: ScaleDefinition | None, item_id: str) -> str:
    """ "item 4 (Reduced sleep)" for a stored item id; a field that is not an item keeps its words."""
    item = definition.item_by_id.get(item_id) if definition else None
    if item is None:
        return item_id.replace("_", " ")
    return f"item {item.number} ({item.short_name})"


def item_names(definition: ScaleDefinition | None, item_ids: Iterable[str]) -> str:
    return ", ".join(item_name(definition, i) for i in item_ids)


def recall_label(definition: ScaleDefinition | None, recall: str | None) -> str:
    if recall is None:
        return "—"
    options = definition.recall_options if definition else []
    return next((o["label"] for o in options if o["id"] == recall), recall)


def scale_name(definition: ScaleDefinition | None, scale_id: str) -> str:
    """The scale's abbreviation (MADRS, HAM-D 17); an uninstalled scale's id in capitals."""
    return definition.abbreviation if definition else scale_id.upper()


MODES = {
    "clinician": "clinician-rated",
    "self": "self-report",
    "kiosk": "self-report on the clinic tablet",
    "remote": "self-report by link",
}


def mode_label(mode: str) -> str:
    return MODES.get(mode, mode)


ACTIONS = {
    "assessment.start": "started",
    "response.save": "answer saved",
    "response.clear": "answer cleared",
    "assessment.complete": "completed",
    "assessment.sign": "signed",
    "assessment.amend": "amended",
    "assessment.lock": "locked",
    "assessment.status": "status changed",
    "score.store": "score stored",
}


def action_label(action: str) -> str:
    """An audit action in words ("response.save" → "answer saved"); unknown ones with spaces."""
    return ACTIONS.get(action, action.replace(".", " ").replace("_", " "))


def audit_value(definition: ScaleDefinition | None, value: Any, timepoint_label: Callable[[str], str]) -> str:
    """A value from the audit trail in words: a structured value (the start of an assessment, a
    stored score) as "key words: value; ...", with scale ids, timepoints, recall periods and item
    ids named as the screen names them elsewhere; None as a dash."""
    if value is None:
        return "—"
    if isinstance(value, Mapping):
        return "; ".join(
            f"{str(k).replace('_', ' ')}: {_value_word(definition, str(k), v, timepoint_label)}"
            for k, v in value.items()
        )
    return _value_word(definition, "", value, timepoint_label)


def _value_word(definition: ScaleDefinition | None, key: str, value: Any, timepoint_label: Callable[[str], str]) -> str:
    if value is None:
        return "—"
    if isinstance(value, Mapping):
        return "(" + audit_value(definition, value, timepoint_label) + ")"
    if isinstance(value, list | tuple):
        return ", ".join(_value_word(definition, key, v, timepoint_label) for v in value) or "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    if key == "scale_id":
        return definition.abbreviation if definition and definition.id == text else text.upper()
    if key == "timepoint":
        return timepoint_label(text)
    if key == "recall":
        return recall_label(definition, text)
    if key == "mode":
        return mode_label(text)
    if key == "band_set" and definition is not None:
        return "the scale's severity bands"
    if definition is not None and text in definition.item_by_id:
        return item_name(definition, text)
    if definition is not None and text in {s.id for s in definition.subscales}:
        return next(s.label for s in definition.subscales if s.id == text)
    return text
