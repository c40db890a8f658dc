"""Issue 13 item 8: text from people, the database and the address is shown as text, never as Markdown.

The proof renders EVERY page (Streamlit AppTest) as every role that may open it, over a database
seeded with Markdown and HTML payloads in every free-text field a user can fill (site code and
name, participant code, arm, user names, adverse-event term, late-entry reason, missed-visit
reason, deviation description and reason, withdrawal reason, amendment reason) and in the
address (`?assessment=`, `?participant=`), and reads back every string Streamlit would render as
Markdown: bodies of markdown, captions, titles and alerts, widget labels and `help` tooltips,
expander and tab labels, radio options, and `st.table` cells. None may carry a live payload: a
link or image (`](`), an HTML tag, or a bare link Streamlit would make clickable
(`http://evil…`, `www.evil…`, `…@evil…`). Every payload is aimed at the host `evil.example`, so
each page must also SHOW it (escaped) somewhere: the test cannot pass by drawing nothing.

One browser test (Chromium) opens the reported attack, a crafted `?assessment=` link followed by
a sign-in, and the pages a rater lands on: no link or image to the payload host is in the page
and the browser never asks that host for anything.

A static check reads the source of pages/ and ui/: an f-string handed to a
Markdown-rendering call may not interpolate a field that holds stored or typed text (a code, a
reason, a user name, an exception) without ui.text.md. It is a guard against regressions, not
the proof (a value can reach a call through a variable it cannot follow).
"""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote, urlsplit

import pandas as pd
import pytest
from argon2 import PasswordHasher

from db import assessments, clinical, participants, screening, sites, users, visits
from db.connection import unit_of_work
from db.deviations import record_deviation
from db.migrations import init_database
from db.permissions import system_actor
from protocol import load_protocol, screening_questions
from study.self_report import start_self_report
from tests.app_support import PASSWORD, app
from tests.browser import choose, expect_no_exception, expect_text, goto, open_page, sign_in
from tests.conftest_db import PASSING_SCREENING
from tests.test_analytics_db import frozen
from ui.navigation import PAGES
from ui.text import JOINER, md

ROOT = Path(__file__).resolve().parent.parent

IMAGE = "![x](http://evil.example/i.png)"
LINK = "[click](http://evil.example/l)"
HTML = "<img src=http://evil.example/h.png>"
TEXT = f"{IMAGE} {LINK} {HTML} www.evil.example"  # every free-text field gets all of them
CODE = "www.evil.example"  # valid as a participant and a site code: a bare link if not escaped

#: A payload still live in Markdown source: a link or image, an HTML tag, or a bare link.
LIVE = re.compile(r"(?<!\\)\]\(|(?<!\\)<img|(?<!\\)<[a-z]+ src|https?://evil|www\.evil|@evil", re.I)


def live_payloads(source: str) -> list[str]:
    return [source[max(m.start() - 30, 0) : m.end() + 30] for m in LIVE.finditer(source)]


# --------------------------------------------------------------------------- the escape itself


@pytest.mark.parametrize(
    "payload",
    [
        IMAGE,
        LINK,
        HTML,
        "http://evil.example/a",
        "https://evil.example",
        "www.evil.example",
        "WWW.EVIL.EXAMPLE",
        "pi@evil.example",
        "mailto:pi@evil.example",
        "<http://evil.example>",
        "[ref]: http://evil.example",
        "line\n[a]: http://evil.example\n[a]",
        "# heading",
        "- item",
        "1. item",
        "> quote",
        "`code`",
        "**bold**",
        "_em_",
        "~~strike~~",
        "$x$",
        ":red[colour] :material/home: :smile:",
        "&lt;b&gt;",
        "a | b\n--|--\nc | d",
    ],
)
def test_md_leaves_no_markdown_construct(payload):
    shown = md(payload)
    assert not live_payloads(shown), shown
    assert "\n" not in shown  # a new line could start a block
    # what a reader sees: the escapes resolve to the text itself, the joiner is invisible
    assert re.sub(r"\\(.)", r"\1", shown).replace(JOINER, "") == " ".join(payload.split("\n"))


def test_md_keeps_ordinary_text_readable_and_none_empty():
    assert (
        md("KET-001 (day 1): rated 10:30, 50% done; see item 3.")
        == "KET-001 (day 1): rated 10:30, 50% done; see item 3."
    )
    assert md("madrs_10 and qids_sr16") == "madrs_10 and qids_sr16"  # an underscore inside a word is text
    assert md(None) == "" and md(42) == "42"
    assert md("a\n- b", multiline=True) == "a  \n\\- b"


# --------------------------------------------------------------------------- every page, every role


def seed(protocol) -> SimpleNamespace:
    """One site, one account per role and two participants, every free-text field a payload."""
    init_database()
    system = system_actor("tests")
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(days=5)  # the infusion: its minute and day-1 visits are missed by now
    with unit_of_work() as db:
        sites.create_site(db, system, CODE, TEXT[:120], "Europe/London")
        made = {
            role: users.create_user(
                db,
                system,
                f"{role}@evil.example",
                role,
                PASSWORD,
                None if role in ("admin", "pi", "monitor") else CODE,
                all_sites=role in ("admin", "pi", "monitor"),
            )
            for role in ("admin", "pi", "rater", "coordinator", "monitor")
        }
    rater, coordinator = made["rater"], made["coordinator"]
    with frozen(start - timedelta(days=1)), unit_of_work() as db:
        person = participants.create_participant(db, coordinator, CODE, CODE, arm=IMAGE)
        other = participants.create_participant(db, coordinator, "P-2", CODE, arm=LINK)
        assessments.save_assessment(
            db, rater, person["id"], "baseline", "madrs", "clinician", {f"madrs_{n}": 3 for n in range(1, 11)}
        )
        answers = {q.id: PASSING_SCREENING[q.id] for q in screening_questions(protocol) if not q.automatic}
        screening.record_eligibility(db, coordinator, protocol, person["id"], answers)
    with frozen(start), unit_of_work() as db:
        infusion = clinical.record_infusion(db, coordinator, person["id"], 1, start, 70.0, 0.5, protocol=protocol)
        clinical.end_infusion(db, coordinator, infusion["id"], start + timedelta(minutes=40))
    with frozen(start + timedelta(hours=2)), unit_of_work() as db:
        clinical.record_adverse_event(
            db,
            coordinator,
            person["id"],
            TEXT[:200],
            start + timedelta(hours=1),
            "mild",
            "possible",
            infusion_id=infusion["id"],
            protocol=protocol,
        )
    with unit_of_work() as db:
        missed = visits.missed_visits(db, protocol, participant_id=person["id"])
        visits.record_missed_reason(db, coordinator, protocol, person["id"], missed[0]["timepoint"], TEXT)
        record_deviation(db, coordinator, person["id"], "day_1", TEXT, kind="other", reason=TEXT)
        participants.withdraw_participant(db, coordinator, other["id"], TEXT)
        # an open safety alert (MADRS item 10 = 5) on a draft: the banner on every staff page
        draft = assessments.start_assessment(db, rater, person["id"], "day_3", "madrs", "clinician")
        assessments.save_draft_response(db, rater, draft["id"], "madrs_10", 5)
        # the newest assessment: rated earlier (paper), with a reason, signed, then amended
        late = assessments.save_assessment(
            db,
            rater,
            person["id"],
            "day_2",
            "madrs",
            "clinician",
            {f"madrs_{n}": 2 for n in range(1, 11)},
            assessed_at=start + timedelta(days=2),
            late_entry_reason=TEXT,
        )
        signed = assessments.sign_assessment(db, rater, late["id"], late["version"])
        assessments.amend_assessment(db, rater, late["id"], {"madrs_3": 4}, TEXT, signed["version"])
    return SimpleNamespace(users=made, person=person, other=other, draft=draft, late=late)


@pytest.fixture(scope="module")
def payload_db(tmp_path_factory):
    """The seeded database, shared by every page run of this module (the page runs only read)."""
    path = tmp_path_factory.mktemp("markdown") / "scalebook.db"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SCALEBOOK_DB", str(path))
        patch.setenv("SCALEBOOK_WARMUP", "0")
        patch.setattr(users, "hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))
        world = seed(load_protocol())
    return SimpleNamespace(path=path, **vars(world))


@pytest.fixture
def payload_world(payload_db, monkeypatch):
    monkeypatch.setenv("SCALEBOOK_DB", str(payload_db.path))
    monkeypatch.setattr(users, "hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))
    return payload_db


MARKDOWN_FIELDS = {"body", "label", "help", "captions", "text", "content"}


def _strings(message, out: list[str]) -> None:
    """Every string a protobuf message holds in a field Streamlit renders as Markdown."""
    for descriptor, value in message.ListFields():
        name = descriptor.name
        single = isinstance(value, (str, bytes, int, float)) or hasattr(value, "ListFields")
        items = [value] if single else list(value)  # a repeated field
        for item in items:
            if hasattr(item, "ListFields"):
                _strings(item, out)
            elif isinstance(item, str) and (
                name in MARKDOWN_FIELDS or (name == "options" and type(message).__name__ == "Radio")
            ):
                out.append(item)


def rendered_markdown(at) -> list[str]:
    """The Markdown sources of everything the run drew: element bodies, labels, tooltips, radio
    options, expander and tab labels, and `st.table` cells (which render Markdown)."""
    out: list[str] = []

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        kind = type(proto).__name__ if proto is not None else ""
        if (
            proto is not None
            and hasattr(proto, "ListFields")
            and kind not in ("Selectbox", "MultiSelect", "TextInput", "TextArea")
        ):
            _strings(proto, out)
        elif kind in ("Selectbox", "MultiSelect", "TextInput", "TextArea"):  # options and values are plain text
            out.extend(s for s in (proto.label, proto.help) if s)
        if type(node).__name__ == "Table":
            frame = node.value
            if isinstance(frame, pd.DataFrame):
                out.extend(str(c) for c in frame.columns)
                out.extend(str(v) for v in frame.to_numpy().ravel())
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return out


def run(world, page: str, role: str, query: dict | None = None):
    at = app(f"pages/{page}.py", world.users[role], query).run()
    assert not at.exception, (page, role, [e.value for e in at.exception])
    return at


def assert_shown_as_text(at, where: str) -> None:
    sources = rendered_markdown(at)
    live = [hit for s in sources for hit in live_payloads(s)]
    assert not live, f"{where}: payload rendered as Markdown: {live}"
    # the payloads were drawn (escaped) somewhere on the page: the test checks something
    assert any("evil" in s for s in sources), f"{where}: no payload drawn at all"


STAFF_PAGES = [(page, role) for page, spec in PAGES.items() for role in spec.roles]


@pytest.mark.parametrize(("page", "role"), STAFF_PAGES, ids=[f"{p}-{r}" for p, r in STAFF_PAGES])
def test_every_page_shows_stored_text_as_text(payload_world, page, role):
    query = {"participant": CODE}
    at = run(payload_world, page, role, query)
    assert_shown_as_text(at, f"{page} as {role}")


@pytest.mark.parametrize("value", [IMAGE, LINK, HTML, "1 ![x](http://evil.example/x.png)"])
def test_an_assessment_id_in_the_address_is_shown_as_text(payload_world, value):
    """The reported attack: a crafted ?assessment= link, opened by a signed-in rater."""
    at = run(payload_world, "rate", "rater", {"assessment": value})
    assert "There is no assessment" in " ".join(e.value for e in at.error)
    assert_shown_as_text(at, f"rate?assessment={value}")


def test_the_open_draft_and_a_withdrawn_participant_show_stored_text_as_text(payload_world):
    at = run(payload_world, "rate", "rater", {"assessment": str(payload_world.draft["id"])})
    assert_shown_as_text(at, "the rating form of a draft")
    for role in ("coordinator", "pi"):
        at = run(payload_world, "participants", role, {"participant": "P-2"})
        assert_shown_as_text(at, f"the withdrawn participant's record as {role}")
        at = run(payload_world, "trajectory", role, {"participant": "P-2"})
        assert_shown_as_text(at, f"the withdrawn participant's trajectory as {role}")


def test_a_refusal_that_repeats_the_input_shows_it_as_text(payload_world):
    """Messages built from exceptions (ui.feedback.run_write) echo what was typed."""
    at = run(payload_world, "admin", "admin")
    next(t for t in at.text_input if t.label == "User name").input(LINK)
    next(s for s in at.selectbox if s.label == "Site").select(CODE)
    next(t for t in at.text_input if t.label == "Initial password").input("a long enough password")
    next(b for b in at.button if b.label == "Create user").click().run()
    assert any("is not valid" in e.value for e in at.error)
    assert_shown_as_text(at, "the refused account")


def test_a_participant_session_shows_stored_text_as_text(payload_world):
    """The participant's own screens (kiosk or link) carry no stored text but their questionnaire;
    run them anyway, as every page is."""

    with unit_of_work() as db:
        made = start_self_report(
            db,
            payload_world.users["coordinator"],
            load_protocol(),
            payload_world.person["id"],
            "day_7",
            ["phq9"],
            channel="link",
        )
    at = app("pages/self_report.py", None, {"token": made["token"]}).run()
    assert not at.exception
    sources = rendered_markdown(at)
    assert not [hit for s in sources for hit in live_payloads(s)]


@pytest.mark.browser
def test_in_the_browser_no_payload_becomes_a_link_or_loads_anything(fresh_app_server, tablet_page, monkeypatch):
    monkeypatch.setattr(users, "hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))
    seed(load_protocol())  # the server's database: SCALEBOOK_DB is the same file
    page = tablet_page
    asked: list[str] = []
    page.on(
        "request",
        lambda request: asked.append(request.url) if "evil" in (urlsplit(request.url).hostname or "") else None,
    )
    goto(page, f"{fresh_app_server.url}/rate?assessment={quote(IMAGE)}")
    sign_in(page, "rater@evil.example")
    expect_text(page, "There is no assessment")

    def check(where: str) -> None:
        expect_no_exception(page)
        links = page.locator('a[href*="evil"]').count()
        images = page.locator('img[src*="evil"], img[src="x"]').count()
        assert (links, images, asked) == (0, 0, []), where

    check("the crafted ?assessment= link")
    expect_text(page, "There is no assessment '![x](http:")  # shown, as text (an invisible joiner follows)
    open_page(page, "Today's worklist")
    expect_text(page, "missed visit with a reason recorded")
    check("the worklist (missed visits, the safety banner)")
    open_page(page, "Participants")
    expect_text(page, "withdrawn on")  # P-2, first in the list: the withdrawal reason follows
    check("the withdrawn participant's record")
    choose(page, "Participant", CODE)
    expect_text(page, "Reason: ![x](http:")  # a missed visit's reason
    expect_text(page, "Reason given: ![x](http:")  # a deviation's
    check("the participant's record (deviations, missed visits)")


# --------------------------------------------------------------------------- the static guard

#: Calls whose first argument (and `label=`, `help=`) Streamlit renders as Markdown.
MARKDOWN_CALLS = {
    "markdown",
    "caption",
    "error",
    "warning",
    "info",
    "success",
    "toast",
    "title",
    "header",
    "subheader",
    "button",
    "download_button",
    "form_submit_button",
    "link_button",
    "page_link",
    "checkbox",
    "toggle",
    "radio",
    "selectbox",
    "multiselect",
    "text_input",
    "text_area",
    "number_input",
    "date_input",
    "time_input",
    "slider",
    "expander",
    "popover",
    "metric",
    "tabs",
    "segmented_control",
    "pills",
    "status",
}
#: Subscript keys, names and attributes that hold stored or typed text in this code base.
USER_KEYS = {
    "code",
    "participant_code",
    "participant",
    "arm",
    "term",
    "reason",
    "username",
    "description",
    "message",
    "site_code",
    "note",
    "resolution",
    "status_reason",
    "late_entry_reason",
    "rater",
    "resolved_by",
    "acknowledged_by_name",
    "decided_by_name",
    "recorded_by_name",
    "reason_by",
    "recipient",
    "error",
    "name",
}
USER_NAMES = {
    "code",
    "requested",
    "username",
    "exc",
    "problem",
    "reason",
    "note",
    "term",
    "arm",
    "target_name",
    "site",
    "message",
}
USER_ATTRS = {"participant", "message", "notice", "problems", "notes"}
ESCAPES = {
    "md",
    "md_join",
    "text",
    "status_text",
    "len",
    "int",
    "float",
    "local_time",
    "shown",
    "local",
    "scoped_key",
    "format_rate",
}


def _unescaped(node: ast.AST) -> list[str]:
    """Stored-text values interpolated into `node` without an escape around them."""
    found: list[str] = []

    def visit(n: ast.AST) -> None:
        if isinstance(n, ast.Call):
            name = n.func.id if isinstance(n.func, ast.Name) else getattr(n.func, "attr", "")
            if name in ESCAPES:
                return
        if isinstance(n, ast.Subscript) and isinstance(n.slice, ast.Constant) and n.slice.value in USER_KEYS:
            found.append(ast.unparse(n))
            return
        if isinstance(n, ast.Name) and n.id in USER_NAMES:
            found.append(n.id)
            return
        if isinstance(n, ast.Attribute) and n.attr in USER_ATTRS:
            found.append(ast.unparse(n))
            return
        for child in ast.iter_child_nodes(n):
            visit(child)

    if isinstance(node, ast.JoinedStr):
        for part in node.values:
            if isinstance(part, ast.FormattedValue):
                visit(part.value)
    elif isinstance(node, ast.BinOp):
        for side in (node.left, node.right):
            found.extend(_unescaped(side))
    elif isinstance(node, (ast.Name, ast.Subscript, ast.Attribute)):
        visit(node)
    elif isinstance(node, (ast.List, ast.ListComp)):
        for element in [node.elt] if isinstance(node, ast.ListComp) else node.elts:
            found.extend(_unescaped(element))
    return found


def markdown_calls_without_escape(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    problems = []
    for call in ast.walk(tree):
        if not (
            isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr in MARKDOWN_CALLS
        ):
            continue
        metric = call.func.attr == "metric"  # a metric's value is Markdown too (a text input's is not)
        named = ("label", "help", "body", "value") if metric else ("label", "help", "body")
        args = call.args[: 2 if metric else 1] + [k.value for k in call.keywords if k.arg in named]
        for arg in args:
            for value in _unescaped(arg):
                problems.append(f"{path.relative_to(ROOT)}:{call.lineno}: {value} in {call.func.attr}() without md()")
    return problems


def test_no_markdown_call_interpolates_stored_text_without_md():
    files = sorted([*ROOT.glob("pages/*.py"), *ROOT.glob("ui/*.py")])
    problems = [p for path in files for p in markdown_calls_without_escape(path)]
    assert not problems, "\n".join(problems)


def test_the_static_guard_finds_what_it_is_for(tmp_path):
    sample = ROOT / "tests" / "_markdown_guard_sample.py"
    try:
        sample.write_text(
            "import streamlit as st\n"
            'st.error(f"There is no assessment {requested!r}.")\n'
            "st.markdown(f\"**{row['participant_code']}** · {md(row['arm'])}\")\n"
            'st.button(f"Resume {draft.participant}")\n'
            "st.caption(md(f\"by {row['username']}\"))\n",
            encoding="utf-8",
        )
        found = markdown_calls_without_escape(sample)
    finally:
        sample.unlink()
    assert [p.split(": ", 1)[1] for p in found] == [
        "requested in error() without md()",
        "row['participant_code'] in markdown() without md()",
        "draft.participant in button() without md()",
    ]
