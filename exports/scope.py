"""What the `csv` and `sdtm` exports share: who exports, which site, blinded or not, and an
output directory that appears complete or not at all, with its audit event.

Who exports (`--as USERNAME`): the account the export is attributed to in the audit trail. Its
role decides blinding (exports/blinding.py: in a blinded study only admin and coordinator see
arms and doses, and of those only an admin may export) and its site decides the scope (an
account tied to a site exports that site only). It must exist, be active and hold a role that
may export (admin, pi, monitor: permission export.read). Without `--as`, the export runs as the
command line's system actor (`cli:<os user>`), which sees no arms in a blinded study: whoever
can run the command can read the database file anyway, so `--as` is attribution and a
deliberate choice to unblind, not authentication.

Site (`--site CODE`): only that site's participants and their records.

Nothing half-written: `--out DIR` must be a new or empty directory (so no earlier export's
files mix in); the files are written into a hidden sibling directory, and only when every file
is complete is the export audited and the directory renamed into place, in the audit event's
transaction. Any failure leaves no DIR and no audit event.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from db import exports as db_exports
from db import sites
from db.connection import database_path, unit_of_work
from db.errors import NotFoundError, PermissionDeniedError, StorageError
from db.permissions import system_actor
from exports import blinding
from exports.cli import CommandError
from protocol import Protocol, ProtocolError, load_protocol

STUDY_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,19}$")


@dataclass(frozen=True)
class Scope:
    """Who exports what: the actor as audited, the site (None = every site) and blinding."""

    actor: dict[str, Any]
    site: dict[str, Any] | None
    study_blinded: bool
    show_arm: bool

    @property
    def site_id(self) -> int | None:
        return None if self.site is None else self.site["id"]

    @property
    def site_code(self) -> str | None:
        return None if self.site is None else self.site["code"]

    @property
    def masked(self) -> bool:
        return not self.show_arm


def add_scope_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--site", metavar="CODE", help="only this site's participants (default: every site the "
                                                       "exporting account may see)")
    parser.add_argument("--as", dest="as_user", metavar="USERNAME",
                        help="the account the export runs as and is audited under (admin, pi or monitor); its role "
                             "decides blinding: in a blinded study arms and doses are masked (BLINDED) unless it is an "
                             "admin. Default: the command line's system actor, which sees no arms")


def out_dir_problems(value: str | None) -> list[str]:
    """What is wrong with --out DIR (empty list when it can be written)."""
    if not value:
        return ["--out: give the directory to write the export to"]
    out = Path(value)
    if out.exists() and not out.is_dir():
        return [f"--out {out}: is a file, not a directory; give a new or empty directory"]
    if out.is_dir() and any(out.iterdir()):
        return [f"--out {out}: the directory is not empty; give a new or empty directory so that no earlier "
                f"export's files are mixed in"]
    parent = out.resolve().parent
    if not parent.is_dir():
        return [f"--out {out}: the parent directory {parent} does not exist; create it first"]
    if not os.access(parent, os.W_OK):
        return [f"--out {out}: cannot write in {parent} (permission denied)"]
    return []


def study_id_problems(value: str | None) -> list[str]:
    if value is None or not STUDY_ID_PATTERN.match(value):
        return [f"--study-id {value!r}: use 1-20 letters, digits, '-' or '_', starting with a letter or digit "
                f"(it becomes STUDYID and the start of every USUBJID)"]
    return []


def load_study_protocol() -> Protocol:
    try:
        return load_protocol()
    except ProtocolError as exc:
        raise CommandError(f"protocol: {exc}") from None


def scope_for(db: Database, actor: Mapping[str, Any], site_code: str | None,
              protocol: Protocol) -> tuple[Scope, list[str]]:
    """The Scope of an export by `actor` (an account row, or the system actor) for `site_code`
    (None: every site the actor may see), and the problems found, one line each. The Data export
    page calls this with the signed-in account; the command line through resolve_scope."""
    problems: list[str] = []
    site = None
    if site_code:
        try:
            site = sites.get_site(db, site_code)
        except NotFoundError as exc:
            problems.append(f"--site: {exc}")
    own_site = actor.get("site_id")
    if own_site is not None and not problems:
        if site is not None and site["id"] != own_site:
            problems.append(f"--site {site['code']}: {actor['username']} works at site "
                            f"{db_exports.site_code(db, own_site)} and may export only that site's participants")
        site = site or sites.get_site(db, own_site)
    blinded = blinding.study_blinded(protocol.blinded, db_exports.study_row(db)["blinded"])
    scope = Scope(actor=dict(actor), site=site, study_blinded=blinded,
                  show_arm=blinding.arm_visible(actor.get("role", ""), blinded))
    return scope, problems


def resolve_scope(db: Database, args: argparse.Namespace, protocol: Protocol) -> tuple[Scope, list[str]]:
    """The export's Scope from --as and --site, and the problems found (one line each)."""
    problems: list[str] = []
    actor: dict[str, Any] = system_actor()
    if getattr(args, "as_user", None):
        try:
            actor = db_exports.export_account(db, args.as_user)
        except (NotFoundError, PermissionDeniedError) as exc:
            problems.append(f"--as {args.as_user}: {exc}")
    scope, site_problems = scope_for(db, actor if not problems else system_actor(), getattr(args, "site", None),
                                     protocol)
    return scope, problems + site_problems


def masking_notice(scope: Scope) -> str | None:
    """The first stderr line of a masked export, saying what is masked and how to unmask it."""
    if not scope.masked:
        return None
    return (f"BLINDED: the study is blinded and {scope.actor['username']} ({scope.actor['role']}) may not see "
            f"treatment allocation, so arms, treatments and doses are masked as {blinding.MASK}; to export them, "
            f"run with --as USERNAME of an admin account")


@contextmanager
def staging(out: Path) -> Iterator[Path]:
    """A hidden directory beside `out` to write into; removed again if anything fails."""
    out = Path(out)
    staged = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.resolve().parent))
    umask = os.umask(0)
    os.umask(umask)
    staged.chmod(0o777 & ~umask)  # a private temporary directory becomes an ordinary one
    try:
        yield staged
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise


def publish(db_path: str | os.PathLike[str] | None, scope: Scope, staged: Path, out: Path, kind: str,
            counts: Mapping[str, int], details: Mapping[str, Any] | None = None) -> None:
    """Audit the export and move the staged directory to `out`, in one transaction: if the move
    fails the audit event is rolled back; if the audit fails nothing is moved."""
    out = Path(out)
    moved = False
    try:
        with unit_of_work(database_path(db_path)) as db:
            db_exports.record_export(db, scope.actor, kind, counts, site=scope.site_code, blinded=scope.masked,
                                     destination=str(out.resolve()), details=details)
            if out.is_dir():
                out.rmdir()  # checked empty before the export started
            os.rename(staged, out)
            moved = True
    except (StorageError, PermissionDeniedError, OSError) as exc:
        if moved:  # the commit failed after the move: take the unaudited export back
            shutil.rmtree(out, ignore_errors=True)
        shutil.rmtree(staged, ignore_errors=True)
        if isinstance(exc, OSError) and not isinstance(exc, StorageError):
            raise CommandError(f"--out {out}: cannot write ({exc.strerror}); nothing was exported") from None
        raise CommandError(f"audit: {exc}; nothing was exported") from None
