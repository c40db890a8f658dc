"""Every CSV file Scalebook writes goes through here, so that none can carry a spreadsheet formula.

A cell of free text that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is run as a
formula by Excel, LibreOffice and Google Sheets when the file is opened ("CSV injection"): an
adverse-event term typed as `=HYPERLINK(...)` must reach the statistician as text. Such a cell is
written with a leading apostrophe (`'=HYPERLINK(...)`), which spreadsheets show as the text
itself and never evaluate (the OWASP recommendation).

Only free text is neutralised. Values Scalebook itself generates (numbers, ISO 8601 times and
durations such as `-P7D`, controlled codes) are exact data that a statistician's program reads
back, so a writer is told which columns hold them (`raw`); every other text cell is treated as
free text. Numbers are never touched (a negative number is a number, not a formula).

Cells: None is empty, booleans are `true`/`false`, whole floats lose their `.0`, everything else
is `str()`. Files are UTF-8 without a byte-order mark, comma-separated, quoted where needed,
lines ending in `\\n`.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
LINE_END = "\n"


def neutralise(text: Any) -> Any:
    """`text` with a leading apostrophe if a spreadsheet would run it as a formula; anything that
    is not text (numbers, None) comes back unchanged."""
    if isinstance(text, str) and text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


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


class Writer:
    """A csv writer for rows given as mappings (column → value) or as sequences in column order.

    `raw`: the columns whose text Scalebook generates (codes, ISO times and durations), written
    as they are; every other text cell is neutralised. Counts the data rows it wrote.
    """

    def __init__(self, handle, columns: Sequence[str], *, raw: Collection[str] = ()) -> None:
        self.columns = list(columns)
        self._free = [i for i, c in enumerate(self.columns) if c not in raw]
        self._writer = csv.writer(handle, lineterminator=LINE_END)
        self._writer.writerow([neutralise(c) for c in self.columns])
        self.rows = 0

    def _cells(self, row: Mapping[str, Any] | Sequence[Any]) -> list[Any]:
        # The same result as cell() on every value, without a call per cell (exports write
        # millions): text and ints go to the csv module as they are (it writes None as empty),
        # the rest through cell(), then free-text columns are neutralised.
        if isinstance(row, Mapping):
            values = [row.get(c) for c in self.columns]
        else:
            values = list(row)
            if len(values) != len(self.columns):
                raise ValueError(f"a row has {len(values)} cells for {len(self.columns)} columns")
        values = [v if v is None or (t := type(v)) is str or t is int else cell(v, free_text=False) for v in values]
        for i in self._free:
            value = values[i]
            if type(value) is str and value.startswith(FORMULA_STARTS):
                values[i] = "'" + value
        return values

    def writerow(self, row: Mapping[str, Any] | Sequence[Any]) -> None:
        self._writer.writerow(self._cells(row))
        self.rows += 1

    def writerows(self, rows: Iterable[Mapping[str, Any] | Sequence[Any]]) -> None:
        cells = self._cells
        written = 0

        def counted():
            nonlocal written
            for row in rows:
                written += 1
                yield cells(row)

        self._writer.writerows(counted())
        self.rows += written


def write_columns(path: str | os.PathLike[str], columns: Mapping[str, Sequence[Any]], *, raw: Collection[str] = (),
                  text: Collection[str] = ()) -> int:
    """Write a CSV file from columns (name → values, all of one length) and return the number of
    rows. `text`: columns whose values are all str or None, which need no conversion (the fast
    path for a dataset of hundreds of thousands of rows); every other column is converted cell by
    cell as `cell()` does. Free-text columns (not in `raw`) are neutralised as always."""
    prepared = []
    for name, values in columns.items():
        if name not in text:
            values = [v if v is None or (t := type(v)) is str or t is int else cell(v, free_text=False)
                      for v in values]
        if name not in raw:
            values = [neutralise(v) for v in values]
        prepared.append(values)
    count = len(prepared[0]) if prepared else 0
    with Path(path).open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator=LINE_END)
        writer.writerow([neutralise(c) for c in columns])
        writer.writerows(zip(*prepared, strict=True))
    return count


def to_csv_text(columns: Sequence[str], rows: Iterable[Mapping[str, Any] | Sequence[Any]], *,
                raw: Collection[str] = ()) -> str:
    """The whole CSV (header and rows) as one string."""
    buffer = io.StringIO()
    Writer(buffer, columns, raw=raw).writerows(rows)
    return buffer.getvalue()


def write_csv(path: str | os.PathLike[str], columns: Sequence[str],
              rows: Iterable[Mapping[str, Any] | Sequence[Any]], *, raw: Collection[str] = ()) -> int:
    """Write a CSV file (header and rows) and return the number of data rows written."""
    with Path(path).open("w", encoding="utf-8", newline="") as handle:
        writer = Writer(handle, columns, raw=raw)
        writer.writerows(rows)
    return writer.rows
