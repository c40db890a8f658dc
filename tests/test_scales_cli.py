"""`python -m scales`: run as a real subprocess, the way a data manager runs it."""

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from scales.loader import definition_files

ROOT = Path(__file__).resolve().parent.parent


def run(*args, stdin=""):
    return subprocess.run(
        [sys.executable, "-m", "scales", *args], input=stdin, capture_output=True, text=True, cwd=ROOT, timeout=60
    )


def assert_one_line_error(proc, *fragments):
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    for fragment in fragments:
        assert fragment in proc.stderr


@pytest.mark.parametrize("command", [[], ["list"], ["validate"], ["score"]])
def test_help_on_every_command(command):
    proc = run(*command, "--help")
    assert proc.returncode == 0
    assert "usage: python -m scales" in proc.stdout


def test_list_prints_every_scale():
    proc = run("list")
    assert proc.returncode == 0
    ids = [line.split("\t")[0] for line in proc.stdout.splitlines()]
    assert ids == sorted(p.stem for p in definition_files())  # every definition file, whatever ships


def test_validate_all_shipped():
    proc = run("validate")
    assert proc.returncode == 0, proc.stderr
    assert f"{len(definition_files())} definition(s) valid" in proc.stdout


def test_validate_reports_a_broken_file(tmp_path):
    raw = json.loads((ROOT / "scales/definitions/phq9.json").read_text())
    raw["scoring"]["total"]["max"] = 28
    broken = tmp_path / "phq9.json"
    broken.write_text(json.dumps(raw))
    proc = run("validate", str(broken), str(ROOT / "scales/definitions/madrs.json"))
    assert proc.returncode == 1
    assert "phq9.json: at $.scoring.total: declared total range 0-28" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_validate_missing_file():
    assert_one_line_error(run("validate", "nope.json"), "no such file: nope.json")


def test_score_json():
    responses = {f"phq9_{n}": 2 for n in range(1, 10)} | {"phq9_10": 1}
    proc = run("score", "phq9", stdin=json.dumps(responses))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["total"] == 18
    assert out["band"] == "Moderately severe"
    assert out["complete"] is True and out["missing"] == [] and out["prorated"] is False
    assert out["subscales"] == {}
    assert [f["id"] for f in out["flags"]] == ["phq9_self_harm"]
    assert out["definition_hash"].startswith("sha256:")


def test_score_incomplete_json_has_null_total():
    proc = run("score", "madrs", stdin='{"madrs_1": 3}')
    out = json.loads(proc.stdout)
    assert out["total"] is None and out["band"] is None and out["complete"] is False
    assert out["missing"] == [f"madrs_{n}" for n in range(2, 11)]


def test_score_band_set_option():
    responses = {f"madrs_{n}": 1 for n in range(1, 11)}  # total 10: Snaith "Mild", Swedish "None or minimal"
    default = json.loads(run("score", "madrs", stdin=json.dumps(responses)).stdout)
    swedish = json.loads(run("score", "madrs", "--band-set", "swedish", stdin=json.dumps(responses)).stdout)
    assert default["total"] == swedish["total"] == 10
    assert (default["band"], swedish["band"]) == ("Mild", "None or minimal")


@pytest.mark.parametrize(
    ("args", "stdin", "fragments"),
    [
        (["score", "nope"], "{}", ["unknown scale 'nope'"]),
        (["score", "phq9"], "{not json", ["stdin is not valid JSON"]),
        (["score", "phq9"], "[1, 2]", ["one JSON object"]),
        (["score", "phq9"], '{"phq9_1": 9}', ["item phq9_1: value 9 is not allowed", "0-3"]),
        (["score", "phq9"], '{"phq9_99": 1}', ["unknown item 'phq9_99'"]),
        (["score", "hamd17"], '{"hamd17_16a": 1, "hamd17_16b": 1}', ["hamd17_16a and hamd17_16b are both answered"]),
        (["score", "phq9", "--band-set", "x"], "{}", ["unknown band set 'x'"]),
    ],
)
def test_score_bad_input(args, stdin, fragments):
    assert_one_line_error(run(*args, stdin=stdin), *fragments)


def test_usage_error_does_not_trace():
    proc = run("frobnicate")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def write_csv(path, header, rows):
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def test_score_csv_adds_columns_and_passes_others_through(tmp_path):
    header = ["subject", "visit", *[f"qids_sr16_{n}" for n in range(1, 17)]]
    # Row 1: sleep max(1,3,0,2)=3, item5 2, appetite max(0,1,0,0)=1, items 10-14: 1,2,0,1,1, psychomotor max(2,1)=2
    # total = 3 + 2 + 1 + 1 + 2 + 0 + 1 + 1 + 2 = 13 (moderate).
    row1 = ["P001", "day1", 1, 3, 0, 2, 2, 0, 1, 0, 0, 1, 2, 0, 1, 1, 2, 1]
    row2 = ["P002", "day1", 1, "", 0, 2, 2, 0, 1, 0, 0, 1, 2, 0, 1, 1, 2, 1]  # item 2 missing
    source = tmp_path / "in.csv"
    write_csv(source, header, [row1, row2])
    proc = run("score", "qids_sr16", "--csv", str(source))
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert list(rows[0])[:3] == ["subject", "visit", "qids_sr16_1"]
    assert list(rows[0])[-7:] == ["total", "band", "complete", "prorated", "sleep", "appetite_weight", "psychomotor"]
    assert (rows[0]["subject"], rows[0]["total"], rows[0]["band"], rows[0]["complete"]) == (
        "P001",
        "13",
        "Moderate",
        "true",
    )
    assert (rows[0]["sleep"], rows[0]["appetite_weight"], rows[0]["psychomotor"]) == ("3", "1", "2")
    assert (rows[1]["total"], rows[1]["band"], rows[1]["complete"], rows[1]["sleep"]) == ("", "", "false", "")


def test_score_csv_phq9_prorated(tmp_path):
    header = [f"phq9_{n}" for n in range(1, 11)]
    source = tmp_path / "in.csv"
    write_csv(source, header, [[2, 2, 2, 2, 2, 1, 1, 1, "", 1]])
    rows = list(csv.DictReader(io.StringIO(run("score", "phq9", "--csv", str(source)).stdout)))
    assert (rows[0]["total"], rows[0]["prorated"]) == ("15", "true")


@pytest.mark.parametrize(
    ("header", "row", "fragments"),
    [
        (["phq9_1", "phq9_2"], ["x", "1"], ["row 2, column phq9_1: 'x' is not a number"]),
        (["phq9_1", "phq9_2"], ["5", "1"], ["row 2: item phq9_1: value 5 is not allowed"]),
        (["phq9_1", "phq9_2"], ["1.5", "1"], ["row 2: item phq9_1: value 1.5 is not a whole number"]),
        (["id", "score"], ["1", "2"], ["no column is an item of 'phq9'"]),
        (["phq9_1", "total", "rescored_total"], ["1", "2", "3"], ["already has column(s) ['rescored_total']"]),
    ],
)
def test_score_csv_bad_input_writes_nothing(tmp_path, header, row, fragments):
    source = tmp_path / "in.csv"
    write_csv(source, header, [row])
    proc = run("score", "phq9", "--csv", str(source))
    assert_one_line_error(proc, *fragments)
    assert proc.stdout == ""


def test_score_csv_keeps_existing_scores_and_adds_rescored_columns(tmp_path):
    """A file that already has total/band (an export's wide file) is rescored side by side."""
    header = [f"phq9_{n}" for n in range(1, 11)] + ["total", "band"]
    source = tmp_path / "in.csv"
    write_csv(source, header, [[1, 1, 1, 1, 1, 1, 1, 1, 1, "", "9", "Mild"]])
    proc = run("score", "phq9", "--csv", str(source))
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert list(rows[0])[-6:] == [
        "total",
        "band",
        "rescored_total",
        "rescored_band",
        "rescored_complete",
        "rescored_prorated",
    ]
    assert (rows[0]["total"], rows[0]["rescored_total"], rows[0]["rescored_band"]) == ("9", "9", "Mild")


def test_score_csv_missing_file():
    assert_one_line_error(run("score", "phq9", "--csv", "/nonexistent.csv"), "cannot read /nonexistent.csv")
