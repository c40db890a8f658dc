"""Warm the PI's cohort snapshot when the server starts, in the background.

Why: the cohort view of a 1,000-participant study computes every participant's outcomes, CADSS
peak and schedule from nothing the first time (plus the first imports of pandas, Altair and
pyarrow). The cohort snapshot (ui/cohort_data.py) keeps those results for the data version it
was read at, and carries each unchanged participant's results to the next version, so a new
rating recomputes one participant. Building the snapshot when the server starts, instead of when
the first PI opens the page, means no user waits for it: the first cohort view after a restart
costs what a view after a new rating costs (bench/bench_analytics.py measures both).

The first script run of the server process (any visitor, any page: app.py calls
`start_warmup`) starts one daemon thread; it reads through its own connection, fills only the
snapshot holder, and never writes. A page arriving meanwhile waits on the holder's lock rather
than computing the same cohort beside it. A failure is logged and changes nothing: the page then
computes as it would have anyway. SCALEBOOK_WARMUP=0 turns it off (the test suite does, so that
no thread outlives a test's database).
"""

from __future__ import annotations

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
    """Build the cohort snapshot and compute its views (every outcome scale, arms hidden, and
    the completeness matrix for this minute); returns how long each step took, in seconds."""
    # Imported here, not at the top: app.py imports this module on every first request, and
    # pandas, Altair and pyarrow should load in the warm-up thread, not before the sign-in page.
    from ui import cohort_data

    timings: dict[str, float] = {}
    start = time.perf_counter()
    snapshot = cohort_data.snapshot(db_path)
    timings["load"] = time.perf_counter() - start
    for scale_id in protocol.outcome_scales:
        began = time.perf_counter()
        snapshot.view(protocol, scale_id, show_arm=False)
        timings[scale_id] = time.perf_counter() - began
    began = time.perf_counter()
    snapshot.completeness(protocol, (now or datetime.now(UTC)).replace(second=0, microsecond=0))
    timings["completeness"] = time.perf_counter() - began
    timings["total"] = time.perf_counter() - start
    return timings


def _run(db_path: str, protocol: Protocol) -> None:
    try:
        timings = warm_cohort(db_path, protocol)
    except Exception:  # a warm-up must never take the server down; the page computes anyway
        log.warning("Scalebook: warming the cohort analytics failed; pages will compute on demand", exc_info=True)
        return
    log.info(
        "Scalebook: cohort analytics warmed in %.2f s (%s)",
        timings["total"],
        ", ".join(f"{k} {v:.2f} s" for k, v in timings.items() if k != "total"),
    )


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
