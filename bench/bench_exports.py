"""Export benchmark: wall time and peak memory of `python -m exports csv` and `... sdtm`.

The database is the analytics benchmark's study (bench/bench_analytics.py `build_db`: P
participants, default 1,000, x 12 timepoints x 4 scales = 48,000 signed assessments with item
responses, engine scores and 2 infusions each), plus what that builder leaves out and the
exports read: vital signs (before, during and after each infusion: 3 sets per infusion) and
adverse events (about one participant in three has one). `--db PATH` reuses a database built
earlier (by this script with `--dir`, or by bench_analytics.py `--dir`) as it is.

Each figure runs as its own child process, as a user runs the command, so it includes the
interpreter start and the imports (pandas and pyreadstat for SDTM):

* floor: a child that reads the same rows with plain sqlite3 and `fetchall` and holds them all:
  participants, infusions, vital signs, adverse events, eligibility decisions, the submitted
  assessments joined to their current score, and their item responses, in the exports' order
  (one row per assessment and one per response, as the exports read them: joining the score
  to every response row would repeat its lookup 17 times per assessment and flatter the ratio);
* `python -m exports csv --out DIR`, `python -m exports sdtm --out DIR --study-id BENCH`, each
  into a new directory (removed after the run);
* startup: `python -m exports --help` (interpreter and the exports' imports, no data), to show
  how much of each figure is fixed cost.

Time: wall clock around the child. Peak memory: the child's maximum resident set size from
`os.wait4` (the rusage of that one child; resource.getrusage(RUSAGE_CHILDREN) would report the
largest child so far, hiding a smaller one after a larger one). Linux carries a process's peak
across fork and exec, so the parent stays small (the database is built in a child of its own)
and every figure has the parent's few MiB as its lowest possible value. Runs are interleaved (floor,
csv, sdtm, startup, then again) so that a slow minute of the machine hits every figure alike.
Figures: median over --runs and the ratio of medians to the floor.

    python bench/bench_exports.py [--quick] [--participants 1000] [--runs 3] [--db PATH] [--dir DIR]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import results  # noqa: E402
from bench.bench_analytics import PROTOCOL_FILE, as_loader, build_db, stamp  # noqa: E402

# The floor's statements: the rows the csv and sdtm exports read, in one pass each.
FLOOR_SQL = (
    """SELECT p.id, p.code, s.code, s.timezone, p.arm, p.status, p.status_reason, p.status_at, p.created_at
       FROM participants p JOIN sites s ON s.id = p.site_id ORDER BY p.code""",
    """SELECT i.*, p.code FROM infusions i JOIN participants p ON p.id = i.participant_id ORDER BY p.code, i.number""",
    """SELECT v.*, p.code, i.number FROM vitals v JOIN participants p ON p.id = v.participant_id
       LEFT JOIN infusions i ON i.id = v.infusion_id ORDER BY p.code, v.measured_at, v.id""",
    """SELECT e.*, p.code, i.number FROM adverse_events e JOIN participants p ON p.id = e.participant_id
       LEFT JOIN infusions i ON i.id = e.infusion_id ORDER BY p.code, e.onset_at, e.id""",
    """SELECT d.*, p.code FROM eligibility_decisions d JOIN participants p ON p.id = d.participant_id
       ORDER BY p.code, d.id""",
    """SELECT a.id, p.code, s.code, s.timezone, a.scale_id, a.scale_version, a.timepoint, i.number, a.mode,
              a.recall, u.username, a.status, a.started_at, a.completed_at, a.assessed_at,
              coalesce(a.assessed_at, a.completed_at) AS happened_at, a.late_entry_reason, sc.total, sc.band,
              sc.band_set, sc.subscales, sc.complete, sc.prorated, sc.definition_hash
       FROM participants p
       JOIN sites s ON s.id = p.site_id
       JOIN assessments a ON a.participant_id = p.id
       JOIN scores sc ON sc.id = (SELECT max(id) FROM scores WHERE assessment_id = a.id)
       LEFT JOIN infusions i ON i.id = a.infusion_id
       LEFT JOIN users u ON u.id = a.rater_id
       WHERE a.status <> 'draft'
       ORDER BY p.code, happened_at, a.id""",
    """SELECT r.assessment_id, r.item_id, r.value, r.not_assessed_reason
       FROM participants p
       JOIN assessments a ON a.participant_id = p.id
       JOIN item_responses r ON r.assessment_id = a.id
       WHERE a.status <> 'draft'
       ORDER BY p.code, coalesce(a.assessed_at, a.completed_at), a.id, r.id""",
)

AE_TERMS = ("Dissociation", "Nausea", "Headache", "Dizziness", "Blood pressure increased", "Anxiety")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark the csv and sdtm exports against a raw sqlite3 read of "
        "the same rows (see the module docstring)."
    )
    parser.add_argument("--participants", type=int, default=1000, help="participants (default 1000)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per figure (default 3)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 100 participants")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--db", type=Path, help="use this existing benchmark database as it is (no build)")
    parser.add_argument("--dir", type=Path, help="keep the database in this directory (default: a temporary one)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON rows (bench/results.py)")
    parser.add_argument("--floor-child", type=Path, help=argparse.SUPPRESS)  # the floor's child process
    parser.add_argument("--build-child", type=Path, help=argparse.SUPPRESS)  # builds the database
    args = parser.parse_args(argv)
    if args.quick:
        args.participants = 100
    if args.participants < 2 or args.runs < 1:
        parser.error("--participants must be at least 2 and --runs at least 1")
    if args.db is not None and not args.db.is_file():
        parser.error(f"--db {args.db}: no such file")
    return args


# --------------------------------------------------------------------------- database


def add_safety_records(path: Path, seed: int) -> dict[str, int]:
    """Vital signs (3 sets per infusion) and adverse events (about 1 participant in 3), which
    the analytics builder does not write, so the exports' VS and AE paths carry data."""
    rng = random.Random(seed)
    with closing(sqlite3.connect(str(path), isolation_level=None)) as conn:
        as_loader(conn)
        infusions = conn.execute("SELECT id, participant_id, started_at FROM infusions ORDER BY id").fetchall()
        vitals, events = [], []
        for infusion_id, participant_id, started_at in infusions:
            start = datetime.strptime(started_at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
            for minutes in (-10, 20, 60):
                when = stamp(start + timedelta(minutes=minutes))
                systolic = rng.randint(105, 150)
                vitals.append(
                    (
                        participant_id,
                        infusion_id,
                        when,
                        systolic,
                        systolic - rng.randint(30, 50),
                        rng.randint(55, 100),
                        rng.randint(12, 20),
                        rng.randint(94, 100),
                        round(rng.uniform(36.2, 37.4), 1),
                        when,
                    )
                )
            if rng.random() < 0.17:
                onset = start + timedelta(minutes=rng.randint(10, 90))
                resolved = stamp(onset + timedelta(hours=rng.randint(1, 6)))
                events.append(
                    (
                        participant_id,
                        infusion_id,
                        rng.choice(AE_TERMS),
                        stamp(onset),
                        resolved,
                        rng.choice(("mild", "mild", "moderate")),
                        rng.choice(("possible", "probable")),
                        "dose_not_changed",
                        "recovered",
                        stamp(onset),
                        resolved,
                    )
                )
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO vitals (participant_id, infusion_id, measured_at, systolic, diastolic, "
            "heart_rate, resp_rate, spo2, temperature_c, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            vitals,
        )
        conn.executemany(
            "INSERT INTO adverse_events (participant_id, infusion_id, term, onset_at, resolved_at, "
            "severity, relatedness, action_taken, outcome, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            events,
        )
        conn.execute("COMMIT")
        conn.execute("ANALYZE")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return {"vitals": len(vitals), "adverse_events": len(events)}


def counts(path: Path) -> dict[str, int]:
    with closing(sqlite3.connect(str(path))) as conn:
        return {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608 - fixed names
            for table in ("participants", "assessments", "item_responses", "infusions", "vitals", "adverse_events")
        }


# --------------------------------------------------------------------------- children


def floor_child(path: Path) -> int:
    """The floor: every row the exports read, through plain sqlite3, held until the end."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        held = [conn.execute(sql).fetchall() for sql in FLOOR_SQL]
    print(sum(len(rows) for rows in held))
    return 0


def run_child(command: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MiB) of one child process; its output is discarded, and a
    failure stops the benchmark with the child's stderr."""
    start = time.perf_counter()
    child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    stderr = child.stderr.read().decode(errors="replace")
    child.stderr.close()
    if child.returncode != 0:
        sys.exit(f"{' '.join(command)} failed (exit {child.returncode}):\n{stderr}")
    return elapsed, usage.ru_maxrss / 1024  # Linux reports kilobytes


# --------------------------------------------------------------------------- report


def row(label: str, times: list[float], memory: list[float], floor: tuple[list[float], list[float]] | None) -> str:
    t, m = statistics.median(times), statistics.median(memory)
    text = f"  {label:<34} {t:9.2f} s"
    text += f" {statistics.median(floor[0]):9.2f} s {t / statistics.median(floor[0]):7.1f}x" if floor else " " * 23
    text += f"   {m:8.0f} MiB"
    text += f" {statistics.median(floor[1]):8.0f} MiB {m / statistics.median(floor[1]):7.1f}x" if floor else ""
    return text


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.floor_child:
        return floor_child(args.floor_child)
    if args.build_child:
        build_db(args, args.build_child)
        add_safety_records(args.build_child, args.seed)
        return 0
    print(
        f"Scalebook export benchmark (SQLite {sqlite3.sqlite_version}, Python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs; load average now {os.getloadavg()[0]:.1f})"
    )
    with tempfile.TemporaryDirectory(prefix="scalebook-export-bench-") as tmp:
        workdir = args.dir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        if args.db:
            path = args.db.resolve()
            print(f"database: {path} (as it is)")
        else:
            path = workdir / "exports.db"
            for suffix in ("", "-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)
            start = time.perf_counter()
            # In a child: a child's peak RSS counts its parent's at the fork, so the parent stays small.
            subprocess.run(
                [
                    sys.executable,
                    str(Path(__file__).resolve()),
                    "--build-child",
                    str(path),
                    "--participants",
                    str(args.participants),
                    "--seed",
                    str(args.seed),
                ],
                check=True,
            )
            print(f"database: {path} (built in {time.perf_counter() - start:.1f} s)")
        n = counts(path)
        print(
            f"  {n['participants']:,} participants, {n['assessments']:,} assessments, {n['item_responses']:,} item "
            f"responses, {n['infusions']:,} infusions, {n['vitals']:,} vital signs, {n['adverse_events']:,} "
            f"adverse events"
        )
        env = {**os.environ, "SCALEBOOK_DB": str(path), "SCALEBOOK_PROTOCOL": str(PROTOCOL_FILE)}
        os.environ.update(env)
        python = sys.executable
        figures: dict[str, tuple[list[float], list[float]]] = {
            name: ([], []) for name in ("floor", "csv", "sdtm", "startup")
        }
        for run in range(args.runs):
            out = workdir / f"run-{run}"
            commands = {
                "floor": [python, str(Path(__file__).resolve()), "--floor-child", str(path)],
                "csv": [python, "-m", "exports", "csv", "--out", str(out / "csv")],
                "sdtm": [python, "-m", "exports", "sdtm", "--out", str(out / "sdtm"), "--study-id", "BENCH"],
                "startup": [python, "-m", "exports", "--help"],
            }
            out.mkdir()
            for name, command in commands.items():
                seconds, mib = run_child(command)
                figures[name][0].append(seconds)
                figures[name][1].append(mib)
            shutil.rmtree(out)
            print(
                f"  run {run + 1} of {args.runs}: "
                + ", ".join(
                    f"{name} {times[-1]:.2f} s / {memory[-1]:.0f} MiB" for name, (times, memory) in figures.items()
                ),
                flush=True,
            )
        floor = figures["floor"]
        print(
            f"\nMedian of {args.runs} run(s); each figure a child process (interpreter start and imports included); "
            f"ratio = figure / floor"
        )
        print(f"  {'figure':<34} {'time':>11} {'floor':>11} {'ratio':>8}   {'peak RSS':>12} {'floor':>12} {'ratio':>8}")
        print(row("raw sqlite3 fetchall (floor)", *floor, None))
        print(row("python -m exports csv", *figures["csv"], floor))
        print(row("python -m exports sdtm", *figures["sdtm"], floor))
        print(row("python -m exports --help (startup)", *figures["startup"], floor))
        results.write(
            args.json,
            [
                results.row(
                    f"python -m exports {name} ({n['participants']:,} participants, child process)",
                    figures[name][0],
                    floor[0],
                    "child reading the same rows with sqlite3",
                )
                for name in ("csv", "sdtm")
            ],
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
