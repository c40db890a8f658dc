"""REDCap out (exports/redcap.py): the data dictionary (REDCap's 18 columns, the header byte for
byte as REDCap writes it, radio choices, branching logic, the total as a calc field) and the flat
record import file; bad input is one line on stderr, exit 1, nothing written."""

from __future__ import annotations

import csv
import io
import json

import pandas as pd
import pytest

from db.connection import unit_of_work
from exports import redcap
from exports.cli import main
from scales import get_scale
from scales.loader import registry
from tests.test_exports_fhir import seed_ratings

# As REDCap's "Download the current Data Dictionary" writes it: every name quoted but Identifier?.
REDCAP_HEADER = (
    '"Variable / Field Name","Form Name","Section Header","Field Type","Field Label",'
    '"Choices, Calculations, OR Slider Labels","Field Note","Text Validation Type OR Show Slider Number",'
    '"Text Validation Min","Text Validation Max",Identifier?,"Branching Logic (Show field only if...)",'
    '"Required Field?","Custom Alignment","Question Number (surveys only)","Matrix Group Name","Matrix Ranking?",'
    '"Field Annotation"'
)


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([*argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_dictionary_header_is_byte_for_byte_redcaps(capsys):
    code, out, err = run(capsys, "redcap-dictionary")
    assert (code, err) == (0, "")
    assert out.encode("utf-8").split(b"\n", 1)[0] == REDCAP_HEADER.encode("utf-8")
    assert not out.startswith("\ufeff")
    records = list(csv.reader(io.StringIO(out)))
    assert len(records[0]) == 18 and all(len(r) == 18 for r in records)
    frame = pd.read_csv(io.StringIO(out), dtype=str, keep_default_na=False)
    assert list(frame.columns) == list(redcap.COLUMNS)
    # record_id first, then one instrument per scale, each ending in its total calc field
    assert records[1][:4] == ["record_id", "bprs", "", "text"]
    assert list(dict.fromkeys(frame["Form Name"])) == sorted(registry())
    totals = frame[frame["Field Type"] == "calc"]
    assert list(totals["Variable / Field Name"]) == [f"{s}_total" for s in sorted(registry())]


def test_rows_are_quoted_as_redcap_quotes_them():
    text = redcap.dictionary_csv([get_scale("madrs")])
    lines = text.splitlines()
    assert lines[1] == 'record_id,madrs,,text,"Participant code",,,,,,,,,,,,,'
    item = lines[2]
    assert item.startswith('madrs_1,madrs,"Rate each item')
    assert ',radio,"Sadness, gloom or despair' in item
    assert (
        '"0, 0 – No visible sadness | 1, 1 – between 0 and 2 | 2, 2 – Down but brightens | 3, 3 – between 2 and 4 | '
        '4, 4 – Sad most of the time | 5, 5 – between 4 and 6 | 6, 6 – Miserable throughout"'
    ) in item
    assert ",,,,,,,y,,1,,," in item  # Required Field? y, Question Number 1


@pytest.mark.parametrize("scale_id", sorted(registry()))
def test_every_item_is_a_radio_field_with_the_scored_choices(scale_id):
    definition = get_scale(scale_id)
    frame = {r["Variable / Field Name"]: r for r in rows_of(redcap.dictionary_csv([definition]))}
    for item in definition.items:
        row = frame[item.id]
        assert row["Field Type"] == "radio" and row["Form Name"] == scale_id
        choices = [c.split(", ", 1) for c in row["Choices, Calculations, OR Slider Labels"].split(" | ")]
        assert [int(v) for v, _ in choices] == [o["value"] for o in item.options]
        for code in item.not_assessed:  # never a choice: REDCap's sum() would add it
            assert f"{code['value']} = {code['label']}" in row["Field Annotation"]
        assert row["Question Number (surveys only)"] == item.number


def test_visibility_and_choice_groups_are_branching_logic():
    phq = {r["Variable / Field Name"]: r for r in rows_of(redcap.dictionary_csv([get_scale("phq9")]))}
    assert phq["phq9_10"]["Branching Logic (Show field only if...)"] == " or ".join(
        f"[phq9_{n}] > 0" for n in range(1, 10)
    )
    assert (
        phq["phq9_total"]["Choices, Calculations, OR Slider Labels"]
        == "sum(" + ",".join(f"[phq9_{n}]" for n in range(1, 10)) + ")"
    )
    hamd = {r["Variable / Field Name"]: r for r in rows_of(redcap.dictionary_csv([get_scale("hamd17")]))}
    assert hamd["hamd17_16a"]["Branching Logic (Show field only if...)"] == "[hamd17_16b] = ''"
    assert hamd["hamd17_16b"]["Branching Logic (Show field only if...)"] == "[hamd17_16a] = ''"
    assert hamd["hamd17_16a"]["Required Field?"] == "" and hamd["hamd17_1"]["Required Field?"] == "y"


def test_qids_total_is_a_sum_of_max_terms():
    frame = {r["Variable / Field Name"]: r for r in rows_of(redcap.dictionary_csv([get_scale("qids_sr16")]))}
    assert frame["qids_sr16_total"]["Choices, Calculations, OR Slider Labels"] == (
        "sum(max([qids_sr16_1],[qids_sr16_2],[qids_sr16_3],[qids_sr16_4]),[qids_sr16_5],"
        "max([qids_sr16_6],[qids_sr16_7],[qids_sr16_8],[qids_sr16_9]),[qids_sr16_10],[qids_sr16_11],"
        "[qids_sr16_12],[qids_sr16_13],[qids_sr16_14],max([qids_sr16_15],[qids_sr16_16]))"
    )
    assert frame["qids_sr16_total"]["Field Type"] == "calc"


def test_free_text_that_looks_like_a_formula_is_neutralised():
    line = redcap.dictionary_line(
        {
            "Variable / Field Name": "x_1",
            "Form Name": "x",
            "Field Type": "radio",
            "Field Label": '=HYPERLINK("http://evil")',
            "Field Note": "+1 more",
            "Choices, Calculations, OR Slider Labels": "-1, Refused | 0, No",
            "Branching Logic (Show field only if...)": "[x_0] = '1'",
        }
    )
    cells = next(csv.reader(io.StringIO(line)))
    assert cells[4] == '\'=HYPERLINK("http://evil")' and cells[6] == "'+1 more"
    assert cells[5] == "-1, Refused | 0, No"  # choices are codes, not free text


def test_dictionary_of_named_scales_and_to_a_file(capsys, tmp_path):
    out = tmp_path / "dd.csv"
    assert run(capsys, "redcap-dictionary", "phq9", "madrs", "--out", str(out)) == (0, "", "")
    frame = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(dict.fromkeys(frame["Form Name"])) == ["phq9", "madrs"]
    assert frame.iloc[0]["Form Name"] == "phq9" and frame.iloc[0]["Variable / Field Name"] == "record_id"


def test_dictionary_unknown_scale_is_named(capsys):
    code, out, err = run(capsys, "redcap-dictionary", "madrs", "nosuch", "other")
    assert code == 1 and out == "" and "Traceback" not in err
    assert err.strip().splitlines() == [
        f"python -m exports redcap-dictionary: SCALE_ID: unknown scale '{s}'; known scales: "
        f"{', '.join(sorted(registry()))}"
        for s in ("nosuch", "other")
    ]


# ---------------------------------------------------------------------------------------------
# records
# ---------------------------------------------------------------------------------------------


def test_records_file_is_redcaps_flat_import_format(app_world, tmp_path, capsys):
    seeded = seed_ratings(app_world)
    out = tmp_path / "records.csv"
    assert run(capsys, "redcap-records", "--out", str(out)) == (0, "", "")
    frame = pd.read_csv(out, dtype=str, keep_default_na=False)
    definitions = [get_scale(s) for s in sorted(registry())]
    assert list(frame.columns) == redcap.records_columns(definitions)
    assert list(frame.columns[:2]) == ["record_id", "redcap_event_name"]
    rows = {(r["record_id"], r["redcap_event_name"]): r for r in frame.to_dict("records")}
    # one row per participant and event; forms rated at that event side by side
    assert set(rows) == {
        ("KET-001", "baseline_arm_1"),
        ("KET-001", "inf1_40min_arm_1"),
        ("KET-001", "day1_arm_1"),
        ("KET-002", "baseline_arm_1"),
    }
    baseline = rows[("KET-001", "baseline_arm_1")]
    assert baseline["madrs_1"] == "3" and baseline["madrs_complete"] == "2"
    assert baseline["phq9_10"] == "1" and baseline["phq9_complete"] == "2"
    assert baseline["hamd17_3"] == "" and baseline["hamd17_16a"] == "" and baseline["hamd17_16b"] == "1"
    assert baseline["cadss_1"] == "" and baseline["cadss_complete"] == ""
    assert "madrs_total" not in frame.columns  # calc fields are REDCap's to compute
    # the draft PHQ-9 of KET-002 at day1 is not data
    assert ("KET-002", "day1_arm_1") not in rows
    assert rows[("KET-001", "day1_arm_1")]["qids_sr16_5"] == str(5 % 4)
    assert seeded["cadss"]["id"]


def test_records_follow_the_dictionary_and_the_site(app_world, tmp_path, capsys):
    seed_ratings(app_world)
    out = tmp_path / "r.csv"
    assert run(
        capsys, "redcap-records", "--out", str(out), "--scale", "madrs", "--site", "OXF", "--event-suffix", "_arm_2"
    ) == (0, "", "")
    assert out.read_text(encoding="utf-8").splitlines() == [
        "record_id,redcap_event_name," + ",".join(f"madrs_{n}" for n in range(1, 11)) + ",madrs_complete",
        "KET-002,baseline_arm_2," + ",".join("4" for _ in range(10)) + ",2",
    ]
    with unit_of_work(write=False) as db:
        username, new_value = db.execute(
            "SELECT username, new_value FROM audit_events WHERE action = 'export.create' ORDER BY id DESC LIMIT 1"
        ).fetchone()
    detail = json.loads(new_value)
    assert detail["kind"] == "redcap-records" and detail["records"] == {"records": 1} and detail["site"] == "OXF"
    assert username.startswith("cli:")


def test_record_ids_that_look_like_formulas_stay_codes():
    definition = get_scale("madrs")
    rows = redcap.records_rows(
        [definition],
        [
            (
                {
                    "participant": "-7",
                    "timepoint": "Day 1",
                    "scale_id": "madrs",
                    "status": "complete",
                    "assessment_id": 1,
                },
                [{"item_id": "madrs_1", "value": 2}],
            )
        ],
    )
    text = redcap.records_csv([definition], rows)
    assert text.splitlines()[1].startswith("-7,day_1_arm_1,2,")


def test_event_names_are_redcap_unique_event_names():
    assert redcap.event_name("Baseline") == "baseline_arm_1"
    assert redcap.event_name("inf1 +40 min") == "inf1_40_min_arm_1"
    assert redcap.event_name("7d") == "t_7d_arm_1"


def test_records_of_an_empty_study_are_the_header_only(app_world, tmp_path, capsys):
    out = tmp_path / "r.csv"
    assert run(capsys, "redcap-records", "--out", str(out)) == (0, "", "")
    lines = out.read_text().splitlines()
    assert len(lines) == 1 and lines[0].startswith("record_id,redcap_event_name,bprs_1,")


@pytest.mark.parametrize(
    "make_argv, expected",
    [
        (
            lambda tmp: ["--db", str(tmp / "missing.db"), "redcap-records", "--out", str(tmp / "o.csv")],
            "missing.db: no such file",
        ),
        (lambda tmp: ["redcap-records", "--out", str(tmp / "o.csv"), "--site", "XYZ"], "--site: no site 'XYZ'"),
        (lambda tmp: ["redcap-records", "--out", str(tmp / "o.csv"), "--scale", "x"], "--scale: unknown scale 'x'"),
        (lambda tmp: ["redcap-records", "--out", str(tmp / "o.csv"), "--event-suffix", "arm 1"], "--event-suffix:"),
        (lambda tmp: ["redcap-records", "--out", str(tmp)], "is a directory"),
    ],
)
def test_records_bad_input_is_one_line_and_writes_nothing(app_world, tmp_path, capsys, make_argv, expected):
    code, out, err = run(capsys, *make_argv(tmp_path))
    assert code == 1 and out == ""
    assert len(err.strip().splitlines()) == 1 and expected in err and "Traceback" not in err
    assert not (tmp_path / "o.csv").exists() and not list(tmp_path.glob(".o.csv*"))
