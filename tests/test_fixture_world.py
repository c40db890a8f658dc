"""The test suite's fixtures form one world: tests/conftest.py loads them through pytest_plugins,
so a test module never imports a fixture by hand (which needed `noqa: F811`/`F403` and hid a
fixture shadowing another), and no fixture takes the name of a package, so `db` or `protocol` in
a test always means the package, never a connection or a loaded protocol."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests import browser, conftest_db

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
PACKAGES = sorted(p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file()) + ["study"]
SILENCED = re.compile(r"#\s*(?:ruff:\s*)?noqa:[^\n]*\bF(?:811|403)\b")
SHARED_MODULES = {"tests.conftest_db": conftest_db, "tests.browser": browser}


def _fixture_names(tree: ast.AST) -> list[tuple[str, int]]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and any("fixture" in ast.unparse(d) for d in node.decorator_list):
            names.append((node.name, node.lineno))
    return names


def _python_files() -> list[Path]:
    return sorted(TESTS.glob("*.py"))


def _shared_fixtures() -> set[str]:
    return {
        name
        for module in SHARED_MODULES.values()
        for name, _ in _fixture_names(ast.parse(Path(module.__file__).read_text()))
    }


def test_conftest_loads_the_shared_fixture_modules():
    from tests import conftest

    assert set(conftest.pytest_plugins) == set(SHARED_MODULES)


@pytest.mark.parametrize("path", _python_files(), ids=lambda p: p.name)
def test_no_module_imports_a_fixture_by_hand(path: Path):
    source = path.read_text()
    assert not SILENCED.search(source), f"{path.name}: fixtures come from pytest_plugins, not a silenced import"
    shared = _shared_fixtures()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tests."):
            imported = {a.name for a in node.names}
            assert "*" not in imported, f"{path.name}:{node.lineno}: star import from {node.module}"
            assert not imported & shared, f"{path.name}:{node.lineno}: imports fixtures {imported & shared}"
            if node.module != "tests.conftest_db" and node.module != "tests.browser":
                module_fixtures = {
                    n
                    for n, _ in _fixture_names(ast.parse((ROOT / (node.module.replace(".", "/") + ".py")).read_text()))
                }
                assert not imported & module_fixtures, f"{path.name}:{node.lineno}: imports fixtures from a test"


@pytest.mark.parametrize("path", _python_files(), ids=lambda p: p.name)
def test_no_fixture_is_named_like_a_package(path: Path):
    for name, line in _fixture_names(ast.parse(path.read_text())):
        assert name not in PACKAGES, f"{path.name}:{line}: fixture `{name}` has a package's name; name what it holds"


def test_the_package_list_is_real():
    assert {"db", "protocol", "scales", "ui"} <= set(PACKAGES)
