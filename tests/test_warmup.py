"""ui/warmup.py and the one cohort snapshot it fills (ui/cohort_data.py): after the warm-up the
first cohort view judges no outcome and plans no schedule again; a snapshot answers for the data
version it was read at, and after one new rating only that participant is computed again; a page
arriving during the warm-up waits for it instead of computing beside it; the warm-up runs once per
server process in a background thread and never breaks the app when it fails."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

import pytest

import analytics.cohort as cohort_module
from analytics.cohort import completeness
from charts.views import cohort_from_rows, cohort_view
from db import analytics as store
from db.connection import database_path, unit_of_work
from tests.app_support import app
from tests.test_analytics_db import PROTOCOL, T0, amend_day1, seed_trial
from ui import cohort_data, warmup


@pytest.fixture
def seeded(app_world):
    return seed_trial(app_world)


@pytest.fixture
def cold():
    cohort_data.forget()
    yield
    cohort_data.forget()


def fail(*args, **kwargs):
    raise AssertionError("computed again: the snapshot should have kept this")


def load_cohort():
    with unit_of_work(write=False) as db:
        return cohort_from_rows(store.cohort_rows(db))


def judged(monkeypatch) -> list[int]:
    """Record which participants scale_outcome judges from now on."""
    calls: list[int] = []
    real = cohort_module.scale_outcome
    monkeypatch.setattr(
        cohort_module,
        "scale_outcome",
        lambda *a, **k: calls.append(a[2][0].participant_id if a[2] else None) or real(*a, **k),
    )
    return calls


def test_after_the_warm_up_the_cohort_view_reuses_every_participants_results(seeded, cold, monkeypatch):
    now = (T0 + timedelta(days=3)).replace(second=0, microsecond=0)
    expected = completeness(PROTOCOL, load_cohort(), now).matrix  # computed the ordinary way, no snapshot
    timings = warmup.warm_cohort(str(database_path()), PROTOCOL, now=now)
    assert set(timings) == {"load", *PROTOCOL.outcome_scales, "completeness", "total"}
    monkeypatch.setattr(cohort_module, "scale_outcome", fail)
    monkeypatch.setattr(cohort_module, "plan_timepoints", fail)
    monkeypatch.setattr(cohort_module, "schedule_states", fail)
    snapshot = cohort_data.snapshot(str(database_path()))
    view = snapshot.view(PROTOCOL, "madrs", show_arm=True)  # arms shown: a view the warm-up did not build
    first = view.participants.set_index("participant").loc["KET-001"]
    assert (first["baseline"], first["endpoint"], bool(first["responder"])) == (30, 14, True)
    assert snapshot.completeness(PROTOCOL, now).matrix.equals(expected)


def test_without_the_warm_up_the_same_path_does_compute(seeded, cold, monkeypatch):
    # The converse, so the test above cannot pass by the stubs never being reached.
    monkeypatch.setattr(cohort_module, "scale_outcome", fail)
    with pytest.raises(AssertionError, match="computed again"):
        cohort_data.snapshot(str(database_path())).view(PROTOCOL, "madrs", show_arm=True)


def test_a_snapshot_answers_for_its_data_version_and_a_new_rating_recomputes_one_participant(
    app_world, seeded, cold, monkeypatch
):
    path = str(database_path())
    before = cohort_data.snapshot(path)
    assert cohort_data.snapshot(path) is before  # same data version: the same snapshot
    old = before.view(PROTOCOL, "madrs", show_arm=False).participants.set_index("participant")
    assert old.loc["KET-001", "endpoint"] == 14
    calls = judged(monkeypatch)
    amend_day1(app_world, seeded)  # KET-001's day-1 MADRS becomes 16: a new data version
    after = cohort_data.snapshot(path)
    assert after is not before and after.version != before.version
    new = after.view(PROTOCOL, "madrs", show_arm=False).participants.set_index("participant")
    assert new.loc["KET-001", "endpoint"] == 16 and old.loc["KET-001", "endpoint"] == 14  # the old one unchanged
    assert calls == [app_world.p1["id"]]  # KET-002's outcome came with the unchanged data
    # What the snapshot shows is what the pure functions compute from the database now.
    fresh = cohort_view(PROTOCOL, load_cohort(), "madrs", show_arm=False).participants
    assert new.reset_index().equals(fresh)


def test_a_page_arriving_during_the_warm_up_waits_for_it_and_builds_nothing_twice(seeded, cold, monkeypatch):
    builds = []
    real = cohort_data.build_cohort

    def slow_build(*args, **kwargs):
        builds.append(threading.current_thread().name)
        time.sleep(0.5)
        return real(*args, **kwargs)

    monkeypatch.setattr(cohort_data, "build_cohort", slow_build)
    thread = threading.Thread(target=warmup.warm_cohort, args=(str(database_path()), PROTOCOL), name="warm-up")
    thread.start()
    while not builds:
        time.sleep(0.01)
    snapshot = cohort_data.snapshot(str(database_path()))  # the page's call, while the warm-up builds
    thread.join(timeout=30)
    assert builds == ["warm-up"] and snapshot.cohort.participants


def test_the_warm_up_is_off_when_the_environment_says_so(monkeypatch):
    monkeypatch.setenv("SCALEBOOK_WARMUP", "0")
    assert warmup.start_warmup(str(database_path()), PROTOCOL) is None


def test_the_server_starts_one_warm_up_thread_and_a_failure_is_only_logged(app_world, cold, monkeypatch, caplog):
    monkeypatch.setenv("SCALEBOOK_WARMUP", "1")
    warmup._start.clear()
    calls = []
    monkeypatch.setattr(warmup, "warm_cohort", lambda path, protocol: calls.append(path) or 1 / 0)
    with caplog.at_level(logging.WARNING, logger="ui.warmup"):
        at = app("app.py").run()  # a first visitor (signed out): the sign-in page, and the thread
        assert not at.exception
        again = app("app.py").run()  # a second visitor in the same process: no second thread
        assert not again.exception
        threads = [warmup._start(str(database_path()), PROTOCOL.hash, PROTOCOL)]
        threads[0].join(timeout=10)
    assert calls == [str(database_path())]
    assert "warming the cohort analytics failed" in caplog.text
    warmup._start.clear()
