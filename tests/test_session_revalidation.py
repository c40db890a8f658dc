"""Issue 13 item 4: a session ends when access ends. Every page run re-reads the account (active,
role, site, password-change time) and signs out a session that no longer matches; db/ refuses a
write from such a session too; the idle time-out is checked before a tap is saved, so a tap from
an expired session is refused rather than reviving it."""

import time

import pytest

from db import assessments, users
from db.connection import unit_of_work
from db.errors import PermissionDeniedError
from db.permissions import authorize
from tests.app_support import actor, app, texts
from tests.test_app_rate import open_form, radio, stored


def _still_in(at):
    return "signed_in_user" in at.session_state


def test_a_password_reset_signs_the_open_session_out(app_world):
    at = app("pages/participants.py", app_world.users["rater"]).run()
    assert _still_in(at)
    with unit_of_work() as db:
        users.reset_password(db, app_world.users["admin"], app_world.users["rater"]["id"], "a new long passphrase 42")
    at.run()
    assert not _still_in(at)
    assert "password was changed or reset" in texts(at)


def test_a_role_change_signs_the_open_session_out(app_world):
    at = app("pages/rate.py", app_world.users["rater"]).run()
    with unit_of_work() as db:
        users.change_role(
            db, app_world.users["admin"], app_world.users["rater"]["id"], "monitor", "moved to monitoring"
        )
    at.run()
    assert not _still_in(at) and "role changed" in texts(at)


def test_a_deactivation_signs_the_open_session_out(app_world):
    at = app("pages/participants.py", app_world.users["monitor"]).run()
    with unit_of_work() as db:
        users.deactivate(db, app_world.users["admin"], app_world.users["monitor"]["id"], "left the study")
    at.run()
    assert not _still_in(at) and "deactivated" in texts(at)


def test_session_mismatch_rule():
    session = {"id": 1, "username": "r", "role": "rater", "site_id": 2, "password_changed_at": "T1"}
    account = dict(session, active=1)
    assert users.session_mismatch(session, account) is None
    assert "no longer exists" in users.session_mismatch(session, None)
    assert "deactivated" in users.session_mismatch(session, dict(account, active=0))
    assert "role changed" in users.session_mismatch(session, dict(account, role="monitor"))
    assert "site changed" in users.session_mismatch(session, dict(account, site_id=3))
    assert "password" in users.session_mismatch(session, dict(account, password_changed_at="T2"))


def test_db_refuses_a_write_from_a_session_opened_before_a_password_reset(app_world):
    session_user = actor(app_world.users["rater"])
    with unit_of_work() as db:
        authorize(db, session_user, "assessment.start")  # fine while it matches
        users.reset_password(db, app_world.users["admin"], app_world.users["rater"]["id"], "a new long passphrase 42")
    with unit_of_work() as db, pytest.raises(PermissionDeniedError, match="password"):
        assessments.start_assessment(db, session_user, app_world.p1["id"], "baseline", "madrs", "clinician")


def test_a_tap_after_the_idle_timeout_is_refused_not_saved(app_world):
    at = open_form(app_world)
    radio(at, "madrs_1").set_value(2).run()
    assert stored(app_world)["responses"] == {"madrs_1": 2}
    at.session_state["last_activity"] = time.time() - 24 * 3600  # the tablet was left alone
    radio(at, "madrs_2").set_value(3).run()
    assert stored(app_world)["responses"] == {"madrs_1": 2}  # the late tap was not saved
    assert not _still_in(at) and "inactivity" in texts(at)


def test_a_link_session_left_idle_ends_and_its_late_tap_is_not_saved(app_world):
    from selfreport.strings import text
    from tests.test_app_selfreport import button, make_link, open_link
    from tests.test_app_selfreport import stored as stored_self_report

    at = open_link(make_link(app_world)["token"])
    button(at, text("start")).click().run()
    at.radio[0].set_value(2).run()
    assert stored_self_report(app_world)["responses"] == {"qids_sr16_1": 2}
    at.session_state["participant_last_activity"] = time.time() - 24 * 3600  # the phone was left alone
    at.radio[0].set_value(3).run()  # a tap long after: refused, not saved, and the session ends
    assert stored_self_report(app_world)["responses"] == {"qids_sr16_1": 2}
    assert "participant_actor" not in at.session_state
    assert text("link_closed") in texts(at)
