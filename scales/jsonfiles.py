"""JSON files checked against a JSON Schema, with errors that name file, JSON path and rule.

Shared by the scale definitions (scales.loader) and the study protocol (protocol.loader): each
passes its own error class, whose constructor takes (file, path, rule, message).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema.exceptions import best_match

ErrorFactory = Callable[[str, str, str, str], Exception]


@lru_cache(maxsize=8)
def schema_validator(schema_path: Path) -> jsonschema.Draft202012Validator:
    """The validator for a schema file, built (and the schema itself checked) once."""
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def display_name(path: Path, root: Path) -> str:
    """The path relative to the project root when it lies inside it (shorter messages)."""
    try:
        return str(path.resolve().relative_to(root))
    except ValueError:
        return str(path)


def read_json_file(path: Path, name: str, error: ErrorFactory) -> Any:
    """Parse one file; an unreadable file or a JSON syntax error becomes `error` with line and column."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(name, "$", "readable", f"cannot read the file ({exc.strerror})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(name, "$", "json-syntax",
                    f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None


def check_schema(raw: Any, file: str, schema_path: Path, error: ErrorFactory) -> None:
    """Raise `error` for the most relevant schema violation, saying how many more there are."""
    errors = list(schema_validator(schema_path).iter_errors(raw))
    if not errors:
        return
    worst = best_match(errors)
    more = f" ({len(errors) - 1} more problem(s) in this file)" if len(errors) > 1 else ""
    raise error(file, worst.json_path, f"schema:{worst.validator}", worst.message + more)
