"""Dose arithmetic and its bounds; the vitals schedule, reminders and threshold warnings.
Default protocol: 0.2–1.0 mg/kg (default 0.5), 30–250 kg, 40–100 minutes; vitals every 15
minutes during and 120 minutes after; thresholds systolic > 180 or < 90, diastolic > 110,
heart rate > 130 or < 45, SpO2 < 92."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from protocol import DoseError, VitalsError, check_vitals, load_protocol, next_vitals_due, total_dose_mg
from protocol import vitals_schedule as schedule_for
from protocol.dosing import check_duration, planned_end
from protocol.loader import DEFAULT_PROTOCOL, compile_protocol


@pytest.fixture(scope="module")
def default_protocol():
    return load_protocol(DEFAULT_PROTOCOL)


def utc(*parts):
    return datetime(*parts, tzinfo=UTC)


# --- dose ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "weight, per_kg, expected",
    [
        (70, 0.5, "35.0"),
        (82.3, 0.5, "41.2"),  # 41.15 rounds half-up (a binary float would give 41.149999… → 41.1)
        (82.5, 0.5, "41.3"),  # 41.25: half-up, not half-even (which would give 41.2)
        (Decimal("82.3"), Decimal("0.5"), "41.2"),
        (70, 0.2, "14.0"),
        (70, 1.0, "70.0"),
        (30, 0.2, "6.0"),
        (250, 1, "250.0"),
        (64.33, 0.5, "32.2"),  # 32.165
    ],
)
def test_total_dose(default_protocol, weight, per_kg, expected):
    total = total_dose_mg(weight, per_kg, default_protocol.dosing)
    assert isinstance(total, Decimal)
    assert total == Decimal(expected) and str(total) == expected


@pytest.mark.parametrize("per_kg", [0.19, 1.01, 0, -0.5])
def test_dose_outside_the_protocol_range(default_protocol, per_kg):
    with pytest.raises(DoseError) as caught:
        total_dose_mg(70, per_kg, default_protocol.dosing)
    assert f"dose {Decimal(str(per_kg))} mg/kg is outside the protocol's allowed range 0.2–1.0 mg/kg" in str(
        caught.value
    )


@pytest.mark.parametrize("weight", [29.9, 250.1, 0, 700])
def test_weight_outside_the_plausible_range(default_protocol, weight):
    with pytest.raises(DoseError, match=r"weight .* kg is outside the protocol's allowed range 30–250 kg"):
        total_dose_mg(weight, 0.5, default_protocol.dosing)


@pytest.mark.parametrize("value", ["70", None, True, float("nan"), float("inf"), Decimal("NaN")])
def test_weight_must_be_a_finite_number(default_protocol, value):
    with pytest.raises(DoseError, match=r"weight must be a (finite )?number"):
        total_dose_mg(value, 0.5, default_protocol.dosing)


def test_dose_must_be_a_number(default_protocol):
    with pytest.raises(DoseError, match=r"dose must be a number, not '0.5'"):
        total_dose_mg(70, "0.5", default_protocol.dosing)


def test_duration_bounds_and_planned_end(default_protocol):
    assert check_duration(40, default_protocol.dosing) == 40 and check_duration(100, default_protocol.dosing) == 100
    with pytest.raises(DoseError, match=r"infusion duration 39 minutes is outside the protocol's allowed range 40–100"):
        check_duration(39, default_protocol.dosing)
    with pytest.raises(DoseError):
        check_duration(101, default_protocol.dosing)
    assert planned_end(utc(2026, 5, 5, 8, 0), 40, default_protocol.dosing) == utc(2026, 5, 5, 8, 40)


# --- vitals schedule ----------------------------------------------------------------------


def minutes_and_phases(schedule):
    return [(v.minutes_from_start, v.phase) for v in schedule]


def test_forty_minute_infusion_schedule(default_protocol):
    schedule = schedule_for(utc(2026, 5, 5, 8, 0), utc(2026, 5, 5, 8, 40), default_protocol)
    assert minutes_and_phases(schedule) == [
        (0, "during"),
        (15, "during"),
        (30, "during"),
        (40, "end"),
        (55, "after"),
        (70, "after"),
        (85, "after"),
        (100, "after"),
        (115, "after"),
        (130, "after"),
        (145, "after"),
        (160, "after"),
    ]
    assert schedule[-1].due_at == utc(2026, 5, 5, 10, 40)  # end + 120 minutes


def test_end_on_the_interval_is_not_counted_twice(default_protocol):
    schedule = schedule_for(utc(2026, 5, 5, 8, 0), utc(2026, 5, 5, 8, 45), default_protocol)
    assert [m for m, _ in minutes_and_phases(schedule)] == [0, 15, 30, 45, 60, 75, 90, 105, 120, 135, 150, 165]
    assert [p for _, p in minutes_and_phases(schedule)].count("end") == 1


def test_hundred_minute_infusion_schedule(default_protocol):
    schedule = schedule_for(utc(2026, 5, 5, 8, 0), utc(2026, 5, 5, 9, 40), default_protocol)
    assert len(schedule) == 7 + 1 + 8
    assert schedule[6].minutes_from_start == 90 and schedule[7].phase == "end"
    assert schedule[-1].minutes_from_start == 220


def test_last_reading_added_when_the_interval_misses_it():
    raw = json.loads(DEFAULT_PROTOCOL.read_text(encoding="utf-8"))
    raw["vitals"]["after_infusion_minutes"] = 50
    study = compile_protocol(raw, "variant.json")
    schedule = schedule_for(utc(2026, 5, 5, 8, 0), utc(2026, 5, 5, 8, 40), study)
    assert [m for m, _ in minutes_and_phases(schedule)][3:] == [40, 55, 70, 85, 90]


def test_vitals_schedule_refuses_bad_times(default_protocol):
    with pytest.raises(VitalsError, match="has no time zone"):
        schedule_for(datetime(2026, 5, 5, 8, 0), utc(2026, 5, 5, 8, 40), default_protocol)
    with pytest.raises(VitalsError, match="is not after its start"):
        schedule_for(utc(2026, 5, 5, 8, 0), utc(2026, 5, 5, 8, 0), default_protocol)


# --- reminders ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def forty_minutes(default_protocol):
    return schedule_for(utc(2026, 5, 5, 8, 0), utc(2026, 5, 5, 8, 40), default_protocol)


def test_first_reading_upcoming_before_the_start(forty_minutes):
    reminder = next_vitals_due(forty_minutes, [], utc(2026, 5, 5, 7, 50))
    assert (reminder.due_at, reminder.state, reminder.missed) == (utc(2026, 5, 5, 8, 0), "upcoming", ())


def test_covered_reading_points_to_the_next(forty_minutes):
    reminder = next_vitals_due(forty_minutes, [utc(2026, 5, 5, 8, 0), utc(2026, 5, 5, 8, 16)], utc(2026, 5, 5, 8, 20))
    assert (reminder.due_at, reminder.state, reminder.minutes_from_start) == (utc(2026, 5, 5, 8, 30), "upcoming", 30)


def test_due_then_overdue_at_the_tolerance_edges(forty_minutes):
    # Readings at 0, 15, 30 and 40 minutes; next scheduled 08:55 (55 min), then 09:10 (70 min).
    recorded = [utc(2026, 5, 5, 8, 0), utc(2026, 5, 5, 8, 15), utc(2026, 5, 5, 8, 30), utc(2026, 5, 5, 8, 40)]
    assert next_vitals_due(forty_minutes, recorded, utc(2026, 5, 5, 8, 49, 59)).state == "upcoming"
    assert next_vitals_due(forty_minutes, recorded, utc(2026, 5, 5, 8, 50)).state == "due"
    assert next_vitals_due(forty_minutes, recorded, utc(2026, 5, 5, 9, 0)).state == "due"
    overdue = next_vitals_due(forty_minutes, recorded, utc(2026, 5, 5, 9, 0, 1))
    assert (overdue.due_at, overdue.state, overdue.missed) == (utc(2026, 5, 5, 8, 55), "overdue", ())
    assert next_vitals_due(forty_minutes, recorded, utc(2026, 5, 5, 9, 4, 59)).state == "overdue"
    moved_on = next_vitals_due(forty_minutes, recorded, utc(2026, 5, 5, 9, 5))
    assert (moved_on.due_at, moved_on.state, moved_on.missed) == (
        utc(2026, 5, 5, 9, 10),
        "due",
        (utc(2026, 5, 5, 8, 55),),
    )


def test_a_reading_just_outside_the_tolerance_does_not_count(forty_minutes):
    reminder = next_vitals_due(forty_minutes, [utc(2026, 5, 5, 8, 5, 1)], utc(2026, 5, 5, 8, 6))
    assert (reminder.due_at, reminder.state) == (utc(2026, 5, 5, 8, 0), "overdue")


def test_uncovered_earlier_readings_are_missed(forty_minutes):
    reminder = next_vitals_due(forty_minutes, [], utc(2026, 5, 5, 8, 34))
    assert (reminder.due_at, reminder.state) == (utc(2026, 5, 5, 8, 30), "due")
    assert reminder.missed == (utc(2026, 5, 5, 8, 0), utc(2026, 5, 5, 8, 15))


def test_monitoring_complete(forty_minutes):
    recorded = [v.due_at + timedelta(minutes=2) for v in forty_minutes]
    assert next_vitals_due(forty_minutes, recorded, utc(2026, 5, 5, 10, 45)) is None
    # Last reading (10:40) not taken: due to 10:45, overdue to 10:50 (one interval on, less the tolerance).
    assert next_vitals_due(forty_minutes, recorded[:-1], utc(2026, 5, 5, 10, 45)).state == "due"
    assert next_vitals_due(forty_minutes, recorded[:-1], utc(2026, 5, 5, 10, 49, 59)).state == "overdue"
    assert next_vitals_due(forty_minutes, recorded[:-1], utc(2026, 5, 5, 10, 50)) is None


# --- thresholds ---------------------------------------------------------------------------

NORMAL = {"systolic": 120, "diastolic": 80, "heart_rate": 72, "spo2": 98}


def test_normal_reading_has_no_warning(default_protocol):
    assert check_vitals(NORMAL, default_protocol.vitals.thresholds) == []


@pytest.mark.parametrize(
    "measure, at_limit, past_limit, direction, limit",
    [
        ("systolic", 180, 181, "above", 180),
        ("systolic", 90, 89, "below", 90),
        ("diastolic", 110, 111, "above", 110),
        ("heart_rate", 130, 131, "above", 130),
        ("heart_rate", 45, 44, "below", 45),
        ("spo2", 92, 91, "below", 92),
        ("spo2", 92, 91.5, "below", 92),
    ],
)
def test_thresholds_at_and_just_past_the_limit(default_protocol, measure, at_limit, past_limit, direction, limit):
    thresholds = default_protocol.vitals.thresholds
    diastolic = {"diastolic": 60} if measure == "systolic" else {}
    assert check_vitals({**NORMAL, **diastolic, measure: at_limit}, thresholds) == []
    (warning,) = check_vitals({**NORMAL, **diastolic, measure: past_limit}, thresholds)
    assert (warning.measure, warning.value, warning.threshold, warning.direction) == (
        measure,
        past_limit,
        limit,
        direction,
    )
    assert (
        f"{past_limit:g}" in warning.message and f"{direction} the protocol's threshold of {limit}" in warning.message
    )


def test_warning_message(default_protocol):
    (warning,) = check_vitals({**NORMAL, "systolic": 181}, default_protocol.vitals.thresholds)
    assert warning.message == "systolic blood pressure 181 mmHg is above the protocol's threshold of 180 mmHg"


def test_several_warnings_in_measure_order(default_protocol):
    warnings = check_vitals(
        {"spo2": 88, "heart_rate": 140, "systolic": 190, "diastolic": 115}, default_protocol.vitals.thresholds
    )
    assert [w.measure for w in warnings] == ["systolic", "diastolic", "heart_rate", "spo2"]


def test_partial_reading(default_protocol):
    (warning,) = check_vitals({"spo2": 90}, default_protocol.vitals.thresholds)
    assert warning.message == "oxygen saturation 90 % is below the protocol's threshold of 92 %"


@pytest.mark.parametrize(
    "reading, message",
    [
        ({"spo2": 101}, "oxygen saturation 101 % is not a possible reading (accepted 50–100 %)"),
        ({"heart_rate": 0}, "heart rate 0 bpm is not a possible reading (accepted 20–250 bpm)"),
        ({"systolic": 400}, "systolic blood pressure 400 mmHg is not a possible reading"),
        ({"systolic": 80, "diastolic": 120}, "diastolic 120 mmHg is not below systolic 80 mmHg"),
        ({"heart_rate": "72"}, "heart rate must be a number, not '72'"),
        ({"heart_rate": True}, "heart rate must be a number, not True"),
        ({"heart_rate": float("nan")}, "heart rate must be a number"),
        ({"pulse": 72}, "unknown vital sign(s) pulse"),
        ({}, "the reading is empty"),
    ],
)
def test_impossible_readings_are_refused(default_protocol, reading, message):
    with pytest.raises(VitalsError) as caught:
        check_vitals(reading, default_protocol.vitals.thresholds)
    assert message in str(caught.value)
    assert isinstance(caught.value, ValueError)
