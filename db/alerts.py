"""Safety alerts: raised when a stored score carries a safety flag, acknowledged by the PI.

An alert is created in the same transaction as the score that raised it, so a completed
assessment with a safety flag always has its alert (and never the other way round). One alert
per assessment and rule: a rescoring after an amendment that still fires the rule does not
raise a second alert, one that newly fires it does. Alerts are never deleted, and an
acknowledgement (who, when, note) is final; a trigger enforces both.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlite_utils import Database

from db import _sql, audit, clock
from db.connection import transaction
from db.errors import ConflictError, NotFoundError
from db.permissions import authorize


def raise_for_flags(
    db: Database, assessment: Mapping[str, Any], score_id: int, flags: list[Mapping[str, str]]
) -> list[dict[str, Any]]:
    """Insert an alert for each safety flag not yet alerted for this assessment (inside the
    caller's transaction); return the audit events describing them, for the caller to record."""
    events = []
    now = clock.utc_now()
    for flag in flags:
        if flag.get("kind") != "safety":
            continue
        cursor = db.execute(
            "INSERT INTO safety_alerts (assessment_id, participant_id, score_id, rule_id, message, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (assessment_id, rule_id) DO NOTHING",
            [assessment["id"], assessment["participant_id"], score_id, flag["id"], flag["message"], now],
        )
        if cursor.rowcount:
            events.append(
                audit.event(
                    "alert.create", "safety_alert", cursor.lastrowid, participant_id=assessment["participant_id"],
                    new={"assessment_id": assessment["id"], "rule_id": flag["id"], "message": flag["message"]},
                )
            )
    return events


_SELECT = (
    "SELECT a.*, p.code AS participant_code, p.site_id, s.scale_id, s.timepoint, u.username AS acknowledged_by_name "
    "FROM safety_alerts a JOIN participants p ON p.id = a.participant_id "
    "JOIN assessments s ON s.id = a.assessment_id LEFT JOIN users u ON u.id = a.acknowledged_by"
)


def get_alert(db: Database, alert_id: int) -> dict[str, Any]:
    alert_id = _sql.record_id(alert_id, "alert")
    row = _sql.one(db, f"{_SELECT} WHERE a.id = ?", [alert_id])
    if row is None:
        raise NotFoundError(f"no safety alert with id {alert_id}")
    return row


def list_alerts(
    db: Database, *, open_only: bool = True, site_id: int | None = None, participant_id: int | None = None
) -> list[dict[str, Any]]:
    """Alerts, newest first; by default only those not yet acknowledged."""
    where, params = [], []
    if open_only:
        where.append("a.acknowledged_at IS NULL")
    if site_id is not None:
        where.append("p.site_id = ?")
        params.append(site_id)
    if participant_id is not None:
        where.append("a.participant_id = ?")
        params.append(participant_id)
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    return _sql.many(db, f"{_SELECT}{clause} ORDER BY a.created_at DESC, a.id DESC", params)


def acknowledge_alert(db: Database, actor: Mapping[str, Any], alert_id: int, note: str | None = None) -> dict:
    """Record that the PI has seen the alert and acted (note: what was done). Once only."""
    note = _sql.text(note, "acknowledgement note", max_len=1000, required=False)
    with transaction(db):
        alert = get_alert(db, alert_id)
        who = authorize(db, actor, "alert.acknowledge", site_id=alert["site_id"])
        if alert["acknowledged_at"] is not None:
            raise ConflictError(
                f"alert {alert['id']} was already acknowledged by {alert['acknowledged_by_name']} "
                f"at {alert['acknowledged_at']}"
            )
        now = clock.utc_now()
        db.execute(
            "UPDATE safety_alerts SET acknowledged_at = ?, acknowledged_by = ?, acknowledgement_note = ? WHERE id = ?",
            [now, who["id"], note, alert["id"]],
        )
        audit.record(
            db, who, "alert.acknowledge", "safety_alert", alert["id"], field="acknowledged_at", old=None, new=now,
            reason=note, participant_id=alert["participant_id"],
        )
        return get_alert(db, alert["id"])
