"""Architecture rules that ruff's per-folder banned-api cannot express on its own.

ruff (run by `make test`) bans streamlit outside app.py, pages/ and ui/, and sqlite3 and sqlite_utils outside
db/. app.py needs streamlit, and ruff cannot lift one banned module for one file, so the
sqlite3 half of the rule for app.py is checked here.
"""

import ast
import re
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
        for package in ("scales", "db", "protocol", "study", "analytics", "charts", "exports", "selfreport", "notify")
        if (ROOT / package).is_dir()
        for path in (ROOT / package).rglob("*.py")
        if "streamlit" in imported_modules(path)
    ]
    assert offenders == []


def readme_layout_paths() -> set[str]:
    """The paths named in the first column of README.md's "Layout" table (`pages/`, `ui/` ...)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return {name.rstrip("/") for row in rows for name in re.findall(r"`([^`]+)`", row.split("|")[1])}


def test_readme_layout_lists_every_top_level_package():
    """A newcomer finds every package in the README's layout table: a new top-level package (a
    folder with an __init__.py) fails this test until it has a row there."""
    packages = {path.parent.name for path in ROOT.glob("*/__init__.py")}
    assert packages, "no packages found"
    missing = sorted(packages - readme_layout_paths())
    assert missing == [], f"add a row for {missing} to the Layout table in README.md"


def test_architecture_document_is_linked_and_names_every_package():
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert "(docs/architecture.md)" in (ROOT / "README.md").read_text(encoding="utf-8")
    packages = {path.parent.name for path in ROOT.glob("*/__init__.py")} - {"tests", "bench"}
    missing = sorted(p for p in packages if f"{p}/" not in doc)
    assert missing == [], f"docs/architecture.md does not place {missing} in the layers"
