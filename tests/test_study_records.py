"""study.records: every read of a participant's clinical data that the pages make (trajectory,
assessments, participants, infusion day) checks the one read rule, `data.read` at the
participant's site, and audit history needs `audit.read` on top. Each read is refused to a
role without `data.read` (the system actor, a participant's link), to an account of another
site, and to a deactivated account; and allowed to the staff of the participant's site."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from db import clock
from db.assessments import find_assessment
from db.clinical import record_adverse_event, record_infusion, record_vitals
from db.errors import PermissionDeniedError
from db.permissions import PERMISSIONS, system_actor
from db.tokens import redeem_token
from db.users import deactivate
from protocol import load_protocol
from study import records
from study.self_report import start_self_report
from tests.conftest_db import mark_eligible

PROTOCOL = load_protocol()


@pytest.fixture
def dosed(world, monkeypatch):
    """P001 (site S1) with a baseline MADRS, infusion 1, a reading past a threshold and an
    adverse event; returns the world with `baseline` (the MADRS's id) and `infusion`."""
    enrolled = datetime.now(UTC).replace(microsecond=0)
    moment = {"now": enrolled + timedelta(minutes=1)}
    monkeypatch.setattr(clock, "utc_now", lambda: clock.format_utc(moment["now"]))
    mark_eligible(world.db, world.coord, world.rater, world.p1["id"])
    started = enrolled + timedelta(minutes=2)
    moment["now"] = started + timedelta(minutes=20)
    infusion = record_infusion(world.db, world.coord, world.p1["id"], 1, started, 70, 0.5, protocol=PROTOCOL)
    record_vitals(
        world.db,
        world.coord,
        world.p1["id"],
        started + timedelta(minutes=15),
        infusion_id=infusion["id"],
        protocol=PROTOCOL,
        systolic=190,
        diastolic=95,
    )
    record_adverse_event(
        world.db,
        world.coord,
        world.p1["id"],
        "Nausea",
        started + timedelta(minutes=10),
        "mild",
        "possible",
        infusion_id=infusion["id"],
        protocol=PROTOCOL,
    )
    world.baseline = find_assessment(world.db, world.p1["id"], "baseline", "madrs")["id"]
    world.infusion = infusion["id"]
    return world


#: Each read function a page uses, called for P001: (name, call(db, actor, world)).
READS = {
    "list_assessments (assessments page)": lambda db, a, w: records.list_assessments(db, a, w.p1["id"]),
    "load_assessment (assessments page)": lambda db, a, w: records.load_assessment(db, a, w.baseline),
    "participant_rows (trajectory)": lambda db, a, w: records.participant_rows(db, a, w.p1["id"]),
    "list_infusions (trajectory, infusion day)": lambda db, a, w: records.list_infusions(db, a, w.p1["id"]),
    "list_vitals (infusion day)": lambda db, a, w: records.list_vitals(db, a, w.p1["id"]),
    "open_vitals_warning (infusion day)": lambda db, a, w: records.open_vitals_warning(
        db, a, PROTOCOL, w.p1["id"], w.infusion
    ),
    "list_adverse_events (infusion day)": lambda db, a, w: records.list_adverse_events(db, a, w.p1["id"]),
    "missed_visits (participants)": lambda db, a, w: records.missed_visits(db, a, PROTOCOL, w.p1["id"]),
    "list_deviations (participants)": lambda db, a, w: records.list_deviations(db, a, w.p1["id"]),
}
#: The reads that show audit history: data.read and audit.read.
AUDIT_READS = {
    "assessment_history (assessments page)": lambda db, a, w: records.assessment_history(db, a, w.baseline),
    "participant_record (trajectory, certified copy)": lambda db, a, w: records.participant_record(db, a, w.p1["id"]),
}
EVERY_READ = {**READS, **AUDIT_READS}


def participant_link_actor(world):
    """The participant actor of P001's self-report link (a role without data.read)."""
    made = start_self_report(world.db, world.coord, PROTOCOL, world.p1["id"], "day_7", ["phq9"])
    return redeem_token(world.db, made["token"])


@pytest.mark.parametrize("read", EVERY_READ.values(), ids=list(EVERY_READ))
def test_a_role_without_data_read_is_refused(dosed, read):
    assert "system" not in PERMISSIONS[records.READ] and "participant" not in PERMISSIONS[records.READ]
    for actor in (system_actor("tests"), participant_link_actor(dosed)):
        with pytest.raises(PermissionDeniedError, match="data: read|self-report link"):
            read(dosed.db, actor, dosed)


@pytest.mark.parametrize("read", EVERY_READ.values(), ids=list(EVERY_READ))
def test_an_account_of_another_site_is_refused(dosed, read):
    with pytest.raises(PermissionDeniedError, match="works at another site"):
        read(dosed.db, dosed.rater_s2, dosed)


@pytest.mark.parametrize("read", EVERY_READ.values(), ids=list(EVERY_READ))
def test_a_deactivated_account_is_refused_at_the_next_read(dosed, read):
    deactivate(dosed.db, dosed.admin, dosed.monitor["id"], reason="left the study")
    with pytest.raises(PermissionDeniedError, match="deactivated"):
        read(dosed.db, dosed.monitor, dosed)


@pytest.mark.parametrize("read", READS.values(), ids=list(READS))
def test_the_staff_of_the_site_read_the_data(dosed, read):
    for actor in (dosed.rater, dosed.coord, dosed.monitor, dosed.pi):
        assert read(dosed.db, actor, dosed) is not None


@pytest.mark.parametrize("read", AUDIT_READS.values(), ids=list(AUDIT_READS))
def test_audit_history_follows_may_read_audit(dosed, read):
    with pytest.raises(PermissionDeniedError, match="audit: read"):
        read(dosed.db, dosed.rater, dosed)  # may read the data, not the audit trail
    assert read(dosed.db, dosed.monitor, dosed)


def test_the_vitals_warning_is_computed_below_the_page(dosed):
    attention = records.open_vitals_warning(dosed.db, dosed.coord, PROTOCOL, dosed.p1["id"], dosed.infusion)
    assert attention is not None and any("systolic" in text for text in attention["warnings"])


def test_the_participant_list_is_the_site_of_the_account_as_stored(dosed):
    assert [p["code"] for p in records.list_participants(dosed.db, dosed.rater)] == ["P001"]
    assert [p["code"] for p in records.list_participants(dosed.db, dosed.monitor)] == ["P001", "P002"]
    with pytest.raises(PermissionDeniedError):
        records.list_participants(dosed.db, system_actor("tests"))
