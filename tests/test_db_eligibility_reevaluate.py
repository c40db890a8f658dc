"""A decision pending on the baseline rating is decided when that rating is completed (issue 11,
point 5): db.screening.reevaluate_pending_eligibility, called from the completion path of
db.assessments, in the same transaction, audited as "eligibility.reevaluate"."""

from dataclasses import replace

import pytest

from db import assessments as A
from db import audit
from db.participants import get_participant
from db.screening import (
    REEVALUATE_ACTION,
    active_protocol,
    latest_eligibility,
    record_eligibility,
    reevaluate_pending_eligibility,
)
from protocol import load_protocol
from tests.conftest_db import PASSING_SCREENING, full_responses

PROTOCOL = load_protocol()
ANSWERS = dict(PASSING_SCREENING)
SEVERITY = PROTOCOL.eligibility.severity


def madrs(per_item: int) -> dict[str, int]:
    return {f"madrs_{n}": per_item for n in range(1, 11)}


def pending_decision(world, answers=ANSWERS) -> dict:
    decision = record_eligibility(world.db, world.coord, PROTOCOL, world.p1["id"], answers)
    assert decision["eligible"] is None and SEVERITY.id in decision["pending"]
    return decision


def decisions(world) -> int:
    return world.db.execute(
        "SELECT count(*) FROM eligibility_decisions WHERE participant_id = ?", [world.p1["id"]]
    ).fetchone()[0]


def test_completing_the_baseline_form_decides_the_pending_decision(world):
    pending = pending_decision(world)
    draft = A.start_assessment(world.db, world.rater, world.p1["id"], "baseline", SEVERITY.scale, "clinician")
    for item_id, value in madrs(3).items():
        draft = A.save_draft_response(world.db, world.rater, draft["id"], item_id, value)
    done = A.complete_assessment(world.db, world.rater, draft["id"], draft["version"])

    decision = latest_eligibility(world.db, world.p1["id"])
    assert decision["eligible"] is True and decision["baseline_total"] == 30
    assert decision["baseline_assessment_id"] == done["id"] and decision["answers"] == ANSWERS
    assert decision["automatic"] and decision["replaces_decision_id"] == pending["id"]
    assert decision["decided_by_name"] == "rater"  # the user who completed the rating
    assert decisions(world) == 2  # append-only: the pending decision stays as history
    assert get_participant(world.db, world.p1["id"])["status"] == "enrolled"
    events = [
        e
        for e in audit.events_for(world.db, "participant", world.p1["id"])
        if e["action"] in (REEVALUATE_ACTION, "participant.status")
    ]
    assert [(e["action"], e["username"]) for e in events] == [
        (REEVALUATE_ACTION, "rater"),
        ("participant.status", "rater"),
    ]
    assert events[0]["new_value"]["eligible"] == "eligible" and str(pending["id"]) in events[0]["reason"]
    assert audit.verify_audit(world.db) is None


def test_a_one_shot_save_below_the_threshold_makes_it_not_eligible(world):
    pending_decision(world)
    A.save_assessment(world.db, world.rater, world.p1["id"], "baseline", SEVERITY.scale, "clinician", madrs(1))
    decision = latest_eligibility(world.db, world.p1["id"])
    assert decision["eligible"] is False and decision["baseline_total"] == 10
    assert any("below" in reason for reason in decision["reasons"])
    assert get_participant(world.db, world.p1["id"])["status"] == "screen_failed"


def test_unanswered_criteria_stay_pending_but_the_baseline_is_applied(world):
    pending_decision(world, {"depressive_episode": True})
    A.save_assessment(world.db, world.rater, world.p1["id"], "baseline", SEVERITY.scale, "clinician", madrs(3))
    decision = latest_eligibility(world.db, world.p1["id"])
    assert decision["eligible"] is None and decision["automatic"] and decision["baseline_total"] == 30
    assert SEVERITY.id not in decision["pending"] and "failed_treatments" in decision["pending"]


def test_nothing_is_decided_when_no_decision_waits_for_this_rating(world):
    # No decision at all.
    A.save_assessment(
        world.db, world.rater, world.p1["id"], "baseline", "hamd17", "clinician", full_responses("hamd17", 1)
    )
    assert decisions(world) == 0
    # A decision pending on an answer only (the baseline was there): another MADRS changes nothing.
    A.save_assessment(world.db, world.rater, world.p1["id"], "baseline", SEVERITY.scale, "clinician", madrs(3))
    record_eligibility(world.db, world.coord, PROTOCOL, world.p1["id"], {"depressive_episode": True})
    A.save_assessment(world.db, world.rater, world.p1["id"], "day_1", SEVERITY.scale, "clinician", madrs(2))
    assert decisions(world) == 1 and latest_eligibility(world.db, world.p1["id"])["baseline_total"] == 30


def test_another_scale_does_not_settle_the_severity_criterion(world):
    pending_decision(world)
    A.save_assessment(
        world.db, world.rater, world.p1["id"], "baseline", "cadss", "clinician", full_responses("cadss", 0)
    )
    assert decisions(world) == 1


def test_the_rating_and_the_decision_commit_together(world, monkeypatch):
    pending_decision(world)
    real = A.audit.record_many

    def failing(db, who, events):
        real(db, who, events)
        raise RuntimeError("crash before commit")

    monkeypatch.setattr(A.audit, "record_many", failing)
    with pytest.raises(RuntimeError):
        A.save_assessment(world.db, world.rater, world.p1["id"], "baseline", SEVERITY.scale, "clinician", madrs(3))
    monkeypatch.setattr(A.audit, "record_many", real)
    assert decisions(world) == 1 and latest_eligibility(world.db, world.p1["id"])["eligible"] is None
    assert A.list_assessments(world.db, participant_id=world.p1["id"]) == []


def test_another_protocol_or_answers_that_no_longer_fit_leave_it_pending(world, monkeypatch):
    pending_decision(world)
    monkeypatch.setattr(A, "reevaluate_pending_eligibility", lambda *args: [])  # the rating arrives unseen
    row = A.save_assessment(world.db, world.rater, world.p1["id"], "baseline", SEVERITY.scale, "clinician", madrs(3))
    other = replace(PROTOCOL, id="another-study")
    fewer = replace(PROTOCOL, eligibility=replace(PROTOCOL.eligibility, criteria=PROTOCOL.eligibility.criteria[:-1]))
    with A.transaction(world.db):
        assert reevaluate_pending_eligibility(world.db, world.rater, row, other) == []
        assert reevaluate_pending_eligibility(world.db, world.rater, row, fewer) == []  # an answer it does not ask
    assert decisions(world) == 1
    with A.transaction(world.db):  # the same call under the protocol of the decision decides it
        events = reevaluate_pending_eligibility(world.db, world.rater, row, PROTOCOL)
        A.audit.record_many(world.db, world.rater, events)
    assert [e["action"] for e in events] == [REEVALUATE_ACTION, "participant.status"]
    assert latest_eligibility(world.db, world.p1["id"])["eligible"] is True


def test_the_active_protocol_is_the_file_the_app_runs(monkeypatch, tmp_path):
    assert active_protocol().hash == load_protocol().hash
    monkeypatch.setenv("SCALEBOOK_PROTOCOL", str(tmp_path / "missing.json"))
    assert active_protocol() is None  # a rating is never refused because of it
