"""Participants: pseudonymous study codes, never names.

A participant is a study code (unique per study, case-insensitive), a site, an arm (which may
be a blinded label) and a status. There is no field for a name, initials, a birth date or a
contact detail, and the code pattern (letters, digits, '.', '_', '-', no spaces) keeps free
text such as a full name out of it. Changes of status or arm are audited with old and new value.

Ending participation (withdrawal or completion) is one rule, `end_participation`, which every
route takes (withdraw_participant, complete_participant, update_participant): it needs the date
it took effect (not in the future, not before enrolment), a reason for a withdrawal, and stores
both on the participant (status_at, status_reason) with audit events in the same transaction.
A withdrawn or completed participant leaves every worklist (db.schedule takes only screening and
enrolled participants) and their schedule stops at status_at (nothing later counts as missed).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from db import _sql, audit, clock
from db.connection import transaction
from db.errors import ConflictError, NotFoundError, ValidationError
from db.permissions import authorize
from db.sites import get_site, get_study
from protocol.timing import local_text

STATUSES = ("screening", "enrolled", "completed", "withdrawn", "screen_failed")
ENDED = ("withdrawn", "completed")
#: From which statuses participation can end: a participant still in screening may withdraw
#: consent; only an enrolled participant can complete the study.
ENDS_FROM = {"withdrawn": ("screening", "enrolled"), "completed": ("enrolled",)}
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
    *,
    enrolled_at: datetime | str | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    """Enrol a participant under a pseudonymous code; ConflictError if the code is taken in the study.

    `enrolled_at` (default now): when the participant was enrolled, for one entered after the
    fact (records transcribed from paper or another system, whose ratings predate their entry
    here); not in the future. It is stored as the enrolment time schedules and the late-entry
    rule use, while the audit event keeps when it was entered, with `reason`."""
    code = _check_code(code)
    status = _check_status(status)
    arm = _sql.text(arm, "arm", max_len=60, required=False)
    reason = _sql.text(reason, "reason", max_len=1000, required=False)
    enrolled = None if enrolled_at is None else _moment(enrolled_at)
    with transaction(db):
        site_row = get_site(db, site)
        who = authorize(db, actor, "participant.enrol", site_id=site_row["id"])
        study_row = get_study(db, study)
        if _sql.one(db, "SELECT id FROM participants WHERE study_id = ? AND code = ?", [study_row["id"], code]):
            raise ConflictError(f"participant code '{code}' is already used in study '{study_row['code']}'")
        now = clock.utc_now()
        if enrolled is not None and enrolled > now:
            raise ValidationError(
                f"the enrolment time of {code} ({enrolled}) is in the future; give the time the "
                f"participant was enrolled"
            )
        cursor = db.execute(
            "INSERT INTO participants (study_id, code, site_id, arm, status, created_by, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [study_row["id"], code, site_row["id"], arm, status, who.get("id"), enrolled or now, now],
        )
        pid = _sql.new_id(cursor)
        created = {"code": code, "site": site_row["code"], "study": study_row["code"], "arm": arm, "status": status}
        if enrolled is not None:
            created["enrolled_at"] = enrolled
        audit.record(db, who, "participant.create", "participant", pid, participant_id=pid, new=created, reason=reason)
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


def participant_codes(
    db: Database, site: int | str | None = None, study: int | str = "default"
) -> list[tuple[int, str, str]]:
    """(id, code, status) of a study's participants (optionally one site's), by code: what a
    picker lists. Three columns as tuples, not list_participants' full records: a picker runs on
    every rerun of its page, and a 1,000-participant study made that the page's slowest step."""
    where, params = ["study_id = ?"], [get_study(db, study)["id"]]
    if site is not None:
        where.append("site_id = ?")
        params.append(get_site(db, site)["id"])
    return db.execute(
        f"SELECT id, code, status FROM participants WHERE {' AND '.join(where)} ORDER BY code", params
    ).fetchall()


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
        if changes.get("status") in ENDED and current["status"] != changes["status"]:
            # Withdrawal and completion take the one rule (reason, date, status_at/status_reason).
            _end(db, who, current, changes.pop("status"), reason, clock.utc_now())
            current = get_participant(db, current["id"])
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
                    f"participant.change_{k}",
                    "participant",
                    current["id"],
                    field=k,
                    old=current[k],
                    new=v,
                    reason=reason,
                    participant_id=current["id"],
                )
                for k, v in changed.items()
            ],
        )
        return get_participant(db, current["id"])


def withdraw_participant(
    db: Database, actor: Mapping[str, Any], participant_id: int, reason: str, at: datetime | str | None = None
) -> dict[str, Any]:
    """Withdraw a participant (screening or enrolled) from `at` (default now), with a reason."""
    return end_participation(db, actor, participant_id, "withdrawn", reason, at)


def complete_participant(
    db: Database,
    actor: Mapping[str, Any],
    participant_id: int,
    at: datetime | str | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    """Mark an enrolled participant as having completed the study at `at` (default now)."""
    return end_participation(db, actor, participant_id, "completed", reason, at)


def end_participation(
    db: Database,
    actor: Mapping[str, Any],
    participant_id: int,
    status: str,
    reason: str | None,
    at: datetime | str | None = None,
) -> dict[str, Any]:
    """Withdraw or complete: the one rule (see the module docstring). Coordinators and PIs only
    (participant.update), at their own site; ValidationError says what to change otherwise."""
    if status not in ENDED:
        raise ValidationError(f"participation ends as one of {', '.join(ENDED)}, not {status!r}")
    reason = _sql.text(reason, "reason", max_len=500, required=False)
    moment = _moment(at)
    with transaction(db):
        current = get_participant(db, participant_id)
        who = authorize(db, actor, "participant.update", site_id=current["site_id"])
        _end(db, who, current, status, reason, moment)
        return get_participant(db, current["id"])


def _moment(at: datetime | str | None) -> str:
    """`at` as stored UTC text (now when None); a naive or unreadable time is refused."""
    if at is None:
        return clock.utc_now()
    try:
        if isinstance(at, str):
            return clock.format_utc(clock.parse_utc(at))
        if isinstance(at, datetime):
            return clock.format_utc(at)
    except ValueError:
        pass
    raise ValidationError(f"the date {at!r} is not a time with a timezone; give e.g. '2026-03-01T09:30:00Z'")


def _end(
    db: Database, who: Mapping[str, Any], current: Mapping[str, Any], status: str, reason: str | None, at: str
) -> None:
    """Inside the caller's transaction: check and store a withdrawal or completion, audited."""
    code, verb = current["code"], {"withdrawn": "withdraw", "completed": "complete"}[status]
    if current["status"] not in ENDS_FROM[status]:
        was = current["status"].replace("_", " ")
        since = f" since {_local(db, current, current['status_at'])}" if current.get("status_at") else ""
        raise ValidationError(
            f"{code} is {was}{since}; only a participant who is {' or '.join(ENDS_FROM[status])} can be "
            f"{'withdrawn' if status == 'withdrawn' else 'marked as completed'}"
        )
    if status == "withdrawn" and not reason:
        raise ValidationError(
            f"give the reason {code} is withdrawn (e.g. 'consent withdrawn', 'lost to "
            f"follow-up', 'adverse event'): it is kept with the record"
        )
    reason = reason or "completed the study schedule"
    now = clock.utc_now()
    if at > now:
        raise ValidationError(
            f"the date to {verb} {code} ({_local(db, current, at)}) is in the future; "
            f"give the date it happened, today at the latest"
        )
    if at < current["created_at"] and at[:16] == current["created_at"][:16]:
        at = current["created_at"]  # a time given to the minute, in the minute of enrolment
    if at < current["created_at"]:
        raise ValidationError(
            f"the date to {verb} {code} ({_local(db, current, at)}) is before their enrolment "
            f"({_local(db, current, current['created_at'])}); check the date"
        )
    db.execute(
        "UPDATE participants SET status = ?, status_reason = ?, status_at = ?, updated_at = ? WHERE id = ?",
        [status, reason, at, now, current["id"]],
    )
    audit.record_many(
        db,
        who,
        [
            audit.event(
                "participant.change_status",
                "participant",
                current["id"],
                field="status",
                old=current["status"],
                new=status,
                reason=reason,
                participant_id=current["id"],
            ),
            audit.event(
                "participant.change_status_at",
                "participant",
                current["id"],
                field="status_at",
                old=current.get("status_at"),
                new=at,
                reason=reason,
                participant_id=current["id"],
            ),
            audit.event(
                "participant.change_status_reason",
                "participant",
                current["id"],
                field="status_reason",
                old=current.get("status_reason"),
                new=reason,
                reason=reason,
                participant_id=current["id"],
            ),
        ],
    )


def _local(db: Database, participant: Mapping[str, Any], stored: str) -> str:
    """A stored UTC time in the participant's site's time zone, for a message."""
    zone = get_site(db, participant["site_id"]).get("timezone") or "UTC"
    tz: tzinfo
    try:
        tz = ZoneInfo(zone)
    except Exception:  # an unknown zone name: say it in UTC rather than fail the message
        tz = UTC
    return local_text(stored, tz)
