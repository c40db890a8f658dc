"""The server's preparation before its first visitor (ui/preload.py, issue 16 item 9): it imports
what the pages import and opens the database through the pages' own cached function, so the
first page finds both done (tests/test_browser_tablet.py times the first run in a browser)."""

from __future__ import annotations

import sys
from pathlib import Path

from db.connection import database_path
from ui import preload, session

ROOT = Path(__file__).resolve().parent.parent


def test_page_imports_names_what_the_pages_import():
    names = preload.page_imports(ROOT)
    assert {"ui.session", "ui.navigation", "pandas", "ui.cohort_data", "charts"} <= set(names)
    assert len(names) == len(set(names))


def test_prepare_server_imports_the_pages_modules_and_opens_the_database(monkeypatch):
    monkeypatch.delitem(sys.modules, "ui.visits", raising=False)  # imported by pages only
    session._database_ready.clear()
    timings = preload.prepare_server(ROOT)
    assert "ui.visits" in sys.modules
    assert database_path().exists()  # created and migrated, as the first page would have
    assert {"imports", "database", "total"} <= set(timings)
    # The pages' own cached function holds the result: the first page does not open it again.
    calls = []
    monkeypatch.setattr(session, "init_database", lambda path: calls.append(path))
    session.ensure_database()
    assert calls == []


def test_prepare_server_leaves_the_collector_after_each_run_only_the_runs_objects(monkeypatch):
    """Streamlit collects garbage in full after every script run (runner.postScriptGC). Once the
    server is prepared, its long-lived objects are frozen, so that collection is short: it was
    a walk over every object of pandas, Altair and pyarrow on every tap."""
    import gc

    session._database_ready.clear()
    monkeypatch.setattr(preload, "LAZY_IMPORTS", (*preload.LAZY_IMPORTS, "numpy", "jsonschema"))
    try:
        timings = preload.prepare_server(ROOT)
        assert "collector" in timings and gc.get_freeze_count() > 50_000
        # What a full collection still walks (the collector's generations hold no frozen object).
        assert len(gc.get_objects()) < gc.get_freeze_count() / 10, "the server's start-up objects are not frozen"
    finally:
        gc.unfreeze()
