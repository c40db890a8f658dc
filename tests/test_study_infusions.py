"""The infusion-day use cases (study.infusions) are the one entry point that records infusions
and vital signs, and every path that records them gives the same outcome through it: a dose
outside the protocol's range refused, the total dose rounded half-up to 0.1 mg as
protocol.dosing rounds it, and a reading past a threshold coming back with the protocol's
warning. The paths: the use case called directly, the Infusion day page (AppTest) and the demo
study builder. Each path test also spies on the use case, so a path that went round it to
db.clinical would fail here. The use case applies the protocol it is GIVEN (never the file
behind the caller's back), which the demo test relies on: its protocol has other limits."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from functools import wraps

import pytest
from demo import build

from db import clinical, clock
from db.connection import unit_of_work
from db.errors import ValidationError
from protocol import Protocol, load_protocol
from protocol.errors import ProtocolInputError
from protocol.model import Range, Threshold
from study import infusions as infusion_day
from tests.app_support import app, texts
from tests.conftest_db import mark_eligible
from ui.text import md

#: 84.1 kg × 0.5 mg/kg = 42.05 mg: half-up to 42.1 (half-even, or binary floats, would give 42.0).
WEIGHT, DOSE, TOTAL = 84.1, 0.5, 42.1
HIGH_DOSE = 1.5  # above the default protocol's 0.2–1.0 mg/kg
READING = {"systolic": 190, "diastolic": 95, "heart_rate": 88, "spo2": 97}  # 190 > the threshold of 180


def spy(monkeypatch, name: str) -> list:
    """Replace study.infusions.<name> by a wrapper that records each call's result (or its
    refusal) and returns it; the list fills as the path calls the use case."""
    real = getattr(infusion_day, name)
    seen: list = []

    @wraps(real)
    def wrapper(*args, **kwargs):
        try:
            result = real(*args, **kwargs)
        except Exception as exc:
            seen.append(exc)
            raise
        seen.append(result)
        return result

    monkeypatch.setattr(infusion_day, name, wrapper)
    return seen


def expected_refusal(protocol: Protocol) -> str:
    """What the protocol says about the high dose (protocol.dosing's own sentence)."""
    with pytest.raises(ProtocolInputError) as refused:
        infusion_day.total_to_prepare(protocol, WEIGHT, HIGH_DOSE)
    return str(refused.value)


def test_the_use_case_refuses_rounds_and_warns(world):
    protocol = load_protocol()
    db, coordinator, pid = world.db, world.coord, world.p1["id"]
    mark_eligible(db, coordinator, world.rater, pid, protocol)
    started = clock.utc_now()
    with pytest.raises(ValidationError, match="outside the protocol's allowed range") as refused:
        infusion_day.record_infusion(db, coordinator, protocol, pid, 1, started, WEIGHT, HIGH_DOSE)
    assert expected_refusal(protocol) in str(refused.value)
    with pytest.raises(ValidationError, match="does not match the weight × dose"):  # a mis-rounded confirmation
        infusion_day.record_infusion(db, coordinator, protocol, pid, 1, started, WEIGHT, DOSE, total_dose_mg=42.0)
    assert infusion_day.total_to_prepare(protocol, WEIGHT, DOSE) == Decimal("42.1")
    row = infusion_day.record_infusion(db, coordinator, protocol, pid, 1, started, WEIGHT, DOSE, total_dose_mg=TOTAL)
    assert row["total_dose_mg"] == TOTAL
    saved = infusion_day.record_vitals(
        db, coordinator, protocol, pid, clock.utc_now(), infusion_id=row["id"], **READING
    )
    assert (
        saved["warnings"]
        == ["systolic blood pressure 190 mmHg is above the protocol's threshold of 180 mmHg"]
        == infusion_day.vitals_warnings(protocol, READING)
    )


def test_the_use_case_applies_the_protocol_it_is_given(world):
    """A protocol with a narrower range refuses the dose the study's file accepts."""
    protocol = load_protocol()
    narrow = replace(protocol, dosing=replace(protocol.dosing, mg_per_kg=Range(Decimal("0.2"), Decimal("0.4"))))
    mark_eligible(world.db, world.coord, world.rater, world.p1["id"], protocol)
    with pytest.raises(ValidationError, match=r"dose 0\.5 mg/kg is outside the protocol's allowed range 0\.2–0\.4"):
        infusion_day.record_infusion(world.db, world.coord, narrow, world.p1["id"], 1, clock.utc_now(), WEIGHT, DOSE)
    assert clinical.list_infusions(world.db, world.p1["id"]) == []


def test_the_infusion_page_gives_the_same_outcomes(app_world, monkeypatch):
    protocol = load_protocol()
    coordinator, pid = app_world.users["coordinator"], app_world.p1["id"]
    with unit_of_work() as db:
        mark_eligible(db, coordinator, app_world.users["rater"], pid, protocol)
    infusions, readings = spy(monkeypatch, "record_infusion"), spy(monkeypatch, "record_vitals")
    at = app("pages/infusion.py", coordinator).run()
    next(n for n in at.number_input if n.label == "Weight (kg)").set_value(WEIGHT)
    next(n for n in at.number_input if n.label.startswith("Dose (mg/kg")).set_value(HIGH_DOSE).run()
    assert md(expected_refusal(protocol)) in [e.value for e in at.error]  # refused before anything is written
    assert not at.metric and not any(b.label == "Start infusion" for b in at.button)
    next(n for n in at.number_input if n.label.startswith("Dose (mg/kg")).set_value(DOSE).run()
    assert [m.value for m in at.metric] == [f"{TOTAL} mg"]
    next(c for c in at.checkbox if c.label.startswith(f"I have checked the total dose of {TOTAL} mg")).check().run()
    next(b for b in at.button if b.label == "Start infusion").click().run()
    assert "Infusion 1 started" in texts(at), texts(at)
    assert [row["total_dose_mg"] for row in infusions] == [TOTAL]  # through the use case
    for label, measure in (
        ("Systolic (mmHg)", "systolic"),
        ("Diastolic (mmHg)", "diastolic"),
        ("Heart rate (bpm)", "heart_rate"),
        ("SpO2 (%)", "spo2"),
    ):
        next(n for n in at.number_input if n.label == label).set_value(READING[measure])
    next(b for b in at.button if b.label == "Save vital signs").click().run()
    (warning,) = infusion_day.vitals_warnings(protocol, READING)
    assert [saved["warnings"] for saved in readings] == [[warning]]
    assert any(md(warning) in e.value for e in at.error if "outside the protocol's limits" in e.value)


def test_the_demo_builder_gives_the_same_outcomes(tmp_path, fast_passwords, monkeypatch):
    """The demo records 0.5 mg/kg and systolic pressures of about 107-153 mmHg: under a protocol
    that allows 0.6–1.0 mg/kg its first infusion is refused; under one that warns above 110 mmHg
    its readings come back with that warning; every total is the protocol's rounding."""
    protocol = load_protocol()
    strict = replace(protocol, dosing=replace(protocol.dosing, mg_per_kg=Range(Decimal("0.6"), Decimal("1.0"))))
    infusions = spy(monkeypatch, "record_infusion")
    with pytest.raises(
        RuntimeError, match=r"demo step 'infusion .*dose 0\.5 mg/kg is outside the protocol's allowed range"
    ):
        build(tmp_path / "refused.db", seed=3, participants=2, protocol=strict)
    assert len(infusions) == 1 and isinstance(infusions[0], ValidationError)

    thresholds = replace(protocol.vitals.thresholds, systolic=Threshold(above=Decimal(110), below=Decimal(90)))
    watchful = replace(protocol, vitals=replace(protocol.vitals, thresholds=thresholds))
    infusions.clear()
    readings = spy(monkeypatch, "record_vitals")
    build(tmp_path / "demo.db", seed=3, participants=2, protocol=watchful)
    assert infusions and readings
    for row in infusions:
        assert Decimal(str(row["total_dose_mg"])) == infusion_day.total_to_prepare(watchful, row["weight_kg"], DOSE)
    warned = [w for saved in readings for w in saved["warnings"]]
    assert warned and all("above the protocol's threshold of 110 mmHg" in w for w in warned)
    with unit_of_work(tmp_path / "demo.db", write=False) as db:  # stored as the use case returned them
        stored = clinical.list_vitals(db, infusions[0]["participant_id"])
    assert [v["id"] for v in stored] == [
        saved["id"] for saved in readings if saved["participant_id"] == stored[0]["participant_id"]
    ]
