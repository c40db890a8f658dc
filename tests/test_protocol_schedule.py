"""Schedules: infusion plans, timepoints across daylight-saving changes, moved and repeated
infusions, window edges, states at their boundaries, and the rater's worklist.

Every expectation is worked out by hand. Europe/London clocks go forward on Sunday 2026-03-29 at
01:00 UTC (GMT → BST, UTC+1) and back on Sunday 2026-10-25 at 01:00 UTC (BST → GMT).
"""

import copy
import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import (
    ScheduleError,
    load_protocol,
    participant_schedule,
    plan_timepoints,
    planned_infusions,
    timepoint_state,
    window_check,
    worklist,
)
from protocol.loader import DEFAULT_PROTOCOL, STUDIES_DIR, compile_protocol
from protocol.schedule import missed_visits, worklist_and_missed
from protocol.timing import shift_calendar_days

LONDON = ZoneInfo("Europe/London")
REPEATED = STUDIES_DIR / "repeated_infusion.json"


def utc(*parts):
    return datetime(*parts, tzinfo=UTC)


def local(*parts, fold=0):
    return datetime(*parts, tzinfo=LONDON, fold=fold)


@pytest.fixture(scope="module")
def default_protocol():
    return load_protocol(DEFAULT_PROTOCOL)


@pytest.fixture(scope="module")
def repeated():
    return load_protocol(REPEATED)


def by_id(planned):
    return {(p.timepoint_id, p.infusion_number): p for p in planned}


def single(study, started_at, **extra):
    return by_id(plan_timepoints(study, None, [{"number": 1, "started_at": started_at, **extra}]))


def variant(path, change):
    raw = json.loads(path.read_text(encoding="utf-8"))
    change(raw)
    return compile_protocol(raw, "variant.json")


# --- daylight saving ----------------------------------------------------------------------


def test_day_offsets_are_calendar_days_across_spring_forward(default_protocol):
    # Saturday 2026-03-28 09:00 GMT = 09:00 UTC; clocks go forward overnight.
    planned = single(default_protocol, local(2026, 3, 28, 9, 0))
    day_1 = planned["day_1", None]
    assert day_1.due_at == utc(2026, 3, 29, 8, 0)  # 09:00 BST, only 23 elapsed hours later
    assert day_1.due_at.astimezone(LONDON).strftime("%Y-%m-%d %H:%M %Z") == "2026-03-29 09:00 BST"
    assert (day_1.window_start, day_1.window_end) == (utc(2026, 3, 29, 4, 0), utc(2026, 3, 29, 12, 0))
    assert planned["day_7", None].due_at == utc(2026, 4, 4, 8, 0)  # 09:00 BST
    assert planned["day_14", None].due_at == utc(2026, 4, 11, 8, 0)


def test_minute_offsets_are_elapsed_time(default_protocol):
    planned = single(default_protocol, local(2026, 3, 28, 9, 0))
    assert planned["min_40", None].due_at == utc(2026, 3, 28, 9, 40)
    assert planned["min_230", None].due_at == utc(2026, 3, 28, 12, 50)


def test_minute_offsets_stay_elapsed_when_the_clock_jumps(default_protocol):
    # Infusion at 00:30 GMT on the night the clocks go forward: 40 minutes later the clock reads 02:10 BST.
    planned = single(default_protocol, utc(2026, 3, 29, 0, 30))
    min_40 = planned["min_40", None].due_at
    assert min_40 == utc(2026, 3, 29, 1, 10)
    assert min_40.astimezone(LONDON).strftime("%H:%M %Z") == "02:10 BST"


def test_day_offsets_across_fall_back(default_protocol):
    # Saturday 2026-10-24 09:00 BST = 08:00 UTC; day 1 is 09:00 GMT = 09:00 UTC, 25 hours later.
    planned = single(default_protocol, local(2026, 10, 24, 9, 0))
    assert planned["day_1", None].due_at == utc(2026, 10, 25, 9, 0)
    assert planned["min_80", None].due_at == utc(2026, 10, 24, 9, 20)


def test_a_wall_time_skipped_by_the_clocks_moves_one_hour_later(default_protocol):
    # 01:30 on 2026-03-29 does not exist in London: day 1 after a 01:30 GMT infusion is 02:30 BST.
    planned = single(default_protocol, local(2026, 3, 28, 1, 30))
    assert planned["day_1", None].due_at == utc(2026, 3, 29, 1, 30)
    assert planned["day_1", None].due_at.astimezone(LONDON).strftime("%H:%M %Z") == "02:30 BST"


def test_a_repeated_wall_time_takes_its_first_occurrence(default_protocol):
    # 01:30 on 2026-10-25 happens twice; day 1 after a 01:30 BST infusion is the first (BST) one.
    planned = single(default_protocol, local(2026, 10, 24, 1, 30))
    assert planned["day_1", None].due_at == utc(2026, 10, 25, 0, 30)


def test_baseline_window_is_seven_calendar_days_before_the_infusion(default_protocol):
    # Infusion Wednesday 2026-04-01 09:00 BST = 08:00 UTC; the window opens 09:00 GMT a week earlier.
    baseline = single(default_protocol, local(2026, 4, 1, 9, 0))["baseline", None]
    assert baseline.due_at == utc(2026, 4, 1, 8, 0)
    assert baseline.window_start == utc(2026, 3, 25, 9, 0)
    assert baseline.window_end == baseline.due_at


def test_results_are_utc(default_protocol):
    for p in single(default_protocol, local(2026, 6, 1, 9, 0)).values():
        assert p.due_at.tzinfo is UTC and p.window_start.tzinfo is UTC and p.window_end.tzinfo is UTC


# --- moved, booked and repeated infusions ---------------------------------------------------


def test_booked_infusion_gives_provisional_timepoints_then_actual_time_moves_them(default_protocol):
    booked = single(default_protocol, None, scheduled_at=local(2026, 3, 28, 9, 0))
    assert booked["day_1", None].due_at == utc(2026, 3, 29, 8, 0)
    assert all(p.provisional for p in booked.values())
    # The infusion actually happened on Monday at 14:00 BST: everything re-plans from that time.
    moved = single(default_protocol, local(2026, 3, 30, 14, 0), scheduled_at=local(2026, 3, 28, 9, 0))
    assert moved["day_1", None].due_at == utc(2026, 3, 31, 13, 0)
    assert moved["min_40", None].due_at == utc(2026, 3, 30, 13, 40)
    assert moved["baseline", None].window_start == utc(2026, 3, 23, 14, 0)  # 14:00 GMT the Monday before
    assert not any(p.provisional for p in moved.values())


def test_before_the_first_infusion_nothing_has_a_date(default_protocol):
    planned = plan_timepoints(default_protocol, utc(2026, 3, 1, 10, 0), [])
    assert [p.timepoint_id for p in planned] == [t.id for t in default_protocol.timepoints]
    assert all(p.due_at is None and p.window_start is None and not p.scheduled for p in planned)
    assert {timepoint_state(p, utc(2026, 3, 2)) for p in planned} == {"upcoming"}


def test_each_infusion_timepoints_per_actual_infusion(repeated):
    infusions = [
        {"number": 1, "started_at": utc(2026, 3, 23, 9, 0), "ended_at": utc(2026, 3, 23, 9, 40)},
        {"number": 2, "started_at": utc(2026, 3, 25, 9, 0)},
        {"number": 3, "started_at": utc(2026, 3, 27, 10, 30)},  # started late
    ]
    planned = plan_timepoints(repeated, None, infusions)
    assert len(planned) == 3 * 4 + 7  # 4 per infusion; baseline and 6 weekly ones once
    keyed = by_id(planned)
    assert keyed["pre_infusion", 3].due_at == utc(2026, 3, 27, 10, 30)
    assert keyed["pre_infusion", 3].window_start == utc(2026, 3, 26, 10, 30)
    assert keyed["min_40", 2].due_at == utc(2026, 3, 25, 9, 40)
    assert keyed["day_1", 3].due_at == utc(2026, 3, 28, 10, 30)
    assert keyed["week_1", None].due_at == utc(2026, 3, 30, 8, 0)  # 09:00 BST, anchored to infusion 1
    assert keyed["week_1", None].infusion_number is None
    assert [p.due_at for p in planned] == sorted(p.due_at for p in planned)


def test_each_infusion_placeholders_for_infusion_one_before_any_infusion(repeated):
    planned = plan_timepoints(repeated, None, [])
    per_infusion = [p for p in planned if p.anchor == "each_infusion"]
    assert [(p.timepoint_id, p.infusion_number) for p in per_infusion] == [
        ("pre_infusion", 1),
        ("min_40", 1),
        ("min_230", 1),
        ("day_1", 1),
    ]
    assert all(not p.scheduled for p in planned)


def test_enrolment_anchor():
    def add_screening(raw):
        raw["timepoints"].insert(
            0,
            {
                "id": "screening",
                "label": "Screening",
                "anchor": "enrolment",
                "offset": {"value": 0, "unit": "days"},
                "window": {"before": {"value": 0, "unit": "days"}, "after": {"value": 14, "unit": "days"}},
                "scales": ["phq9"],
            },
        )

    study = variant(DEFAULT_PROTOCOL, add_screening)
    screening = by_id(plan_timepoints(study, local(2026, 3, 20, 11, 0), []))["screening", None]
    assert screening.due_at == utc(2026, 3, 20, 11, 0)
    assert screening.window_end == utc(2026, 4, 3, 10, 0)  # 11:00 BST fourteen calendar days later
    assert by_id(plan_timepoints(study, None, []))["screening", None].due_at is None


@pytest.mark.parametrize(
    "infusions, message",
    [
        ([{"number": 1, "started_at": datetime(2026, 3, 28, 9, 0)}], "has no time zone"),
        (
            [{"number": 1, "started_at": utc(2026, 3, 28, 9)}, {"number": 1, "started_at": utc(2026, 3, 30, 9)}],
            "infusion 1 is listed twice",
        ),
        ([{"number": 2, "started_at": utc(2026, 3, 28, 9)}], "without infusion 1"),
        (
            [{"number": 1, "started_at": utc(2026, 3, 28, 9)}, {"number": 2, "started_at": utc(2026, 3, 27, 9)}],
            "infusion 2 starts (2026-03-27T09:00:00+00:00) no later than infusion 1",
        ),
        ([{"number": 1, "started_at": utc(2026, 3, 28, 9), "ended_at": utc(2026, 3, 28, 8)}], "ends"),
        ([{"number": 0, "started_at": utc(2026, 3, 28, 9)}], "infusion number 0 is not valid"),
        ([{"number": True, "started_at": utc(2026, 3, 28, 9)}], "infusion number True is not valid"),
    ],
)
def test_bad_infusions_are_refused(repeated, infusions, message):
    with pytest.raises(ScheduleError) as caught:
        plan_timepoints(repeated, None, infusions)
    assert message in str(caught.value)


# --- planned infusions --------------------------------------------------------------------


def local_days(planned):
    return [p.planned_at.astimezone(LONDON).strftime("%a %m-%d %H:%M") for p in planned]


def test_single_plan(default_protocol):
    planned = planned_infusions(default_protocol, utc(2026, 5, 5, 8, 0))
    assert [(p.number, p.phase, p.planned_at) for p in planned] == [(1, "single", utc(2026, 5, 5, 8, 0))]


def test_induction_mon_wed_fri_then_weekly_maintenance_across_dst(repeated):
    planned = planned_infusions(repeated, local(2026, 3, 23, 9, 0))
    assert local_days(planned) == [
        "Mon 03-23 09:00",
        "Wed 03-25 09:00",
        "Fri 03-27 09:00",
        "Mon 03-30 09:00",
        "Wed 04-01 09:00",
        "Fri 04-03 09:00",
        "Fri 04-10 09:00",
        "Fri 04-17 09:00",
        "Fri 04-24 09:00",
        "Fri 05-01 09:00",
    ]
    assert [p.phase for p in planned] == ["induction"] * 6 + ["maintenance"] * 4
    assert planned[2].planned_at == utc(2026, 3, 27, 9, 0)  # GMT
    assert planned[3].planned_at == utc(2026, 3, 30, 8, 0)  # BST: same local time, one hour earlier in UTC


def test_induction_starting_off_pattern_keeps_two_days_apart(repeated):
    # Tuesday start: Thursday is not an infusion day, so Friday; then Mon, Wed, Fri, Mon.
    planned = planned_infusions(repeated, local(2026, 4, 14, 10, 0))
    assert local_days(planned)[:6] == [
        "Tue 04-14 10:00",
        "Fri 04-17 10:00",
        "Mon 04-20 10:00",
        "Wed 04-22 10:00",
        "Fri 04-24 10:00",
        "Mon 04-27 10:00",
    ]
    assert local_days(planned)[6:] == ["Mon 05-04 10:00", "Mon 05-11 10:00", "Mon 05-18 10:00", "Mon 05-25 10:00"]


def test_induction_twice_weekly():
    def twice_weekly(raw):
        raw["infusion_plan"]["induction"].update(count=4, weekdays=["mon", "thu"])
        del raw["infusion_plan"]["maintenance"]

    study = variant(REPEATED, twice_weekly)
    assert study.infusion_plan.total_infusions == 4
    assert local_days(planned_infusions(study, local(2026, 6, 1, 8, 30))) == [
        "Mon 06-01 08:30",
        "Thu 06-04 08:30",
        "Mon 06-08 08:30",
        "Thu 06-11 08:30",
    ]


# --- windows and states -------------------------------------------------------------------


@pytest.fixture(scope="module")
def min_40(default_protocol):
    # Infusion 2026-05-05 10:00 UTC: window 10:35–10:50, nominal 10:40.
    return single(default_protocol, utc(2026, 5, 5, 10, 0))["min_40", None]


def test_window_edges_are_inclusive(min_40):
    assert (min_40.window_start, min_40.due_at, min_40.window_end) == (
        utc(2026, 5, 5, 10, 35),
        utc(2026, 5, 5, 10, 40),
        utc(2026, 5, 5, 10, 50),
    )
    assert window_check(min_40, utc(2026, 5, 5, 10, 35)).inside
    assert window_check(min_40, utc(2026, 5, 5, 10, 50)).inside
    assert window_check(min_40, utc(2026, 5, 5, 10, 40)).inside


def test_one_second_outside_the_window(min_40):
    early = window_check(min_40, utc(2026, 5, 5, 10, 34, 59))
    assert not early.inside and early.minutes_early == pytest.approx(1 / 60) and early.minutes_late == 0
    late = window_check(min_40, utc(2026, 5, 5, 10, 50, 1))
    assert not late.inside and late.minutes_late == pytest.approx(1 / 60) and late.minutes_early == 0


def test_minutes_outside_for_a_deviation(min_40):
    late = window_check(min_40, utc(2026, 5, 5, 11, 20))
    assert (late.inside, late.minutes_early, late.minutes_late) == (False, 0, 30)
    assert late.describe() == "30 minutes after the window closed"
    early = window_check(min_40, utc(2026, 5, 5, 7, 35))
    assert early.minutes_early == 180 and early.describe() == "3.0 hours before the window opens"


def test_window_check_needs_a_schedule_and_an_aware_time(default_protocol, min_40):
    unscheduled = plan_timepoints(default_protocol, None, [])[0]
    with pytest.raises(ScheduleError, match="is not scheduled yet"):
        window_check(unscheduled, utc(2026, 5, 5))
    with pytest.raises(ScheduleError, match="has no time zone"):
        window_check(min_40, datetime(2026, 5, 5, 10, 40))


def test_states_at_their_boundaries(default_protocol):
    # Infusion 2026-05-05 09:00 BST: day 1 due 08:00 UTC, window 04:00–12:00, overdue after 08:15.
    day_1 = single(default_protocol, local(2026, 5, 5, 9, 0))["day_1", None]
    assert day_1.overdue_at == utc(2026, 5, 6, 8, 15)
    assert timepoint_state(day_1, utc(2026, 5, 6, 3, 59, 59)) == "upcoming"
    assert timepoint_state(day_1, utc(2026, 5, 6, 4, 0)) == "due"
    assert timepoint_state(day_1, utc(2026, 5, 6, 8, 15)) == "due"
    assert timepoint_state(day_1, utc(2026, 5, 6, 8, 15, 1)) == "overdue"
    assert timepoint_state(day_1, utc(2026, 5, 6, 12, 0)) == "overdue"
    assert timepoint_state(day_1, utc(2026, 5, 6, 12, 0, 1)) == "missed"
    assert timepoint_state(day_1, utc(2026, 5, 6, 12, 0, 1), completed_at=utc(2026, 5, 6, 9)) == "done"
    assert timepoint_state(day_1, utc(2026, 5, 6, 3), completed_at=utc(2026, 5, 6, 3)) == "done"


def test_grace_is_capped_at_half_the_time_left_in_the_window(min_40):
    # Grace 15 minutes would end at 10:55, after the window closes at 10:50, and the rating would
    # go from "due" straight to "missed" (issue 11, point 12). Capped at half of the 10 minutes
    # from due (10:40) to close: overdue from 10:45 to 10:50, then missed.
    assert min_40.overdue_at == utc(2026, 5, 5, 10, 45)
    assert timepoint_state(min_40, utc(2026, 5, 5, 10, 45)) == "due"
    assert timepoint_state(min_40, utc(2026, 5, 5, 10, 45, 1)) == "overdue"
    assert timepoint_state(min_40, utc(2026, 5, 5, 10, 50)) == "overdue"
    assert timepoint_state(min_40, utc(2026, 5, 5, 10, 50, 1)) == "missed"


# --- property: windows contain their due time ------------------------------------------------

ZONES = ["Europe/London", "America/New_York", "Australia/Lord_Howe", "Pacific/Chatham", "Asia/Kolkata"]


@st.composite
def protocols_in_zones(draw):
    path = draw(st.sampled_from([DEFAULT_PROTOCOL, REPEATED]))
    zone = draw(st.sampled_from(ZONES))
    return _protocol_in_zone(path, zone)


_CACHE = {}


def _protocol_in_zone(path, zone):
    if (path, zone) not in _CACHE:
        raw = json.loads(path.read_text(encoding="utf-8"))
        raw = copy.deepcopy(raw)
        raw["timezone"] = zone
        _CACHE[path, zone] = compile_protocol(raw, f"{path.name}@{zone}")
    return _CACHE[path, zone]


starts = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC))


@settings(max_examples=150, deadline=None)
@given(protocols_in_zones(), starts, st.lists(st.integers(min_value=1, max_value=20 * 24 * 60), max_size=4))
def test_windows_always_contain_their_due_time(default_protocol, first, gaps_minutes):
    infusions = [{"number": 1, "started_at": first}]
    for gap in gaps_minutes:
        infusions.append(
            {"number": len(infusions) + 1, "started_at": infusions[-1]["started_at"] + timedelta(minutes=gap)}
        )
    for p in plan_timepoints(default_protocol, first - timedelta(days=10), infusions):
        assert p.window_start <= p.due_at <= p.overdue_at <= p.window_end
        assert window_check(p, p.due_at).inside
        assert timepoint_state(p, p.due_at) == "due"


@settings(max_examples=150, deadline=None)
@given(protocols_in_zones(), starts)
def test_day_offsets_keep_the_local_clock_time_when_it_exists(default_protocol, first):
    tz = default_protocol.timezone
    anchor_wall = first.astimezone(tz).replace(tzinfo=None)
    for p in plan_timepoints(default_protocol, None, [{"number": 1, "started_at": first}]):
        timepoint = default_protocol.timepoint(p.timepoint_id)
        if timepoint.offset.unit != "days":
            assert p.due_at - first == timedelta(**{timepoint.offset.unit: timepoint.offset.value})
            continue
        wanted = anchor_wall + timedelta(days=timepoint.offset.value)
        exists = wanted.replace(tzinfo=tz).astimezone(UTC).astimezone(tz).replace(tzinfo=None) == wanted
        if exists:
            assert p.due_at.astimezone(tz).replace(tzinfo=None) == wanted


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(ZONES), starts, st.integers(min_value=-400, max_value=400))
def test_calendar_day_shift_is_strip_the_zone_add_days_attach_it_with_fold_0(zone, moment, days):
    # The definition of a calendar-day shift (protocol.timing docstring), written the slow way:
    # shift_calendar_days computes it with aware wall-clock arithmetic and must agree everywhere,
    # including from the second pass through a repeated hour and into skipped or repeated hours.
    tz = ZoneInfo(zone)
    wall = moment.astimezone(tz).replace(tzinfo=None) + timedelta(days=days)
    assert shift_calendar_days(moment, days, tz) == wall.replace(tzinfo=tz, fold=0).astimezone(UTC)


def test_a_day_after_the_second_pass_through_a_repeated_hour_is_the_same_clock_time():
    # 01:30 GMT on 2026-10-25 (the second 01:30 in London); one day later 01:30 GMT exists once.
    second_pass = utc(2026, 10, 25, 1, 30)
    assert second_pass.astimezone(LONDON).fold == 1
    assert shift_calendar_days(second_pass, 1, LONDON) == utc(2026, 10, 26, 1, 30)
    assert shift_calendar_days(second_pass, -1, LONDON) == utc(2026, 10, 24, 0, 30)  # 01:30 BST
    # ...and into next year's skipped hour (01:30 on 2027-03-28 does not exist: 02:30 BST) and
    # repeated hour (01:30 on 2027-10-31 happens twice: the first, BST, one).
    assert shift_calendar_days(second_pass, 154, LONDON) == utc(2027, 3, 28, 1, 30)
    assert shift_calendar_days(second_pass, 371, LONDON) == utc(2027, 10, 31, 0, 30)


# --- worklist -----------------------------------------------------------------------------


def done(timepoint_id, scales, at, infusion_number=None):
    return [
        {"timepoint_id": timepoint_id, "infusion_number": infusion_number, "scale": s, "completed_at": at}
        for s in scales
    ]


@pytest.fixture()
def roster():
    return [
        {  # infusion 09:00 BST yesterday; baseline, 40 and 80 minutes done; 120 half done; 230 not done
            "code": "KET-001",
            "infusions": [{"number": 1, "started_at": utc(2026, 5, 5, 8, 0), "ended_at": utc(2026, 5, 5, 8, 40)}],
            "completed": (
                done("baseline", ["madrs", "qids_sr16", "cadss", "bprs"], utc(2026, 5, 4, 10))
                + done("min_40", ["madrs", "cadss", "bprs"], utc(2026, 5, 5, 8, 45))
                + done("min_80", ["madrs"], utc(2026, 5, 5, 9, 20))
                + done("min_120", ["madrs"], utc(2026, 5, 5, 10, 0))
                + done("day_1", ["qids_sr16"], utc(2026, 5, 6, 7, 50))
            ),
        },
        {  # infusion half an hour earlier: day 1 now overdue
            "code": "KET-002",
            "infusions": [{"number": 1, "started_at": utc(2026, 5, 5, 7, 30)}],
            "completed": done("baseline", ["madrs", "qids_sr16", "cadss", "bprs"], utc(2026, 5, 5, 7)),
        },
        {"code": "KET-003", "enrolled_at": utc(2026, 5, 1, 9, 0), "infusions": []},  # no infusion booked yet
        {"code": "KET-004", "infusions": [{"number": 1, "scheduled_at": utc(2026, 5, 8, 8, 0)}]},  # booked
    ]


NOW = utc(2026, 5, 6, 8, 10)


def test_participant_schedule_states_and_remaining_scales(default_protocol, roster):
    rows = {r.timepoint_id: r for r in participant_schedule(default_protocol, roster[0], NOW)}
    assert {t: r.state for t, r in rows.items()} == {
        "baseline": "done",
        "min_40": "done",
        "min_80": "done",
        "min_120": "missed",
        "min_230": "missed",
        "day_1": "due",
        "day_2": "upcoming",
        "day_3": "upcoming",
        "day_7": "upcoming",
        "day_14": "upcoming",
    }
    assert rows["min_120"].scales == ("cadss", "bprs")
    assert rows["day_1"].scales == ("madrs",)
    assert rows["baseline"].scales == ("madrs", "qids_sr16", "cadss", "bprs")


def test_worklist_shows_what_is_due_now_and_next(default_protocol, roster):
    rows = worklist(default_protocol, roster, NOW)
    assert [(r.participant, r.timepoint_id, r.state, r.scales, r.due_at) for r in rows] == [
        ("KET-002", "day_1", "overdue", ("madrs", "qids_sr16"), utc(2026, 5, 6, 7, 30)),
        ("KET-001", "day_1", "due", ("madrs",), utc(2026, 5, 6, 8, 0)),
        ("KET-004", "baseline", "due", ("madrs", "qids_sr16", "cadss", "bprs"), utc(2026, 5, 8, 8, 0)),
        ("KET-002", "day_2", "upcoming", ("madrs",), utc(2026, 5, 7, 7, 30)),
        ("KET-001", "day_2", "upcoming", ("madrs",), utc(2026, 5, 7, 8, 0)),
        ("KET-004", "min_40", "upcoming", ("madrs", "cadss", "bprs"), utc(2026, 5, 8, 8, 40)),
        ("KET-003", "baseline", "upcoming", ("madrs", "qids_sr16", "cadss", "bprs"), None),
    ]
    assert [r.provisional for r in rows if r.participant == "KET-004"] == [True, True]


def test_worklist_keeps_infusions_apart(repeated):
    # Pre-infusion ratings done for infusion 1 do not count for infusion 2.
    participant = {
        "code": "KET-101",
        "infusions": [
            {"number": 1, "started_at": utc(2026, 3, 23, 9, 0)},
            {"number": 2, "scheduled_at": utc(2026, 3, 25, 9, 0)},
        ],
        "completed": done("pre_infusion", ["madrs", "qids_sr16", "cadss", "bprs"], utc(2026, 3, 23, 8, 0), 1),
    }
    rows = worklist(repeated, [participant], utc(2026, 3, 25, 8, 0))
    assert [(r.timepoint_id, r.infusion_number, r.state) for r in rows] == [
        ("pre_infusion", 2, "due"),
        ("min_40", 2, "upcoming"),
    ]
    assert rows[0].provisional is True


def test_worklist_is_empty_when_everything_is_done_or_past(default_protocol):
    participant = {"code": "KET-009", "infusions": [{"number": 1, "started_at": utc(2026, 1, 5, 9, 0)}]}
    assert worklist(default_protocol, [participant], utc(2026, 3, 1)) == []


def test_worklist_refuses_a_naive_clock(default_protocol, roster):
    with pytest.raises(ScheduleError, match="has no time zone"):
        worklist(default_protocol, roster, datetime(2026, 5, 6, 8, 10))


def test_worklist_refuses_an_unlabelled_completion(default_protocol):
    participant = {"code": "KET-010", "completed": [{"scale": "madrs", "completed_at": utc(2026, 5, 1)}]}
    with pytest.raises(ScheduleError, match="a completed assessment needs timepoint_id and scale"):
        worklist(default_protocol, [participant], utc(2026, 5, 2))


def test_a_draft_without_completion_time_does_not_count(default_protocol):
    participant = {
        "code": "KET-011",
        "infusions": [{"number": 1, "started_at": utc(2026, 5, 5, 8, 0)}],
        "completed": [{"timepoint_id": "min_80", "scale": "madrs", "completed_at": None}],
    }
    rows = {r.timepoint_id: r for r in participant_schedule(default_protocol, participant, utc(2026, 5, 5, 9, 20))}
    assert rows["min_80"].state == "due" and rows["min_80"].scales == ("madrs",)


# --- overdue and missed (issue 11, point 12) --------------------------------------------------

DAY = utc(2026, 5, 5, 8, 0)  # infusion start; baseline window closes at it


def started_at_eight(**extra):
    return {
        "code": "KET-010",
        "infusions": [{"number": 1, "started_at": DAY}],
        "completed": done("baseline", ["madrs", "qids_sr16", "cadss", "bprs"], utc(2026, 5, 4, 10)),
        **extra,
    }


def test_eighty_minutes_is_overdue_while_forty_is_missed_and_listed(default_protocol):
    # 87 minutes after the start: the 80-minute window (09:10–09:30) is open and past its grace
    # (capped at 09:25); the 40-minute window closed at 08:50.
    rows, missed = worklist_and_missed(default_protocol, [started_at_eight()], DAY + timedelta(minutes=87))
    assert [(r.timepoint_id, r.state) for r in rows] == [("min_80", "overdue"), ("min_120", "upcoming")]
    assert [(r.participant, r.timepoint_key, r.state, r.scales, r.window_end) for r in missed] == [
        ("KET-010", "min_40", "missed", ("madrs", "cadss", "bprs"), utc(2026, 5, 5, 8, 50))
    ]


def test_the_overdue_row_stays_until_the_window_closes_then_moves_to_missed(default_protocol):
    person = started_at_eight()
    at_close, after = DAY + timedelta(minutes=90), DAY + timedelta(minutes=90, seconds=1)
    assert ("min_80", "overdue") in [(r.timepoint_id, r.state) for r in worklist(default_protocol, [person], at_close)]
    assert "min_80" not in [r.timepoint_id for r in worklist(default_protocol, [person], after)]
    assert [r.timepoint_key for r in missed_visits(default_protocol, [person], after)] == ["min_40", "min_80"]


def test_a_late_rating_makes_a_missed_visit_done(default_protocol):
    late = done("min_40", ["madrs", "cadss", "bprs"], DAY + timedelta(minutes=70))
    person = started_at_eight()
    person["completed"] = person["completed"] + late
    assert [r.timepoint_key for r in missed_visits(default_protocol, [person], DAY + timedelta(minutes=87))] == []
    half = started_at_eight()
    half["completed"] = half["completed"] + late[:1]  # only MADRS: CADSS and BPRS still missed
    assert [
        (r.timepoint_key, r.scales) for r in missed_visits(default_protocol, [half], DAY + timedelta(minutes=87))
    ] == [("min_40", ("cadss", "bprs"))]


def test_withdrawal_stops_the_clock_and_leaves_the_worklist(default_protocol):
    later = DAY + timedelta(days=20)
    # Withdrawn at 08:45, while the 40-minute window was still open: nothing after is missed.
    rows, missed = worklist_and_missed(default_protocol, [started_at_eight(until=DAY + timedelta(minutes=45))], later)
    assert rows == [] and missed == []
    # Withdrawn at 09:00: the 40-minute window had closed (missed); the 80-minute one had not opened.
    rows, missed = worklist_and_missed(default_protocol, [started_at_eight(until=DAY + timedelta(hours=1))], later)
    assert rows == [] and [r.timepoint_key for r in missed] == ["min_40"]
    with pytest.raises(ScheduleError, match="until"):
        missed_visits(default_protocol, [started_at_eight(until=datetime(2026, 5, 5, 9))], later)


def test_missed_visits_are_keyed_per_infusion(repeated):
    person = {
        "code": "KET-102",
        "infusions": [
            {"number": 1, "started_at": utc(2026, 3, 23, 9, 0)},
            {"number": 2, "started_at": utc(2026, 3, 25, 9, 0)},
        ],
    }
    keys = [r.timepoint_key for r in missed_visits(repeated, [person], utc(2026, 3, 25, 9, 30))]
    assert "min_40@1" in keys and "min_40@2" not in keys


def test_a_missing_clock_or_assessment_time_is_refused_by_name(min_40):
    # None where a time is needed is a ScheduleError saying which time, not a TypeError.
    with pytest.raises(ScheduleError, match="now is required"):
        timepoint_state(min_40, None)
    with pytest.raises(ScheduleError, match="the assessment time is required"):
        window_check(min_40, None)
    assert timepoint_state(min_40, None, completed_at=utc(2026, 5, 5, 10, 40)) == "done"  # the clock is not read
