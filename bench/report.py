"""One benchmark report: every benchmark in bench/, one table, also written to bench/report.md.

    python -m bench.report [--quick] [--out bench/report.md]      (make bench; BENCH_QUICK=1 for --quick)

Each benchmark runs as its own child process with `--json FILE` (bench/results.py), as a user
would run it, so one benchmark's caches and memory never colour the next one's figures; their
full printed output goes to a log file whose path the report prints. The concurrent raters
(bench/bench_concurrent.py) run real `streamlit run` servers: 10, 30 and 60 sessions on one
server process, and 30 and 60 on two processes sharing the database file (quick mode: 5 and 10
on one, 10 on two); the loads of one process count share one server start.

Every row has the figure's median and 95th percentile, the floor measured in the same run (what
it is is said next to it) and the ratio of the medians. The concurrent rows add throughput and
the taps the page showed as not saved (read after every tap, as a rater would), the failed
sessions and the lost saves, counted in the database after the run; the report exits non-zero
when any benchmark failed, any tap was shown as not saved, or any save was lost.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"

#: (script, what it measures, its arguments in quick mode) in table order; each also gets `--json FILE`.
#: Quick mode keeps the whole report under 3 minutes on 2 cores: small databases, few timed runs,
#: one export run; the concurrent raters take most of it (their taps are the server's real work).
BENCHMARKS = (
    ("bench_scoring.py", "scoring", ["--quick"]),
    ("bench_storage.py", "assessment save and history load", ["--quick"]),
    (
        "bench_form.py",
        "the form's tap and submit",
        ["--participants", "20", "--timepoints", "10", "--taps", "12", "--submits", "2"],
    ),
    ("bench_analytics.py", "participant and cohort views", ["--participants", "25", "--runs", "2"]),
    ("bench_exports.py", "exports", ["--participants", "10", "--runs", "1"]),
    ("bench_browser.py", "first load and the rater's screens in Chromium", ["--rounds", "1"]),
)
#: (sessions per load, server processes) of the concurrent raters.
#: Each entry is one run of bench_concurrent.py (one seeding, one set of servers): its loads as
#: (sessions, server processes). The full run keeps one and two processes apart; the quick run
#: shares one start between them (an idle second server costs the first nothing).
CONCURRENT_FULL: tuple[tuple[tuple[int, int], ...], ...] = (((10, 1), (30, 1), (60, 1)), ((30, 2), (60, 2)))
CONCURRENT_QUICK: tuple[tuple[tuple[int, int], ...], ...] = (((5, 1), (10, 1), (10, 2)),)


def quick_from_environment() -> bool:
    """BENCH_QUICK=1 (or any value but empty, 0, false, no) asks for the short run."""
    return os.environ.get("BENCH_QUICK", "").strip().lower() not in ("", "0", "false", "no")


def run_child(script: str, args: list[str], log, workdir: Path) -> tuple[list[dict] | None, str | None]:
    """Run one benchmark script with --json; (rows, None), or (rows or None, why it failed)."""
    out = workdir / f"{Path(script).stem}-{len(list(workdir.iterdir()))}.json"
    command = [sys.executable, str(BENCH / script), *args, "--json", str(out)]
    log.write(f"\n$ {' '.join(command)}\n")
    log.flush()
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, check=False)
    log.write(f"[{script}: exit {done.returncode} after {time.perf_counter() - started:.1f} s]\n")
    log.flush()
    rows = json.loads(out.read_text()) if out.exists() else None
    if done.returncode != 0:
        return rows, f"{script} exited with {done.returncode}"
    if rows is None:
        return None, f"{script} wrote no results"
    return rows, None


def concurrent_rows(loads: tuple[tuple[int, int], ...], log, workdir: Path) -> tuple[list[dict], list[str]]:
    """Rows of the concurrent raters at each load, (sessions, server processes), run on one set of
    servers, and failures (a benchmark that failed, a tap shown as not saved, a failed or lost save)."""
    spec = ",".join(f"{n}x{p}" for n, p in loads)
    args = ["--loads", spec, "--dir", str(workdir / f"concurrent-{spec.replace(',', '-')}")]
    summaries, failure = run_child("bench_concurrent.py", args, log, workdir)
    failures = [failure] if failure else []
    rows = []
    for s in summaries or []:
        who = f"{s['sessions']} concurrent raters, {s['processes']} server process{'es' if s['processes'] > 1 else ''}"
        unsaved = s.get("unsaved_taps", 0)
        note = (
            f"{s['taps_per_second']:.1f} taps/s, {s['submits_per_second']:.2f} submits/s; taps shown as not saved "
            f"{unsaved}; failed {s['failed']}, lost {s['lost']} (checked in the database)"
        )
        if s["sign_in_retries"]:
            note += f"; {s['sign_in_retries']} sign-in retries (password checks busy)"
        if s.get("resent"):
            note += f"; {s['resent']} requests sent again after the server reset an idle connection"
        floor = "one session alone, same server"
        rows.append(
            {
                "figure": f"{who}: per tap",
                "median": s["tap_median_ms"] / 1000,
                "p95": s["tap_p95_ms"] / 1000,
                "floor": s["floor_tap_median_ms"] / 1000,
                "floor_label": floor,
                "note": note,
                "failed": s["failed"],
                "lost": s["lost"],
                "sessions": s["sessions"],
                "processes": s["processes"],
            }
        )
        rows.append(
            {
                "figure": f"{who}: per submit",
                "median": s["submit_median_ms"] / 1000,
                "p95": s["submit_p95_ms"] / 1000,
                "floor": s["floor_submit_median_ms"] / 1000,
                "floor_label": floor,
                "note": "",
            }
        )
        if s["failed"] or s["lost"] or unsaved:
            failures.append(
                f"{who}: {unsaved} taps shown as not saved, {s['failed']} failed, {s['lost']} lost: "
                + "; ".join(s["problems"])
            )
    return rows, failures


def duration(seconds: float | None) -> str:
    """A time in the unit that reads best (us, ms or s)."""
    if seconds is None or seconds != seconds:  # None or NaN
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.2f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def table(rows: list[dict]) -> str:
    """The rows as one Markdown table: figure, median, p95, floor (and what it is), ratio, notes."""
    lines = ["| Figure | Median | p95 | Floor (same run) | Ratio | Notes |", "|---|---:|---:|---|---:|---|"]
    for r in rows:
        floor = f"{duration(r.get('floor'))} ({r['floor_label']})" if r.get("floor") else "-"
        ratio = f"{r['median'] / r['floor']:.1f}×" if r.get("floor") and r.get("median") == r.get("median") else "-"
        lines.append(
            f"| {r['figure']} | {duration(r.get('median'))} | {duration(r.get('p95'))} | {floor} | {ratio} | "
            f"{r.get('note', '')} |"
        )
    return "\n".join(lines)


def header(quick: bool, seconds: float) -> str:
    load = os.getloadavg()[0]
    return (
        f"# Scalebook benchmark report\n\n"
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {os.cpu_count()} CPUs · load average at the end {load:.1f} · "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version} · "
        f"{'QUICK run (BENCH_QUICK=1: smaller databases and loads, as each row says)' if quick else 'full run'}"
        f" · {seconds / 60:.1f} min\n\n"
        "Medians and 95th percentiles of server time; the floor is measured in the same run and the ratio is "
        "median / floor. Page figures run the real pages in Streamlit's AppTest; concurrent raters drive "
        "real `streamlit run` servers through Streamlit's agent API (bench/bench_concurrent.py says why), so "
        "each figure includes a JSON snapshot of the page and is an upper bound on server time.\n"
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", default=quick_from_environment(), help="the short run (also BENCH_QUICK=1)"
    )
    parser.add_argument(
        "--out", type=Path, default=BENCH / "report.md", help="the Markdown report (default bench/report.md)"
    )
    parser.add_argument("--only-concurrent", action="store_true", help="only the concurrent raters")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="scalebook-bench-report-"))
    log_path = workdir / "bench.log"
    print(
        f"Scalebook benchmarks ({'quick' if args.quick else 'full'} run); each benchmark's own output: {log_path}",
        flush=True,
    )
    rows, failures = [], []
    with open(log_path, "w") as log:
        for script, what, quick_args in [] if args.only_concurrent else BENCHMARKS:
            print(f"  {what} ...", flush=True)
            got, failure = run_child(script, quick_args if args.quick else [], log, workdir)
            rows += got or [{"figure": f"{script}: FAILED (see the log)", "median": None, "p95": None, "note": ""}]
            if failure:
                failures.append(failure)
        for loads in CONCURRENT_QUICK if args.quick else CONCURRENT_FULL:
            what = ", ".join(f"{n} sessions on {p} server process{'es' if p > 1 else ''}" for n, p in loads)
            print(f"  concurrent raters: {what} ...", flush=True)
            got, problems = concurrent_rows(loads, log, workdir)
            rows += got or [
                {
                    "figure": f"concurrent raters ({what}): FAILED (see the log)",
                    "median": None,
                    "p95": None,
                    "note": "",
                }
            ]
            failures += problems
    report = header(args.quick, time.perf_counter() - started) + "\n" + table(rows) + "\n"
    if failures:
        report += "\n**Failures:**\n\n" + "\n".join(f"- {f}" for f in failures) + "\n"
    args.out.write_text(report)
    print()
    print(report)
    print(f"(written to {args.out}; each benchmark's output in {log_path})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
