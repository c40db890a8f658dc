"""A bad scale or protocol file never takes the app down (issue 13, item 10).

The scale registry skips a definition file that fails validation (logged, and shown to admins
naming the file and the problem) and serves every other scale; the schema caps item ranges so a
mistyped `max` costs a message, not the server's memory; a malformed protocol file is one clear
message on the page, never an exception box. The definitions directory of a test is a copy
named by $SCALEBOOK_SCALES_DIR, the protocol a file named by $SCALEBOOK_PROTOCOL.
"""

from __future__ import annotations

import copy
import json
import logging
import shutil

import pytest

from protocol import ProtocolError, load_protocol
from scales import DefinitionError, loader
from scales.loader import DEFINITIONS_DIR, _check_item, compile_definition, registry, validate_schema
from tests.app_support import app, texts
from ui import study as ui_study

PHQ9 = json.loads((DEFINITIONS_DIR / "phq9.json").read_text(encoding="utf-8"))
# The one shipped scale the default protocol does not use: broken, the study runs without it.
UNUSED = json.loads((DEFINITIONS_DIR / "madrs_s.json").read_text(encoding="utf-8"))
DEFAULT_PROTOCOL = DEFINITIONS_DIR.parent.parent / "protocol" / "studies" / "default.json"


def duplicate_key_text(raw: dict) -> str:
    """The definition with its "version" key written twice: JSON a plain json.loads accepts."""
    text = json.dumps(raw)
    return text.replace('"version": ', '"version": "9.9.9", "version": ', 1)


@pytest.fixture
def definitions(tmp_path, monkeypatch):
    """A copy of the shipped definitions, used by everything in the test (SCALEBOOK_SCALES_DIR)."""
    directory = tmp_path / "definitions"
    shutil.copytree(DEFINITIONS_DIR, directory)
    monkeypatch.setenv("SCALEBOOK_SCALES_DIR", str(directory))
    ui_study._load.clear()  # the protocol as the pages cache it, validated against these scales
    yield directory
    ui_study._load.clear()


# --- the registry --------------------------------------------------------------------------


def test_a_broken_file_is_skipped_logged_and_named_and_the_rest_load(definitions, caplog):
    (definitions / "phq9.json").write_text(duplicate_key_text(PHQ9), encoding="utf-8")
    (definitions / "notes.json").write_bytes(b'{"title": "Caf\xe9"}')
    with caplog.at_level(logging.WARNING, logger="scales.loader"):
        loaded = registry()
    assert set(loaded) == {p.stem for p in loader.definition_files(DEFINITIONS_DIR)} - {"phq9"}  # every other one
    problems = {entry.stem: entry.message for entry in loader.skipped_definitions()}
    assert set(problems) == {"phq9", "notes"}
    assert 'phq9.json: at $: the key "version" appears twice' in problems["phq9"]
    assert "notes.json: at $: not UTF-8 text (byte 0xe9)" in problems["notes"]
    logged = [r.getMessage() for r in caplog.records if r.name == "scales.loader"]
    assert any("scale definition skipped" in line and "phq9.json" in line for line in logged)
    assert any("notes.json" in line for line in logged)


def test_an_item_max_of_a_billion_is_refused_by_the_schema():
    raw = copy.deepcopy(PHQ9)
    raw["items"][0]["max"] = 10**9
    with pytest.raises(DefinitionError) as caught:
        validate_schema(raw, "phq9.json")
    assert caught.value.path == "$.items[0].max"
    assert "1000000000 is greater than the maximum of 1000" in str(caught.value)


def test_too_many_options_are_refused_by_the_schema():
    raw = copy.deepcopy(PHQ9)
    raw["items"][0]["options"] = [{"value": v, "label": str(v)} for v in range(200)]
    with pytest.raises(DefinitionError) as caught:
        compile_definition(raw, "phq9.json")
    assert caught.value.path == "$.items[0].options"
    assert "has 200 entries; at most 101 are allowed" in str(caught.value) and len(str(caught.value)) < 300


def test_a_wide_item_range_costs_a_short_message_not_memory():
    """Even past the schema (the loader's own check), the range is never built: a gap is named by
    its first values and a count."""
    raw = {"items": [{"min": 0, "max": 10**7, "options": []}]}
    options = [{"value": 0, "label": "none"}, {"value": 1, "label": "some"}]
    with pytest.raises(DefinitionError) as caught:
        _check_item(raw, 0, options, "wide.json")
    message = str(caught.value)
    assert caught.value.rule == "options-cover-range"
    assert "[2, 3, 4, 5, 6, 7, 8, 9, 10, 11] and 9999989 more" in message
    assert len(message) < 300


def test_every_shipped_definition_is_within_the_caps():
    for path in loader.definition_files(DEFINITIONS_DIR):  # not the *.cases.json beside them
        validate_schema(json.loads(path.read_text(encoding="utf-8")), path.name)
    assert loader.skipped_definitions(DEFINITIONS_DIR) == []


def test_a_protocol_needing_a_broken_scale_says_which_file_is_broken(definitions):
    (definitions / "madrs.json").write_text("{", encoding="utf-8")
    with pytest.raises(ProtocolError) as caught:
        load_protocol(DEFAULT_PROTOCOL)
    assert "scale 'madrs' is not a known scale" in str(caught.value)
    assert "its definition file was skipped" in str(caught.value) and "madrs.json" in str(caught.value)


# --- the pages -----------------------------------------------------------------------------


def test_sign_in_screen_is_untouched_by_a_broken_definition(app_world, definitions):
    (definitions / "madrs_s.json").write_text(duplicate_key_text(UNUSED), encoding="utf-8")
    at = app("app.py").run()
    assert not at.exception, at.exception
    assert [t.label for t in at.text_input] == ["User name", "Password"]
    assert not at.error and not at.warning
    assert "madrs_s" not in texts(at)


def test_admin_sees_the_skipped_file_and_why_in_the_library_and_on_the_admin_page(app_world, definitions):
    raw = copy.deepcopy(UNUSED)
    raw["items"][0]["max"] = 10**9
    (definitions / "madrs_s.json").write_text(json.dumps(raw), encoding="utf-8")
    for page in ("pages/library.py", "pages/admin.py"):
        at = app(page, app_world.users["admin"]).run()
        assert not at.exception, at.exception
        warnings = [w.value for w in at.warning]
        assert len(warnings) == 1, warnings
        assert "Scale definition skipped" in warnings[0] and "madrs_s.json" in warnings[0]
        assert "greater than the maximum of 1000" in warnings[0]
    library = app("pages/library.py", app_world.users["admin"]).run()
    labels = [t.label for t in library.tabs]
    assert "MADRS-S" not in labels and "MADRS" in labels and "PHQ-9" in labels  # every other scale is served


@pytest.mark.parametrize("page", ["app.py", "pages/library.py", "pages/worklist.py", "pages/rate.py"])
def test_staff_pages_keep_working_without_the_broken_scale(app_world, definitions, page):
    (definitions / "madrs_s.json").write_text("{not json", encoding="utf-8")
    at = app(page, app_world.users["rater"]).run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert "Scale definition skipped" not in texts(at)  # the admin's to fix; a rater is not shown it


def test_a_broken_definition_the_protocol_needs_is_one_clear_message(app_world, definitions):
    (definitions / "madrs.json").write_bytes(b"\xff\xfe")
    at = app("app.py").run()
    assert not at.exception, at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1, errors
    assert "scale 'madrs' is not a known scale" in errors[0] and "madrs.json" in errors[0]


def test_a_definition_broken_while_the_server_runs_is_one_clear_message(app_world, definitions):
    """The pages' protocol is revalidated when a definition file changes, so a scale it needs that
    breaks later gives the same one message instead of a page failing to find the scale."""
    at = app("pages/worklist.py", app_world.users["rater"]).run()
    assert not at.exception and not at.error
    (definitions / "madrs.json").write_text('{"id": "madrs", "id": "madrs"}', encoding="utf-8")
    at.run()
    assert not at.exception, at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "madrs.json" in errors[0] and "appears twice" in errors[0], errors


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("not_utf8.json", b'{"id": "Caf\xe9"}', "not UTF-8 text (byte 0xe9)"),
        ("deep.json", b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        ("digits.json", b'{"id": ' + b"7" * 5000 + b"}", "5000 digits"),
        ("duplicate.json", None, 'the key "blinded" appears twice'),
        ("dose.json", None, "1e+308 is greater than the maximum of 5"),
    ],
)
def test_a_malformed_protocol_is_one_clear_message(app_world, tmp_path, monkeypatch, name, content, fragment):
    path = tmp_path / name
    if name == "duplicate.json":
        text = DEFAULT_PROTOCOL.read_text(encoding="utf-8")
        content = text.replace('"blinded": ', '"blinded": false, "blinded": ', 1).encode()
    elif name == "dose.json":
        raw = json.loads(DEFAULT_PROTOCOL.read_text(encoding="utf-8"))
        raw["dosing"]["mg_per_kg"]["max"] = 1e308
        content = json.dumps(raw).encode()
    path.write_bytes(content)
    monkeypatch.setenv("SCALEBOOK_PROTOCOL", str(path))
    ui_study._load.clear()
    try:
        at = app("app.py").run()
    finally:
        ui_study._load.clear()
    assert not at.exception, at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1, errors
    assert "The study protocol file is not valid" in errors[0]
    assert name in errors[0] and fragment in errors[0]
