"""Eligibility decisions and protocol deviations.

An eligibility decision is computed here, by the protocol's own rules (protocol.eligibility),
from the answers given and the participant's STORED baseline severity score, so a page cannot
record a decision the rules do not support. Decisions are append-only: re-screening adds a new
one and the latest counts. Dosing requires the latest decision to be "eligible", checked by
`require_eligible` (a clear message) and by a trigger on the infusions table (no bypass).

A protocol deviation records an assessment entered outside its timepoint's window (or another
departure from the protocol), with how early or late it was. Deviations are append-only too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlite_utils import Database

from db import _sql, audit, clock
from db.connection import transaction
from db.errors import ValidationError
from db.participants import get_participant
from db.permissions import authorize
from protocol import Protocol
from protocol.eligibility import decide
from protocol.errors import EligibilityError

DEVIATION_KINDS = ("outside_window", "other")


def baseline_severity(db: Database, protocol: Protocol, participant_id: int) -> dict[str, Any] | None:
    """The latest completed assessment of the protocol's severity scale before the first infusion
    (id, timepoint, total), or None when there is none yet."""
    severity = protocol.eligibility.severity
    if severity is None:
        return None
    return _sql.one(
        db,
        "SELECT a.id, a.timepoint, s.total FROM assessments a "
        "JOIN scores s ON s.id = (SELECT max(id) FROM scores WHERE assessment_id = a.id) "
        "WHERE a.participant_id = ? AND a.scale_id = ? AND a.status <> 'draft' AND s.total IS NOT NULL "
        "AND a.completed_at < coalesce((SELECT min(started_at) FROM infusions WHERE participant_id = a.participant_id), "
        "'9999') ORDER BY a.completed_at DESC, a.id DESC LIMIT 1",
        [participant_id, severity.scale],
    )


def record_eligibility(
    db: Database, actor: Mapping[str, Any], protocol: Protocol, participant_id: int, answers: Mapping[str, Any]
) -> dict[str, Any]:
    """Decide eligibility from the answers and the stored baseline rating, store and audit it.

    An eligible decision moves a screening participant to 'enrolled'; an ineligible one to
    'screen_failed'; a pending one (missing answers or baseline) changes no status.
    """
    if not isinstance(answers, Mapping):
        raise ValidationError("answers must map each screening question id to its answer")
    with transaction(db):
        participant = get_participant(db, participant_id)
        who = authorize(db, actor, "participant.update", site_id=participant["site_id"])
        baseline = baseline_severity(db, protocol, participant["id"])
        try:
            decision = decide(protocol, dict(answers), baseline["total"] if baseline else None)
        except EligibilityError as exc:
            raise ValidationError(str(exc)) from None
        eligible = None if decision.eligible is None else int(decision.eligible)
        now = clock.utc_now()
        cursor = db.execute(
            "INSERT INTO eligibility_decisions (participant_id, eligible, answers, reasons, pending, baseline_total, "
            "baseline_assessment_id, protocol_id, protocol_hash, decided_by, decided_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [participant["id"], eligible, json.dumps(dict(answers)), json.dumps(decision.reasons),
             json.dumps(decision.pending), baseline["total"] if baseline else None, baseline["id"] if baseline else None,
             protocol.id, protocol.hash, who.get("id"), now],
        )
        verdict = {None: "pending", 1: "eligible", 0: "not eligible"}[eligible]
        audit.record(db, who, "eligibility.decide", "participant", participant["id"], field="eligibility",
                     new={"eligible": verdict, "reasons": decision.reasons, "pending": decision.pending,
                          "baseline_total": baseline["total"] if baseline else None},
                     participant_id=participant["id"])
        new_status = {1: "enrolled", 0: "screen_failed"}.get(eligible)
        if new_status and participant["status"] in ("screening", "enrolled", "screen_failed") \
                and participant["status"] != new_status:
            db.execute("UPDATE participants SET status = ?, updated_at = ? WHERE id = ?",
                       [new_status, now, participant["id"]])
            audit.record(db, who, "participant.status", "participant", participant["id"], field="status",
                         old=participant["status"], new=new_status, reason=f"eligibility decision: {verdict}",
                         participant_id=participant["id"])
        return latest_eligibility(db, participant["id"]) | {"id": cursor.lastrowid}


def latest_eligibility(db: Database, participant_id: int) -> dict[str, Any] | None:
    """The decision that counts now (the latest), with JSON fields decoded; None if never screened."""
    row = _sql.one(db, "SELECT d.*, u.username AS decided_by_name FROM eligibility_decisions d "
                       "LEFT JOIN users u ON u.id = d.decided_by WHERE d.participant_id = ? ORDER BY d.id DESC LIMIT 1",
                   [participant_id])
    if row is None:
        return None
    for key in ("answers", "reasons", "pending"):
        row[key] = json.loads(row[key])
    row["eligible"] = None if row["eligible"] is None else bool(row["eligible"])
    return row


def require_eligible(db: Database, participant: Mapping[str, Any]) -> None:
    """Raise ValidationError unless the latest eligibility decision allows dosing."""
    decision = latest_eligibility(db, participant["id"])
    if decision is None:
        raise ValidationError(f"participant {participant['code']} has not been screened: record an eligibility "
                              f"decision before the first infusion")
    if decision["eligible"] is not True:
        state = "still pending" if decision["eligible"] is None else "not eligible"
        raise ValidationError(f"participant {participant['code']} cannot be dosed: the latest eligibility decision "
                              f"is {state}")


def record_deviation(
    db: Database,
    actor: Mapping[str, Any],
    participant_id: int,
    timepoint: str,
    description: str,
    *,
    kind: str = "outside_window",
    assessment_id: int | None = None,
    minutes_early: float | None = None,
    minutes_late: float | None = None,
) -> dict[str, Any]:
    """Record a protocol deviation (audited). Any staff member who records data may record one."""
    if kind not in DEVIATION_KINDS:
        raise ValidationError(f"unknown deviation kind {kind!r}; choose one of {', '.join(DEVIATION_KINDS)}")
    description = _sql.text(description, "deviation description", max_len=1000)
    timepoint = _sql.text(timepoint, "timepoint", max_len=64)
    with transaction(db):
        participant = get_participant(db, participant_id)
        who = authorize(db, actor, "assessment.start", site_id=participant["site_id"])
        cursor = db.execute(
            "INSERT INTO protocol_deviations (participant_id, assessment_id, timepoint, kind, description, "
            "minutes_early, minutes_late, recorded_by, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [participant["id"], assessment_id, timepoint, kind, description, minutes_early or None,
             minutes_late or None, who.get("id"), clock.utc_now()],
        )
        audit.record(db, who, "deviation.record", "protocol_deviation", cursor.lastrowid, new=description,
                     participant_id=participant["id"])
        return _sql.one(db, "SELECT * FROM protocol_deviations WHERE id = ?", [cursor.lastrowid])


def list_deviations(db: Database, participant_id: int | None = None) -> list[dict[str, Any]]:
    if participant_id is None:
        return _sql.many(db, "SELECT * FROM protocol_deviations ORDER BY id")
    return _sql.many(db, "SELECT * FROM protocol_deviations WHERE participant_id = ? ORDER BY id", [participant_id])
