"""The one cache of the cohort views: a cohort snapshot per database and site, keyed by the
database's data version (db.analytics.data_version: the newest audit event, score, infusion,
assessment and participant ids, which every audited write moves).

Everything below this module is a plain function of its inputs; this is the one place that
remembers anything between page runs, and the one place that decides what is still valid:

* a snapshot answers only for the data version it was read at; the next page run that finds a
  new version reads a new snapshot. The stored rows are re-read only for participants whose
  assessments changed (db.analytics.refresh_cohort_rows), and analytics' build_cohort(previous=)
  hands every unchanged participant's derived results (outcomes, CADSS peak, schedule) to the
  new cohort, so after one new rating one participant is computed again;
* the views the page draws (one per scale and arm visibility) and the completeness matrix (per
  protocol and minute: it depends on the clock) are computed once per snapshot.

Why a module-level holder rather than st.cache_resource: the server-start warm-up (ui/warmup.py)
fills it from a thread outside any Streamlit session, and a page that arrives while it runs
waits on the same lock instead of computing the same cohort beside it (two threads computing
share one interpreter lock, so both would finish later).

The one speed-up that is not a cache lives here too: building a snapshot and its views creates a
few hundred thousand small objects and no reference cycles, so Python's cyclic garbage collector
is paused while they are built (reference counting frees objects as usual; `_collector_paused`).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from analytics.cohort import Cohort, Completeness, build_cohort, completeness
from charts.views import CohortView, cohort_view
from db import analytics as store
from db.connection import unit_of_work
from protocol import Protocol

#: One lock for the holder and every computation on a snapshot: cohort computations are CPU
#: bound under one interpreter lock, so running two at once only makes both later.
_LOCK = threading.RLock()


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector around a bulk build (only ever under _LOCK, so the
    switch is never raced by another snapshot build); restore its previous state after."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclass
class CohortSnapshot:
    """The cohort as stored at one data version, and the views computed from it (read-only for
    callers: the page copies before it changes anything)."""

    version: str
    site_id: int | None
    rows: dict[str, Any]  # db.analytics.refresh_cohort_rows's answer, for the next refresh
    cohort: Cohort
    _views: dict[tuple[str, str, bool], CohortView] = field(default_factory=dict)
    _completeness: dict[tuple[str, datetime], Completeness] = field(default_factory=dict)

    def view(self, protocol: Protocol, scale_id: str, show_arm: bool) -> CohortView:
        """charts.views.cohort_view for this snapshot (computed once per scale and arm visibility)."""
        key = (protocol.hash, scale_id, show_arm)
        with _LOCK:
            found = self._views.get(key)
            if found is None:
                with _collector_paused():
                    found = self._views[key] = cohort_view(protocol, self.cohort, scale_id, show_arm=show_arm)
            return found

    def completeness(self, protocol: Protocol, now: datetime) -> Completeness:
        """analytics.cohort.completeness at `now` (give it to the minute: the last one is kept)."""
        key = (protocol.hash, now)
        with _LOCK:
            found = self._completeness.get(key)
            if found is None:
                with _collector_paused():
                    found = completeness(protocol, self.cohort, now)
                self._completeness = {key: found}
            return found


_HELD: dict[tuple[str, int | None], CohortSnapshot] = {}
_MAX_HELD = 8  # databases × sites; the least recently built snapshot goes first


def snapshot(db_path: str, site_id: int | None = None) -> CohortSnapshot:
    """The cohort snapshot of the study (or one site) at the database's current data version:
    the held one if the version is unchanged, else a new one built from it (see the module
    docstring)."""
    key = (db_path, site_id)
    with _LOCK:
        held = _HELD.get(key)
        with unit_of_work(db_path, write=False) as db:
            version = store.data_version(db)
            if held is not None and held.version == version:
                return held
            with _collector_paused():
                rows = store.refresh_cohort_rows(db, held.rows if held else None, site_id=site_id)
        with _collector_paused():
            cohort = build_cohort(
                rows["participants"], rows["assessments"], rows["infusions"], previous=held.cohort if held else None
            )
        _HELD.pop(key, None)
        while len(_HELD) >= _MAX_HELD:
            del _HELD[next(iter(_HELD))]
        fresh = _HELD[key] = CohortSnapshot(version, site_id, rows, cohort)
        return fresh


def forget() -> None:
    """Drop every held snapshot (tests and benchmarks that need a cold start)."""
    with _LOCK:
        _HELD.clear()
