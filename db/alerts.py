"""Safety alerts: raised when a safety answer is given (in the draft), linked to the score at
completion, resolved if the answer is corrected before submit, acknowledged by the PI.

A safety rule (a scale's `safety_triggers`, evaluated by the scale engine) alerts the moment
the answer that fires it is saved, not at submit: `sync_draft_alerts` runs inside the same
transaction as every draft save (db.assessments.save_draft_response, which the clinician form,
the kiosk and the participant's link all call), so an abandoned draft still alerts. The alert
keeps the item and value that fired it; its `score_id` stays NULL until the assessment is
completed, when `raise_for_flags` links the alert already raised for that rule to the stored
score instead of raising a second one.

A corrected answer before submit (the rule no longer holds) *resolves* the alert: who, when and
why are kept on the row, which stays (with its history in the audit trail); the rule firing
again *re-opens* it. An acknowledgement (who, when, note) is final, and an acknowledged alert is
never resolved, re-opened or re-linked. Every change is an audit event in the transaction of
the change; a trigger (m006 `safety_alerts_fixed`) refuses any other update and every delete.

"Open" means neither acknowledged nor resolved: what staff must act on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlite_utils import Database

from db import _sql, audit, clock
from db.connection import transaction
from db.errors import ConflictError, NotFoundError, ValidationError
from db.permissions import authorize, system_actor
from scales import ScaleDefinition, score

OPEN = "a.acknowledged_at IS NULL AND a.resolved_at IS NULL"
CHANNELS = ("email",)
NOTIFY_STATUSES = ("sent", "failed")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

_SELECT = (
    "SELECT a.*, p.code AS participant_code, p.site_id, st.code AS site_code, st.timezone AS site_timezone, "
    "s.scale_id, s.timepoint, s.mode, s.status AS assessment_status, u.username AS acknowledged_by_name "
    "FROM safety_alerts a JOIN participants p ON p.id = a.participant_id "
    "JOIN sites st ON st.id = p.site_id "
    "JOIN assessments s ON s.id = a.assessment_id LEFT JOIN users u ON u.id = a.acknowledged_by"
)


def _safety_rules(definition: ScaleDefinition) -> dict[str, Any]:
    return {rule.id: rule for rule in definition.rules if rule.kind == "safety"}


def _trigger_item(rule: Any, responses: Mapping[str, Any]) -> tuple[str | None, int | None]:
    """The item (and its value) that fired a rule: the first of the rule's items that has an
    answer (single-item rules, all of the shipped scales, have exactly one)."""
    if rule is None:
        return None, None
    for item_id in rule.items:
        if responses.get(item_id) is not None:
            return item_id, responses[item_id]
    return (rule.items[0] if rule.items else None), None


def _insert(
    db: Database,
    assessment: Mapping[str, Any],
    flag: Mapping[str, str],
    score_id: int | None,
    item_id: str | None,
    item_value: int | None,
) -> dict[str, Any]:
    cursor = db.execute(
        "INSERT INTO safety_alerts (assessment_id, participant_id, score_id, rule_id, message, item_id, item_value, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            assessment["id"],
            assessment["participant_id"],
            score_id,
            flag["id"],
            flag["message"],
            item_id,
            item_value,
            clock.utc_now(),
        ],
    )
    return audit.event(
        "alert.create",
        "safety_alert",
        cursor.lastrowid,
        participant_id=assessment["participant_id"],
        new={
            "assessment_id": assessment["id"],
            "rule_id": flag["id"],
            "message": flag["message"],
            "item_id": item_id,
            "item_value": item_value,
            "score_id": score_id,
            "raised": "in the draft" if score_id is None else "at completion",
        },
    )


def _reopen(
    db: Database, row: Mapping[str, Any], item_id: str | None, item_value: int | None, reason: str
) -> dict[str, Any]:
    db.execute(
        "UPDATE safety_alerts SET resolved_at = NULL, resolved_by = NULL, resolution = NULL, item_id = ?, "
        "item_value = ? WHERE id = ?",
        [item_id, item_value, row["id"]],
    )
    return audit.event(
        "alert.reopen",
        "safety_alert",
        row["id"],
        field="resolved_at",
        old={"resolved_at": row["resolved_at"], "resolved_by": row["resolved_by"], "resolution": row["resolution"]},
        new={"resolved_at": None, "item_id": item_id, "item_value": item_value},
        reason=reason,
        participant_id=row["participant_id"],
    )


def sync_draft_alerts(
    db: Database,
    who: Mapping[str, Any],
    assessment: Mapping[str, Any],
    definition: ScaleDefinition,
    responses: Mapping[str, int],
) -> list[dict[str, Any]]:
    """Bring a draft's alerts in line with its answers so far (inside the caller's transaction,
    after the answer was written); return the audit events for the caller to record.

    The scale engine decides which safety rules hold on `responses` (every stored answer of the
    draft). A rule that holds and has no alert yet raises one (score NULL, the item and value
    that fired it); one whose alert was resolved re-opens it; one whose firing value changed
    (e.g. 4 to 6) updates the value on the open alert. An open draft alert whose rule no longer
    holds is resolved ("corrected before submit"), and stays. Acknowledged alerts never change.
    """
    rules = _safety_rules(definition)
    if not rules:
        return []
    firing = {f["id"]: f for f in score(definition, responses).safety_flags}
    existing = {
        r["rule_id"]: r
        for r in _sql.many(db, "SELECT * FROM safety_alerts WHERE assessment_id = ?", [assessment["id"]])
    }
    events: list[dict[str, Any]] = []
    for rule_id, flag in firing.items():
        item_id, value = _trigger_item(rules.get(rule_id), responses)
        row = existing.get(rule_id)
        if row is None:
            events.append(_insert(db, assessment, flag, None, item_id, value))
        elif row["acknowledged_at"] is not None:
            continue  # acknowledged stays acknowledged (the trigger refuses any change too)
        elif row["resolved_at"] is not None:
            events.append(_reopen(db, row, item_id, value, f"{item_id} answered {value} again before submit"))
        elif (row["item_id"], row["item_value"]) != (item_id, value):
            db.execute("UPDATE safety_alerts SET item_id = ?, item_value = ? WHERE id = ?", [item_id, value, row["id"]])
            events.append(
                audit.event(
                    "alert.update",
                    "safety_alert",
                    row["id"],
                    field="item_value",
                    old={"item_id": row["item_id"], "item_value": row["item_value"]},
                    new={"item_id": item_id, "item_value": value},
                    participant_id=row["participant_id"],
                )
            )
    for rule_id, row in existing.items():
        if rule_id in firing or row["acknowledged_at"] is not None or row["resolved_at"] is not None:
            continue
        if row["score_id"] is not None:
            continue  # raised by a stored score: only the PI's acknowledgement closes it
        now_value = responses.get(row["item_id"]) if row["item_id"] else None
        item = definition.item_by_id.get(row["item_id"] or "")
        now_text = (
            "no answer"
            if now_value is None
            else "not assessed"
            if item is not None and now_value in item.not_assessed_values
            else str(now_value)
        )
        resolution = (
            f"answer corrected before submit: {row['item_id']} changed from {row['item_value']} to {now_text}; "
            f"the safety rule no longer holds"
        )
        now = clock.utc_now()
        db.execute(
            "UPDATE safety_alerts SET resolved_at = ?, resolved_by = ?, resolution = ? WHERE id = ?",
            [now, who["username"], resolution, row["id"]],
        )
        events.append(
            audit.event(
                "alert.resolve",
                "safety_alert",
                row["id"],
                field="resolved_at",
                old=None,
                new=now,
                reason=resolution,
                participant_id=row["participant_id"],
            )
        )
    return events


def raise_for_flags(
    db: Database,
    assessment: Mapping[str, Any],
    score_id: int,
    flags: Sequence[Mapping[str, str]],
    definition: ScaleDefinition | None = None,
    responses: Mapping[str, int] | None = None,
) -> list[dict[str, Any]]:
    """At completion (or a rescoring after an amendment), inside the caller's transaction: for
    each safety flag of the stored score, link the alert already raised for this assessment and
    rule (in the draft) to the score, re-opening it if it had been resolved, or raise a new one;
    return the audit events describing the changes, for the caller to record.

    One alert per assessment and rule: an alert already linked to an earlier score, or already
    acknowledged, is left as it is (acknowledged stays acknowledged)."""
    events = []
    rules = _safety_rules(definition) if definition is not None else {}
    for flag in flags:
        if flag.get("kind") != "safety":
            continue
        item_id, value = _trigger_item(rules.get(flag["id"]), responses or {})
        row = _sql.one(
            db, "SELECT * FROM safety_alerts WHERE assessment_id = ? AND rule_id = ?", [assessment["id"], flag["id"]]
        )
        if row is None:
            events.append(_insert(db, assessment, flag, score_id, item_id, value))
            continue
        if row["acknowledged_at"] is not None or row["score_id"] is not None:
            continue
        if row["resolved_at"] is not None:
            events.append(_reopen(db, row, item_id, value, "the stored score fires the rule"))
        db.execute("UPDATE safety_alerts SET score_id = ? WHERE id = ?", [score_id, row["id"]])
        events.append(
            audit.event(
                "alert.link",
                "safety_alert",
                row["id"],
                field="score_id",
                old=None,
                new=score_id,
                reason="the assessment was completed; the alert raised in the draft now belongs to its score",
                participant_id=row["participant_id"],
            )
        )
    return events


# ---------------------------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------------------------


def get_alert(db: Database, alert_id: int) -> dict[str, Any]:
    alert_id = _sql.record_id(alert_id, "alert")
    row = _sql.one(db, f"{_SELECT} WHERE a.id = ?", [alert_id])
    if row is None:
        raise NotFoundError(f"no safety alert with id {alert_id}")
    return row


def list_alerts(
    db: Database,
    *,
    open_only: bool = True,
    site_id: int | None = None,
    participant_id: int | None = None,
    assessment_id: int | None = None,
) -> list[dict[str, Any]]:
    """Alerts, newest first; by default only the open ones (neither acknowledged nor resolved;
    an alert raised in a draft that is still a draft counts as open)."""
    where, params = [], []
    if open_only:
        where.append(OPEN)
    for column, value in (
        ("p.site_id", site_id),
        ("a.participant_id", participant_id),
        ("a.assessment_id", assessment_id),
    ):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    return _sql.many(db, f"{_SELECT}{clause} ORDER BY a.created_at DESC, a.id DESC", params)


def alerts_for_link(db: Database, token_id: int) -> list[dict[str, Any]]:
    """Every alert on the questionnaires a self-report link (or kiosk hand-over) opened, oldest
    first: what the staff member who takes the tablet back must be told."""
    token_id = _sql.record_id(token_id, "link")
    return _sql.many(
        db,
        f"{_SELECT} WHERE a.assessment_id IN (SELECT assessment_id FROM self_report_link_assessments "
        "WHERE token_id = ?) ORDER BY a.created_at, a.id",
        [token_id],
    )


def alert_audience(db: Database, site_id: int) -> dict[str, Any]:
    """Who an alert of this site reaches inside the app: the site's code and the active PI
    accounts whose scope covers it (no site, or this site), by user name."""
    site = _sql.one(db, "SELECT code, timezone FROM sites WHERE id = ?", [site_id])
    pis = [
        r[0]
        for r in db.execute(
            "SELECT username FROM users WHERE role = 'pi' AND active = 1 AND (site_id IS NULL OR site_id = ?) "
            "ORDER BY username",
            [site_id],
        ).fetchall()
    ]
    return {
        "site_id": site_id,
        "site_code": site["code"] if site else None,
        "pis": pis,
        "pi_emails": [name for name in pis if EMAIL_PATTERN.match(name)],
    }


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
            db,
            who,
            "alert.acknowledge",
            "safety_alert",
            alert["id"],
            field="acknowledged_at",
            old=None,
            new=now,
            reason=note,
            participant_id=alert["participant_id"],
        )
        return get_alert(db, alert["id"])


# ---------------------------------------------------------------------------------------------
# notifications outside the app (sent by notify.dispatch after the alert's transaction commits)
# ---------------------------------------------------------------------------------------------

NOTIFIER = system_actor("email", channel="notify")


def alerts_awaiting_notification(db: Database, since: str) -> list[dict[str, Any]]:
    """Alerts raised at or after `since` (UTC) with no notification attempt recorded yet, oldest
    first, each with its site's audience (`alert_audience`)."""
    rows = _sql.many(
        db,
        f"{_SELECT} WHERE a.created_at >= ? AND NOT EXISTS "
        "(SELECT 1 FROM alert_notifications n WHERE n.alert_id = a.id) ORDER BY a.created_at, a.id",
        [since],
    )
    audiences: dict[int, dict[str, Any]] = {}
    for row in rows:
        if row["site_id"] not in audiences:
            audiences[row["site_id"]] = alert_audience(db, row["site_id"])
        row["audience"] = audiences[row["site_id"]]
    return rows


def record_notifications(
    db: Database, alert_id: int, attempts: Iterable[Mapping[str, Any]], channel: str = "email"
) -> list[dict[str, Any]]:
    """Record notification attempts for one alert ({recipient, status: sent|failed, error}), with
    one audit event each, in one transaction; return the stored rows."""
    if channel not in CHANNELS:
        raise ValidationError(f"unknown notification channel {channel!r}; choose one of {', '.join(CHANNELS)}")
    attempts = list(attempts)
    for attempt in attempts:
        if attempt.get("status") not in NOTIFY_STATUSES:
            raise ValidationError(f"notification status must be sent or failed, not {attempt.get('status')!r}")
    with transaction(db):
        alert = get_alert(db, alert_id)
        events, ids = [], []
        for attempt in attempts:
            recipient = _sql.text(attempt.get("recipient"), "notification recipient", max_len=320)
            error = _sql.text(attempt.get("error"), "notification error", max_len=1000, required=False)
            cursor = db.execute(
                "INSERT INTO alert_notifications (alert_id, channel, recipient, status, error, attempted_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [alert["id"], channel, recipient, attempt["status"], error, clock.utc_now()],
            )
            ids.append(cursor.lastrowid)
            events.append(
                audit.event(
                    "alert.notify",
                    "safety_alert",
                    alert["id"],
                    field=channel,
                    new={"recipient": recipient, "status": attempt["status"], "error": error},
                    participant_id=alert["participant_id"],
                )
            )
        audit.record_many(db, NOTIFIER, events)
        if not ids:
            return []
        marks = ", ".join("?" for _ in ids)
        return _sql.many(db, f"SELECT * FROM alert_notifications WHERE id IN ({marks}) ORDER BY id", ids)


def notifications_for(db: Database, alert_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    """The notification attempts of these alerts, oldest first, by alert id."""
    ids = [int(i) for i in alert_ids]
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    if not ids:
        return out
    marks = ", ".join("?" for _ in ids)
    for row in _sql.many(db, f"SELECT * FROM alert_notifications WHERE alert_id IN ({marks}) ORDER BY id", ids):
        out[row["alert_id"]].append(row)
    return out
