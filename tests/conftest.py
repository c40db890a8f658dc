"""Shared fixtures. Every test gets its own SQLite file through SCALEBOOK_DB, so no test can
touch a developer's data/scalebook.db or another test's database."""

from types import SimpleNamespace

import pytest
from argon2 import PasswordHasher

from db import participants, sites, users
from db.connection import unit_of_work
from db.migrations import init_database
from db.permissions import system_actor
from tests.app_support import PASSWORD, ROLES


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


@pytest.fixture
def cheap_hashing(monkeypatch):
    """argon2 at its cheapest: sign-in logic is under test here, not the hash cost."""
    monkeypatch.setattr(users, "hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))


@pytest.fixture
def study(cheap_hashing):
    """A database with one site, one account per role and two participants (one per site)."""
    init_database()
    system = system_actor("tests")
    with unit_of_work() as db:
        sites.create_site(db, system, "LON", "London clinic", "Europe/London")
        sites.create_site(db, system, "OXF", "Oxford clinic", "Europe/London")
        everywhere = ("admin", "pi", "monitor")  # accounts of every site (chosen explicitly: issue 13 item 15)
        accounts = {role: users.create_user(db, system, role, role, PASSWORD, None if role in everywhere else "LON",
                                            all_sites=role in everywhere)
                    for role in ROLES}
        coordinator = accounts["coordinator"]
        p1 = participants.create_participant(db, coordinator, "KET-001", "LON", arm="ketamine")
        pi = accounts["pi"]
        p2 = participants.create_participant(db, pi, "KET-002", "OXF", arm="midazolam")
    return SimpleNamespace(users=accounts, p1=p1, p2=p2)
