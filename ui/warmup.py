"""Warm the PI's analytics when the server starts, in the background.

Why: the cohort view of a 1,000-participant study computes every participant's outcomes, CADSS
peak and schedule from nothing the first time (about 1.5 s on the 2-core benchmark machine, plus
a second or two of first imports of pandas, Altair and pyarrow). Everything after that is
remembered per participant (analytics.cohort's memos), so a new rating recomputes one
participant. Doing that first computation when the server starts, instead of when the first PI
opens the page, means no user waits for it: the first cohort view after a restart costs what a
view after a new rating costs (bench/bench_analytics.py measures both).

The first script run of the server process (any visitor, any page: app.py calls
`start_warmup`) starts one daemon thread; it reads through its own connection, fills only
process-wide memos whose keys hold their full inputs, and never writes. A failure is logged and
changes nothing: the page then computes as it would have anyway. SCALEBOOK_WARMUP=0 turns it off
(the test suite does, so that no thread outlives a test's database).
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from datetime import UTC, datetime

import streamlit as st

from protocol import Protocol

log = logging.getLogger(__name__)


def warmup_enabled() -> bool:
    return os.environ.get("SCALEBOOK_WARMUP", "1").strip().lower() not in ("0", "false", "no", "off")


def warm_cohort(db_path: str, protocol: Protocol, *, now: datetime | None = None) -> dict[str, float]:
    """Compute the whole cohort once (every outcome scale, and the completeness matrix), filling
    the per-participant memos; returns how long each step took, in seconds."""
    # Imported here, not at the top: app.py imports this module on every first request, and
    # pandas, Altair and pyarrow should load in the warm-up thread, not before the sign-in page.
    from analytics.cohort import completeness
    from charts.views import cohort_from_rows, cohort_view
    from ui import cohort_data

    timings: dict[str, float] = {}
    start = time.perf_counter()
    cohort = cohort_from_rows(cohort_data.cohort_rows(db_path))
    timings["load"] = time.perf_counter() - start
    for scale_id in protocol.outcome_scales:
        began = time.perf_counter()
        cohort_view(protocol, cohort, scale_id, show_arm=False)  # the memos do not depend on arm visibility
        timings[scale_id] = time.perf_counter() - began
    began = time.perf_counter()
    completeness(protocol, cohort, now or datetime.now(UTC))
    timings["completeness"] = time.perf_counter() - began
    timings["total"] = time.perf_counter() - start
    return timings


def warm(db_path: str, protocol: Protocol) -> dict[str, float]:
    """warm_cohort, then settle the heap: one full garbage collection (here, in the background,
    rather than in the middle of someone's page) and a freeze of what survives. The memos just
    filled are meant to live for the server's lifetime; frozen, the collector's later full passes
    no longer walk their hundreds of thousands of objects (about 0.2 s a pass on the benchmark
    machine). Frozen objects are still freed as usual when a memo replaces them; only cyclic
    garbage alive at this moment would be kept, and the collection just before leaves none."""
    timings = warm_cohort(db_path, protocol)
    began = time.perf_counter()
    gc.collect()
    gc.freeze()
    timings["settle"] = time.perf_counter() - began
    return timings


def _run(db_path: str, protocol: Protocol) -> None:
    try:
        timings = warm(db_path, protocol)
    except Exception:  # a warm-up must never take the server down; the page computes anyway
        log.warning("Scalebook: warming the cohort analytics failed; pages will compute on demand", exc_info=True)
        return
    log.info("Scalebook: cohort analytics warmed in %.2f s (%s)", timings["total"] + timings["settle"],
             ", ".join(f"{k} {v:.2f} s" for k, v in timings.items() if k != "total"))


@st.cache_resource(show_spinner=False)
def _start(db_path: str, protocol_hash: str, _protocol: Protocol) -> threading.Thread:
    thread = threading.Thread(target=_run, args=(db_path, _protocol), name="scalebook-warmup", daemon=True)
    thread.start()
    return thread


def start_warmup(db_path: str, protocol: Protocol) -> threading.Thread | None:
    """Start the warm-up once per server process, database and protocol (then a no-op)."""
    if not warmup_enabled():
        return None
    return _start(db_path, protocol.hash, protocol)


def await_warmup(db_path: str, protocol: Protocol, timeout: float = 15.0) -> None:
    """Let a page that needs the warmed memos wait for a warm-up still running, instead of doing
    the same computation beside it: two threads computing the cohort share one interpreter lock,
    so the page would finish later than the warm-up alone. Waits at most `timeout` seconds, then
    the page computes whatever is missing itself."""
    thread = start_warmup(db_path, protocol)
    if thread is not None and thread.is_alive():
        thread.join(timeout)
