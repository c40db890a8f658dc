"""Concurrency: processes and threads writing at once lose nothing, and stale copies never
overwrite newer ones."""

from __future__ import annotations

import subprocess
import threading

from db import ConflictError, audit, unit_of_work
from db import assessments as A
from tests.conftest_db import PROJECT_ROOT, SCALE, assert_all_or_nothing, full_responses, worker_command
from tests.conftest_db import WORKER_RESPONSES as RESPONSES

PROCESSES, SAVES_PER_PROCESS, THREADS = 3, 6, 4


def _run_threads(target, count):
    errors, results = [], [None] * count
    barrier = threading.Barrier(count)

    def run(i):
        try:
            barrier.wait()
            results[i] = target(i)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results, errors


def test_processes_and_threads_writing_at_once_lose_nothing(world, db_path):
    events_before = audit.count_events(world.db)
    procs = [
        subprocess.Popen(
            worker_command("save", db_path, world.rater["id"], world.p1["id"], f"proc{n}", SAVES_PER_PROCESS),
            cwd=PROJECT_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(PROCESSES)
    ]

    def draft_item_by_item(i):
        # a tablet: one unit of work (one connection) per tap, then completion
        with unit_of_work(db_path) as conn:
            a = A.start_assessment(conn, world.rater, world.p1["id"], f"thread{i}", SCALE, "clinician")
        for item, value in RESPONSES.items():
            with unit_of_work(db_path) as conn:
                a = A.save_draft_response(conn, world.rater, a["id"], item, value, expected_version=a["version"])
        with unit_of_work(db_path) as conn:
            return A.complete_assessment(conn, world.rater, a["id"], a["version"])

    results, errors = _run_threads(draft_item_by_item, THREADS)
    outputs = [p.communicate(timeout=120) for p in procs]
    assert errors == []
    assert [p.returncode for p in procs] == [0] * PROCESSES, [o[1] for o in outputs]
    for n, (out, _) in enumerate(outputs):
        assert out.split("\n")[:-1] == [f"saved proc{n}-{i}" for i in range(SAVES_PER_PROCESS)]

    saved = assert_all_or_nothing(db_path)
    assert sorted(saved) == sorted(
        [f"proc{n}-{i}" for n in range(PROCESSES) for i in range(SAVES_PER_PROCESS)]
        + [f"thread{i}" for i in range(THREADS)]
    )
    per_assessment = len(RESPONSES) + 3
    alerts = world.db.execute("SELECT count(*) FROM safety_alerts").fetchone()[0]
    assert audit.count_events(world.db) == events_before + len(saved) * per_assessment + alerts
    # the item-by-item saves each raised the version by one: start 1, one per item, completion
    assert {r["version"] for r in results} == {len(RESPONSES) + 2}


def test_threads_answering_items_of_one_draft_at_once_all_land(world, db_path):
    a = A.start_assessment(world.db, world.rater, world.p1["id"], "baseline", SCALE, "clinician")
    items = list(RESPONSES.items())

    def answer(i):
        item, value = items[i]
        with unit_of_work(db_path) as conn:
            A.save_draft_response(conn, world.rater, a["id"], item, value)  # no version check: per-item saves

    _, errors = _run_threads(answer, len(items))
    assert errors == []
    loaded = A.load_assessment(world.db, a["id"])
    assert loaded["responses"] == RESPONSES and loaded["version"] == 1 + len(items)
    saves = [e for e in audit.events_for(world.db, "assessment", a["id"]) if e["action"] == "response.save"]
    assert sorted(e["field"] for e in saves) == sorted(RESPONSES)


def test_racing_stale_copies_exactly_one_wins(world, db_path):
    done = A.save_assessment(
        world.db, world.rater, world.p1["id"], "baseline", SCALE, "clinician", full_responses(SCALE, 1)
    )
    racers = 5

    def amend(i):
        with unit_of_work(db_path) as conn:
            A.amend_assessment(
                conn, world.pi, done["id"], {f"{SCALE}_1": 2 + i % 3}, f"correction {i}", done["version"]
            )
            return i

    results, errors = _run_threads(amend, racers)
    winners = [r for r in results if r is not None]
    assert len(winners) == 1 and len(errors) == racers - 1
    assert all(isinstance(e, ConflictError) and "someone else saved a newer copy" in str(e) for e in errors)
    final = A.load_assessment(world.db, done["id"])
    assert final["version"] == done["version"] + 1
    assert final["responses"][f"{SCALE}_1"] == 2 + winners[0] % 3
    amendments = [e for e in audit.events_for(world.db, "assessment", done["id"]) if e["action"] == "assessment.amend"]
    assert [e["reason"] for e in amendments] == [f"correction {winners[0]}"]
