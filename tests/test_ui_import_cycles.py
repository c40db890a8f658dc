"""No import cycle between ui/ modules, counting the imports inside functions too: a cycle hidden
behind a function-level import (as ui.session and ui.participant_mode once had) means neither
module can be read, or tested, without the other. Participant mode builds on the staff session
(sign-in, idle time-out, the session marks), so ui.participant_mode imports ui.session, never the
reverse, and both check a staff password with db.signin_throttle.password_sign_in."""

from __future__ import annotations

import ast
from pathlib import Path

UI = Path(__file__).resolve().parent.parent / "ui"


def _ui_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module.startswith("ui."):
                found.add(node.module.split(".")[1])
            elif node.module == "ui":
                found.update(a.name for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("ui."))
    return found - {path.stem}


def _graph() -> dict[str, set[str]]:
    return {p.stem: _ui_imports(p) for p in UI.glob("*.py") if p.stem != "__init__"}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path + [node, nxt]
            if nxt not in state and (found := visit(nxt, path + [node])):
                return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start, [])):
            return found
    return None


def test_ui_modules_import_each_other_without_a_cycle():
    assert _cycle(_graph()) is None, " -> ".join(_cycle(_graph()) or [])


def test_the_cycle_finder_finds_one():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) is not None


def test_participant_mode_builds_on_the_session_not_the_reverse():
    graph = _graph()
    assert "session" in graph["participant_mode"] and "participant_mode" not in graph["session"]


def test_staff_passwords_are_checked_by_one_function():
    for name in ("session", "participant_mode"):
        calls = {
            ast.unparse(n.func) for n in ast.walk(ast.parse((UI / f"{name}.py").read_text())) if isinstance(n, ast.Call)
        }
        assert {c for c in calls if c.endswith("password_sign_in")}, f"ui/{name}.py checks a password elsewhere"
        assert not {c for c in calls if c.endswith("authenticate")}, f"ui/{name}.py bypasses password_sign_in"
