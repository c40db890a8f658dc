"""Which pages exist and which roles may open each: the one table both the navigation menu and
every page's own guard read, so a menu entry and its access check can never disagree."""

from __future__ import annotations

from dataclasses import dataclass

STAFF = ("admin", "pi", "rater", "coordinator", "monitor")


@dataclass(frozen=True)
class PageSpec:
    id: str
    path: str
    title: str
    icon: str
    roles: tuple[str, ...]
    section: str


PAGES: dict[str, PageSpec] = {
    spec.id: spec
    for spec in (
        PageSpec(
            "worklist",
            "pages/worklist.py",
            "Today's worklist",
            ":material/checklist:",
            ("rater", "pi", "coordinator"),
            "Study",
        ),
        PageSpec("participants", "pages/participants.py", "Participants", ":material/groups:", STAFF, "Study"),
        PageSpec(
            "screening",
            "pages/screening.py",
            "Eligibility screening",
            ":material/how_to_reg:",
            ("coordinator", "pi", "monitor"),
            "Study",
        ),
        PageSpec(
            "infusion",
            "pages/infusion.py",
            "Infusion day",
            ":material/vaccines:",
            ("coordinator", "pi", "monitor"),
            "Study",
        ),
        PageSpec(
            "self_report_start",
            "pages/self_report_start.py",
            "Self-report",
            ":material/tablet_android:",
            ("rater", "pi", "coordinator"),
            "Study",
        ),
        PageSpec("rate", "pages/rate.py", "Rate a scale", ":material/edit_note:", ("rater", "pi"), "Study"),
        PageSpec("assessment", "pages/assessment.py", "Assessments", ":material/fact_check:", STAFF, "Study"),
        PageSpec(
            "trajectory",
            "pages/trajectory.py",
            "Participant trajectory",
            ":material/show_chart:",
            ("pi", "rater", "monitor", "coordinator"),
            "Review",
        ),
        PageSpec(
            "cohort", "pages/cohort.py", "Cohort and alerts", ":material/monitoring:", ("pi", "monitor"), "Review"
        ),
        PageSpec(
            "visits",
            "pages/visits.py",
            "Visits and deviations",
            ":material/event_busy:",
            ("pi", "monitor", "coordinator"),
            "Review",
        ),
        PageSpec(
            "export", "pages/export.py", "Data export", ":material/download:", ("pi", "monitor", "admin"), "Review"
        ),
        PageSpec("library", "pages/library.py", "Scale library", ":material/menu_book:", STAFF, "Reference"),
        PageSpec("admin", "pages/admin.py", "Users and sites", ":material/admin_panel_settings:", ("admin",), "Admin"),
    )
}


def pages_for_role(role: str) -> list[PageSpec]:
    """The pages a role may open, in menu order."""
    return [spec for spec in PAGES.values() if role in spec.roles]


def may_open(role: str | None, page_id: str) -> bool:
    return role is not None and role in PAGES[page_id].roles
