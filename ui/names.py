"""Words the study pages (worklist, participants, cohort, trajectory, screening, self-report
hand-over, library) show for things stored under internal names: a scale's abbreviation for its
id ("MADRS", never `madrs`), plain words for a status (`screen_failed` → "screen failed"), and
headings for a table's columns. The rater's form and the review page have their own
(ui/form_text.py); both only change what is shown, never what is stored or exported.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd
from pandas.io.formats.style import Styler

from scales import registry


def scale_abbreviation(scale_id: str) -> str:
    """The scale's abbreviation (MADRS, QIDS-SR16); an uninstalled scale's id in capitals."""
    definition = registry().get(scale_id)
    return definition.abbreviation if definition else scale_id.upper()


def scale_list(scale_ids: Iterable[str]) -> str:
    """Scales as a reader lists them: "MADRS, HAM-D 17"."""
    return ", ".join(scale_abbreviation(s) for s in scale_ids)


def plain_words(name: object) -> str:
    """A stored name as words: 'screen_failed' → 'screen failed'; None → ''."""
    return "" if name is None or name != name else str(name).replace("_", " ")


def for_display(frame: pd.DataFrame, headings: Mapping[str, str], *, words: Iterable[str] = ()) -> Styler:
    """A table to show: columns renamed by `headings` (the others: underscores as spaces), the
    `words` columns' stored names as plain words, and empty cells blank instead of Streamlit's
    "None". The numbers stay numbers (a Styler only changes how a cell reads), so the table still
    sorts by value."""
    out = frame.copy()
    for column in words:
        if column in out:
            out[column] = [plain_words(v) for v in out[column]]
    for column in out.columns:
        if out[column].dtype == object:
            out[column] = out[column].where(out[column].notna(), "")
    out = out.rename(columns={c: headings.get(c, str(c).replace("_", " ")) for c in out.columns})
    floats = [c for c in out.columns if pd.api.types.is_float_dtype(out[c])]
    return out.style.format(na_rep="").format(_number, subset=floats, na_rep="")


def _number(value: float) -> str:
    """A float as a reader writes it: 13, 12.5, -22.6 (one decimal at most)."""
    return f"{round(float(value), 1):g}"
