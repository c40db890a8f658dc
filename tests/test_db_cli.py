"""`python -m db`: help everywhere, init, adduser, backup/restore round trip while writing,
verify-audit, and one-line errors without tracebacks."""

from __future__ import annotations

import io
import subprocess
import sys
import threading

import pytest

from db import assessments as A
from db import audit, connect, unit_of_work, users
from db.cli import build_parser, main
from tests.conftest_db import PASSWORD, PROJECT_ROOT, SCALE, full_responses, raw

COMMANDS = ["init", "adduser", "backup", "restore", "verify-audit"]


def _run(*args, stdin="", env_db=None):
    env = None
    if env_db is not None:
        import os

        env = {**os.environ, "SCALEBOOK_DB": str(env_db)}
    return subprocess.run(
        [sys.executable, "-m", "db", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env=env,
        timeout=60,
    )


def test_every_command_has_help(capsys):
    for argv in ([], *([c] for c in COMMANDS)):
        with pytest.raises(SystemExit) as exit_:
            main([*argv, "--help"])
        assert exit_.value.code == 0
        assert "usage: python -m db" in capsys.readouterr().out
    subcommands = build_parser()._subparsers._group_actions[0].choices
    assert sorted(subcommands) == sorted(COMMANDS)


def test_init_creates_then_migrates_idempotently(tmp_path):
    target = tmp_path / "new" / "dir" / "scalebook.db"
    first = _run("init", env_db=target)
    assert first.returncode == 0 and f"created {target}: schema version" in first.stdout
    second = _run("init", env_db=target)
    assert second.returncode == 0 and "migrated" in second.stdout


def test_adduser_reads_the_password_from_stdin_and_hashes_it(db_path):
    result = _run("adduser", "dr.who", "--role", "pi", "--site", "S7", stdin=PASSWORD + "\n", env_db=db_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "created user dr.who (pi, site S7)"
    conn = connect(db_path)
    try:
        user = users.authenticate(conn, "dr.who", PASSWORD)
        assert user["role"] == "pi" and user["site_id"] is not None
        created = audit.events_for(conn, "user", user["id"])[0]
        assert created["action"] == "user.create" and created["username"].startswith("cli:")
    finally:
        conn.close()


def test_adduser_on_a_terminal_asks_twice(db_path, fast_passwords, monkeypatch, capsys):
    answers = iter([PASSWORD, PASSWORD + "x"])
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert main(["adduser", "ann", "--role", "rater", "--all-sites"]) == 1
    assert capsys.readouterr().err == "error: the two passwords differ; nothing was created, try again\n"
    answers = iter([PASSWORD, PASSWORD])
    assert main(["adduser", "ann", "--role", "rater", "--all-sites"]) == 0


def _main(capsys, monkeypatch, argv, stdin=""):
    """Run the CLI in this process (as `python -m db` would), with stdin not a terminal."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse usage errors
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("args", "stdin", "code", "message"),
    [
        (["adduser", "x1", "--role", "nurse", "--all-sites"], PASSWORD, 2, "argument --role: invalid choice: 'nurse'"),
        (
            ["adduser", "x1", "--role", "rater", "--all-sites"],
            "short\n",
            1,
            "error: the password must be at least 10 characters",
        ),
        (["adduser", "x1", "--role", "rater", "--all-sites"], "", 1, "error: no password on standard input"),
        (
            ["adduser", "bad name", "--role", "rater", "--all-sites"],
            PASSWORD,
            1,
            "error: username 'bad name' is not valid",
        ),
        (["frobnicate"], "", 2, "invalid choice: 'frobnicate'"),
        (["backup"], "", 2, "the following arguments are required: DEST"),
        (["restore", "/no/such/backup.db"], "", 1, "error: no backup file at /no/such/backup.db"),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_a_non_zero_exit(
    db_path, fast_passwords, capsys, monkeypatch, args, stdin, code, message
):
    result = _main(capsys, monkeypatch, args, stdin)
    assert result[0] == code
    assert message in result[2] and result[2].count("\n") == 1 and "Traceback" not in result[2]
    assert result[1] == ""


def test_a_duplicate_account_is_refused(db_path, fast_passwords, capsys, monkeypatch):
    assert _main(capsys, monkeypatch, ["adduser", "sam", "--role", "rater", "--all-sites"], PASSWORD)[0] == 0
    code, _, err = _main(capsys, monkeypatch, ["adduser", "SAM", "--role", "pi", "--all-sites"], PASSWORD)
    assert code == 1 and err == "error: user 'SAM' already exists; choose another name or reset their password\n"


def test_a_refused_account_creates_no_site_and_does_not_say_it_did(db_path, fast_passwords, capsys, monkeypatch):
    assert _main(capsys, monkeypatch, ["adduser", "sam", "--role", "rater", "--all-sites"], PASSWORD)[0] == 0
    code, _, err = _main(capsys, monkeypatch, ["adduser", "SAM", "--role", "pi", "--site", "NEW"], PASSWORD)
    assert code == 1 and "created site" not in err
    code, _, err = _main(capsys, monkeypatch, ["adduser", "kim", "--role", "pi", "--site", "NEW"], PASSWORD)
    assert code == 0 and err == "created site NEW\n"


def test_a_failure_in_a_real_subprocess_has_no_traceback(db_path):
    result = _run("adduser", "x1", "--role", "rater", "--all-sites", stdin="short\n", env_db=db_path)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == "error: the password must be at least 10 characters long\n"


def test_commands_before_init_say_what_to_run(tmp_path, capsys):
    missing = tmp_path / "nothing.db"
    for argv in (
        ["verify-audit"],
        ["adduser", "a1", "--role", "pi", "--all-sites"],
        ["backup", str(tmp_path / "b.db")],
    ):
        assert main(["--db", str(missing), *argv]) == 1
        err = capsys.readouterr().err
        assert "python -m db init" in err and err.count("\n") == 1
    assert not missing.exists()


def test_backup_while_another_connection_writes_then_restore_round_trip(world, db_path, tmp_path, capsys):
    A.save_assessment(world.db, world.rater, world.p1["id"], "baseline", SCALE, "clinician", full_responses())
    stop = threading.Event()
    written = []

    def keep_writing():
        i = 0
        while not stop.is_set():
            with unit_of_work(db_path) as conn:
                A.save_assessment(conn, world.rater, world.p1["id"], f"w{i}", SCALE, "clinician", full_responses())
            written.append(i)
            i += 1

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        while len(written) < 3:
            stop.wait(0.01)
        backups = [tmp_path / f"backup{n}.db" for n in range(3)]
        for target in backups:
            assert main(["backup", str(target)]) == 0
            assert "integrity ok" in capsys.readouterr().out
    finally:
        stop.set()
        writer.join()
    assert len(written) >= 3
    assert main(["backup", str(backups[0])]) == 1  # never overwrites by accident
    assert "already exists" in capsys.readouterr().err

    restored = tmp_path / "restored.db"
    # a new file has no witness yet: the backup is checked against the witness of the database it came from
    assert main(["--db", str(restored), "restore", str(backups[-1])]) == 1
    assert "--anchor-of" in capsys.readouterr().err and not restored.exists()
    assert main(["--db", str(restored), "restore", "--anchor-of", str(db_path), str(backups[-1])]) == 0
    assert main(["--db", str(restored), "verify-audit"]) == 0
    capsys.readouterr()
    source, copy = raw(db_path), raw(restored)
    try:
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        tables = ["participants", "assessments", "item_responses", "scores", "audit_events", "users"]
        for table in tables:
            snapshot = copy.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()
            assert snapshot, table
            # the backup is a consistent prefix of the live database: every row it has is there unchanged
            live = source.execute(f"SELECT * FROM {table} ORDER BY rowid LIMIT ?", [len(snapshot)]).fetchall()
            assert live == snapshot, table
        n = copy.execute("SELECT count(*) FROM assessments").fetchone()[0]
        assert copy.execute("SELECT count(*) FROM item_responses").fetchone()[0] == n * len(full_responses())
    finally:
        source.close()
        copy.close()
    assert main(["--db", str(restored), "restore", str(backups[-1])]) == 1  # an existing database needs --force
    assert "pass --force" in capsys.readouterr().err
    # restored.db's own witness starts at its restore; an older backup is checked against the original's
    assert main(["--db", str(restored), "restore", "--force", str(backups[0])]) == 1
    assert "never recorded" in capsys.readouterr().err
    assert main(["--db", str(restored), "restore", "--force", "--anchor-of", str(db_path), str(backups[0])]) == 0
    assert main(["--db", str(restored), "verify-audit"]) == 0


def test_restore_refuses_a_backup_with_a_broken_audit_trail(world, db_path, tmp_path, capsys):
    backup = tmp_path / "b.db"
    assert main(["backup", str(backup)]) == 0
    conn = raw(backup)
    try:
        conn.execute("DROP TRIGGER audit_events_no_update")
        conn.execute("UPDATE audit_events SET reason = 'edited' WHERE id = 2")
    finally:
        conn.close()
    capsys.readouterr()
    assert main(["--db", str(tmp_path / "target.db"), "restore", str(backup)]) == 1
    assert "audit trail is broken at event 2" in capsys.readouterr().err
    assert not (tmp_path / "target.db").exists()
