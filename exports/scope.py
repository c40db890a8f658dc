"""Who exports what, for every export that reads the study's records (csv, sdtm, fhir-responses,
redcap-records, and the Data export page through scope_for): one account, one site scope, one
blinding decision, one audit event, and output that appears complete or not at all.

One permission rule: `scope_for`, which every export path calls before it reads a record (the
command line through resolve_scope, the Data export page through exports.bundle.build_zip),
checks `export.read` against the database (db.permissions.authorize: the account as stored now,
active, with a role that may export) and puts that checked account in the Scope, so no path reads
participant data for an actor the rule refuses.

Who exports (`--as USERNAME`): the account the export is attributed to in the audit trail. Its
role decides blinding (exports/blinding.py: in a blinded study only admin and coordinator see
arms and doses, and of those only an admin may export) and its site decides the scope (an
account tied to a site exports that site only). It must exist, be active and hold a role that
may export (admin, pi, monitor: permission export.read). Without `--as`, the export runs as the
command line's system actor (`cli:<os user>`), which sees no arms in a blinded study: whoever
can run the command can read the database file anyway, so `--as` is attribution and a
deliberate choice to unblind, not authentication.

Site (`--site CODE`): only that site's participants and their records.

Nothing half-written (exports/files.py): a directory export (`export_to_directory`) writes into
a hidden sibling of `--out DIR`, a new or empty directory, and a file export
(`export_to_file`) into a temporary file beside `--out FILE`; only when everything is complete
is the export audited (db.exports.record_export: who, what, site, blinded or not, records per
file) and the output renamed into place, in the audit event's transaction. Any failure leaves
no output and no audit event. `blinded` in the audit event is the scope's decision (arms and
doses masked for this account); the FHIR and REDCap records carry no arm at all, which their
audit event says in `arm: not included`.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO, TypeVar

from db import exports as db_exports
from db import sites
from db.connection import Database, database_path, unit_of_work
from db.errors import NotFoundError, PermissionDeniedError, StorageError
from db.permissions import authorize, system_actor
from exports import blinding
from exports.cli import CommandError
from exports.files import PendingFile, open_database, out_dir_problems, staging
from protocol import Protocol, ProtocolError, load_protocol
from scales.loader import registry

#: The permission every export needs (db.permissions.PERMISSIONS): admin, pi, monitor, the command line.
EXPORT_READ = "export.read"

STUDY_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,19}$")

#: What the audit event of an export without treatment allocation (FHIR, REDCap) adds.
NO_ARM = {"arm": "not included"}

Written = TypeVar("Written")


class ExportProblem(Exception):
    """An inconsistency inside the database that stops the export (reported, nothing written)."""


@dataclass(frozen=True)
class Scope:
    """Who exports what: the actor as audited, the site (None = every site) and blinding."""

    actor: Mapping[str, Any]
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


# ---------------------------------------------------------------------------------------------
# arguments
# ---------------------------------------------------------------------------------------------


def add_scope_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--site",
        metavar="CODE",
        help="only this site's participants (default: every site the exporting account may see)",
    )
    parser.add_argument(
        "--as",
        dest="as_user",
        metavar="USERNAME",
        help="the account the export runs as and is audited under (admin, pi or monitor); its role "
        "decides blinding: in a blinded study arms and doses are masked (BLINDED) unless it is an "
        "admin. Default: the command line's system actor, which sees no arms",
    )


def add_file_export_arguments(parser: argparse.ArgumentParser, out_help: str) -> None:
    """--out FILE, --site, --as and --scale: the options of the single-file record exports."""
    parser.add_argument("--out", required=True, metavar="FILE", help=out_help)
    add_scope_arguments(parser)
    parser.add_argument(
        "--scale", action="append", metavar="SCALE_ID", help="only this scale (repeatable; default all)"
    )


def study_id_problems(value: str | None) -> list[str]:
    if value is None or not STUDY_ID_PATTERN.match(value):
        return [
            f"--study-id {value!r}: use 1-20 letters, digits, '-' or '_', starting with a letter or digit "
            f"(it becomes STUDYID and the start of every USUBJID)"
        ]
    return []


def scale_ids_or_error(scale_ids: Sequence[str], what: str = "--scale") -> list[str]:
    """The scale ids given, checked against the shipped definitions (every unknown one named)."""
    known = registry()
    problems = [
        f"{what}: unknown scale '{s}'; known scales: {', '.join(sorted(known))}" for s in scale_ids if s not in known
    ]
    if problems:
        raise CommandError(problems)
    return list(dict.fromkeys(scale_ids))


def load_study_protocol() -> Protocol:
    try:
        return load_protocol()
    except ProtocolError as exc:
        raise CommandError(f"protocol: {exc}") from None


# ---------------------------------------------------------------------------------------------
# the scope
# ---------------------------------------------------------------------------------------------


def scope_for(
    db: Database, actor: Mapping[str, Any], site_code: str | None, protocol: Protocol
) -> tuple[Scope, list[str]]:
    """The Scope of an export by `actor` (an account row, or the system actor) for `site_code`
    (None: every site the actor may see), and the problems found, one line each. The Data export
    page calls this with the signed-in account; the command line through resolve_scope.

    The one export permission check: PermissionDeniedError unless the actor, as stored now, holds
    `export.read`; the Scope carries the account as checked (its role and site as they are now)."""
    actor = authorize(db, actor, EXPORT_READ)
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
            problems.append(
                f"--site {site['code']}: {actor['username']} works at site "
                f"{db_exports.site_code(db, own_site)} and may export only that site's participants"
            )
        site = site or sites.get_site(db, own_site)
    blinded = blinding.study_blinded(protocol.blinded, db_exports.study_row(db)["blinded"])
    scope = Scope(
        actor=actor,
        site=site,
        study_blinded=blinded,  # as loaded: a copy would not be trusted
        show_arm=blinding.arm_visible(actor.get("role", ""), blinded),
    )
    return scope, problems


def resolve_scope(db: Database, args: argparse.Namespace, protocol: Protocol) -> tuple[Scope, list[str]]:
    """The export's Scope from --as and --site, and the problems found (one line each)."""
    problems: list[str] = []
    actor: Mapping[str, Any] = system_actor()
    if getattr(args, "as_user", None):
        try:
            actor = db_exports.export_account(db, args.as_user)
        except (NotFoundError, PermissionDeniedError) as exc:
            problems.append(f"--as {args.as_user}: {exc}")
    scope, site_problems = scope_for(
        db, actor if not problems else system_actor(), getattr(args, "site", None), protocol
    )
    return scope, problems + site_problems


def masking_notice(scope: Scope) -> str | None:
    """The first stderr line of a masked export, saying what is masked and how to unmask it."""
    if not scope.masked:
        return None
    return (
        f"BLINDED: the study is blinded and {scope.actor['username']} ({scope.actor['role']}) may not see "
        f"treatment allocation, so arms, treatments and doses are masked as {blinding.MASK}; to export them, "
        f"run with --as USERNAME of an admin account"
    )


# ---------------------------------------------------------------------------------------------
# audit and publish
# ---------------------------------------------------------------------------------------------


def _audited(
    db_path: str | os.PathLike[str] | None,
    scope: Scope,
    kind: str,
    counts: Mapping[str, int],
    destination: Path,
    details: Mapping[str, Any] | None,
    put_in_place: Callable[[], None],
) -> None:
    """Record the export's audit event and put its output in place (`put_in_place`), in one
    transaction: if the event cannot be written nothing is published, and if putting it in
    place fails the event is rolled back."""
    with unit_of_work(database_path(db_path)) as db:
        db_exports.record_export(
            db,
            scope.actor,
            kind,
            counts,
            site=scope.site_code,
            blinded=scope.masked,
            destination=str(destination.resolve()),
            details=details,
        )
        put_in_place()


def publish(
    db_path: str | os.PathLike[str] | None,
    scope: Scope,
    staged: Path,
    out: Path,
    kind: str,
    counts: Mapping[str, int],
    details: Mapping[str, Any] | None = None,
) -> None:
    """Audit the export and move the staged directory to `out`, in one transaction: if the move
    fails the audit event is rolled back; if the audit fails nothing is moved."""
    out = Path(out)
    moved = False

    def move() -> None:
        nonlocal moved
        if out.is_dir():
            out.rmdir()  # checked empty before the export started
        os.rename(staged, out)
        moved = True

    try:
        _audited(db_path, scope, kind, counts, out, details, move)
    except (StorageError, PermissionDeniedError, OSError) as exc:
        if moved:  # the commit failed after the move: take the unaudited export back
            shutil.rmtree(out, ignore_errors=True)
        shutil.rmtree(staged, ignore_errors=True)
        if isinstance(exc, OSError) and not isinstance(exc, StorageError):
            raise CommandError(f"--out {out}: cannot write ({exc.strerror}); nothing was exported") from None
        raise CommandError(f"audit: {exc}; nothing was exported") from None


def publish_file(
    db_path: str | os.PathLike[str] | None,
    scope: Scope,
    pending: PendingFile,
    kind: str,
    counts: Mapping[str, int],
    details: Mapping[str, Any] | None = None,
) -> None:
    """Audit the export and rename the pending file into place, in one transaction."""
    try:
        _audited(db_path, scope, kind, counts, pending.path, details, pending.commit)
    except (StorageError, PermissionDeniedError) as exc:
        raise CommandError(
            f"database {database_path(db_path)}: the export's audit event could not be recorded: "
            f"{exc}; nothing was exported"
        ) from None


# ---------------------------------------------------------------------------------------------
# the two command-line paths
# ---------------------------------------------------------------------------------------------


def _scope_or_error(
    db: Database,
    args: argparse.Namespace,
    protocol: Protocol,
    kind: str,
    problems: Sequence[str] = (),
    *,
    masks: bool = True,
) -> Scope:
    """The export's scope; CommandError with every problem (earlier ones first) if there is any.
    An export that `masks` allocation says so in its first stderr line when it is masked."""
    scope, scope_problems = resolve_scope(db, args, protocol)
    problems = [*problems, *scope_problems]
    if problems:
        raise CommandError(problems)
    notice = masking_notice(scope) if masks else None
    if notice:
        print(f"python -m exports {kind}: {notice}", file=sys.stderr)
    return scope


def export_to_directory(
    args: argparse.Namespace,
    kind: str,
    write: Callable[[Database, Scope, Protocol, Path], tuple[Mapping[str, int], Written]],
    problems: Sequence[str] = (),
    details: Mapping[str, Any] | None = None,
) -> tuple[Mapping[str, int], Written]:
    """A directory export (csv, sdtm) from --out DIR, --as, --site: checks everything first (with
    `problems` the command found in its own options), writes through `write(db, scope,
    protocol, staged_dir)` -> (records per file, anything else), then audits and publishes.
    Returns what `write` returned."""
    problems = out_dir_problems(args.out) + list(problems)
    protocol = load_study_protocol()
    out = Path(args.out)
    with open_database(args) as db:
        scope = _scope_or_error(db, args, protocol, kind, problems)
        with staging(out) as staged:
            try:
                counts, extra = write(db, scope, protocol, staged)
            except ExportProblem as exc:
                raise CommandError(str(exc)) from None
            except OSError as exc:
                raise CommandError(f"--out {out}: cannot write ({exc.strerror}); nothing was exported") from None
    publish(getattr(args, "db", None), scope, staged, out, kind, counts, details)
    return counts, extra


def export_to_file(
    args: argparse.Namespace,
    kind: str,
    write: Callable[[Database, Scope, TextIO, list[str]], Mapping[str, int]],
    details: Mapping[str, Any] | None = None,
) -> Mapping[str, int]:
    """A single-file export (fhir-responses, redcap-records) from --out FILE, --as, --site and
    --scale: writes through `write(db, scope, handle, scale_ids)` -> records per kind, then audits
    and renames the file into place. Returns the counts."""
    scale_ids = scale_ids_or_error(getattr(args, "scale", None) or [])
    protocol = load_study_protocol()
    with PendingFile(args.out) as pending:
        with open_database(args) as db:
            scope = _scope_or_error(db, args, protocol, kind, masks=False)  # no arm in the file: nothing to mask
            counts = write(db, scope, pending.handle, scale_ids)
        publish_file(getattr(args, "db", None), scope, pending, kind, counts, details)
    return counts
