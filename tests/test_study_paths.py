"""Every path that makes a rating goes through study.assessments, so none can skip the window
rule: outside study/ (and db/, where the primitives live), no module calls the primitives that
start or store an assessment or record the window deviation directly, and every page that
shows a participant's clinical data reads it through study.records (the one read rule)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: The storage primitives only study.assessments may call to make a rating.
PRIMITIVES = {"start_assessment", "save_assessment", "record_window_deviation", "infusion_id_for"}
#: The db read functions of clinical data that pages read through study.records instead.
READS = {
    "list_assessments",
    "load_assessment",
    "participant_rows",
    "participant_record",
    "list_infusions",
    "list_vitals",
    "list_adverse_events",
    "open_vitals_warning",
    "missed_visits",
    "list_deviations",
    "events_for",
    "list_participants",
}
PAGES = ("trajectory.py", "assessment.py", "participants.py", "infusion.py")


def _calls(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            names.add(func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", ""))
    return names


def _sources():
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT).parts
        if parts[0] in {".venv", "tests", "bench", "db", "study"} or any(p.startswith(".") for p in parts):
            continue
        yield path


def test_only_study_starts_or_stores_a_rating():
    offenders = {str(p.relative_to(ROOT)): sorted(_calls(p) & PRIMITIVES) for p in _sources()}
    assert {k: v for k, v in offenders.items() if v} == {}, (
        "start or store ratings through study.assessments (find_or_start_assessment, record_rating), "
        "so the protocol window rule runs on every path"
    )


def test_the_clinical_pages_read_through_study_records():
    offenders = {}
    for name in PAGES:
        path = ROOT / "pages" / name
        tree = ast.parse(path.read_text(encoding="utf-8"))
        direct = {
            node.func.attr
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id != "records"
            and node.func.attr in READS
        }
        if direct:
            offenders[name] = sorted(direct)
    assert offenders == {}, "read a participant's clinical data through study.records (data.read is checked there)"
