"""Self-report sessions: the questionnaires a participant answers on the clinic tablet (kiosk)
or on their own phone (link), and what the study team sees of them.

Staff side:
- giving the questionnaires (drafts plus ONE link, with the protocol window check) is a study
  use case, study.self_report.start_self_report, so it shares the find-or-start rule of every
  other path that starts a rating;
- `list_links` and `list_self_reports` feed the staff page: which links exist and in what
  state, and the submitted questionnaires with their stored totals.

Participant side:
- `open_link_set` returns the questionnaires of the participant actor's link (the token is
  checked against the database first, so a revoked or expired link, or one another browser
  holds, stops at the next tap). It carries the answers and each questionnaire's version, never
  a score: participants are not shown totals.
- `save_answer` and `submit_questionnaire` are the participant's only writes. Each first asks
  db.tokens who may use the link now (only its holder: one browser at a time), then goes through
  db.assessments (save_draft_response, complete_assessment), whose permission check
  (db.permissions) lets a participant actor touch only its link's set. Both take the version
  of the answers the screen showed (optimistic concurrency, as the clinician form): a copy of
  the page open twice (two tabs of the holder) cannot overwrite or send answers it did not show;
  the stale write is refused with `StaleAnswers` and writes nothing.
Completing the last questionnaire of the set uses the link up (db.tokens.consume).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlite_utils import Database

from db import _sql, assessments, clock, tokens
from db.connection import transaction
from db.errors import ConflictError, ValidationError

SELF_REPORT_MODES = tokens.SELF_REPORT_MODES


class StaleAnswers(ConflictError):
    """A participant write from a screen that showed an older copy of the answers (the page is
    open twice, e.g. two tabs): nothing was saved; the page shows the answers stored now."""


# ---------------------------------------------------------------------------------------------
# participant side
# ---------------------------------------------------------------------------------------------


def open_link_set(db: Database, actor: Mapping[str, Any]) -> dict[str, Any]:
    """What the participant actor's link opens now: {"token": its public row, "site_code",
    "questionnaires": [{id, scale_id, timepoint, recall, status, version, responses}, ...]} in
    the link's order. LinkRefused if the link no longer opens anything. Read-only."""
    token = tokens.check_actor(db, actor)
    site = _sql.one(
        db,
        "SELECT s.code FROM participants p JOIN sites s ON s.id = p.site_id WHERE p.id = ?",
        [token["participant_id"]],
    )
    rows = _sql.many(
        db,
        "SELECT a.id, a.scale_id, a.timepoint, a.recall, a.status, a.version, a.definition_hash "
        "FROM self_report_link_assessments l JOIN assessments a ON a.id = l.assessment_id "
        "WHERE l.token_id = ? AND l.participant_id = ? ORDER BY l.position",
        [token["id"], token["participant_id"]],
    )
    answers: dict[int, dict[str, int]] = {row["id"]: {} for row in rows}
    if rows:
        marks = ", ".join("?" for _ in rows)
        for aid, item_id, value in db.execute(
            f"SELECT assessment_id, item_id, value FROM item_responses WHERE assessment_id IN ({marks}) "
            "AND value IS NOT NULL ORDER BY id",
            [r["id"] for r in rows],
        ).fetchall():
            answers[aid][item_id] = value
    for row in rows:
        row["responses"] = answers[row["id"]]
    return {"token": token, "site_code": site["code"] if site else None, "questionnaires": rows}


def _shown_version(expected_version: Any) -> int:
    if isinstance(expected_version, bool) or not isinstance(expected_version, int):
        raise ValidationError(
            f"expected_version must be the version of the answers on screen, not {expected_version!r}"
        )
    return expected_version


def _stale(db: Database, assessment_id: Any, expected_version: int) -> StaleAnswers | None:
    row = _sql.one(db, "SELECT version FROM assessments WHERE id = ?", [assessment_id])
    if row is None or row["version"] == expected_version:
        return None
    return StaleAnswers(
        f"the answers of assessment {assessment_id} were changed in another window or on another device since this "
        f"screen was drawn (it showed version {expected_version}, the stored copy is version {row['version']}); nothing "
        f"was saved: look at the answers stored now and answer again"
    )


def save_answer(
    db: Database, actor: Mapping[str, Any], assessment_id: int, item_id: str, value: int | None, expected_version: int
) -> dict[str, Any]:
    """Save one answer the participant tapped, in one transaction with its audit event (and any
    safety alert it raises), only if this browser holds the link (db.tokens.require_holder) and
    the answers on its screen (`expected_version`) are still the stored ones; returns the
    assessment as stored now. The same answer tapped again is accepted as a no-op.
    StaleAnswers (a ConflictError) when another window saved in between; LinkRefused when the
    link no longer opens anything for this browser."""
    expected = _shown_version(expected_version)
    with transaction(db):
        tokens.require_holder(db, actor)
        try:
            return assessments.save_draft_response(db, actor, assessment_id, item_id, value, expected_version=expected)
        except ConflictError:
            stale = _stale(db, assessment_id, expected)
            if stale is None:
                raise
            raise stale from None


def submit_questionnaire(
    db: Database, actor: Mapping[str, Any], assessment_id: int, expected_version: int
) -> dict[str, Any]:
    """Send (complete) one questionnaire with exactly the answers the check page showed
    (`expected_version`): score, store, raise any safety alert, use the link up after the last
    one, in one transaction; only from the browser that holds the link. StaleAnswers when the
    answers changed in another window since the check page was drawn (nothing is sent)."""
    expected = _shown_version(expected_version)
    with transaction(db):
        tokens.require_holder(db, actor)
        try:
            return assessments.complete_assessment(db, actor, assessment_id, expected)
        except ConflictError:
            stale = _stale(db, assessment_id, expected)
            if stale is None:
                raise
            raise stale from None


# ---------------------------------------------------------------------------------------------
# staff side: reading
# ---------------------------------------------------------------------------------------------


def list_links(db: Database, participant_id: int) -> list[dict[str, Any]]:
    """Every link made for the participant, newest first, each with its "state" (active, used,
    revoked, expired), "held" (a browser has taken it: only that browser can use it now) and
    "questionnaires" ([{assessment_id, scale_id, timepoint, status}])."""
    pid = _sql.record_id(participant_id, "participant")
    rows = _sql.many(
        db, f"SELECT {tokens.PUBLIC_COLUMNS} FROM self_report_tokens WHERE participant_id = ? ORDER BY id DESC", [pid]
    )
    members = _sql.many(
        db,
        "SELECT l.token_id, l.assessment_id, a.scale_id, a.timepoint, a.status FROM self_report_link_assessments l "
        "JOIN assessments a ON a.id = l.assessment_id WHERE l.participant_id = ? ORDER BY l.token_id, l.position",
        [pid],
    )
    by_token: dict[int, list[dict[str, Any]]] = {}
    for member in members:
        by_token.setdefault(member.pop("token_id"), []).append(member)
    now = clock.utc_now()
    for row in rows:
        row["questionnaires"] = by_token.get(row["id"], [])
        row["assessment_ids"] = [m["assessment_id"] for m in row["questionnaires"]]
        row["state"] = tokens.token_state(row, now)
        row["held"] = row["held_at"] is not None
    return rows


def list_self_reports(db: Database, participant_id: int) -> list[dict[str, Any]]:
    """The participant's self-report assessments (modes self, kiosk, link), oldest first, with
    the number of answers and the current stored score (total, band, complete, flags; None for
    a draft). Drafts carry their answers, so the page can warn about an unsubmitted safety item."""
    pid = _sql.record_id(participant_id, "participant")
    rows = _sql.many(
        db,
        "SELECT a.id, a.timepoint, a.scale_id, a.mode, a.status, a.started_at, a.completed_at, a.completed_by, "
        "(SELECT count(*) FROM item_responses r WHERE r.assessment_id = a.id AND r.value IS NOT NULL) AS answered, "
        "s.total, s.band, s.complete, s.flags FROM assessments a "
        "LEFT JOIN scores s ON s.id = (SELECT max(id) FROM scores WHERE assessment_id = a.id) "
        "WHERE a.participant_id = ? AND a.mode IN ('self', 'kiosk', 'link') ORDER BY a.started_at, a.id",
        [pid],
    )
    for row in rows:
        row["flags"] = json.loads(row["flags"]) if row["flags"] else []
        row["complete"] = None if row["complete"] is None else bool(row["complete"])
        row["responses"] = None
        if row["status"] == "draft":
            row["responses"] = dict(
                db.execute(
                    "SELECT item_id, value FROM item_responses WHERE assessment_id = ? AND value IS NOT NULL",
                    [row["id"]],
                ).fetchall()
            )
    return rows
