"""Participant-facing strings: all in selfreport/strings.py, complete in every language, and
the participant screens use no message id that does not exist."""

import ast
import re
from pathlib import Path

import pytest

from selfreport import strings
from selfreport.strings import STRINGS, placeholders, text

ROOT = Path(__file__).resolve().parent.parent
PARTICIPANT_FILES = ["ui/self_report.py", "ui/participant_mode.py", "pages/self_report.py"]


def used_ids() -> set[str]:
    ids = set()
    for name in PARTICIPANT_FILES:
        tree = ast.parse((ROOT / name).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) == "text"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                ids.add(node.args[0].value)
            if isinstance(node, ast.Dict):  # the refusal table maps reasons to message ids
                ids.update(
                    v.value
                    for v in node.values
                    if isinstance(v, ast.Constant) and isinstance(v.value, str) and v.value.startswith("link_")
                )
    return ids


def test_every_message_used_by_the_participant_screens_exists():
    missing = used_ids() - set(STRINGS["en"])
    assert not missing and len(used_ids()) > 30


@pytest.mark.parametrize("lang", list(STRINGS))
def test_every_language_has_every_message_with_the_same_placeholders(lang):
    assert set(STRINGS[lang]) == set(STRINGS["en"])
    for key, message in STRINGS[lang].items():
        assert placeholders(message) == placeholders(STRINGS["en"][key]), key
        assert message.strip(), key


def test_messages_are_short_and_plain():
    for key, message in STRINGS["en"].items():
        assert len(message) <= 200, key
        assert not re.search(r"\b(error|exception|token|invalid)\b", message, re.I), key


def test_text_fills_placeholders_and_falls_back_to_english(monkeypatch):
    assert text("question_count", number=3, total=16) == "Question 3 of 16"
    monkeypatch.setitem(STRINGS, "xx", {"next": "Weiter"})
    assert text("next", "xx") == "Weiter" and text("back", "xx") == "Back"
    monkeypatch.setenv(strings.LANGUAGE_ENV, "xx")
    assert text("next") == "Weiter"
    monkeypatch.setenv(strings.LANGUAGE_ENV, "no-such-language")
    assert text("next") == "Next"
    with pytest.raises(KeyError):
        text("no_such_message")


def test_participant_screens_hold_no_literal_english_sentences():
    """Every participant-facing sentence goes through text(); literals left in the UI code are
    only keys, CSS, markdown markup and identifiers."""
    for name in PARTICIPANT_FILES:
        tree = ast.parse((ROOT / name).read_text(encoding="utf-8"))
        calls = [
            n
            for n in ast.walk(tree)
            if isinstance(n, ast.Call)
            and getattr(n.func, "attr", None)
            in {"markdown", "caption", "info", "warning", "error", "button", "success", "write"}
        ]
        for call in calls:
            for arg in call.args[:1]:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    assert not re.search(r"[A-Za-z]{3,} [A-Za-z]{3,}", arg.value), (name, arg.value)
