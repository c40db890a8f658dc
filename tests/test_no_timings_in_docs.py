"""No measured timings in docstrings or comments: a figure such as "207 vs 306 ms" or "ten times
faster" is true of one machine on one day and goes stale unseen; it belongs in benchmark output
(bench/, `make bench`), which measures it again. Designed durations (a 4 s sign-in wait, a 40-minute
window) are rules, not measurements, and are not matched."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = sorted(p for p in ROOT.iterdir() if (p / "__init__.py").is_file() and p.name not in {"tests", "bench"}) + [
    ROOT / "pages"
]
NUMBER = r"(?:\d+(?:[.,]\d+)?|two|three|four|five|six|seven|eight|nine|ten|twenty|a hundred)"
MEASURED = re.compile(
    rf"\b\d+(?:[.,]\d+)?\s?(?:ms|µs|ns)\b"  # 10 ms, 207 µs
    rf"|\b{NUMBER}\s?(?:times|x|×)\s+(?:faster|slower|quicker)\b"  # ten times faster, 15x slower
    rf"|\b\d+(?:[.,]\d+)?\s?(?:s|ms|seconds)?\s+vs\.?\s+\d+(?:[.,]\d+)?\s?(?:s|ms|seconds)\b"  # 207 vs 306 ms
    rf"|\btook\s+(?:about\s+)?\d+(?:[.,]\d+)?\s?(?:s|ms|seconds|minutes)\b",  # took 3 s
    re.IGNORECASE,
)


def _prose(source: str) -> list[tuple[int, str]]:
    """Comments and docstrings of a module, with their line numbers."""
    found = [
        (tok.start[0], tok.string)
        for tok in tokenize.generate_tokens(io.StringIO(source).readline)
        if tok.type == tokenize.COMMENT
    ]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            doc = ast.get_docstring(node, clean=False)
            if doc:
                found.append((node.body[0].lineno, doc))
    return found


def _files() -> list[Path]:
    return sorted(f for package in PACKAGES for f in package.rglob("*.py")) + [ROOT / "app.py"]


@pytest.mark.parametrize("path", _files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_measured_timing_in_a_docstring_or_comment(path: Path):
    hits = [
        f"{path.relative_to(ROOT)}:{line}: {m.group(0)!r}"
        for line, text in _prose(path.read_text())
        for m in MEASURED.finditer(text)
    ]
    assert not hits, "measured timings belong in benchmark output (bench/), not in prose:\n" + "\n".join(hits)


@pytest.mark.parametrize(
    "text",
    [
        "about 10 ms per chart",
        "ten times faster than a dataclass",
        "207 vs 306 ms for 48,000 assessments",
        "took 3 s on a laptop",
        "15x slower",
    ],
)
def test_the_pattern_finds_a_measurement(text: str):
    assert MEASURED.search(text)


@pytest.mark.parametrize(
    "text",
    [
        "then 0.5, 1, 2, 4 s (capped)",
        "within ±10 minutes of the start",
        "repeated after 5 minutes",
        "95 % CI",
        "every 15 min",
    ],
)
def test_the_pattern_leaves_designed_durations_alone(text: str):
    assert not MEASURED.search(text)
