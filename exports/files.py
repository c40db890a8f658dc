"""The file side of every export: the database opened read-only, and output that appears
complete or not at all.

- `open_database`: a read-only snapshot of the database named by --db or $SCALEBOOK_DB (a
  missing file or an old schema is a CommandError, never an empty new database);
- `PendingFile` / `write_text_atomically`: one output file written beside its destination and
  renamed into place only when complete (fhir-*, redcap-*, import-* --out FILE);
- `out_dir_problems` / `staging`: an output directory (csv, sdtm --out DIR) that must be new or
  empty, filled in a hidden sibling directory that is renamed into place when every file is
  complete (exports/scope.py publishes it together with the export's audit event).

Every file an export writes is readable by its owner only (0600, its directories 0700), whatever
the umask: exports hold study data.

Each turns bad input or a failed write into exports.cli.CommandError with a line naming the
file or option, so no command prints a traceback and none leaves a half-written file behind.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from db.connection import ENV_VAR, Database, database_path, unit_of_work
from db.errors import StorageError
from db.migrations import require_latest
from exports.cli import CommandError


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
            descriptor, temporary = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".part", dir=self.path.parent)
        except OSError as exc:
            raise CommandError(f"{self.path}: cannot write ({exc.strerror})") from None
        self._temporary = Path(temporary)  # 0600, as every file an export writes (owner only)
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


def out_dir_problems(value: str | None) -> list[str]:
    """What is wrong with --out DIR (empty list when it can be written)."""
    if not value:
        return ["--out: give the directory to write the export to"]
    out = Path(value)
    if out.exists() and not out.is_dir():
        return [f"--out {out}: is a file, not a directory; give a new or empty directory"]
    if out.is_dir() and any(out.iterdir()):
        return [
            f"--out {out}: the directory is not empty; give a new or empty directory so that no earlier "
            f"export's files are mixed in"
        ]
    parent = out.resolve().parent
    if not parent.is_dir():
        return [f"--out {out}: the parent directory {parent} does not exist; create it first"]
    if not os.access(parent, os.W_OK):
        return [f"--out {out}: cannot write in {parent} (permission denied)"]
    return []


def owner_only(directory: Path) -> None:
    """Every file under `directory` 0600 and every folder 0700: exports hold study data, so only
    their owner reads them. (Files that other libraries write, such as pyreadstat's .xpt, come
    out under the umask; the directory they are written in is 0700 until this has run.)"""
    for path in directory.rglob("*"):
        path.chmod(0o700 if path.is_dir() else 0o600)


@contextmanager
def staging(out: Path) -> Iterator[Path]:
    """A hidden directory beside `out` to write into; removed again if anything fails."""
    out = Path(out)
    staged = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.resolve().parent))  # 0700
    try:
        yield staged
        owner_only(staged)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
