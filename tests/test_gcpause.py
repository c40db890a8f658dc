"""analytics/gcpause.py: the cyclic collector is off inside a pause, back on after the last one
ends (nested or in other threads), and left off if it was off to begin with."""

from __future__ import annotations

import gc
import threading

import pytest

from analytics.gcpause import cycle_collection_paused, without_cycle_collection


@pytest.fixture(autouse=True)
def collector_on():
    gc.enable()
    yield
    gc.enable()


def test_nested_pauses_switch_the_collector_back_on_only_at_the_end():
    with cycle_collection_paused():
        assert not gc.isenabled()
        with cycle_collection_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer pause still runs
    assert gc.isenabled()


def test_the_collector_comes_back_after_an_exception():
    with pytest.raises(ValueError), cycle_collection_paused():
        raise ValueError("a failed build")
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off():
    gc.disable()
    with cycle_collection_paused():
        pass
    assert not gc.isenabled()


def test_overlapping_pauses_in_two_threads():
    inside, release = threading.Event(), threading.Event()

    def other_session():
        with cycle_collection_paused():
            inside.set()
            release.wait(5)

    thread = threading.Thread(target=other_session)
    thread.start()
    inside.wait(5)
    with cycle_collection_paused():
        pass
    assert not gc.isenabled()  # this thread's pause ended, the other thread's has not
    release.set()
    thread.join(5)
    assert gc.isenabled()


def test_the_decorator_pauses_around_the_call_and_keeps_the_result():
    @without_cycle_collection
    def build(n):
        return gc.isenabled(), list(range(n))

    assert build(3) == (False, [0, 1, 2]) and gc.isenabled()
