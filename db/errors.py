"""Errors raised by the storage layer on purpose.

Every message says what is wrong and how to fix it, so that pages and the CLI can show it as it
is (never as a traceback). Catch `StorageError` to handle all of them; the subclasses let a page
react differently to, say, a stale copy (reload) and a missing permission (hide the action).
"""


class StorageError(Exception):
    """Base class for every error the db package raises on purpose."""


class ValidationError(StorageError):
    """The input is wrong (bad value, unknown scale, missing reason...); nothing was written."""


class NotFoundError(StorageError):
    """A participant, assessment, user, site or token that does not exist."""


class ConflictError(StorageError):
    """Someone else saved a newer copy, or the record already exists; reload and try again."""


class PermissionDeniedError(StorageError):
    """The actor's role (or site, or self-report link) does not allow this action."""


class LockedError(StorageError):
    """The record is locked (or the account is locked) and cannot be changed."""


class BusyError(StorageError):
    """The database stayed busy longer than the busy timeout; nothing was written, retry."""


class IntegrityViolation(StorageError):
    """A database constraint or trigger refused a write (the data stays as it was)."""
