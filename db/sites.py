"""Sites (the clinics of a study) and studies.

A user may belong to one site, in which case they see and change only that site's
participants; a user without a site (a sponsor monitor, the PI of a single-site study, an admin)
works across sites. Participants belong to a study; a one-study deployment uses the study
`default` that the first migration creates.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlite_utils import Database

from db import _sql, audit, clock
from db.connection import transaction
from db.errors import ConflictError, NotFoundError, ValidationError
from db.permissions import authorize

CODE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,39}$")


def check_code(code: Any, what: str) -> str:
    if not isinstance(code, str) or not CODE_PATTERN.match(code.strip()):
        raise ValidationError(
            f"{what} {code!r} is not valid: use 1-40 letters, digits, '.', '_', '-' or '@', starting with a "
            f"letter or digit"
        )
    return code.strip()


def create_site(
    db: Database, actor: Mapping[str, Any], code: str, name: str | None = None, timezone: str = "UTC"
) -> dict[str, Any]:
    """Add a site; `timezone` is the IANA zone its times are shown in (stored times stay UTC)."""
    code = check_code(code, "site code")
    name = _sql.text(name if name is not None else code, "site name", max_len=120)
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValidationError(f"unknown time zone {timezone!r}; use an IANA name such as 'Europe/London'") from None
    with transaction(db):
        who = authorize(db, actor, "site.manage")
        if _sql.one(db, "SELECT id FROM sites WHERE code = ?", [code]):
            raise ConflictError(f"site '{code}' already exists")
        now = clock.utc_now()
        cursor = db.execute(
            "INSERT INTO sites (code, name, timezone, created_at) VALUES (?, ?, ?, ?)", [code, name, timezone, now]
        )
        site = get_site(db, _sql.new_id(cursor))
        audit.record(db, who, "site.create", "site", site["id"], new={"code": code, "name": name, "timezone": timezone})
    return site


def get_site(db: Database, site: int | str) -> dict[str, Any]:
    """A site by id or by code (NotFoundError naming the known codes otherwise)."""
    if isinstance(site, int) and not isinstance(site, bool):
        row = _sql.one(db, "SELECT * FROM sites WHERE id = ?", [site])
    else:
        row = _sql.one(db, "SELECT * FROM sites WHERE code = ?", [str(site).strip()])
    if row is None:
        known = ", ".join(r["code"] for r in list_sites(db)) or "none yet"
        raise NotFoundError(f"no site {site!r}; known sites: {known}")
    return row


def list_sites(db: Database) -> list[dict[str, Any]]:
    return _sql.many(db, "SELECT * FROM sites ORDER BY code")


def get_study(db: Database, study: int | str = "default") -> dict[str, Any]:
    if isinstance(study, int) and not isinstance(study, bool):
        row = _sql.one(db, "SELECT * FROM studies WHERE id = ?", [study])
    else:
        row = _sql.one(db, "SELECT * FROM studies WHERE code = ?", [str(study).strip()])
    if row is None:
        known = ", ".join(r["code"] for r in _sql.many(db, "SELECT code FROM studies ORDER BY code"))
        raise NotFoundError(f"no study {study!r}; known studies: {known}")
    return row


def create_study(db: Database, actor: Mapping[str, Any], code: str, title: str, blinded: bool = True) -> dict:
    code = check_code(code, "study code")
    title = _sql.text(title, "study title", max_len=200)
    with transaction(db):
        who = authorize(db, actor, "study.configure")
        if _sql.one(db, "SELECT id FROM studies WHERE code = ?", [code]):
            raise ConflictError(f"study '{code}' already exists")
        cursor = db.execute(
            "INSERT INTO studies (code, title, blinded, created_at) VALUES (?, ?, ?, ?)",
            [code, title, int(bool(blinded)), clock.utc_now()],
        )
        study = get_study(db, _sql.new_id(cursor))
        audit.record(db, who, "study.create", "study", study["id"], new={"code": code, "title": title})
    return study
