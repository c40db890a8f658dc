"""Missed visits with reasons, withdrawal and completion, and the deviation lists (issue 11,
points 12, 14 and 15), on the storage layer.

The clock is set by hand (db.clock.utc_now), so every stored time is known: enrolment on
2026-05-04 08:00 UTC, baseline at 09:00, infusion 1 started 2026-05-05 08:00 UTC. With the
default protocol the 40-minute window closes at 08:50 and the 80-minute one runs 09:10-09:30.
"""

from datetime import UTC, datetime, timedelta

import pytest

from db import audit, clock
from db.assessments import save_assessment
from db.clinical import record_infusion
from db.deviations import list_deviations, record_deviation
from db.errors import PermissionDeniedError, StorageError, ValidationError
from db.participants import (
    complete_participant,
    create_participant,
    get_participant,
    update_participant,
    withdraw_participant,
)
from db.schedule import schedule_inputs
from db.visits import missed_visits, record_missed_reason, worklist_view
from protocol import load_protocol
from tests.conftest_db import full_responses, mark_eligible, raw

ENROLLED = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
START = datetime(2026, 5, 5, 8, 0, tzinfo=UTC)
AT_87 = START + timedelta(minutes=87)


@pytest.fixture
def default_protocol():
    return load_protocol()


@pytest.fixture
def set_clock(monkeypatch):
    def set_(moment):
        monkeypatch.setattr(clock, "utc_now", lambda: clock.format_utc(moment))

    return set_


@pytest.fixture
def dosed(world, set_clock):
    """P010 at site S1: enrolled, baseline rated, infusion 1 started at START; clock at AT_87."""
    set_clock(ENROLLED)
    person = create_participant(world.db, world.coord, "P010", "S1")
    set_clock(ENROLLED + timedelta(hours=1))
    mark_eligible(world.db, world.coord, world.rater, person["id"])
    complete_baseline(world.db, world.rater, person["id"])
    set_clock(START)
    record_infusion(world.db, world.coord, person["id"], 1, START, 70, 0.5)
    set_clock(AT_87)
    return person


def complete_baseline(database, rater, participant_id):
    """The baseline scales mark_eligible leaves out (it rates only MADRS)."""
    for scale, mode in (("qids_sr16", "self"), ("cadss", "clinician"), ("bprs", "clinician")):
        save_assessment(database, rater, participant_id, "baseline", scale, mode, full_responses(scale, 1))


def keys(visits):
    return [v["timepoint"] for v in visits]


# --------------------------------------------------------------------------- missed visits


def test_the_forty_minute_visit_is_missed_and_the_eighty_minute_one_overdue(world, dosed, default_protocol):
    rows, missed, ids = worklist_view(world.db, default_protocol, site_id=world.coord["site_id"])
    mine = [(r.timepoint_id, r.state) for r in rows if r.participant == "P010"]
    assert mine == [("min_80", "overdue"), ("min_120", "upcoming")]
    assert [(v["participant"], v["timepoint"], v["reason"]) for v in missed] == [("P010", "min_40", None)]
    assert missed[0]["scales"] == ("madrs", "cadss", "bprs") and ids["P010"] == dosed["id"]
    assert missed[0]["label"] == "40 minutes after infusion start"


def test_a_coordinator_records_a_reason_audited_and_a_correction_supersedes_it(world, dosed, default_protocol, db_path):
    row = record_missed_reason(world.db, world.coord, default_protocol, dosed["id"], "min_40", "participant asleep")
    assert row["reason"] == "participant asleep" and row["recorded_by"] == world.coord["id"]
    [visit] = missed_visits(world.db, default_protocol, participant_id=dosed["id"])
    assert (visit["reason"], visit["reason_by"]) == ("participant asleep", "coord")
    record_missed_reason(world.db, world.pi, default_protocol, dosed["id"], "min_40", "  rater called to an emergency ")
    [visit] = missed_visits(world.db, default_protocol, participant_id=dosed["id"])
    assert (visit["reason"], visit["reason_by"]) == ("rater called to an emergency", "pi")
    events = [e for e in audit.events_for_participant(world.db, dosed["id"]) if e["action"] == "visit.missed_reason"]
    assert [(e["old_value"], e["new_value"], e["username"]) for e in events] == [
        (None, "participant asleep", "coord"),
        ("participant asleep", "rater called to an emergency", "pi"),
    ]
    assert audit.verify_audit(world.db) is None
    conn = raw(db_path)
    try:
        with pytest.raises(Exception, match="APPEND-ONLY"):
            conn.execute("UPDATE missed_visits SET reason = 'x'")
        with pytest.raises(Exception, match="APPEND-ONLY"):
            conn.execute("DELETE FROM missed_visits")
    finally:
        conn.close()


def test_a_reason_is_refused_unless_the_visit_is_missed_and_the_user_may(world, dosed, default_protocol):
    with pytest.raises(ValidationError, match="no missed visit at 80 minutes after infusion start"):
        record_missed_reason(world.db, world.coord, default_protocol, dosed["id"], "min_80", "too early to say")
    with pytest.raises(ValidationError, match="no missed visit"):
        record_missed_reason(world.db, world.coord, default_protocol, dosed["id"], "baseline", "it was done")
    with pytest.raises(ValidationError, match="required"):
        record_missed_reason(world.db, world.coord, default_protocol, dosed["id"], "min_40", "   ")
    for who in (world.rater, world.monitor, world.coord_s2):
        with pytest.raises(PermissionDeniedError):
            record_missed_reason(world.db, who, default_protocol, dosed["id"], "min_40", "no")
    assert world.db.execute("SELECT count(*) FROM missed_visits").fetchone()[0] == 0


def test_a_late_rating_turns_a_missed_visit_into_a_done_one(world, dosed, default_protocol, set_clock):
    record_missed_reason(world.db, world.coord, default_protocol, dosed["id"], "min_40", "paper form, typed in later")
    set_clock(START + timedelta(minutes=95))
    for scale in ("madrs", "cadss", "bprs"):
        save_assessment(world.db, world.rater, dosed["id"], "min_40", scale, "clinician", full_responses(scale, 1))
    assert "min_40" not in keys(missed_visits(world.db, default_protocol, participant_id=dosed["id"]))
    with pytest.raises(ValidationError, match="no missed visit"):
        record_missed_reason(world.db, world.coord, default_protocol, dosed["id"], "min_40", "again")


# --------------------------------------------------------------------------- withdraw / complete


def test_withdrawal_needs_a_reason_and_a_date_between_enrolment_and_now(world, dosed):
    pid = dosed["id"]
    with pytest.raises(ValidationError, match="give the reason P010 is withdrawn"):
        withdraw_participant(world.db, world.coord, pid, "  ")
    with pytest.raises(ValidationError, match="in the future"):
        withdraw_participant(world.db, world.coord, pid, "moved away", AT_87 + timedelta(minutes=1))
    with pytest.raises(ValidationError, match="before their enrolment"):
        withdraw_participant(world.db, world.coord, pid, "moved away", ENROLLED - timedelta(days=1))
    with pytest.raises(ValidationError, match="timezone"):
        withdraw_participant(world.db, world.coord, pid, "moved away", "2026-05-05 09:00")
    for who in (world.rater, world.monitor, world.coord_s2, world.admin):
        with pytest.raises(PermissionDeniedError):
            withdraw_participant(world.db, who, pid, "moved away")
    assert get_participant(world.db, pid)["status"] == "enrolled"


def test_withdrawal_is_stored_audited_and_final(world, dosed):
    pid = dosed["id"]
    when = START + timedelta(hours=1)
    row = withdraw_participant(world.db, world.coord, pid, "consent withdrawn", when)
    assert (row["status"], row["status_reason"], row["status_at"]) == (
        "withdrawn",
        "consent withdrawn",
        "2026-05-05T09:00:00.000000Z",
    )
    events = {
        e["field"]: e
        for e in audit.events_for_participant(world.db, pid)
        if e["action"].startswith("participant.change_")
    }
    assert events["status"]["old_value"] == "enrolled" and events["status"]["new_value"] == "withdrawn"
    assert events["status_at"]["new_value"] == "2026-05-05T09:00:00.000000Z"
    assert {e["reason"] for e in events.values()} == {"consent withdrawn"}
    with pytest.raises(ValidationError, match="P010 is withdrawn since 2026-05-05 10:00 BST"):
        withdraw_participant(world.db, world.coord, pid, "again")
    with pytest.raises(ValidationError, match="only a participant who is enrolled can be marked as completed"):
        complete_participant(world.db, world.pi, pid)


def test_completion_from_enrolled_only_with_a_default_reason(world, dosed):
    with pytest.raises(ValidationError, match="P001 is screening"):
        complete_participant(world.db, world.coord, world.p1["id"])
    row = complete_participant(world.db, world.pi, dosed["id"])
    assert (row["status"], row["status_reason"], row["status_at"]) == (
        "completed",
        "completed the study schedule",
        clock.format_utc(AT_87),
    )


def test_update_participant_takes_the_same_rule(world, dosed):
    with pytest.raises(ValidationError, match="give the reason"):
        update_participant(world.db, world.coord, dosed["id"], status="withdrawn")
    row = update_participant(world.db, world.coord, dosed["id"], status="withdrawn", reason="lost to follow-up")
    assert (row["status_reason"], row["status_at"]) == ("lost to follow-up", clock.format_utc(AT_87))


def test_a_withdrawn_participant_leaves_the_worklist_and_stops_missing_visits(
    world, dosed, default_protocol, set_clock
):
    withdraw_participant(world.db, world.coord, dosed["id"], "adverse event", START + timedelta(hours=1))
    set_clock(START + timedelta(days=20))  # every window has long closed
    rows, missed, ids = worklist_view(world.db, default_protocol, site_id=world.coord["site_id"])
    assert "P010" not in ids and all(r.participant != "P010" for r in rows) and missed == []
    assert "P010" not in [p["code"] for p in schedule_inputs(world.db)]
    # Withdrawn at 09:00: the 40-minute window (closed 08:50) was missed; nothing later was expected.
    assert keys(missed_visits(world.db, default_protocol, participant_id=dosed["id"])) == ["min_40"]
    with pytest.raises(StorageError, match="withdrawn"):
        save_assessment(world.db, world.rater, dosed["id"], "day_1", "madrs", "clinician", full_responses("madrs"))


# --------------------------------------------------------------------------- deviations


def test_deviations_are_listed_per_participant_and_per_site(world, dosed):
    record_deviation(
        world.db, world.rater, dosed["id"], "min_40", "MADRS started 12 minutes after the window", minutes_late=12
    )
    record_deviation(world.db, world.coord_s2, world.p2["id"], "day_1", "rated by phone", kind="other")
    mine = list_deviations(world.db, participant_id=dosed["id"])
    assert [
        (d["participant"], d["timepoint"], d["kind_label"], d["recorded_by_name"], d["minutes_late"]) for d in mine
    ] == [("P010", "min_40", "Outside the window", "rater", 12)]
    assert [d["participant"] for d in list_deviations(world.db, site_id=world.coord["site_id"])] == ["P010"]
    assert {d["participant"] for d in list_deviations(world.db)} == {"P010", "P002"}


# --------------------------------------------------------------------------- the trajectory


def test_a_withdrawn_participants_trajectory_marks_the_date(world, dosed, default_protocol):
    from charts.views import participant_view
    from db.analytics import participant_rows

    def marker_layers(view):
        layer_list = view.panels[0].spec["layer"]
        return {
            layer["name"]: view.panels[0].spec["datasets"][layer["data"]["name"]]
            for layer in layer_list
            if layer["name"].startswith("status-")
        }, view.panels[0].spec["title"]

    before, _ = marker_layers(participant_view(default_protocol, participant_rows(world.db, dosed["id"])))
    assert before == {}
    withdraw_participant(world.db, world.coord, dosed["id"], "consent withdrawn", START + timedelta(hours=1))
    after, title = marker_layers(participant_view(default_protocol, participant_rows(world.db, dosed["id"])))
    assert set(after) == {"status-marker", "status-label"}
    assert after["status-marker"][0]["label"] == "withdrawn 2026-05-05"
    assert after["status-marker"][0]["x"] == pytest.approx(1.0)  # one hour after the infusion start
    subtitle = title["subtitle"]  # wrapped into lines that fit the chart (charts.export)
    subtitle = " ".join(subtitle) if isinstance(subtitle, list) else subtitle
    assert "withdrawn 2026-05-05: no ratings expected after the dashed line" in subtitle


# --------------------------------------------------------------------------- the participant's record (AppTest)


def test_the_record_offers_status_changes_to_coordinators_and_explains_a_refusal(app_world):
    from db.connection import unit_of_work
    from tests.app_support import app, texts

    for role in ("rater", "monitor"):
        at = app("pages/participants.py", app_world.users[role]).run()
        assert not at.exception and "Participant record" in texts(at)
        assert not any(b.label == "Withdraw participant" for b in at.button), role
    at = app("pages/participants.py", app_world.users["coordinator"]).run()
    assert [t.label for t in at.tabs] == ["Withdraw KET-001"]  # still screening: nothing to complete yet
    next(b for b in at.button if b.label == "Withdraw participant").click().run()
    assert any("give the reason KET-001 is withdrawn" in e.value for e in at.error)
    next(t for t in at.text_input if t.label == "Reason for withdrawal").input("moved away")
    next(b for b in at.button if b.label == "Withdraw participant").click().run()
    assert "KET-001 withdrawn from" in texts(at) and "withdrawn on" in texts(at) and "moved away" in texts(at)
    assert not any(b.label == "Withdraw participant" for b in at.button)
    with unit_of_work(write=False) as db:
        assert get_participant(db, app_world.p1["id"])["status"] == "withdrawn"


def test_a_withdrawal_given_to_the_minute_of_enrolment_is_accepted(world, set_clock):
    set_clock(ENROLLED + timedelta(seconds=30))
    person = create_participant(world.db, world.coord, "P011", "S1")
    set_clock(ENROLLED + timedelta(minutes=5))
    row = withdraw_participant(
        world.db, world.coord, person["id"], "changed their mind", ENROLLED
    )  # 08:00, form minute
    assert row["status_at"] == person["created_at"] == "2026-05-04T08:00:30.000000Z"
