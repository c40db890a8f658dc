"""The test suite's one fixture world.

pytest_plugins loads every shared fixture here, so no test module imports a fixture by hand:
- tests/conftest_db.py: the databases (`db_path`, `conn`), the seeded worlds (`world` for storage
  tests, `app_world` for page tests) and `fast_passwords`;
- tests/browser.py: the browser harness (`app_server`, `fresh_app_server`, `browser`, the pages).
Helper functions (raw, snapshot, mark_eligible, goto, ...) are imported from those modules by name.

The two autouse fixtures below give every test its own SQLite file through SCALEBOOK_DB, so no
test can touch a developer's data/scalebook.db or another test's database, and fresh sign-in waits.
"""

import pytest

pytest_plugins = ["tests.conftest_db", "tests.browser"]


@pytest.fixture(autouse=True)
def _isolated_database(tmp_path, monkeypatch):
    monkeypatch.setenv("SCALEBOOK_DB", str(tmp_path / "scalebook.db"))
    # No background warm-up thread (ui/warmup.py) reading a test's database after the test ends;
    # tests/test_warmup.py turns it on where it is under test.
    monkeypatch.setenv("SCALEBOOK_WARMUP", "0")


@pytest.fixture(autouse=True)
def _fresh_sign_in_throttle():
    """The sign-in waits are kept per server process (db/signin_throttle.py), and every test's
    accounts share names ("rater"): each test starts with none, as a fresh server does."""
    from db.signin_throttle import THROTTLE

    THROTTLE.reset()
