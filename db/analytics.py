"""Read-only bulk queries for the trajectory and cohort views (no writes, no schema changes).

The cohort view needs every participant's current scores and infusions at once; loading them
participant by participant would be 1,000 round trips. Here it is three queries for the whole
cohort (participants, assessments with their current score, infusions), returning plain rows in
the column order `analytics.records` expects, so the analytics stay pure and testable.

When a rating happened = `coalesce(assessed_at, completed_at)` (HAPPENED_AT): a rating entered
after the fact (a paper 24-hour MADRS typed in on day 3) keeps the time it was done, and that is
the time these rows carry in their `completed_at` column, so every chart, outcome and baseline
rule built on them places it where it happened. A live rating has no assessed_at: its completion.

Current score = the newest score row of an assessment (rescoring after an amendment adds a row,
the old ones stay); `n_scores` > 1 marks an assessment whose answers were amended. Drafts have
no score and are not returned.

`data_version` is a cheap fingerprint of everything these views show (the newest audit event,
score, infusion, assessment and participant ids): every change the app makes is audited, so a
submitted rating, an amendment, a logged infusion or an acknowledged alert changes it, and pages
key their caches on it.
"""

from __future__ import annotations

import json
from typing import Any

from sqlite_utils import Database

from db import _sql, alerts, assessments, audit, clinical
from db.participants import get_participant

#: When a rating happened: the time it was done if entered later (paper source), else its
#: completion. The one expression every analytics query uses for an assessment's time.
HAPPENED_AT = "coalesce(a.assessed_at, a.completed_at)"

_SCORE_COLUMNS = (
    "a.id, a.participant_id, a.timepoint, a.scale_id, a.status, a.recall, u.username AS rater, a.started_at, "
    f"{HAPPENED_AT} AS completed_at, s.total, s.band, s.band_set, s.subscales, s.complete, s.definition_hash, s.engine_version"
)

#: Every participant's assessments with the current score. Per assessment, two look-ups in the
#: covering index on scores(assessment_id) (newest score id, number of scores): measured faster
#: than grouping the whole scores table first (207 vs 306 ms for 48,000 assessments), and rows
#: come out participant by participant. Only the columns the cohort view uses are read (the
#: others come back NULL, which costs nothing); the rater is the account id, which is all a
#: rater-change count needs; subscales only for BPRS (its positive subscale is a dissociation
#: measure; the cohort's CADSS peak is the total). Drafts have no score and are left out.
COHORT_ASSESSMENTS_SQL = f"""
SELECT a.id, a.participant_id, a.timepoint, a.scale_id, a.status, NULL, a.rater_id, NULL, {HAPPENED_AT},
       s.total, NULL, NULL, CASE WHEN a.scale_id = 'bprs' THEN s.subscales END, s.complete, NULL, NULL,
       (SELECT count(*) FROM scores WHERE assessment_id = a.id)
FROM participants p
JOIN assessments a ON a.participant_id = p.id
JOIN scores s ON s.id = (SELECT max(id) FROM scores WHERE assessment_id = a.id)
WHERE p.study_id = ? {{site}}
"""

#: Per participant, a fingerprint of everything COHORT_ASSESSMENTS_SQL returns for them: their
#: assessments (how many, the newest id, the sum of versions: a trigger makes every change to an
#: assessment raise its version by one, and locked ones cannot change) and their scores (how
#: many, the newest id: scores are only ever appended). Equal fingerprints, equal rows. Index
#: look-ups per participant: a fifth of the time of loading the rows themselves.
COHORT_FINGERPRINTS_SQL = """
SELECT p.id,
       (SELECT count(*) || ':' || coalesce(max(a.id), 0) || ':' || total(a.version)
        FROM assessments a WHERE a.participant_id = p.id),
       (SELECT count(*) || ':' || coalesce(max(s.id), 0)
        FROM assessments a JOIN scores s ON s.assessment_id = a.id WHERE a.participant_id = p.id)
FROM participants p
WHERE p.study_id = ? {site}
"""

#: One participant's assessments with the current score (index lookups only).
PARTICIPANT_ASSESSMENTS_SQL = f"""
SELECT {_SCORE_COLUMNS}, (SELECT count(*) FROM scores WHERE assessment_id = a.id) AS n_scores
FROM assessments a
JOIN scores s ON s.id = (SELECT max(id) FROM scores WHERE assessment_id = a.id)
LEFT JOIN users u ON u.id = a.rater_id
WHERE a.participant_id = ?
ORDER BY completed_at, a.id
"""

PARTICIPANTS_SQL = """
SELECT p.id, p.code, s.code AS site_code, p.site_id, p.arm, p.status, p.created_at
FROM participants p JOIN sites s ON s.id = p.site_id
WHERE p.study_id = ? {site}
ORDER BY p.code
"""

INFUSIONS_SQL = """
SELECT i.participant_id, i.number, i.started_at, i.ended_at, i.dose_mg_per_kg, i.total_dose_mg, i.planned_duration_min
FROM infusions i JOIN participants p ON p.id = i.participant_id
WHERE p.study_id = ? {site}
ORDER BY i.participant_id, i.number
"""

DATA_VERSION_SQL = (
    "SELECT (SELECT coalesce(max(id), 0) FROM audit_events), (SELECT coalesce(max(id), 0) FROM scores), "
    "(SELECT coalesce(max(id), 0) FROM infusions), (SELECT coalesce(max(id), 0) FROM assessments), "
    "(SELECT coalesce(max(id), 0) FROM participants)"
)


PARTICIPANT_VERSION_SQL = (
    "SELECT (SELECT coalesce(max(id), 0) FROM audit_events WHERE participant_id = :p), "
    "(SELECT coalesce(max(s.id), 0) FROM scores s JOIN assessments a ON a.id = s.assessment_id "
    "WHERE a.participant_id = :p), "
    "(SELECT coalesce(max(id), 0) FROM infusions WHERE participant_id = :p), "
    "(SELECT coalesce(max(id), 0) FROM assessments WHERE participant_id = :p)"
)


def data_version(db: Database) -> str:
    """A fingerprint that changes whenever data these views show changes (see the docstring)."""
    return ".".join(str(v) for v in db.execute(DATA_VERSION_SQL).fetchone())


def participant_version(db: Database, participant_id: int) -> str:
    """The same fingerprint for one participant (index lookups only), so a rating submitted for
    one participant does not invalidate every other participant's cached view."""
    pid = _sql.record_id(participant_id, "participant")
    return ".".join(str(v) for v in db.execute(PARTICIPANT_VERSION_SQL, {"p": pid}).fetchone())


def _study_id(db: Database, study: int | str) -> int:
    if isinstance(study, int):
        return study
    row = _sql.one(db, "SELECT id FROM studies WHERE code = ?", [study])
    return row["id"] if row else 0


def cohort_rows(db: Database, *, site_id: int | None = None, study: int | str = "default") -> dict[str, list]:
    """{"participants": [dict], "assessments": [row tuples], "infusions": [row tuples]} for the
    whole study (or one site), in the column orders of analytics.records."""
    _, site, params = _scope(db, site_id, study)
    return {
        "participants": _sql.many(db, PARTICIPANTS_SQL.format(site=site), params),
        "assessments": db.execute(COHORT_ASSESSMENTS_SQL.format(site=site), params).fetchall(),
        "infusions": db.execute(INFUSIONS_SQL.format(site=site), params).fetchall(),
    }


def _scope(db: Database, site_id: int | None, study: int | str) -> tuple[int, str, list]:
    """(study id, the site condition for the {site} slot of the statements above, parameters)."""
    study_id = _study_id(db, study)
    if site_id is None:
        return study_id, "", [study_id]
    return study_id, "AND p.site_id = ?", [study_id, site_id]


def refresh_cohort_rows(db: Database, previous: dict[str, Any] | None = None, *, site_id: int | None = None,
                        study: int | str = "default") -> dict[str, Any]:
    """cohort_rows, re-reading assessments only for participants whose stored data changed since
    `previous` (an earlier result of this function for the same study and site; None: read all).

    After one submitted rating that is one participant's rows instead of 48,000. Participants and
    infusions are always read afresh (a few thousand rows). The result also carries
    "fingerprints" (COHORT_FINGERPRINTS_SQL) and the rows grouped by participant, for the next
    refresh; callers must treat it as read-only."""
    study_id, site, params = _scope(db, site_id, study)
    fingerprints = {row[0]: (row[1], row[2]) for row in db.execute(COHORT_FINGERPRINTS_SQL.format(site=site), params)}
    usable = previous is not None and previous.get("scope") == (study_id, site_id)
    known = previous["fingerprints"] if usable else {}
    changed = [pid for pid, fingerprint in fingerprints.items() if known.get(pid) != fingerprint]
    by_participant: dict[int, list] = {}
    if usable:
        by_participant = {pid: rows for pid, rows in previous["by_participant"].items()
                          if pid in fingerprints and pid not in changed}
    if changed and usable and len(changed) <= len(fingerprints) // 2:
        only = site + " AND p.id IN (SELECT value FROM json_each(?))"
        fresh = db.execute(COHORT_ASSESSMENTS_SQL.format(site=only), [*params, json.dumps(changed)]).fetchall()
        reread = changed
    elif changed:  # a first read, or most of the study changed: read everyone
        fresh = db.execute(COHORT_ASSESSMENTS_SQL.format(site=site), params).fetchall()
        reread = list(fingerprints)
    else:
        fresh, reread = [], []
    for pid in reread:
        by_participant[pid] = []
    for row in fresh:
        by_participant[row[1]].append(row)
    return {
        "participants": _sql.many(db, PARTICIPANTS_SQL.format(site=site), params),
        "assessments": [row for pid in fingerprints for row in by_participant.get(pid, ())],
        "infusions": db.execute(INFUSIONS_SQL.format(site=site), params).fetchall(),
        "scope": (study_id, site_id),
        "fingerprints": fingerprints,
        "by_participant": by_participant,
        "reread": len(reread),
    }


def participant_rows(db: Database, participant_id: int) -> dict[str, Any]:
    """One participant: {"participant": dict, "assessments": [row tuples], "infusions": [row tuples],
    "alerts": [dict]} (NotFoundError for an unknown id)."""
    participant = get_participant(db, participant_id)
    pid = participant["id"]
    return {
        "participant": participant,
        "assessments": db.execute(PARTICIPANT_ASSESSMENTS_SQL, [pid]).fetchall(),
        "infusions": db.execute(INFUSIONS_SQL.format(site="AND p.id = ?"), [participant["study_id"], pid]).fetchall(),
        "alerts": alerts.list_alerts(db, open_only=False, participant_id=pid),
    }


def participant_record(db: Database, participant_id: int) -> dict[str, Any]:
    """Everything a certified copy of one participant's record holds: the participant, infusions,
    every assessment (drafts included) with its responses, current score, every stored score and
    signatures, the safety alerts, and the participant's whole audit history."""
    participant = get_participant(db, participant_id)
    pid = participant["id"]
    full = []
    for row in assessments.list_assessments(db, participant_id=pid):
        record = assessments.load_assessment(db, row["id"])
        record["score_history"] = assessments.score_history(db, row["id"])
        full.append(record)
    return {
        "participant": participant,
        "infusions": clinical.list_infusions(db, pid),
        "assessments": full,
        "alerts": alerts.list_alerts(db, open_only=False, participant_id=pid),
        "audit": audit.events_for_participant(db, pid),
    }
