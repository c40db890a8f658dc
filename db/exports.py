"""Named read queries for the exports (exports/), and the audit event every export leaves.

The exports never run SQL themselves: each function here returns plain rows with named
columns (`SELECT ... AS name`) for a whole study at once, optionally one site's participants,
so an export of 1,000 participants and 48,000 assessments is a handful of set-based queries,
never a query per participant or per assessment. The two big ones (assessment rows and item
responses) are generators that stream from the cursor: consume them inside the unit of work
that opened `db`, in the order given, and nothing holds 700,000 responses in memory at once.

Ordering contract: `assessment_rows` and `response_rows` come in the same order (participant
code, time the rating happened, assessment id), so an export can walk both in step.

What is exported: submitted assessments only (complete, signed, amended, locked) with their
CURRENT score (the newest score row: rescoring after an amendment appends one); drafts are
work in progress, not data. When a rating happened = `coalesce(assessed_at, completed_at)`
(HAPPENED_AT, the expression the analytics and the baseline rule use).

Where an assessment came from (`source`): `self_report` for the self, kiosk and link modes;
`transcribed` when it was imported from a paper source or another system, which the importing
path marks by writing the audit event `transcription_event(...)` (action TRANSCRIBED_ACTION) in
the transaction that stores the assessment; otherwise `form` (rated in the app).

Every export is an audit event (`record_export`): who, which export, for which site, blinded or
not, and how many records of each kind.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from sqlite_utils import Database

from db import _sql, audit
from db.connection import transaction
from db.errors import NotFoundError, PermissionDeniedError
from db.permissions import allowed, authorize
from db.sites import get_study

#: When a rating happened (the same expression db.analytics and db.baseline use).
HAPPENED_AT = "coalesce(a.assessed_at, a.completed_at)"

#: The audit action that marks an assessment as transcribed (imported from paper or another system).
TRANSCRIBED_ACTION = "assessment.transcribe"

#: The audit action of an export (entity 'export').
EXPORT_ACTION = "export.create"

SELF_REPORT_MODES = ("self", "kiosk", "link")


def transcription_event(
    assessment_id: int, participant_id: int, *, source_file: str | None = None, lines: Sequence[int] = ()
) -> dict[str, Any]:
    """The audit event (for audit.record_many) that marks an assessment as transcribed: the
    importing path writes it in the transaction that stores the assessment."""
    return audit.event(
        TRANSCRIBED_ACTION,
        "assessment",
        assessment_id,
        participant_id=participant_id,
        new={"source": "transcribed", "file": source_file, "lines": list(lines)},
    )


def _where(db: Database, study: int | str, site_id: int | None, alias: str = "p") -> tuple[str, list[Any]]:
    params: list[Any] = [get_study(db, study)["id"]]
    sql = f"{alias}.study_id = ?"
    if site_id is not None:
        sql += f" AND {alias}.site_id = ?"
        params.append(site_id)
    return sql, params


def _stream(db: Database, sql: str, params: Sequence[Any]) -> Iterator[dict[str, Any]]:
    cursor = db.execute(sql, list(params))
    names = [d[0] for d in cursor.description]
    for row in cursor:
        yield dict(zip(names, row, strict=True))


def _stream_rows(db: Database, sql: str, params: Sequence[Any]) -> Iterator[sqlite3.Row]:
    """Like _stream, as sqlite3.Row (read by name, row["item_id"]): made in C, for the one query
    that returns hundreds of thousands of rows."""
    cursor = db.conn.cursor()
    cursor.row_factory = sqlite3.Row
    return cursor.execute(sql, list(params))


# ---------------------------------------------------------------------------------------------
# who exports
# ---------------------------------------------------------------------------------------------


def export_account(db: Database, username: str) -> Mapping[str, Any]:
    """The account an export runs as (`--as USERNAME`): it must exist, be active and have a role
    that may export (permission export.read). Returns id, username, role, site_id."""
    try:
        row = _sql.one(
            db, "SELECT id, username, role, site_id, active FROM users WHERE username = ?", [str(username).strip()]
        )
    except Exception:  # pragma: no cover - defensive: a name the driver cannot bind
        row = None
    if row is None:
        raise NotFoundError(f"no account '{username}'; give the username of an admin, pi or monitor account")
    if not row["active"]:
        raise PermissionDeniedError(f"account '{row['username']}' is deactivated; ask an admin")
    if not allowed(row["role"], "export.read"):
        raise PermissionDeniedError(
            f"'{row['username']}' is a {row['role']} account; exports need an admin, pi or monitor account"
        )
    return authorize(db, row, "export.read")


def site_code(db: Database, site_id: int | None) -> str | None:
    if site_id is None:
        return None
    row = _sql.one(db, "SELECT code FROM sites WHERE id = ?", [site_id])
    return row["code"] if row else None


def study_row(db: Database, study: int | str = "default") -> dict[str, Any]:
    """The study record (code, title, blinded)."""
    return get_study(db, study)


# ---------------------------------------------------------------------------------------------
# the study's records
# ---------------------------------------------------------------------------------------------


def participant_rows(db: Database, *, site_id: int | None = None, study: int | str = "default") -> list[dict]:
    """Every participant of the study (optionally one site), by code, with the site's time zone
    and the number, first start and last end of their infusions."""
    where, params = _where(db, study, site_id)
    return _sql.many(
        db,
        f"""
        SELECT p.id AS participant_id, p.code AS participant, s.code AS site, s.timezone AS site_timezone,
               p.arm AS arm, p.status AS status, p.status_reason AS status_reason, p.status_at AS status_at,
               p.created_at AS entered_at, i.n AS n_infusions, i.first_start AS first_infusion_at,
               i.last_end AS last_infusion_end_at, i.last_start AS last_infusion_start_at
        FROM participants p
        JOIN sites s ON s.id = p.site_id
        LEFT JOIN (SELECT participant_id, count(*) AS n, min(started_at) AS first_start,
                          max(started_at) AS last_start, max(coalesce(ended_at, started_at)) AS last_end
                   FROM infusions GROUP BY participant_id) i ON i.participant_id = p.id
        WHERE {where}
        ORDER BY p.code""",
        params,
    )


def _participant_records(
    db: Database,
    *,
    site_id: int | None,
    study: int | str,
    table: str,
    alias: str,
    id_name: str,
    columns: str,
    joins: str,
    order: str,
) -> list[dict]:
    """The rows of one per-participant table (infusions, vitals, adverse events, eligibility
    decisions): its id as `id_name`, participant_id, participant (code), site and site_timezone,
    then `columns`; `joins` adds LEFT JOINs, `order` sorts within each participant code."""
    where, params = _where(db, study, site_id)
    return _sql.many(
        db,
        f"""
        SELECT {alias}.id AS {id_name}, {alias}.participant_id AS participant_id, p.code AS participant,
               s.code AS site, s.timezone AS site_timezone, {columns}
        FROM {table} {alias}
        JOIN participants p ON p.id = {alias}.participant_id
        JOIN sites s ON s.id = p.site_id
        {joins}
        WHERE {where}
        ORDER BY p.code, {order}""",
        params,
    )


def infusion_rows(db: Database, *, site_id: int | None = None, study: int | str = "default") -> list[dict]:
    """Every infusion, by participant code and infusion number."""
    return _participant_records(
        db,
        site_id=site_id,
        study=study,
        table="infusions",
        alias="i",
        id_name="infusion_id",
        columns="""i.number AS infusion_number, i.started_at AS started_at, i.ended_at AS ended_at,
                   i.weight_kg AS weight_kg, i.dose_mg_per_kg AS dose_mg_per_kg, i.total_dose_mg AS total_dose_mg,
                   i.planned_duration_min AS planned_duration_min, i.notes AS notes, u.username AS recorded_by,
                   i.created_at AS entered_at""",
        joins="LEFT JOIN users u ON u.id = i.recorded_by",
        order="i.number",
    )


def vitals_rows(db: Database, *, site_id: int | None = None, study: int | str = "default") -> list[dict]:
    """Every set of vital signs, by participant code and time measured."""
    return _participant_records(
        db,
        site_id=site_id,
        study=study,
        table="vitals",
        alias="v",
        id_name="vitals_id",
        columns="""i.number AS infusion_number, v.measured_at AS measured_at, v.systolic AS systolic,
                   v.diastolic AS diastolic, v.heart_rate AS heart_rate, v.resp_rate AS resp_rate, v.spo2 AS spo2,
                   v.temperature_c AS temperature_c, v.late_entry_reason AS late_entry_reason,
                   u.username AS recorded_by, v.created_at AS entered_at""",
        joins="""LEFT JOIN infusions i ON i.id = v.infusion_id
                 LEFT JOIN users u ON u.id = v.recorded_by""",
        order="v.measured_at, v.id",
    )


def adverse_event_rows(db: Database, *, site_id: int | None = None, study: int | str = "default") -> list[dict]:
    """Every adverse event as it stands now (edits are in the audit trail), by participant and onset."""
    return _participant_records(
        db,
        site_id=site_id,
        study=study,
        table="adverse_events",
        alias="e",
        id_name="ae_id",
        columns="""i.number AS infusion_number, e.term AS term, e.onset_at AS onset_at,
                   e.resolved_at AS resolved_at, e.severity AS severity, e.serious AS serious,
                   e.serious_at AS serious_at, e.relatedness AS relatedness, e.action_taken AS action_taken,
                   e.outcome AS outcome, e.late_entry_reason AS late_entry_reason, u.username AS recorded_by,
                   e.created_at AS entered_at, e.updated_at AS updated_at""",
        joins="""LEFT JOIN infusions i ON i.id = e.infusion_id
                 LEFT JOIN users u ON u.id = e.recorded_by""",
        order="e.onset_at, e.id",
    )


def eligibility_rows(db: Database, *, site_id: int | None = None, study: int | str = "default") -> list[dict]:
    """Every eligibility decision (append-only; `current` = 1 on each participant's latest, the
    one that counts), with answers, reasons and pending items as JSON text."""
    return _participant_records(
        db,
        site_id=site_id,
        study=study,
        table="eligibility_decisions",
        alias="d",
        id_name="decision_id",
        columns="""d.decided_at AS decided_at, d.eligible AS eligible, d.answers AS answers, d.reasons AS reasons,
                   d.pending AS pending, d.baseline_total AS baseline_total,
                   d.baseline_assessment_id AS baseline_assessment_id, d.protocol_id AS protocol_id,
                   d.protocol_hash AS protocol_hash, u.username AS decided_by,
                   (d.id = (SELECT max(id) FROM eligibility_decisions WHERE participant_id = d.participant_id))
                       AS current""",
        joins="LEFT JOIN users u ON u.id = d.decided_by",
        order="d.id",
    )


_ASSESSMENTS_SQL = f"""
SELECT a.id AS assessment_id, a.participant_id AS participant_id, p.code AS participant, s.code AS site,
       s.timezone AS site_timezone, a.scale_id AS scale_id, a.scale_version AS scale_version,
       a.timepoint AS timepoint, i.number AS infusion_number, a.mode AS mode, a.recall AS recall,
       u.username AS rater, a.status AS status, a.started_at AS started_at, a.completed_at AS completed_at,
       a.assessed_at AS assessed_at, {HAPPENED_AT} AS happened_at, a.late_entry_reason AS late_entry_reason,
       sc.total AS total, sc.band AS band, sc.band_set AS band_set, sc.subscales AS subscales,
       sc.complete AS complete, sc.prorated AS prorated, sc.definition_hash AS definition_hash,
       CASE WHEN EXISTS (SELECT 1 FROM audit_events e WHERE e.entity = 'assessment'
                         AND e.entity_id = CAST(a.id AS TEXT) AND e.action = '{TRANSCRIBED_ACTION}') THEN 'transcribed'
            WHEN a.mode IN {SELF_REPORT_MODES} THEN 'self_report' ELSE 'form' END AS source
FROM participants p
JOIN sites s ON s.id = p.site_id
JOIN assessments a ON a.participant_id = p.id
JOIN scores sc ON sc.id = (SELECT max(id) FROM scores WHERE assessment_id = a.id)
LEFT JOIN infusions i ON i.id = a.infusion_id
LEFT JOIN users u ON u.id = a.rater_id
WHERE {{where}} AND a.status <> 'draft' {{scales}}
ORDER BY p.code, happened_at, a.id
"""

_RESPONSES_SQL = f"""
SELECT r.assessment_id AS assessment_id, r.item_id AS item_id, r.value AS value,
       r.not_assessed_reason AS not_assessed_reason
FROM participants p
JOIN assessments a ON a.participant_id = p.id
JOIN item_responses r ON r.assessment_id = a.id
WHERE {{where}} AND a.status <> 'draft' {{scales}} AND (r.value IS NOT NULL OR r.not_assessed_reason IS NOT NULL)
ORDER BY p.code, {HAPPENED_AT}, a.id, r.id
"""


def _scales(scale_ids: Sequence[str] | None) -> tuple[str, list[str]]:
    if not scale_ids:
        return "", []
    return f"AND a.scale_id IN ({', '.join('?' for _ in scale_ids)})", list(scale_ids)


def assessment_rows(
    db: Database, *, site_id: int | None = None, study: int | str = "default", scale_ids: Sequence[str] | None = None
) -> Iterator[dict[str, Any]]:
    """Every submitted assessment with its current score (subscales as JSON text), the number
    of the infusion it was recorded against (or None), `happened_at` and `source`, in the
    ordering contract's order. A generator: consume it inside the unit of work."""
    where, params = _where(db, study, site_id)
    scales, scale_params = _scales(scale_ids)
    return _stream(db, _ASSESSMENTS_SQL.format(where=where, scales=scales), params + scale_params)


def response_rows(
    db: Database, *, site_id: int | None = None, study: int | str = "default", scale_ids: Sequence[str] | None = None
) -> Iterator[sqlite3.Row]:
    """Every stored item response of the submitted assessments (an answer, or a not-assessed
    code or reason; cleared answers are left out), in the ordering contract's order and by
    answer order within an assessment: assessment_id, item_id, value, not_assessed_reason, read
    by name (sqlite3.Row). An iterator: consume it inside the unit of work."""
    where, params = _where(db, study, site_id)
    scales, scale_params = _scales(scale_ids)
    return _stream_rows(db, _RESPONSES_SQL.format(where=where, scales=scales), params + scale_params)


# ---------------------------------------------------------------------------------------------
# the audit event of an export
# ---------------------------------------------------------------------------------------------


def record_export(
    db: Database,
    actor: Mapping[str, Any],
    kind: str,
    counts: Mapping[str, int],
    *,
    site: str | None = None,
    blinded: bool,
    destination: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Audit one export (who, which kind, site scope, blinding, records per file) in its own
    transaction (or the caller's). The actor is checked again here: the account still exists, is
    active and may export; the system actor of the command line may."""
    with transaction(db):
        who = authorize(db, actor, "export.read")  # the system actor too: only the one system_actor() made
        new = {
            "kind": kind,
            "site": site,
            "blinded": bool(blinded),
            "records": dict(counts),
            "total_records": int(sum(counts.values())),
            "destination": destination,
            **(details or {}),
        }
        return audit.record(db, who, EXPORT_ACTION, "export", kind, new=new)
