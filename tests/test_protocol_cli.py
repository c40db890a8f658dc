"""`python -m protocol`: run as a real subprocess, the way a coordinator runs it."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT / "protocol" / "studies" / "default.json"
REPEATED = ROOT / "protocol" / "studies" / "repeated_infusion.json"


def run(*args, env=None):
    environment = {k: v for k, v in os.environ.items() if k != "SCALEBOOK_PROTOCOL"} | (env or {})
    return subprocess.run(
        [sys.executable, "-m", "protocol", *args], capture_output=True, text=True, cwd=ROOT, timeout=60, env=environment
    )


def assert_one_line_error(proc, *fragments):
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    for fragment in fragments:
        assert fragment in proc.stderr


@pytest.mark.parametrize("command", [[], ["validate"], ["show"]])
def test_help_on_every_command(command):
    proc = run(*command, "--help")
    assert proc.returncode == 0
    assert "usage: python -m protocol" in proc.stdout


def test_validate_the_shipped_protocols():
    proc = run("validate")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "2 protocol file(s) valid\n"


def test_validate_reports_a_broken_file(tmp_path):
    raw = json.loads(DEFAULT.read_text(encoding="utf-8"))
    raw["timezone"] = "Mars/Olympus_Mons"
    broken = tmp_path / "study.json"
    broken.write_text(json.dumps(raw), encoding="utf-8")
    proc = run("validate", str(broken), str(REPEATED))
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"{broken}: at $.timezone: 'Mars/Olympus_Mons' is not an IANA time zone; use a name such as "
        f"Europe/London or America/New_York [rule: timezone-valid]"
    ]


def test_validate_missing_file():
    assert_one_line_error(run("validate", "nope.json"), "error: no such file: nope.json")


def test_show_prints_the_timepoints_table():
    proc = run("show")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("ketamine_single_infusion 1.0.0: ")
    table = lines[lines.index(next(line for line in lines if line.startswith("timepoint"))) :]
    assert table[0].split() == ["timepoint", "label", "anchor", "offset", "window", "scales"]
    assert [row.split()[0] for row in table[1:11]] == [
        "baseline",
        "min_40",
        "min_80",
        "min_120",
        "min_230",
        "day_1",
        "day_2",
        "day_3",
        "day_7",
        "day_14",
    ]
    day_1 = next(row for row in table if row.startswith("day_1"))
    assert "day_1 *" in day_1 and "+1 day" in day_1 and "-4 hours / +4 hours" in day_1 and "madrs, qids_sr16" in day_1
    assert "-7 days / +0 minutes" in table[1]


def test_show_follows_the_environment_variable():
    proc = run("show", env={"SCALEBOOK_PROTOCOL": str(REPEATED)})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ketamine_repeated_infusion 1.0.0: ")
    assert "3 per week (Mon/Wed/Fri)" in proc.stdout


def test_show_with_a_first_infusion_prints_local_dates():
    proc = run("show", str(REPEATED), "--first-infusion", "2026-03-27T09:00")
    assert proc.returncode == 0, proc.stderr
    # Friday start: Mon 30, Wed 1, Fri 3, Mon 6, Wed 8; maintenance weekly from Wed 15 April.
    assert "2   induction    Mon 2026-03-30 09:00" in proc.stdout
    assert "6   induction    Wed 2026-04-08 09:00" in proc.stdout
    assert "7   maintenance  Wed 2026-04-15 09:00" in proc.stdout
    assert "week_1        " in proc.stdout and "Fri 2026-04-03 09:00" in proc.stdout


def test_show_bad_first_infusion():
    assert_one_line_error(
        run("show", "--first-infusion", "next friday"), "error: --first-infusion 'next friday' is not a date and time"
    )


def test_show_a_broken_file(tmp_path):
    broken = tmp_path / "study.json"
    broken.write_text("{", encoding="utf-8")
    assert_one_line_error(run("show", str(broken)), "at $: not valid JSON", "[rule: json-syntax]")


def test_show_missing_file():
    assert_one_line_error(run("show", "nope.json"), "error: no such file: nope.json")
