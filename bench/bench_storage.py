"""Storage benchmark: what the audited, constrained, crash-safe save and the history load cost.

1. Save: one complete HAM-D 17 assessment (17 responses, the stored score, any safety alert and
   the hash-chained audit events) through `db.assessments.save_assessment`, each save its own
   transaction with a durable commit (WAL, synchronous=FULL). Compared, in the same run, with
   raw `sqlite3` inserts of exactly the same rows (read back from a Scalebook save) into plain
   tables with the same columns and no constraints, triggers or hashing: the floor that the
   storage layer's checks, scoring, audit chain and transaction handling add to. Both are timed
   on an open connection, and again opening a connection per save (how pages work: one
   connection per unit of work).

2. History: a database of P participants x T timepoints x S scales (complete assessments with
   responses and scores, built in one executemany transaction), then the time to load one
   participant's full history with `participant_history` (a DataFrame, JSON decoded, UTC
   datetimes) against the same SQL through raw `sqlite3` (`fetchall`).

Figures: median, p95 and the ratio of medians. Run `python bench/bench_storage.py --help`.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import results  # noqa: E402
from db import connect, init_database, unit_of_work  # noqa: E402
from db.assessments import HISTORY_SQL, participant_history, save_assessment  # noqa: E402
from db.connection import APP_WRITER  # noqa: E402
from db.participants import create_participant  # noqa: E402
from db.permissions import system_actor  # noqa: E402
from db.sites import create_site  # noqa: E402
from db.users import create_user  # noqa: E402
from scales import get_scale, registry, score  # noqa: E402

SAVE_SCALE = "hamd17"
HISTORY_SCALES = ("hamd17", "madrs", "qids_sr16", "cadss", "bprs", "madrs_s", "phq9")
TABLES = ("assessments", "item_responses", "scores", "safety_alerts", "audit_events")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark the Scalebook storage layer against raw sqlite3 (see the module docstring).",
    )
    parser.add_argument("--saves", type=int, default=200, help="timed saves per variant (default 200)")
    parser.add_argument(
        "--participants", type=int, default=1000, help="participants in the history database (default 1000)"
    )
    parser.add_argument("--timepoints", type=int, default=20, help="timepoints per participant (default 20)")
    parser.add_argument("--scales", type=int, default=4, help="scales per timepoint (default 4)")
    parser.add_argument("--loads", type=int, default=200, help="timed history loads per variant (default 200)")
    parser.add_argument(
        "--quick", action="store_true", help="small sizes for a smoke run (30 saves, 50 x 20 x 4, 30 loads)"
    )
    parser.add_argument("--dir", type=Path, help="keep the databases in this directory (default: a temporary one)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON rows (bench/results.py)")
    args = parser.parse_args(argv)
    if args.quick:
        args.saves, args.participants, args.loads = 30, 50, 30
    for name in ("saves", "participants", "timepoints", "scales", "loads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    return args


def stats(samples: list[float]) -> tuple[float, float]:
    """Median and 95th percentile, in milliseconds."""
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p95 * 1000


def line(label: str, samples: list[float], baseline: list[float] | None = None) -> str:
    median, p95 = stats(samples)
    text = f"  {label:<44} median {median:8.3f} ms   p95 {p95:8.3f} ms"
    if baseline is not None:
        text += f"   ratio {median / stats(baseline)[0]:6.2f}x"
    return text


def responses_for(definition, rng: random.Random) -> dict[str, int]:
    """A complete, valid response set: every item scored, one member of each choice group."""
    keep = {rng.choice(group) for group in definition.choice_groups}
    skip = {member for group in definition.choice_groups for member in group} - keep
    return {i.id: rng.choice(sorted(i.scored_values)) for i in definition.items if i.id not in skip}


def seed_people(db) -> tuple[dict, list[int]]:
    system = system_actor("bench")
    create_site(db, system, "S1", "Bench site")
    rater = create_user(db, system, "bench.rater", "rater", "benchmark password", site="S1")
    coordinator = create_user(db, system, "bench.coord", "coordinator", "benchmark password", site="S1")
    return rater, coordinator


# --- 1. save -----------------------------------------------------------------------------------


def raw_schema(conn: sqlite3.Connection, source: sqlite3.Connection) -> None:
    """Plain tables with the same columns as Scalebook's, and nothing else."""
    for table in TABLES:
        columns = [r[1] for r in source.execute(f"PRAGMA table_info({table})")]
        conn.execute(f"CREATE TABLE {table} ({columns[0]} INTEGER PRIMARY KEY, {', '.join(columns[1:])})")


def rows_of_one_save(conn: sqlite3.Connection, assessment_id: int) -> dict[str, tuple[list[str], list[tuple]]]:
    """Every row a Scalebook save wrote, by table (without the ids, which the raw inserts assign)."""
    where = {
        "assessments": ("id = ?", [assessment_id]),
        "item_responses": ("assessment_id = ?", [assessment_id]),
        "scores": ("assessment_id = ?", [assessment_id]),
        "safety_alerts": ("assessment_id = ?", [assessment_id]),
        "audit_events": (
            "(entity = 'assessment' AND entity_id = ?) OR (entity = 'safety_alert' AND "
            "json_extract(new_value, '$.assessment_id') = ?)",
            [str(assessment_id), assessment_id],
        ),
    }
    out = {}
    for table, (clause, params) in where.items():
        cursor = conn.execute(f"SELECT * FROM {table} WHERE {clause}", params)
        names = [d[0] for d in cursor.description][1:]
        out[table] = (names, [row[1:] for row in cursor.fetchall()])
    return out


def raw_save(conn: sqlite3.Connection, rows, timepoint: str) -> None:
    """The same rows as one Scalebook save, inserted with plain sqlite3 in one transaction."""
    conn.execute("BEGIN IMMEDIATE")
    names, values = rows["assessments"]
    record = list(values[0])
    record[names.index("timepoint")] = timepoint
    aid = conn.execute(
        f"INSERT INTO assessments ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})", record
    ).lastrowid
    for table in ("item_responses", "scores", "safety_alerts"):
        names, values = rows[table]
        if values:
            at = names.index("assessment_id")
            conn.executemany(
                f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                [(*v[:at], aid, *v[at + 1 :]) for v in values],
            )
    names, values = rows["audit_events"]
    conn.executemany(f"INSERT INTO audit_events ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})", values)
    conn.execute("COMMIT")


def raw_connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), isolation_level=None, timeout=15)
    conn.create_function(APP_WRITER, 0, lambda: 1, deterministic=True)  # the raw floor writes like the app (m009)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def bench_save(args, workdir: Path) -> list[dict]:
    definition = get_scale(SAVE_SCALE)
    path = workdir / "save.db"
    init_database(path)
    rng = random.Random(args.seed)
    with closing(connect(path)) as db:
        rater, coordinator = seed_people(db)
        participant = create_participant(db, coordinator, "B0001", "S1")
        pid = participant["id"]
        response_sets = [responses_for(definition, rng) for _ in range(20)]
        warm = save_assessment(db, rater, pid, "warm-0", SAVE_SCALE, "clinician", response_sets[0])
        for i in range(1, 5):
            save_assessment(db, rater, pid, f"warm-{i}", SAVE_SCALE, "clinician", response_sets[i % 20])
        rows = rows_of_one_save(db.conn, warm["id"])

        open_conn = []
        for i in range(args.saves):
            start = time.perf_counter()
            save_assessment(db, rater, pid, f"open-{i}", SAVE_SCALE, "clinician", response_sets[i % 20])
            open_conn.append(time.perf_counter() - start)
    per_unit = []
    for i in range(args.saves):
        start = time.perf_counter()
        with unit_of_work(path) as db:
            save_assessment(db, rater, pid, f"unit-{i}", SAVE_SCALE, "clinician", response_sets[i % 20])
        per_unit.append(time.perf_counter() - start)

    raw_path = workdir / "raw_save.db"
    with closing(raw_connect(raw_path)) as conn, closing(sqlite3.connect(str(path))) as source:
        raw_schema(conn, source)
        raw_open = []
        for i in range(args.saves):
            start = time.perf_counter()
            raw_save(conn, rows, f"open-{i}")
            raw_open.append(time.perf_counter() - start)
    raw_unit = []
    for i in range(args.saves):
        start = time.perf_counter()
        with closing(raw_connect(raw_path)) as conn:
            raw_save(conn, rows, f"unit-{i}")
        raw_unit.append(time.perf_counter() - start)

    counts = {t: len(rows[t][1]) for t in TABLES}
    print(
        f"1. Save one complete {definition.abbreviation} assessment ({args.saves} saves per variant; rows per save: "
        + ", ".join(f"{t} {n}" for t, n in counts.items())
        + ")"
    )
    print(line("raw sqlite3, open connection", raw_open))
    print(line("Scalebook save_assessment, open connection", open_conn, raw_open))
    print(line("raw sqlite3, connection per save", raw_unit))
    print(line("Scalebook, unit_of_work per save", per_unit, raw_unit))
    return [
        results.row(
            f"assessment save ({definition.abbreviation}, connection per save, {args.saves} saves)",
            per_unit,
            raw_unit,
            "raw sqlite3 inserts of the same rows",
        )
    ]


# --- 2. history ----------------------------------------------------------------------------------


def history_scales(wanted: int) -> list[str]:
    available = registry()
    chosen = [s for s in HISTORY_SCALES if s in available][:wanted]
    if len(chosen) < wanted:
        chosen += sorted(set(available) - set(chosen))[: wanted - len(chosen)]
    if len(chosen) < wanted:
        raise SystemExit(f"only {len(chosen)} scale definitions are installed; use --scales {len(chosen)}")
    return chosen


def build_history_db(args, path: Path) -> tuple[float, dict[str, int]]:
    """P x T x S complete assessments with responses and scores, in one executemany transaction."""
    rng = random.Random(args.seed)
    init_database(path)
    with closing(connect(path)) as db:
        rater, _ = seed_people(db)
    scales = history_scales(args.scales)
    start = time.perf_counter()
    variants = {}
    for scale_id in scales:
        definition = get_scale(scale_id)
        variants[scale_id] = []
        for _ in range(12):  # a few response sets per scale, scored once by the engine, reused
            responses = responses_for(definition, rng)
            variants[scale_id].append((definition, responses, score(definition, responses)))
    ts = "2026-01-05T09:00:00.000000Z"
    assessments, responses_rows, scores_rows = [], [], []
    aid = 0
    for p in range(1, args.participants + 1):
        for t in range(args.timepoints):
            started = f"2026-{1 + t // 28 % 12:02d}-{1 + t % 28:02d}T09:{t % 60:02d}:00.000000Z"
            for scale_id in scales:
                aid += 1
                definition, answers, result = rng.choice(variants[scale_id])
                assessments.append(
                    (
                        aid,
                        p,
                        f"tp{t:02d}",
                        scale_id,
                        definition.version,
                        definition.hash,
                        "clinician",
                        definition.default_recall,
                        rater["id"],
                        "complete",
                        2,
                        started,
                        started,
                        rater["username"],
                        started,
                    )
                )
                responses_rows.extend((aid, item, value, started, rater["username"]) for item, value in answers.items())
                scores_rows.append(
                    (
                        aid,
                        result.total,
                        _json(result.subscales),
                        result.band,
                        result.band_set,
                        int(result.complete),
                        _json(result.missing),
                        _json(result.not_assessed),
                        int(result.prorated),
                        _json(result.flags),
                        result.engine_version,
                        result.scale_version,
                        result.definition_hash,
                        started,
                        rater["username"],
                    )
                )
    with closing(raw_connect(path)) as conn:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO participants (id, study_id, code, site_id, status, created_at, updated_at) "
            "VALUES (?, 1, ?, 1, 'enrolled', ?, ?)",
            [(p, f"P{p:05d}", ts, ts) for p in range(1, args.participants + 1)],
        )
        conn.executemany(
            "INSERT INTO assessments (id, participant_id, timepoint, scale_id, scale_version, "
            "definition_hash, mode, recall, rater_id, status, version, started_at, completed_at, "
            "completed_by, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            assessments,
        )
        conn.executemany(
            "INSERT INTO item_responses (assessment_id, item_id, value, answered_at, answered_by) "
            "VALUES (?, ?, ?, ?, ?)",
            responses_rows,
        )
        conn.executemany(
            "INSERT INTO scores (assessment_id, total, subscales, band, band_set, complete, missing, "
            "not_assessed, prorated, flags, engine_version, scale_version, definition_hash, scored_at, "
            "scored_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            scores_rows,
        )
        conn.execute("COMMIT")
        conn.execute("ANALYZE")
    return time.perf_counter() - start, {
        "assessments": len(assessments),
        "item_responses": len(responses_rows),
        "scores": len(scores_rows),
        "scales": scales,
    }


def _json(value) -> str:
    return json.dumps(value)


def bench_history(args, workdir: Path) -> list[dict]:
    path = workdir / "history.db"
    build_seconds, built = build_history_db(args, path)
    rng = random.Random(args.seed + 1)
    pids = [rng.randint(1, args.participants) for _ in range(args.loads)]
    with closing(connect(path)) as db:
        participant_history(db, pids[0])  # warm the page cache and pandas
        ours = []
        for pid in pids:
            start = time.perf_counter()
            frame = participant_history(db, pid)
            ours.append(time.perf_counter() - start)
        rows_per_load = len(frame)
    with closing(raw_connect(path)) as conn:
        conn.execute(HISTORY_SQL, [pids[0]]).fetchall()
        raw = []
        for pid in pids:
            start = time.perf_counter()
            conn.execute(HISTORY_SQL, [pid]).fetchall()
            raw.append(time.perf_counter() - start)
    print(
        f"2. Load one participant's full history ({args.participants} participants x {args.timepoints} timepoints x "
        f"{args.scales} scales [{', '.join(built['scales'])}] = {built['assessments']:,} assessments, "
        f"{built['item_responses']:,} responses, {built['scores']:,} scores; built in {build_seconds:.1f} s; "
        f"{rows_per_load} rows per load, {args.loads} loads per variant)"
    )
    print(line("raw sqlite3 query + fetchall", raw))
    print(line("Scalebook participant_history (DataFrame)", ours, raw))
    return [
        results.row(
            f"participant history load ({args.participants:,} participants, {rows_per_load} rows)",
            ours,
            raw,
            "raw SQL + fetchall",
        )
    ]


def main(argv=None) -> int:
    args = parse_args(argv)
    print(
        f"Scalebook storage benchmark (SQLite {sqlite3.sqlite_version}, Python {sys.version.split()[0]}; WAL, "
        f"synchronous=FULL, one durable commit per save)"
    )
    with tempfile.TemporaryDirectory(prefix="scalebook-bench-") as tmp:
        workdir = args.dir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for name in ("save.db", "raw_save.db", "history.db"):
            for suffix in ("", "-wal", "-shm"):
                (workdir / (name + suffix)).unlink(missing_ok=True)
        print(f"databases in {workdir}")
        rows = bench_save(args, workdir)
        rows += bench_history(args, workdir)
    results.write(args.json, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
