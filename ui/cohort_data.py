"""The cohort's stored rows for the cohort page and the server-start warm-up, re-read
incrementally: a new data version re-reads only the participants whose assessments changed
(db.analytics.refresh_cohort_rows), from the last rows read in this server process.

Why here: both the page (any session) and the warm-up thread read the cohort, and the second
reader should profit from the first. The remembered rows are read-only; two sessions refreshing
at once each build a complete, consistent result and the later one is kept.
"""

from __future__ import annotations

from typing import Any

from analytics.gcpause import cycle_collection_paused
from db import analytics as store
from db.connection import unit_of_work

_LAST: dict[tuple[str, int | None], dict[str, Any]] = {}


def cohort_rows(db_path: str, site_id: int | None = None) -> dict[str, Any]:
    """db.analytics.cohort_rows for the study (or one site), re-reading only what changed since
    the last call for the same database and site. Tens of thousands of new tuples on a first read:
    read with the cycle collector paused (analytics.gcpause)."""
    key = (db_path, site_id)
    with cycle_collection_paused(), unit_of_work(db_path, write=False) as db:
        rows = store.refresh_cohort_rows(db, _LAST.get(key), site_id=site_id)
    _LAST[key] = rows
    return rows


def forget() -> None:
    """Drop the remembered rows (tests and benchmarks that need a cold start)."""
    _LAST.clear()
