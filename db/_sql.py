"""Small query helpers shared by the repository modules (rows as plain dicts)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, overload

from sqlite_utils import Database

from db.errors import NotFoundError, ValidationError


def one(db: Database, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
    cursor = db.execute(sql, list(params))
    row = cursor.fetchone()
    if row is None:
        return None
    return dict(zip((d[0] for d in cursor.description), row, strict=True))


def new_id(cursor: Any) -> int:
    """The rowid of the row an INSERT just added (the sqlite3 stubs say it may be None; after an
    INSERT into a rowid table it never is)."""
    rowid = cursor.lastrowid
    if rowid is None:
        raise RuntimeError("the INSERT added no row")
    return rowid


def many(db: Database, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    cursor = db.execute(sql, list(params))
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def record_id(value: Any, what: str) -> int:
    """A primary key from a caller: an int (or digit string), else a clear ValidationError."""
    if isinstance(value, bool):
        raise ValidationError(f"{what} id must be a whole number, not {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    raise ValidationError(f"{what} id must be a whole number, not {value!r}")


def require_row(row: dict[str, Any] | None, what: str, key: Any, hint: str = "") -> dict[str, Any]:
    if row is None:
        raise NotFoundError(f"no {what} {key!r}" + (f"; {hint}" if hint else ""))
    return row


# For the type checker: a required field always comes back as text, an optional one may be None.
@overload
def text(value: Any, what: str, *, max_len: int = 200, required: Literal[True] = True) -> str: ...
@overload
def text(value: Any, what: str, *, max_len: int = 200, required: bool) -> str | None: ...


def text(value: Any, what: str, *, max_len: int = 200, required: bool = True) -> str | None:
    """A free-text field: stripped, non-blank when required, bounded in length."""
    if value is None:
        if required:
            raise ValidationError(f"{what} is required")
        return None
    if not isinstance(value, str):
        raise ValidationError(f"{what} must be text, not {type(value).__name__}")
    value = value.strip()
    if not value:
        if required:
            raise ValidationError(f"{what} is required and cannot be blank")
        return None
    if len(value) > max_len:
        raise ValidationError(f"{what} is {len(value)} characters long; keep it to {max_len}")
    return value
