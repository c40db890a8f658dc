"""No internal names on screen (issue 16 item 7): every page of the demo study, for every role,
opened in AppTest, shows no item id (`madrs_4`), timepoint or rule key (`baseline_severity`,
`day_1`), citation key (`snaith1986`), Python's `None`, lower-case scale id (`madrs`) or
environment-variable name (`SCALEBOOK_DB`).

What counts as "on screen": every text element and every widget's label, options, help and
placeholder, metric labels and values, tab and expander labels, and the column names and cells
of every table. A page whose first screen asks to choose (a participant, a scale) is run once
more with the first choice made, so the screen behind the picker is read too.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from demo import build
from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df

from db import users
from db.connection import connect
from scales import registry
from tests.app_support import app
from ui.navigation import PAGES, pages_for_role

ROLE_ACCOUNTS = {
    "admin": "demo.admin",
    "pi": "demo.pi",
    "rater": "demo.rater1",
    "coordinator": "demo.coordinator",
    "monitor": "demo.monitor",
}

SNAKE_CASE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")  # madrs_4, baseline_severity, day_1
CITATION_KEY = re.compile(r"\b[a-z]+(?:19|20)\d\d[a-z]?\b")  # snaith1986, montgomery1979
# Python's None or pandas' nan as a value (a cell, or after a colon); "0–5 None" as a band's
# words and "None or minimal" are English.
NONE = re.compile(r"(?:^|[:=|(]\s*)(?:None|nan|NaN)(?=\s*(?:$|[|,;)·]))")
ENVIRONMENT = re.compile(r"\bSCALEBOOK_[A-Z_]*")
# A scale id in lower case, standing alone (not inside a file name, an address or a user name).
SCALE_ID = re.compile(
    r"(?<![\w./@-])(?:" + "|".join(sorted(map(re.escape, registry()), key=len, reverse=True)) + r")(?![\w./@-])"
)
PATTERNS = {
    "snake_case id": SNAKE_CASE,
    "citation key": CITATION_KEY,
    "None": NONE,
    "environment variable": ENVIRONMENT,
    "lower-case scale id": SCALE_ID,
}


def internal_names(text: str) -> list[str]:
    """The internal names in one piece of screen text, as "kind: match"."""
    return [f"{kind}: {m.group(0)}" for kind, pattern in PATTERNS.items() for m in pattern.finditer(text)]


def test_the_patterns_catch_each_kind_and_pass_plain_words():
    text = "madrs_4 · baseline_severity · snaith1986 · madrs · SCALEBOOK_DB | None"
    assert sorted(hit.split(": ", 1)[1].strip(" |") for hit in internal_names(text)) == sorted(
        ["madrs_4", "baseline_severity", "snaith1986", "None", "madrs", "SCALEBOOK_DB"]
    )
    assert internal_names("MADRS total 22 (Moderate) · Day 1 · demo.rater1 · Snaith et al. (1986)") == []
    assert internal_names("0–5 None; 6–10 Mild · 0–12 None or minimal") == []


def _strings(value) -> Iterator[str]:
    if value is None:
        return
    if isinstance(value, (list, tuple)):
        for v in value:
            yield from _strings(v)
    else:
        yield str(value)


def screen_texts(at) -> Iterator[tuple[str, str]]:
    """(where, text) for everything a run drew that a user reads."""
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success", "text"):
        for element in getattr(at, kind):
            yield kind, str(element.value)
    # Options are what the browser shows (format_func applied); a choice's `value` is the stored
    # one, not read here.
    widgets = ("button", "selectbox", "multiselect", "radio", "checkbox", "toggle", "text_input", "text_area")
    widgets += ("number_input", "date_input", "time_input", "select_slider", "slider")
    for kind in widgets:
        for element in getattr(at, kind):
            for attribute in ("label", "help", "placeholder", "options"):
                for text in _strings(getattr(element, attribute, None)):
                    yield f"{kind} {attribute}", text
    for element in at.metric:
        yield "metric", f"{element.label}: {element.value}"
    for kind in ("tabs", "expander"):
        for element in at.get(kind):
            yield kind, str(getattr(element, "label", ""))
    for element in at.dataframe:
        frame = element.value
        arrow = element.proto.arrow_data
        if arrow.HasField("styler") and arrow.styler.display_values:  # a Styler: cells as it formats them
            frame = convert_arrow_bytes_to_pandas_df(arrow.styler.display_values)
        yield "table columns", " | ".join(map(str, frame.columns))
        for row in frame.itertuples(index=False):
            yield "table row", " | ".join(map(str, row))


def hits_of(at, page_id: str, role: str, step: str) -> list[str]:
    found = []
    for where, text in screen_texts(at):
        for hit in internal_names(text):
            found.append(f"{role} / {page_id}{step} / {where}: {hit}  «{text[:90]}»")
    return found


@pytest.fixture(scope="module")
def demo_study(tmp_path_factory) -> Iterator[tuple[Path, dict[str, dict], dict[str, int]]]:
    """A small demo study (cheap password hashing), its accounts by role, and one assessment
    id of each status for the pages that open one by address."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(users, "hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))
        path = tmp_path_factory.mktemp("names") / "demo.db"
        build(path, seed=7, participants=4)
        with closing(connect(path)) as conn:
            accounts = {role: users.get_user(conn, name) for role, name in ROLE_ACCOUNTS.items()}
        with closing(sqlite3.connect(path)) as raw:
            # at the rater's site (S01), so the form opens for the rater too
            ids = dict(
                raw.execute(
                    "SELECT a.status, MIN(a.id) FROM assessments a JOIN participants p ON p.id = a.participant_id "
                    "JOIN sites s ON s.id = p.site_id WHERE s.code = 'S01' GROUP BY a.status"
                ).fetchall()
            )
        yield path, accounts, ids


def run_page(page_id: str, account: dict, query: dict | None = None) -> list:
    """The page's runs: as opened, then with each unset choice made (first option)."""
    at = app(PAGES[page_id].path, account, query).run()
    runs = [("", at)]
    if at.exception:
        return runs
    unset = [box for box in at.selectbox if box.value is None and box.options]
    if unset:
        unset[0].select_index(0)
        runs.append((" (first choice made)", at.run()))
    return runs


@pytest.mark.parametrize("role", ROLE_ACCOUNTS)
def test_no_internal_names_on_any_page(demo_study, role, monkeypatch):
    path, accounts, assessment_ids = demo_study
    monkeypatch.setenv("SCALEBOOK_DB", str(path))
    failing: list[str] = []
    for spec in pages_for_role(role):
        queries = [None]
        if spec.id == "rate" and assessment_ids:  # the form opens by address (?assessment=ID)
            queries = [{"assessment": str(i)} for i in assessment_ids.values()]
        for query in queries:
            for step, at in run_page(spec.id, accounts[role], query):
                assert not at.exception, f"{role} / {spec.id}{step}: {at.exception[0].value}"
                hits = hits_of(at, spec.id, role, step + (f" ?{query}" if query else ""))
                failing.extend(hits)
    assert not failing, f"{len(failing)} internal names on screen:\n" + "\n".join(dict.fromkeys(failing))
