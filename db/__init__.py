"""Scalebook storage: SQLite through sqlite-utils, with an audit trail on every change.

Pages never write SQL; they call the repository functions here, each inside one unit of work:

    from db import unit_of_work
    from db.assessments import save_draft_response

    with unit_of_work() as db:
        state = save_draft_response(db, actor, assessment_id, "hamd17_3", 1, expected_version=7)

Modules (one responsibility each):
    connection    connect(), unit_of_work(), transaction(): pragmas, one connection per unit of work
    migrations    the versioned schema (constraints and triggers included); migrate(), schema_version()
    audit         append-only, hash-chained audit events; verify_audit()
    permissions   roles, the action table, require()/authorize()
    users         accounts, argon2 passwords, sign-in with lock-out
    sites         sites and studies
    participants  pseudonymous participants
    assessments   the assessment lifecycle, stored scores, participant history
    alerts        safety alerts and their acknowledgement
    tokens        self-report link tokens (stored hashed)
    clinical      infusions, vitals, adverse events, planned timepoints
    cli           `python -m db` (init, adduser, backup, restore, verify-audit)

No Streamlit here (a lint rule enforces it), and only this package imports sqlite3.
"""

from db.connection import connect, database_path, transaction, unit_of_work
from db.errors import (
    BusyError,
    ConflictError,
    IntegrityViolation,
    LockedError,
    NotFoundError,
    PermissionDeniedError,
    StorageError,
    ValidationError,
)
from db.migrations import LATEST_VERSION, init_database, migrate, require_latest, schema_version

__all__ = [
    "LATEST_VERSION",
    "BusyError",
    "ConflictError",
    "IntegrityViolation",
    "LockedError",
    "NotFoundError",
    "PermissionDeniedError",
    "StorageError",
    "ValidationError",
    "connect",
    "database_path",
    "init_database",
    "migrate",
    "require_latest",
    "schema_version",
    "transaction",
    "unit_of_work",
]
