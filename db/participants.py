"""Participants: pseudonymous study codes, never names.

A participant is a study code (unique per study, case-insensitive), a site, an arm (which may
be a blinded label) and a status. There is no field for a name, initials, a birth date or a
contact detail, and the code pattern (letters, digits, '.', '_', '-', no spaces) keeps free
text such as a full name out of it. Changes of status or arm are audited with old and new value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlite_utils import Database

from db import _sql, audit, clock
from db.connection import transaction
from db.errors import ConflictError, NotFoundError, ValidationError
from db.permissions import authorize
from db.sites import get_site, get_study

STATUSES = ("screening", "enrolled", "completed", "withdrawn", "screen_failed")
CODE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")


def _check_code(code: Any) -> str:
    if not isinstance(code, str) or not CODE_PATTERN.match(code.strip()):
        raise ValidationError(
            f"participant code {code!r} is not valid: use the pseudonymous study code (1-32 letters, digits, "
            f"'.', '_' or '-'; no spaces, never a name)"
        )
    return code.strip()


def _check_status(status: Any) -> str:
    if status not in STATUSES:
        raise ValidationError(f"unknown participant status {status!r}; choose one of {', '.join(STATUSES)}")
    return status


def create_participant(
    db: Database,
    actor: Mapping[str, Any],
    code: str,
    site: int | str,
    arm: str | None = None,
    status: str = "screening",
    study: int | str = "default",
) -> dict[str, Any]:
    """Enrol a participant under a pseudonymous code; ConflictError if the code is taken in the study."""
    code = _check_code(code)
    status = _check_status(status)
    arm = _sql.text(arm, "arm", max_len=60, required=False)
    with transaction(db):
        site_row = get_site(db, site)
        who = authorize(db, actor, "participant.enrol", site_id=site_row["id"])
        study_row = get_study(db, study)
        if _sql.one(db, "SELECT id FROM participants WHERE study_id = ? AND code = ?", [study_row["id"], code]):
            raise ConflictError(f"participant code '{code}' is already used in study '{study_row['code']}'")
        now = clock.utc_now()
        cursor = db.execute(
            "INSERT INTO participants (study_id, code, site_id, arm, status, created_by, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [study_row["id"], code, site_row["id"], arm, status, who.get("id"), now, now],
        )
        pid = cursor.lastrowid
        audit.record(
            db, who, "participant.create", "participant", pid, participant_id=pid,
            new={"code": code, "site": site_row["code"], "study": study_row["code"], "arm": arm, "status": status},
        )
        return get_participant(db, pid)


def get_participant(db: Database, participant_id: int) -> dict[str, Any]:
    """One participant with site and study codes; NotFoundError if there is none."""
    pid = _sql.record_id(participant_id, "participant")
    row = _sql.one(
        db,
        "SELECT p.*, s.code AS site_code, st.code AS study_code FROM participants p "
        "JOIN sites s ON s.id = p.site_id JOIN studies st ON st.id = p.study_id WHERE p.id = ?",
        [pid],
    )
    if row is None:
        raise NotFoundError(f"no participant with id {pid}; pick one from the participant list")
    return row


def find_participant(db: Database, code: str, study: int | str = "default") -> dict[str, Any]:
    """A participant by study code (case-insensitive)."""
    study_row = get_study(db, study)
    row = _sql.one(
        db, "SELECT id FROM participants WHERE study_id = ? AND code = ?", [study_row["id"], str(code).strip()]
    )
    if row is None:
        raise NotFoundError(f"no participant '{code}' in study '{study_row['code']}'")
    return get_participant(db, row["id"])


def list_participants(
    db: Database, site: int | str | None = None, status: str | None = None, study: int | str = "default"
) -> list[dict[str, Any]]:
    """Participants of a study, optionally of one site and/or status, by code."""
    where, params = ["p.study_id = ?"], [get_study(db, study)["id"]]
    if site is not None:
        where.append("p.site_id = ?")
        params.append(get_site(db, site)["id"])
    if status is not None:
        where.append("p.status = ?")
        params.append(_check_status(status))
    return _sql.many(
        db,
        "SELECT p.*, s.code AS site_code FROM participants p JOIN sites s ON s.id = p.site_id "
        f"WHERE {' AND '.join(where)} ORDER BY p.code",
        params,
    )


def participant_codes(db: Database, site: int | str | None = None, study: int | str = "default"
                      ) -> list[tuple[int, str, str]]:
    """(id, code, status) of a study's participants (optionally one site's), by code: what a
    picker lists. Three columns as tuples, not list_participants' full records: a picker runs on
    every rerun of its page, and a 1,000-participant study made that the page's slowest step."""
    where, params = ["study_id = ?"], [get_study(db, study)["id"]]
    if site is not None:
        where.append("site_id = ?")
        params.append(get_site(db, site)["id"])
    return db.execute(f"SELECT id, code, status FROM participants WHERE {' AND '.join(where)} ORDER BY code",
                      params).fetchall()


def update_participant(
    db: Database,
    actor: Mapping[str, Any],
    participant_id: int,
    *,
    status: str | None = None,
    arm: str | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    """Change status and/or arm; one audit event per changed field, with the reason."""
    changes: dict[str, Any] = {}
    if status is not None:
        changes["status"] = _check_status(status)
    if arm is not None:
        changes["arm"] = _sql.text(arm, "arm", max_len=60)
    if not changes:
        raise ValidationError("nothing to change: give a new status or arm")
    reason = _sql.text(reason, "reason", max_len=500, required=False)
    with transaction(db):
        current = get_participant(db, participant_id)
        who = authorize(db, actor, "participant.update", site_id=current["site_id"])
        changed = {k: v for k, v in changes.items() if current[k] != v}
        if not changed:
            return current
        sets = ", ".join(f"{k} = ?" for k in changed)
        db.execute(
            f"UPDATE participants SET {sets}, updated_at = ? WHERE id = ?",
            [*changed.values(), clock.utc_now(), current["id"]],
        )
        audit.record_many(
            db,
            who,
            [
                audit.event(
                    f"participant.change_{k}", "participant", current["id"], field=k, old=current[k], new=v,
                    reason=reason, participant_id=current["id"],
                )
                for k, v in changed.items()
            ],
        )
        return get_participant(db, current["id"])
