"""Shared fixtures. Every test gets its own SQLite file through SCALEBOOK_DB, so no test can
touch a developer's data/scalebook.db or another test's database."""

import pytest


@pytest.fixture(autouse=True)
def _isolated_database(tmp_path, monkeypatch):
    monkeypatch.setenv("SCALEBOOK_DB", str(tmp_path / "scalebook.db"))
