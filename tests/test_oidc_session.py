"""Single sign-on (OIDC through Streamlit's st.login) ends too, and obeys the same rules as a
password (issue 13 item 9).

- signing out and the idle time-out call st.logout() for a session that came from single
  sign-on (before, the provider's identity signed the browser straight back in on the next run);
- the identity must say `email_verified`;
- every single sign-on attempt is audited ("login" / "login.failed" with the reason), and a
  locked or deactivated account cannot enter that way.

The provider is faked through the seam ui.session offers for it: `oidc_identity()` (what st.user
holds) and `oidc_logout()` (st.logout); nothing of Streamlit's own is patched.
"""

from __future__ import annotations

import pytest

from db import audit, users
from db.connection import unit_of_work
from tests.app_support import PASSWORD, app, texts

EMAIL = "ann.rater@clinic.example"
ISSUER = "https://idp.clinic.example"


class FakeProvider:
    """An OIDC provider's side of one browser: the identity it vouches for, and its logouts."""

    def __init__(self) -> None:
        self.identity: dict | None = None
        self.logouts = 0

    def sign_in(self, email: str = EMAIL, verified=True) -> None:
        self.identity = {
            "is_logged_in": True,
            "iss": ISSUER,
            "sub": "248289761001",
            "email": email,
            "email_verified": verified,
            "name": "Ann Rater",
        }

    def current(self) -> dict | None:
        return dict(self.identity) if self.identity else None

    def logout(self) -> None:
        self.logouts += 1
        self.identity = None


@pytest.fixture
def provider(monkeypatch):
    fake = FakeProvider()
    monkeypatch.setattr("ui.session.oidc_identity", fake.current)
    monkeypatch.setattr("ui.session.oidc_logout", fake.logout)
    return fake


@pytest.fixture
def ann(app_world):
    with unit_of_work() as db:
        return users.create_user(db, app_world.users["admin"], EMAIL, "rater", PASSWORD, "LON")


def sign_in_events(account_id=None):
    with unit_of_work(write=False) as db:
        rows = db.execute(
            "SELECT username, action, reason FROM audit_events WHERE action LIKE 'login%' ORDER BY id"
        ).fetchall()
    return [tuple(r) for r in rows]


def sign_out_button(at):
    return next(b for b in at.sidebar.button if b.label == "Sign out")


def test_a_verified_identity_signs_in_and_is_audited(provider, ann):
    provider.sign_in()
    at = app().run()
    assert not at.exception, at.exception
    assert at.session_state["signed_in_user"]["username"] == EMAIL
    assert at.session_state["sign_in_source"] == "oidc"
    assert sign_in_events()[-1] == (EMAIL, "login", f"single sign-on ({ISSUER})")
    with unit_of_work(write=False) as db:
        assert users.get_user(db, EMAIL)["last_login_at"]


def test_signing_out_ends_the_single_sign_on_too(provider, ann):
    provider.sign_in()
    at = app().run()
    sign_out_button(at).click().run()
    assert not at.exception, at.exception
    assert provider.logouts == 1 and provider.identity is None  # st.logout() was called
    at.run()  # the next run does not sign the browser straight back in
    assert "signed_in_user" not in at.session_state
    assert [t.label for t in at.text_input] == ["User name", "Password"]
    assert [e[1] for e in sign_in_events()] == ["login"]  # one sign-in, not a second one after sign-out


def test_the_idle_time_out_ends_the_single_sign_on_too(provider, ann):
    provider.sign_in()
    at = app().run()
    at.session_state["last_activity"] = 0  # long ago
    at.run()
    assert provider.logouts == 1 and "signed_in_user" not in at.session_state
    assert [t.label for t in at.text_input] == ["User name", "Password"]


def test_a_password_session_signs_out_without_touching_the_provider(provider, app_world):
    at = app().run()
    at.text_input[0].input("rater")
    at.text_input[1].input(PASSWORD)
    at.button[0].click().run()
    assert at.session_state["sign_in_source"] == "password"
    sign_out_button(at).click().run()
    assert provider.logouts == 0 and "signed_in_user" not in at.session_state


@pytest.mark.parametrize("verified", [False, None, "false", "yes"])
def test_an_unverified_e_mail_address_is_refused_audited_once_and_can_be_signed_out(provider, ann, verified):
    provider.sign_in(verified=verified)
    at = app().run()
    assert not at.exception, at.exception
    assert "signed_in_user" not in at.session_state
    assert "has not verified the e" in texts(at)
    at.run()  # a rerun shows the same, and does not audit the refusal again
    assert sign_in_events() == [
        (EMAIL, "login.failed", f"single sign-on ({ISSUER}): e-mail address not verified by the provider")
    ]
    next(b for b in at.button if b.label == "Sign out of your organisation account").click().run()
    assert provider.logouts == 1


def test_email_verified_sent_as_text_true_is_accepted(provider, ann):
    provider.sign_in(verified="true")  # some providers send the claim as a string
    assert app().run().session_state["signed_in_user"]["username"] == EMAIL


def test_a_locked_account_cannot_enter_through_single_sign_on(provider, ann):
    with unit_of_work() as db:
        for _ in range(users.MAX_FAILED_ATTEMPTS):
            users.authenticate(db, EMAIL, "wrong password!!")
        locked_until = users.is_locked(db, EMAIL)
    provider.sign_in()
    at = app().run()
    assert "signed_in_user" not in at.session_state and "is locked after repeated failed sign" in texts(at)
    assert sign_in_events()[-1] == (
        EMAIL,
        "login.failed",
        f"single sign-on ({ISSUER}): account locked until {locked_until}",
    )


def test_a_deactivated_account_cannot_enter_and_a_live_session_ends(provider, ann, app_world):
    provider.sign_in()
    at = app().run()
    assert at.session_state["signed_in_user"]["username"] == EMAIL
    with unit_of_work() as db:
        users.deactivate(db, app_world.users["admin"], ann["id"], "left the study")
    at.run()
    assert "signed_in_user" not in at.session_state
    assert "deactivated" in texts(at)
    assert sign_in_events()[-1] == (EMAIL, "login.failed", f"single sign-on ({ISSUER}): account deactivated")


def test_an_identity_without_an_account_is_refused_and_audited(provider, app_world):
    provider.sign_in(email="stranger@elsewhere.example")
    at = app().run()
    assert "signed_in_user" not in at.session_state and "No Scalebook account has the user name" in texts(at)
    assert sign_in_events()[-1] == (
        "stranger@elsewhere.example",
        "login.failed",
        f"single sign-on ({ISSUER}): no account with this e-mail address",
    )
    with unit_of_work(write=False) as db:
        assert audit.verify_audit(db) is None
