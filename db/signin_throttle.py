"""Password sign-in for the sign-in screen and the kiosk exit: the input checks, the growing wait
after failures (per account name and per client address, for the whole server process) and a
bound on how many anonymous password checks run at once. `password_sign_in` is the one function
both screens call; `db.users.authenticate` does the check itself and the lock-out.

Why per process, not per browser session: a counter kept in the browser session started again
at zero in every new session (a reload, a second tab, a script), so it slowed nobody down who did
not want to be slowed. Streamlit serves every session from one process, so the counters live
here, in memory. (A restart forgets them; the lock-out, stored with the account, stays.)

The wait, per key ("account:<name as typed, lowercased>", "address:<client address>"):
- failures in the last `WINDOW_SECONDS` count; older ones are forgotten;
- each attempt takes the key's next turn and reserves the one after it, `sign_in_delay(n)`
  seconds later, n counting the key's recent failures and the attempts under way (as if this one
  fails; a success clears the account's key). One person retyping waits as before (0, then 0.5,
  1, 2, 4 s); parallel sessions no longer multiply the rate of guesses, because they queue on
  the same turns. An attempt whose turn is more than `MAX_WAIT_SECONDS` away is refused at once
  (no password hashed) with a message saying how long to wait;
- the account key is kept for any name typed, existing or not, so the wait reveals nothing about
  which names exist (the sign-in message is the same for a wrong password, an unknown name and a
  locked or deactivated account, too);
- the address key only starts to wait after `ADDRESS_FREE_FAILURES` failures from one address in
  the window (a clinic's tablets share one address, and people mistype), then grows the same way.
  The address is the connection's peer as Streamlit sees it (`st.context.ip_address`, passed in
  by ui/): None for a loopback peer, as behind a reverse proxy on the same machine, and then only
  the account key applies (Streamlit does not read X-Forwarded-For, which a client could forge).

The global bound: at most `MAX_CONCURRENT_CHECKS` anonymous password checks at a time in the
process (each is an argon2id verification, 64 MiB of memory and tens of milliseconds of a core,
then a short write for its audit event; the hash runs before that write takes the database's
write lock, see `authenticate_on_own_connection`); an attempt that gets no slot within
`SLOT_WAIT_SECONDS` is refused with "busy, try again". A flood of anonymous sign-ins therefore uses at most that many
cores, that much memory and one writer at a time, while signed-in staff keep the rest: their
pages and saves, and the password check of a signature (ui.scale_form calls users.authenticate
directly and takes no slot), never queue behind the flood.

The table keeps at most `MAX_KEYS` keys (the least recently used go first), so a flood of
invented names cannot grow it without bound; forgetting a key only forgets its wait, never the
lock-out.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from db import passwords, users
from db.connection import connect
from db.errors import StorageError

WINDOW_SECONDS = users.LOCKOUT_MINUTES * 60
MAX_WAIT_SECONDS = 10.0
ADDRESS_FREE_FAILURES = 10
MAX_CONCURRENT_CHECKS = max(1, (os.cpu_count() or 2) // 2)
SLOT_WAIT_SECONDS = 5.0
MAX_KEYS = 10_000
MAX_USERNAME_LENGTH = 64  # as db.users.USERNAME_PATTERN allows

NOT_RECOGNISED = (
    f"User name or password not recognised. After {users.MAX_FAILED_ATTEMPTS} failed sign-ins in a row an "
    f"account is locked for {users.LOCKOUT_MINUTES} minutes; an administrator can unlock it by resetting "
    "the password."
)
BUSY = "Many sign-ins are being checked at this moment. Wait a few seconds, then sign in again."
MISSING = "Enter your user name and password."


def sign_in_delay(failed_attempts: int) -> float:
    """Seconds between one turn and the next after `failed_attempts` failures (and attempts under
    way): nothing before the first failure, then 0.5, 1, 2, 4 s (capped). With the lock-out after
    five failures (db.users) this turns password guessing from thousands a minute into a handful."""
    if failed_attempts <= 0:
        return 0.0
    return min(0.5 * 2 ** (failed_attempts - 1), 4.0)


class Throttled(Exception):
    """This attempt's turn is too far away; `seconds` until it."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"wait {seconds:.1f} s")
        self.seconds = seconds


class Busy(Exception):
    """No password-check slot became free in time."""


@dataclass
class _Key:
    failures: deque[float] = field(default_factory=deque)  # clock times of recent failures
    next_allowed: float = 0.0  # clock time of the next free turn
    in_flight: int = 0  # attempts that took a turn and have not finished


class Throttle:
    """The per-key turns and the global slots (see the module docstring). `clock` (monotonic
    seconds) and `sleep` are parameters so tests can run it without waiting."""

    def __init__(
        self,
        max_concurrent: int = MAX_CONCURRENT_CHECKS,
        *,
        slot_wait: float = SLOT_WAIT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Any] = time.sleep,
        max_keys: int = MAX_KEYS,
    ) -> None:
        self.clock, self.sleep, self.max_keys, self.slot_wait = clock, sleep, max_keys, slot_wait
        self._lock = threading.Lock()
        self._keys: OrderedDict[str, _Key] = OrderedDict()
        self._slots = threading.BoundedSemaphore(max_concurrent)

    def reset(self) -> None:
        """Forget every key (tests; a fresh process starts this way)."""
        with self._lock:
            self._keys.clear()

    @staticmethod
    def keys_for(username: str, address: str | None) -> list[str]:
        keys = [f"account:{username.strip().lower()}"]
        if address:
            keys.append(f"address:{address}")
        return keys

    def failures(self, key: str) -> int:
        """Recent failures counted for `key` (for tests and diagnostics)."""
        with self._lock:
            entry = self._keys.get(key)
            return len(entry.failures) if entry else 0

    def _entry(self, key: str, now: float) -> _Key:
        entry = self._keys.get(key)
        if entry is None:
            entry = self._keys[key] = _Key()
            while len(self._keys) > self.max_keys:
                self._keys.popitem(last=False)
        else:
            self._keys.move_to_end(key)
        while entry.failures and entry.failures[0] <= now - WINDOW_SECONDS:
            entry.failures.popleft()
        return entry

    @staticmethod
    def _delay(key: str, count: int) -> float:
        """The gap after a turn taken with `count` failures and attempts under way (this one
        included): as `sign_in_delay` for an account; for an address, the first gap comes
        once `ADDRESS_FREE_FAILURES` attempts have failed."""
        if key.startswith("address:"):
            count -= ADDRESS_FREE_FAILURES - 1
        return sign_in_delay(count)

    def reserve(self, keys: Sequence[str]) -> float:
        """Take this attempt's turn on every key: the seconds to wait before checking it (0: at
        once). Raise Throttled, reserving nothing, when the turn is over MAX_WAIT_SECONDS away.
        Every successful call must be followed by one `finish`."""
        with self._lock:
            now = self.clock()
            entries = [(key, self._entry(key, now)) for key in keys]
            turn = max([now] + [entry.next_allowed for _, entry in entries])
            if turn - now > MAX_WAIT_SECONDS:
                raise Throttled(turn - now)
            for key, entry in entries:
                entry.in_flight += 1
                entry.next_allowed = turn + self._delay(key, len(entry.failures) + entry.in_flight)
            return turn - now

    def finish(self, keys: Sequence[str], outcome: str | None) -> None:
        """End an attempt: "failed" counts a failure on every key, "ok" clears the account key
        (the address key keeps its failures: one good account must not launder an address's
        guesses at others), None (not checked: busy, storage error) only ends it."""
        with self._lock:
            now = self.clock()
            for key in keys:
                entry = self._keys.get(key)
                if entry is None:
                    continue
                entry.in_flight = max(0, entry.in_flight - 1)
                if outcome == "failed":
                    entry.failures.append(now)
                elif outcome == "ok" and key.startswith("account:"):
                    entry.failures.clear()
                    entry.next_allowed = now
                    if not entry.in_flight:
                        del self._keys[key]

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one of the process's password-check slots; Busy when none frees up within
        `slot_wait` seconds."""
        if not self._slots.acquire(timeout=self.slot_wait):
            raise Busy()
        try:
            yield
        finally:
            self._slots.release()


#: The process's throttle, shared by every browser session.
THROTTLE = Throttle()


@dataclass(frozen=True)
class SignInResult:
    """What a password sign-in came to: the account (`user`) or, when None, why not (`problem`:
    "missing", "input", "wait", "busy" or "refused") and the message for the screen."""

    user: dict[str, Any] | None
    problem: str | None = None
    message: str | None = None
    wait_seconds: int = 0


def input_problem(username: Any, password: Any) -> tuple[str, str] | None:
    """(problem, message) when what was typed cannot be a user name and password at all, before
    anything is looked up or hashed; None otherwise. The messages reveal nothing about accounts."""
    if not isinstance(username, str) or not isinstance(password, str) or not username.strip() or not password:
        return "missing", MISSING
    if any(not ch.isprintable() for ch in username):
        return "input", (
            "The user name contains a character that user names never have (such as a NUL or a line "
            "break). Type it again."
        )
    if len(username.strip()) > MAX_USERNAME_LENGTH:
        return "input", f"User names have at most {MAX_USERNAME_LENGTH} characters. Type yours again."
    problem = passwords.typed_password_problem(password)
    if problem:
        return "input", problem[0].upper() + problem[1:] + "."
    return None


def authenticate_on_own_connection(username: str, password: str) -> dict[str, Any] | None:
    """users.authenticate on a connection of its own with no transaction open, so the password
    is hashed before its write transaction takes the database's write lock (inside a
    unit_of_work the hash would hold that lock, and every rater's save would wait on it). For
    every password check that is not inside another write: sign-in, kiosk exit, a signature."""
    db = connect()
    try:
        return users.authenticate(db, username, password)
    finally:
        db.close()


def password_sign_in(
    username: Any, password: Any, address: str | None = None, throttle: Throttle | None = None
) -> SignInResult:
    """Check a user name and password typed by someone not signed in (the sign-in screen, the
    kiosk exit): input checks, then this name's and address's turn (waiting for it), then one of
    the process's password-check slots, then `users.authenticate` (which records the attempt,
    and locks the account after repeated failures). Never raises for bad input or a busy server."""
    throttle = throttle or THROTTLE
    problem = input_problem(username, password)
    if problem:
        return SignInResult(None, *problem)
    keys = throttle.keys_for(username, address)
    try:
        wait = throttle.reserve(keys)
    except Throttled as exc:
        seconds = max(1, math.ceil(exc.seconds))
        return SignInResult(
            None,
            "wait",
            f"Too many sign-in attempts for this user name or from this device just "
            f"now. Wait {seconds} seconds, then sign in again.",
            seconds,
        )
    outcome = None
    try:
        throttle.sleep(wait)
        with throttle.slot():
            user = authenticate_on_own_connection(username, password)
        outcome = "ok" if user else "failed"
    except Busy:
        return SignInResult(None, "busy", BUSY)
    except StorageError as exc:
        return SignInResult(
            None, "busy", f"The sign-in could not be checked ({exc}). Wait a moment, then sign in again."
        )
    finally:
        throttle.finish(keys, outcome)
    if user is None:
        return SignInResult(None, "refused", NOT_RECOGNISED)
    return SignInResult(user)
