"""ui/warmup.py: the server-start warm-up of the cohort analytics. It must fill the
per-participant memos so that the first cohort view plans no schedule and judges no outcome
again, run once per server process in a background thread, and never break the app when it
fails."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import pytest

import analytics.cohort as cohort_module
from analytics.cohort import completeness
from charts.views import cohort_from_rows, cohort_view
from db import analytics as store
from db.connection import database_path, unit_of_work
from tests.app_support import app
from tests.test_analytics_db import PROTOCOL, T0, seed_trial
from ui import cohort_data, warmup


@pytest.fixture
def seeded(study):
    return seed_trial(study)


@pytest.fixture
def clean_memos():
    cohort_module.forget_memos()
    cohort_data.forget()
    yield
    cohort_module.forget_memos()
    cohort_data.forget()


def fail(*args, **kwargs):
    raise AssertionError("computed again: the warm-up should have remembered this")


def load_cohort():
    with unit_of_work(write=False) as db:
        return cohort_from_rows(store.cohort_rows(db))


def test_after_the_warm_up_the_cohort_view_reuses_every_participants_results(seeded, clean_memos, monkeypatch):
    now = T0 + timedelta(days=3)
    expected = completeness(PROTOCOL, load_cohort(), now).matrix  # computed the ordinary way
    cohort_module.forget_memos()
    timings = warmup.warm_cohort(str(database_path()), PROTOCOL, now=now)
    assert set(timings) == {"load", *PROTOCOL.outcome_scales, "completeness", "total"}
    # The page's own path, on freshly loaded rows (as after a restart of Streamlit's caches):
    monkeypatch.setattr(cohort_module, "scale_outcome", fail)
    monkeypatch.setattr(cohort_module, "plan_timepoints", fail)
    monkeypatch.setattr(cohort_module, "schedule_states", fail)
    cohort = load_cohort()
    view = cohort_view(PROTOCOL, cohort, "madrs", show_arm=True)
    first = view.participants.set_index("participant").loc["KET-001"]
    assert (first["baseline"], first["endpoint"], bool(first["responder"])) == (30, 14, True)
    assert completeness(PROTOCOL, cohort, now).matrix.equals(expected)


def test_without_the_warm_up_the_same_path_does_compute(seeded, clean_memos, monkeypatch):
    # The converse, so the test above cannot pass by the stubs never being reached.
    monkeypatch.setattr(cohort_module, "scale_outcome", fail)
    cohort = load_cohort()
    with pytest.raises(AssertionError, match="computed again"):
        cohort_view(PROTOCOL, cohort, "madrs", show_arm=True)


def test_the_warm_up_is_off_when_the_environment_says_so(monkeypatch):
    monkeypatch.setenv("SCALEBOOK_WARMUP", "0")
    assert warmup.start_warmup(str(database_path()), PROTOCOL) is None


def test_the_server_starts_one_warm_up_thread_and_a_failure_is_only_logged(study, clean_memos, monkeypatch,
                                                                          caplog):
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


def test_the_cohort_page_waits_for_a_warm_up_still_running(study, seeded, clean_memos, monkeypatch):
    monkeypatch.setenv("SCALEBOOK_WARMUP", "1")
    warmup._start.clear()
    finished = []

    def slow_warm_up(path, protocol):
        time.sleep(0.5)
        finished.append(time.monotonic())
        return {"total": 0.5, "settle": 0.0}

    monkeypatch.setattr(warmup, "warm", slow_warm_up)
    at = app("pages/cohort.py", study.users["pi"]).run()
    drawn = time.monotonic()
    assert not at.exception and at.get("vega_lite_chart")
    assert finished and finished[0] <= drawn  # the page waited for the warm-up before drawing
    warmup._start.clear()
