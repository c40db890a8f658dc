"""Every scale definition, checked from data: its hand-computed cases and the generic rules.

Nothing here names a scale. Each definition in the definitions directory ($SCALEBOOK_SCALES_DIR,
else scales/definitions/) gets

* the generic checks every valid definition must pass (lowest and highest answers score the
  declared total range, an unanswered form has no total, unknown items and values outside the
  options are refused, every dissociation measure it declares has its range); and
* its hand-computed cases, from `<id>.cases.json` beside the definition, when it has one: each
  case gives responses and what the score must be, worked out by hand from the instrument's
  publication (the `why` of a case shows the arithmetic), never from the engine.

So a new valid definition dropped into scales/definitions/ passes without editing any test; its
cases file, once written, is run the same way. Format of `<id>.cases.json`:

    {"scale": "<id>", "about": "where the expected values come from",
     "cases": [{"name": ..., "responses": R, "band_set": optional, "expect": {...}, "why": optional}],
     "rejected": [{"name": ..., "responses": R, "error": "text the ResponseError must contain"}]}

R: {"values": [one per item, in definition order; null = unanswered]} or {"fill": v} (every item
v), then optionally "omit": [item ids] (left unanswered) and "set": {item id: value} (applied
last, so a case can answer an omitted item with something else). `expect` keys: total, band,
band_set, complete, prorated, missing, not_assessed, hidden (compared exactly), subscales (the
ones named), flags and safety_flags (the ids, in order).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from analytics.dissociation import DISSOCIATION
from scales import DefinitionError, ResponseError, ScaleDefinition, score
from scales.loader import cases_file, definition_files, definitions_dir, load_file, score_measures

CASE_KEYS = {"name", "responses", "band_set", "expect", "why"}
EXPECT_KEYS = {
    "total",
    "band",
    "band_set",
    "complete",
    "prorated",
    "missing",
    "not_assessed",
    "hidden",
    "subscales",
    "flags",
    "safety_flags",
}
RESPONSE_KEYS = {"values", "fill", "set", "omit"}


# --------------------------------------------------------------------------- the checks


def build_responses(definition: ScaleDefinition, spec: dict[str, Any]) -> dict[str, Any]:
    """The responses a case describes (see the module docstring)."""
    unknown = set(spec) - RESPONSE_KEYS
    assert not unknown, f"responses: unknown key(s) {sorted(unknown)}; use {sorted(RESPONSE_KEYS)}"
    ids = [item.id for item in definition.items]
    if "values" in spec:
        assert len(spec["values"]) == len(ids), f"responses.values: {len(spec['values'])} values for {len(ids)} items"
        out = {i: v for i, v in zip(ids, spec["values"], strict=True) if v is not None}
    else:
        out = {i: spec["fill"] for i in ids} if "fill" in spec else {}
    for item_id in spec.get("omit", []):
        out.pop(item_id, None)
    out.update(spec.get("set", {}))
    return out


def observed(result, key: str) -> Any:
    if key == "flags":
        return [f["id"] for f in result.flags]
    if key == "safety_flags":
        return [f["id"] for f in result.safety_flags]
    return getattr(result, key)


def check_case(definition: ScaleDefinition, case: dict[str, Any]) -> None:
    """Score one case and compare every expected field, naming the case and field on failure."""
    unknown = set(case) - CASE_KEYS
    assert not unknown, f"case {case.get('name')!r}: unknown key(s) {sorted(unknown)}"
    expect = case["expect"]
    assert expect and not set(expect) - EXPECT_KEYS, f"case {case['name']!r}: expect keys must be from {EXPECT_KEYS}"
    result = score(definition, build_responses(definition, case["responses"]), band_set=case.get("band_set"))
    for key, wanted in expect.items():
        if key == "subscales":
            got = {name: result.subscales.get(name) for name in wanted}
        else:
            got = observed(result, key)
        assert got == wanted, f"{definition.id} case {case['name']!r}: {key} is {got!r}, expected {wanted!r}"


def check_rejected(definition: ScaleDefinition, case: dict[str, Any]) -> None:
    with pytest.raises(ResponseError) as caught:
        score(definition, build_responses(definition, case["responses"]))
    assert case["error"] in str(caught.value), f"{definition.id} case {case['name']!r}: {caught.value}"


def check_cases_file(definition: ScaleDefinition, path: Path) -> int:
    """Run every case of a cases file against its definition; returns how many ran."""
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data.get("scale") == definition.id, f"{path.name}: 'scale' must be {definition.id!r}"
    assert data.get("about", "").strip(), f"{path.name}: say where the expected values come from ('about')"
    for case in data.get("cases", []):
        check_case(definition, case)
    for case in data.get("rejected", []):
        check_rejected(definition, case)
    return len(data.get("cases", [])) + len(data.get("rejected", []))


def extreme(definition: ScaleDefinition, highest: bool) -> dict[str, int]:
    """Every item at its lowest (or highest) option; of a choice group (rate one of two
    versions of an item) only the first is answered."""
    pick = max if highest else min
    others = {member for group in definition.choice_groups for member in group[1:]}
    return {item.id: pick(o["value"] for o in item.options) for item in definition.items if item.id not in others}


def check_generic(definition: ScaleDefinition) -> None:
    """What every valid definition must do, whatever the instrument."""
    for highest, bound in ((False, definition.total_min), (True, definition.total_max)):
        result = score(definition, extreme(definition, highest))
        assert result.total == bound and result.complete and not result.prorated, (
            f"{definition.id}: every item at its {'highest' if highest else 'lowest'} option scores "
            f"{result.total}, the declared range ends at {bound}"
        )
        assert result.missing == [] and result.not_assessed == []
        for sub in definition.subscales:
            value = result.subscales.get(sub.id)
            assert value == (sub.max if highest else sub.min), f"{definition.id} subscale {sub.id}: {value}"
        if definition.default_band_set:
            assert result.band is not None, f"{definition.id}: total {result.total} falls in no band"
    empty = score(definition, {})
    assert empty.total is None and not empty.complete and empty.missing
    first = definition.items[0]
    with pytest.raises(ResponseError, match="unknown item"):
        score(definition, {f"{first.id}_no_such_item": first.min})
    allowed = {o["value"] for o in first.options} | first.not_assessed_values
    outside = next(v for v in range(first.max + 1, first.max + 100) if v not in allowed)
    with pytest.raises(ResponseError, match=first.id):
        score(definition, {first.id: outside})
    for measure in score_measures(DISSOCIATION):
        if measure.scale_id == definition.id:
            assert measure.min < measure.max and measure.label.startswith(definition.abbreviation)


# --------------------------------------------------------------------------- the shipped scales


def shipped() -> list[Path]:
    return definition_files(definitions_dir())


@pytest.mark.parametrize("path", shipped(), ids=lambda p: p.stem)
def test_every_definition_passes_the_generic_checks(path):
    check_generic(load_file(path))


@pytest.mark.parametrize("path", [p for p in shipped() if cases_file(p.stem, p.parent).exists()], ids=lambda p: p.stem)
def test_hand_computed_cases(path):
    assert check_cases_file(load_file(path), cases_file(path.stem, path.parent)) > 0


def test_every_cases_file_belongs_to_a_definition():
    stems = {p.stem for p in shipped()}
    orphans = [
        p.name for p in definitions_dir().glob("*.cases.json") if p.name.removesuffix(".cases.json") not in stems
    ]
    assert not orphans, f"cases without a definition: {orphans}"


# --------------------------------------------------------------------------- a new scale, untouched

TOY = {
    "id": "toy3",
    "version": "0.1.0",
    "title": "Three-item toy scale",
    "abbreviation": "TOY3",
    "citations": ["Scalebook test suite: a minimal valid definition."],
    "licence": "Test data, no licence needed.",
    "rater": "clinician",
    "recall": {"default": "now", "options": [{"id": "now", "label": "right now"}]},
    "instructions": "Rate each item.",
    "items": [
        {
            "id": f"toy3_{n}",
            "number": str(n),
            "short_name": f"Item {n}",
            "prompt": f"Item {n}?",
            "min": 0,
            "max": 2,
            "options": [{"value": v, "label": label} for v, label in enumerate(("no", "some", "a lot"))],
        }
        for n in (1, 2, 3)
    ],
    "scoring": {
        "total": {
            "terms": "all_scored_items",
            "min": 0,
            "max": 6,
            "source": "Sum of the three items.",
            "measures": "dissociation",
        },
        "missing": {"policy": "none", "source": "No total unless every item is answered."},
    },
    "cdisc": {"domain": "RS", "category": "TOY3", "sponsor_defined": True},
}
TOY_CASES = {
    "scale": "toy3",
    "about": "Sums worked out by hand.",
    "cases": [
        {
            "name": "mixed",
            "responses": {"values": [2, 0, 1]},
            "expect": {"total": 3, "complete": True},
            "why": "2 + 0 + 1",
        },
        {
            "name": "one missing",
            "responses": {"fill": 1, "omit": ["toy3_2"]},
            "expect": {"total": None, "missing": ["toy3_2"]},
        },
    ],
    "rejected": [{"name": "3 is no option", "responses": {"fill": 0, "set": {"toy3_1": 3}}, "error": "toy3_1"}],
}


@pytest.fixture
def with_new_scale(tmp_path, monkeypatch):
    """A copy of the shipped definitions plus TOY (and its cases), selected by SCALEBOOK_SCALES_DIR."""
    for path in definitions_dir().glob("*.json"):
        (tmp_path / path.name).write_bytes(path.read_bytes())
    (tmp_path / "toy3.json").write_text(json.dumps(TOY), encoding="utf-8")
    (tmp_path / "toy3.cases.json").write_text(json.dumps(TOY_CASES), encoding="utf-8")
    monkeypatch.setenv("SCALEBOOK_SCALES_DIR", str(tmp_path))
    return tmp_path


def test_a_new_definition_passes_the_same_checks_with_no_code_change(with_new_scale):
    files = shipped()
    assert "toy3.json" in [p.name for p in files] and "toy3.cases.json" not in [p.name for p in files]
    for path in files:  # exactly what the parametrised tests above run, now over the new directory
        definition = load_file(path)
        check_generic(definition)
        if cases_file(path.stem, path.parent).exists():
            assert check_cases_file(definition, cases_file(path.stem, path.parent)) > 0
    # its "measures": "dissociation" makes it a dissociation measure, with the range it declares
    toy = [m for m in score_measures(DISSOCIATION) if m.scale_id == "toy3"]
    assert [(m.score, m.min, m.max, m.label) for m in toy] == [("total", 0, 6, "TOY3 total (0–6)")]


def test_a_wrong_expected_value_fails_naming_the_case(tmp_path):
    definition = load_file(_write(tmp_path, "toy3.json", TOY))
    wrong = {**TOY_CASES, "cases": [{"name": "mixed", "responses": {"values": [2, 0, 1]}, "expect": {"total": 4}}]}
    with pytest.raises(AssertionError, match="toy3 case 'mixed': total is 3, expected 4"):
        check_cases_file(definition, _write(tmp_path, "toy3.cases.json", wrong))


def _write(directory: Path, name: str, data: dict) -> Path:
    path = directory / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_the_loader_refuses_an_unknown_measures_kind(tmp_path):
    bad = json.loads(json.dumps(TOY))
    bad["scoring"]["total"]["measures"] = "dissociaton"
    with pytest.raises(DefinitionError, match=r"scoring\.total\.measures"):
        load_file(_write(tmp_path, "toy3.json", bad))
