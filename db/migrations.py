"""The schema, as a versioned set of sqlite-utils migrations.

Steps are applied in order and recorded in `_sqlite_migrations` (set "scalebook"), so applying
twice is a no-op and a database at any earlier version migrates to the latest. A step, once
released, is never edited: a change to the schema is a new step. The schema version is the
number of the last applied step (`m003_...` → 3).

The tables carry their own protection, because a page bug or a hand-written SQL statement must
not be able to damage trial data: STRICT tables (types are enforced), NOT NULL, CHECKs on every
enumerated or bounded column and on timestamp shape, foreign keys, and triggers that make the
audit trail append-only and hash-linked, make stored scores append-only, make locked
assessments immutable, allow only the legal status transitions, and require every change to an
assessment to raise its version by one (optimistic concurrency, enforced below the Python layer).
Trigger messages start with a tag (LOCKED:, CONFLICT:, APPEND-ONLY:, ...) that
`db.connection` maps to an error class.

Personal data: participants carry a pseudonymous code only. There is deliberately no column for
a name, initials, a date of birth or any contact detail.
"""

from __future__ import annotations

import re

from sqlite_utils import Database, Migrations

from db import integrity
from db.connection import APP_WRITER, connect, database_path, transaction
from db.errors import StorageError

MIGRATIONS = Migrations("scalebook")
STEP_NAMES: list[str] = []


def _step(fn):
    MIGRATIONS()(fn)
    STEP_NAMES.append(fn.__name__)
    return fn


def _ts(column: str) -> str:
    """CHECK that a time column holds the stored UTC form (NULL passes: nullable columns)."""
    return f"CHECK ({column} GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]*Z')"


def _code(column: str, max_len: int = 40, extra: str = "") -> str:
    """CHECK for identifiers typed by people (site codes, participant codes, usernames)."""
    return f"CHECK (length({column}) BETWEEN 1 AND {max_len} AND {column} NOT GLOB '*[^A-Za-z0-9._@{extra}-]*')"


def _nonblank(column: str) -> str:
    return f"CHECK (length(trim({column})) > 0)"


def _json(column: str, kind: str) -> str:
    return f"CHECK (json_valid({column}) AND json_type({column}) = '{kind}')"


def _run(db: Database, statements: list[str]) -> None:
    for statement in statements:
        db.execute(statement)


# ---------------------------------------------------------------------------------------------
# m001: the core tables
# ---------------------------------------------------------------------------------------------

M001 = [
    f"""CREATE TABLE sites (
        id INTEGER PRIMARY KEY,
        code TEXT NOT NULL UNIQUE COLLATE NOCASE {_code("code")},
        name TEXT NOT NULL {_nonblank("name")},
        timezone TEXT NOT NULL DEFAULT 'UTC' {_nonblank("timezone")},
        created_at TEXT NOT NULL {_ts("created_at")}
    ) STRICT""",
    f"""CREATE TABLE studies (
        id INTEGER PRIMARY KEY,
        code TEXT NOT NULL UNIQUE COLLATE NOCASE {_code("code")},
        title TEXT NOT NULL {_nonblank("title")},
        blinded INTEGER NOT NULL DEFAULT 1 CHECK (blinded IN (0, 1)),
        created_at TEXT NOT NULL {_ts("created_at")}
    ) STRICT""",
    # Every participant belongs to a study; a single-study deployment uses this one.
    """INSERT INTO studies (id, code, title, blinded, created_at)
       VALUES (1, 'default', 'Default study', 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))""",
    f"""CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        username TEXT NOT NULL UNIQUE COLLATE NOCASE {_code("username", 64, "+")},
        role TEXT NOT NULL CHECK (role IN ('admin', 'pi', 'rater', 'coordinator', 'monitor')),
        site_id INTEGER REFERENCES sites(id),
        password_hash TEXT NOT NULL CHECK (password_hash GLOB '$argon2*'),
        active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
        failed_attempts INTEGER NOT NULL DEFAULT 0 CHECK (failed_attempts >= 0),
        locked_until TEXT {_ts("locked_until")},
        last_login_at TEXT {_ts("last_login_at")},
        password_changed_at TEXT NOT NULL {_ts("password_changed_at")},
        created_at TEXT NOT NULL {_ts("created_at")},
        updated_at TEXT NOT NULL {_ts("updated_at")}
    ) STRICT""",
    f"""CREATE TABLE participants (
        id INTEGER PRIMARY KEY,
        study_id INTEGER NOT NULL REFERENCES studies(id),
        code TEXT NOT NULL COLLATE NOCASE {_code("code", 32)},
        site_id INTEGER NOT NULL REFERENCES sites(id),
        arm TEXT CHECK (arm IS NULL OR length(trim(arm)) > 0),
        status TEXT NOT NULL DEFAULT 'screening'
            CHECK (status IN ('screening', 'enrolled', 'completed', 'withdrawn', 'screen_failed')),
        created_by INTEGER REFERENCES users(id),
        created_at TEXT NOT NULL {_ts("created_at")},
        updated_at TEXT NOT NULL {_ts("updated_at")},
        UNIQUE (study_id, code)
    ) STRICT""",
    f"""CREATE TABLE infusions (
        id INTEGER PRIMARY KEY,
        participant_id INTEGER NOT NULL REFERENCES participants(id),
        number INTEGER NOT NULL CHECK (number >= 1),
        started_at TEXT NOT NULL {_ts("started_at")},
        ended_at TEXT {_ts("ended_at")},
        weight_kg REAL NOT NULL CHECK (weight_kg >= 20 AND weight_kg <= 350),
        dose_mg_per_kg REAL NOT NULL CHECK (dose_mg_per_kg > 0 AND dose_mg_per_kg <= 2),
        total_dose_mg REAL NOT NULL CHECK (total_dose_mg > 0 AND total_dose_mg <= 700),
        planned_duration_min INTEGER CHECK (planned_duration_min BETWEEN 1 AND 600),
        notes TEXT,
        recorded_by INTEGER REFERENCES users(id),
        created_at TEXT NOT NULL {_ts("created_at")},
        updated_at TEXT NOT NULL {_ts("updated_at")},
        UNIQUE (participant_id, number),
        UNIQUE (id, participant_id),
        CHECK (ended_at IS NULL OR ended_at >= started_at)
    ) STRICT""",
    f"""CREATE TABLE vitals (
        id INTEGER PRIMARY KEY,
        participant_id INTEGER NOT NULL REFERENCES participants(id),
        infusion_id INTEGER,
        measured_at TEXT NOT NULL {_ts("measured_at")},
        systolic INTEGER CHECK (systolic BETWEEN 40 AND 300),
        diastolic INTEGER CHECK (diastolic BETWEEN 20 AND 200),
        heart_rate INTEGER CHECK (heart_rate BETWEEN 20 AND 250),
        resp_rate INTEGER CHECK (resp_rate BETWEEN 4 AND 60),
        spo2 INTEGER CHECK (spo2 BETWEEN 50 AND 100),
        temperature_c REAL CHECK (temperature_c BETWEEN 30 AND 45),
        recorded_by INTEGER REFERENCES users(id),
        created_at TEXT NOT NULL {_ts("created_at")},
        FOREIGN KEY (infusion_id, participant_id) REFERENCES infusions(id, participant_id),
        CHECK (systolic IS NULL OR diastolic IS NULL OR systolic > diastolic),
        CHECK (coalesce(systolic, diastolic, heart_rate, resp_rate, spo2, temperature_c) IS NOT NULL)
    ) STRICT""",
    f"""CREATE TABLE adverse_events (
        id INTEGER PRIMARY KEY,
        participant_id INTEGER NOT NULL REFERENCES participants(id),
        infusion_id INTEGER,
        term TEXT NOT NULL {_nonblank("term")},
        onset_at TEXT NOT NULL {_ts("onset_at")},
        resolved_at TEXT {_ts("resolved_at")},
        severity TEXT NOT NULL CHECK (severity IN ('mild', 'moderate', 'severe')),
        serious INTEGER NOT NULL DEFAULT 0 CHECK (serious IN (0, 1)),
        relatedness TEXT NOT NULL
            CHECK (relatedness IN ('not_related', 'unlikely', 'possible', 'probable', 'definite')),
        action_taken TEXT,
        outcome TEXT CHECK (outcome IS NULL OR outcome IN
            ('recovered', 'recovering', 'not_recovered', 'recovered_with_sequelae', 'fatal', 'unknown')),
        recorded_by INTEGER REFERENCES users(id),
        created_at TEXT NOT NULL {_ts("created_at")},
        updated_at TEXT NOT NULL {_ts("updated_at")},
        FOREIGN KEY (infusion_id, participant_id) REFERENCES infusions(id, participant_id),
        CHECK (resolved_at IS NULL OR resolved_at >= onset_at)
    ) STRICT""",
    f"""CREATE TABLE planned_timepoints (
        id INTEGER PRIMARY KEY,
        study_id INTEGER NOT NULL REFERENCES studies(id),
        name TEXT NOT NULL {_code("name", 64)},
        label TEXT,
        anchor TEXT NOT NULL CHECK (anchor IN ('enrolment', 'first_infusion', 'each_infusion', 'calendar')),
        offset_minutes INTEGER NOT NULL,
        window_before_minutes INTEGER NOT NULL DEFAULT 0 CHECK (window_before_minutes >= 0),
        window_after_minutes INTEGER NOT NULL DEFAULT 0 CHECK (window_after_minutes >= 0),
        scales TEXT NOT NULL DEFAULT '[]' {_json("scales", "array")},
        sort_order INTEGER NOT NULL DEFAULT 0,
        UNIQUE (study_id, name)
    ) STRICT""",
    f"""CREATE TABLE assessments (
        id INTEGER PRIMARY KEY,
        participant_id INTEGER NOT NULL REFERENCES participants(id),
        timepoint TEXT NOT NULL CHECK (length(trim(timepoint)) BETWEEN 1 AND 64),
        timepoint_id INTEGER REFERENCES planned_timepoints(id),
        infusion_id INTEGER,
        scale_id TEXT NOT NULL {_code("scale_id", 40)},
        scale_version TEXT NOT NULL {_nonblank("scale_version")},
        definition_hash TEXT NOT NULL CHECK (definition_hash GLOB 'sha256:*'),
        mode TEXT NOT NULL CHECK (mode IN ('clinician', 'self', 'kiosk', 'link')),
        recall TEXT NOT NULL {_nonblank("recall")},
        rater_id INTEGER REFERENCES users(id),
        status TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'complete', 'signed', 'locked', 'amended')),
        version INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
        started_at TEXT NOT NULL {_ts("started_at")},
        completed_at TEXT {_ts("completed_at")},
        completed_by TEXT,
        signed_at TEXT {_ts("signed_at")},
        signed_by INTEGER REFERENCES users(id),
        signature_meaning TEXT CHECK (signature_meaning IN ('authored', 'reviewed', 'approved')),
        locked_at TEXT {_ts("locked_at")},
        locked_by INTEGER REFERENCES users(id),
        updated_at TEXT NOT NULL {_ts("updated_at")},
        UNIQUE (participant_id, timepoint, scale_id),
        UNIQUE (id, participant_id),
        FOREIGN KEY (infusion_id, participant_id) REFERENCES infusions(id, participant_id),
        CHECK ((status = 'draft') = (completed_at IS NULL)),
        CHECK (completed_at IS NULL OR completed_at >= started_at),
        CHECK (status <> 'signed' OR signed_at IS NOT NULL),
        CHECK (status <> 'locked' OR locked_at IS NOT NULL),
        CHECK ((signed_at IS NULL) = (signed_by IS NULL))
    ) STRICT""",
    f"""CREATE TABLE item_responses (
        id INTEGER PRIMARY KEY,
        assessment_id INTEGER NOT NULL REFERENCES assessments(id),
        item_id TEXT NOT NULL {_code("item_id", 64)},
        value INTEGER CHECK (value IS NULL OR value BETWEEN 0 AND 999),
        not_assessed_reason TEXT,
        answered_at TEXT NOT NULL {_ts("answered_at")},
        answered_by TEXT NOT NULL {_nonblank("answered_by")},
        UNIQUE (assessment_id, item_id)
    ) STRICT""",
    f"""CREATE TABLE scores (
        id INTEGER PRIMARY KEY,
        assessment_id INTEGER NOT NULL REFERENCES assessments(id),
        total INTEGER,
        subscales TEXT NOT NULL DEFAULT '{{}}' {_json("subscales", "object")},
        band TEXT,
        band_set TEXT,
        complete INTEGER NOT NULL CHECK (complete IN (0, 1)),
        missing TEXT NOT NULL DEFAULT '[]' {_json("missing", "array")},
        not_assessed TEXT NOT NULL DEFAULT '[]' {_json("not_assessed", "array")},
        prorated INTEGER NOT NULL CHECK (prorated IN (0, 1)),
        flags TEXT NOT NULL DEFAULT '[]' {_json("flags", "array")},
        engine_version TEXT NOT NULL {_nonblank("engine_version")},
        scale_version TEXT NOT NULL,
        definition_hash TEXT NOT NULL CHECK (definition_hash GLOB 'sha256:*'),
        scored_at TEXT NOT NULL {_ts("scored_at")},
        scored_by TEXT NOT NULL,
        reason TEXT,
        CHECK (prorated = 0 OR total IS NOT NULL),
        CHECK (band IS NULL OR total IS NOT NULL)
    ) STRICT""",
    f"""CREATE TABLE signatures (
        id INTEGER PRIMARY KEY,
        assessment_id INTEGER NOT NULL REFERENCES assessments(id),
        user_id INTEGER NOT NULL REFERENCES users(id),
        username TEXT NOT NULL,
        meaning TEXT NOT NULL CHECK (meaning IN ('authored', 'reviewed', 'approved')),
        assessment_version INTEGER NOT NULL,
        signed_at TEXT NOT NULL {_ts("signed_at")}
    ) STRICT""",
    f"""CREATE TABLE safety_alerts (
        id INTEGER PRIMARY KEY,
        assessment_id INTEGER NOT NULL REFERENCES assessments(id),
        participant_id INTEGER NOT NULL REFERENCES participants(id),
        score_id INTEGER NOT NULL REFERENCES scores(id),
        rule_id TEXT NOT NULL,
        message TEXT NOT NULL {_nonblank("message")},
        created_at TEXT NOT NULL {_ts("created_at")},
        acknowledged_at TEXT {_ts("acknowledged_at")},
        acknowledged_by INTEGER REFERENCES users(id),
        acknowledgement_note TEXT,
        UNIQUE (assessment_id, rule_id),
        FOREIGN KEY (assessment_id, participant_id) REFERENCES assessments(id, participant_id),
        CHECK ((acknowledged_at IS NULL) = (acknowledged_by IS NULL))
    ) STRICT""",
    f"""CREATE TABLE self_report_tokens (
        id INTEGER PRIMARY KEY,
        token_hash TEXT NOT NULL UNIQUE CHECK (length(token_hash) = 64 AND token_hash NOT GLOB '*[^0-9a-f]*'),
        participant_id INTEGER NOT NULL REFERENCES participants(id),
        assessment_id INTEGER NOT NULL,
        created_by INTEGER NOT NULL REFERENCES users(id),
        created_at TEXT NOT NULL {_ts("created_at")},
        expires_at TEXT NOT NULL {_ts("expires_at")},
        first_used_at TEXT {_ts("first_used_at")},
        last_used_at TEXT {_ts("last_used_at")},
        use_count INTEGER NOT NULL DEFAULT 0 CHECK (use_count >= 0),
        consumed_at TEXT {_ts("consumed_at")},
        revoked_at TEXT {_ts("revoked_at")},
        revoked_by INTEGER REFERENCES users(id),
        FOREIGN KEY (assessment_id, participant_id) REFERENCES assessments(id, participant_id),
        CHECK (expires_at > created_at)
    ) STRICT""",
    f"""CREATE TABLE audit_events (
        id INTEGER PRIMARY KEY,
        ts TEXT NOT NULL {_ts("ts")},
        user_id INTEGER,
        username TEXT NOT NULL {_nonblank("username")},
        role TEXT NOT NULL,
        participant_id INTEGER,
        action TEXT NOT NULL {_nonblank("action")},
        entity TEXT NOT NULL {_nonblank("entity")},
        entity_id TEXT,
        field TEXT,
        old_value TEXT,
        new_value TEXT,
        reason TEXT,
        prev_hash TEXT NOT NULL CHECK (length(prev_hash) = 64),
        row_hash TEXT NOT NULL UNIQUE CHECK (length(row_hash) = 64)
    ) STRICT""",
    # Foreign-key child columns need indexes, or every parent check scans the child table.
    "CREATE INDEX idx_users_site ON users(site_id)",
    "CREATE INDEX idx_participants_site ON participants(site_id)",
    "CREATE INDEX idx_vitals_participant ON vitals(participant_id, measured_at)",
    "CREATE INDEX idx_vitals_infusion ON vitals(infusion_id)",
    "CREATE INDEX idx_adverse_events_participant ON adverse_events(participant_id)",
    "CREATE INDEX idx_adverse_events_infusion ON adverse_events(infusion_id)",
    "CREATE INDEX idx_assessments_timepoint ON assessments(timepoint_id)",
    "CREATE INDEX idx_assessments_infusion ON assessments(infusion_id)",
    "CREATE INDEX idx_scores_assessment ON scores(assessment_id)",
    "CREATE INDEX idx_signatures_assessment ON signatures(assessment_id)",
    "CREATE INDEX idx_safety_alerts_participant ON safety_alerts(participant_id)",
    "CREATE INDEX idx_tokens_assessment ON self_report_tokens(assessment_id, participant_id)",
]


@_step
def m001_core_tables(db: Database) -> None:
    """Sites, studies, users, participants, infusions, vitals, adverse events, planned
    timepoints, assessments, item responses, scores, signatures, safety alerts, self-report
    tokens and the audit table, with their column constraints and foreign keys."""
    _run(db, M001)


# ---------------------------------------------------------------------------------------------
# m002: triggers that protect the data when the Python layer is bypassed
# ---------------------------------------------------------------------------------------------

GENESIS_HASH = "0" * 64

_ASSESSMENT_LOCKED = "SELECT status FROM assessments WHERE id = {ref}.assessment_id"

M002 = (
    [
        # The audit trail is append-only: nobody, admins included, can change or delete an event.
        """CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
       BEGIN SELECT RAISE(ABORT, 'APPEND-ONLY: audit events can never be changed'); END""",
        """CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
       BEGIN SELECT RAISE(ABORT, 'APPEND-ONLY: audit events can never be deleted'); END""",
        # Each new event must extend the chain: the next id, and the previous event's hash.
        f"""CREATE TRIGGER audit_events_chain BEFORE INSERT ON audit_events
       WHEN NEW.id IS NOT (SELECT coalesce(max(id), 0) + 1 FROM audit_events)
         OR NEW.prev_hash IS NOT coalesce(
              (SELECT row_hash FROM audit_events ORDER BY id DESC LIMIT 1), '{GENESIS_HASH}')
       BEGIN SELECT RAISE(ABORT, 'CONFLICT: an audit event must extend the hash chain (next id, previous hash)'); END""",
        # Stored scores are history: a rescoring adds a row, it never rewrites one.
        """CREATE TRIGGER scores_no_update BEFORE UPDATE ON scores
       BEGIN SELECT RAISE(ABORT, 'APPEND-ONLY: stored scores can never be changed; rescoring adds a new row'); END""",
        """CREATE TRIGGER scores_no_delete BEFORE DELETE ON scores
       BEGIN SELECT RAISE(ABORT, 'APPEND-ONLY: stored scores can never be deleted'); END""",
        """CREATE TRIGGER signatures_no_update BEFORE UPDATE ON signatures
       BEGIN SELECT RAISE(ABORT, 'APPEND-ONLY: signatures can never be changed'); END""",
        """CREATE TRIGGER signatures_no_delete BEFORE DELETE ON signatures
       BEGIN SELECT RAISE(ABORT, 'APPEND-ONLY: signatures can never be deleted'); END""",
        # Locked assessments: nothing about them may change, by any route.
        # (The checks below skip locked rows so that this one, with its LOCKED message, answers for them.)
        """CREATE TRIGGER assessments_locked_no_update BEFORE UPDATE ON assessments
       WHEN OLD.status = 'locked'
       BEGIN SELECT RAISE(ABORT, 'LOCKED: this assessment is locked and can no longer be changed'); END""",
        """CREATE TRIGGER assessments_completed_no_delete BEFORE DELETE ON assessments
       WHEN OLD.status <> 'draft'
       BEGIN SELECT RAISE(ABORT, 'LOCKED: a completed assessment can never be deleted; amend it with a reason'); END""",
        """CREATE TRIGGER assessments_identity_fixed BEFORE UPDATE ON assessments
       WHEN OLD.status <> 'locked' AND (NEW.participant_id IS NOT OLD.participant_id OR NEW.scale_id IS NOT OLD.scale_id
         OR NEW.scale_version IS NOT OLD.scale_version OR NEW.definition_hash IS NOT OLD.definition_hash
         OR NEW.started_at IS NOT OLD.started_at OR NEW.mode IS NOT OLD.mode)
       BEGIN SELECT RAISE(ABORT, 'CONFLICT: the participant, scale, definition, mode and start time of an assessment are fixed'); END""",
        """CREATE TRIGGER assessments_version_step BEFORE UPDATE ON assessments
       WHEN OLD.status <> 'locked' AND NEW.version IS NOT OLD.version + 1
       BEGIN SELECT RAISE(ABORT, 'CONFLICT: every change to an assessment must raise its version by exactly one'); END""",
        """CREATE TRIGGER assessments_status_transition BEFORE UPDATE OF status ON assessments
       WHEN OLD.status <> 'locked' AND NEW.status <> OLD.status AND (OLD.status || '>' || NEW.status) NOT IN (
           'draft>complete', 'complete>signed', 'complete>amended', 'complete>locked',
           'signed>amended', 'signed>locked', 'amended>signed', 'amended>locked')
       BEGIN SELECT RAISE(ABORT, 'CONFLICT: this status change is not allowed (draft > complete > signed/amended > locked)'); END""",
    ]
    + [
        f"""CREATE TRIGGER {table}_locked_no_{verb.lower()} BEFORE {verb} ON {table}
       WHEN ({_ASSESSMENT_LOCKED.format(ref=ref)}) = 'locked'
       BEGIN SELECT RAISE(ABORT, 'LOCKED: the assessment is locked; its {what} can no longer be changed'); END"""
        for table, what in (("item_responses", "responses"), ("scores", "scores"))
        for verb, ref in (("INSERT", "NEW"), ("UPDATE", "OLD"), ("DELETE", "OLD"))
        if not (table == "scores" and verb != "INSERT")  # scores already refuse UPDATE and DELETE
    ]
    + [
        # Responses that moved to another assessment would escape the lock check above.
        """CREATE TRIGGER item_responses_fixed_owner BEFORE UPDATE ON item_responses
       WHEN NEW.assessment_id IS NOT OLD.assessment_id OR NEW.item_id IS NOT OLD.item_id
       BEGIN SELECT RAISE(ABORT, 'CONFLICT: a response cannot move to another assessment or item'); END""",
        # An acknowledged alert stays acknowledged; alerts are never deleted.
        """CREATE TRIGGER safety_alerts_ack_once BEFORE UPDATE ON safety_alerts
       WHEN OLD.acknowledged_at IS NOT NULL OR NEW.rule_id IS NOT OLD.rule_id
         OR NEW.message IS NOT OLD.message OR NEW.assessment_id IS NOT OLD.assessment_id
         OR NEW.created_at IS NOT OLD.created_at
       BEGIN SELECT RAISE(ABORT, 'APPEND-ONLY: a safety alert can only be acknowledged, once'); END""",
        """CREATE TRIGGER safety_alerts_no_delete BEFORE DELETE ON safety_alerts
       BEGIN SELECT RAISE(ABORT, 'APPEND-ONLY: safety alerts can never be deleted'); END""",
        # People are deactivated and participants withdrawn, never deleted: the record stays attributable.
        """CREATE TRIGGER users_no_delete BEFORE DELETE ON users
       BEGIN SELECT RAISE(ABORT, 'APPEND-ONLY: accounts are deactivated, never deleted'); END""",
        """CREATE TRIGGER participants_no_delete BEFORE DELETE ON participants
       BEGIN SELECT RAISE(ABORT, 'APPEND-ONLY: participants are withdrawn, never deleted'); END""",
    ]
)


@_step
def m002_integrity_triggers(db: Database) -> None:
    """Append-only audit trail with an enforced hash chain, append-only scores and signatures,
    immutable locked assessments, legal status transitions, one-step version increments."""
    _run(db, M002)


# ---------------------------------------------------------------------------------------------
# m003: indexes for the queries pages run most
# ---------------------------------------------------------------------------------------------

M003 = [
    "CREATE INDEX idx_assessments_participant ON assessments(participant_id, started_at)",
    "CREATE INDEX idx_assessments_status ON assessments(status)",
    "CREATE INDEX idx_audit_entity ON audit_events(entity, entity_id)",
    "CREATE INDEX idx_audit_participant ON audit_events(participant_id)",
    "CREATE INDEX idx_safety_alerts_open ON safety_alerts(created_at) WHERE acknowledged_at IS NULL",
]


@_step
def m003_query_indexes(db: Database) -> None:
    """Indexes for a participant's history, worklists by status, the audit trail of one record
    and the open safety alerts."""
    _run(db, M003)


# ---------------------------------------------------------------------------------------------
# m004: one self-report link for a set of questionnaires, and how it was handed out
# ---------------------------------------------------------------------------------------------

M004 = [
    # A link belongs to one participant; the member table below refers to (token id, participant),
    # so the schema itself refuses a link that mixes two participants' questionnaires.
    "CREATE UNIQUE INDEX idx_tokens_id_participant ON self_report_tokens(id, participant_id)",
    # How the link was handed out: to the participant's own device ('link'), or on the clinic
    # tablet ('kiosk': minted and redeemed at once inside the staff member's browser session).
    "ALTER TABLE self_report_tokens ADD COLUMN channel TEXT NOT NULL DEFAULT 'link' "
    "CHECK (channel IN ('link', 'kiosk'))",
    """CREATE TABLE self_report_link_assessments (
        token_id INTEGER NOT NULL,
        participant_id INTEGER NOT NULL,
        assessment_id INTEGER NOT NULL,
        position INTEGER NOT NULL CHECK (position BETWEEN 0 AND 99),
        PRIMARY KEY (token_id, assessment_id),
        UNIQUE (token_id, position),
        FOREIGN KEY (token_id, participant_id) REFERENCES self_report_tokens(id, participant_id),
        FOREIGN KEY (assessment_id, participant_id) REFERENCES assessments(id, participant_id)
    ) STRICT""",
    "CREATE INDEX idx_link_assessments_assessment ON self_report_link_assessments(assessment_id, participant_id)",
    # Which questionnaires a link opens is fixed when it is made.
    """CREATE TRIGGER self_report_link_assessments_no_update BEFORE UPDATE ON self_report_link_assessments
       BEGIN SELECT RAISE(ABORT, 'APPEND-ONLY: the questionnaires of a self-report link are fixed when it is made'); END""",
    """CREATE TRIGGER self_report_link_assessments_no_delete BEFORE DELETE ON self_report_link_assessments
       BEGIN SELECT RAISE(ABORT, 'APPEND-ONLY: the questionnaires of a self-report link are fixed when it is made'); END""",
    # Every link made before this step opened exactly one questionnaire.
    "INSERT INTO self_report_link_assessments (token_id, participant_id, assessment_id, position) "
    "SELECT id, participant_id, assessment_id, 0 FROM self_report_tokens",
]


@_step
def m004_self_report_link_sets(db: Database) -> None:
    """A self-report link opens a set of questionnaires (self_report_link_assessments; one
    participant per link, enforced by a composite foreign key) and records its channel (link or
    kiosk). Links made before this step become sets of one."""
    _run(db, M004)


# ---------------------------------------------------------------------------------------------
# m005: eligibility decisions and protocol deviations
# ---------------------------------------------------------------------------------------------

M005 = [
    f"""CREATE TABLE eligibility_decisions (
        id INTEGER PRIMARY KEY,
        participant_id INTEGER NOT NULL REFERENCES participants(id),
        eligible INTEGER CHECK (eligible IS NULL OR eligible IN (0, 1)),
        answers TEXT NOT NULL {_json("answers", "object")},
        reasons TEXT NOT NULL {_json("reasons", "array")},
        pending TEXT NOT NULL {_json("pending", "array")},
        baseline_total INTEGER,
        baseline_assessment_id INTEGER REFERENCES assessments(id),
        protocol_id TEXT NOT NULL {_nonblank("protocol_id")},
        protocol_hash TEXT NOT NULL {_nonblank("protocol_hash")},
        decided_by INTEGER REFERENCES users(id),
        decided_at TEXT NOT NULL {_ts("decided_at")},
        CHECK (eligible IS NOT NULL OR json_array_length(pending) > 0)
    ) STRICT""",
    "CREATE INDEX idx_eligibility_participant ON eligibility_decisions(participant_id, id)",
    """CREATE TRIGGER eligibility_no_update BEFORE UPDATE ON eligibility_decisions
       BEGIN SELECT RAISE(ABORT, 'APPEND-ONLY: an eligibility decision is superseded by a new one, never edited'); END""",
    """CREATE TRIGGER eligibility_no_delete BEFORE DELETE ON eligibility_decisions
       BEGIN SELECT RAISE(ABORT, 'APPEND-ONLY: eligibility decisions are never deleted'); END""",
    # An ineligible (or unscreened) participant cannot be dosed, even by SQL typed by hand.
    """CREATE TRIGGER infusions_require_eligibility BEFORE INSERT ON infusions
       WHEN coalesce((SELECT eligible FROM eligibility_decisions WHERE participant_id = NEW.participant_id
                      ORDER BY id DESC LIMIT 1), 0) <> 1
       BEGIN SELECT RAISE(ABORT, 'INELIGIBLE: the latest eligibility decision does not allow dosing'); END""",
    f"""CREATE TABLE protocol_deviations (
        id INTEGER PRIMARY KEY,
        participant_id INTEGER NOT NULL REFERENCES participants(id),
        assessment_id INTEGER REFERENCES assessments(id),
        timepoint TEXT NOT NULL {_nonblank("timepoint")},
        kind TEXT NOT NULL CHECK (kind IN ('outside_window', 'other')),
        description TEXT NOT NULL {_nonblank("description")},
        minutes_early REAL CHECK (minutes_early IS NULL OR minutes_early >= 0),
        minutes_late REAL CHECK (minutes_late IS NULL OR minutes_late >= 0),
        recorded_by INTEGER REFERENCES users(id),
        recorded_at TEXT NOT NULL {_ts("recorded_at")}
    ) STRICT""",
    "CREATE INDEX idx_deviations_participant ON protocol_deviations(participant_id)",
    """CREATE TRIGGER deviations_no_update BEFORE UPDATE ON protocol_deviations
       BEGIN SELECT RAISE(ABORT, 'APPEND-ONLY: protocol deviations are never edited'); END""",
    """CREATE TRIGGER deviations_no_delete BEFORE DELETE ON protocol_deviations
       BEGIN SELECT RAISE(ABORT, 'APPEND-ONLY: protocol deviations are never deleted'); END""",
]


@_step
def m005_screening_and_deviations(db: Database) -> None:
    """Append-only eligibility decisions (the latest one counts; dosing requires it to be
    eligible, enforced by a trigger) and append-only protocol deviations."""
    _run(db, M005)


# ---------------------------------------------------------------------------------------------
# m006: the trial day as it happened (issue 11)
# ---------------------------------------------------------------------------------------------

_ALERT_IMMUTABLE = (
    "NEW.rule_id IS NOT OLD.rule_id OR NEW.message IS NOT OLD.message "
    "OR NEW.assessment_id IS NOT OLD.assessment_id OR NEW.created_at IS NOT OLD.created_at "
    "OR NEW.participant_id IS NOT OLD.participant_id"
)

M006 = [
    # When a rating happened (assessed_at) beside when it was entered (started_at/completed_at):
    # a paper rating typed in on day 3 keeps its 24-hour time. NULL means "as entered" (live).
    f"ALTER TABLE assessments ADD COLUMN assessed_at TEXT {_ts('assessed_at')}",
    "ALTER TABLE assessments ADD COLUMN late_entry_reason TEXT",
    # Vital signs and adverse events already keep both times (measured_at/onset_at and
    # created_at); a late entry carries its reason.
    "ALTER TABLE vitals ADD COLUMN late_entry_reason TEXT",
    "ALTER TABLE adverse_events ADD COLUMN late_entry_reason TEXT",
    f"ALTER TABLE adverse_events ADD COLUMN serious_at TEXT {_ts('serious_at')}",
    # Withdrawal or completion: why and when (the status itself is participants.status).
    "ALTER TABLE participants ADD COLUMN status_reason TEXT",
    f"ALTER TABLE participants ADD COLUMN status_at TEXT {_ts('status_at')}",
    # A missed visit with the coordinator's reason; append-only (a correction is a new row).
    f"""CREATE TABLE missed_visits (
        id INTEGER PRIMARY KEY,
        participant_id INTEGER NOT NULL REFERENCES participants(id),
        timepoint TEXT NOT NULL {_nonblank("timepoint")},
        reason TEXT NOT NULL {_nonblank("reason")},
        recorded_by INTEGER REFERENCES users(id),
        recorded_at TEXT NOT NULL {_ts("recorded_at")}
    ) STRICT""",
    "CREATE INDEX idx_missed_visits_participant ON missed_visits(participant_id, timepoint)",
    """CREATE TRIGGER missed_visits_no_update BEFORE UPDATE ON missed_visits
       BEGIN SELECT RAISE(ABORT, 'APPEND-ONLY: a missed-visit reason is superseded by a new one, never edited'); END""",
    """CREATE TRIGGER missed_visits_no_delete BEFORE DELETE ON missed_visits
       BEGIN SELECT RAISE(ABORT, 'APPEND-ONLY: missed-visit reasons are never deleted'); END""",
    # Protocol deviations get more kinds and the reason given when a warning was overridden.
    f"""CREATE TABLE protocol_deviations_new (
        id INTEGER PRIMARY KEY,
        participant_id INTEGER NOT NULL REFERENCES participants(id),
        assessment_id INTEGER REFERENCES assessments(id),
        timepoint TEXT NOT NULL {_nonblank("timepoint")},
        kind TEXT NOT NULL CHECK (kind IN ('outside_window', 'infusion_before_baseline', 'infusion_interval',
                                           'late_entry', 'other')),
        description TEXT NOT NULL {_nonblank("description")},
        reason TEXT,
        minutes_early REAL CHECK (minutes_early IS NULL OR minutes_early >= 0),
        minutes_late REAL CHECK (minutes_late IS NULL OR minutes_late >= 0),
        recorded_by INTEGER REFERENCES users(id),
        recorded_at TEXT NOT NULL {_ts("recorded_at")}
    ) STRICT""",
    "INSERT INTO protocol_deviations_new (id, participant_id, assessment_id, timepoint, kind, description, "
    "minutes_early, minutes_late, recorded_by, recorded_at) SELECT id, participant_id, assessment_id, timepoint, "
    "kind, description, minutes_early, minutes_late, recorded_by, recorded_at FROM protocol_deviations",
    "DROP TABLE protocol_deviations",
    "ALTER TABLE protocol_deviations_new RENAME TO protocol_deviations",
    "CREATE INDEX idx_deviations_participant ON protocol_deviations(participant_id)",
    """CREATE TRIGGER deviations_no_update BEFORE UPDATE ON protocol_deviations
       BEGIN SELECT RAISE(ABORT, 'APPEND-ONLY: protocol deviations are never edited'); END""",
    """CREATE TRIGGER deviations_no_delete BEFORE DELETE ON protocol_deviations
       BEGIN SELECT RAISE(ABORT, 'APPEND-ONLY: protocol deviations are never deleted'); END""",
    # Safety alerts are raised when the answer is given, in the draft (no score yet: score_id
    # NULL, the item and value that fired it kept), and a corrected answer before submit
    # resolves the alert; it is never deleted, and its history is in the audit trail.
    f"""CREATE TABLE safety_alerts_new (
        id INTEGER PRIMARY KEY,
        assessment_id INTEGER NOT NULL REFERENCES assessments(id),
        participant_id INTEGER NOT NULL REFERENCES participants(id),
        score_id INTEGER REFERENCES scores(id),
        rule_id TEXT NOT NULL,
        message TEXT NOT NULL {_nonblank("message")},
        item_id TEXT,
        item_value INTEGER,
        created_at TEXT NOT NULL {_ts("created_at")},
        resolved_at TEXT {_ts("resolved_at")},
        resolved_by TEXT,
        resolution TEXT,
        acknowledged_at TEXT {_ts("acknowledged_at")},
        acknowledged_by INTEGER REFERENCES users(id),
        acknowledgement_note TEXT,
        UNIQUE (assessment_id, rule_id),
        FOREIGN KEY (assessment_id, participant_id) REFERENCES assessments(id, participant_id),
        CHECK ((acknowledged_at IS NULL) = (acknowledged_by IS NULL)),
        CHECK ((resolved_at IS NULL) = (resolved_by IS NULL))
    ) STRICT""",
    "INSERT INTO safety_alerts_new (id, assessment_id, participant_id, score_id, rule_id, message, created_at, "
    "acknowledged_at, acknowledged_by, acknowledgement_note) SELECT id, assessment_id, participant_id, score_id, "
    "rule_id, message, created_at, acknowledged_at, acknowledged_by, acknowledgement_note FROM safety_alerts",
    "DROP TABLE safety_alerts",
    "ALTER TABLE safety_alerts_new RENAME TO safety_alerts",
    "CREATE INDEX idx_safety_alerts_participant ON safety_alerts(participant_id)",
    "CREATE INDEX idx_safety_alerts_open ON safety_alerts(created_at) WHERE acknowledged_at IS NULL",
    # What fired an alert and when is fixed; an acknowledgement is final; resolution and
    # re-opening (the answer corrected, then given again) may change, always audited.
    f"""CREATE TRIGGER safety_alerts_fixed BEFORE UPDATE ON safety_alerts
       WHEN OLD.acknowledged_at IS NOT NULL OR {_ALERT_IMMUTABLE}
       BEGIN SELECT RAISE(ABORT, 'APPEND-ONLY: a safety alert can only be resolved, re-opened or acknowledged once'); END""",
    """CREATE TRIGGER safety_alerts_no_delete BEFORE DELETE ON safety_alerts
       BEGIN SELECT RAISE(ABORT, 'APPEND-ONLY: safety alerts can never be deleted'); END""",
    # Each notification sent (or attempted) for an alert, outside the app (e-mail).
    f"""CREATE TABLE alert_notifications (
        id INTEGER PRIMARY KEY,
        alert_id INTEGER NOT NULL REFERENCES safety_alerts(id),
        channel TEXT NOT NULL CHECK (channel IN ('email')),
        recipient TEXT NOT NULL {_nonblank("recipient")},
        status TEXT NOT NULL CHECK (status IN ('sent', 'failed')),
        error TEXT,
        attempted_at TEXT NOT NULL {_ts("attempted_at")}
    ) STRICT""",
    "CREATE INDEX idx_alert_notifications_alert ON alert_notifications(alert_id)",
    """CREATE TRIGGER alert_notifications_no_update BEFORE UPDATE ON alert_notifications
       BEGIN SELECT RAISE(ABORT, 'APPEND-ONLY: notification records are never changed'); END""",
    """CREATE TRIGGER alert_notifications_no_delete BEFORE DELETE ON alert_notifications
       BEGIN SELECT RAISE(ABORT, 'APPEND-ONLY: notification records are never deleted'); END""",
]


@_step
def m006_trial_day(db: Database) -> None:
    """Times as they happened (assessed_at and late-entry reasons), withdrawal/completion reason
    and date, missed visits with reasons, deviation kinds with override reasons, safety alerts
    raised in the draft (nullable score, item and value, resolution), alert notifications."""
    _run(db, M006)


M007 = [
    f"""CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
       BEGIN SELECT RAISE(ABORT, 'APPEND-ONLY: {what} are never deleted; correct them with a reason instead'); END"""
    for table, what in (("infusions", "infusions"), ("vitals", "vital signs"), ("adverse_events", "adverse events"))
] + [
    """CREATE TRIGGER item_responses_completed_no_delete BEFORE DELETE ON item_responses
       WHEN (SELECT status FROM assessments WHERE id = OLD.assessment_id) <> 'draft'
       BEGIN SELECT RAISE(ABORT, 'LOCKED: the answers of a completed assessment are never deleted; amend them with a reason'); END""",
]


@_step
def m007_no_deletes_of_clinical_records(db: Database) -> None:
    """Refuse DELETE of infusions, vital signs, adverse events and a completed assessment's
    answers (the app never deletes them; a hand-typed DELETE would leave no audit event). Hand-typed
    UPDATEs are found by `python -m db verify-audit` (db/integrity.check_data) instead."""
    _run(db, M007)


# ---------------------------------------------------------------------------------------------
# m008: a self-report link is held by one browser at a time (issue 13 item 6)
# ---------------------------------------------------------------------------------------------

_HOLDER_FIXED = (
    "CONFLICT: a self-report link stays with the browser that took it first; make a new link for another device"
)

M008 = [
    # The SHA-256 of the holder secret of the browser that took the link first (db.tokens.claim_link);
    # the secret itself stays with that browser. NULL: nobody has taken the link yet.
    "ALTER TABLE self_report_tokens ADD COLUMN holder_hash TEXT "
    "CHECK (holder_hash IS NULL OR (length(holder_hash) = 64 AND holder_hash NOT GLOB '*[^0-9a-f]*'))",
    f"ALTER TABLE self_report_tokens ADD COLUMN held_at TEXT {_ts('held_at')} "
    "CHECK ((held_at IS NULL) = (holder_hash IS NULL))",
    "CREATE UNIQUE INDEX idx_tokens_holder ON self_report_tokens(holder_hash) WHERE holder_hash IS NOT NULL",
    # Once taken, a link stays with its first holder: another device needs a new link.
    f"""CREATE TRIGGER self_report_tokens_holder_fixed BEFORE UPDATE OF holder_hash, held_at ON self_report_tokens
       WHEN OLD.holder_hash IS NOT NULL
            AND (NEW.holder_hash IS NOT OLD.holder_hash OR NEW.held_at IS NOT OLD.held_at)
       BEGIN SELECT RAISE(ABORT, '{_HOLDER_FIXED}'); END""",
]


@_step
def m008_link_holder(db: Database) -> None:
    """A self-report link is held by the first browser that takes it: the hash of that browser's
    holder secret and when it took the link, fixed once set (a trigger refuses any change)."""
    _run(db, M008)


# ---------------------------------------------------------------------------------------------
# m009: clinical data changes only through the app (issue 13 item 3)
# ---------------------------------------------------------------------------------------------

#: Every table whose rows are trial data, accounts or their trail. A write to any of them must
#: come from a connection opened by db.connection.connect, which defines APP_WRITER (a plain
#: `sqlite3` shell, DB Browser or any other tool does not, so SQLite refuses its statement).
GUARDED_TABLES = (
    "studies",
    "sites",
    "users",
    "participants",
    "eligibility_decisions",
    "infusions",
    "vitals",
    "adverse_events",
    "assessments",
    "item_responses",
    "scores",
    "signatures",
    "safety_alerts",
    "alert_notifications",
    "protocol_deviations",
    "missed_visits",
    "self_report_tokens",
    "self_report_link_assessments",
    "audit_events",
)

M009 = [
    f"""CREATE TRIGGER {table}_app_writes_only_{verb.lower()} BEFORE {verb} ON {table}
       WHEN {APP_WRITER}() IS NOT 1
       BEGIN SELECT RAISE(ABORT, 'OUTSIDE THE APP: {table} change only through Scalebook, where they are audited'); END"""
    for table in GUARDED_TABLES
    for verb in ("INSERT", "UPDATE", "DELETE")
]


@_step
def m009_app_writes_only(db: Database) -> None:
    """Refuse every INSERT, UPDATE and DELETE of trial data that does not come through the app.

    The triggers call APP_WRITER, an SQL function that only Scalebook's connections define; SQLite
    compiles a table's triggers into every statement that writes it, so in any other tool the
    statement fails ("no such function") before it changes a row. Someone who defines the function
    themselves, or drops the triggers, gets past this: verify-audit then finds the dropped or
    altered trigger (db.integrity.check_schema) and every changed row (check_data)."""
    _run(db, M009)


# ---------------------------------------------------------------------------------------------
# m010: the leftovers of a schedule kept in the database (issue 14 item 7)
# ---------------------------------------------------------------------------------------------

#: The study protocol (protocol/, one JSON file) is the one schedule: assessments name their
#: timepoint by its protocol id (assessments.timepoint). The m001 table of planned timepoints and
#: the assessments.timepoint_id that pointed into it were never read by anything and only
#: suggested a second schedule, so they go. ALTER TABLE ... DROP COLUMN refuses a column that an
#: index, a trigger, a view or a CHECK of another column names: its index goes first, and no
#: trigger or view names it; the column's own REFERENCES clause goes with the column. The audit
#: events of any planned timepoint once defined stay in the trail (it is append-only).
M010 = [
    "DROP INDEX IF EXISTS idx_assessments_timepoint",
    "ALTER TABLE assessments DROP COLUMN timepoint_id",
    "DROP TABLE planned_timepoints",
]


@_step
def m010_drop_leftovers(db: Database) -> None:
    """Drop the unused planned_timepoints table and assessments.timepoint_id (the protocol file
    is the schedule; see M010)."""
    _run(db, M010)


# ---------------------------------------------------------------------------------------------

LATEST_VERSION = len(STEP_NAMES)


def _number(name: str) -> int:
    match = re.match(r"m(\d+)_", name)
    if not match:  # pragma: no cover - guarded by test_db_migrations
        raise ValueError(f"migration name {name!r} must look like m001_what_it_does")
    return int(match.group(1))


def migrate(db: Database, *, stop_before: str | None = None) -> int:
    """Apply every pending step (or those before `stop_before`) and return the schema version.

    All pending steps run in one BEGIN IMMEDIATE transaction: two processes starting at once
    queue instead of racing, and a failing step leaves the database at its previous version.
    """
    with transaction(db):
        MIGRATIONS.apply(db, stop_before=stop_before)
    return schema_version(db)


def schema_version(db: Database) -> int:
    """The number of the last applied step (0 for an empty database)."""
    applied = [m.name for m in MIGRATIONS.applied(db) if m.name in STEP_NAMES]
    return max((_number(name) for name in applied), default=0)


def require_latest(db: Database) -> None:
    """Raise StorageError unless the schema is at the latest version (the app calls this at start)."""
    version = schema_version(db)
    if version != LATEST_VERSION:
        raise StorageError(
            f"the database is at schema version {version}, this code needs {LATEST_VERSION}; "
            f"run `python -m db init` to create or migrate it"
        )


def init_database(path=None) -> int:
    """Create or migrate the database at `path` (default: $SCALEBOOK_DB) and return its version.

    It also anchors the audit trail outside the file (a key and a witness, db/integrity.py;
    created on first use) and checks the trail against them: the app calls this at start, so a
    rewritten or truncated trail stops the app with a message instead of being used silently.
    """
    target = database_path(path)
    db = connect(target)
    try:
        version = migrate(db)
        if str(target) != ":memory:":
            # Under the database's write lock: processes starting at once create the key and
            # witness once, and none checks a witness another is still creating.
            with transaction(db):
                integrity.ensure_anchor(db, target)
            problems = integrity.check_database(db, target)
            if problems:
                raise StorageError(
                    "the audit trail failed its check, so the app will not use this database: "
                    + "; ".join(problems)
                    + ". An administrator must investigate (`python -m db verify-audit`) and, if needed, restore a "
                    "verified backup (`python -m db restore`)"
                )
        return version
    finally:
        db.close()
