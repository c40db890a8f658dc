"""Sign-in hardening (issue 13 item 12) and the password limits (item 11, password part).

- the wait after failed sign-ins is kept per account name and per client address for the
  whole server process, not per browser session (a new session used to start again at zero);
- a locked account gets the same message as a wrong password or an unknown name;
- the kiosk exit form offers no staff user name;
- a process-wide bound on password checks keeps a flood of anonymous sign-ins from taking the
  cores, the memory and the writer that signed-in staff need;
- a NUL in the user name gives a message, not an exception;
- common and repetitive passwords are refused; passwords have at most 128 characters and no
  NUL, on every path that sets or checks one (first-run screen, admin page, `python -m db
  adduser`, sign-in, kiosk exit), checked before anything is hashed.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading

import pytest

from db import ValidationError, audit, signin_throttle, users
from db.connection import unit_of_work
from db.passwords import MAX_PASSWORD_LENGTH, check_new_password, is_common, is_repetitive
from db.signin_throttle import ADDRESS_FREE_FAILURES, Throttle, password_sign_in
from tests.app_support import PASSWORD, ROOT, app, texts
from tests.test_app_selfreport import button, hand_over

SIGN_IN = ["User name", "Password"]


@pytest.fixture
def waits(monkeypatch):
    """The process throttle on a clock of its own that moves only when an attempt waits (as if
    every attempt came the moment the previous one ended), recording each wait instead of
    sleeping: what is tested is how long an attempt waits, not how fast this machine is."""
    recorded: list[float] = []
    now = [1000.0]

    def sleep(seconds: float) -> None:
        recorded.append(seconds)
        now[0] += seconds

    monkeypatch.setattr(signin_throttle.THROTTLE, "clock", lambda: now[0])
    monkeypatch.setattr(signin_throttle.THROTTLE, "sleep", sleep)
    return recorded


def sign_in(at, username, password):
    at.text_input[0].input(username)
    at.text_input[1].input(password)
    at.button[0].click().run()
    assert not at.exception, at.exception
    return at


# --------------------------------------------------------------------------- the wait


def test_the_wait_follows_the_account_into_a_new_browser_session(app_world, waits):
    first = sign_in(app().run(), "rater", "wrong password!!")
    assert "not recognised" in texts(first) and waits == [0.0]
    # A new browser session (a reload, a second tab, a script) used to start again at zero.
    second = sign_in(app().run(), "rater", "wrong password!!")
    assert waits[-1] == 0.5
    sign_in(second, "RATER", "wrong password!!")  # names are case-insensitive, and so is their wait
    assert waits[-1] == 1.0
    sign_in(app().run(), "pi", PASSWORD)  # another account has no wait
    assert waits[-1] == 0.0
    # An unknown name is throttled the same way, so the wait tells nothing about which names exist.
    for _ in range(3):
        sign_in(app().run(), "no.such.person", "wrong password!!")
    assert waits[-3:] == [0.0, 0.5, 1.0]


def test_the_wait_is_per_client_address_after_a_few_failures(app_world, waits):
    address = "203.0.113.7"
    for n in range(ADDRESS_FREE_FAILURES):  # password spraying: one guess per name, from one address
        assert password_sign_in(f"guess{n}", "wrong password!!", address).problem == "refused"
    assert waits == [0.0] * ADDRESS_FREE_FAILURES  # staff behind one address may mistype now and then
    password_sign_in("guess-next", "wrong password!!", address)
    assert waits[-1] == 0.5  # then every name from that address waits
    password_sign_in("another", "wrong password!!", address)
    assert waits[-1] == 1.0
    assert password_sign_in("rater", PASSWORD, "198.51.100.2").user is not None  # another address does not
    assert waits[-1] == 0.0


def test_a_turn_too_far_away_is_refused_at_once_without_checking_the_password(app_world, monkeypatch):
    """Attempts that come faster than their turns (here: a clock that stands still, as for
    sessions guessing in parallel) queue, and one whose turn is over 10 s away is refused."""
    waits: list[float] = []
    monkeypatch.setattr(signin_throttle.THROTTLE, "clock", lambda: 1000.0)
    monkeypatch.setattr(signin_throttle.THROTTLE, "sleep", waits.append)
    checked = []
    real = users.authenticate
    monkeypatch.setattr(users, "authenticate", lambda db, u, p: checked.append(u) or real(db, u, p))
    results = [password_sign_in("rater", f"wrong guess {n}") for n in range(6)]
    assert [r.problem for r in results[:5]] == ["refused"] * 5 and waits == [0, 0.5, 1.5, 3.5, 7.5]
    assert results[5].problem == "wait" and results[5].wait_seconds == 12  # 11.5 s away
    assert results[5].message.startswith("Too many sign-in attempts") and "Wait 12 seconds" in results[5].message
    assert len(checked) == 5  # the refused attempt hashed nothing and wrote nothing


def test_parallel_sessions_queue_on_the_same_turns():
    """Attempts under way count: ten sessions guessing one name at once do not all go at once."""
    throttle = Throttle(clock=lambda: 50.0)
    keys = throttle.keys_for("rater", None)
    turns = []
    for _ in range(10):
        try:
            turns.append(throttle.reserve(keys))
        except signin_throttle.Throttled as exc:
            turns.append(f"refused {exc.seconds}")
    assert turns[:5] == [0.0, 0.5, 1.5, 3.5, 7.5] and all(str(t).startswith("refused") for t in turns[5:])
    for _ in range(5):
        throttle.finish(keys, "ok")
    assert throttle.reserve(keys) == 0.0  # a success clears the account's wait


# --------------------------------------------------------------------------- the global bound


def test_a_flood_of_anonymous_sign_ins_gets_busy_not_the_raters(app_world, monkeypatch):
    """The process's password-check slots are all taken (a flood): a further anonymous sign-in is
    refused as busy after a bounded wait, hashing nothing and writing nothing, while a signed-in
    rater's signature check (users.authenticate, no slot) and saves go on."""
    throttle = Throttle(max_concurrent=1, slot_wait=0.01, sleep=lambda s: None)
    monkeypatch.setattr(signin_throttle, "THROTTLE", throttle)
    with unit_of_work(write=False) as db:
        before = audit.count_events(db)
    with throttle.slot():  # the flood holds every slot
        at = sign_in(app().run(), "rater", PASSWORD)
        assert (
            "Many sign-ins are being checked at this moment" in texts(at) and "signed_in_user" not in at.session_state
        )
        with unit_of_work() as db:
            assert audit.count_events(db) == before  # nothing checked, nothing recorded
            assert users.authenticate(db, "rater", PASSWORD) is not None  # a signature: not held up
    at = sign_in(at, "rater", PASSWORD)  # the flood is over
    assert at.session_state["signed_in_user"]["username"] == "rater"


def test_a_sign_in_hashes_without_holding_the_write_lock(app_world, monkeypatch, tmp_path):
    """While a sign-in's password is hashed, another connection can take the write lock at once:
    a rater's save never waits for an anonymous visitor's argon2 (it used to run inside the
    sign-in's write transaction)."""
    could_write = []
    real_verify = users._verify

    def verify(password_hash, password):
        other = sqlite3.connect(tmp_path / "scalebook.db", timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            could_write.append(True)
        except sqlite3.OperationalError as exc:
            could_write.append(str(exc))
        finally:
            other.close()
        return real_verify(password_hash, password)

    monkeypatch.setattr(users, "_verify", verify)
    sign_in(app().run(), "rater", "wrong password!!")
    sign_in(app().run(), "nobody.here", "wrong password!!")
    assert could_write == [True, True]


def test_no_more_password_checks_run_at_once_than_the_bound(app_world, monkeypatch):
    throttle = Throttle(max_concurrent=2, slot_wait=30, sleep=lambda s: None)
    lock, running, most = threading.Lock(), [0], [0]
    pair = threading.Event()  # set once two checks run together; the first two wait for it

    def slow_check(db, username, password):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
            if running[0] == 2:
                pair.set()
        pair.wait(30)
        with lock:
            running[0] -= 1

    monkeypatch.setattr(users, "authenticate", slow_check)
    threads = [
        threading.Thread(target=password_sign_in, args=(f"n{i}", "a password", None, throttle)) for i in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert most[0] == 2 and not any(t.is_alive() for t in threads)


# --------------------------------------------------------------------------- messages


def test_a_locked_account_gets_the_message_of_an_unknown_name(app_world, waits):
    with unit_of_work() as db:
        for _ in range(users.MAX_FAILED_ATTEMPTS):
            users.authenticate(db, "rater", "wrong password!!")
        assert users.is_locked(db, "rater")
    locked = sign_in(app().run(), "rater", PASSWORD)  # the right password, but locked
    unknown = sign_in(app().run(), "nobody.here", PASSWORD)
    assert [e.value for e in locked.error] == [e.value for e in unknown.error]  # the very same message
    assert len(locked.error) == 1 and "User name or password not recognised" in locked.error[0].value
    assert "signed_in_user" not in locked.session_state


@pytest.mark.parametrize(
    ("username", "password", "message"),
    [
        ("rat\x00er", PASSWORD, "contains a character that user names never have"),
        ("rater\n", PASSWORD, "contains a character that user names never have"),
        ("x" * 65, PASSWORD, "User names have at most 64 characters"),
        ("rater", "p" * (MAX_PASSWORD_LENGTH + 1), "passwords have at most 128 characters"),
        ("rater", "correct\x00horse battery", "contains a NUL character"),
    ],
)
def test_impossible_input_at_sign_in_gets_a_message_and_nothing_is_hashed(
    app_world, waits, monkeypatch, username, password, message
):
    monkeypatch.setattr(users, "_verify", lambda *a: pytest.fail("a password was hashed"))
    at = sign_in(app().run(), username, password)
    assert message in texts(at) and "signed_in_user" not in at.session_state


def test_authenticate_never_hashes_an_impossible_password(app_world, monkeypatch):
    """The backstop for callers that go straight to users.authenticate (the signature)."""
    monkeypatch.setattr(users, "_verify", lambda *a: pytest.fail("a password was hashed"))
    with unit_of_work() as db:
        assert users.authenticate(db, "rater", "x" * 1_000_000) is None
        assert users.authenticate(db, "rater", "correct\x00horse battery") is None
        assert users.authenticate(db, "rater", "\udcff" * 12) is None  # bytes that were not UTF-8
        assert users.get_user(db, "rater")["failed_attempts"] == 3  # counted as wrong passwords


# --------------------------------------------------------------------------- kiosk exit


def test_the_kiosk_exit_offers_no_staff_name_and_shares_the_wait(app_world, waits):
    at = hand_over(app_world)
    button(at, "Study team only").click().run()
    assert [t.value for t in at.text_input] == ["", ""]
    at.text_input[0].input("rat\x00er")
    at.text_input[1].input(PASSWORD)
    button(at, "Leave participant mode").click().run()
    assert not at.exception and "user names never have" in texts(at)
    sign_in(app().run(), "rater", "wrong password!!")  # a failure on the sign-in screen of another tablet
    at.text_input[0].input("rater")
    button(at, "Leave participant mode").click().run()
    assert waits[-1] == 0.5  # the kiosk exit waits its turn for the same account
    assert at.session_state["signed_in_user"]["username"] == "rater"


# --------------------------------------------------------------------------- password policy


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("password1234", "commonly used"),
        ("Liverpool1990!", "commonly used"),  # a listed word with digits and symbols around it
        ("iloveyou 123", "commonly used"),
        ("  QWERTYUIOP  ", "commonly used"),
        ("aaaaaaaaaaaa", "repeats one character"),
        ("abababababab", "repeats one character"),
        ("abcabcabcabc", "repeats one character"),
        ("trustnotrustno", "repeats one character"),
        ("0123456789", "repeats one character"),
        ("zyxwvutsrqpo", "repeats one character"),
        ("p" * (MAX_PASSWORD_LENGTH + 1), "at most 128 characters"),
        ("a long pass\x00phrase here", "NUL character"),
        ("\udcff\udcfe and more words", "not UTF-8"),
    ],
)
def test_weak_or_impossible_new_passwords_are_refused_with_the_reason(password, message):
    with pytest.raises(ValidationError, match=message):
        check_new_password(password, "someone")


def test_good_passphrases_pass_the_policy():
    for password in (PASSWORD, "a brand new secret", "Tr0mb0ne-Pelican-Quartz", "x" * 9 + "yz" + "w" * 117):
        assert check_new_password(password, "someone") == password
    assert not is_common(PASSWORD) and not is_repetitive(PASSWORD)


def test_every_path_that_sets_a_password_applies_the_limits(app_world):
    admin = app_world.users["admin"]
    with unit_of_work() as db:
        for bad, message in (
            ("q" * 200, "at most 128 characters"),
            ("nul\x00inside pass", "NUL"),
            ("password1234", "commonly used"),
        ):
            with pytest.raises(ValidationError, match=message):
                users.create_user(db, admin, "newbie", "rater", bad, "LON")
            with pytest.raises(ValidationError, match=message):
                users.reset_password(db, admin, app_world.users["rater"]["id"], bad, "forgotten")
        assert not [u for u in users.list_users(db) if u["username"] == "newbie"]
        assert users.authenticate(db, "rater", PASSWORD) is not None  # the old password still holds


def test_the_admin_page_says_why_a_password_is_refused(app_world):
    at = app("pages/admin.py", app_world.users["admin"]).run()
    next(t for t in at.text_input if t.label == "New password").input("p" * 129)
    next(b for b in at.button if b.label == "Reset password").click().run()
    assert not at.exception and "at most 128 characters" in texts(at)
    next(t for t in at.text_input if t.label == "New password").input("a\x00long enough pw")
    next(b for b in at.button if b.label == "Reset password").click().run()
    assert not at.exception and "NUL character" in texts(at)


def test_the_first_run_screen_applies_the_limits(fast_passwords):
    at = app().run()
    for label, value in zip(
        ("Administrator user name", "Password", "Repeat the password"),
        ("boss", "0123456789", "0123456789"),
        strict=True,
    ):
        next(t for t in at.text_input if t.label == label).input(value)
    at.button[0].click().run()
    assert not at.exception and "repeats one character" in texts(at)


def _cli(tmp_path, stdin: bytes, *args: str):
    db_path = tmp_path / "cli.db"
    env = {"SCALEBOOK_DB": str(db_path), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    subprocess.run([sys.executable, "-m", "db", "init"], cwd=ROOT, env=env, check=True, capture_output=True)
    return subprocess.run(
        [sys.executable, "-m", "db", "adduser", "alice", "--role", "rater", "--site", "LON", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        (b"a long pass\x00phrase here\n", "NUL character"),
        (b"p" * 200 + b"\n", "the password is 200 characters long; passwords have at most 128 characters"),
        (b"p" * 100_000 + b"\n", "longer than 128 characters"),
        (b"caf\xe9 au lait pass\n", "not UTF-8 text"),
        (b"password1234\n", "commonly used"),
    ],
)
def test_the_command_line_refuses_such_passwords_with_one_line(tmp_path, stdin, message):
    result = _cli(tmp_path, stdin)
    err = result.stderr.decode()
    assert result.returncode == 1 and message in err and "Traceback" not in err, err
    assert err.count("\n") == 1
