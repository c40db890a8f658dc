"""Issue 16 item 9, the shape of a screen change: what a run does and sends, which is what the
rater waits for (bench/bench_browser.py measures the time in Chromium). Each test fails if the
work it counts comes back:

- a full run reads the signed-in account once (app.py's check, reused by the page's guard),
  not once by app.py and again by the guard: each read is a new SQLite connection;
- "Rate …" on the worklist opens the form in the run it causes, without drawing the worklist
  first (the assessment is found or started in the button's callback);
- an item is one wrapping horizontal card (no columns, no heading container, the prompt as
  the options' label): Streamlit sends every element on every tap, each at a cost to the server
  and more to the browser, so the MADRS form keeps to an element budget;
- the form's page style asks nothing of the whole page (`.stApp:has(...)` is checked again on
  every change anywhere in the page, over a hundred a tap);
- after the server is prepared its start-up objects are frozen (tests/test_preload.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from db import assessments, clinical, participants, users, visits
from db.connection import unit_of_work
from scales import get_scale
from tests.app_support import app, texts
from tests.test_app_form_compact import start
from tests.test_app_study_day import eligible

#: Elements (blocks included) of an open MADRS draft page, menu and banner included, as AppTest
#: counts them: 97 with each item one card (its heading, guide, "not assessed" and options in one
#: wrapping row, the prompt as the options' label). It was 117 with a heading container and a
#: caption per item, and 157 with columns and a two-part guide before that.
MADRS_PAGE_ELEMENTS = 100


def count_session_reads(monkeypatch) -> list[int]:
    calls: list[int] = []
    real = users.session_account

    def counted(db, user_id):
        calls.append(user_id)
        return real(db, user_id)

    monkeypatch.setattr(users, "session_account", counted)
    return calls


def test_a_full_run_reads_the_signed_in_account_once(app_world, monkeypatch):
    # app.py itself (st.navigation), whose first page for a rater is the worklist. AppTest runs
    # app.py on the first run only (later runs, and switch_page, run the page file on its own).
    reads = count_session_reads(monkeypatch)
    at = app("app.py", app_world.users["rater"]).run()
    assert not at.exception, at.exception
    assert "Today's worklist" in [t.value for t in at.title]
    assert len(reads) == 1, f"the account was read {len(reads)} times in one run"


def test_a_page_run_on_its_own_still_checks_the_account(app_world, monkeypatch):
    """Without app.py (a page started as its own script) the guard checks for itself; a
    deactivated account is signed out there, not let through by a check kept from elsewhere."""
    at = app("pages/worklist.py", app_world.users["rater"]).run()
    reads = count_session_reads(monkeypatch)
    with unit_of_work() as db:
        users.deactivate(db, app_world.users["admin"], app_world.users["rater"]["id"], reason="left the study")
    at.run()
    assert len(reads) == 1
    assert "Today's worklist" not in [t.value for t in at.title]
    assert any(b.label == "Sign in" for b in at.button)


def worklist_with_cadss_due(app_world):
    """The rater's worklist with KET-001's 40-minute CADSS due now (infusion 1 started 38 min ago)."""
    eligible(app_world)
    started = (datetime.now(UTC) - timedelta(minutes=38)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with unit_of_work() as db:
        clinical.record_infusion(db, app_world.users["coordinator"], app_world.p1["id"], 1, started, 70, 0.5)
    at = app("app.py", app_world.users["rater"]).run()
    return at.switch_page("pages/worklist.py").run()


def test_rate_on_the_worklist_opens_the_form_without_drawing_the_worklist_first(app_world, monkeypatch):
    at = worklist_with_cadss_due(app_world)
    drawn: list[int] = []
    real = visits.worklist_view

    def counted(*args, **kwargs):
        drawn.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(visits, "worklist_view", counted)
    next(b for b in at.button if b.label == "Rate CADSS").click().run()
    assert not at.exception, at.exception
    assert drawn == [], "the worklist was computed again before the form opened"
    with unit_of_work(write=False) as db:
        opened = assessments.find_assessment(db, app_world.p1["id"], "min_40", "cadss")
    assert opened is not None and at.query_params["assessment"] == str(opened["id"])
    assert any(r.key and r.key.startswith(f"v:{opened['id']}:") for r in at.radio)  # the form is on screen


def test_a_refused_rate_tap_says_why_on_the_worklist(app_world, monkeypatch):
    """The callback's refusal (here: the participant ended the study in between) is drawn on the
    worklist, and no form opens."""
    at = worklist_with_cadss_due(app_world)
    button = next(b for b in at.button if b.label == "Rate CADSS")
    with unit_of_work() as db:
        participants.withdraw_participant(db, app_world.users["coordinator"], app_world.p1["id"], "moved away")
    button.click().run()
    assert not at.exception, at.exception
    assert "withdrawn" in texts(at) and "assessment" not in at.query_params
    assert "Today's worklist" in [t.value for t in at.title]


def _elements(node) -> int:
    children = getattr(node, "children", None)
    if not isinstance(children, dict):
        return 0
    return sum(1 + _elements(child) for child in children.values())


def test_the_madrs_form_keeps_to_its_element_budget(app_world):
    aid = start(app_world, "madrs")
    at = app("app.py", app_world.users["rater"]).run()
    at.switch_page("pages/rate.py")
    at.query_params["assessment"] = str(aid)
    at.run()
    assert not at.exception, at.exception
    radios = [r for r in at.radio if r.key and r.key.startswith(f"v:{aid}:")]
    assert len(radios) == 10
    # The prompt moved into the options' label, not out of the form.
    assert [r.label for r in radios] == [item.prompt for item in get_scale("madrs").items]
    count = _elements(at.main) + _elements(at.sidebar)
    assert count <= MADRS_PAGE_ELEMENTS, f"{count} elements on the MADRS page (budget {MADRS_PAGE_ELEMENTS})"
    assert len(at.columns) <= 3  # the one row of controls above the form; no item has columns


def test_sign_and_submit_signs_before_the_page_runs_and_draws_the_result_once(app_world, monkeypatch):
    """The signature is made in the button's callback: the run the tap causes draws the signed
    result (and the next scale) once; it never draws the draft form again first. The password
    typed is not kept in the session afterwards."""
    from tests.test_app_form_compact import MADRS_22, open_form, rate_all, sign
    from ui import scale_form

    aid = start(app_world, "madrs")
    at = open_form(app_world, aid)
    rate_all(at, MADRS_22)
    shown: list[str] = []
    real = scale_form.render_form

    def recorded(user, assessment_id, *args, **kwargs):
        with unit_of_work(write=False) as db:
            shown.append(assessments.load_assessment(db, assessment_id)["status"])
        return real(user, assessment_id, *args, **kwargs)

    monkeypatch.setattr(scale_form, "render_form", recorded)
    sign(at)
    assert shown == ["signed"], f"the form was drawn as {shown} in the run after the tap"
    assert "Submitted (signed)." in texts(at)
    password_key = f"password:{aid}:sign"  # the password box's widget key (ui.scale_form)
    assert password_key not in at.session_state or not at.session_state[password_key]


def test_the_server_runs_no_full_garbage_collection_after_each_run():
    """.streamlit/config.toml turns off Streamlit's forced collection after every script run
    (a walk over every object of the server); Python's own collector still runs by its thresholds."""
    import gc
    import tomllib
    from pathlib import Path

    config = tomllib.loads((Path(__file__).resolve().parent.parent / ".streamlit" / "config.toml").read_text())
    assert config["runner"]["postScriptGC"] is False
    assert gc.isenabled() and gc.get_threshold()[0] > 0


def test_the_form_page_style_asks_nothing_of_the_whole_page():
    """The rules of the form page hang off elements the form draws or the sidebar's own state,
    never `:has()` on the app or the page container: Chromium checks such a rule again on every
    change anywhere below it, and a tap on the form makes over a hundred (bench/bench_browser.py)."""
    from ui.style import FORM_PAGE_CSS, TABLET_CSS

    for css in (TABLET_CSS, FORM_PAGE_CSS):
        for ancestor in (".stApp", ".stMain", ".stMainBlockContainer", "stAppViewContainer", "body", "html"):
            assert f"{ancestor}:has(" not in css and f"{ancestor}:not(:has(" not in css, ancestor
        # what :has() remains looks only at an element's own children or its own inputs
        for rule in css.split("}"):
            if ":has(" in rule:
                assert any(s in rule for s in (":has(> ", ":has(input:", ':has([data-testid="stRadioCaption"]')), rule
