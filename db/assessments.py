"""Assessments: one administration of one scale, from first tap to lock.

Lifecycle (a trigger enforces the same transitions in SQL):

    draft ──complete──▶ complete ──sign──▶ signed ──lock──▶ locked
                           │                  │
                           └──amend──▶ amended ◀──amend──┘  (amended → sign / lock / amend)

- A *draft* is saved one item at a time (`save_draft_response`), so a dropped tablet
  connection loses at most the tap in flight; `load_assessment` brings it back.
- *Completing* scores the stored responses with the scale engine and stores the result (total,
  subscales, band, completeness, prorating, engine version, definition hash) together with any
  safety alerts and the audit events, in one transaction. `save_assessment` does start,
  responses and completion in one transaction (the one-shot form: kiosk, import, benchmark).
- After completion nothing changes without a reason: `amend_assessment` records one audit
  event per changed item (old value, new value, reason), rescoring adds a new score row (the
  old ones stay; the current score is the newest), and the status becomes *amended*.
- A *locked* assessment cannot change at all; triggers refuse any write to it or its responses
  and scores, even from SQL typed by hand.

Optimistic concurrency: every change raises `version` by one. A caller passes the version it
loaded (`expected_version`); if someone else saved in between, the call raises ConflictError
and writes nothing, so a stale copy never overwrites a newer one. Repeating the exact same
answer is accepted as a no-op (a retried tap after a dropped connection is not a conflict).

The definition used is the one whose content hash was stored when the assessment started. If
the definition file has since changed, responses are refused with a ConflictError rather than
being scored by rules the assessment was not started under.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlite_utils import Database

from db import _sql, alerts, audit, clock, tokens
from db.connection import transaction
from db.errors import ConflictError, LockedError, NotFoundError, PermissionDeniedError, ValidationError
from db.participants import get_participant
from db.permissions import PARTICIPANT, authorize, require
from db.screening import reevaluate_pending_eligibility
from protocol.late_entry import late_entry_problem
from scales import ScaleDefinition, ScoreResult, get_scale, score
from scales.engine import check_responses, normalise_value
from scales.errors import ResponseError, ScaleError, UnknownScaleError

MODES = ("clinician", "self", "kiosk", "link")
SIGNATURE_MEANINGS = ("authored", "reviewed", "approved")
AMENDABLE = ("complete", "signed", "amended")


# ---------------------------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------------------------

_ROW = (
    "SELECT a.*, p.code AS participant_code, p.site_id, u.username AS rater "
    "FROM assessments a JOIN participants p ON p.id = a.participant_id LEFT JOIN users u ON u.id = a.rater_id "
)


def _get(db: Database, assessment_id: Any) -> dict[str, Any]:
    aid = _sql.record_id(assessment_id, "assessment")
    row = _sql.one(db, _ROW + "WHERE a.id = ?", [aid])
    if row is None:
        raise NotFoundError(f"no assessment with id {aid}; reload the worklist")
    return row


def _responses(db: Database, assessment_id: int) -> dict[str, int]:
    return dict(
        db.execute(
            "SELECT item_id, value FROM item_responses WHERE assessment_id = ? AND value IS NOT NULL ORDER BY id",
            [assessment_id],
        ).fetchall()
    )


def _score_dict(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for key in ("subscales", "missing", "not_assessed", "flags"):
        out[key] = json.loads(row[key])
    out["complete"] = bool(row["complete"])
    out["prorated"] = bool(row["prorated"])
    return out


def current_score(db: Database, assessment_id: int) -> dict[str, Any] | None:
    """The newest stored score of an assessment (None before completion)."""
    row = _sql.one(db, "SELECT * FROM scores WHERE assessment_id = ? ORDER BY id DESC LIMIT 1", [assessment_id])
    return None if row is None else _score_dict(row)


def score_history(db: Database, assessment_id: int) -> list[dict[str, Any]]:
    """Every stored score of an assessment, oldest first (one per completion or amendment)."""
    rows = _sql.many(db, "SELECT * FROM scores WHERE assessment_id = ? ORDER BY id", [assessment_id])
    return [_score_dict(r) for r in rows]


def load_assessment(db: Database, assessment_id: int) -> dict[str, Any]:
    """The assessment with its responses ({item_id: value}), not-assessed reasons
    ({item_id: reason}), current stored score (or None), signatures, status and version."""
    row = _get(db, assessment_id)
    answers = _sql.many(
        db,
        "SELECT item_id, value, not_assessed_reason FROM item_responses WHERE assessment_id = ? ORDER BY id",
        [row["id"]],
    )
    row["responses"] = {a["item_id"]: a["value"] for a in answers if a["value"] is not None}
    row["not_assessed_reasons"] = {a["item_id"]: a["not_assessed_reason"] for a in answers if a["not_assessed_reason"]}
    row["score"] = current_score(db, row["id"])
    row["signatures"] = _sql.many(
        db,
        "SELECT user_id, username, meaning, assessment_version, signed_at FROM signatures "
        "WHERE assessment_id = ? ORDER BY id",
        [row["id"]],
    )
    return row


def find_assessment(db: Database, participant_id: int, timepoint: str, scale_id: str) -> dict[str, Any] | None:
    """The assessment of this participant, timepoint and scale, if one was started (to resume it)."""
    row = _sql.one(
        db,
        "SELECT id FROM assessments WHERE participant_id = ? AND timepoint = ? AND scale_id = ?",
        [participant_id, str(timepoint).strip(), scale_id],
    )
    return load_assessment(db, row["id"]) if row else None


def list_assessments(
    db: Database,
    *,
    participant_id: int | None = None,
    status: str | None = None,
    site_id: int | None = None,
    scale_id: str | None = None,
) -> list[dict[str, Any]]:
    """Assessments (without responses) filtered as given, oldest first: worklists and review queues."""
    where, params = [], []
    for column, value in (
        ("a.participant_id", participant_id),
        ("a.status", status),
        ("p.site_id", site_id),
        ("a.scale_id", scale_id),
    ):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    clause = f"WHERE {' AND '.join(where)} " if where else ""
    return _sql.many(db, _ROW + clause + "ORDER BY a.started_at, a.id", params)


HISTORY_COLUMNS = [
    "assessment_id",
    "participant_id",
    "participant_code",
    "timepoint",
    "scale_id",
    "scale_version",
    "mode",
    "recall",
    "status",
    "version",
    "rater",
    "started_at",
    "completed_at",
    "total",
    "band",
    "band_set",
    "complete",
    "prorated",
    "subscales",
    "missing",
    "engine_version",
    "definition_hash",
    "scored_at",
]

HISTORY_SQL = """
SELECT a.id AS assessment_id, a.participant_id, p.code AS participant_code, a.timepoint, a.scale_id,
       a.scale_version, a.mode, a.recall, a.status, a.version, u.username AS rater, a.started_at,
       a.completed_at, s.total, s.band, s.band_set, s.complete, s.prorated, s.subscales, s.missing,
       s.engine_version, s.definition_hash, s.scored_at
FROM assessments a
JOIN participants p ON p.id = a.participant_id
LEFT JOIN scores s ON s.id = (SELECT max(id) FROM scores WHERE assessment_id = a.id)
LEFT JOIN users u ON u.id = a.rater_id
WHERE a.participant_id = ?
ORDER BY a.started_at, a.id
"""


def participant_history(db: Database, participant_id: int) -> pd.DataFrame:
    """One row per assessment of the participant (drafts included), with its current stored
    score: total (nullable Int64), band, complete/prorated (nullable boolean), subscales (dict)
    and missing (list); started/completed/scored times as UTC datetimes."""
    pid = _sql.record_id(participant_id, "participant")
    rows = db.execute(HISTORY_SQL, [pid]).fetchall()
    if not rows:
        get_participant(db, pid)  # NotFoundError for an unknown participant; else an empty history
    columns = dict(zip(HISTORY_COLUMNS, zip(*rows, strict=True) if rows else [()] * len(HISTORY_COLUMNS), strict=True))
    data: dict[str, Any] = {name: list(values) for name, values in columns.items()}
    data["total"] = pd.array(data["total"], dtype="Int64")
    for name in ("complete", "prorated"):
        data[name] = pd.array([None if v is None else bool(v) for v in data[name]], dtype="boolean")
    for name in ("subscales", "missing"):
        data[name] = pd.Series([None if v is None else json.loads(v) for v in data[name]], dtype=object)
    for name in ("started_at", "completed_at", "scored_at"):
        data[name] = _utc_times(data[name])
    return pd.DataFrame(data)


def _utc_times(values: list[str | None]) -> pd.DatetimeIndex:
    """Stored times (ISO-8601 with a trailing Z) as tz-aware UTC datetimes; None becomes NaT.
    numpy parses the fixed stored form in C, far faster than pandas' general parser."""
    naive = np.array([v[:-1] if v else "NaT" for v in values], dtype="datetime64[us]")
    return pd.DatetimeIndex(naive).tz_localize("UTC")


# ---------------------------------------------------------------------------------------------
# checks shared by the write functions
# ---------------------------------------------------------------------------------------------


def _definition(scale_id: Any) -> ScaleDefinition:
    if not isinstance(scale_id, str):
        raise ValidationError(f"scale id must be text such as 'hamd17', not {scale_id!r}")
    try:
        return get_scale(scale_id)
    except UnknownScaleError as exc:
        raise ValidationError(str(exc)) from None
    except ScaleError as exc:
        raise ValidationError(f"scale '{scale_id}' cannot be used until its definition is fixed: {exc}") from None


def _definition_for(row: Mapping[str, Any]) -> ScaleDefinition:
    definition = _definition(row["scale_id"])
    if definition.hash != row["definition_hash"]:
        raise ConflictError(
            f"the {row['scale_id']} definition changed after assessment {row['id']} was started (started with version "
            f"{row['scale_version']}, {row['definition_hash'][:19]}; the installed file is version {definition.version}, "
            f"{definition.hash[:19]}); its stored answers and scores are kept as they are. Restore the definition it "
            f"was started with to continue it"
        )
    return definition


def _check_version(row: Mapping[str, Any], expected_version: Any, *, required: bool) -> None:
    if expected_version is None:
        if required:
            raise ValidationError("expected_version is required: pass the version of the assessment you loaded")
        return
    if isinstance(expected_version, bool) or not isinstance(expected_version, int):
        raise ValidationError(f"expected_version must be a whole number, not {expected_version!r}")
    if expected_version != row["version"]:
        raise ConflictError(
            f"someone else saved a newer copy of assessment {row['id']} (you have version {expected_version}, "
            f"the saved copy is version {row['version']}); nothing was saved: reload it and make your change again"
        )


def _require_status(row: Mapping[str, Any], allowed: tuple[str, ...], doing: str) -> None:
    status = row["status"]
    if status in allowed:
        return
    if status == "locked":
        raise LockedError(f"assessment {row['id']} is locked (since {row['locked_at']}); it can no longer be changed")
    if status == "draft":
        raise ValidationError(f"assessment {row['id']} is still a draft; complete it before you {doing}")
    raise ValidationError(
        f"assessment {row['id']} is already {status}; to change its answers, amend it and give a reason"
        if doing == "answer items"
        else f"assessment {row['id']} is {status}; you cannot {doing} it now"
    )


def _normalise(definition: ScaleDefinition, item_id: Any, value: Any) -> int | None:
    if not isinstance(item_id, str):
        raise ValidationError(f"item id must be text such as '{definition.items[0].id}', not {item_id!r}")
    try:
        return normalise_value(definition, item_id, value)
    except ResponseError as exc:
        raise ValidationError(str(exc)) from None


def _check_all(definition: ScaleDefinition, responses: Mapping[str, Any]) -> dict[str, int]:
    """Every value checked (and the choice groups); unanswered (None) items dropped."""
    try:
        values = check_responses(definition, responses)
    except ResponseError as exc:
        raise ValidationError(str(exc)) from None
    return {k: v for k, v in values.items() if v is not None}


def _bump(db: Database, row: Mapping[str, Any], **fields: Any) -> int:
    """Raise the version by one (and set `fields`), only if nobody else did first."""
    sets = "".join(f", {k} = ?" for k in fields)
    cursor = db.execute(
        f"UPDATE assessments SET version = version + 1, updated_at = ?{sets} WHERE id = ? AND version = ?",
        [clock.utc_now(), *fields.values(), row["id"], row["version"]],
    )
    if cursor.rowcount != 1:  # only possible when a caller holds no write lock; kept as a guard
        raise ConflictError(f"assessment {row['id']} was changed by someone else; reload it")
    return row["version"] + 1


def _score(definition: ScaleDefinition, responses: Mapping[str, int]) -> ScoreResult:
    try:
        return score(definition, responses)
    except ResponseError as exc:
        raise ValidationError(f"the stored answers cannot be scored: {exc}") from None


#: The columns a score row takes from the engine's ScoreResult, in the order of score_values.
SCORE_COLUMNS = (
    "total",
    "subscales",
    "band",
    "band_set",
    "complete",
    "missing",
    "not_assessed",
    "prorated",
    "flags",
    "engine_version",
    "scale_version",
    "definition_hash",
)


def score_values(result: ScoreResult) -> tuple[Any, ...]:
    """The engine's result as stored in a score row (SCORE_COLUMNS): one place for how a score is
    written, used by every save and by the benchmarks' bulk loaders."""
    return (
        result.total,
        json.dumps(result.subscales),
        result.band,
        result.band_set,
        int(result.complete),
        json.dumps(result.missing),
        json.dumps(result.not_assessed),
        int(result.prorated),
        json.dumps(result.flags),
        result.engine_version,
        result.scale_version,
        result.definition_hash,
    )


def _store_score(db, who, row, result: ScoreResult, reason: str) -> tuple[int, list[dict]]:
    """Insert a score row and raise alerts for its safety flags; return its id and audit events."""
    columns = ("assessment_id", *SCORE_COLUMNS, "scored_at", "scored_by", "reason")
    cursor = db.execute(
        f"INSERT INTO scores ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
        [row["id"], *score_values(result), clock.utc_now(), who["username"], reason],
    )
    score_id = cursor.lastrowid
    summary = {
        "score_id": score_id,
        "total": result.total,
        "band": result.band,
        "complete": result.complete,
        "prorated": result.prorated,
        "subscales": result.subscales,
        "engine_version": result.engine_version,
    }
    events = [
        audit.event(
            "score.store", "assessment", row["id"], field="score", new=summary, participant_id=row["participant_id"]
        )
    ]
    # An alert raised in the draft for the same rule is linked to this score, not duplicated.
    events += alerts.raise_for_flags(
        db, row, score_id, result.safety_flags, _definition_for(row), _responses(db, row["id"])
    )
    return score_id, events


def _complete(db, who, row, definition, responses) -> list[dict]:
    """Score the stored responses, store score and alerts, mark complete; return audit events."""
    if not responses:
        raise ValidationError(f"assessment {row['id']} has no answered item; answer at least one before completing")
    result = _score(definition, responses)
    _, events = _store_score(db, who, row, result, "completed")
    now = clock.utc_now()
    _bump(db, row, status="complete", completed_at=now, completed_by=who["username"])
    events.insert(
        0,
        audit.event(
            "assessment.complete",
            "assessment",
            row["id"],
            field="status",
            old=row["status"],
            new="complete",
            participant_id=row["participant_id"],
        ),
    )
    return events


# ---------------------------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------------------------


def _happened_time(value: Any) -> str:
    """A time it happened (aware datetime or ISO-8601 text with an offset) as stored UTC text."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValidationError(f"the time it was rated ({value.isoformat()}) has no time zone; give it in UTC")
        return clock.format_utc(value)
    if isinstance(value, str):
        try:
            return clock.format_utc(clock.parse_utc(value.strip()))
        except ValueError:
            pass
    raise ValidationError(
        f"the time it was rated must be a date and time with a time zone, such as '2026-03-02T09:00:00Z', not {value!r}"
    )


def _late_entry(db, participant, assessed_at, late_entry_reason) -> tuple[str | None, str | None]:
    """(assessed_at, reason) to store for a rating entered after it happened, checked by the one
    rule for late entries (protocol.late_entry): not in the future, not before enrolment, and a
    reason when entered more than LATE_ENTRY_MINUTES after. (None, None) for a live rating."""
    reason = _sql.text(late_entry_reason, "late-entry reason", max_len=1000, required=False)
    if assessed_at is None:
        if reason:
            raise ValidationError(
                "a late-entry reason goes with the time the rating was done; give that time too, "
                "or leave the reason out for a rating entered as it happens"
            )
        return None, None
    happened = _happened_time(assessed_at)
    site = _sql.one(db, "SELECT timezone FROM sites WHERE id = ?", [participant["site_id"]])
    problem = late_entry_problem(
        clock.parse_utc(happened),
        clock.parse_utc(clock.utc_now()),
        clock.parse_utc(participant["created_at"]),
        reason,
        zone=ZoneInfo(site["timezone"]) if site else None,
    )
    if problem:
        raise ValidationError(problem)
    return happened, reason


def _start(
    db,
    actor,
    participant_id,
    timepoint,
    definition,
    mode,
    recall,
    infusion_id,
    assessed_at=None,
    late_entry_reason=None,
):
    """Insert a draft (inside the caller's transaction); return (row, who, audit events).

    `assessed_at`: when the rating was actually done, for one entered after the fact (paper
    source); it is what schedules, windows and charts use, while started_at/completed_at stay
    the entry times. Checked here by protocol.late_entry, whichever path calls this.
    """
    if mode not in MODES:
        raise ValidationError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    recall_ids = [o["id"] for o in definition.recall_options]
    recall = definition.default_recall if recall is None else recall
    if recall not in recall_ids:
        raise ValidationError(
            f"recall period {recall!r} is not offered by {definition.id}; choose one of {', '.join(recall_ids)}"
        )
    timepoint = _sql.text(timepoint, "timepoint", max_len=64)
    participant = get_participant(db, participant_id)
    who = authorize(db, actor, "assessment.start", site_id=participant["site_id"])
    if participant["status"] in ("withdrawn", "screen_failed", "completed"):
        raise ValidationError(
            f"participant {participant['code']} is {participant['status'].replace('_', ' ')}; no new assessments can "
            f"be started for them"
        )
    if infusion_id is not None:
        infusion_id = _sql.record_id(infusion_id, "infusion")
        if not _sql.one(
            db, "SELECT id FROM infusions WHERE id = ? AND participant_id = ?", [infusion_id, participant["id"]]
        ):
            raise NotFoundError(f"participant {participant['code']} has no infusion with id {infusion_id}")
    existing = _sql.one(
        db,
        "SELECT id, status FROM assessments WHERE participant_id = ? AND timepoint = ? AND scale_id = ?",
        [participant["id"], timepoint, definition.id],
    )
    if existing:
        raise ConflictError(
            f"{definition.id} at timepoint '{timepoint}' was already started for participant {participant['code']} "
            f"(assessment {existing['id']}, {existing['status']}); open that one instead"
        )
    assessed_at, late_entry_reason = _late_entry(db, participant, assessed_at, late_entry_reason)
    now = clock.utc_now()
    cursor = db.execute(
        "INSERT INTO assessments (participant_id, timepoint, infusion_id, scale_id, scale_version, "
        "definition_hash, mode, recall, rater_id, status, version, started_at, updated_at, assessed_at, "
        "late_entry_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'draft', 1, ?, ?, ?, ?)",
        [
            participant["id"],
            timepoint,
            infusion_id,
            definition.id,
            definition.version,
            definition.hash,
            mode,
            recall,
            who.get("id"),
            now,
            now,
            assessed_at,
            late_entry_reason,
        ],
    )
    row = _get(db, cursor.lastrowid)
    started = {
        "participant": participant["code"],
        "timepoint": timepoint,
        "scale_id": definition.id,
        "scale_version": definition.version,
        "definition_hash": definition.hash,
        "mode": mode,
        "recall": recall,
    }
    if assessed_at is not None:
        started.update(assessed_at=assessed_at, late_entry_reason=late_entry_reason)
    events = [
        audit.event(
            "assessment.start",
            "assessment",
            row["id"],
            participant_id=participant["id"],
            new=started,
            reason=late_entry_reason,
        )
    ]
    return row, who, events


def start_assessment(
    db: Database,
    actor: Mapping[str, Any],
    participant_id: int,
    timepoint: str,
    scale_id: str,
    mode: str,
    recall: str | None = None,
    *,
    infusion_id: int | None = None,
    assessed_at: Any = None,
    late_entry_reason: str | None = None,
) -> dict[str, Any]:
    """Open a draft of `scale_id` for the participant at `timepoint` and return it (version 1).

    `mode` is clinician, self, kiosk or link; `recall` one of the definition's recall periods
    (default: the definition's default). Stores the scale version and definition hash.
    ConflictError if this participant already has this scale at this timepoint.

    `assessed_at` (aware datetime or ISO-8601 text) is when the rating was actually done, for one
    entered after the fact; `late_entry_reason` is required when that is more than
    protocol.late_entry.LATE_ENTRY_MINUTES before now. ValidationError, and nothing saved, for a
    time in the future, before the participant's enrolment, or late without a reason.
    """
    definition = _definition(scale_id)
    with transaction(db):
        row, who, events = _start(
            db, actor, participant_id, timepoint, definition, mode, recall, infusion_id, assessed_at, late_entry_reason
        )
        audit.record_many(db, who, events)
        return load_assessment(db, row["id"])


SELF_REPORT_MODES = ("self", "kiosk", "link")


def _require_participant_answers(row: Mapping[str, Any], who: Mapping[str, Any]) -> None:
    """A self-report questionnaire (self, kiosk or link mode) is answered and completed by the
    participant only (in participant mode); staff may read it, never answer it for them."""
    if row["mode"] in SELF_REPORT_MODES and who.get("role") != PARTICIPANT:
        raise PermissionDeniedError(
            f"assessment {row['id']} is the participant's own questionnaire ({row['mode']} mode): only the "
            "participant answers it, in participant mode; staff can view it but not change it"
        )


def save_draft_response(
    db: Database,
    actor: Mapping[str, Any],
    assessment_id: int,
    item_id: str,
    value: int | None,
    expected_version: int | None = None,
    not_assessed_reason: str | None = None,
) -> dict[str, Any]:
    """Save (or with value None, clear) one answer of a draft and return the assessment.

    The value is checked against the item's options and not-assessed codes, and the choice
    groups (e.g. HAM-D 16a/16b) against the other stored answers. `not_assessed_reason` may go
    with a not-assessed code or an unanswered item, not with a score. One audit event per save.

    In the same transaction the scale engine evaluates the draft's safety rules on its answers
    so far (db.alerts.sync_draft_alerts): a safety answer raises the PI's alert at once (an
    abandoned draft still alerts), a corrected one resolves it, each change audited.
    """
    reason = _sql.text(not_assessed_reason, "not-assessed reason", max_len=500, required=False)
    with transaction(db):
        row = _get(db, assessment_id)
        who = authorize(
            db,
            actor,
            "assessment.respond",
            site_id=row["site_id"],
            participant_id=row["participant_id"],
            assessment_id=row["id"],
        )
        _require_participant_answers(row, who)
        _require_status(row, ("draft",), "answer items")
        definition = _definition_for(row)
        value = _normalise(definition, item_id, value)
        if reason and value is not None and value in definition.item_by_id[item_id].scored_values:
            raise ValidationError(
                f"item {item_id}: a not-assessed reason goes with a not-assessed code or an unanswered item, not "
                f"with the score {value}; remove the reason or record the item as not assessed"
            )
        stored = _sql.one(
            db,
            "SELECT value, not_assessed_reason FROM item_responses WHERE assessment_id = ? AND item_id = ?",
            [row["id"], item_id],
        )
        old_value = stored["value"] if stored else None
        if (old_value, stored["not_assessed_reason"] if stored else None) == (value, reason):
            return load_assessment(db, row["id"])  # the same tap again: nothing to do
        _check_version(row, expected_version, required=False)
        others: dict[str, int | None] = {**_responses(db, row["id"]), item_id: value}
        _check_all(definition, others)
        db.execute(
            "INSERT INTO item_responses (assessment_id, item_id, value, not_assessed_reason, answered_at, answered_by) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (assessment_id, item_id) DO UPDATE SET value = excluded.value, "
            "not_assessed_reason = excluded.not_assessed_reason, answered_at = excluded.answered_at, "
            "answered_by = excluded.answered_by",
            [row["id"], item_id, value, reason, clock.utc_now(), who["username"]],
        )
        _bump(db, row)
        events = [
            audit.event(
                "response.clear" if value is None else "response.save",
                "assessment",
                row["id"],
                field=item_id,
                old=old_value,
                new=value,
                reason=reason,
                participant_id=row["participant_id"],
            )
        ]
        # A safety answer alerts now, in this transaction, not at submit (and a corrected one resolves it).
        events += alerts.sync_draft_alerts(db, who, row, definition, {k: v for k, v in others.items() if v is not None})
        audit.record_many(db, who, events)
        return load_assessment(db, row["id"])


def complete_assessment(db: Database, actor: Mapping[str, Any], assessment_id: int, expected_version: int) -> dict:
    """Score the stored responses, store the score (and safety alerts), mark complete: one transaction.

    Unanswered items follow the scale's missing-item policy: the stored score says whether it is
    complete, which items are missing and whether the total was prorated.
    """
    with transaction(db):
        row = _get(db, assessment_id)
        who = authorize(
            db,
            actor,
            "assessment.complete",
            site_id=row["site_id"],
            participant_id=row["participant_id"],
            assessment_id=row["id"],
        )
        _require_participant_answers(row, who)
        _require_status(row, ("draft",), "complete")
        _check_version(row, expected_version, required=True)
        definition = _definition_for(row)
        events = _complete(db, who, row, definition, _responses(db, row["id"]))
        events += reevaluate_pending_eligibility(db, who, row)  # a pending screening waiting for this rating
        if who["role"] == PARTICIPANT:
            events += tokens.consume(db, who)
        audit.record_many(db, who, events)
        return load_assessment(db, row["id"])


def _not_assessed_reasons(
    definition: ScaleDefinition, values: Mapping[str, int], reasons: Mapping[str, Any] | None
) -> dict[str, str]:
    """The not-assessed reasons given to save_assessment, checked: known items, text, and never
    beside a score (the rule save_draft_response applies to one item)."""
    if reasons is None:
        return {}
    if not isinstance(reasons, Mapping):
        raise ValidationError("not-assessed reasons must be a mapping of item id to reason")
    checked = {}
    for item_id, reason in reasons.items():
        _normalise(definition, item_id, None)  # an unknown item id is refused
        text = _sql.text(reason, f"not-assessed reason of item {item_id}", max_len=500, required=False)
        if not text:
            continue
        value = values.get(item_id)
        if value is not None and value in definition.item_by_id[item_id].scored_values:
            raise ValidationError(
                f"item {item_id}: a not-assessed reason goes with a not-assessed code or an unanswered item, not "
                f"with the score {value}; remove the reason or record the item as not assessed"
            )
        checked[item_id] = text
    return checked


def save_assessment(
    db: Database,
    actor: Mapping[str, Any],
    participant_id: int,
    timepoint: str,
    scale_id: str,
    mode: str,
    responses: Mapping[str, Any],
    recall: str | None = None,
    *,
    infusion_id: int | None = None,
    assessed_at: Any = None,
    late_entry_reason: str | None = None,
    not_assessed_reasons: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Start, answer and complete an assessment in ONE transaction (all of it is saved or none).

    Every value is checked before anything is written; audit events: the start, one per
    answered item, the completion, the stored score and any safety alert.

    `assessed_at` and `late_entry_reason`: when a rating entered after the fact (a paper source
    transcribed) was done, checked by the late-entry rule as in start_assessment.
    `not_assessed_reasons` ({item_id: reason}): why an item was not assessed; as in
    save_draft_response it goes with a not-assessed code or an unanswered item, not with a score.
    """
    definition = _definition(scale_id)
    if not isinstance(responses, Mapping):
        raise ValidationError("responses must be a mapping of item id to value")
    values = _check_all(definition, responses)
    reasons = _not_assessed_reasons(definition, values, not_assessed_reasons)
    require(actor, "assessment.complete")
    with transaction(db):
        row, who, events = _start(
            db, actor, participant_id, timepoint, definition, mode, recall, infusion_id, assessed_at, late_entry_reason
        )
        now = clock.utc_now()
        answered = list(values) + [item for item in reasons if item not in values]
        db.conn.executemany(
            "INSERT INTO item_responses (assessment_id, item_id, value, not_assessed_reason, answered_at, answered_by) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(row["id"], item, values.get(item), reasons.get(item), now, who["username"]) for item in answered],
        )
        events += [
            audit.event(
                "response.save",
                "assessment",
                row["id"],
                field=item,
                old=None,
                new=values.get(item),
                reason=reasons.get(item),
                participant_id=row["participant_id"],
            )
            for item in answered
        ]
        events += _complete(db, who, row, definition, values)
        events += reevaluate_pending_eligibility(db, who, row)  # a pending screening waiting for this rating
        audit.record_many(db, who, events)
        return load_assessment(db, row["id"])


def sign_assessment(
    db: Database, actor: Mapping[str, Any], assessment_id: int, expected_version: int, meaning: str = "authored"
) -> dict[str, Any]:
    """Electronically sign a complete (or amended, or already signed) assessment.

    The signature records who, when and its meaning (authored, reviewed, approved) and the
    version signed. Only the rater of a clinician-rated assessment can sign it as its author.
    The caller checks the password again first (`users.authenticate`), as Part 11 requires.
    """
    if meaning not in SIGNATURE_MEANINGS:
        raise ValidationError(f"unknown signature meaning {meaning!r}; choose one of {', '.join(SIGNATURE_MEANINGS)}")
    with transaction(db):
        row = _get(db, assessment_id)
        who = authorize(db, actor, "assessment.sign", site_id=row["site_id"])
        _require_status(row, ("complete", "signed", "amended"), "sign")
        _check_version(row, expected_version, required=True)
        if meaning == "authored" and (row["mode"] != "clinician" or row["rater_id"] != who["id"]):
            raise PermissionDeniedError(
                "only the rater who administered a clinician-rated assessment can sign it as author; "
                "sign it as 'reviewed' instead"
            )
        if _sql.one(
            db,
            "SELECT id FROM signatures WHERE assessment_id = ? AND user_id = ? AND meaning = ? "
            "AND assessment_version = ?",
            [row["id"], who["id"], meaning, row["version"] + 1],
        ):
            raise ConflictError(f"you have already signed this version of assessment {row['id']} as {meaning}")
        now = clock.utc_now()
        version = _bump(db, row, status="signed", signed_at=now, signed_by=who["id"], signature_meaning=meaning)
        db.execute(
            "INSERT INTO signatures (assessment_id, user_id, username, meaning, assessment_version, signed_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [row["id"], who["id"], who["username"], meaning, version, now],
        )
        audit.record(
            db,
            who,
            "assessment.sign",
            "assessment",
            row["id"],
            field="status",
            old=row["status"],
            new="signed",
            reason=f"signature meaning: {meaning}",
            participant_id=row["participant_id"],
        )
        return load_assessment(db, row["id"])


def amend_assessment(
    db: Database,
    actor: Mapping[str, Any],
    assessment_id: int,
    changes: Mapping[str, Any],
    reason: str,
    expected_version: int,
) -> dict[str, Any]:
    """Change answers of a completed assessment, with a reason; rescore; status amended.

    `changes` maps item id to the new value (None clears it). One audit event per changed item
    with old value, new value and the reason; a new score row (the old one stays as history).
    """
    reason = _sql.text(
        reason,
        "a reason for the change (e.g. 'rater transcription error, corrected from the paper worksheet')",
        max_len=1000,
    )
    if not isinstance(changes, Mapping) or not changes:
        raise ValidationError("changes must name at least one item and its new value, e.g. {'hamd17_1': 2}")
    with transaction(db):
        row = _get(db, assessment_id)
        who = authorize(db, actor, "assessment.amend", site_id=row["site_id"])
        _require_status(row, AMENDABLE, "amend")
        _check_version(row, expected_version, required=True)
        definition = _definition_for(row)
        new_values = {item: _normalise(definition, item, value) for item, value in changes.items()}
        current = _responses(db, row["id"])
        merged = {**current, **new_values}
        _check_all(definition, merged)
        changed = {item: v for item, v in new_values.items() if current.get(item) != v}
        if not changed:
            raise ValidationError("every value given is already the saved value; there is nothing to amend")
        now = clock.utc_now()
        events = []
        for item, value in changed.items():
            db.execute(
                "INSERT INTO item_responses (assessment_id, item_id, value, answered_at, answered_by) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (assessment_id, item_id) DO UPDATE SET value = excluded.value, "
                "answered_at = excluded.answered_at, answered_by = excluded.answered_by, "
                "not_assessed_reason = CASE WHEN excluded.value IS NULL OR excluded.value IN "
                f"({','.join(str(v) for v in sorted(definition.item_by_id[item].not_assessed_values)) or 'NULL'}) "
                "THEN not_assessed_reason END",
                [row["id"], item, value, now, who["username"]],
            )
            events.append(
                audit.event(
                    "assessment.amend",
                    "assessment",
                    row["id"],
                    field=item,
                    old=current.get(item),
                    new=value,
                    reason=reason,
                    participant_id=row["participant_id"],
                )
            )
        _, score_events = _store_score(db, who, row, _score(definition, _responses(db, row["id"])), reason)
        _bump(db, row, status="amended")
        if row["status"] != "amended":
            events.append(
                audit.event(
                    "assessment.status",
                    "assessment",
                    row["id"],
                    field="status",
                    old=row["status"],
                    new="amended",
                    reason=reason,
                    participant_id=row["participant_id"],
                )
            )
        audit.record_many(db, who, events + score_events)
        return load_assessment(db, row["id"])


def lock_assessment(
    db: Database, actor: Mapping[str, Any], assessment_id: int, expected_version: int, reason: str | None = None
) -> dict[str, Any]:
    """Lock a completed assessment for good (data-base lock before analysis). Nothing about it
    can change afterwards; triggers enforce that below the Python layer too."""
    reason = _sql.text(reason, "lock reason", max_len=500, required=False)
    with transaction(db):
        row = _get(db, assessment_id)
        who = authorize(db, actor, "assessment.lock", site_id=row["site_id"])
        _require_status(row, AMENDABLE, "lock")
        _check_version(row, expected_version, required=True)
        _bump(db, row, status="locked", locked_at=clock.utc_now(), locked_by=who["id"])
        audit.record(
            db,
            who,
            "assessment.lock",
            "assessment",
            row["id"],
            field="status",
            old=row["status"],
            new="locked",
            reason=reason,
            participant_id=row["participant_id"],
        )
        return load_assessment(db, row["id"])
