"""Pause Python's cyclic garbage collector around a bulk computation that makes no reference cycles.

Why: a cold cohort view builds a few hundred thousand small containers (database rows, records,
flag dicts, schedule rows) in well under a second. Every 700 allocations start a collection, and
the full ones walk every tracked object in the server process (Streamlit, pandas, Altair, the
cached cohort itself): measured at about 0.4 s of a 2 s cold cohort view on the benchmark
database (bench/bench_analytics.py prints the split). Reference counting frees every object as
usual while the pause lasts; only the search for cycles waits, and the analytics build none
(plain records, tuples, dicts and lists that refer downwards only).

Nestable and thread-safe: Streamlit runs sessions in threads of one process, and the collector
is one switch for the whole process, so it is switched back on when the LAST paused computation
ends, and only if it was on when the first began. A paused computation is at most about a
second, during which other sessions' garbage simply waits for the next collection.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import ParamSpec, TypeVar

_lock = threading.Lock()
_depth = 0
_was_enabled = False

P = ParamSpec("P")
R = TypeVar("R")


@contextmanager
def cycle_collection_paused() -> Iterator[None]:
    """Inside the block the cyclic collector does not run (reference counting still does)."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()


def without_cycle_collection(function: Callable[P, R]) -> Callable[P, R]:
    """Decorator form of cycle_collection_paused, for the bulk builders of the cohort views."""

    @wraps(function)
    def paused(*args: P.args, **kwargs: P.kwargs) -> R:
        with cycle_collection_paused():
            return function(*args, **kwargs)

    return paused
