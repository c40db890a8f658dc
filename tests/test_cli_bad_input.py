"""Every command line answers bad input with a message (issue 13, item 11).

One table: each row runs one command of `python -m scales | protocol | exports | db` through
its `main(argv)` (as tests/test_db_cli.py and tests/test_exports_*.py do; a few rows again as a
real subprocess at the end) with one kind of bad input (text that is not UTF-8, JSON nested
100,000 deep, a 5,000-digit integer, NaN and 1e308 doses, a key given twice, ragged CSV rows, a
CSV field over the csv module's limit, dates out of range, a directory where a file belongs),
and asserts: a non-zero exit, no traceback, no "unexpected" safety-net line (the problem was
recognised), a message naming the problem, every stderr line a message of the command, and
nothing written (no output file, nothing on stdout, no new row in the database).
"""

from __future__ import annotations

import copy
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import db.cli
import exports.cli
import protocol.cli
import scales.cli
from db.connection import connect, database_path

ROOT = Path(__file__).resolve().parent.parent
MAINS: dict[str, Callable] = {
    "scales": scales.cli.main,
    "protocol": protocol.cli.main,
    "exports": exports.cli.main,
    "db": db.cli.main,
}
PHQ9 = json.loads((ROOT / "scales/definitions/phq9.json").read_text(encoding="utf-8"))
PROTOCOL = json.loads((ROOT / "protocol/studies/default.json").read_text(encoding="utf-8"))
FHIR = json.loads((ROOT / "tests/data/fhir_two_items_variables.json").read_text(encoding="utf-8"))
DEEP = b"[" * 100_000 + b"]" * 100_000
BIG = "1" * 5000
OVER_FIELD_LIMIT = "x" * 200_000  # csv.field_size_limit() is 131,072 by default
IMPORT_HEADER = "participant,scale,timepoint,assessed_at,item,value,not_assessed_reason"
GOOD_ROW = "KET-001,madrs,baseline,2026-03-02T08:00:00+00:00,madrs_1,3,"


def text_with(raw: dict, mark: str, replacement: str) -> str:
    """The JSON of `raw` with the string value "<mark>" replaced by raw JSON text (NaN, 1e308, a
    5,000-digit integer), which json.dumps would not write."""
    text = json.dumps(raw)
    assert f'"{mark}"' in text
    return text.replace(f'"{mark}"', replacement, 1)


def marked(raw: dict, set_mark: Callable[[dict], None]) -> dict:
    raw = copy.deepcopy(raw)
    set_mark(raw)
    return raw


def non_utf8(raw: dict, set_mark: Callable[[dict], None]) -> bytes:
    """`raw` as JSON with a Latin-1 'é' (byte 0xe9, not UTF-8) inside one string."""
    return json.dumps(marked(raw, set_mark)).encode().replace(b'"MARK"', b'"Caf\xe9"', 1)


def duplicated_key(raw: dict, key: str) -> str:
    text = json.dumps(raw)
    first = f'"{key}": '
    start = text.index(first)
    end = text.index(",", start)
    return text[: end + 1] + " " + text[start : end + 1] + text[end + 1 :]


def def_mark(raw: dict) -> None:
    raw["items"][0]["max"] = "MARK"


def dose_mark(raw: dict) -> None:
    raw["dosing"]["mg_per_kg"]["max"] = "MARK"


def proto_title(raw: dict) -> None:
    raw["title"] = "MARK"


def fhir_weight(raw: dict) -> None:
    raw["item"][0]["answerOption"][1]["extension"][0]["valueDecimal"] = "MARK"


def fhir_title(raw: dict) -> None:
    raw["title"] = "MARK"


def huge_definition() -> str:
    raw = copy.deepcopy(PHQ9)
    raw["items"][0]["max"] = 10**9
    return json.dumps(raw)


def absurd_dose() -> str:
    raw = copy.deepcopy(PROTOCOL)
    raw["dosing"]["mg_per_kg"]["max"] = 1e308
    return json.dumps(raw)


REDCAP_HEADER = (
    '"Variable / Field Name","Form Name","Section Header","Field Type","Field Label",'
    '"Choices, Calculations, OR Slider Labels","Field Note","Text Validation Type OR Show Slider Number",'
    '"Text Validation Min","Text Validation Max",Identifier?,"Branching Logic (Show field only if...)",'
    '"Required Field?","Custom Alignment","Question Number (surveys only)","Matrix Group Name",'
    '"Matrix Ranking?","Field Annotation"'
)


@dataclass
class Case:
    """One command with one bad input. `files` maps a name under tmp_path to its content, written
    before the run; `{tmp}` in argv is tmp_path. `expect`: fragments of stderr. `lines`: how many
    stderr lines (None: not fixed, e.g. an import's per-row problems plus its summary)."""

    id: str
    cli: str
    argv: list[str]
    expect: list[str]
    files: dict[str, bytes | str] = field(default_factory=dict)
    stdin: bytes = b""
    lines: int | None = 1
    study: bool = False  # needs the seeded database (tests/conftest.py `study`)
    outputs: list[str] = field(default_factory=list)  # paths under tmp_path that must not exist afterwards
    prefixes: tuple[str, ...] = ()  # the stderr lines' starts, where not the command's usual error prefix
    before: Callable[[], None] | None = None  # what to break before the run (after the study is seeded)


CASES = [
    # python -m scales score: responses as JSON on stdin
    Case(
        "scales-stdin-not-utf8", "scales", ["score", "madrs"], ["not UTF-8", "line 1"], stdin=b'{"madrs_1": "Caf\xe9"}'
    ),
    Case("scales-stdin-deep", "scales", ["score", "madrs"], ["nested too deeply"], stdin=DEEP),
    Case(
        "scales-stdin-5000-digits",
        "scales",
        ["score", "madrs"],
        ["5000 digits"],
        stdin=b'{"madrs_1": ' + BIG.encode() + b"}",
    ),
    Case(
        "scales-stdin-duplicate-key",
        "scales",
        ["score", "madrs"],
        ['the key "madrs_1" appears twice'],
        stdin=b'{"madrs_1": 1, "madrs_2": 0, "madrs_1": 4}',
    ),
    Case(
        "scales-stdin-nan", "scales", ["score", "madrs"], ["NaN is not a number JSON allows"], stdin=b'{"madrs_1": NaN}'
    ),
    Case(
        "scales-stdin-infinite",
        "scales",
        ["score", "madrs"],
        ["the number 1e999 is too large"],
        stdin=b'{"madrs_1": 1e999}',
    ),
    # python -m scales score --csv
    Case(
        "scales-csv-not-utf8",
        "scales",
        ["score", "phq9", "--csv", "{tmp}/in.csv"],
        ["line 2: not UTF-8"],
        files={"in.csv": b"phq9_1,note\n1,Caf\xe9\n"},
    ),
    Case(
        "scales-csv-ragged-long",
        "scales",
        ["score", "phq9", "--csv", "{tmp}/in.csv"],
        ["row 2: 3 fields, but the header has 2"],
        files={"in.csv": "phq9_1,phq9_2\n1,2,3\n"},
    ),
    Case(
        "scales-csv-ragged-short",
        "scales",
        ["score", "phq9", "--csv", "{tmp}/in.csv"],
        ["row 3: 1 fields, but the header has 2"],
        files={"in.csv": "phq9_1,phq9_2\n1,2\n1\n"},
    ),
    Case(
        "scales-csv-field-over-limit",
        "scales",
        ["score", "phq9", "--csv", "{tmp}/in.csv"],
        ["line 2: a field is longer than 131,072 characters"],
        files={"in.csv": f"phq9_1,note\n1,{OVER_FIELD_LIMIT}\n"},
    ),
    Case(
        "scales-csv-5000-digits",
        "scales",
        ["score", "phq9", "--csv", "{tmp}/in.csv"],
        ["row 2, column phq9_1", "5000 characters long, not a score"],
        files={"in.csv": f"phq9_1\n{BIG}\n"},
    ),
    Case(
        "scales-csv-nan",
        "scales",
        ["score", "phq9", "--csv", "{tmp}/in.csv"],
        ["row 2, column phq9_1: 'nan' is not a finite number"],
        files={"in.csv": "phq9_1\nnan\n"},
    ),
    Case(
        "scales-csv-repeated-column",
        "scales",
        ["score", "phq9", "--csv", "{tmp}/in.csv"],
        ["column(s) ['phq9_1'] appear more than once"],
        files={"in.csv": "phq9_1,phq9_1\n1,2\n"},
    ),
    # python -m scales validate: definition files
    Case(
        "scales-def-not-utf8",
        "scales",
        ["validate", "{tmp}/phq9.json"],
        ["phq9.json: at $: not UTF-8"],
        files={"phq9.json": non_utf8(PHQ9, lambda raw: raw.update(title="MARK"))},
    ),
    Case(
        "scales-def-deep", "scales", ["validate", "{tmp}/phq9.json"], ["nested too deeply"], files={"phq9.json": DEEP}
    ),
    Case(
        "scales-def-5000-digits",
        "scales",
        ["validate", "{tmp}/phq9.json"],
        ["5000 digits"],
        files={"phq9.json": text_with(marked(PHQ9, def_mark), "MARK", BIG)},
    ),
    Case(
        "scales-def-nan",
        "scales",
        ["validate", "{tmp}/phq9.json"],
        ["NaN is not a number JSON allows"],
        files={"phq9.json": text_with(marked(PHQ9, def_mark), "MARK", "NaN")},
    ),
    Case(
        "scales-def-duplicate-key",
        "scales",
        ["validate", "{tmp}/phq9.json"],
        ['the key "version" appears twice', "json-duplicate-key"],
        files={"phq9.json": duplicated_key(PHQ9, "version")},
    ),
    Case(
        "scales-def-item-max-1e9",
        "scales",
        ["validate", "{tmp}/phq9.json"],
        ["$.items[0].max", "1000000000 is greater than the maximum of 1000"],
        files={"phq9.json": huge_definition()},
    ),
    # python -m protocol: protocol files and dates
    Case(
        "protocol-not-utf8",
        "protocol",
        ["validate", "{tmp}/study.json"],
        ["study.json: at $: not UTF-8"],
        files={"study.json": non_utf8(PROTOCOL, proto_title)},
    ),
    Case(
        "protocol-deep", "protocol", ["validate", "{tmp}/study.json"], ["nested too deeply"], files={"study.json": DEEP}
    ),
    Case(
        "protocol-5000-digits",
        "protocol",
        ["validate", "{tmp}/study.json"],
        ["5000 digits"],
        files={"study.json": text_with(marked(PROTOCOL, dose_mark), "MARK", BIG)},
    ),
    Case(
        "protocol-nan-dose",
        "protocol",
        ["validate", "{tmp}/study.json"],
        ["NaN is not a number JSON allows"],
        files={"study.json": text_with(marked(PROTOCOL, dose_mark), "MARK", "NaN")},
    ),
    Case(
        "protocol-infinite-dose",
        "protocol",
        ["validate", "{tmp}/study.json"],
        ["Infinity is not a number"],
        files={"study.json": text_with(marked(PROTOCOL, dose_mark), "MARK", "Infinity")},
    ),
    Case(
        "protocol-absurd-dose",
        "protocol",
        ["validate", "{tmp}/study.json"],
        ["$.dosing.mg_per_kg.max", "1e+308 is greater than the maximum of 5"],
        files={"study.json": absurd_dose()},
    ),
    Case(
        "protocol-duplicate-key",
        "protocol",
        ["validate", "{tmp}/study.json"],
        ['the key "version" appears twice'],
        files={"study.json": duplicated_key(PROTOCOL, "version")},
    ),
    Case(
        "protocol-show-nan-dose",
        "protocol",
        ["show", "{tmp}/study.json"],
        ["NaN is not a number JSON allows"],
        files={"study.json": text_with(marked(PROTOCOL, dose_mark), "MARK", "NaN")},
    ),
    Case(
        "protocol-date-year-9999",
        "protocol",
        ["show", "--first-infusion", "9999-12-31T23:00"],
        ["--first-infusion 9999-12-31T23:00: the year 9999 is out of range"],
    ),
    Case(
        "protocol-date-year-1",
        "protocol",
        ["show", "--first-infusion", "0001-01-01T00:00+05:00"],
        ["the year 1 is out of range"],
    ),
    # python -m exports import-fhir: a Questionnaire (JSON)
    Case(
        "fhir-deep",
        "exports",
        ["import-fhir", "{tmp}/q.json", "--id", "q", "--out", "{tmp}/q_out/q.json"],
        ["q.json: objects and arrays are nested too deeply"],
        files={"q.json": DEEP},
        outputs=["q_out/q.json"],
    ),
    Case(
        "fhir-5000-digits",
        "exports",
        ["import-fhir", "{tmp}/q.json", "--id", "q", "--out", "{tmp}/q_out/q.json"],
        ["5000 digits"],
        files={"q.json": text_with(marked(FHIR, fhir_weight), "MARK", BIG)},
        outputs=["q_out/q.json"],
    ),
    Case(
        "fhir-nan-weight",
        "exports",
        ["import-fhir", "{tmp}/q.json", "--id", "q", "--out", "{tmp}/q_out/q.json"],
        ["NaN is not a number JSON allows"],
        files={"q.json": text_with(marked(FHIR, fhir_weight), "MARK", "NaN")},
        outputs=["q_out/q.json"],
    ),
    Case(
        "fhir-duplicate-key",
        "exports",
        ["import-fhir", "{tmp}/q.json", "--id", "q", "--out", "{tmp}/q_out/q.json"],
        ['the key "resourceType" appears twice'],
        files={"q.json": '{"resourceType": "Patient", ' + json.dumps(FHIR)[1:]},
        outputs=["q_out/q.json"],
    ),
    Case(
        "fhir-not-utf8",
        "exports",
        ["import-fhir", "{tmp}/q.json", "--id", "q", "--out", "{tmp}/q_out/q.json"],
        ["not UTF-8"],
        files={"q.json": non_utf8(FHIR, fhir_title)},
        outputs=["q_out/q.json"],
    ),
    # python -m exports import-redcap: a data dictionary (CSV)
    Case(
        "redcap-ragged",
        "exports",
        ["import-redcap", "{tmp}/dd.csv", "--id", "x", "--out", "{tmp}/x.json"],
        ["dd.csv: line 2: 3 cells, but the header has 18"],
        files={"dd.csv": REDCAP_HEADER + "\na,f,x\n"},
        outputs=["x.json"],
    ),
    Case(
        "redcap-field-over-limit",
        "exports",
        ["import-redcap", "{tmp}/dd.csv", "--id", "x", "--out", "{tmp}/x.json"],
        ["field larger than field limit"],
        files={"dd.csv": REDCAP_HEADER + f"\na,f,,radio,{OVER_FIELD_LIMIT}\n"},
        outputs=["x.json"],
    ),
    Case(
        "redcap-not-utf8",
        "exports",
        ["import-redcap", "{tmp}/dd.csv", "--id", "x", "--out", "{tmp}/x.json"],
        ["line 2: not UTF-8"],
        files={"dd.csv": REDCAP_HEADER.encode() + b"\na,f,,radio,Caf\xe9\n"},
        outputs=["x.json"],
    ),
    # python -m exports import-responses: transcribed ratings (CSV) into the seeded database
    Case(
        "responses-not-utf8",
        "exports",
        ["import-responses", "{tmp}/r.csv", "--as", "rater"],
        ["r.csv: line 2: the file is not UTF-8 text"],
        study=True,
        files={"r.csv": (IMPORT_HEADER + "\n" + GOOD_ROW).encode() + b"Caf\xe9\n"},
    ),
    Case(
        "responses-ragged",
        "exports",
        ["import-responses", "{tmp}/r.csv", "--as", "rater"],
        ["r.csv: line 2: 8 fields, but the header has 7"],
        study=True,
        lines=None,
        files={"r.csv": IMPORT_HEADER + "\n" + GOOD_ROW + ",extra\n"},
    ),
    Case(
        "responses-field-over-limit",
        "exports",
        ["import-responses", "{tmp}/r.csv", "--as", "rater"],
        ["r.csv: line 2: a field is longer than 131,072 characters"],
        study=True,
        lines=None,
        files={"r.csv": IMPORT_HEADER + "\n" + GOOD_ROW + OVER_FIELD_LIMIT + "\n"},
    ),
    Case(
        "responses-5000-digit-value",
        "exports",
        ["import-responses", "{tmp}/r.csv", "--as", "rater"],
        ["r.csv: line 2: madrs_1: value '11111111111111111111… (5000 characters)' is not a number"],
        study=True,
        lines=None,
        files={"r.csv": IMPORT_HEADER + "\n" + GOOD_ROW.replace("madrs_1,3,", f"madrs_1,{BIG},") + "\n"},
    ),
    Case(
        "responses-nan-value",
        "exports",
        ["import-responses", "{tmp}/r.csv", "--as", "rater"],
        ["r.csv: line 2: madrs_1: value 'nan' is not a number"],
        study=True,
        lines=None,
        files={"r.csv": IMPORT_HEADER + "\n" + GOOD_ROW.replace("madrs_1,3,", "madrs_1,nan,") + "\n"},
    ),
    Case(
        "responses-date-year-9999",
        "exports",
        ["import-responses", "{tmp}/r.csv", "--as", "rater"],
        ["assessed_at '9999-12-31T23:00:00-05:00' is out of range"],
        study=True,
        lines=None,
        files={
            "r.csv": IMPORT_HEADER
            + "\n"
            + GOOD_ROW.replace("2026-03-02T08:00:00+00:00", "9999-12-31T23:00:00-05:00")
            + "\n"
        },
    ),
    Case(
        "responses-date-year-1",
        "exports",
        ["import-responses", "{tmp}/r.csv", "--as", "rater"],
        ["assessed_at '0001-01-01T00:00:00+05:00' is out of range"],
        study=True,
        lines=None,
        files={
            "r.csv": IMPORT_HEADER
            + "\n"
            + GOOD_ROW.replace("2026-03-02T08:00:00+00:00", "0001-01-01T00:00:00+05:00")
            + "\n"
        },
    ),
    Case(
        "responses-5000-digit-infusion",
        "exports",
        ["import-responses", "{tmp}/r.csv", "--as", "rater"],
        ["infusion_number '11111111111111111111… (5000 characters)' is not a whole number"],
        study=True,
        lines=None,
        files={"r.csv": IMPORT_HEADER + ",infusion_number\n" + GOOD_ROW + "," + BIG + "\n"},
    ),
    # arguments that are not UTF-8 (Python hands the bytes over as lone surrogates), every command line
    Case("argv-not-utf8-scales", "scales", ["score", "phq\udcff9"], ["argument 2 'phq\\xff9' is not UTF-8 text"]),
    Case(
        "argv-not-utf8-protocol",
        "protocol",
        ["show", "--first-infusion", "2026-03-28T09:00\udce9"],
        ["argument 3 '2026-03-28T09:00\\xe9' is not UTF-8 text"],
    ),
    Case(
        "argv-not-utf8-exports-site",
        "exports",
        ["csv", "--out", "{tmp}/out", "--site", "L\udcf6N"],
        ["argument 5 'L\\xf6N' is not UTF-8 text"],
        study=True,
        outputs=["out"],
    ),
    Case(
        "argv-not-utf8-db-file",
        "db",
        ["--db", "{tmp}/caf\udce9.db", "init"],
        ["is not UTF-8 text (byte 0xe9)"],
        outputs=["caf\udce9.db"],
    ),
    # python -m db: files that are not what they should be
    Case(
        "db-witness-line-nested-deep",
        "db",
        ["verify-audit"],
        ["does not carry a valid HMAC for this key", "audit trail NOT intact: 1 problem(s)"],
        study=True,
        lines=2,
        prefixes=("audit anchor: ", "audit trail NOT intact"),
        before=lambda: append_to_witness(DEEP + b"\n"),
    ),
    Case(
        "db-restore-not-sqlite",
        "db",
        ["restore", "{tmp}/backup.db", "--force"],
        ["file is not a database"],
        study=True,
        files={"backup.db": b"\xff\xfe not a database " * 300},
    ),
    Case(
        "db-restore-directory",
        "db",
        ["restore", "{tmp}/somedir", "--force"],
        ["somedir is a directory"],
        study=True,
        files={"somedir/.keep": ""},
    ),
    Case(
        "db-backup-to-directory",
        "db",
        ["backup", "{tmp}/somedir", "--force"],
        ["somedir is a directory"],
        study=True,
        files={"somedir/.keep": ""},
    ),
    Case(
        "db-verify-directory",
        "db",
        ["--db", "{tmp}/somedir", "verify-audit"],
        ["somedir is a directory, not a database file"],
        files={"somedir/.keep": ""},
    ),
    Case(
        "db-init-directory",
        "db",
        ["--db", "{tmp}/somedir", "init"],
        ["somedir is a directory, not a database file"],
        files={"somedir/.keep": ""},
    ),
]


def append_to_witness(data: bytes) -> None:
    """A line added to the audit witness kept beside the database (db/integrity.py)."""
    with open(f"{database_path()}.witness", "ab") as witness:
        witness.write(data)


def _database_rows() -> dict[str, int] | None:
    """Row counts of the tables a bad command could write to (None: no database)."""
    path = database_path()
    if not path.exists():
        return None
    db = connect(path)
    try:
        return {
            t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # noqa: S608 (fixed names)
            for t in ("assessments", "item_responses", "participants", "audit_events", "users", "sites")
        }
    finally:
        db.close()


def _files(tmp_path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(tmp_path)): p.read_bytes() for p in sorted(tmp_path.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_gets_a_message_and_writes_nothing(case: Case, tmp_path, monkeypatch, capsys, request):
    if case.study:
        request.getfixturevalue("app_world")
    if case.before is not None:
        case.before()
    for name, content in case.files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    argv = [a.replace("{tmp}", str(tmp_path)) for a in case.argv]
    files_before, rows_before = _files(tmp_path), _database_rows()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(case.stdin), encoding="utf-8"))
    capsys.readouterr()
    try:
        code = MAINS[case.cli](argv)
    except SystemExit as exit_:  # argparse
        code = exit_.code
    out, err = capsys.readouterr()

    assert code not in (0, None), f"exit {code}; stderr: {err}"
    assert "Traceback" not in err
    assert "unexpected" not in err, f"the safety net caught it, so no check recognised the problem: {err}"
    for fragment in case.expect:
        assert fragment in err, err[:2000]
    lines = err.strip().splitlines()
    if case.lines is not None:
        assert len(lines) == case.lines, err[:2000]
    prefix = (
        case.prefixes
        or {
            "exports": ("python -m exports: ", f"python -m exports {argv[0]}: "),
            "scales": "error: ",
            "protocol": "error: ",
            "db": "error: ",
        }[case.cli]
    )
    for line in lines:
        assert line.startswith(prefix) or (argv[0] == "validate" and line.startswith(str(tmp_path))), line[:300]
    assert out == ""
    assert _files(tmp_path) == files_before  # no output file, no partial file, nothing changed
    assert _database_rows() == rows_before
    for name in case.outputs:
        assert not (tmp_path / name).exists()


# --- a few of the same as real processes: the exit status, and stderr as a terminal shows it ----------

PROCESS_CASES = ["scales-stdin-not-utf8", "scales-def-item-max-1e9", "protocol-date-year-9999", "fhir-deep"]


@pytest.mark.parametrize("case", [c for c in CASES if c.id in PROCESS_CASES], ids=PROCESS_CASES)
def test_bad_input_as_a_process(case: Case, tmp_path):
    for name, content in case.files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    argv = [a.replace("{tmp}", str(tmp_path)) for a in case.argv]
    environment = {k: v for k, v in os.environ.items() if k not in ("SCALEBOOK_PROTOCOL", "SCALEBOOK_DEBUG")}
    proc = subprocess.run(
        [sys.executable, "-m", case.cli, *argv],
        input=case.stdin,
        capture_output=True,
        cwd=ROOT,
        env=environment,
        timeout=120,
    )
    err = proc.stderr.decode("utf-8", errors="replace")
    assert proc.returncode != 0
    assert "Traceback" not in err and "unexpected" not in err
    assert len(err.strip().splitlines()) == 1, err
    for fragment in case.expect:
        assert fragment in err
    assert proc.stdout == b""
