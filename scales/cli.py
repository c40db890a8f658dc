"""`python -m scales`: list, validate and score scale definitions from the command line.

For data managers who rescore an export or check a new definition before it ships. Every bad
input ends with one line on stderr and a non-zero exit, never a traceback:
exit 1 for invalid definitions (`validate`), exit 2 for bad input or usage.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from scales import csvout
from scales.cli_input import argument_problems, unexpected_error_line
from scales.engine import score
from scales.errors import ScaleError
from scales.jsonfiles import JsonInputError, decode_utf8, parse_json_bytes
from scales.loader import definition_files, get_scale, registry, validate_files


class CliError(Exception):
    """Bad input the user can fix; printed as one line."""


def _cmd_list(args: argparse.Namespace, out: TextIO) -> int:
    for scale_id, definition in sorted(registry().items()):
        out.write(f"{scale_id}\t{definition.abbreviation}\t{definition.title}\n")
    return 0


def _cmd_validate(args: argparse.Namespace, out: TextIO) -> int:
    paths = [Path(f) for f in args.files] or definition_files()
    for path in paths:
        if not path.exists():
            raise CliError(f"no such file: {path}")
    problems = validate_files(paths)
    for problem in problems:
        sys.stderr.write(problem + "\n")
    if problems:
        return 1
    out.write(f"{len(paths)} definition(s) valid\n")
    return 0


def _result_json(result) -> dict[str, Any]:
    return {
        "total": result.total,
        "band": result.band,
        "complete": result.complete,
        "missing": result.missing,
        "prorated": result.prorated,
        "subscales": result.subscales,
        "flags": result.flags,
        "definition_hash": result.definition_hash,
        "not_assessed": result.not_assessed,
        "band_set": result.band_set,
        "scale_version": result.scale_version,
        "engine_version": result.engine_version,
    }


def _cmd_score(args: argparse.Namespace, out: TextIO) -> int:
    definition = get_scale(args.scale_id)
    if args.csv:
        return _score_csv(definition, Path(args.csv), args.band_set, out)
    stdin = getattr(sys.stdin, "buffer", None)  # bytes, so that text that is not UTF-8 gets its own message
    try:
        responses = parse_json_bytes(stdin.read() if stdin is not None else sys.stdin.read().encode())
    except JsonInputError as exc:
        problem = (
            f"stdin is not valid JSON ({str(exc).removeprefix('not valid JSON: ')})"
            if exc.rule == "json-syntax"
            else f"stdin: {exc}"
        )
        raise CliError(f'{problem}; give one object such as {{"{definition.items[0].id}": 2}}') from None
    if not isinstance(responses, dict):
        raise CliError(f"stdin must hold one JSON object of item id to value, not a {type(responses).__name__}")
    result = score(definition, responses, band_set=args.band_set)
    out.write(json.dumps(_result_json(result), ensure_ascii=False) + "\n")
    return 0


MAX_CELL = 30  # characters in a score cell: '3', '3.0', ' 12 '; a longer one is a slip, not a score


def _parse_cell(cell: str, item_id: str, row_number: int) -> int | float | None:
    cell = cell.strip()
    if cell == "":
        return None
    problem = f"row {row_number}, column {item_id}: '{cell[:MAX_CELL]}{'…' if len(cell) > MAX_CELL else ''}'"
    if len(cell) > MAX_CELL:
        raise CliError(f"{problem} is {len(cell)} characters long, not a score (leave it blank if missing)")
    try:
        number = float(cell)
    except ValueError:
        raise CliError(f"{problem} is not a number (leave it blank if missing)") from None
    if not math.isfinite(number):
        raise CliError(f"{problem} is not a finite number (leave it blank if missing)")
    return int(number) if number.is_integer() else number  # a fraction is rejected by the engine


def _read_csv(path: Path) -> list[list[str]]:
    """Every record of a UTF-8 CSV file; CliError naming the line for anything unreadable."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        text = decode_utf8(data)
    except JsonInputError as exc:
        raise CliError(f"{path}: line {exc.line}: {exc.message}") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records = []
    while True:
        try:
            records.append(next(reader))
        except StopIteration:
            return records
        except csv.Error as exc:
            limit = csv.field_size_limit()
            detail = (
                f"a field is longer than {limit:,} characters"
                if "field larger" in str(exc)
                else f"not valid CSV ({exc}); check its quotes"
            )
            raise CliError(f"{path}: line {reader.line_num}: {detail}") from None


def _score_csv(definition, path: Path, band_set: str | None, out: TextIO) -> int:
    records = _read_csv(path)
    columns = records[0] if records else []
    item_columns = [c for c in columns if c in definition.item_by_id]
    if not item_columns:
        raise CliError(
            f"{path}: no column is an item of '{definition.id}' (expected columns such as "
            f"{definition.items[0].id}, {definition.items[1].id})"
        )
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise CliError(f"{path}: line 1: column(s) {repeated} appear more than once; keep one of each")
    subscale_ids = [s.id for s in definition.subscales]
    added = ["total", "band", "complete", "prorated", *subscale_ids]
    if any(c in columns for c in added):
        # A file that already carries scores (e.g. an export's wide_<scale>.csv): keep them and add
        # the engine's as rescored_<column>, side by side for comparison.
        added = [f"rescored_{c}" for c in added]
    clashes = [c for c in added if c in columns]
    if clashes:
        raise CliError(f"{path}: input already has column(s) {clashes}; rename or drop them before rescoring")
    name = dict(zip(["total", "band", "complete", "prorated", *subscale_ids], added, strict=True))
    rows = []
    for number, record in enumerate(records[1:], start=2):
        if not any(cell.strip() for cell in record):
            continue  # a blank line
        if len(record) != len(columns):
            raise CliError(
                f"row {number}: {len(record)} fields, but the header has {len(columns)}; check for a "
                f"missing or extra comma (quote text that contains a comma)"
            )
        row = dict(zip(columns, record, strict=True))
        responses = {c: _parse_cell(row[c], c, number) for c in item_columns}
        try:
            result = score(definition, responses, band_set=band_set)
        except ScaleError as exc:
            raise CliError(f"row {number}: {exc}") from None
        rows.append(
            {
                **row,
                name["total"]: "" if result.total is None else result.total,
                name["band"]: result.band or "",
                name["complete"]: str(result.complete).lower(),
                name["prorated"]: str(result.prorated).lower(),
                **{name[s]: "" if result.subscales[s] is None else result.subscales[s] for s in subscale_ids},
            }
        )
    # Write only after every row scored, so a bad row never leaves half a file behind. Text cells
    # that a spreadsheet would run as a formula are neutralised as in every CSV Scalebook writes
    # (scales/csvout.py: a cell an export already neutralised comes back unchanged; numbers stay).
    csvout.Writer(out, [*columns, *added]).writerows(rows)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scales",
        description="List, validate and score Scalebook scale definitions with the one scoring engine.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    p = commands.add_parser(
        "list",
        help="print each scale id, abbreviation and title",
        description="Print each shipped scale: id, abbreviation and title, tab-separated.",
    )
    p.set_defaults(run=_cmd_list)

    p = commands.add_parser(
        "validate",
        help="validate all or the named definition files",
        description="Validate definitions against scales/schema.json and the cross-field "
        "rules. Exit 1 with one line per problem if any fails.",
    )
    p.add_argument("files", nargs="*", metavar="FILE", help="definition files (default: every shipped definition)")
    p.set_defaults(run=_cmd_validate)

    p = commands.add_parser(
        "score",
        help="score one assessment (JSON on stdin) or a CSV of assessments",
        description="Score responses with the engine. Without --csv, read one JSON object "
        "{item_id: value} on stdin and print one JSON object with total, band, "
        "complete, missing, prorated, subscales, flags and definition_hash. With "
        "--csv FILE, read one row per assessment and one column per item id (blank "
        "= missing; other columns passed through) and write it to stdout with "
        "total, band, complete, prorated and one column per subscale added (named "
        "rescored_<column> when the file already has a total or band column, as "
        "an export's wide_<scale>.csv does).",
    )
    p.add_argument("scale_id", metavar="SCALE_ID", help="scale id, e.g. madrs (see `list`)")
    p.add_argument("--csv", metavar="FILE", help="rescore a CSV file instead of reading JSON on stdin")
    p.add_argument("--band-set", metavar="ID", help="severity band set to apply (default: the definition's default)")
    p.set_defaults(run=_cmd_score)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if problems := argument_problems(argv):
        sys.stderr.writelines(f"error: {problem}\n" for problem in problems)
        return 2
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args, out or sys.stdout)
    except (CliError, ScaleError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    except Exception as exc:  # a case no check foresaw: still one line, never a traceback
        sys.stderr.write(unexpected_error_line(exc) + "\n")
        return 2
