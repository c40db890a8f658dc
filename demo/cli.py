"""The command line of the demo generator: build the study, then print one line per demo account,
`<role> <username> <password>`, under a header saying the passwords are demo-only.

The repeated-infusion group. The issue asks for a mostly single-infusion study plus a group
following protocol/studies/repeated_infusion.json. The app runs one protocol per database and
plans every participant's visits from it (a second infusion is refused under a single-infusion
protocol), so the two cannot share one file without the app showing one of them wrongly. What a
site expects is what it would run: the main study in the database named (SCALEBOOK_DB or --db),
and, beside it, the repeated-infusion group in a database of its own (`<name>-repeated.db`,
8 participants by default) that the app opens with that protocol; the command prints how. The
same demo accounts sign in to both. `--repeated-group 0` builds the main study only; with
`--protocol FILE` only that protocol's study is built.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from db.connection import database_path
from demo.build import DemoRefused, build, check_target
from protocol import ProtocolError, load_protocol

ROOT = Path(__file__).resolve().parent.parent
REPEATED_PROTOCOL = ROOT / "protocol" / "studies" / "repeated_infusion.json"
SINGLE_DEFAULT, REPEATED_DEFAULT = 40, 8


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m demo",
        description="Create a synthetic demo study (labelled synthetic everywhere it shows) in a NEW database, "
        "through the app's own write functions, then print the demo accounts. Refuses a database that holds "
        "other data.",
    )
    parser.add_argument("--db", help="database file (default: $SCALEBOOK_DB, else the app's default file)")
    parser.add_argument(
        "--seed", type=int, default=15, help="random seed: the same seed gives the same study (default 15)"
    )
    parser.add_argument(
        "--participants",
        type=int,
        help=f"participants who pass screening (default {SINGLE_DEFAULT}, or {REPEATED_DEFAULT} under a "
        "repeated-infusion protocol; a few screen failures are added)",
    )
    parser.add_argument(
        "--protocol",
        help="protocol file (default: $SCALEBOOK_PROTOCOL, else "
        "protocol/studies/default.json); run the app with the same SCALEBOOK_PROTOCOL",
    )
    parser.add_argument(
        "--repeated-group",
        type=int,
        default=REPEATED_DEFAULT,
        metavar="N",
        help=f"participants of the repeated-infusion group built beside a single-infusion study, in "
        f"<db>-repeated.db under {REPEATED_PROTOCOL.relative_to(ROOT)} (default {REPEATED_DEFAULT}; 0: none)",
    )
    return parser


def repeated_path(path: Path) -> Path:
    """Where the repeated-infusion group goes: beside the main study, `<name>-repeated<suffix>`."""
    return path.with_name(f"{path.stem}-repeated{path.suffix or '.db'}")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    path = database_path(args.db)
    try:
        protocol = load_protocol(args.protocol)
    except ProtocolError as exc:
        print(f"error: the protocol cannot be loaded: {exc}", file=sys.stderr)
        return 1
    single = protocol.infusion_plan.kind == "single"
    participants = args.participants or (SINGLE_DEFAULT if single else REPEATED_DEFAULT)
    group = args.repeated_group if single and not args.protocol and str(path) != ":memory:" else 0
    for count, what in ((participants, "--participants"), *([(group, "--repeated-group")] if group else [])):
        if not 2 <= count <= 500:
            print(f"error: {what} must be between 2 and 500", file=sys.stderr)
            return 2
    builds = [(path, participants, args.protocol, protocol.title)]
    if group:
        builds.append((repeated_path(path), group, str(REPEATED_PROTOCOL), "repeated-infusion group"))
    try:
        for target, _count, _file, _title in builds:  # every file checked before any is written
            check_target(target)
        accounts = []
        for target, count, file, title in builds:
            began = time.monotonic()
            accounts = build(target, seed=args.seed, participants=count, protocol=file)
            print(
                f"# Synthetic demo study written to {target} ({title}: {count} participants, seed {args.seed}, "
                f"{time.monotonic() - began:.0f} s)."
            )
    except DemoRefused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ProtocolError as exc:
        print(f"error: the protocol cannot be loaded: {exc}", file=sys.stderr)
        return 1
    if group:
        print(
            f"# The repeated-infusion group is a study of its own (the app runs one protocol per database); open it "
            f"with: SCALEBOOK_DB={builds[1][0]} SCALEBOOK_PROTOCOL={REPEATED_PROTOCOL.relative_to(ROOT)} make run"
        )
    print("# DEMO-ONLY accounts: these passwords are printed on purpose and are not secret; never use them, or this")
    print("# database, for a real study. One line per account: <role> <username> <password>")
    for account in accounts:
        print(f"{account.role} {account.username} {account.password}")
    return 0
