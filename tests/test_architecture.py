"""Architecture rules that ruff's per-folder banned-api cannot express on its own.

ruff (run by `make test`) bans streamlit outside app.py, pages/ and ui/, and sqlite3 outside
db/. app.py needs streamlit, and ruff cannot lift one banned module for one file, so the
sqlite3 half of the rule for app.py is checked here.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_app_entry_point_never_talks_to_sqlite_directly():
    assert "sqlite3" not in imported_modules(ROOT / "app.py"), "app.py must go through db/ repository functions"


def test_domain_packages_never_import_streamlit():
    """A belt to ruff's braces: catches a domain package whose folder lost its ruff config."""
    offenders = [
        str(path.relative_to(ROOT))
        for package in ("scales", "db", "protocol", "analytics", "exports")
        for path in (ROOT / package).rglob("*.py")
        if "streamlit" in imported_modules(path)
    ]
    assert offenders == []
