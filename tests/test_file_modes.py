"""Issue 13 item 14 (d): every file that holds study data or guards it is readable by its owner
only (0600), whatever the umask: the database with its -wal and -shm, the audit key
(`<db>.key`) and witness (`<db>.witness`), the app lock (`<db>.app-lock`), backups and restored
databases, and every export written to disk (directories 0700).

Each test runs under a permissive umask (0o000 or the usual 0o022), set for the test and put
back after it, and checks the mode of each file as `stat` reports it.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import zipfile
from io import BytesIO
from pathlib import Path

import pytest

from db import integrity
from db.backup import backup_database, restore_database
from db.connection import connect, database_path
from db.migrations import init_database
from exports import bundle
from exports.cli import main as exports_main

ROOT = Path(__file__).resolve().parent.parent


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask():
    """Set the process umask for one test (os.umask returns the previous one, put back after)."""
    previous = os.umask(0o022)
    try:
        yield os.umask
    finally:
        os.umask(previous)


def test_a_new_database_key_witness_wal_and_shm_are_owner_only(umask):
    umask(0o000)  # the most permissive: nothing may rely on the umask
    path = database_path()
    init_database()
    db = connect(path)
    try:
        db.execute("CREATE TEMP TABLE t (x)")  # a statement on an open connection: -wal and -shm exist
        files = [path, Path(f"{path}-wal"), Path(f"{path}-shm"), integrity.key_path(path), integrity.witness_path(path)]
        assert all(f.exists() for f in files), files
        assert {str(f): mode(f) for f in files} == {str(f): 0o600 for f in files}
    finally:
        db.close()


def test_an_audit_key_named_by_the_environment_is_owner_only(umask, tmp_path, monkeypatch):
    umask(0o000)
    monkeypatch.setenv(integrity.KEY_ENV, str(tmp_path / "keys" / "scalebook.key"))
    init_database()
    assert mode(tmp_path / "keys" / "scalebook.key") == 0o600


def test_the_app_lock_is_owner_only(umask):
    init_database()
    path = database_path()
    code = (
        "import os, sys, stat\nos.umask(0)\nfrom db import integrity\nintegrity.hold_app_lock(sys.argv[1])\n"
        "print(oct(stat.S_IMODE(os.stat(integrity.lock_path(sys.argv[1])).st_mode)))"
    )
    done = subprocess.run([sys.executable, "-c", code, str(path)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "0o600"


def test_a_database_that_others_could_read_is_tightened_with_its_wal_and_shm(umask):
    """A file from before this rule (or copied in by hand with cp) keeps its mode; its next
    connection tightens it, and the -wal and -shm beside it."""
    path = database_path()
    init_database()
    holder = sqlite3.connect(str(path))  # keeps -wal and -shm in place between the connections
    try:
        holder.execute("SELECT count(*) FROM sqlite_master").fetchone()
        loose = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
        for f in loose:
            f.chmod(0o644)
        connect(path).close()
        assert {str(f): mode(f) for f in loose} == {str(f): 0o600 for f in loose}
    finally:
        holder.close()


def test_backups_and_restored_databases_are_owner_only(umask, tmp_path):
    umask(0o000)
    path = database_path()
    init_database()
    backup = tmp_path / "backups" / "b.db"
    assert backup_database(backup, path)["path"] == str(backup)
    assert mode(backup) == 0o600
    backup.chmod(0o644)  # a backup copied around by hand; overwriting it with --force gives 0600 again
    backup_database(backup, path, overwrite=True)
    assert mode(backup) == 0o600
    restored = tmp_path / "restored" / "r.db"
    restore_database(backup, restored, anchor_of=path)
    assert mode(restored) == 0o600 and mode(integrity.key_path(restored)) == 0o600
    # Restoring over an existing database that others could read leaves it owner-only too.
    restored.chmod(0o644)
    restore_database(backup, restored, overwrite=True, anchor_of=path)
    assert mode(restored) == 0o600


def _tree_modes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root.parent)): mode(p) for p in [root, *root.rglob("*")]}


def test_every_export_written_to_disk_is_owner_only(umask, app_world, tmp_path, capsys):
    """csv and SDTM directories (the .xpt files come from pyreadstat, under the umask), and the
    single-file exports; the usual umask 022 would make them 0644 and 0755."""
    out = tmp_path / "out"
    out.mkdir()
    assert exports_main(["csv", "--as", "admin", "--out", str(out / "csv")]) == 0
    assert exports_main(["sdtm", "--as", "admin", "--study-id", "KET01", "--out", str(out / "sdtm")]) == 0
    for kind in ("fhir-responses", "redcap-records", "redcap-dictionary"):
        args = [kind, "--out", str(out / f"{kind}.out")]
        assert exports_main(args if kind == "redcap-dictionary" else [*args[:1], "--as", "admin", *args[1:]]) == 0
    capsys.readouterr()
    modes = {**_tree_modes(out / "csv"), **_tree_modes(out / "sdtm")}
    assert any(name.endswith(".xpt") for name in modes) and any(name.endswith("participants.csv") for name in modes)
    assert modes == {name: 0o700 if (tmp_path / "out" / name).is_dir() else 0o600 for name in modes}
    for kind in ("fhir-responses", "redcap-records", "redcap-dictionary"):
        assert mode(out / f"{kind}.out") == 0o600, kind


def test_the_export_pages_zip_unpacks_owner_only(umask, app_world):
    """The Data export page's download: each file in the ZIP carries mode 0600 (what `unzip` gives
    it), the SDTM .xpt and define.xml included."""
    built = bundle.build_zip(None, app_world.users["admin"], ["csv", "sdtm", "fhir", "redcap"], study_id="KET01")
    with zipfile.ZipFile(BytesIO(built.data)) as archive:
        modes = {info.filename: (info.external_attr >> 16) & 0o777 for info in archive.infolist()}
    assert "sdtm/dm.xpt" in modes and "sdtm/define.xml" in modes
    assert modes == dict.fromkeys(modes, 0o600)
