"""The guard rails of `make lint` catch what they claim, and the tree keeps them.

Each rule is shown twice: the real tree passes it, and a temporary copy with one planted
violation fails it, run by the same tool with the same configuration (pyproject.toml and the
folders' ruff.toml files copied beside the plant). A rail that passes everything would pass the
planted file too, and this module would fail.

The rules (each one's reason sits next to it in pyproject.toml, the ruff.toml files or below):
- no upward import between packages (import-linter's layer contract);
- sqlite3 and sqlite_utils only in db/ (ruff banned-api), no `.execute(` in pages/ or ui/ (here);
- one layout (`ruff format --check`);
- types (mypy);
- every third-party import declared in requirements.txt (here).
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SKIP_DIRS = {
    ".venv",
    ".git",
    "data",
    "__pycache__",
    ".artifacts",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    ".import_linter_cache",
    ".hypothesis",
    "node_modules",
}
# The packages of the layer contract ([tool.importlinter] root_packages); copied whole for the plant.
LAYERED = ("demo", "ui", "charts", "analytics", "exports", "selfreport", "study", "notify", "db", "protocol", "scales")


def project_files() -> list[Path]:
    """Every Python file of the project (app, pages, packages, tests, benchmarks, deploy scripts)."""
    return sorted(path for path in ROOT.rglob("*.py") if not SKIP_DIRS.intersection(path.relative_to(ROOT).parts))


def top_level_imports(path: Path) -> set[str]:
    """Top-level names of the absolute imports in a file, wherever they stand (functions too)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def first_party(root: Path) -> set[str]:
    """Names the project itself provides: its top-level folders and modules (pages/ scripts
    import nothing of each other, tests/clockshift is put on a child's path by name)."""
    names = {p.name for p in root.iterdir() if p.is_dir()} | {p.stem for p in root.glob("*.py")}
    names |= {p.stem for p in (root / "tests" / "clockshift").glob("*.py")}
    return names


def normalise(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()


def declared_distributions(requirements: Path) -> set[str]:
    names = set()
    for line in requirements.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.add(normalise(re.split(r"[\s<>=!~;\[]", line, maxsplit=1)[0]))
    return names


def undeclared_imports(files: list[Path], requirements: Path, own: set[str]) -> list[str]:
    """`file: module` for each third-party import whose distribution requirements.txt does not name.

    Why: a fresh machine installs requirements.txt and nothing else (`make test`, CI); a module
    that happens to be installed here (a dependency of a dependency) can vanish with an upgrade."""
    declared = declared_distributions(requirements)
    providers = importlib.metadata.packages_distributions()
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    problems = []
    for path in files:
        for module in sorted(top_level_imports(path) - stdlib - own):
            if not {normalise(d) for d in providers.get(module, [])} & declared:
                problems.append(f"{path}: {module} (installed by {providers.get(module, 'nothing')})")
    return problems


def execute_calls(files: list[Path]) -> list[str]:
    """`file:line` of every `.execute(`/`.executemany(`/`.executescript(` call.

    Why: pages and widgets never write SQL; a db/ repository function does it in one audited
    transaction, so a rule cannot be skipped by a screen that talks to the database itself."""
    found = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in {"execute", "executemany", "executescript"}
            ):
                found.append(f"{path}:{node.lineno}")
    return found


def run(tool: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / tool), *args], cwd=cwd, capture_output=True, text=True, timeout=240)


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    """A folder with the project's lint configuration: pyproject.toml and each folder's ruff.toml."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for config in ROOT.glob("*/ruff.toml"):
        (tmp_path / config.parent.name).mkdir()
        shutil.copy(config, tmp_path / config.parent.name / "ruff.toml")
    return tmp_path


# --- the tree keeps the rules ------------------------------------------------------------------


def test_every_third_party_import_is_declared_in_requirements():
    assert undeclared_imports(project_files(), ROOT / "requirements.txt", first_party(ROOT)) == []


def test_pages_and_ui_never_call_execute():
    files = [*(ROOT / "pages").rglob("*.py"), *(ROOT / "ui").rglob("*.py")]
    assert execute_calls(files) == [], "pages/ and ui/ call a db/ repository function instead of running SQL"


def test_nothing_imports_the_pages_or_the_entry_point():
    """pages/ is not a package, so the layer contract cannot see it: it and app.py are the top,
    and nothing may import them (a page is a script Streamlit runs, not a library)."""
    offenders = [str(path) for path in project_files() if {"pages", "app"} & top_level_imports(path)]
    assert offenders == []


def test_every_layered_package_is_in_the_contract_and_the_type_check():
    """A new top-level package must be placed in the layers and type-checked, not left outside both."""
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests", "bench"}
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]
    (contract,) = config["importlinter"]["contracts"]
    layered = {name for layer in contract["layers"] for name in re.findall(r"\w+", layer)}
    assert packages == set(LAYERED), "add the new package to LAYERED here, to the layers and to mypy's files"
    assert packages <= set(config["importlinter"]["root_packages"])
    assert packages <= layered
    assert packages <= set(config["mypy"]["files"])


# --- each rail fails on a planted violation ----------------------------------------------------


def test_layer_contract_fails_on_an_upward_import(sandbox):
    for package in LAYERED:
        shutil.copytree(
            ROOT / package, sandbox / package, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__")
        )
    clean = run("lint-imports", "--no-cache", cwd=sandbox)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    (sandbox / "scales" / "planted.py").write_text("from db import audit  # scales reaching up into storage\n")
    (sandbox / "db" / "planted.py").write_text("import ui  # storage reaching up into the screens\n")
    planted = run("lint-imports", "--no-cache", cwd=sandbox)
    assert planted.returncode != 0
    assert "scales.planted -> db.audit" in planted.stdout
    assert "db.planted -> ui" in planted.stdout


@pytest.mark.parametrize(
    ("folder", "line"),
    [
        ("ui", "import sqlite3\n"),
        ("ui", "from sqlite_utils import Database\n"),
        ("pages", "import sqlite3\n"),
        ("pages", "import sqlite_utils\n"),
        ("study", "from sqlite_utils import Database\n"),
        ("analytics", "import sqlite3\n"),
        ("exports", "from sqlite_utils.db import Table\n"),
        ("analytics", "import streamlit as st\n"),
    ],
)
def test_ruff_bans_sqlite_outside_db_and_streamlit_below_the_edge(sandbox, folder, line):
    (sandbox / folder).mkdir(exist_ok=True)
    clean = sandbox / folder / "clean.py"
    clean.write_text("import json\n\nprint(json.dumps({}))\n")
    assert run("ruff", "check", "--no-cache", str(clean), cwd=sandbox).returncode == 0
    planted = sandbox / folder / "planted.py"
    planted.write_text(line)
    result = run("ruff", "check", "--no-cache", str(planted), cwd=sandbox)
    assert result.returncode != 0
    assert "TID251" in result.stdout


def test_db_may_use_sqlite(sandbox):
    (sandbox / "db" / "store.py").write_text("import sqlite3\n\nimport sqlite_utils\n\nprint(sqlite3, sqlite_utils)\n")
    result = run("ruff", "check", "--no-cache", str(sandbox / "db" / "store.py"), cwd=sandbox)
    assert result.returncode == 0, result.stdout


def test_execute_check_finds_sql_in_a_page(tmp_path):
    page = tmp_path / "page.py"
    page.write_text("def show(db):\n    db.execute('DELETE FROM audit_events')\n    db.conn.executescript('')\n")
    assert execute_calls([page]) == [f"{page}:2", f"{page}:3"]


def test_requirements_check_finds_an_undeclared_import(tmp_path):
    module = tmp_path / "module.py"
    # rich is installed (import-linter needs it) but not declared; the second name is not installed at all.
    module.write_text(
        "import json\nimport pandas\nimport rich\n\n\ndef later():\n    import surely_not_installed_xyz\n"
    )
    problems = undeclared_imports([module], ROOT / "requirements.txt", first_party(ROOT))
    assert [p.split(": ")[1].split(" ")[0] for p in problems] == ["rich", "surely_not_installed_xyz"]


def test_format_check_fails_on_an_unformatted_file(sandbox):
    (sandbox / "scales").mkdir(exist_ok=True)
    tidy = sandbox / "scales" / "tidy.py"
    tidy.write_text('TOTALS = {"madrs": 60, "phq9": 27}\n')
    assert run("ruff", "format", "--check", "--no-cache", str(tidy), cwd=sandbox).returncode == 0
    messy = sandbox / "scales" / "messy.py"
    messy.write_text("TOTALS = {  'madrs':60,'phq9' :27 }\n")
    result = run("ruff", "format", "--check", "--no-cache", str(messy), cwd=sandbox)
    assert result.returncode != 0
    assert "messy.py" in result.stdout


def test_type_check_fails_on_a_type_error(sandbox):
    (sandbox / "scales").mkdir(exist_ok=True)
    good = sandbox / "scales" / "good.py"
    good.write_text("def total(values: list[int]) -> int:\n    return sum(values)\n")
    bad = sandbox / "scales" / "bad.py"
    bad.write_text("def total(values: list[int]) -> str:\n    return sum(values)\n\n\nlabel: str = None\n")
    cache = ["--cache-dir", str(sandbox / ".mypy_cache")]
    clean = run("mypy", *cache, str(good), cwd=sandbox)
    assert clean.returncode == 0, clean.stdout
    result = run("mypy", *cache, str(bad), cwd=sandbox)
    assert result.returncode != 0
    assert "[return-value]" in result.stdout
    assert "[assignment]" in result.stdout
