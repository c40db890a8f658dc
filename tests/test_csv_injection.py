"""Issue 13 item 13: no CSV that Scalebook writes can carry a spreadsheet formula.

One rule (scales/csvout.py `neutralise`), called by every path that writes CSV: the exports
(csv, sdtm, redcap, and the Data export page's ZIP of them), the cohort page's table download
and `python -m scales score --csv`. Each path is fed text a person can type (an adverse-event
term, a withdrawal reason, a not-assessed reason, an arm) holding a formula, and every file is
read twice: as a CSV reader reads it, and as a spreadsheet in a locale whose list separator is
`;` reads it (most of continental Europe), which splits an unquoted `x;=1+1` into two cells.
Numbers stay numbers: `-3` and a negative percent change are never given an apostrophe.
"""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

from db import participants
from db.connection import connect, database_path, unit_of_work
from exports import bundle
from scales import csvout
from scales.loader import registry
from tests.app_support import app
from tests.test_analytics_db import seed_trial
from tests.test_exports_csv import FORMULA_REASON, FORMULA_TERM, export, read_csv, seed_study

ROOT = Path(__file__).resolve().parent.parent
EVIL = '=HYPERLINK("http://evil.example")'
#: A formula (DDE) after a ';': a spreadsheet that splits on ';' sees a cell `=cmd|...` wherever
#: the text stands in the line, unless the part after the ';' is neutralised too.
DDE = "moved away;=cmd|' /C calc'!A0"
SAFE_DDE = "moved away;'=cmd|' /C calc'!A0"

NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
DURATION = re.compile(r"-?P(?:\d+[YMWD])*(?:T(?:\d+[HMS])+)?")


def spreadsheet_cells(text: str) -> list[list[str]]:
    """The cells a spreadsheet shows for a CSV text: as a CSV reader reads it, then as a
    spreadsheet in a ';' locale reads it (a quote counts only at the start of a ';' cell, so a
    line break inside a quoted comma cell starts a new row), then split on tabs too."""
    rows = list(csv.reader(io.StringIO(text, newline="")))
    rows += csv.reader(io.StringIO(text, newline=""), delimiter=";")
    rows += csv.reader(io.StringIO(text, newline=""), delimiter="\t")
    return rows


def assert_no_formula(name: str, text: str) -> None:
    """No cell starts like a formula, except numbers and ISO 8601 durations (--ELTM, --EVLINT)."""
    for row in spreadsheet_cells(text):
        for value in row:
            assert (
                not value.startswith(csvout.FORMULA_STARTS) or NUMBER.fullmatch(value) or DURATION.fullmatch(value)
            ), (name, value)


def assert_payloads_kept(name: str, text: str, payloads: list[str]) -> None:
    """No payload that starts like a formula is a cell of this file as it was typed."""
    cells = {value for row in csv.reader(io.StringIO(text, newline="")) for value in row}
    for payload in payloads:
        assert payload not in cells, (name, payload)


# --------------------------------------------------------------------------- the rule


@pytest.mark.parametrize("text", [EVIL, "=1+1", "+1 more", "-1+2", "@SUM(A1)", "\tx", "\rx", "\0x", DDE[11:]])
def test_text_that_starts_like_a_formula_gets_one_apostrophe(text):
    assert csvout.neutralise(text) == "'" + text
    assert csvout.neutralise(csvout.neutralise(text)) == "'" + text  # an exported file read back stays as it is


@pytest.mark.parametrize(
    "value", [-3, -0.5, "-3", "+0.5", "-1e3", "12", ".5", "nausea", "x=1", "2026-03-02T09:40:00-05:00", None]
)
def test_numbers_dates_and_plain_text_are_untouched(value):
    assert csvout.neutralise(value) == value
    assert csvout.to_csv_text(["v", "w"], [{"v": value}]).splitlines()[1] == csvout.cell(value) + ","


def test_a_free_text_cell_holding_a_separator_is_quoted_and_reads_back_whole(tmp_path):
    text = csvout.to_csv_text(["term", "n"], [(DDE, -3), ("line\rbreak", 2), ("a;b", None)])
    assert text.splitlines()[1] == f'"{SAFE_DDE}",-3'
    assert list(csv.reader(io.StringIO(text, newline="")))[1:] == [[SAFE_DDE, "-3"], ["line\rbreak", "2"], ["a;b", ""]]
    assert_no_formula("text", text)
    # A formula after a ';' or a line break inside the cell is neutralised too (numbers are not).
    assert csvout.neutralise(DDE) == SAFE_DDE and csvout.neutralise(SAFE_DDE) == SAFE_DDE
    assert csvout.neutralise("a\n=1+1;-3;\t=x") == "a\n'=1+1;-3;'\t'=x"
    assert_no_formula("inner", csvout.to_csv_text(["a", "b"], [("x", "a\n=1+1;-3;\t=x\r@y")]))
    # The column-wise writer (SDTM datasets) follows the same rule.
    path = tmp_path / "x.csv"
    csvout.write_columns(path, {"term": [DDE, "plain", EVIL], "n": [-3, 1, None]}, raw={"n"})
    text = path.read_text(encoding="utf-8")
    assert list(csv.reader(io.StringIO(text, newline=""))) == [
        ["term", "n"],
        [SAFE_DDE, "-3"],
        ["plain", "1"],
        ["'" + EVIL, ""],
    ]
    assert_no_formula("columns", text)


# --------------------------------------------------------------------------- the exports


@pytest.fixture
def payloads(monkeypatch):
    """tests/test_exports_csv.py's study (an AE term and a not-assessed reason that are formulas,
    infusion notes starting with '-'), plus an arm that is a formula and a withdrawal reason that
    hides a formula behind a ';'."""
    study = seed_study(monkeypatch)
    db = connect(database_path())
    try:
        participants.update_participant(db, study.accounts.coord, study.p3["id"], arm=EVIL, reason="allocated")
        participants.withdraw_participant(db, study.accounts.coord_nyc, study.p2["id"], DDE)
    finally:
        db.close()
    return study


def test_every_file_of_the_csv_export(payloads, tmp_path, capsys):
    out = tmp_path / "csv"
    assert export(capsys, "csv", "--as", "admin", "--out", str(out))[0] == 0
    for path in sorted(out.glob("*.csv")):
        text = path.read_text(encoding="utf-8")
        assert_no_formula(path.name, text)
        assert_payloads_kept(path.name, text, [EVIL, FORMULA_TERM, FORMULA_REASON])
    people = {p["participant"]: p for p in read_csv(out / "participants.csv")}
    assert (people["P003"]["arm"], people["P002"]["status_reason"]) == ("'" + EVIL, SAFE_DDE)
    assert f'"{SAFE_DDE}"' in (out / "participants.csv").read_text(encoding="utf-8")
    assert read_csv(out / "adverse_events.csv")[0]["term"] == "'" + FORMULA_TERM
    na = next(r for r in read_csv(out / "responses.csv") if r["not_assessed_reason"])
    assert na["not_assessed_reason"] == "'" + FORMULA_REASON
    # Numbers stay numbers: the baseline ratings are at a negative minute of infusion 1.
    minutes = [
        r["minutes_since_infusion_start"] for r in read_csv(out / "assessments.csv") if r["participant"] == "P001"
    ]
    assert "-50" in minutes and all(NUMBER.fullmatch(m) for m in minutes if m)
    # The data dictionary says what the apostrophe means, for every free-text column.
    dictionary = {(r["file"], r["column"]): r for r in read_csv(out / "dictionary.csv")}
    assert dictionary[("adverse_events.csv", "term")]["allowed_values"] == csvout.FREE_TEXT_NOTE
    assert dictionary[("participants.csv", "arm")]["allowed_values"] == csvout.FREE_TEXT_NOTE
    assert dictionary[("vitals.csv", "systolic")]["allowed_values"] == "40-300"


def test_the_wide_file_with_neutralised_text_is_rescored_as_is(payloads, tmp_path, capsys):
    out = tmp_path / "csv"
    assert export(capsys, "csv", "--as", "admin", "--out", str(out))[0] == 0
    proc = subprocess.run(
        [sys.executable, "-m", "scales", "score", "madrs", "--csv", str(out / "wide_madrs.csv")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert rows and all(r["rescored_total"] == r["total"] for r in rows)
    # Every exported cell comes back as it was (nothing neutralised twice, numbers as numbers).
    exported = read_csv(out / "wide_madrs.csv")
    assert [{k: r[k] for k in exported[0]} for r in rows] == exported
    assert any(r["minutes_since_infusion_start"].startswith("-") for r in rows)


def test_every_csv_in_the_export_pages_zip(payloads):
    """The Data export page's download: csv, SDTM (.csv beside each .xpt) and REDCap, as one ZIP."""
    built = bundle.build_zip(None, payloads.accounts.admin, ["csv", "sdtm", "redcap"], study_id="KET01")
    with zipfile.ZipFile(io.BytesIO(built.data)) as archive:
        names = [n for n in archive.namelist() if n.endswith(".csv")]
        assert {"csv/participants.csv", "sdtm/ae.csv", "sdtm/dm.csv", "redcap/records.csv"} <= set(names)
        for name in names:
            text = archive.read(name).decode("utf-8-sig")
            assert_no_formula(name, text)
            assert_payloads_kept(name, text, [EVIL, FORMULA_TERM, FORMULA_REASON])
        ae = list(csv.DictReader(io.StringIO(archive.read("sdtm/ae.csv").decode())))
        dm = {
            r["USUBJID"].rsplit("-", 1)[-1]: r
            for r in csv.DictReader(io.StringIO(archive.read("sdtm/dm.csv").decode()))
        }
    assert ae[0]["AETERM"] == "'" + FORMULA_TERM
    assert any(r["ARM"] == "'" + EVIL for r in dm.values()), dm


# --------------------------------------------------------------------------- the cohort page


@pytest.fixture
def downloads(monkeypatch):
    """Every file a page run hands to st.download_button, by file name (AppTest keeps them in a
    memory store that it drops after the run)."""
    files: dict[str, bytes] = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def keep(self, path_or_data, mimetype, kind, filename=None):
        if filename and isinstance(path_or_data, bytes):
            files[filename] = path_or_data
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", keep)
    return files


@pytest.fixture
def seeded(app_world):
    return seed_trial(app_world)


def test_the_cohort_table_download_is_neutralised_and_keeps_numbers(app_world, seeded, unblinded, downloads):
    with unit_of_work() as db:
        participants.update_participant(
            db, app_world.users["coordinator"], app_world.p1["id"], arm=EVIL, reason="re-allocated"
        )
    at = app("pages/cohort.py", app_world.users["pi"]).run()
    assert not at.exception, at.exception
    text = downloads["participants-madrs.csv"].decode("utf-8-sig")
    assert_no_formula("participants-madrs.csv", text)
    rows = {r["participant"]: r for r in csv.DictReader(io.StringIO(text))}
    assert rows["KET-001"]["arm"] == "'" + EVIL
    assert (rows["KET-001"]["baseline"], rows["KET-001"]["endpoint"]) == ("30", "14")
    assert float(rows["KET-001"]["percent_change"]) < 0  # a negative number, written as a number


# --------------------------------------------------------------------------- python -m scales score --csv


def test_scales_cli_writes_input_text_neutralised_and_numbers_as_they_were(tmp_path):
    items = [i.id for i in registry()["phq9"].items]
    source = tmp_path / "in.csv"
    with source.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["participant", "note", "minutes", *items])
        writer.writerow(["P1", EVIL, "-30", *["1"] * len(items)])
        writer.writerow(["P2", DDE, "-1.5", *["2"] * len(items)])
        writer.writerow(["P3", "'" + EVIL, "+2", *["0"] * len(items)])  # already neutralised: kept as it is
    proc = subprocess.run(
        [sys.executable, "-m", "scales", "score", "phq9", "--csv", str(source)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert_no_formula("rescored", proc.stdout)
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert [(r["note"], r["minutes"], r["total"]) for r in rows] == [
        ("'" + EVIL, "-30", "9"),
        (SAFE_DDE, "-1.5", "18"),
        ("'" + EVIL, "+2", "0"),
    ]
