"""Accounts: creation, sign-in with lock-out, role changes, deactivation, password resets.

Passwords are hashed with argon2id (argon2-cffi's `PasswordHasher`, RFC 9106 low-memory
defaults); the hash is never returned by any function here. Hashing takes tens of
milliseconds, so it runs before the write transaction opens, never while holding the lock.

Sign-in failures count per account: after `MAX_FAILED_ATTEMPTS` in a row the account is locked
for `LOCKOUT_MINUTES` (`locked_until`), and `authenticate` refuses even the right password until
then; single sign-on (`authenticate_identity`) is refused too while the lock lasts. Every account
creation, role change, deactivation, reactivation, password reset, successful sign-in, failed
sign-in (password or single sign-on) and lock-out is an audit event. The password rules are in
db/passwords.py; the waits between sign-in attempts and the bound on concurrent password checks
in db/signin_throttle.py.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlite_utils import Database

from db import _sql, audit, clock, passwords
from db.connection import transaction
from db.errors import ConflictError, NotFoundError, ValidationError
from db.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH  # noqa: F401  (part of this module's API)
from db.permissions import ROLES, authorize, system_actor
from db.sites import get_site

MAX_FAILED_ATTEMPTS = 5
LOCKOUT_MINUTES = 15
USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{1,63}$")

#: The hasher in use; tests may swap in cheaper parameters (old hashes still verify, and are
#: re-hashed with the current parameters at the next successful sign-in).
hasher = PasswordHasher()

_PUBLIC = (
    "id, username, role, site_id, active, failed_attempts, locked_until, last_login_at, "
    "password_changed_at, created_at, updated_at"
)


def _check_username(username: Any) -> str:
    if not isinstance(username, str) or not USERNAME_PATTERN.match(username.strip()):
        raise ValidationError(
            f"username {username!r} is not valid: use 2-64 letters, digits, '.', '_', '-', '+' or '@' (an e-mail "
            f"address works), starting with a letter or digit"
        )
    return username.strip()


def _check_role(role: Any) -> str:
    if role not in ROLES:
        raise ValidationError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    return role


def check_password(password: Any, username: str | None = None) -> str:
    """The password policy for a new password (db.passwords.check_new_password): 10 to 128
    characters, no NUL, not blank, not the username, not repetitive, not a common password.
    Every path that sets a password calls it, before hashing."""
    return passwords.check_new_password(password, username)


def _site_id(db: Database, site: int | str | None) -> int | None:
    return None if site is None or site == "" else get_site(db, site)["id"]


def _account_site(db: Database, site: int | str | None, all_sites: bool) -> int | None:
    """The site id of a new account: the site chosen, or None when all sites were chosen explicitly."""
    chosen = not (site is None or (isinstance(site, str) and not site.strip()))
    if chosen and all_sites:
        raise ValidationError(
            f"choose either site {site!r} or all sites for the account, not both; nothing was created"
        )
    if not chosen and all_sites is not True:
        raise ValidationError(
            "choose the account's site, or confirm “all sites” for an account that works with "
            "every site's participants; nothing was created"
        )
    return _site_id(db, site) if chosen else None


def create_user(
    db: Database,
    actor: Mapping[str, Any],
    username: str,
    role: str,
    password: str,
    site: int | str | None = None,
    *,
    all_sites: bool = False,
) -> dict[str, Any]:
    """Create an active account and return it (without the hash). ConflictError if the name is taken.

    The account's site is never a default (issue 13 item 15): give `site` (id or code) for an
    account tied to one site, or `all_sites=True` for one that works with every site's
    participants. Neither, or both, is a ValidationError: an account without a site sees and
    changes every site, so that must be a decision, not a field left blank.
    """
    username = _check_username(username)
    role = _check_role(role)
    check_password(password, username)
    password_hash = hasher.hash(password)
    with transaction(db):
        who = authorize(db, actor, "user.manage")
        if _sql.one(db, "SELECT id FROM users WHERE username = ?", [username]):
            raise ConflictError(f"user '{username}' already exists; choose another name or reset their password")
        site_id = _account_site(db, site, all_sites)
        now = clock.utc_now()
        cursor = db.execute(
            "INSERT INTO users (username, role, site_id, password_hash, active, password_changed_at, created_at, "
            "updated_at) VALUES (?, ?, ?, ?, 1, ?, ?, ?)",
            [username, role, site_id, password_hash, now, now, now],
        )
        user = get_user(db, _sql.new_id(cursor))
        audit.record(
            db, who, "user.create", "user", user["id"], new={"username": username, "role": role, "site_id": site_id}
        )
    return user


def has_users(db: Database) -> bool:
    """Whether any account exists (the app offers a first-run screen until one does)."""
    return db.execute("SELECT 1 FROM users LIMIT 1").fetchone() is not None


def create_first_admin(db: Database, username: str, password: str) -> dict[str, Any]:
    """Create the first administrator of an empty database, and only then.

    The check and the insert share one write transaction, so two browsers racing through the
    first-run screen cannot both create an administrator. Audited as done by the first-run setup.
    """
    with transaction(db):
        if has_users(db):
            raise ConflictError("accounts already exist; sign in, or ask an administrator for an account")
        return create_user(db, system_actor("first-run", channel="setup"), username, "admin", password, all_sites=True)


def get_user(db: Database, user: int | str) -> dict[str, Any]:
    """An account by id or username (never with its password hash)."""
    if isinstance(user, int) and not isinstance(user, bool):
        row = _sql.one(db, f"SELECT {_PUBLIC} FROM users WHERE id = ?", [user])
    else:
        row = _sql.one(db, f"SELECT {_PUBLIC} FROM users WHERE username = ?", [str(user).strip()])
    return _sql.require_row(row, "user", user)


SESSION_FIELDS = ("id", "username", "role", "site_id", "password_changed_at")


def session_account(db: Database, user_id: Any) -> dict[str, Any] | None:
    """What a signed-in session must still match, read by primary key (one indexed read): the
    account's active flag, role, site and password-change time. None when the account is gone."""
    return _sql.one(
        db, "SELECT id, username, role, site_id, active, password_changed_at FROM users WHERE id = ?", [user_id]
    )


def session_mismatch(session_user: Mapping[str, Any], account: Mapping[str, Any] | None) -> str | None:
    """Why a session opened as `session_user` no longer matches the account as stored now (a
    message for the sign-in screen), or None while it still matches. A session ends when its
    account is deleted or deactivated, its role or site changes, or its password is reset or
    changed (Part 11: access ends when authority ends, not at the next sign-in)."""
    if account is None:
        return "Your account no longer exists. Ask an administrator."
    if not account["active"]:
        return "Your account was deactivated, so you were signed out. Ask an administrator."
    if account["role"] != session_user.get("role"):
        return (
            f"Your role changed (from {session_user.get('role')} to {account['role']}), so you were signed "
            "out. Sign in again to continue with your new role."
        )
    if account["site_id"] != session_user.get("site_id"):
        return "Your site changed, so you were signed out. Sign in again to continue."
    if account["password_changed_at"] != session_user.get("password_changed_at"):
        return "Your password was changed or reset, so you were signed out. Sign in with the new password."
    return None


def list_users(db: Database) -> list[dict[str, Any]]:
    return _sql.many(db, f"SELECT {_PUBLIC} FROM users ORDER BY username")


def authenticate(db: Database, username: str, password: str) -> dict[str, Any] | None:
    """The account (a ready-made actor) when the name and password match an active, unlocked
    account; None otherwise. Records the attempt; locks the account after repeated failures.

    A password that cannot be one (db.passwords.typed_password_problem: over 128 characters, a
    NUL, bytes that are not UTF-8) is a wrong password and is never hashed. The pages check it
    first to say what is wrong (db.signin_throttle.password_sign_in); this is the backstop for
    every other caller (the signature)."""
    if not isinstance(username, str) or not isinstance(password, str):
        return None
    name = username.strip()[:64]
    row = _sql.one(
        db, "SELECT id, username, role, password_hash, active, locked_until FROM users WHERE username = ?", [name]
    )
    if passwords.typed_password_problem(password) is None:
        # Verify even for an unknown name, so the response time does not reveal which names exist.
        good = _verify(row["password_hash"] if row else _dummy_hash(), password)
    else:
        good = False
    now = clock.utc_now()
    with transaction(db):
        if row is None:
            audit.record(db, _anonymous(name), "login.failed", "user", None, reason="unknown username")
            return None
        who = {"id": row["id"], "username": row["username"], "role": row["role"]}
        if not row["active"]:
            audit.record(db, who, "login.failed", "user", row["id"], reason="account deactivated")
            return None
        current = _sql.require_row(
            _sql.one(db, "SELECT failed_attempts, locked_until FROM users WHERE id = ?", [row["id"]]), "user", row["id"]
        )
        if current["locked_until"] and current["locked_until"] > now:
            audit.record(
                db, who, "login.failed", "user", row["id"], reason=f"account locked until {current['locked_until']}"
            )
            return None
        if not good:
            attempts = current["failed_attempts"] + 1
            locked_until = clock.utc_after(now, minutes=LOCKOUT_MINUTES) if attempts >= MAX_FAILED_ATTEMPTS else None
            db.execute(
                "UPDATE users SET failed_attempts = ?, locked_until = ?, updated_at = ? WHERE id = ?",
                [0 if locked_until else attempts, locked_until, now, row["id"]],
            )
            audit.record(db, who, "login.failed", "user", row["id"], reason="wrong password")
            if locked_until:
                audit.record(
                    db,
                    who,
                    "user.lock",
                    "user",
                    row["id"],
                    field="locked_until",
                    old=None,
                    new=locked_until,
                    reason=f"{MAX_FAILED_ATTEMPTS} failed sign-ins in a row",
                )
            return None
        rehash = hasher.check_needs_rehash(row["password_hash"])
        db.execute(
            "UPDATE users SET failed_attempts = 0, locked_until = NULL, last_login_at = ?, updated_at = ?"
            + (", password_hash = ?" if rehash else "")
            + " WHERE id = ?",
            [now, now] + ([hasher.hash(password)] if rehash else []) + [row["id"]],
        )
        audit.record(db, who, "login", "user", row["id"])
    return get_user(db, row["id"])


def _verify(password_hash: str, password: str) -> bool:
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


_dummy: dict[PasswordHasher, str] = {}


def _dummy_hash() -> str:
    """A hash with the current parameters, made once per hasher (not at import: it is slow)."""
    if hasher not in _dummy:
        _dummy[hasher] = hasher.hash("not a real password; used to equalise timing")
    return _dummy[hasher]


def _anonymous(name: str) -> dict[str, Any]:
    """The actor of a failed sign-in under a name no account has: the name as typed, with any
    character that cannot be printed (a NUL, a line break) shown as '?'."""
    printable = "".join(ch if ch.isprintable() else "?" for ch in name)
    return {"id": None, "username": printable or "(blank)", "role": "anonymous"}


def _verified(value: Any) -> bool:
    """An OIDC `email_verified` claim that says yes: true, or the text "true" (some providers
    send the claim as a string)."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def authenticate_identity(db: Database, identity: Mapping[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """(account, None) for an identity an OIDC provider vouched for (single sign-on through
    Streamlit's st.login), the account as `authenticate` returns it; (None, the message for the
    sign-in screen) when it may not enter. A refusal is returned, not raised, so the caller's
    unit of work commits its audit event.

    The account is the active local account whose user name is the identity's e-mail address, so
    roles and sites stay in Scalebook. The identity must carry `email_verified` true: an address
    the provider has not verified proves nothing about who holds it. Single sign-on is no way
    around the lock-out: an account that is locked after failed password sign-ins, or
    deactivated, is refused here too. Every attempt is audited like a password sign-in ("login",
    or "login.failed" with the reason), the reason naming single sign-on and the issuer; a
    successful one also ends a run of failed password sign-ins, as a password sign-in does."""
    email = identity.get("email")
    name = email.strip()[:320] if isinstance(email, str) else ""
    issuer = identity.get("iss")
    via = f"single sign-on ({issuer})" if isinstance(issuer, str) and issuer else "single sign-on"
    now = clock.utc_now()
    reason: str | None
    message: str | None
    with transaction(db):
        row = (
            _sql.one(db, "SELECT id, username, role, active, locked_until FROM users WHERE username = ?", [name])
            if name
            else None
        )
        if not name:
            reason, message = (
                "no e-mail address in the identity",
                (
                    "Your organisation's sign-in did not include an e-mail address, so Scalebook cannot tell which "
                    "account is yours. Sign in with your Scalebook user name and password, or ask your IT team to "
                    "release the e-mail address to Scalebook."
                ),
            )
        elif not _verified(identity.get("email_verified")):
            reason, message = (
                "e-mail address not verified by the provider",
                (
                    f"Your organisation has not verified the e-mail address {name}, so it cannot sign you in to "
                    "Scalebook. Sign in with your Scalebook user name and password, or ask your IT team."
                ),
            )
        elif row is None:
            reason, message = (
                "no account with this e-mail address",
                (
                    f"No Scalebook account has the user name {name}. Ask a Scalebook administrator to create one with "
                    "your e-mail address as its user name, or sign in with your user name and password."
                ),
            )
        elif not row["active"]:
            reason, message = (
                "account deactivated",
                (f"The Scalebook account {row['username']} is deactivated. Ask a Scalebook administrator."),
            )
        elif row["locked_until"] and row["locked_until"] > now:
            reason, message = (
                f"account locked until {row['locked_until']}",
                (
                    f"The Scalebook account {row['username']} is locked after repeated failed sign-ins until "
                    f"{row['locked_until']} (UTC). Try again then, or ask an administrator to reset the password."
                ),
            )
        else:
            reason = message = None
        who = {"id": row["id"], "username": row["username"], "role": row["role"]} if row else _anonymous(name)
        if message is not None:
            audit.record(db, who, "login.failed", "user", row["id"] if row else None, reason=f"{via}: {reason}")
            return None, message
        assert row is not None, "every branch above without an account sets a message"
        db.execute(
            "UPDATE users SET failed_attempts = 0, last_login_at = ?, updated_at = ? WHERE id = ?",
            [now, now, row["id"]],
        )
        audit.record(db, who, "login", "user", row["id"], reason=via)
    return get_user(db, row["id"]), None


def is_locked(db: Database, username: str) -> str | None:
    """When the account is locked out: the UTC time it unlocks; else None (for the sign-in page)."""
    row = _sql.one(db, "SELECT locked_until FROM users WHERE username = ?", [str(username).strip()])
    if row and row["locked_until"] and row["locked_until"] > clock.utc_now():
        return row["locked_until"]
    return None


def _update(db, actor, user_id, field, new_value, action, reason, extra_sql="", extra_params=()):
    """Change one column of an account, audited with the old and new value."""
    user_id = _sql.record_id(user_id, "user")
    with transaction(db):
        who = authorize(db, actor, "user.manage")
        row = _sql.one(db, f"SELECT id, username, {field} FROM users WHERE id = ?", [user_id])
        if row is None:
            raise NotFoundError(f"no user with id {user_id}")
        old = row[field]
        db.execute(
            f"UPDATE users SET {field} = ?, updated_at = ?{extra_sql} WHERE id = ?",
            [new_value, clock.utc_now(), *extra_params, user_id],
        )
        audit.record(db, who, action, "user", user_id, field=field, old=old, new=new_value, reason=reason)
        return get_user(db, user_id)


def change_role(db: Database, actor: Mapping[str, Any], user_id: int, role: str, reason: str | None = None) -> dict:
    """Give an account another role (audited with old and new role)."""
    role = _check_role(role)
    if actor and actor.get("id") == user_id:
        raise ValidationError("you cannot change your own role; ask another admin")
    return _update(db, actor, user_id, "role", role, "user.change_role", reason)


def deactivate(db: Database, actor: Mapping[str, Any], user_id: int, reason: str | None = None) -> dict:
    """Switch an account off (it stays, with its history; it can no longer sign in or act)."""
    if actor and actor.get("id") == user_id:
        raise ValidationError("you cannot deactivate your own account; ask another admin")
    return _update(db, actor, user_id, "active", 0, "user.deactivate", reason)


def reactivate(db: Database, actor: Mapping[str, Any], user_id: int, reason: str | None = None) -> dict:
    return _update(
        db, actor, user_id, "active", 1, "user.reactivate", reason, ", failed_attempts = 0, locked_until = NULL"
    )


def reset_password(
    db: Database, actor: Mapping[str, Any], user_id: int, new_password: str, reason: str | None = None
) -> dict:
    """Set a new password (and clear any lock-out). The audit event records that it changed,
    never the password or its hash."""
    user = get_user(db, _sql.record_id(user_id, "user"))
    check_password(new_password, user["username"])
    password_hash = hasher.hash(new_password)
    now = clock.utc_now()
    with transaction(db):
        who = authorize(db, actor, "user.manage")
        db.execute(
            "UPDATE users SET password_hash = ?, password_changed_at = ?, failed_attempts = 0, locked_until = NULL, "
            "updated_at = ? WHERE id = ?",
            [password_hash, now, now, user["id"]],
        )
        audit.record(db, who, "user.reset_password", "user", user["id"], field="password", reason=reason)
        return get_user(db, user["id"])
