"""Every CSV file Scalebook writes goes through here, so that none can carry a spreadsheet formula.

A cell of text that starts with `=`, `+`, `-`, `@`, a tab, a carriage return or a NUL is run as a
formula by Excel, LibreOffice and Google Sheets when the file is opened ("CSV injection"): an
adverse-event term typed as `=HYPERLINK(...)` must reach the statistician as text. Such a cell is
written with a leading apostrophe (`'=HYPERLINK(...)`), which spreadsheets show as the text
itself and never evaluate (the OWASP rule; NUL from OWASP ASVS 5.0, V1.2.10). `neutralise()` is
that rule, and every CSV path calls it: the exports (csv, sdtm, redcap), the cohort page's table
download (`frame_csv`) and `python -m scales score --csv`.

What is never touched, so that statisticians' programs read the values back exactly:

- numbers: a number is never text here, and text that is exactly a decimal number (`-3`,
  `+0.5`, `-1e3`, as a rescored file or a table carries it) is a number to a spreadsheet too;
- values Scalebook itself generates (codes, ISO 8601 times such as `2026-03-02T09:40:00-05:00`,
  which start with a digit anyway, and durations such as `-P7D`): a writer is told which columns
  hold them (`raw`); every other text cell is treated as free text.

A spreadsheet opened in a locale whose list separator is `;` (most of continental Europe) reads
a comma-separated line as one cell up to each `;`, and quotes count there only at the start of
such a cell: `moved away;=cmd|...` in any column starts a cell `=cmd|...`, and so does a line
break inside a quoted cell (a new row); a tab splits a cell on a tab-separated import. So the
same rule applies to every part of free text that starts after a `;`, a tab, a carriage return
or a line feed: `moved away;'=cmd|...`. Such a cell is also always written in double quotes (the
csv module quotes `,`, `"` and line feeds by itself, but not `;`, tabs or a lone carriage
return, which would break the row for a CSV reader).

Cells: None is empty, booleans are `true`/`false`, whole floats lose their `.0`, everything else
is `str()`. Files are UTF-8 without a byte-order mark (the cohort table download has one, for
spreadsheet programs), comma-separated, quoted where needed, lines ending in `\\n`; a file written
here is readable by its owner only (0600).
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\0")
LINE_END = "\n"

#: What the data dictionary (dictionary.csv) says of every free-text column.
FREE_TEXT_NOTE = (
    "free text; where the text, or a part of it after a ';', a tab or a line break, starts with "
    "=, +, -, @, a tab or a carriage return, a ' was put before it so that spreadsheets show "
    "it as text, never as a formula"
)

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?").fullmatch
#: Where a spreadsheet may start a new cell inside a CSV cell (see the module docstring).
_SEPARATORS = re.compile(r"[;\t\r\n]").search
_INNER_START = re.compile(r"(?<=[;\t\r\n])(?=[=+\-@\t\r\0])")
#: Separators the csv module does not quote by itself.
_SPLITS = re.compile(r"[;\t\r]").search
_QUOTED = re.compile(r'[,"\n;\t\r]').search
_CHUNK = 4096


def neutralise(value: Any) -> Any:
    """The rule: `value` with an apostrophe before each part that a spreadsheet would run as a
    formula (the start of the text, and each part after a `;`, a tab or a line break, that starts
    with one of FORMULA_STARTS and is not exactly a decimal number). Anything else (numbers,
    None, plain text, text that is a number such as `-3`) comes back unchanged; text that was
    neutralised before comes back as it is."""
    if not isinstance(value, str):
        return value
    if value.startswith(FORMULA_STARTS) and not _NUMBER(value):
        value = "'" + value
    if _SEPARATORS(value):
        value = _neutralise_parts(value)
    return value


def _neutralise_parts(text: str) -> str:
    parts, last = [], 0
    for start in _INNER_START.finditer(text):
        at = start.start()
        end = _SEPARATORS(text, at + 1)
        if _NUMBER(text[at : end.start() if end else len(text)]):
            continue
        parts += [text[last:at], "'"]
        last = at
    return "".join([*parts, text[last:]])


def cell(value: Any, *, free_text: bool = True) -> str:
    """One value as written in a CSV cell (see the module docstring)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, int):
        return str(value)
    text = str(value)
    return neutralise(text) if free_text else text


def _line(values: Sequence[Any]) -> str:
    """One row of cells (str, int or None) as the csv module writes it, with every text cell that
    holds a separator a spreadsheet may split on in double quotes."""
    parts = []
    for value in values:
        text = "" if value is None else value if type(value) is str else str(value)
        if _QUOTED(text) or (text == "" and len(values) == 1):
            text = '"' + text.replace('"', '""') + '"'
        parts.append(text)
    return ",".join(parts) + LINE_END


class Writer:
    """A csv writer for rows given as mappings (column → value) or as sequences in column order.

    `raw`: the columns whose text Scalebook generates (codes, ISO times and durations), written
    as they are; every other text cell is neutralised, and quoted where it holds a separator.
    Counts the data rows it wrote.
    """

    def __init__(self, handle, columns: Sequence[str], *, raw: Collection[str] = ()) -> None:
        self.columns = list(columns)
        self._free = [i for i, c in enumerate(self.columns) if c not in raw]
        self._handle = handle
        self._writer = csv.writer(handle, lineterminator=LINE_END)
        self._split = False
        header = [neutralise(c) for c in self.columns]
        if any(_SPLITS(c) for c in header):
            handle.write(_line(header))
        else:
            self._writer.writerow(header)
        self.rows = 0

    def _cells(self, row: Mapping[str, Any] | Sequence[Any]) -> list[Any]:
        # The same result as cell() on every value, without a call per cell (exports write
        # millions): text and ints go to the csv module as they are (it writes None as empty),
        # the rest through cell(), then free-text columns are neutralised. Sets self._split when
        # a free-text cell needs quotes the csv module would not add.
        if isinstance(row, Mapping):
            values = [row.get(c) for c in self.columns]
        else:
            values = list(row)
            if len(values) != len(self.columns):
                raise ValueError(f"a row has {len(values)} cells for {len(self.columns)} columns")
        values = [v if v is None or (t := type(v)) is str or t is int else cell(v, free_text=False) for v in values]
        split = False
        for i in self._free:
            value = values[i]
            if type(value) is str and (value.startswith(FORMULA_STARTS) or _SEPARATORS(value)):
                values[i] = value = neutralise(value)
                if _SPLITS(value):
                    split = True
        self._split = split
        return values

    def writerow(self, row: Mapping[str, Any] | Sequence[Any]) -> None:
        values = self._cells(row)
        if self._split:
            self._handle.write(_line(values))
        else:
            self._writer.writerow(values)
        self.rows += 1

    def writerows(self, rows: Iterable[Mapping[str, Any] | Sequence[Any]]) -> None:
        cells, write_many, write_one = self._cells, self._writer.writerows, self._handle.write
        chunk: list[list[Any]] = []
        written = 0
        for row in rows:
            values = cells(row)
            written += 1
            if self._split:
                write_many(chunk)
                chunk.clear()
                write_one(_line(values))
            else:
                chunk.append(values)
                if len(chunk) >= _CHUNK:
                    write_many(chunk)
                    chunk.clear()
        write_many(chunk)
        self.rows += written


def _create(path: str | os.PathLike[str]):
    """A new (or emptied) UTF-8 text file for writing, readable by its owner only (0600): exports
    hold study data."""
    descriptor = os.open(Path(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    return os.fdopen(descriptor, "w", encoding="utf-8", newline="")


def write_columns(
    path: str | os.PathLike[str],
    columns: Mapping[str, Sequence[Any]],
    *,
    raw: Collection[str] = (),
    text: Collection[str] = (),
) -> int:
    """Write a CSV file from columns (name → values, all of one length) and return the number of
    rows. `text`: columns whose values are all str or None, which need no conversion (the fast
    path for a dataset of hundreds of thousands of rows); every other column is converted cell by
    cell as `cell()` does. Free-text columns (not in `raw`) are neutralised and quoted as always."""
    prepared = []
    split: set[int] = set()
    for name, values in columns.items():
        if name not in text:
            values = [v if v is None or (t := type(v)) is str or t is int else cell(v, free_text=False) for v in values]
        if name not in raw:
            values = [neutralise(v) for v in values]
            if _SPLITS("\n".join([v for v in values if type(v) is str])):  # rare: find the rows
                split.update(i for i, v in enumerate(values) if type(v) is str and _SPLITS(v))
        prepared.append(values)
    count = len(prepared[0]) if prepared else 0
    header = [neutralise(c) for c in columns]
    with _create(path) as handle:
        writer = csv.writer(handle, lineterminator=LINE_END)
        if any(_SPLITS(c) for c in header):
            handle.write(_line(header))
        else:
            writer.writerow(header)
        rows = zip(*prepared, strict=True)
        if not split:
            writer.writerows(rows)
        else:
            start = 0
            for index in sorted(split):
                writer.writerows(next(rows) for _ in range(index - start))
                handle.write(_line(next(rows)))
                start = index + 1
            writer.writerows(rows)
    return count


def to_csv_text(
    columns: Sequence[str], rows: Iterable[Mapping[str, Any] | Sequence[Any]], *, raw: Collection[str] = ()
) -> str:
    """The whole CSV (header and rows) as one string."""
    buffer = io.StringIO()
    Writer(buffer, columns, raw=raw).writerows(rows)
    return buffer.getvalue()


def write_csv(
    path: str | os.PathLike[str],
    columns: Sequence[str],
    rows: Iterable[Mapping[str, Any] | Sequence[Any]],
    *,
    raw: Collection[str] = (),
) -> int:
    """Write a CSV file (header and rows) and return the number of data rows written."""
    with _create(path) as handle:
        writer = Writer(handle, columns, raw=raw)
        writer.writerows(rows)
    return writer.rows


def _plain(value: Any) -> Any:
    """A table cell as a plain Python value: pandas' and numpy's missing markers (NaN, NA, NaT)
    become None; everything else stays as it is (cell() formats it)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if type(value).__name__ in ("NAType", "NaTType"):
        return None
    return value


def frame_csv(frame) -> bytes:
    """A table (a pandas DataFrame, read by its columns; no pandas import here) as CSV bytes for a
    download: every column is free text to this writer, so text is neutralised and quoted as in
    the exports while numbers stay numbers; UTF-8 with a byte-order mark, so that spreadsheet
    programs read '≥' and 'é' right."""
    names = [str(c) for c in frame.columns]
    columns = [[_plain(v) for v in frame[c].tolist()] for c in frame.columns]
    return to_csv_text(names, zip(*columns, strict=True)).encode("utf-8-sig")
