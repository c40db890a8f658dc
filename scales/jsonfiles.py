"""JSON in, for every path that reads JSON someone wrote: strict parsing, then a JSON Schema check,
with errors that name the file, the place and the rule.

`parse_json` is the one JSON parser for input (scale definitions, the study protocol, the
schemas themselves, responses on `python -m scales score`'s stdin, FHIR Questionnaires for
`python -m exports import-fhir`). It refuses what Python's `json` module would otherwise accept
or crash on, each with one message that says what is wrong and where:

- a key repeated in one object (`json` silently keeps the last value; other readers keep the
  first, so the file means different things to different tools);
- NaN, Infinity and -Infinity (not JSON; a NaN dose compares false with every limit), and
  numbers too large for a float (1e400 would become infinity);
- integers longer than MAX_INT_DIGITS digits (Python refuses 4,300 and more with a ValueError
  that escapes `json`; long before that no scale value or dose is meant);
- nesting deeper than MAX_DEPTH (the parser's RecursionError; and a schema check or condition
  compiler walking a deep but parseable file would recurse too);
- text that is not UTF-8, and files larger than MAX_BYTES (read into memory whole).

Every refusal is a `JsonInputError` (a ValueError) with the line and column where known;
`read_json_file` turns it into the caller's error class, whose constructor takes
(file, path, rule, message): DefinitionError for scales, ProtocolError for protocols.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema.exceptions import best_match

ErrorFactory = Callable[[str, str, str, str], Exception]

MAX_BYTES = 16 * 1024 * 1024  # a scale definition is ~20 kB, a protocol ~15 kB, a large Questionnaire ~1 MB
MAX_DEPTH = 64  # shipped files nest at most 13 levels (scales/schema.json), definitions 7
MAX_INT_DIGITS = 30  # every integer a definition, protocol or response needs has far fewer


class JsonInputError(ValueError):
    """Input that is not acceptable JSON. `rule` is a short code (json-syntax, json-duplicate-key,
    ...); `line` and `column` are 1-based where the place is known."""

    def __init__(
        self, message: str, rule: str = "json-syntax", line: int | None = None, column: int | None = None
    ) -> None:
        self.rule, self.line, self.column = rule, line, column
        self.message = message
        where = f" at line {line}, column {column}" if line is not None else ""
        super().__init__(f"{message}{where}")


def _position(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _place_of(text: str, literal: str) -> tuple[int | None, int | None]:
    """Where a literal first occurs (for messages about a token the parser hands over without
    its position); (None, None) if it cannot be found."""
    index = text.find(literal)
    return _position(text, index) if index >= 0 else (None, None)


def _short(literal: str) -> str:
    return literal if len(literal) <= 24 else f"{literal[:12]}…{literal[-6:]} ({len(literal)} characters)"


def decode_utf8(data: bytes) -> str:
    """Bytes as UTF-8 text (a byte-order mark is allowed and dropped); JsonInputError naming the
    line and the first byte that is not UTF-8 otherwise."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise JsonInputError(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file as UTF-8", "utf-8", line, column
        ) from None


def _depth_error(value: Any) -> JsonInputError | None:
    """A JsonInputError if `value` nests deeper than MAX_DEPTH (checked without recursion)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth > MAX_DEPTH:
                return JsonInputError(
                    f"objects and arrays are nested more than {MAX_DEPTH} levels deep; "
                    f"nothing this file describes needs that",
                    "json-depth",
                )
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)
    return None


def parse_json(text: str) -> Any:
    """Parse JSON text strictly (see the module docstring); JsonInputError for anything refused."""

    def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                raise JsonInputError(
                    f"the key {json.dumps(key, ensure_ascii=False)} appears twice in one object; "
                    f"remove one (readers disagree on which value wins)",
                    "json-duplicate-key",
                )
            result[key] = value
        return result

    def no_constant(name: str) -> Any:
        line, column = _place_of(text, name)
        raise JsonInputError(f"{name} is not a number JSON allows; write a finite number", "json-number", line, column)

    def finite_float(literal: str) -> float:
        value = float(literal)
        if not math.isfinite(value):
            line, column = _place_of(text, literal)
            raise JsonInputError(f"the number {_short(literal)} is too large", "json-number", line, column)
        return value

    def short_int(literal: str) -> int:
        digits = len(literal.lstrip("-"))
        if digits > MAX_INT_DIGITS:
            line, column = _place_of(text, literal)
            raise JsonInputError(
                f"the integer {_short(literal)} has {digits} digits; no value here needs more than {MAX_INT_DIGITS}",
                "json-number",
                line,
                column,
            )
        return int(literal)

    try:
        value = json.loads(
            text,
            object_pairs_hook=unique_keys,
            parse_constant=no_constant,
            parse_float=finite_float,
            parse_int=short_int,
        )
    except json.JSONDecodeError as exc:
        raise JsonInputError(f"not valid JSON: {exc.msg}", "json-syntax", exc.lineno, exc.colno) from None
    except RecursionError:
        raise JsonInputError(
            f"objects and arrays are nested too deeply to read (the limit is {MAX_DEPTH} levels)", "json-depth"
        ) from None
    error = _depth_error(value)
    if error is not None:
        raise error
    return value


def parse_json_bytes(data: bytes) -> Any:
    """parse_json of UTF-8 bytes (size-checked): JsonInputError for anything refused."""
    if len(data) > MAX_BYTES:
        raise JsonInputError(f"the file is {len(data):,} bytes; the limit is {MAX_BYTES:,}", "size")
    return parse_json(decode_utf8(data))


@lru_cache(maxsize=8)
def schema_validator(schema_path: Path) -> jsonschema.Draft202012Validator:
    """The validator for a schema file, built (and the schema itself checked) once."""
    schema = parse_json_bytes(schema_path.read_bytes())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def display_name(path: Path, root: Path) -> str:
    """The path relative to the project root when it lies inside it (shorter messages)."""
    try:
        return str(path.resolve().relative_to(root))
    except (ValueError, OSError, RuntimeError):
        return str(path)


def read_json_file(path: Path, name: str, error: ErrorFactory) -> Any:
    """Read and parse one file: an unreadable file, text that is not UTF-8 or anything parse_json
    refuses becomes `error(name, "$", rule, message)`, with line and column where known."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise error(name, "$", "size", f"the file is {size:,} bytes; the limit is {MAX_BYTES:,}")
        data = path.read_bytes()
    except OSError as exc:
        raise error(name, "$", "readable", f"cannot read the file ({exc.strerror or exc})") from None
    try:
        return parse_json_bytes(data)
    except JsonInputError as exc:
        raise error(name, "$", exc.rule, str(exc)) from None


_SIZE_MESSAGES = {
    "maxItems": "has {size} entries; at most {limit} are allowed",
    "maxProperties": "has {size} entries; at most {limit} are allowed",
    "maxLength": "is {size} characters long; at most {limit} are allowed",
}
MAX_MESSAGE = 300  # characters of a schema message; jsonschema quotes the whole offending value


def _schema_message(problem: jsonschema.ValidationError) -> str:
    """jsonschema's message, without a 200-entry list quoted in full: past MAX_MESSAGE characters,
    a size limit says the size instead, anything else is cut."""
    message = problem.message
    if len(message) <= MAX_MESSAGE:
        return message
    template = _SIZE_MESSAGES.get(str(problem.validator))
    if template is not None and isinstance(problem.instance, list | dict | str):
        return template.format(size=len(problem.instance), limit=problem.validator_value)
    return message[:MAX_MESSAGE] + "…"


def check_schema(raw: Any, file: str, schema_path: Path, error: ErrorFactory) -> None:
    """Raise `error` for the most relevant schema violation, saying how many more there are."""
    errors = list(schema_validator(schema_path).iter_errors(raw))
    if not errors:
        return
    worst = best_match(errors)
    more = f" ({len(errors) - 1} more problem(s) in this file)" if len(errors) > 1 else ""
    raise error(file, worst.json_path, f"schema:{worst.validator}", _schema_message(worst) + more)
