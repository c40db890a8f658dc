"""Accounts: creation, sign-in with lock-out, role changes, deactivation, password resets.

Passwords are hashed with argon2id (argon2-cffi's `PasswordHasher`, RFC 9106 low-memory
defaults); the hash is never returned by any function here. Hashing takes tens of
milliseconds, so it runs before the write transaction opens, never while holding the lock.

Sign-in failures count per account: after `MAX_FAILED_ATTEMPTS` in a row the account is locked
for `LOCKOUT_MINUTES` (`locked_until`), and `authenticate` refuses even the right password until
then. Every account creation, role change, deactivation, reactivation, password reset,
successful sign-in, failed sign-in and lock-out is an audit event.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlite_utils import Database

from db import _sql, audit, clock
from db.connection import transaction
from db.errors import ConflictError, NotFoundError, ValidationError
from db.permissions import ROLES, authorize, system_actor
from db.sites import get_site

MAX_FAILED_ATTEMPTS = 5
LOCKOUT_MINUTES = 15
MIN_PASSWORD_LENGTH = 10
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
    """The password policy: at least MIN_PASSWORD_LENGTH characters, not blank, not the username."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(f"the password must be at least {MIN_PASSWORD_LENGTH} characters long")
    if not password.strip():
        raise ValidationError("the password cannot be only spaces")
    if username and password.strip().lower() == username.strip().lower():
        raise ValidationError("the password cannot be the username")
    return password


def _site_id(db: Database, site: int | str | None) -> int | None:
    return None if site is None or site == "" else get_site(db, site)["id"]


def create_user(
    db: Database,
    actor: Mapping[str, Any],
    username: str,
    role: str,
    password: str,
    site: int | str | None = None,
) -> dict[str, Any]:
    """Create an active account and return it (without the hash). ConflictError if the name is taken."""
    username = _check_username(username)
    role = _check_role(role)
    check_password(password, username)
    password_hash = hasher.hash(password)
    with transaction(db):
        who = authorize(db, actor, "user.manage")
        site_id = _site_id(db, site)
        if _sql.one(db, "SELECT id FROM users WHERE username = ?", [username]):
            raise ConflictError(f"user '{username}' already exists; choose another name or reset their password")
        now = clock.utc_now()
        cursor = db.execute(
            "INSERT INTO users (username, role, site_id, password_hash, active, password_changed_at, created_at, "
            "updated_at) VALUES (?, ?, ?, ?, 1, ?, ?, ?)",
            [username, role, site_id, password_hash, now, now, now],
        )
        user = get_user(db, cursor.lastrowid)
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
        return create_user(db, system_actor("first-run", channel="setup"), username, "admin", password)


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
    return _sql.one(db, "SELECT id, username, role, site_id, active, password_changed_at FROM users WHERE id = ?",
                    [user_id])


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
        return (f"Your role changed (from {session_user.get('role')} to {account['role']}), so you were signed "
                "out. Sign in again to continue with your new role.")
    if account["site_id"] != session_user.get("site_id"):
        return "Your site changed, so you were signed out. Sign in again to continue."
    if account["password_changed_at"] != session_user.get("password_changed_at"):
        return "Your password was changed or reset, so you were signed out. Sign in with the new password."
    return None


def list_users(db: Database) -> list[dict[str, Any]]:
    return _sql.many(db, f"SELECT {_PUBLIC} FROM users ORDER BY username")


def authenticate(db: Database, username: str, password: str) -> dict[str, Any] | None:
    """The account (a ready-made actor) when the name and password match an active, unlocked
    account; None otherwise. Records the attempt; locks the account after repeated failures."""
    if not isinstance(username, str) or not isinstance(password, str):
        return None
    name = username.strip()[:64]
    row = _sql.one(db, "SELECT id, username, role, password_hash, active, locked_until FROM users WHERE username = ?", [name])
    # Verify even for an unknown name, so the response time does not reveal which names exist.
    good = _verify(row["password_hash"] if row else _dummy_hash(), password)
    now = clock.utc_now()
    with transaction(db):
        if row is None:
            audit.record(db, _anonymous(name), "login.failed", "user", None, reason="unknown username")
            return None
        who = {"id": row["id"], "username": row["username"], "role": row["role"]}
        if not row["active"]:
            audit.record(db, who, "login.failed", "user", row["id"], reason="account deactivated")
            return None
        current = _sql.one(db, "SELECT failed_attempts, locked_until FROM users WHERE id = ?", [row["id"]])
        if current["locked_until"] and current["locked_until"] > now:
            audit.record(db, who, "login.failed", "user", row["id"], reason=f"account locked until {current['locked_until']}")
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
                    db, who, "user.lock", "user", row["id"], field="locked_until", old=None, new=locked_until,
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
    return {"id": None, "username": name or "(blank)", "role": "anonymous"}


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
