"""`python -m protocol`: validate a study protocol file and show what it schedules.

For coordinators and data managers who edit a protocol before a study starts. Every bad input
ends with one line on stderr and a non-zero exit, never a traceback: exit 1 for invalid
protocol files (`validate`), exit 2 for bad input or usage.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TextIO

from protocol.errors import ProtocolError, ProtocolInputError
from protocol.loader import STUDIES_DIR, default_protocol_path, load_file, study_files, validate_files
from protocol.model import Protocol, Timepoint
from protocol.schedule import plan_timepoints, planned_infusions
from protocol.timing import local_text, parse_entered
from scales.cli_input import argument_problems, unexpected_error_line


class CliError(Exception):
    """Bad input the user can fix; printed as one line."""


def _existing(path: str) -> Path:
    chosen = Path(path)
    if not chosen.exists():
        raise CliError(f"no such file: {path}")
    return chosen


def _cmd_validate(args: argparse.Namespace, out: TextIO) -> int:
    paths = [_existing(f) for f in args.files] or study_files(STUDIES_DIR)
    problems = validate_files(paths)
    for problem in problems:
        sys.stderr.write(problem + "\n")
    if problems:
        return 1
    out.write(f"{len(paths)} protocol file(s) valid\n")
    return 0


def _window_text(timepoint: Timepoint) -> str:
    return f"-{timepoint.window.before} / +{timepoint.window.after}"


def _offset_text(timepoint: Timepoint) -> str:
    offset = timepoint.offset
    sign = "+" if offset.value >= 0 else ""
    return f"{sign}{offset}"


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows)


def _header(study: Protocol) -> list[str]:
    dosing = study.dosing
    return [
        f"{study.id} {study.version}: {study.title}",
        f"time zone: {study.timezone.key}; arms: {', '.join(study.arm_ids)} ({'blinded' if study.blinded else 'open'}); "
        f"sites: {', '.join(study.site_ids)}",
        f"infusions: {study.infusion_plan.describe()}; dose {dosing.mg_per_kg.default} mg/kg "
        f"(allowed {dosing.mg_per_kg} mg/kg) over {dosing.duration_minutes.default} minutes",
        f"primary endpoint: {study.primary_endpoint.scale} at {study.primary_endpoint.timepoint}; "
        f"baseline: {study.baseline_rule.describe()}",
    ]


def _cmd_show(args: argparse.Namespace, out: TextIO) -> int:
    path = _existing(args.file) if args.file else default_protocol_path()
    study = load_file(path)
    rows = [["timepoint", "label", "anchor", "offset", "window", "scales"]]
    for t in study.timepoints:
        rows.append(
            [
                t.id + (" *" if t.primary_endpoint else ""),
                t.label,
                t.anchor,
                _offset_text(t),
                _window_text(t),
                ", ".join(t.scales),
            ]
        )
    text = "\n".join(_header(study)) + "\n\n" + _table(rows) + "\n* primary endpoint\n"
    if args.first_infusion:
        plan = io.StringIO()
        _write_plan(study, args.first_infusion, plan)
        text += plan.getvalue()
    out.write(text)  # all or nothing: a bad --first-infusion leaves no half-printed table
    return 0


FIRST_YEAR, LAST_YEAR = 1900, 2200  # a study's dates, with room; beyond them the plan would overflow datetime


def _local_time(text: str, study: Protocol) -> datetime:
    try:
        moment = parse_entered(text)
    except ValueError:
        raise CliError(f"--first-infusion '{text[:40]}' is not a date and time; write e.g. 2026-03-28T09:00") from None
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        raise CliError(
            f"--first-infusion {text}: the year {moment.year} is out of range; give a date between "
            f"{FIRST_YEAR} and {LAST_YEAR}"
        )
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=study.timezone)
    return moment


def _write_plan(study: Protocol, text: str, out: TextIO) -> None:
    tz = study.timezone
    first = _local_time(text, study)
    infusions = planned_infusions(study, first)
    fmt = "%a %Y-%m-%d %H:%M"
    out.write(f"\nplanned infusions (local time, {tz.key}):\n")
    out.write(
        _table(
            [["#", "phase", "planned"]]
            + [[str(i.number), i.phase, local_text(i.planned_at, tz, fmt)] for i in infusions]
        )
        + "\n"
    )
    planned = plan_timepoints(study, None, [{"number": i.number, "scheduled_at": i.planned_at} for i in infusions])
    out.write(f"\nplanned timepoints (local time, {tz.key}):\n")
    out.write(
        _table(
            [["timepoint", "infusion", "due", "window opens", "window closes"]]
            + [
                [
                    p.timepoint_id,
                    str(p.infusion_number or ""),
                    local_text(p.due_at, tz, fmt),
                    local_text(p.window_start, tz, fmt),
                    local_text(p.window_end, tz, fmt),
                ]
                for p in planned
            ]
        )
        + "\n"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m protocol",
        description="Validate Scalebook study protocol files and show the timepoints they schedule.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    p = commands.add_parser(
        "validate",
        help="validate the shipped or the named protocol files",
        description="Validate protocol files against protocol/schema.json and the cross-field "
        "rules (scales exist, unique ids, time zone, dose range, one primary "
        "endpoint). Exit 1 with one line per problem if any fails.",
    )
    p.add_argument("files", nargs="*", metavar="FILE", help="protocol files (default: every file in protocol/studies)")
    p.set_defaults(run=_cmd_validate)

    p = commands.add_parser(
        "show",
        help="print a protocol's summary and timepoints table",
        description="Print the study summary and one row per timepoint: id, label, anchor, "
        "offset, window and scales due. With --first-infusion, also print the "
        "planned infusions and every timepoint's dates in the study time zone.",
    )
    p.add_argument(
        "file",
        nargs="?",
        metavar="FILE",
        help="protocol file (default: $SCALEBOOK_PROTOCOL, else protocol/studies/default.json)",
    )
    p.add_argument(
        "--first-infusion",
        metavar="DATETIME",
        help="start of infusion 1, e.g. 2026-03-28T09:00 (local study time unless an offset is given)",
    )
    p.set_defaults(run=_cmd_show)
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
    except (CliError, ProtocolError, ProtocolInputError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    except Exception as exc:  # a case no check foresaw: still one line, never a traceback
        sys.stderr.write(unexpected_error_line(exc) + "\n")
        return 2
