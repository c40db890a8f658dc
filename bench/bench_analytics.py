"""Server time of the trajectory and cohort views on a realistic study database.

Builds P participants (default 1,000), each with 2 infusions and 12 planned timepoints of the
repeated-infusion protocol (baseline / before, 40 min, 230 min and 1 day after each infusion;
weeks 1-4) × 4 scales (MADRS, QIDS-SR16, CADSS, BPRS) = 48,000 complete assessments with item responses,
engine scores (some amended: two score rows) and infusions, in one executemany transaction.

Then, in the same run:

* floor: the raw SQL that loads the same data (`db.analytics` statements through plain sqlite3,
  `fetchall`): the whole cohort, and one participant;
* the real pages in Streamlit's AppTest (`pages/cohort.py`, `pages/trajectory.py`) signed in
  as the PI: cold (Streamlit caches cleared, or a participant not viewed before) and warm (a
  rerun with the data unchanged, as after a widget click);
* the cohort page after ONE new rating (a new score row for one participant: the data version
  changes, so the cohort snapshot (ui/cohort_data.py) is read again; only that participant's rows
  are re-read and only their results recomputed) - the case "as soon as a rater submits";
* a server start: nothing remembered, ui/warmup.py's background computation (timed by itself;
  no one waits for it), then the first PI view of the page;
* the cohort view's compute steps alone (load + analytics + chart spec, no Streamlit), cold.

Prints median and p95 per variant and the ratio of medians to the floor. AppTest's own overhead
(building the element tree) is inside the page figures, so they are upper bounds.

One AppTest artefact is taken out: while a script runs, AppTest's main thread wakes every
millisecond to ask whether it has finished, and under the GIL that wake-up competes with the
script thread. SQLite hands the GIL back on every row, so a 48,000-row read lost 100 ms or more to
the waker (measured: cohort read 441-513 ms with the polling, 259-475 ms without, same machine,
same minutes). A Streamlit server's main thread sleeps in its event loop instead, so the bench
waits by joining the script thread. `--apptest-polling` keeps AppTest's own waiting, to compare.

    python bench/bench_analytics.py [--quick] [--participants 1000] [--runs 7] [--apptest-polling]
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PROTOCOL_FILE = ROOT / "protocol" / "studies" / "repeated_infusion.json"
SCALES = ("madrs", "qids_sr16", "cadss", "bprs")
PER_INFUSION = (("pre_infusion", -30), ("min_40", 42), ("min_230", 232), ("day_1", 24 * 60))
WEEKLY = (("week_1", 7), ("week_2", 14), ("week_3", 21), ("week_4", 28))
TARGETS_MS = {"cohort": 1000.0, "trajectory": 150.0}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark the trajectory and cohort views (see the module docstring)."
    )
    parser.add_argument("--participants", type=int, default=1000, help="participants (default 1000)")
    parser.add_argument("--runs", type=int, default=7, help="timed runs per variant (default 7)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 60 participants, 3 runs")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the figures as JSON rows (bench/results.py)")
    parser.add_argument("--dir", type=Path, help="keep the database in this directory (default: a temporary one)")
    parser.add_argument(
        "--apptest-polling",
        action="store_true",
        help="let AppTest poll its script thread every millisecond, as it does by default (see the module docstring)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.participants, args.runs = 60, 3
    if args.participants < 2 or args.runs < 1:
        parser.error("--participants must be at least 2 and --runs at least 1")
    return args


def stats(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))] * 1000


def line(label: str, samples: list[float], floor: list[float] | None = None, target: float | None = None) -> str:
    median, p95 = stats(samples)
    text = f"  {label:<57} median {median:8.1f} ms   p95 {p95:8.1f} ms"
    if floor is not None:
        text += f"   ratio {median / stats(floor)[0]:6.1f}x"
    if target is not None:
        text += f"   target < {target:.0f} ms: {'OK' if median < target else 'MISSED'}"
    return text


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --------------------------------------------------------------------------- database


def _responses(definition, target: float, rng: random.Random) -> dict[str, int]:
    """A complete response set whose items sit around target/len(items) (scored by the engine)."""
    skip = {m for group in definition.choice_groups for m in group[1:]}
    items = [i for i in definition.items if i.id not in skip and i.scored]
    per_item = target / max(len(items), 1)
    out = {}
    for item in items:
        value = round(per_item + rng.uniform(-1, 1))
        allowed = sorted(item.scored_values)
        out[item.id] = min(allowed, key=lambda v: abs(v - value))
    for item in definition.items:
        if item.id not in out and item.id not in skip and not item.scored and item.scored_values:
            out[item.id] = min(item.scored_values)
    return out


def build_db(args, path: Path) -> dict[str, int]:
    from db import connect, init_database
    from db.assessments import SCORE_COLUMNS, score_values
    from db.permissions import system_actor
    from db.sites import create_site
    from db.users import create_user
    from scales import get_scale, score

    rng = random.Random(args.seed)
    init_database(path)
    with closing(connect(path)) as db:
        system = system_actor("bench")
        create_site(db, system, "S1", "Bench site")
        rater = create_user(db, system, "bench.rater", "rater", "benchmark password", site="S1")
        create_user(db, system, "bench.rater2", "rater", "benchmark password", site="S1")
        pi = create_user(db, system, "bench.pi", "pi", "benchmark password", all_sites=True)
        protocol_hash = "sha256:bench"
    definitions = {s: get_scale(s) for s in SCALES}
    scored_cache: dict[tuple, tuple] = {}

    def scored(scale_id: str, target: float):
        definition = definitions[scale_id]
        answers = _responses(definition, target, rng)
        key = (scale_id, tuple(sorted(answers.items())))
        if key not in scored_cache:
            scored_cache[key] = (answers, score(definition, answers))
        return scored_cache[key]

    participants, eligibility, infusions, assessments, responses, scores, alerts = [], [], [], [], [], [], []
    aid = sid = 0
    for p in range(1, args.participants + 1):
        first = datetime(2026, 1, 5, 9, 0, tzinfo=UTC) + timedelta(days=7 * (p % 20))
        second = first + timedelta(days=2)
        enrolled = first - timedelta(days=10)
        participants.append((p, f"K{p:05d}", "ketamine" if p % 2 else "midazolam", stamp(enrolled)))
        eligibility.append((p, stamp(enrolled + timedelta(days=1))))
        for n, start in ((1, first), (2, second)):
            infusions.append((p, n, stamp(start), stamp(start + timedelta(minutes=40)), 70.0, 0.5, 35.0, stamp(start)))
        base = rng.uniform(24, 40)
        responder = rng.random() < 0.5
        # Before infusion 1 the rating is the protocol's own Baseline timepoint (the baseline rule
        # reads only that one); before infusion 2 it is pre_infusion@2.
        plan = [
            ("baseline" if (n, tp) == (1, "pre_infusion") else f"{tp}@{n}", start + timedelta(minutes=m), n)
            for n, start in ((1, first), (2, second))
            for tp, m in PER_INFUSION
        ]
        plan += [(tp, first + timedelta(days=d), None) for tp, d in WEEKLY]
        for timepoint, when, _n in plan:
            hours = (when - first).total_seconds() / 3600
            gain = (0.55 if responder else 0.15) if hours > 0 else 0.0
            for scale_id in SCALES:
                if scale_id == "madrs":
                    target = base * (1 - gain) + rng.uniform(-3, 3)
                elif scale_id == "qids_sr16":
                    target = base / 2.2 * (1 - gain)
                elif scale_id == "cadss":
                    target = 22 if timepoint.startswith("min_40") else 2
                else:
                    target = 30 if timepoint.startswith("min_40") else 22
                answers, result = scored(scale_id, max(target, 0))
                aid += 1
                done = stamp(when + timedelta(minutes=rng.randint(0, 9)))
                who = rater["id"] if rng.random() < 0.9 else rater["id"] + 1
                amended = rng.random() < 0.03
                assessments.append(
                    (
                        aid,
                        p,
                        timepoint,
                        scale_id,
                        definitions[scale_id].version,
                        definitions[scale_id].hash,
                        "clinician",
                        definitions[scale_id].default_recall,
                        who,
                        "amended" if amended else "signed",
                        3,
                        stamp(when),
                        done,
                        "bench.rater",
                        done,
                        done,
                        who,
                    )
                )
                responses.extend((aid, item, value, done, "bench.rater") for item, value in answers.items())
                for _ in range(2 if amended else 1):
                    sid += 1
                    scores.append((sid, aid, *score_values(result), done, "bench.rater"))
                if scale_id == "madrs" and rng.random() < 0.005:
                    alerts.append(
                        (aid, p, sid, "madrs_item10", "MADRS item 10 (suicidal thoughts) is 4 or more.", done)
                    )
    with closing(sqlite3.connect(str(path), isolation_level=None)) as conn:
        as_loader(conn)
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO participants (id, study_id, code, site_id, arm, status, created_at, updated_at) "
            "VALUES (?, 1, ?, 1, ?, 'enrolled', ?, ?4)",
            participants,
        )
        conn.executemany(
            "INSERT INTO eligibility_decisions (participant_id, eligible, answers, reasons, pending, "
            "protocol_id, protocol_hash, decided_at) VALUES (?, 1, '{}', '[]', '[]', 'bench', "
            f"'{protocol_hash}', ?)",
            eligibility,
        )
        conn.executemany(
            "INSERT INTO infusions (participant_id, number, started_at, ended_at, weight_kg, "
            "dose_mg_per_kg, total_dose_mg, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?8)",
            infusions,
        )
        conn.executemany(
            "INSERT INTO assessments (id, participant_id, timepoint, scale_id, scale_version, "
            "definition_hash, mode, recall, rater_id, status, version, started_at, completed_at, "
            "completed_by, updated_at, signed_at, signed_by) VALUES "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            assessments,
        )
        conn.executemany(
            "INSERT INTO item_responses (assessment_id, item_id, value, answered_at, answered_by) "
            "VALUES (?, ?, ?, ?, ?)",
            responses,
        )
        conn.executemany(
            f"INSERT INTO scores (id, assessment_id, {', '.join(SCORE_COLUMNS)}, scored_at, scored_by) "
            f"VALUES ({', '.join('?' * (len(SCORE_COLUMNS) + 4))})",
            scores,
        )
        conn.executemany(
            "INSERT INTO safety_alerts (assessment_id, participant_id, score_id, rule_id, message, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?)",
            alerts,
        )
        conn.execute("COMMIT")
        conn.execute("ANALYZE")
        # Fold the bulk load's write-ahead log into the database file, as SQLite's automatic
        # checkpoints keep it in a running study (readers of a 100 MB log pay for it).
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return {
        "participants": len(participants),
        "assessments": len(assessments),
        "responses": len(responses),
        "scores": len(scores),
        "infusions": len(infusions),
        "alerts": len(alerts),
        "pi": pi["id"],
    }


# --------------------------------------------------------------------------- floors


def raw_cohort(path: Path) -> float:
    from db import analytics as A

    with closing(sqlite3.connect(str(path))) as conn:
        start = time.perf_counter()
        conn.execute(A.DATA_VERSION_SQL).fetchall()
        conn.execute(A.PARTICIPANTS_SQL.format(site=""), [1]).fetchall()
        conn.execute(A.COHORT_ASSESSMENTS_SQL.format(site=""), [1]).fetchall()
        conn.execute(A.INFUSIONS_SQL.format(site=""), [1]).fetchall()
        return time.perf_counter() - start


def raw_participant(path: Path, pid: int) -> float:
    from db import analytics as A

    with closing(sqlite3.connect(str(path))) as conn:
        start = time.perf_counter()
        conn.execute(A.PARTICIPANT_VERSION_SQL, {"p": pid}).fetchall()
        conn.execute("SELECT * FROM participants WHERE id = ?", [pid]).fetchall()
        conn.execute(A.PARTICIPANT_ASSESSMENTS_SQL, [pid]).fetchall()
        conn.execute(A.INFUSIONS_SQL.format(site="AND p.id = ?"), [1, pid]).fetchall()
        conn.execute("SELECT * FROM safety_alerts WHERE participant_id = ?", [pid]).fetchall()
        return time.perf_counter() - start


# --------------------------------------------------------------------------- pages


def wait_like_a_server() -> None:
    """Make AppTest wait for its script thread by joining it instead of polling every millisecond
    (the module docstring says why); a run that outlives the timeout still fails the same way."""
    from streamlit.testing.v1 import local_script_runner

    def join_script_thread(runner, timeout: float = 3) -> None:
        thread = runner._script_thread
        if thread is not None:
            thread.join(timeout)
        if runner.script_stopped():
            return
        runner.request_stop()
        runner.join()
        raise RuntimeError(f"AppTest script run timed out after {timeout}(s)")

    local_script_runner.require_widgets_deltas = join_script_thread


def page(script: str, pi: dict, query: dict | None = None):
    from streamlit.testing.v1 import AppTest

    from db import users

    at = AppTest.from_file(str(ROOT / "pages" / script), default_timeout=120)
    logging.disable(logging.WARNING)  # "missing ScriptRunContext": session state is set from outside a run
    at.session_state["signed_in_user"] = {k: pi.get(k) for k in users.SESSION_FIELDS}  # as ui.session signs in
    at.session_state["last_activity"] = time.time()
    logging.disable(logging.NOTSET)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    return at


def timed(at) -> float:
    start = time.perf_counter()
    at.run()
    elapsed = time.perf_counter() - start
    if at.exception:
        raise SystemExit(f"the page raised: {at.exception[0].value}")
    if "signed_in_user" not in at.session_state:  # the sign-in page is not the page being measured
        raise SystemExit("the page signed the bench user out")
    return elapsed


def clear_streamlit_caches() -> None:
    """Streamlit's caches only (a server restart empties them too)."""
    import streamlit as st

    logging.disable(logging.WARNING)  # "No runtime found" notices: the caches are cleared from outside a run
    st.cache_data.clear()
    st.cache_resource.clear()
    logging.disable(logging.NOTSET)


def clear_caches() -> None:
    """Streamlit's caches and the cohort snapshot: the next run reads and computes everything."""
    from ui import cohort_data

    clear_streamlit_caches()
    cohort_data.forget()


def as_loader(conn: sqlite3.Connection) -> None:
    """Let this plain connection write like the app: a bulk loader stands in for years of app use.
    (m009 refuses writes from connections that lack the app's SQL function; older commits, which
    a comparison run may load, have neither.)"""
    from db import connection

    writer = getattr(connection, "APP_WRITER", None)
    if writer:
        conn.create_function(writer, 0, lambda: 1, deterministic=True)


def new_rating(path: Path, participant_id: int, serial: int) -> None:
    """What an amendment stores: a new score row (total + 1) for one MADRS assessment."""
    with closing(sqlite3.connect(str(path), isolation_level=None)) as conn:
        as_loader(conn)
        conn.execute("BEGIN IMMEDIATE")
        (aid,) = conn.execute(
            "SELECT id FROM assessments WHERE participant_id = ? AND scale_id = 'madrs' ORDER BY id LIMIT 1 OFFSET ?",
            [participant_id, 2 + serial % 8],
        ).fetchone()
        conn.execute(
            "INSERT INTO scores (assessment_id, total, subscales, band, band_set, complete, missing, "
            "not_assessed, prorated, flags, engine_version, scale_version, definition_hash, scored_at, "
            "scored_by, reason) SELECT assessment_id, coalesce(total, 0) + 1, subscales, band, band_set, "
            "complete, missing, not_assessed, prorated, flags, engine_version, scale_version, "
            "definition_hash, scored_at, scored_by, 'bench' FROM scores WHERE assessment_id = ? "
            "ORDER BY id DESC LIMIT 1",
            [aid],
        )
        conn.execute("COMMIT")


def main(argv=None) -> int:
    args = parse_args(argv)
    workdir = args.dir or Path(tempfile.mkdtemp(prefix="scalebook-analytics-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "analytics.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    os.environ["SCALEBOOK_DB"] = str(path)
    os.environ["SCALEBOOK_PROTOCOL"] = str(PROTOCOL_FILE)
    os.environ["SCALEBOOK_IDLE_TIMEOUT_MINUTES"] = "600"
    # The bench runs the server-start warm-up itself, where it is measured; no page may start one.
    os.environ["SCALEBOOK_WARMUP"] = "0"
    from streamlit import logger as streamlit_logger

    streamlit_logger.set_log_level(logging.ERROR)  # bare-mode notices from AppTest and cache clears
    if not args.apptest_polling:
        wait_like_a_server()
    start = time.perf_counter()
    built = build_db(args, path)
    print(
        f"Scalebook analytics benchmark (SQLite {sqlite3.sqlite_version}, Python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs; load average now {os.getloadavg()[0]:.1f})"
    )
    print(
        f"database: {built['participants']:,} participants x 12 timepoints x {len(SCALES)} scales = "
        f"{built['assessments']:,} assessments, {built['responses']:,} responses, {built['scores']:,} scores, "
        f"{built['infusions']:,} infusions, {built['alerts']} open alerts (built in {time.perf_counter() - start:.1f} s)"
    )

    from analytics.cohort import completeness
    from charts.views import cohort_from_rows, cohort_view
    from db import analytics as A
    from db import unit_of_work, users
    from protocol import load_protocol
    from ui.warmup import warm_cohort as server_warmup

    protocol = load_protocol()
    with unit_of_work(write=False) as db:
        pi = users.get_user(db, "bench.pi")

    # --- cohort
    raw_c = [raw_cohort(path) for _ in range(args.runs)]
    compute = []
    for _ in range(args.runs):
        clear_caches()
        t0 = time.perf_counter()
        with unit_of_work(write=False) as db:
            rows = A.cohort_rows(db)
        cohort = cohort_from_rows(rows)
        cohort_view(protocol, cohort, "madrs", show_arm=False)
        completeness(protocol, cohort, datetime.now(UTC))
        compute.append(time.perf_counter() - t0)
    cold, warm, after, warmups, started = [], [], [], [], []
    at = page("cohort.py", pi)
    for run in range(args.runs):
        clear_caches()
        cold.append(timed(at))
        warm.append(timed(at))
        new_rating(path, 1 + run, run)
        after.append(timed(at))
        # A server start: nothing remembered, then ui/warmup.py's background computation (timed
        # on its own: no one waits for it), then the first PI opens the page.
        clear_caches()
        t0 = time.perf_counter()
        server_warmup(str(path), protocol)
        warmups.append(time.perf_counter() - t0)
        clear_streamlit_caches()
        started.append(timed(at))
    rows_loaded = len(rows["assessments"])
    print(
        f"1. Cohort view, MADRS ({built['participants']:,} participants, {rows_loaded:,} assessment rows loaded; "
        f"{args.runs} runs per variant)"
    )
    print(line("floor: raw SQL of the same data (sqlite3 fetchall)", raw_c))
    print(line("load + analytics + chart spec, cold (no Streamlit)", compute, raw_c))
    print(line("pages/cohort.py in AppTest, cold, no warm-up (all cleared)", cold, raw_c, TARGETS_MS["cohort"]))
    print(line("server-start warm-up (background thread, ui/warmup.py)", warmups, raw_c))
    print(line("pages/cohort.py in AppTest, first view after the warm-up", started, raw_c, TARGETS_MS["cohort"]))
    print(line("pages/cohort.py in AppTest, after one new rating", after, raw_c, TARGETS_MS["cohort"]))
    print(line("pages/cohort.py in AppTest, warm (rerun, same data)", warm, raw_c, TARGETS_MS["cohort"]))

    # --- participant
    rng = random.Random(args.seed + 1)
    pids = rng.sample(range(1, built["participants"] + 1), min(args.runs, built["participants"]))
    raw_p = [raw_participant(path, pid) for pid in pids]
    cold_p, warm_p = [], []
    clear_caches()
    at = page("trajectory.py", pi, {"participant": "K00001"})
    at.run()  # the session's first run (imports, sign-in state): not a participant view
    for pid in pids:
        next(s for s in at.selectbox if s.label == "Participant").select(f"K{pid:05d}")
        cold_p.append(timed(at))
        warm_p.append(timed(at))
    print(
        f"2. Participant view (4 scale panels + dissociation panel, 48 assessments, 2 infusions; {len(pids)} "
        f"participants, each picked for the first time in the session, then rerun)"
    )
    print(line("floor: raw SQL of the same data (sqlite3 fetchall)", raw_p))
    print(line("pages/trajectory.py in AppTest, cold (not viewed before)", cold_p, raw_p, TARGETS_MS["trajectory"]))
    print(line("pages/trajectory.py in AppTest, warm (rerun)", warm_p, raw_p, TARGETS_MS["trajectory"]))
    from bench import results

    n = f"{built['participants']:,} participants"
    results.write(
        args.json,
        [
            results.row(
                "participant view, first time in the session (AppTest)", cold_p, raw_p, "raw SQL of the same data"
            ),
            results.row("participant view, rerun (AppTest)", warm_p, raw_p, "raw SQL of the same data"),
            results.row(
                f"cohort view, {n}: first view after a server start (AppTest)",
                started,
                raw_c,
                "raw SQL of the same data",
            ),
            results.row(f"cohort view, {n}: after one new rating (AppTest)", after, raw_c, "raw SQL of the same data"),
            results.row(
                f"cohort view, {n}: cold, nothing cached, no warm-up (AppTest)", cold, raw_c, "raw SQL of the same data"
            ),
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
