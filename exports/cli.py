"""`python -m exports`: every export and import of Scalebook's data, one subcommand each.

The database is $SCALEBOOK_DB (default data/scalebook.db) unless --db PATH is given. Every
command has --help. Bad input of any kind: exit 1 (2 for a usage error) with one line per
problem on stderr naming the file, line or field; no traceback, and nothing written.

Each subcommand lives in the module that does the work: a module listed in COMMAND_MODULES
defines `register(commands)`, which adds its parsers to the subparsers object and sets
`run=<function(args) -> int>` as their default.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

from db.connection import ENV_VAR
from scales.cli_input import argument_problems, unexpected_error_line

# The modules that add subcommands, in --help order.
COMMAND_MODULES: tuple[str, ...] = (
    "exports.csv_export",
    "exports.sdtm",
    "exports.fhir",
    "exports.redcap",
    "exports.instruments_in",
    "exports.responses_in",
)


class CommandError(Exception):
    """A problem the command reports as lines on stderr (exit 1), e.g. one per bad CSV row."""

    def __init__(self, problems: str | Sequence[str]) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(self.problems))


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (exit 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="python -m exports",
        description=f"Export Scalebook's data (CSV, CDISC SDTM, FHIR R4, REDCap) and import instruments "
        f"and transcribed ratings. The database is ${ENV_VAR} (default data/scalebook.db) unless --db "
        f"is given.",
    )
    parser.add_argument("--db", metavar="PATH", help=f"database file (overrides ${ENV_VAR})")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    commands.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    if problems := argument_problems(argv):
        for problem in problems:
            print(f"{parser.prog}: {problem}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except CommandError as exc:
        for problem in exc.problems:
            print(f"{parser.prog} {args.command}: {problem}", file=sys.stderr)
        return 1
    except Exception as exc:  # a case no check foresaw: still one line, never a traceback
        print(f"{parser.prog} {args.command}: {unexpected_error_line(exc)}", file=sys.stderr)
        return 1
