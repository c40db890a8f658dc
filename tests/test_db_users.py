"""Accounts, sign-in with lock-out, and the permission checks every write makes."""

from __future__ import annotations

import pytest

from db import PermissionDeniedError, ValidationError, audit, clock, users
from db import assessments as A
from db.alerts import acknowledge_alert
from db.clinical import record_infusion
from db.participants import create_participant, update_participant
from db.permissions import PERMISSIONS, ROLES, allowed, require
from db.sites import create_site
from db.tokens import create_token
from tests.conftest_db import PASSWORD, SCALE, full_responses, raw, snapshot


def test_password_is_stored_as_argon2id_and_never_returned(world, db_path):
    assert "password_hash" not in world.rater
    conn = raw(db_path)
    try:
        stored = conn.execute("SELECT password_hash FROM users WHERE username = 'rater'").fetchone()[0]
    finally:
        conn.close()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert users.hasher.verify(stored, PASSWORD)


def test_authenticate_returns_the_account_and_records_the_sign_in(world):
    user = users.authenticate(world.db, "rater", PASSWORD)
    assert (user["id"], user["role"], user["site_id"]) == (world.rater["id"], "rater", world.rater["site_id"])
    assert user["last_login_at"].endswith("Z") and "password_hash" not in user
    assert audit.events_for(world.db, "user", user["id"])[-1]["action"] == "login"
    assert users.authenticate(world.db, "RATER", PASSWORD)["id"] == user["id"]  # names are case-insensitive


def test_repeated_failures_lock_the_account_until_the_lock_expires(world, monkeypatch):
    for attempt in range(1, users.MAX_FAILED_ATTEMPTS):
        assert users.authenticate(world.db, "rater", "wrong password!") is None
        assert users.get_user(world.db, "rater")["failed_attempts"] == attempt
    assert users.authenticate(world.db, "rater", "wrong password!") is None
    locked_until = users.is_locked(world.db, "rater")
    assert locked_until is not None
    assert users.authenticate(world.db, "rater", PASSWORD) is None  # the right password, but locked
    events = audit.events_for(world.db, "user", world.rater["id"])
    assert [e["action"] for e in events].count("login.failed") == users.MAX_FAILED_ATTEMPTS + 1
    assert any(e["action"] == "user.lock" and e["new_value"] == locked_until for e in events)
    later = clock.utc_after(locked_until, seconds=1)
    monkeypatch.setattr(clock, "utc_now", lambda: later)
    assert users.is_locked(world.db, "rater") is None
    assert users.authenticate(world.db, "rater", PASSWORD)["failed_attempts"] == 0


def test_a_successful_sign_in_resets_the_failure_count(world):
    users.authenticate(world.db, "rater", "wrong password!")
    users.authenticate(world.db, "rater", PASSWORD)
    assert users.get_user(world.db, "rater")["failed_attempts"] == 0


def test_unknown_user_and_odd_input_get_none_and_an_audit_event(world):
    before = audit.count_events(world.db)
    assert users.authenticate(world.db, "nobody", PASSWORD) is None
    assert users.authenticate(world.db, None, PASSWORD) is None
    last = world.db.execute("SELECT username, action, reason FROM audit_events ORDER BY id DESC LIMIT 1").fetchone()
    assert last == ("nobody", "login.failed", "unknown username") and audit.count_events(world.db) == before + 1


def test_deactivated_account_cannot_sign_in_or_act(world):
    users.deactivate(world.db, world.admin, world.rater["id"], reason="left the study team")
    assert users.authenticate(world.db, "rater", PASSWORD) is None
    with pytest.raises(PermissionDeniedError, match="account 'rater' is deactivated"):
        A.start_assessment(world.db, world.rater, world.p1["id"], "baseline", SCALE, "clinician")
    users.reactivate(world.db, world.admin, world.rater["id"])
    assert users.authenticate(world.db, "rater", PASSWORD) is not None


def test_a_role_change_applies_at_the_next_action_not_the_next_sign_in(world):
    users.change_role(world.db, world.admin, world.rater["id"], "monitor", reason="moved to monitoring")
    with pytest.raises(PermissionDeniedError, match="role of 'rater' changed from rater to monitor; sign in again"):
        A.start_assessment(world.db, world.rater, world.p1["id"], "baseline", SCALE, "clinician")


def test_reset_password_replaces_the_old_one_and_clears_a_lock(world):
    for _ in range(users.MAX_FAILED_ATTEMPTS):
        users.authenticate(world.db, "rater", "wrong password!")
    assert users.is_locked(world.db, "rater")
    users.reset_password(world.db, world.admin, world.rater["id"], "a brand new secret", reason="locked out")
    assert users.authenticate(world.db, "rater", PASSWORD) is None
    assert users.authenticate(world.db, "rater", "a brand new secret") is not None
    event = next(
        e for e in audit.events_for(world.db, "user", world.rater["id"]) if e["action"] == "user.reset_password"
    )
    assert event["old_value"] is None and event["new_value"] is None  # the password is never logged


@pytest.mark.parametrize(
    ("username", "role", "password", "message"),
    [
        ("new user", "rater", PASSWORD, "username 'new user' is not valid"),
        ("newuser", "nurse", PASSWORD, "unknown role 'nurse'; choose one of admin, pi, rater, coordinator, monitor"),
        ("newuser", "rater", "short", "at least 10 characters"),
        ("newuser", "rater", "          ", "only spaces"),
        ("newuser1234", "rater", "NEWUSER1234", "cannot be the username"),
    ],
)
def test_bad_account_input_is_refused_and_writes_nothing(world, db_path, username, role, password, message):
    before = snapshot(db_path)
    with pytest.raises(ValidationError, match=message):
        users.create_user(world.db, world.admin, username, role, password)
    assert snapshot(db_path) == before


def test_first_admin_only_on_an_empty_database_and_email_usernames(conn, fast_passwords):
    from db import ConflictError

    assert not users.has_users(conn)
    admin = users.create_first_admin(conn, "ops+scalebook@clinic.example.org", PASSWORD)
    assert admin["role"] == "admin" and users.has_users(conn)
    assert audit.events_for(conn, "user", admin["id"])[0]["username"] == "setup:first-run"
    with pytest.raises(ConflictError, match="accounts already exist"):
        users.create_first_admin(conn, "second", PASSWORD)
    assert users.authenticate(conn, "OPS+scalebook@clinic.example.org", PASSWORD)["id"] == admin["id"]


def test_duplicate_username_and_self_changes_are_refused(world):
    from db import ConflictError

    with pytest.raises(ConflictError, match="user 'Rater' already exists"):
        users.create_user(world.db, world.admin, "Rater", "rater", PASSWORD)
    with pytest.raises(ValidationError, match="cannot change your own role"):
        users.change_role(world.db, world.admin, world.admin["id"], "monitor")
    with pytest.raises(ValidationError, match="cannot deactivate your own account"):
        users.deactivate(world.db, world.admin, world.admin["id"])


# --- permissions ---------------------------------------------------------------------------------


def test_the_permission_table_names_only_known_roles_and_monitors_only_read():
    assert set(ROLES) == {"admin", "pi", "rater", "coordinator", "monitor"}
    for action, roles in PERMISSIONS.items():
        assert roles <= set(ROLES) | {"participant", "system"}, action
        if "monitor" in roles:
            assert action.endswith(".read"), f"monitors may only read, but may {action}"


def test_require_names_the_roles_that_may():
    require({"id": 1, "username": "p", "role": "pi"}, "assessment.lock")
    with pytest.raises(
        PermissionDeniedError,
        match=r"c \(coordinator\) may not assessment: lock; this needs one of "
        r"the roles pi",
    ):
        require({"id": 1, "username": "c", "role": "coordinator"}, "assessment.lock")
    with pytest.raises(PermissionDeniedError, match="no signed-in user"):
        require(None, "data.read")
    with pytest.raises(PermissionDeniedError, match="unknown action"):
        require({"id": 1, "username": "a", "role": "admin"}, "everything")
    assert not allowed("admin", "assessment.respond")


def _monitor_writes(w):
    """One call per kind of write; each must be refused for a monitor."""
    done = A.save_assessment(w.db, w.rater, w.p1["id"], "baseline", SCALE, "clinician", full_responses(SCALE, 4))
    draft = A.start_assessment(w.db, w.rater, w.p1["id"], "day1", "phq9", "link")
    alert_id = w.db.execute("SELECT id FROM safety_alerts").fetchone()[0]
    m, p1 = w.monitor, w.p1["id"]
    return [
        lambda: A.start_assessment(w.db, m, p1, "day2", SCALE, "clinician"),
        lambda: A.save_draft_response(w.db, m, draft["id"], "phq9_1", 1),
        lambda: A.complete_assessment(w.db, m, draft["id"], draft["version"]),
        lambda: A.save_assessment(w.db, m, p1, "day3", SCALE, "clinician", full_responses()),
        lambda: A.amend_assessment(w.db, m, done["id"], {f"{SCALE}_1": 0}, "why", done["version"]),
        lambda: A.sign_assessment(w.db, m, done["id"], done["version"], "reviewed"),
        lambda: A.lock_assessment(w.db, m, done["id"], done["version"]),
        lambda: acknowledge_alert(w.db, m, alert_id, "seen"),
        lambda: create_token(w.db, m, draft["id"]),
        lambda: create_participant(w.db, m, "P009", "S1"),
        lambda: update_participant(w.db, m, p1, status="withdrawn"),
        lambda: record_infusion(w.db, m, p1, 1, "2026-03-01T09:00:00Z", 70, 0.5),
        lambda: users.create_user(w.db, m, "another", "rater", PASSWORD),
        lambda: users.change_role(w.db, m, w.rater["id"], "pi"),
        lambda: create_site(w.db, m, "S9"),
    ]


def test_a_monitor_can_read_but_every_write_is_refused_and_writes_nothing(world, db_path):
    calls = _monitor_writes(world)
    before = snapshot(db_path)
    for call in calls:
        with pytest.raises(PermissionDeniedError, match=r"monitor \(monitor\) may not"):
            call()
    assert snapshot(db_path) == before
    assert len(A.participant_history(world.db, world.p1["id"])) == 2  # reading works


def test_staff_of_another_site_cannot_touch_this_sites_participants(world, db_path):
    before = snapshot(db_path)
    with pytest.raises(PermissionDeniedError, match="works at another site"):
        A.start_assessment(world.db, world.rater_s2, world.p1["id"], "baseline", SCALE, "clinician")
    with pytest.raises(PermissionDeniedError, match="works at another site"):
        create_participant(world.db, world.coord_s2, "P010", "S1")
    assert snapshot(db_path) == before
    # an account without a site (the PI here) works across sites
    A.start_assessment(world.db, world.pi, world.p2["id"], "baseline", SCALE, "clinician")


def test_a_forged_actor_is_refused(world):
    forged = {"id": 999, "username": "ghost", "role": "pi"}
    with pytest.raises(PermissionDeniedError, match="account 'ghost' does not exist"):
        A.start_assessment(world.db, forged, world.p1["id"], "baseline", SCALE, "clinician")
