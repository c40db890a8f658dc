"""The command line of the demo generator: build the study, then print one line per demo account,
`<role> <username> <password>`, under a header saying the passwords are demo-only."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from db.connection import database_path
from demo.build import DemoRefused, build
from protocol import ProtocolError


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
        default=40,
        help="participants who pass screening (default 40; a few screen failures are added)",
    )
    parser.add_argument(
        "--protocol",
        help="protocol file (default: $SCALEBOOK_PROTOCOL, else "
        "protocol/studies/default.json); run the app with the same SCALEBOOK_PROTOCOL",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not 2 <= args.participants <= 500:
        print("error: --participants must be between 2 and 500", file=sys.stderr)
        return 2
    path = database_path(args.db)
    began = time.monotonic()
    try:
        accounts = build(path, seed=args.seed, participants=args.participants, protocol=args.protocol)
    except DemoRefused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ProtocolError as exc:
        print(f"error: the protocol cannot be loaded: {exc}", file=sys.stderr)
        return 1
    print(
        f"# Synthetic demo study written to {path} ({args.participants} participants, seed {args.seed}, "
        f"{time.monotonic() - began:.0f} s)."
    )
    print("# DEMO-ONLY accounts: these passwords are printed on purpose and are not secret; never use them, or this")
    print("# database, for a real study. One line per account: <role> <username> <password>")
    for account in accounts:
        print(f"{account.role} {account.username} {account.password}")
    return 0
