"""Eligibility decisions (computed from the protocol and the stored baseline, append-only, gate
dosing) and protocol deviations."""

import pytest

from db import assessments as A
from db import audit, clock
from db.clinical import record_infusion
from db.deviations import record_deviation
from db.errors import PermissionDeniedError, StorageError, ValidationError
from db.participants import get_participant
from db.screening import latest_eligibility, record_eligibility
from protocol import load_protocol
from tests.conftest_db import PASSING_SCREENING, mark_eligible, raw

PROTOCOL = load_protocol()
ANSWERS = dict(PASSING_SCREENING)


def baseline_madrs(world, total_per_item: int):
    return A.save_assessment(
        world.db,
        world.rater,
        world.p1["id"],
        "baseline",
        "madrs",
        "clinician",
        {f"madrs_{n}": total_per_item for n in range(1, 11)},
    )


def test_missing_baseline_is_pending_and_changes_no_status(world):
    decision = record_eligibility(world.db, world.coord, PROTOCOL, world.p1["id"], ANSWERS)
    assert decision["eligible"] is None and decision["pending"]
    assert get_participant(world.db, world.p1["id"])["status"] == "screening"


def test_severity_is_checked_automatically_from_the_stored_baseline(world):
    A.save_assessment(
        world.db,
        world.rater,
        world.p1["id"],
        "baseline",
        "madrs",
        "clinician",
        {**{f"madrs_{n}": 2 for n in range(1, 11)}, "madrs_10": 1},
    )  # total 19
    decision = record_eligibility(world.db, world.coord, PROTOCOL, world.p1["id"], ANSWERS)
    assert decision["eligible"] is False and decision["baseline_total"] == 19
    assert any("19" in reason for reason in decision["reasons"])
    assert get_participant(world.db, world.p1["id"])["status"] == "screen_failed"


def test_eligible_decision_enrols_and_is_audited(world):
    baseline_madrs(world, 2)  # total 20: exactly the threshold
    decision = record_eligibility(world.db, world.coord, PROTOCOL, world.p1["id"], ANSWERS)
    assert decision["eligible"] is True and decision["baseline_total"] == 20
    assert decision["decided_by_name"] == "coord" and decision["protocol_hash"] == PROTOCOL.hash
    assert get_participant(world.db, world.p1["id"])["status"] == "enrolled"
    actions = [e["action"] for e in audit.events_for(world.db, "participant", world.p1["id"])]
    assert actions[-2:] == ["eligibility.decide", "participant.status"]


def test_an_exclusion_makes_the_participant_ineligible_with_a_reason(world):
    baseline_madrs(world, 3)
    decision = record_eligibility(
        world.db, world.coord, PROTOCOL, world.p1["id"], {**ANSWERS, "psychosis_history": True}
    )
    assert decision["eligible"] is False
    assert any("psychosis" in r.lower() or "psychotic" in r.lower() for r in decision["reasons"])


def test_ineligible_or_unscreened_participants_cannot_be_dosed(world):
    with pytest.raises(ValidationError, match="has not been screened"):
        record_infusion(world.db, world.coord, world.p1["id"], 1, "2026-03-02T09:00:00Z", 70, 0.5)
    baseline_madrs(world, 3)
    record_eligibility(world.db, world.coord, PROTOCOL, world.p1["id"], {**ANSWERS, "pregnancy_or_breastfeeding": True})
    with pytest.raises(ValidationError, match="not eligible"):
        record_infusion(world.db, world.coord, world.p1["id"], 1, "2026-03-02T09:00:00Z", 70, 0.5)


def test_the_trigger_refuses_dosing_even_when_python_is_bypassed(world, db_path):
    conn = raw(db_path)
    with pytest.raises(Exception, match="INELIGIBLE"):
        conn.execute(
            "INSERT INTO infusions (participant_id, number, started_at, weight_kg, dose_mg_per_kg, "
            "total_dose_mg, created_at, updated_at) VALUES (?, 1, '2026-03-02T09:00:00Z', 70, 0.5, 35, "
            "'2026-03-02T09:00:00Z', '2026-03-02T09:00:00Z')",
            [world.p1["id"]],
        )
    conn.close()


def test_latest_decision_counts_and_decisions_are_append_only(world, db_path):
    mark_eligible(world.db, world.coord, world.rater, world.p1["id"])
    started = clock.utc_now()  # after the baseline rating mark_eligible saved (record_infusion requires one)
    assert record_infusion(world.db, world.coord, world.p1["id"], 1, started, 70, 0.5)["number"] == 1
    conn = raw(db_path)
    for statement in ("UPDATE eligibility_decisions SET eligible = 0", "DELETE FROM eligibility_decisions"):
        with pytest.raises(Exception, match="APPEND-ONLY"):
            conn.execute(statement)
    conn.close()
    assert latest_eligibility(world.db, world.p1["id"])["eligible"] is True


def test_raters_and_monitors_cannot_record_eligibility(world):
    for who in (world.rater, world.monitor):
        with pytest.raises(PermissionDeniedError):
            record_eligibility(world.db, who, PROTOCOL, world.p1["id"], ANSWERS)


def test_bad_answers_are_refused_with_a_message_and_nothing_written(world):
    with pytest.raises(ValidationError):
        record_eligibility(world.db, world.coord, PROTOCOL, world.p1["id"], {**ANSWERS, "age_18_to_65": "1990-01-01"})
    assert latest_eligibility(world.db, world.p1["id"]) is None


def test_deviation_is_recorded_audited_and_append_only(world, db_path):
    row = record_deviation(
        world.db, world.rater, world.p1["id"], "day_1", "MADRS entered 3.5 hours after the window", minutes_late=210
    )
    assert (row["kind"], row["minutes_late"], row["minutes_early"]) == ("outside_window", 210, None)
    assert audit.events_for(world.db, "protocol_deviation", row["id"])[0]["action"] == "deviation.record"
    with pytest.raises(StorageError):
        record_deviation(world.db, world.monitor, world.p1["id"], "day_1", "x")
    with pytest.raises(ValidationError, match="unknown deviation kind"):
        record_deviation(world.db, world.rater, world.p1["id"], "day_1", "x", kind="weird")
    conn = raw(db_path)
    with pytest.raises(Exception, match="APPEND-ONLY"):
        conn.execute("DELETE FROM protocol_deviations")
    conn.close()
