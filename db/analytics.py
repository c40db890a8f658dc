"""Read-only bulk queries for the trajectory and cohort views (no writes, no schema changes).

The cohort view needs every participant's current scores and infusions at once; loading them
participant by participant would be 1,000 round trips. Here it is three queries for the whole
cohort (participants, assessments with their current score, infusions). Every column is named
(`AS`) and every row comes back as one of the NamedTuples below (ParticipantRow, AssessmentRow,
InfusionRow): the one description of each row shape, read by name above this package, so the
analytics stay pure and testable and no caller counts columns.

When a rating happened = `coalesce(assessed_at, completed_at)` (HAPPENED_AT): a rating entered
after the fact (a paper 24-hour MADRS typed in on day 3) keeps the time it was done, and that is
the time these rows carry in their `completed_at` column, so every chart, outcome and baseline
rule built on them places it where it happened. A live rating has no assessed_at: its completion.

Current score = the newest score row of an assessment (rescoring after an amendment adds a row,
the old ones stay); `n_scores` > 1 marks an assessment whose answers were amended. Drafts have
no score and are not returned.

`data_version` is a cheap fingerprint of everything these views show (the newest audit event,
score, infusion, assessment and participant ids): every change the app makes is audited, so a
submitted rating, an amendment, a logged infusion or an acknowledged alert changes it. The
cohort snapshot (ui/cohort_data.py) and the trajectory page key what they keep on it.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from sqlite_utils import Database

from db import _sql, alerts, assessments, audit, clinical
from db.participants import get_participant


class ParticipantRow(NamedTuple):
    """One participant of a cohort (PARTICIPANTS_SQL)."""

    id: int
    code: str
    site_code: str | None
    site_id: int | None
    arm: str | None
    status: str | None
    created_at: str | None


class AssessmentRow(NamedTuple):
    """One submitted assessment with its current score (COHORT_ASSESSMENTS_SQL and
    PARTICIPANT_ASSESSMENTS_SQL). `completed_at` is when the rating happened (HAPPENED_AT).
    In cohort rows `rater` is the rater's account id and recall, started_at, band, band_set,
    definition_hash and engine_version are None (the cohort view does not use them)."""

    id: int
    participant_id: int
    timepoint: str
    scale_id: str
    status: str
    recall: str | None
    rater: str | int | None
    started_at: str | None
    completed_at: str | None
    total: int | None
    band: str | None
    band_set: str | None
    subscales: str | None  # the stored JSON text
    complete: int | None
    definition_hash: str | None
    engine_version: str | None
    n_scores: int


class InfusionRow(NamedTuple):
    """One logged infusion (INFUSIONS_SQL)."""

    participant_id: int
    number: int
    started_at: str
    ended_at: str | None
    dose_mg_per_kg: float | None
    total_dose_mg: float | None
    planned_duration_min: int | None


#: When a rating happened: the time it was done if entered later (paper source), else its
#: completion. The one expression every analytics query uses for an assessment's time.
HAPPENED_AT = "coalesce(a.assessed_at, a.completed_at)"

_SCORE_COLUMNS = (
    "a.id AS id, a.participant_id AS participant_id, a.timepoint AS timepoint, a.scale_id AS scale_id, "
    "a.status AS status, a.recall AS recall, u.username AS rater, a.started_at AS started_at, "
    f"{HAPPENED_AT} AS completed_at, s.total AS total, s.band AS band, s.band_set AS band_set, "
    "s.subscales AS subscales, s.complete AS complete, s.definition_hash AS definition_hash, "
    "s.engine_version AS engine_version"
)

#: Every participant's assessments with the current score. Per assessment, two look-ups in the
#: covering index on scores(assessment_id) (newest score id, number of scores): faster than
#: grouping the whole scores table first (bench/bench_analytics.py times this read), and rows
#: come out participant by participant. Only the columns the cohort view uses are read (the
#: others come back NULL, which costs nothing); the rater is the account id, which is all a
#: rater-change count needs. The stored subscales come back as they are for every scale (which
#: scale has which subscales is the definitions' business, not this query's). Drafts have no
#: score and are left out. Columns in AssessmentRow order.
COHORT_ASSESSMENTS_SQL = f"""
SELECT a.id AS id, a.participant_id AS participant_id, a.timepoint AS timepoint, a.scale_id AS scale_id,
       a.status AS status, NULL AS recall, a.rater_id AS rater, NULL AS started_at, {HAPPENED_AT} AS completed_at,
       s.total AS total, NULL AS band, NULL AS band_set, s.subscales AS subscales, s.complete AS complete,
       NULL AS definition_hash, NULL AS engine_version,
       (SELECT count(*) FROM scores WHERE assessment_id = a.id) AS n_scores
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
SELECT p.id AS participant_id,
       (SELECT count(*) || ':' || coalesce(max(a.id), 0) || ':' || total(a.version)
        FROM assessments a WHERE a.participant_id = p.id) AS assessments,
       (SELECT count(*) || ':' || coalesce(max(s.id), 0)
        FROM assessments a JOIN scores s ON s.assessment_id = a.id WHERE a.participant_id = p.id) AS scores
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
SELECT p.id AS id, p.code AS code, s.code AS site_code, p.site_id AS site_id, p.arm AS arm, p.status AS status,
       p.created_at AS created_at
FROM participants p JOIN sites s ON s.id = p.site_id
WHERE p.study_id = ? {site}
ORDER BY p.code
"""

INFUSIONS_SQL = """
SELECT i.participant_id AS participant_id, i.number AS number, i.started_at AS started_at, i.ended_at AS ended_at,
       i.dose_mg_per_kg AS dose_mg_per_kg, i.total_dose_mg AS total_dose_mg,
       i.planned_duration_min AS planned_duration_min
FROM infusions i JOIN participants p ON p.id = i.participant_id
WHERE p.study_id = ? {site}
ORDER BY i.participant_id, i.number
"""

DATA_VERSION_SQL = (
    "SELECT (SELECT coalesce(max(id), 0) FROM audit_events) AS audit, (SELECT coalesce(max(id), 0) FROM scores) AS scores, "
    "(SELECT coalesce(max(id), 0) FROM infusions) AS infusions, "
    "(SELECT coalesce(max(id), 0) FROM assessments) AS assessments, "
    "(SELECT coalesce(max(id), 0) FROM participants) AS participants"
)


PARTICIPANT_VERSION_SQL = (
    "SELECT (SELECT coalesce(max(id), 0) FROM audit_events WHERE participant_id = :p) AS audit, "
    "(SELECT coalesce(max(s.id), 0) FROM scores s JOIN assessments a ON a.id = s.assessment_id "
    "WHERE a.participant_id = :p) AS scores, "
    "(SELECT coalesce(max(id), 0) FROM infusions WHERE participant_id = :p) AS infusions, "
    "(SELECT coalesce(max(id), 0) FROM assessments WHERE participant_id = :p) AS assessments"
)


def data_version(db: Database) -> str:
    """A fingerprint that changes whenever data these views show changes (see the docstring)."""
    return ".".join(str(v) for v in db.execute(DATA_VERSION_SQL).fetchone())


def participant_version(db: Database, participant_id: int) -> str:
    """The same fingerprint for one participant (index lookups only), so a rating submitted for
    one participant does not invalidate every other participant's cached view."""
    pid = _sql.record_id(participant_id, "participant")
    return ".".join(str(v) for v in db.execute(PARTICIPANT_VERSION_SQL, {"p": pid}).fetchone())


def _named(db: Database, shape: Any, sql: str, params: Any = ()) -> list:  # shape: a NamedTuple class
    """The statement's rows as `shape` NamedTuples (the statement's `AS` names are its fields)."""
    cursor = db.execute(sql, params)
    names = tuple(column[0] for column in cursor.description)
    if names != shape._fields:  # a statement and its row type drifted apart: fail loudly, not silently
        raise RuntimeError(f"columns {names} do not match {shape.__name__}{shape._fields}")
    return list(map(shape._make, cursor.fetchall()))


def _study_id(db: Database, study: int | str) -> int:
    if isinstance(study, int):
        return study
    row = _sql.one(db, "SELECT id FROM studies WHERE code = ?", [study])
    return row["id"] if row else 0


def cohort_rows(db: Database, *, site_id: int | None = None, study: int | str = "default") -> dict[str, list]:
    """{"participants": [ParticipantRow], "assessments": [AssessmentRow], "infusions": [InfusionRow]}
    for the whole study (or one site)."""
    _, site, params = _scope(db, site_id, study)
    return {
        "participants": _named(db, ParticipantRow, PARTICIPANTS_SQL.format(site=site), params),
        "assessments": _named(db, AssessmentRow, COHORT_ASSESSMENTS_SQL.format(site=site), params),
        "infusions": _named(db, InfusionRow, INFUSIONS_SQL.format(site=site), params),
    }


def _scope(db: Database, site_id: int | None, study: int | str) -> tuple[int, str, list]:
    """(study id, the site condition for the {site} slot of the statements above, parameters)."""
    study_id = _study_id(db, study)
    if site_id is None:
        return study_id, "", [study_id]
    return study_id, "AND p.site_id = ?", [study_id, site_id]


def refresh_cohort_rows(
    db: Database, previous: dict[str, Any] | None = None, *, site_id: int | None = None, study: int | str = "default"
) -> dict[str, Any]:
    """cohort_rows, re-reading assessments only for participants whose stored data changed since
    `previous` (an earlier result of this function for the same study and site; None: read all).

    After one submitted rating that is one participant's rows instead of 48,000. Participants and
    infusions are always read afresh (a few thousand rows). The result also carries
    "fingerprints" (COHORT_FINGERPRINTS_SQL) and the rows grouped by participant, for the next
    refresh; callers must treat it as read-only."""
    study_id, site, params = _scope(db, site_id, study)
    fingerprints = {
        row["participant_id"]: (row["assessments"], row["scores"])
        for row in _sql.many(db, COHORT_FINGERPRINTS_SQL.format(site=site), params)
    }
    usable = previous if previous is not None and previous.get("scope") == (study_id, site_id) else None
    known = usable["fingerprints"] if usable is not None else {}
    changed = [pid for pid, fingerprint in fingerprints.items() if known.get(pid) != fingerprint]
    by_participant: dict[int, list] = {}
    if usable is not None:
        by_participant = {
            pid: rows for pid, rows in usable["by_participant"].items() if pid in fingerprints and pid not in changed
        }
    if changed and usable is not None and len(changed) <= len(fingerprints) // 2:
        only = site + " AND p.id IN (SELECT value FROM json_each(?))"
        fresh = _named(db, AssessmentRow, COHORT_ASSESSMENTS_SQL.format(site=only), [*params, json.dumps(changed)])
        reread = changed
    elif changed:  # a first read, or most of the study changed: read everyone
        fresh = _named(db, AssessmentRow, COHORT_ASSESSMENTS_SQL.format(site=site), params)
        reread = list(fingerprints)
    else:
        fresh, reread = [], []
    for pid in reread:
        by_participant[pid] = []
    for row in fresh:
        by_participant[row.participant_id].append(row)
    return {
        "participants": _named(db, ParticipantRow, PARTICIPANTS_SQL.format(site=site), params),
        "assessments": [row for pid in fingerprints for row in by_participant.get(pid, ())],
        "infusions": _named(db, InfusionRow, INFUSIONS_SQL.format(site=site), params),
        "scope": (study_id, site_id),
        "fingerprints": fingerprints,
        "by_participant": by_participant,
        "reread": len(reread),
    }


def participant_rows(db: Database, participant_id: int) -> dict[str, Any]:
    """One participant: {"participant": dict, "assessments": [AssessmentRow], "infusions": [InfusionRow],
    "alerts": [dict]} (NotFoundError for an unknown id)."""
    participant = get_participant(db, participant_id)
    pid = participant["id"]
    return {
        "participant": participant,
        "assessments": _named(db, AssessmentRow, PARTICIPANT_ASSESSMENTS_SQL, [pid]),
        "infusions": _named(db, InfusionRow, INFUSIONS_SQL.format(site="AND p.id = ?"), [participant["study_id"], pid]),
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
