"""What the FHIR and REDCap commands share: opening the database read-only, checking --site
and scale ids, and writing a file only once everything in it is ready.

Each function turns bad input into exports.cli.CommandError with a line naming what is wrong
(the file, the option, the unknown id and the known ones), so no command prints a traceback
and no command leaves a half-written file behind.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from db import exports as db_exports
from db import sites
from db.connection import ENV_VAR, database_path, unit_of_work
from db.errors import NotFoundError, StorageError
from db.migrations import require_latest
from db.permissions import system_actor
from exports.cli import CommandError
from scales.loader import registry


@contextmanager
def open_database(args: argparse.Namespace) -> Iterator[Database]:
    """A read-only snapshot of the database named by --db or $SCALEBOOK_DB.

    A missing file is an error (an export never creates an empty database), and so is a
    database whose schema is not the latest one."""
    path = database_path(getattr(args, "db", None))
    if str(path) != ":memory:" and not path.is_file():
        raise CommandError(f"database {path}: no such file; give the database with --db PATH or ${ENV_VAR}")
    try:
        with unit_of_work(path, write=False) as db:
            require_latest(db)
            yield db
    except StorageError as exc:
        raise CommandError(f"database {path}: {exc}") from None


def site_or_error(db: Database, code: str | None) -> dict[str, Any] | None:
    """The site named by --site (None when no --site was given)."""
    if code is None:
        return None
    try:
        return sites.get_site(db, code)
    except NotFoundError as exc:
        raise CommandError(f"--site: {exc}") from None


def scale_ids_or_error(scale_ids: Sequence[str], what: str = "--scale") -> list[str]:
    """The scale ids given, checked against the shipped definitions (every unknown one named)."""
    known = registry()
    problems = [f"{what}: unknown scale '{s}'; known scales: {', '.join(sorted(known))}"
                for s in scale_ids if s not in known]
    if problems:
        raise CommandError(problems)
    return list(dict.fromkeys(scale_ids))


def _file_mode() -> int:
    """The mode a new file gets under this process's umask (mkstemp's files are 0600 otherwise)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


_FILE_MODE = _file_mode()


class PendingFile:
    """A file written through a temporary file in the same directory and renamed into place by
    `commit()`, so that `path` is either the complete new content or untouched. Leaving the
    `with` block without commit() (an error, bad input found late) removes the temporary file.

        with PendingFile(args.out) as out:
            out.handle.write(...)
            out.commit()
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise CommandError(f"{self.path}: is a directory; give a file name")
        if not self.path.parent.is_dir():
            raise CommandError(f"{self.path}: the directory {self.path.parent} does not exist")
        try:
            descriptor, temporary = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".part",
                                                     dir=self.path.parent)
        except OSError as exc:
            raise CommandError(f"{self.path}: cannot write ({exc.strerror})") from None
        self._temporary = Path(temporary)
        os.chmod(self._temporary, _FILE_MODE)
        self.handle = os.fdopen(descriptor, "w", encoding="utf-8", newline="")
        self.committed = False

    def commit(self) -> None:
        try:
            self.handle.close()
            os.replace(self._temporary, self.path)
        except OSError as exc:
            raise CommandError(f"{self.path}: cannot write ({exc.strerror})") from None
        self.committed = True

    def __enter__(self) -> PendingFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if not self.committed:
            self.handle.close()
            self._temporary.unlink(missing_ok=True)


def write_text_atomically(path: str | os.PathLike[str], text: str) -> None:
    """Write `text` (UTF-8) to `path` all at once or not at all (see PendingFile)."""
    with PendingFile(path) as out:
        try:
            out.handle.write(text)
        except OSError as exc:
            raise CommandError(f"{path}: cannot write ({exc.strerror})") from None
        out.commit()


def add_export_options(parser: argparse.ArgumentParser) -> None:
    """--site and --as, shared by the commands that read the study's records."""
    parser.add_argument("--site", metavar="CODE", help="only participants of this site")
    parser.add_argument("--as", dest="as_user", metavar="USERNAME",
                        help="export as this account (admin, pi or monitor), named in the audit trail; a "
                             "site-bound account exports its own site only (default: the command-line user)")


def export_scope(db: Database, args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(actor, site or None) for an export: the --as account (checked: exists, active, may
    export) or the command-line system actor, and the site it may and asked to see."""
    site = site_or_error(db, getattr(args, "site", None))
    if not getattr(args, "as_user", None):
        return system_actor(), site
    try:
        actor = db_exports.export_account(db, args.as_user)
    except StorageError as exc:
        raise CommandError(f"--as: {exc}") from None
    if actor.get("site_id") is not None:
        if site is not None and site["id"] != actor["site_id"]:
            raise CommandError(f"--site: account '{actor['username']}' belongs to another site and may export only "
                               f"its own (site {sites.get_site(db, actor['site_id'])['code']})")
        site = sites.get_site(db, actor["site_id"])
    return actor, site


def audit_export(args: argparse.Namespace, actor: dict[str, Any], kind: str, counts: dict[str, int],
                 site: dict[str, Any] | None, destination: str, pending: PendingFile) -> None:
    """Record the export's audit event and put the file in place, in one transaction: if the
    event cannot be written the file is not published, and the other way round."""
    path = database_path(getattr(args, "db", None))
    try:
        with unit_of_work(path) as db:
            db_exports.record_export(db, actor, kind, counts, site=site["code"] if site else None, blinded=True,
                                     destination=destination, details={"arm": "not included"})
            pending.commit()
    except StorageError as exc:
        raise CommandError(f"database {path}: the export's audit event could not be recorded: {exc}") from None
