"""Crash safety: a process killed with SIGKILL while saving leaves each assessment all there or
not there at all, and the database passes its integrity check."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time

from tests.conftest_db import PROJECT_ROOT, assert_all_or_nothing, worker_command


def _spawn(world, db_path, prefix, count, *extra):
    return subprocess.Popen(
        worker_command("save", db_path, world.rater["id"], world.p1["id"], prefix, count, *extra),
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _read_until(proc, predicate) -> list[str]:
    lines = []
    while True:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"worker ended early: {proc.stderr.read()}")
        lines.append(line.strip())
        if predicate(lines):
            return lines


def _kill(proc) -> list[str]:
    """SIGKILL the worker; return what it printed after the lines already read."""
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    rest = proc.stdout.read().split()
    proc.stdout.close()
    proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    return [" ".join(pair) for pair in zip(rest[::2], rest[1::2], strict=True)]


def test_sigkill_inside_the_transaction_keeps_none_of_that_save(world, db_path):
    proc = _spawn(world, db_path, "paused", 10, "--pause-at", 3)
    lines = _read_until(proc, lambda lines: lines[-1].startswith("in-transaction"))
    _kill(proc)
    assert lines == ["saved paused-0", "saved paused-1", "saved paused-2", "in-transaction paused-3"]
    assert assert_all_or_nothing(db_path) == ["paused-0", "paused-1", "paused-2"]


def test_sigkill_at_random_moments_keeps_each_save_whole(world, db_path):
    rng = random.Random(20260301)
    saved_total = 0
    for round_ in range(4):
        proc = _spawn(world, db_path, f"r{round_}", 500)
        lines = _read_until(proc, lambda lines: len(lines) >= 2)
        time.sleep(rng.uniform(0, 0.05))
        reported = len(lines + _kill(proc))
        saved = assert_all_or_nothing(db_path)
        this_round = [t for t in saved if t.startswith(f"r{round_}-")]
        # every save the worker reported is there; besides them, at most the one in flight
        assert this_round == [f"r{round_}-{i}" for i in range(len(this_round))]
        assert len(this_round) - reported in (0, 1)
        saved_total += len(this_round)
    assert saved_total >= 8
