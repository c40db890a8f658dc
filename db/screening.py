"""Eligibility decisions and protocol deviations.

An eligibility decision is computed here, by the protocol's own rules (protocol.eligibility),
from the answers given and the participant's STORED baseline severity score, so a page cannot
record a decision the rules do not support. Decisions are append-only: re-screening adds a new
one and the latest counts. Dosing requires the latest decision to be "eligible", checked by
`require_eligible` (a clear message) and by a trigger on the infusions table (no bypass).
A decision pending on the baseline rating is decided again when that rating is completed:
`reevaluate_pending_eligibility`, called from the completion path in db/assessments (form,
self-report, import alike), in the same transaction and audited as "eligibility.reevaluate".

A protocol deviation records an assessment entered outside its timepoint's window (or another
departure from the protocol), with how early or late it was. Deviations are append-only too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlite_utils import Database

from db import _sql, audit, clock
from db.baseline import baseline_rating
from db.connection import transaction
from db.errors import ValidationError
from db.participants import get_participant
from db.permissions import PARTICIPANT, SYSTEM, authorize
from protocol import Protocol, ProtocolError, load_protocol
from protocol.eligibility import decide
from protocol.errors import EligibilityError


def baseline_severity(db: Database, protocol: Protocol, participant_id: int) -> dict[str, Any] | None:
    """The baseline rating of the protocol's severity scale (id, timepoint, total, happened_at),
    chosen by the one baseline rule (protocol.baseline, through db.baseline), or None when there
    is none yet."""
    severity = protocol.eligibility.severity
    if severity is None:
        return None
    return baseline_rating(db, protocol, participant_id, severity.scale)


def record_eligibility(
    db: Database, actor: Mapping[str, Any], protocol: Protocol, participant_id: int, answers: Mapping[str, Any]
) -> dict[str, Any]:
    """Decide eligibility from the answers and the stored baseline rating, store and audit it.

    An eligible decision moves a screening participant to 'enrolled'; an ineligible one to
    'screen_failed'; a pending one (missing answers or baseline) changes no status. A decision
    pending on the baseline rating is decided again, automatically, when that rating is
    completed (`reevaluate_pending_eligibility`).
    """
    if not isinstance(answers, Mapping):
        raise ValidationError("answers must map each screening question id to its answer")
    with transaction(db):
        participant = get_participant(db, participant_id)
        who = authorize(db, actor, "participant.update", site_id=participant["site_id"])
        baseline = baseline_severity(db, protocol, participant["id"])
        decision_id, events = _store_decision(
            db, who, protocol, participant, answers, baseline, action="eligibility.decide"
        )
        audit.record_many(db, who, events)
        latest = latest_eligibility(db, participant["id"])
        assert latest is not None, "the decision was inserted in this transaction"
        return latest | {"id": decision_id}


def _store_decision(
    db: Database,
    who: Mapping[str, Any],
    protocol: Protocol,
    participant: Mapping[str, Any],
    answers: Mapping[str, Any],
    baseline: Mapping[str, Any] | None,
    *,
    action: str,
    reason: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> tuple[int, list[dict[str, Any]]]:
    """Decide, insert the decision row and move the participant's status (inside the caller's
    transaction); return the new decision's id and the audit events for the caller to record.
    ValidationError (nothing written) when the answers do not fit the protocol."""
    try:
        decision = decide(protocol, dict(answers), baseline["total"] if baseline else None)
    except EligibilityError as exc:
        raise ValidationError(str(exc)) from None
    eligible = None if decision.eligible is None else int(decision.eligible)
    now = clock.utc_now()
    decided_by = who.get("id") if who.get("role") not in (PARTICIPANT, SYSTEM) else None
    cursor = db.execute(
        "INSERT INTO eligibility_decisions (participant_id, eligible, answers, reasons, pending, baseline_total, "
        "baseline_assessment_id, protocol_id, protocol_hash, decided_by, decided_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            participant["id"],
            eligible,
            json.dumps(dict(answers)),
            json.dumps(decision.reasons),
            json.dumps(decision.pending),
            baseline["total"] if baseline else None,
            baseline["id"] if baseline else None,
            protocol.id,
            protocol.hash,
            decided_by,
            now,
        ],
    )
    decision_id = _sql.new_id(cursor)
    verdict = {None: "pending", 1: "eligible", 0: "not eligible"}[eligible]
    events = [
        audit.event(
            action,
            "participant",
            participant["id"],
            field="eligibility",
            reason=reason,
            new={
                "decision_id": decision_id,
                "eligible": verdict,
                "reasons": decision.reasons,
                "pending": decision.pending,
                "baseline_total": baseline["total"] if baseline else None,
                **(details or {}),
            },
            participant_id=participant["id"],
        )
    ]
    new_status = None if eligible is None else {1: "enrolled", 0: "screen_failed"}.get(eligible)
    if (
        new_status
        and participant["status"] in ("screening", "enrolled", "screen_failed")
        and participant["status"] != new_status
    ):
        db.execute(
            "UPDATE participants SET status = ?, updated_at = ? WHERE id = ?", [new_status, now, participant["id"]]
        )
        events.append(
            audit.event(
                "participant.status",
                "participant",
                participant["id"],
                field="status",
                old=participant["status"],
                new=new_status,
                reason=f"eligibility decision: {verdict}",
                participant_id=participant["id"],
            )
        )
    return decision_id, events


REEVALUATE_ACTION = "eligibility.reevaluate"  # the audit action of a decision taken again automatically


def active_protocol() -> Protocol | None:
    """The protocol the app runs, for write paths that are not handed one (the completion of a
    rating): protocol.load_protocol(), i.e. $SCALEBOOK_PROTOCOL or protocol/studies/default.json,
    the same file ui/study.current_protocol loads for the pages. None when the file cannot be
    loaded: the app refuses to start then, and a rating is never refused because of it."""
    try:
        return load_protocol()
    except ProtocolError:
        return None


def reevaluate_pending_eligibility(
    db: Database, who: Mapping[str, Any], assessment: Mapping[str, Any], protocol: Protocol | None = None
) -> list[dict[str, Any]]:
    """Decide a pending eligibility again now that the baseline rating it waits for exists.

    Called by every path that completes (or amends) an assessment, inside that transaction, with
    the acting user as authorized there (`who`) and the assessment row (id, participant_id,
    scale_id). When the assessment is the participant's baseline severity rating (the protocol's
    `eligibility.severity` scale, selected by `baseline_severity`) and the participant's latest
    decision is pending on that criterion, a new decision is decided from the SAME answers and
    this rating, stored (decisions are append-only: the pending one stays as history) and the
    participant's status follows as for `record_eligibility`. Returns the audit events (action
    "eligibility.reevaluate", then any status change) for the caller to record with its own, so
    the rating and the decision it settles commit together or not at all; [] when nothing is due.

    The decision is the protocol's rule applied to stored data, not a judgement, so no screening
    permission is needed: the user who completed the rating is recorded as the actor. Nothing is
    re-decided when the pending decision was taken under another protocol, or its answers no
    longer fit this one (the screening page then asks for the decision to be recorded again).
    `protocol` defaults to `active_protocol()`.
    """
    protocol = protocol if protocol is not None else active_protocol()
    if protocol is None or protocol.eligibility.severity is None:
        return []
    severity = protocol.eligibility.severity
    if assessment["scale_id"] != severity.scale:
        return []
    latest = latest_eligibility(db, assessment["participant_id"])
    if (
        latest is None
        or latest["eligible"] is not None
        or severity.id not in latest["pending"]
        or latest["protocol_id"] != protocol.id
    ):
        return []
    baseline = baseline_severity(db, protocol, assessment["participant_id"])
    if baseline is None or baseline["id"] != assessment["id"]:
        return []
    participant = get_participant(db, assessment["participant_id"])
    try:
        _, events = _store_decision(
            db,
            who,
            protocol,
            participant,
            latest["answers"],
            baseline,
            action=REEVALUATE_ACTION,
            reason=f"baseline {severity.scale} rating (assessment {baseline['id']}, {baseline['timepoint']}) "
            f"submitted; pending decision {latest['id']} decided again with its answers",
            details={"replaces_decision_id": latest["id"], "baseline_assessment_id": baseline["id"]},
        )
    except ValidationError:
        return []
    return events


def latest_eligibility(db: Database, participant_id: int) -> dict[str, Any] | None:
    """The decision that counts now (the latest), with JSON fields decoded; None if never screened.

    `automatic` is True for a decision taken again when the baseline rating arrived (then
    `replaces_decision_id` names the pending decision whose answers it reused) and
    `decided_by_name` is whoever completed that rating."""
    row = _sql.one(
        db,
        "SELECT d.*, u.username AS decided_by_name FROM eligibility_decisions d "
        "LEFT JOIN users u ON u.id = d.decided_by WHERE d.participant_id = ? ORDER BY d.id DESC LIMIT 1",
        [participant_id],
    )
    if row is None:
        return None
    event = _sql.one(
        db,
        "SELECT username, new_value FROM audit_events WHERE entity = 'participant' AND entity_id = ? "
        "AND action = ? AND json_extract(new_value, '$.decision_id') = ? ORDER BY id DESC LIMIT 1",
        [str(participant_id), REEVALUATE_ACTION, row["id"]],
    )
    row["automatic"] = event is not None
    row["replaces_decision_id"] = json.loads(event["new_value"]).get("replaces_decision_id") if event else None
    if event and row["decided_by_name"] is None:
        row["decided_by_name"] = event["username"]  # a participant completed the rating (self-report)
    for key in ("answers", "reasons", "pending"):
        row[key] = json.loads(row[key])
    row["eligible"] = None if row["eligible"] is None else bool(row["eligible"])
    return row


def require_eligible(db: Database, participant: Mapping[str, Any]) -> None:
    """Raise ValidationError unless the latest eligibility decision allows dosing."""
    decision = latest_eligibility(db, participant["id"])
    if decision is None:
        raise ValidationError(
            f"participant {participant['code']} has not been screened: record an eligibility "
            f"decision before the first infusion"
        )
    if decision["eligible"] is not True:
        state = "still pending" if decision["eligible"] is None else "not eligible"
        raise ValidationError(
            f"participant {participant['code']} cannot be dosed: the latest eligibility decision is {state}"
        )
