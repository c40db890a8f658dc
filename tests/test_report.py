"""The per-participant certified copy (self-contained HTML): trajectories as inline SVG, every
assessment's items and scores with score history and signatures, the alerts, the audit history,
the definition hashes and engine version, a generated-at time, and a SHA-256 of the content that
detects any later edit. Blinded copies withhold arm and doses, in the audit values too."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from analytics.outcomes import participant_outcomes
from analytics.records import assessment_from_row, infusion_from_row
from analytics.report import (
    BLINDED,
    CONTENT_END,
    CONTENT_START,
    build_report,
    content_digest,
    printed_digest,
    redact,
    redact_event,
    verify_report,
)
from charts import to_svg
from charts.views import participant_view
from db import analytics as store
from db.connection import unit_of_work
from protocol import load_protocol
from scales import ENGINE_VERSION, get_scale
from tests.test_analytics_db import amend_day1, seed_trial

PROTOCOL = load_protocol()
GENERATED = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def report(study, *, blinded: bool, role: str = "pi", with_charts: bool = True) -> str:
    with unit_of_work(write=False) as db:
        record = store.participant_record(db, study.p1["id"])
        rows = store.participant_rows(db, study.p1["id"])
    outcomes = participant_outcomes(
        PROTOCOL,
        [assessment_from_row(r) for r in rows["assessments"]],
        [infusion_from_row(r) for r in rows["infusions"]],
    )
    svgs = []
    if with_charts:
        view = participant_view(PROTOCOL, rows, show_dose=not blinded)
        svgs = [(p.title, to_svg(p.spec)) for p in view.panels[:1]]
    return build_report(
        record,
        PROTOCOL,
        outcomes,
        charts_svg=svgs,
        generated_by=study.users[role],
        blinded=blinded,
        generated_at=GENERATED,
    )


def test_report_holds_items_scores_history_audit_and_provenance(app_world):
    ids = seed_trial(app_world)
    amend_day1(app_world, ids)
    html = report(app_world, blinded=False, role="coordinator")
    assert html.startswith("<!DOCTYPE html>") and "<script" not in html and "http://" not in html.split("<svg")[0]
    assert "Participant record: KET-001" in html and "2026-11-25T12:00:00Z" in html
    assert f"<td>Scoring engine version</td><td>{ENGINE_VERSION}</td>" in html
    assert get_scale("madrs").hash in html and PROTOCOL.hash in html
    assert "<svg" in html and "MADRS" in html  # the trajectory, inline
    # every item of an assessment, with value and answer label: MADRS item 10 = 4 on day 2
    assert re.search(r"<td>10</td><td>[^<]*</td><td>4</td>", html)
    # the amended day-1 score: both stored scores and the reason
    assert "Score history" in html and "transcription error, corrected from the worksheet" in html
    # audit history: creation, infusion, amendment, alert, with row hashes
    for action in ("participant.create", "infusion.create", "assessment.amend", "alert.create", "response.save"):
        assert f"<td>{action}</td>" in html
    assert "madrs_suicidal_thoughts" in html  # the alert's rule, in its audit event
    assert "<td>Arm</td><td>ketamine</td>" in html and "&quot;arm&quot;: &quot;ketamine&quot;" in html  # unblinded


def test_the_printed_digest_verifies_and_any_edit_breaks_it(app_world):
    seed_trial(app_world)
    html = report(app_world, blinded=False, with_charts=False)
    digest = printed_digest(html)
    assert digest and len(digest) == 64 and verify_report(html)
    assert digest == content_digest(html)
    assert html.index(CONTENT_START) < html.index(CONTENT_END) < html.index(digest)
    tampered = html.replace("<td>30</td>", "<td>20</td>", 1)
    assert tampered != html and not verify_report(tampered)
    assert not verify_report(html.replace(digest, "0" * 64))
    assert not verify_report("<html>not a report</html>")


def test_a_blinded_copy_withholds_arm_and_doses_everywhere(app_world):
    seed_trial(app_world)
    html = report(app_world, blinded=True)
    assert "Blinded copy" in html
    assert "<td>Arm</td><td>[blinded]</td>" in html
    assert "&quot;arm&quot;: &quot;ketamine&quot;" not in html and "<td>ketamine</td>" not in html
    assert "&quot;dose_mg_per_kg&quot;: &quot;[blinded]&quot;" in html  # the infusion.create audit values
    assert "0.5 mg/kg" not in html and "&quot;dose_mg_per_kg&quot;: 0.5" not in html
    assert verify_report(html)


def test_redaction_rules():
    assert redact({"arm": "ketamine", "code": "K1", "nested": [{"total_dose_mg": 35}]}) == {
        "arm": BLINDED,
        "code": "K1",
        "nested": [{"total_dose_mg": BLINDED}],
    }
    event = redact_event({"field": "arm", "old_value": "ketamine", "new_value": "midazolam"})
    assert (event["old_value"], event["new_value"]) == (BLINDED, BLINDED)
    assert redact_event({"field": "arm", "old_value": None, "new_value": "x"})["old_value"] is None
