"""Instruments in (exports/instruments_in.py): a REDCap data dictionary instrument or a FHIR R4
Questionnaire becomes a draft definition that passes `python -m scales validate`; what cannot be
carried over is listed on stderr by name; every shipped scale survives export -> import with the
same totals on the same complete responses; bad input is one line per problem, nothing written."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from exports import fhir, instruments_in, redcap
from exports.cli import main
from scales import get_scale, score
from scales.definition import ScaleDefinition
from scales.loader import compile_definition, registry, validate_files

DATA = Path(__file__).resolve().parent / "data"
ROOT = Path(__file__).resolve().parent.parent
SCALES = sorted(registry())


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([*argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def complete_responses(definition: ScaleDefinition, rng: random.Random) -> list[dict[str, int]]:
    """Complete response sets: every item at its minimum, at its maximum, and random ones (one
    member of each choice group answered)."""
    out = []
    for pick in ["min", "max"] + ["random"] * 60:
        skip = set()
        for group in definition.choice_groups:
            keep = rng.choice(group)
            skip |= set(group) - {keep}
        answers = {}
        for item in definition.items:
            if item.id in skip:
                continue
            values = sorted(item.scored_values)
            answers[item.id] = values[0] if pick == "min" else values[-1] if pick == "max" else rng.choice(values)
        out.append(answers)
    return out


def assert_same_totals(original: ScaleDefinition, draft: ScaleDefinition) -> None:
    assert len(draft.items) == len(original.items)
    rename = {o.id: d.id for o, d in zip(original.items, draft.items, strict=True)}
    for o, d in zip(original.items, draft.items, strict=True):
        assert d.scored_values == o.scored_values and d.number == o.number
    for answers in complete_responses(original, random.Random(original.id)):
        expected = score(original, answers)
        got = score(draft, {rename[k]: v for k, v in answers.items()})
        assert expected.complete, answers
        assert (got.total, got.complete, sorted(got.hidden)) == (
            expected.total,
            True,
            sorted(rename[h] for h in expected.hidden),
        ), answers


# ---------------------------------------------------------------------------------------------
# round trips
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scale_id", SCALES)
def test_fhir_round_trip_keeps_totals(scale_id, tmp_path, capsys):
    original = get_scale(scale_id)
    source = tmp_path / f"{scale_id}.questionnaire.json"
    assert run(capsys, "fhir-questionnaire", scale_id, "--out", str(source))[0] == 0
    target = tmp_path / f"{scale_id}_fhir.json"
    code, out, err = run(
        capsys,
        "import-fhir",
        str(source),
        "--id",
        f"{scale_id}_fhir",
        "--out",
        str(target),
        "--rater",
        "self" if original.rater == "self" else "clinician",
    )
    assert (code, out, err) == (0, "", "")  # nothing left behind: no note
    assert validate_files([target]) == []
    draft = compile_definition(json.loads(target.read_text()), target.name)
    assert_same_totals(original, draft)
    assert [s.method for s in draft.subscales] == [s.method for s in original.subscales]
    assert draft.choice_groups == tuple(
        tuple(f"{scale_id}_fhir_{original.items.index(original.item_by_id[m]) + 1}" for m in g)
        for g in original.choice_groups
    )


@pytest.mark.parametrize("scale_id", SCALES)
def test_redcap_round_trip_keeps_totals(scale_id, tmp_path, capsys):
    original = get_scale(scale_id)
    source = tmp_path / "dictionary.csv"
    assert run(capsys, "redcap-dictionary", "--out", str(source))[0] == 0  # every scale: choose with --form
    target = tmp_path / f"{scale_id}_rc.json"
    code, out, err = run(
        capsys, "import-redcap", str(source), "--form", scale_id, "--id", f"{scale_id}_rc", "--out", str(target)
    )
    assert code == 0 and out == ""
    if scale_id == "bprs":  # the first instrument holds the project's record_id field: said so
        assert "field 'record_id' (text): not imported: the project's record id field" in err
    else:
        assert err == ""
    assert validate_files([target]) == []
    draft = compile_definition(json.loads(target.read_text()), target.name)
    assert_same_totals(original, draft)


def test_phq9_item10_keeps_its_logic_and_stays_out_of_the_total(tmp_path):
    source = tmp_path / "phq9.json"
    source.write_text(json.dumps(fhir.questionnaire(get_scale("phq9"))))
    raw = instruments_in.fhir_definition(str(source), "phq9_copy", "self")
    item10 = raw["items"][9]
    assert item10["scored"] is False and item10["number"] == "10"
    assert item10["visible_if"] == {"any": [{"item": f"phq9_copy_{n}", "op": ">=", "value": 1} for n in range(1, 10)]}
    assert raw["scoring"]["total"]["terms"] == [f"phq9_copy_{n}" for n in range(1, 10)]
    assert raw["loinc"]["panel"] == "44249-1" and raw["items"][0]["loinc"] == "44250-9"
    assert raw["cdisc"]["domain"] == "QS" and raw["rater"] == "self"


# ---------------------------------------------------------------------------------------------
# FHIR Questionnaires from elsewhere (LHC-Forms style)
# ---------------------------------------------------------------------------------------------


def test_lhc_forms_calculated_expression_becomes_the_total_without_the_excluded_item(capsys, tmp_path):
    target = tmp_path / "wellbeing.json"
    code, out, err = run(
        capsys, "import-fhir", str(DATA / "fhir_wellbeing_lhc.json"), "--id", "wellbeing", "--out", str(target)
    )
    assert code == 0 and out == ""
    raw = json.loads(target.read_text())
    assert validate_files([target]) == []
    assert raw["title"] == "Weekly wellbeing check (test instrument)"
    assert raw["instructions"] == "Think about the past seven days."
    ids = [i["id"] for i in raw["items"]]
    assert ids == [f"wellbeing_{n}" for n in range(1, 7)]
    # %resource.item.where(linkId != '/q4').answer.weight().sum(): q1-q3; q4 excluded; q5 has no
    # weights; /mood/q6 sits in a group, which `%resource.item` does not reach
    assert raw["scoring"]["total"]["terms"] == ["wellbeing_1", "wellbeing_2", "wellbeing_3"]
    assert [i.get("scored", True) for i in raw["items"]] == [True, True, True, False, False, False]
    assert raw["items"][0]["not_assessed"][0]["value"] == 9  # the unweighted option with a numeric code
    assert raw["items"][0]["loinc"] == "00001-1" and raw["loinc"] == {"panel": "00000-0"}
    assert raw["items"][4]["visible_if"] == {
        "any": [{"item": "wellbeing_1", "op": ">=", "value": 2}, {"item": "wellbeing_2", "op": ">=", "value": 0}]
    }
    assert raw["items"][4]["options"] == [
        {"value": 0, "label": "Not hard"},
        {"value": 1, "label": "Somewhat hard"},
        {"value": 2, "label": "Very hard"},
    ]
    notes = err.strip().splitlines()
    named = {line.split("item '", 1)[1].split("'", 1)[0] for line in notes}
    # every item not carried over, by linkId ('Not asked' on /q1 reads as a missing code: no note)
    assert named == {"/intro", "/q5", "/comment", "/mood"}
    assert any("'/comment' (string): not imported" in line for line in notes)
    assert any("'/q5' (choice): no option carries a weight" in line for line in notes)
    draft = compile_definition(raw, "wellbeing.json")
    assert score(draft, {"wellbeing_1": 3, "wellbeing_2": 1, "wellbeing_3": 2, "wellbeing_4": 3}).total == 6


def test_lhc_forms_variable_style_total(capsys):
    code, out, err = run(capsys, "import-fhir", str(DATA / "fhir_two_items_variables.json"), "--id", "two")
    assert code == 0 and err == ""
    raw = json.loads(out)
    assert raw["scoring"]["total"]["terms"] == ["two_1", "two_2"]
    assert raw["items"][2]["scored"] is False


@pytest.mark.parametrize(
    "expression, terms",
    [
        ("%resource.item.answer.weight().sum()", ["x_1", "x_2", "x_3"]),
        ("%resource.repeat(item).where(linkId = 'a' or linkId = 'c').answer.weight().sum()", ["x_1", "x_3"]),
        ("%resource.item.where(linkId.startsWith('a') or linkId = 'b').answer.weight().sum()", ["x_1", "x_2"]),
        ("(%resource.item.where(linkId != 'b' and linkId != 'c').answer.weight().sum())", ["x_1"]),
        (
            "%resource.item.where(linkId = 'a').answer.weight().sum() + "
            "%resource.item.where(linkId = 'b' or linkId = 'c').answer.weight().max()",
            ["x_1", "domain_1"],
        ),
    ],
)
def test_calculated_expressions_that_sum_weights(tmp_path, expression, terms):
    questionnaire = {
        "resourceType": "Questionnaire",
        "status": "draft",
        "item": [
            {
                "linkId": link,
                "type": "choice",
                "text": link,
                "answerOption": [
                    {
                        "valueCoding": {"code": f"{link}{w}"},
                        "extension": [{"url": fhir.ORDINAL_VALUE, "valueDecimal": w}],
                    }
                    for w in (0, 1, 2)
                ],
            }
            for link in ("a", "b", "c")
        ]
        + [
            {
                "linkId": "score",
                "type": "decimal",
                "text": "Score",
                "extension": [
                    {
                        "url": fhir.CALCULATED_EXPRESSION,
                        "valueExpression": {"language": "text/fhirpath", "expression": expression},
                    }
                ],
            }
        ],
    }
    source = tmp_path / "q.json"
    source.write_text(json.dumps(questionnaire))
    raw = instruments_in.fhir_definition(str(source), "x")
    assert raw["scoring"]["total"]["terms"] == terms


def test_an_expression_that_is_not_a_weight_sum_is_named_and_the_total_falls_back(tmp_path):
    questionnaire = json.loads((DATA / "fhir_two_items_variables.json").read_text())
    questionnaire["item"][-1]["extension"][-1]["valueExpression"]["expression"] = "%a_value * 2"
    source = tmp_path / "q.json"
    source.write_text(json.dumps(questionnaire))
    notes = instruments_in.Notes("")
    raw = instruments_in.fhir_definition(str(source), "two", notes=notes)
    assert raw["scoring"]["total"]["terms"] == ["two_1", "two_2", "two_3"]
    assert any("item '/score' (calculatedExpression): not imported" in n for n in notes.lines)
    assert any("no calculation found; the draft's total is the sum of every imported item" in n for n in notes.lines)


# ---------------------------------------------------------------------------------------------
# REDCap dictionaries from elsewhere
# ---------------------------------------------------------------------------------------------


def test_redcap_instrument_becomes_a_draft_and_lists_every_other_field(capsys, tmp_path):
    target = tmp_path / "mood.json"
    code, out, err = run(
        capsys,
        "import-redcap",
        str(DATA / "redcap_mood_dictionary.csv"),
        "--form",
        "mood_check",
        "--id",
        "mood",
        "--out",
        str(target),
        "--rater",
        "self",
    )
    assert code == 0 and out == ""
    assert validate_files([target]) == []
    raw = json.loads(target.read_text())
    assert raw["instructions"] == "Think about the past week."
    items = {i["id"]: i for i in raw["items"]}
    assert list(items) == [f"mood_{n}" for n in range(1, 7)]
    assert [i["number"] for i in raw["items"]] == ["1", "2A", "2B", "3", "4A", "4B"]
    assert items["mood_1"]["not_assessed"][0]["value"] == 9  # beyond the 0-3 run
    assert (items["mood_4"]["min"], items["mood_4"]["max"]) == (1, 4)
    assert items["mood_4"]["visible_if"] == {
        "any": [{"item": "mood_1", "op": ">", "value": 0}, {"item": "mood_2", "op": ">=", "value": 2}]
    }
    assert raw["choice_groups"][0]["items"] == ["mood_5", "mood_6"]
    assert "visible_if" not in items["mood_5"] and "visible_if" not in items["mood_6"]
    assert raw["scoring"]["subscales"] == [
        {
            "id": "mood_sleep_worst",
            "label": "Worst sleep problem",
            "method": "max",
            "items": ["mood_2", "mood_3"],
            "source": "Imported from REDCap data dictionary redcap_mood_dictionary.csv, instrument mood_check: "
            "mood_sleep_worst = max([mood_sleep_short],[mood_sleep_long])",
        }
    ]
    assert raw["scoring"]["total"]["terms"] == ["mood_1", "mood_sleep_worst", "mood_4", "mood_5", "mood_6"]
    assert (raw["scoring"]["total"]["min"], raw["scoring"]["total"]["max"]) == (1, 11)
    named = {line.split("field '", 1)[1].split("'", 1)[0]: line for line in err.strip().splitlines()}
    assert set(named) == {"mood_intro", "mood_low", "mood_notes", "mood_helpers", "mood_ok", "mood_colour", "mood_odd"}
    assert "line 11: field 'mood_notes' (notes): not imported" in named["mood_notes"]
    assert "choice code(s) ['r', 'g'] are not whole numbers" in named["mood_colour"]
    assert "'round([mood_low]*2,0)'" in named["mood_odd"]
    draft = compile_definition(raw, "mood.json")
    result = score(draft, {"mood_1": 2, "mood_2": 1, "mood_3": 2, "mood_4": 3, "mood_6": 1})
    assert (result.total, result.subscales) == (8, {"mood_sleep_worst": 2})


def test_redcap_api_column_names_are_accepted(tmp_path):
    text = (
        "field_name,form_name,section_header,field_type,field_label,select_choices_or_calculations\n"
        'a,f,,radio,"A?","0, No | 1, Yes"\nb,f,,dropdown,"B?","0, No | 1, Some | 2, Yes"\n'
        "t,f,,calc,Total,[a]+[b]\n"
    )
    source = tmp_path / "dd.csv"
    source.write_text(text)
    raw = instruments_in.redcap_definition(str(source), "ab")
    assert raw["scoring"]["total"]["terms"] == ["ab_1", "ab_2"] and raw["items"][0]["required"] is False


def test_the_written_draft_passes_scales_validate_as_a_command(tmp_path):
    target = tmp_path / "mood.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "exports",
            "import-redcap",
            str(DATA / "redcap_mood_dictionary.csv"),
            "--form",
            "mood_check",
            "--id",
            "mood",
            "--out",
            str(target),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    checked = subprocess.run(
        [sys.executable, "-m", "scales", "validate", str(target)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert checked.returncode == 0 and "1 definition(s) valid" in checked.stdout, checked.stderr


# ---------------------------------------------------------------------------------------------
# bad input: one line per problem, exit 1, nothing written
# ---------------------------------------------------------------------------------------------


def _write(tmp_path, name: str, content: bytes | str) -> str:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return str(path)


GOOD_DD = (DATA / "redcap_mood_dictionary.csv").read_text(encoding="utf-8")
HEADER = GOOD_DD.splitlines()[0]


@pytest.mark.parametrize(
    "command, name, content, extra, expected",
    [
        (
            "import-redcap",
            "latin1.csv",
            HEADER.encode() + b'\na,f,,radio,"Caf\xe9","0, No | 1, Yes",,,,,,,,,,,,\n',
            [],
            ["latin1.csv: line 2: not UTF-8 (byte 0xe9); save the file as UTF-8"],
        ),
        (
            "import-redcap",
            "quote.csv",
            HEADER + '\na,f,,radio,"Unclosed,"0, No | 1, Yes",,,,,,,,,,,,\n',
            [],
            ["quote.csv: malformed CSV"],
        ),
        (
            "import-redcap",
            "cells.csv",
            HEADER + '\na,f,,radio,"A","0, No | 1, Yes",,,\nb,f,,radio,"B","0, No | 1, Yes"\n',
            [],
            ["cells.csv: line 2: 9 cells, but the header has 18", "cells.csv: line 3: 6 cells, but the header has 18"],
        ),
        (
            "import-redcap",
            "cols.csv",
            '"Variable / Field Name","Form Name","Field Label"\na,f,A\n',
            [],
            [
                "cols.csv: line 1: missing column 'Field Type'",
                "cols.csv: line 1: missing column 'Choices, Calculations, OR Slider Labels'",
            ],
        ),
        ("import-redcap", "empty.csv", "", [], ["empty.csv: empty file"]),
        (
            "import-redcap",
            "dd.csv",
            GOOD_DD,
            [],
            ["the dictionary has 2 instruments (enrolment, mood_check); choose one with --form"],
        ),
        (
            "import-redcap",
            "dd.csv",
            GOOD_DD,
            ["--form", "nosuch"],
            ["dd.csv; its instruments are enrolment, mood_check"],
        ),
        (
            "import-redcap",
            "dd.csv",
            GOOD_DD,
            ["--form", "enrolment"],
            ["nothing to import: no radio/dropdown field or weighted choice item"],
        ),
        (
            "import-fhir",
            "bad.json",
            '{"resourceType": "Questionnaire",\n "item": [}',
            [],
            ["bad.json: line 2, column 11: not valid JSON"],
        ),
        (
            "import-fhir",
            "patient.json",
            '{"resourceType": "Patient"}',
            [],
            ["patient.json: resourceType: expected 'Questionnaire', found 'Patient'"],
        ),
        (
            "import-fhir",
            "noitems.json",
            '{"resourceType": "Questionnaire", "status": "draft"}',
            [],
            ["noitems.json: item: the Questionnaire has no items"],
        ),
        (
            "import-fhir",
            "latin1.json",
            b'{"resourceType": "Questionnaire", "title": "Caf\xe9"}',
            [],
            ["latin1.json: line 1: not UTF-8"],
        ),
    ],
)
def test_bad_files(capsys, tmp_path, command, name, content, extra, expected):
    path = _write(tmp_path, name, content)
    target = tmp_path / "new_scale.json"
    code, out, err = run(capsys, command, path, "--id", "new_scale", "--out", str(target), *extra)
    lines = err.strip().splitlines()
    assert code == 1 and out == "" and "Traceback" not in err
    assert len(lines) == len(expected)
    for line, fragment in zip(lines, expected, strict=True):
        assert line.startswith(f"python -m exports {command}: ") and fragment in line
    assert not target.exists() and not list(tmp_path.glob(".new_scale*"))


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["--id", "Bad-Id"], ["--id: 'Bad-Id' is not a scale id"]),
        (["--id", "good", "--out", "other.json"], ["--out: name the file 'good.json'"]),
        (["--id", "1x", "--out", "other.json"], ["--id: '1x' is not a scale id", "--out: name the file '1x.json'"]),
    ],
)
def test_bad_target(capsys, tmp_path, argv, expected):
    code, out, err = run(
        capsys, "import-redcap", str(DATA / "redcap_mood_dictionary.csv"), "--form", "mood_check", *argv
    )
    lines = err.strip().splitlines()
    assert code == 1 and out == "" and len(lines) == len(expected)
    assert all(fragment in line for line, fragment in zip(lines, expected, strict=True))


def test_missing_file_is_one_line(capsys, tmp_path):
    code, _, err = run(capsys, "import-fhir", str(tmp_path / "nope.json"), "--id", "x")
    assert code == 1 and err.strip().endswith("nope.json: cannot read (No such file or directory)")


def test_weights_that_cannot_make_a_scale_are_named(tmp_path):
    questionnaire = {
        "resourceType": "Questionnaire",
        "status": "draft",
        "item": [
            {
                "linkId": "gap",
                "type": "choice",
                "text": "Gap",
                "answerOption": [
                    {"valueCoding": {"code": c}, "extension": [{"url": fhir.ORDINAL_VALUE, "valueDecimal": w}]}
                    for c, w in (("a", 0), ("b", 1), ("c", 4))
                ],
            },
            {
                "linkId": "half",
                "type": "choice",
                "text": "Half",
                "answerOption": [
                    {"valueCoding": {"code": c}, "extension": [{"url": fhir.ORDINAL_VALUE, "valueDecimal": w}]}
                    for c, w in (("a", 0), ("b", 0.5))
                ],
            },
            {
                "linkId": "same",
                "type": "choice",
                "text": "Same",
                "answerOption": [
                    {"valueCoding": {"code": c}, "extension": [{"url": fhir.ORDINAL_VALUE, "valueDecimal": 1}]}
                    for c in ("a", "b")
                ],
            },
        ],
    }
    source = tmp_path / "q.json"
    source.write_text(json.dumps(questionnaire))
    notes = instruments_in.Notes("")
    raw = instruments_in.fhir_definition(str(source), "w", notes=notes)
    assert [i["id"] for i in raw["items"]] == ["w_1"]
    assert raw["items"][0]["not_assessed"] == [
        {"value": 4, "label": "c", "source": "Imported from FHIR Questionnaire q.json (gap)"}
    ]
    text = "\n".join(notes.lines)
    assert "item 'gap' (choice): value(s) [4] lie beyond the scored range 0-1" in text
    assert "item 'half' (choice): not imported: weights ['0', '0.5'] are not whole numbers" in text
    assert "item 'same' (choice): not imported: value(s) [1] repeat" in text


def test_redcap_dictionary_is_read_as_exported(tmp_path):
    """Our own dictionary of every scale parses back field for field (no cell lost to quoting)."""
    text = redcap.dictionary_csv([get_scale(s) for s in SCALES])
    source = tmp_path / "dd.csv"
    source.write_text(text, encoding="utf-8")
    rows = instruments_in.read_redcap_dictionary(str(source))
    assert len(rows) == len(text.splitlines()) - 1
    assert [line for line, _ in rows] == list(range(2, len(rows) + 2))
