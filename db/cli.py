"""`python -m db`: create or migrate the database, add accounts, back up, restore, verify the audit trail.

The database is the file named by $SCALEBOOK_DB (default data/scalebook.db), or --db PATH.
Every command has --help. Bad input prints one line on stderr and exits non-zero, never a
traceback. Exit codes: 0 done, 1 failed (or, for verify-audit, a problem found), 2 usage.
"""

from __future__ import annotations

import argparse
import getpass
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from db import audit, integrity, users
from db.backup import backup_database, restore_database
from db.connection import ENV_VAR, connect, database_path, transaction
from db.errors import StorageError
from db.migrations import LATEST_VERSION, init_database, require_latest
from db.permissions import ROLES, system_actor
from db.sites import create_site
from scales.cli_input import argument_problems, unexpected_error_line
from scales.errors import ScaleError


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (exit 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m db",
        description=f"Scalebook database administration. The database is ${ENV_VAR} "
        f"(default data/scalebook.db) unless --db is given.",
    )
    parser.add_argument("--db", metavar="PATH", help=f"database file (overrides ${ENV_VAR})")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    init = commands.add_parser(
        "init",
        help="create the database, or migrate it to the latest schema",
        description="Create the database (and its directory) if missing, then apply every "
        "pending migration. Safe to run again: a database at the latest version is left as is.",
    )
    init.set_defaults(run=_init)

    add = commands.add_parser(
        "adduser",
        help="create an account",
        description="Create an account. The password is read from standard input when it is not a terminal "
        "(first line, UTF-8), or asked twice when it is: 10 to 128 characters, no NUL, not the user name, not a "
        "common or repetitive password. The site is created if it does not exist yet.",
    )
    add.add_argument("username", metavar="USERNAME", help="sign-in name (letters, digits, '.', '_', '-', '@')")
    add.add_argument("--role", required=True, choices=ROLES, help="what the account may do")
    where = add.add_mutually_exclusive_group(required=True)  # never all sites by omission (issue 13 item 15)
    where.add_argument("--site", metavar="SITE", help="code of the site the account works at")
    where.add_argument(
        "--all-sites",
        action="store_true",
        help="the account is tied to no site: it sees and changes every site's participants",
    )
    add.set_defaults(run=_adduser)

    backup = commands.add_parser(
        "backup",
        help="copy the database to a file, safely while the app runs",
        description="Copy a consistent snapshot with SQLite's online backup API (the app keeps saving meanwhile), "
        "check its integrity, and write it to DEST.",
    )
    backup.add_argument("dest", metavar="DEST", help="backup file to create")
    backup.add_argument("--force", action="store_true", help="replace DEST if it exists")
    backup.set_defaults(run=_backup)

    restore = commands.add_parser(
        "restore",
        help="replace the database with a backup (refused while the app runs)",
        description="Check a backup (integrity, schema version, audit chain, and its newest event against the witness "
        "kept outside the database) and copy it into the database file. Refused while the app runs.",
    )
    restore.add_argument("src", metavar="SRC", help="backup file made by `backup`")
    restore.add_argument("--force", action="store_true", help="replace an existing database")
    restore.add_argument(
        "--anchor-of",
        metavar="DB",
        help="check the backup against the audit key and witness of "
        "this database (default: the database being replaced); needed when restoring into a new file",
    )
    restore.set_defaults(run=_restore)

    verify = commands.add_parser(
        "verify-audit",
        help="check the audit trail and that the data matches it",
        description="Recompute the hash chain of the audit trail, check its head against the HMAC-signed witness "
        "kept outside the database (<db>.witness, key <db>.key), re-score every stored assessment and compare each "
        "audited field of responses, infusions, vital signs and adverse events with its latest audit event. Exit 0 "
        "when all agree; exit 1 with one line per problem otherwise.",
    )
    verify.add_argument(
        "--accept-unwitnessed",
        action="store_true",
        help="after reviewing them, witness events that are past the witness (a process stopped "
        "between its commit and the witness); refused if anything else is wrong",
    )
    verify.set_defaults(run=_verify)
    return parser


def _database_file(args):
    """The database path; a directory is refused by name (SQLite would only say 'unable to open
    database file')."""
    path = database_path(args.db)
    if path.is_dir():
        raise StorageError(f"{path} is a directory, not a database file; give the file, e.g. {path / 'scalebook.db'}")
    return path


def _not_a_directory(path: str, what: str) -> None:
    if Path(path).is_dir():
        raise StorageError(f"{path} is a directory; give the {what} file")


def _existing_db(args):
    path = _database_file(args)
    if not path.exists():
        raise StorageError(f"no database at {path}; run `python -m db init` first (or set {ENV_VAR})")
    db = connect(path)
    try:
        require_latest(db)
    except BaseException:
        db.close()
        raise
    return db


def _init(args) -> int:
    path = _database_file(args)
    existed = path.exists()
    version = init_database(path)
    print(f"{'migrated' if existed else 'created'} {path}: schema version {version} (latest is {LATEST_VERSION})")
    return 0


def _read_password(username: str) -> str:
    """The new password: the first line of standard input when it is not a terminal, else typed
    twice. A line is read as bytes and decoded here, at most as many bytes as the longest allowed
    password can take, so bytes that are not UTF-8 and a line of megabytes get a message (not a
    traceback, and not a megabyte in memory); users.check_password then applies the policy
    (length, NUL, common passwords) before anything is hashed."""
    if not sys.stdin.isatty():
        limit = 4 * users.MAX_PASSWORD_LENGTH + 2  # 4 bytes per character at most in UTF-8, and "\r\n"
        stream = getattr(sys.stdin, "buffer", sys.stdin)
        line = stream.readline(limit + 1)
        if len(line) > limit:
            raise StorageError(
                f"the password on standard input is longer than {users.MAX_PASSWORD_LENGTH} "
                "characters (the most a password may have); nothing was created"
            )
        if isinstance(line, bytes):
            try:
                line = line.decode("utf-8")
            except UnicodeDecodeError:
                raise StorageError(
                    "the password on standard input is not UTF-8 text; write it in UTF-8 (or type "
                    "it at the prompt); nothing was created"
                ) from None
        password = line[:-1] if line.endswith("\n") else line
        if not password:
            raise StorageError("no password on standard input; pipe it in, e.g. `printf '%s\\n' \"$PW\" | ...`")
        return password.removesuffix("\r")
    try:
        first = getpass.getpass(f"Password for {username}: ")
        second = getpass.getpass("Repeat the password: ")
    except UnicodeDecodeError:
        raise StorageError(
            "the terminal sent a password that is not UTF-8 text; set a UTF-8 locale and try again; nothing was created"
        ) from None
    if first != second:
        raise StorageError("the two passwords differ; nothing was created, try again")
    return first


def _adduser(args) -> int:
    db = _existing_db(args)
    try:
        password = users.check_password(_read_password(args.username), args.username)
        actor = system_actor()
        with transaction(db):
            new_site = bool(args.site) and not db.execute("SELECT 1 FROM sites WHERE code = ?", [args.site]).fetchone()
            if new_site:
                create_site(db, actor, args.site)
            user = users.create_user(
                db, actor, args.username, args.role, password, site=args.site, all_sites=args.all_sites
            )
    finally:
        db.close()
    # Said only after the commit: a refused account rolls the new site back with it.
    if new_site:
        print(f"created site {args.site}", file=sys.stderr)
    print(f"created user {user['username']} ({user['role']}{', site ' + args.site if args.site else ''})")
    return 0


def _backup(args) -> int:
    _not_a_directory(args.dest, "backup")
    info = backup_database(args.dest, args.db, overwrite=args.force)
    print(
        f"backed up to {info['path']}: {info['bytes']} bytes, schema version {info['schema_version']}, "
        f"{info['audit_events']} audit events, integrity {info['integrity']}"
    )
    return 0


def _restore(args) -> int:
    _not_a_directory(args.src, "backup")
    _database_file(args)
    info = restore_database(args.src, args.db, overwrite=args.force, anchor_of=args.anchor_of)
    print(
        f"restored {args.src} into {info['path']}: schema version {info['schema_version']}, "
        f"{info['audit_events']} audit events, integrity {info['integrity']}"
    )
    return 0


def _verify(args) -> int:
    path = _database_file(args)
    db = _existing_db(args)
    try:
        broken = audit.verify_audit(db)
        total = audit.count_events(db)
        anchor = integrity.check_anchor(db, path)
        data = integrity.check_data(db)
        schema = integrity.check_schema(db)
        if (
            args.accept_unwitnessed
            and not broken
            and not data
            and len(anchor) == 1
            and "not in the witness" in anchor[0]
        ):
            first, last = integrity.accept_unwitnessed(db, path)
            for row in db.execute(
                "SELECT id, ts, username, action, entity, entity_id, field FROM audit_events WHERE id > ? ORDER BY id",
                [first],
            ):
                print("accepted event " + " ".join("-" if v is None else str(v) for v in row))
            anchor = []
    finally:
        db.close()
    problems = (
        [
            f"audit trail broken at event {broken['id']}: {broken['problem']} "
            f"({broken['checked']} of {total} events verified before it)"
        ]
        if broken
        else []
    )
    problems += [f"audit anchor: {p}" for p in anchor]
    problems += [f"data differs from the audit trail: {p}" for p in data]
    problems += [f"database guard: {p}" for p in schema]
    for line in problems:
        print(line, file=sys.stderr)
    if problems:
        print(f"audit trail NOT intact: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"audit trail intact: {total} events verified, head matches the witness, data matches the trail")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if problems := argument_problems(argv):
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        return 2
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (StorageError, ScaleError, sqlite3.Error, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; nothing more was done", file=sys.stderr)
        return 130
    except Exception as exc:  # a case no check foresaw: still one line, never a traceback
        print(unexpected_error_line(exc), file=sys.stderr)
        return 1
