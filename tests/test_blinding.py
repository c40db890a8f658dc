"""Issue 13 item 1: one blinding rule decides what each role sees of the arm and the dose, and who
may record a dose. The default test study is blinded (protocol file), so the PI, raters and
monitors see no dose on the Infusion day page and the PI does not record infusions; the
coordinator (the unblinded dose recorder) does, and sees the doses."""

from datetime import UTC, datetime, timedelta

import pytest

from db import clinical
from db.connection import unit_of_work
from db.errors import PermissionDeniedError
from db.permissions import PERMISSIONS
from exports import blinding as export_blinding
from protocol import blinding
from tests.app_support import app, texts, texts_without_clock_times
from tests.test_app_study_day import eligible


def test_one_rule_for_seeing_and_recording_doses():
    assert export_blinding.arm_visible is blinding.arm_visible  # the exports apply the same rule
    assert PERMISSIONS["clinical.record"] == blinding.CLINICAL_RECORDERS
    for role in ("pi", "rater", "monitor"):
        assert not blinding.arm_visible(role, True) and blinding.arm_visible(role, False)
    assert blinding.may_record_dose("coordinator", True) and blinding.may_record_dose("coordinator", False)
    assert not blinding.may_record_dose("pi", True) and blinding.may_record_dose("pi", False)
    for role in ("rater", "monitor", "admin"):
        assert not blinding.may_record_dose(role, True) and not blinding.may_record_dose(role, False)
    assert "0." not in blinding.dose_refusal("pi", True)  # the refusal names no dose


def _started(minutes_ago=14):
    return (datetime.now(UTC) - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_blinded_pi_may_not_record_an_infusion_below_the_page(app_world):
    eligible(app_world)
    with unit_of_work() as db, pytest.raises(PermissionDeniedError, match="blinded") as refused:
        clinical.record_infusion(db, app_world.users["pi"], app_world.p1["id"], 1, _started(), 70, 0.5)
    assert "mg" not in str(refused.value)
    with unit_of_work(write=False) as db:
        assert clinical.list_infusions(db, app_world.p1["id"]) == []
    with unit_of_work() as db:  # the unblinded coordinator records it
        clinical.record_infusion(db, app_world.users["coordinator"], app_world.p1["id"], 1, _started(), 70, 0.5)


@pytest.mark.parametrize("role", ["pi", "monitor", "rater"])
def test_blinded_roles_see_no_dose_on_the_infusion_day_page(app_world, role):
    eligible(app_world)
    with unit_of_work() as db:
        clinical.record_infusion(db, app_world.users["coordinator"], app_world.p1["id"], 1, _started(), 70, 0.5)
    at = app("pages/infusion.py", app_world.users[role]).run()
    assert not at.exception, at.exception
    if not at.dataframe:  # a role that may not open the page at all sees no dose either
        assert "0.5" not in texts(at)
        return
    table = at.dataframe[0].value
    assert not any("dose" in str(c) or "mg" in str(c) for c in table.columns), list(table.columns)
    shown = texts_without_clock_times(at)  # 09:35 is a time, not the 35 mg total
    assert "0.5" not in shown and "35" not in shown  # neither mg/kg nor the total (70 kg x 0.5)
    assert not any(b.label == "Start infusion" for b in at.button)
    assert not any("Dose (mg/kg" in n.label for n in at.number_input)


def test_blinded_pi_is_offered_no_dose_form_and_told_who_records(app_world):
    eligible(app_world)
    at = app("pages/infusion.py", app_world.users["pi"]).run()
    assert not any("Dose (mg/kg" in n.label for n in at.number_input)
    assert "recorded by the unblinded coordinator" in texts(at)
    coordinator = app("pages/infusion.py", app_world.users["coordinator"]).run()
    assert any("Dose (mg/kg" in n.label for n in coordinator.number_input)


def test_coordinator_sees_the_doses(app_world):
    eligible(app_world)
    with unit_of_work() as db:
        clinical.record_infusion(db, app_world.users["coordinator"], app_world.p1["id"], 1, _started(), 70, 0.5)
    at = app("pages/infusion.py", app_world.users["coordinator"]).run()
    table = at.dataframe[0].value
    assert list(table["dose (mg/kg)"]) == [0.5] and list(table["total (mg)"]) == [35.0]
