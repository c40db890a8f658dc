"""Each participant's planned infusions and rating timepoints, and the state of each timepoint.

Pure functions of the protocol, the ACTUAL infusion times and the clock, so a page, a report
and a test all get the same schedule.

Anchors
    `enrolment`: the enrolment time. `first_infusion`: the start of infusion 1, once per
    participant. `each_infusion`: the start of every infusion given, one timepoint per infusion.
    Anchors use actual start times, so moving an infusion moves its timepoints. An infusion that
    has not started may carry `scheduled_at` (its booked time): its timepoints are then planned
    from that time and marked provisional until `started_at` is known. Until an anchor has a
    time, its timepoints are listed without a date ("not yet scheduled", state "upcoming").
    Before any infusion is listed, `each_infusion` timepoints are listed once, for infusion 1.

Offsets and windows
    Minutes and hours are elapsed time; days are calendar days in the study time zone (see
    protocol.timing). The window runs from `due_at − before` to `due_at + after`, both ends
    inclusive. A baseline "before the first infusion" is modelled as anchor first_infusion,
    offset 0, window 7 days before and 0 after: rateable in the week before the infusion, and
    no later than its start.

States (timepoint_state)
    done      the timepoint's assessments are complete (even outside the window: the deviation
              is recorded separately through window_check);
    upcoming  not yet scheduled, or the window has not opened;
    due       the window is open and the nominal time plus the protocol's `overdue_after` grace
              has not passed (both ends inclusive);
    overdue   past the nominal time plus grace, and the window is still open (inclusive);
    missed    the window has closed and the timepoint is not done. A rating entered later still
              makes it done (with a deviation), so "missed" is never final.

    The grace is capped at half the time from the nominal time to the window's close: a
    40-minute rating with a window closing 10 minutes after it would otherwise go straight from
    "due" to "missed", and the rater would never see that it is late while it can still be
    rated in the window. Long windows (days) keep the protocol's grace as written.

Missed visits (missed_visits)
    Per participant, the timepoints in state "missed". A participant's `until` (the time of
    withdrawal or completion) stops their clock: what was still open then was no longer expected,
    so it is not missed.

Induction weekdays (planned_infusions)
    Infusion 1 is given whenever it happens. Each next induction infusion is planned on the
    first of the protocol's weekdays (e.g. Mon/Wed/Fri) that is at least `min_days_between`
    calendar days after the previous one, at the same local clock time as infusion 1. Starting on
    a Monday, three per week gives Mon, Wed, Fri, Mon, Wed, Fri. Maintenance infusion k is planned
    k × interval_days calendar days after the last induction infusion.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from protocol.errors import ScheduleError
from protocol.keys import assessment_timepoint
from protocol.model import Protocol, Timepoint
from protocol.timing import local_date_at, require_aware, shift

STATES = ("upcoming", "due", "overdue", "done", "missed")
_WORKLIST_ORDER = {"overdue": 0, "due": 1, "upcoming": 2}


@dataclass(frozen=True)
class Infusion:
    """An infusion as given (`started_at`) or booked (`scheduled_at`); times are aware UTC."""

    number: int
    started_at: datetime | None = None
    ended_at: datetime | None = None
    scheduled_at: datetime | None = None

    @property
    def anchor_time(self) -> datetime | None:
        return self.started_at or self.scheduled_at

    @property
    def provisional(self) -> bool:
        return self.started_at is None


@dataclass(frozen=True)
class PlannedInfusion:
    """A nominal infusion date from the protocol's infusion plan."""

    number: int
    phase: str  # "single", "induction" or "maintenance"
    planned_at: datetime


class PlannedTimepoint(NamedTuple):
    """One timepoint for one participant (and one infusion, for each_infusion timepoints).

    An immutable NamedTuple rather than a frozen dataclass: a cohort's schedules make tens of
    thousands of them, and a NamedTuple is cheaper to build.

    `due_at`, `window_start`, `window_end` and `overdue_at` are aware UTC datetimes, or all None
    while the anchor has no time yet. `provisional` is True when the anchor is a booked, not an
    actual, infusion time.
    """

    timepoint_id: str
    label: str
    anchor: str
    infusion_number: int | None
    due_at: datetime | None
    window_start: datetime | None
    window_end: datetime | None
    overdue_at: datetime | None
    scales: tuple[str, ...]
    provisional: bool = False
    primary_endpoint: bool = False

    @property
    def scheduled(self) -> bool:
        return self.due_at is not None

    @property
    def key(self) -> tuple[str, int | None]:
        """What an assessment stores to say which planned timepoint it belongs to."""
        return self.timepoint_id, self.infusion_number


@dataclass(frozen=True)
class WindowCheck:
    """Whether a time falls inside a timepoint's window, and by how many minutes it misses."""

    inside: bool
    minutes_early: float
    minutes_late: float

    def describe(self) -> str:
        if self.inside:
            return "inside the window"
        if self.minutes_early:
            return f"{_minutes_text(self.minutes_early)} before the window opens"
        return f"{_minutes_text(self.minutes_late)} after the window closed"


def _minutes_text(minutes: float) -> str:
    if minutes < 120:
        return f"{minutes:g} minutes"
    if minutes < 48 * 60:
        return f"{minutes / 60:.1f} hours"
    return f"{minutes / 1440:.1f} days"


# --- infusions ----------------------------------------------------------------------------


def _optional_time(value: Any, what: str) -> datetime | None:
    if value is None:
        return None
    try:
        return require_aware(value, what)
    except (TypeError, ValueError) as exc:
        raise ScheduleError(str(exc)) from None


def _required_time(value: Any, what: str) -> datetime:
    """An aware time that must be given (the clock, an assessment time), checked like _optional_time."""
    checked = _optional_time(value, what)
    if checked is None:
        raise ScheduleError(f"{what} is required (an aware date and time)")
    return checked


def as_infusion(value: Infusion | Mapping[str, Any]) -> Infusion:
    """An Infusion from itself or a mapping {number, started_at, ended_at?, scheduled_at?}."""
    if isinstance(value, Infusion):
        value = {
            "number": value.number,
            "started_at": value.started_at,
            "ended_at": value.ended_at,
            "scheduled_at": value.scheduled_at,
        }
    number = value.get("number")
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise ScheduleError(f"infusion number {number!r} is not valid; number infusions 1, 2, 3, ...")
    started = _optional_time(value.get("started_at"), f"infusion {number} started_at")
    ended = _optional_time(value.get("ended_at"), f"infusion {number} ended_at")
    scheduled = _optional_time(value.get("scheduled_at"), f"infusion {number} scheduled_at")
    if ended is not None and (started is None or ended < started):
        raise ScheduleError(f"infusion {number} ends ({ended.isoformat()}) before it starts; check the times")
    return Infusion(number, started, ended, scheduled)


def normalise_infusions(infusions: Iterable[Infusion | Mapping[str, Any]]) -> tuple[Infusion, ...]:
    """Infusions sorted by number; refuses repeated numbers and starts out of order."""
    ordered = sorted((as_infusion(i) for i in infusions), key=lambda i: i.number)
    numbers = [i.number for i in ordered]
    for a, b in zip(ordered, ordered[1:], strict=False):
        if a.number == b.number:
            raise ScheduleError(f"infusion {a.number} is listed twice; each infusion number appears once")
    if ordered and 1 not in numbers:
        raise ScheduleError(
            f"infusions {numbers} are listed without infusion 1; the first infusion anchors the schedule"
        )
    started = [(i.number, i.started_at) for i in ordered if i.started_at is not None]
    for (a_number, a_start), (b_number, b_start) in zip(started, started[1:], strict=False):
        if b_start <= a_start:
            raise ScheduleError(
                f"infusion {b_number} starts ({b_start.isoformat()}) no later than infusion {a_number} "
                f"({a_start.isoformat()}); check the numbers and times"
            )
    return tuple(ordered)


def planned_infusions(protocol: Protocol, first_infusion_at: datetime) -> tuple[PlannedInfusion, ...]:
    """The infusion plan's nominal dates, counted from infusion 1 (see the module docstring)."""
    first = _optional_time(first_infusion_at, "first_infusion_at")
    if first is None:
        raise ScheduleError("first_infusion_at is required to plan the infusions")
    plan = protocol.infusion_plan
    if plan.kind == "single":
        return (PlannedInfusion(1, "single", first),)
    tz = protocol.timezone
    local_first = first.astimezone(tz)
    wall_time = local_first.time().replace(tzinfo=None)
    days = [local_first.date()]
    induction = plan.induction
    if induction is None:
        # protocol/loader.py requires an induction course for every repeated plan.
        raise ScheduleError(f"the protocol's '{plan.kind}' infusion plan has no induction course to plan from")
    while len(days) < induction.count:
        candidate = days[-1] + timedelta(days=induction.min_days_between)
        while candidate.weekday() not in induction.weekday_numbers:
            candidate += timedelta(days=1)
        days.append(candidate)
    planned = [PlannedInfusion(1, "induction", first)]
    planned += [
        PlannedInfusion(n, "induction", local_date_at(day, wall_time, tz)) for n, day in enumerate(days[1:], start=2)
    ]
    if plan.maintenance:
        last = days[-1]
        for k in range(1, plan.maintenance.count + 1):
            day = last + timedelta(days=k * plan.maintenance.interval_days)
            planned.append(PlannedInfusion(induction.count + k, "maintenance", local_date_at(day, wall_time, tz)))
    return tuple(planned)


# --- timepoints ---------------------------------------------------------------------------


def plan_timepoint(
    protocol: Protocol,
    timepoint: Timepoint,
    anchor_time: datetime | None,
    infusion_number: int | None = None,
    provisional: bool = False,
) -> PlannedTimepoint:
    """One timepoint from its anchor time: nominal time, window and the end of the 'due' grace."""
    if anchor_time is None:
        return PlannedTimepoint(
            timepoint.id,
            timepoint.label,
            timepoint.anchor,
            infusion_number,
            None,
            None,
            None,
            None,
            timepoint.scales,
            False,
            timepoint.primary_endpoint,
        )
    tz = protocol.timezone
    due = shift(anchor_time, timepoint.offset, tz)
    start = shift(due, timepoint.window.before, tz, sign=-1)
    end = shift(due, timepoint.window.after, tz)
    overdue_at = min(shift(due, protocol.overdue_after, tz), due + (end - due) / 2)
    return PlannedTimepoint(
        timepoint.id,
        timepoint.label,
        timepoint.anchor,
        infusion_number,
        due,
        start,
        end,
        overdue_at,
        timepoint.scales,
        provisional,
        timepoint.primary_endpoint,
    )


def plan_timepoints(
    protocol: Protocol,
    enrolled_at: datetime | None,
    infusions: Iterable[Infusion | Mapping[str, Any]] = (),
) -> list[PlannedTimepoint]:
    """Every planned timepoint for one participant, from enrolment and the actual infusions.

    `infusions`: `[{"number": 1, "started_at": aware datetime or None, "ended_at": ... or None,
    "scheduled_at": booked time or None}, ...]`. Scheduled timepoints come first, by due time;
    those not yet scheduled follow in protocol order.
    """
    enrolled = _optional_time(enrolled_at, "enrolled_at")
    given = normalise_infusions(infusions)
    first = given[0] if given else None
    order = {t.id: index for index, t in enumerate(protocol.timepoints)}
    planned: list[PlannedTimepoint] = []
    for timepoint in protocol.timepoints:
        if timepoint.anchor == "enrolment":
            planned.append(plan_timepoint(protocol, timepoint, enrolled))
        elif timepoint.anchor == "first_infusion":
            anchor = first.anchor_time if first else None
            planned.append(plan_timepoint(protocol, timepoint, anchor, None, bool(first and first.provisional)))
        else:
            for infusion in given or (Infusion(1),):
                planned.append(
                    plan_timepoint(
                        protocol,
                        timepoint,
                        infusion.anchor_time,
                        infusion.number,
                        infusion.provisional and infusion.anchor_time is not None,
                    )
                )

    def sort_key(p: PlannedTimepoint):
        return (p.due_at is None, p.due_at or datetime.min, p.infusion_number or 0, order[p.timepoint_id])

    return sorted(planned, key=sort_key)


def timepoint_state(planned: PlannedTimepoint, now: datetime, completed_at: datetime | None = None) -> str:
    """upcoming, due, overdue, done or missed (semantics in the module docstring)."""
    if completed_at is not None or not planned.scheduled:
        return _state(planned, now, completed_at)  # `now` is not read: done, or not scheduled yet
    return _state(planned, _required_time(now, "now"), completed_at)


def _state(planned: PlannedTimepoint, now: datetime, completed_at: datetime | None) -> str:
    """timepoint_state with `now` already checked (aware UTC)."""
    if completed_at is not None:
        return "done"
    start, overdue_at, end = planned.window_start, planned.overdue_at, planned.window_end
    if start is None or overdue_at is None or end is None:  # not scheduled: plan_timepoint sets all or none
        return "upcoming"
    if now < start:
        return "upcoming"
    if now <= overdue_at:
        return "due"
    if now <= end:
        return "overdue"
    return "missed"


def window_check(planned: PlannedTimepoint, at: datetime) -> WindowCheck:
    """Is `at` inside the window (ends inclusive)? If not, by how many minutes is it early or late.

    For recording protocol deviations: an assessment completed outside its window is still kept.
    """
    start, end = planned.window_start, planned.window_end
    if not planned.scheduled or start is None or end is None:
        raise ScheduleError(
            f"timepoint '{planned.timepoint_id}' is not scheduled yet (its anchor has no time); log the infusion first"
        )
    at = _required_time(at, "the assessment time")
    early = max((start - at).total_seconds(), 0) / 60
    late = max((at - end).total_seconds(), 0) / 60
    return WindowCheck(inside=early == 0 and late == 0, minutes_early=early, minutes_late=late)


# --- worklist -----------------------------------------------------------------------------


class WorklistRow(NamedTuple):
    """One participant's timepoint as a rater sees it: which scales are still due, and when.
    (A NamedTuple, like PlannedTimepoint, for the same reason.)"""

    participant: str
    timepoint_id: str
    label: str
    infusion_number: int | None
    scales: tuple[str, ...]
    state: str
    due_at: datetime | None
    window_start: datetime | None
    window_end: datetime | None
    provisional: bool = False

    @property
    def timepoint_key(self) -> str:
        """The stored timepoint text of this row ('min_40', 'min_40@2'), as assessments,
        missed-visit reasons and deviations name it."""
        return assessment_timepoint(self.timepoint_id, self.infusion_number)


CompletedIndex = Mapping[tuple[str, int | None], Mapping[str, datetime]]


def completed_index(entries: Iterable[Mapping[str, Any]]) -> dict[tuple[str, int | None], dict[str, datetime]]:
    """{(timepoint_id, infusion_number): {scale: completed_at}}, keeping the latest per scale.

    `entries` as participant_schedule takes them under "completed"; each is checked (timepoint,
    scale, an aware completion time)."""
    done: dict[tuple[str, int | None], dict[str, datetime]] = {}
    for entry in entries:
        if not entry.get("timepoint_id") or not entry.get("scale"):
            raise ScheduleError(f"a completed assessment needs timepoint_id and scale, got {dict(entry)!r}")
        when = _optional_time(entry.get("completed_at"), f"completed_at of {entry['scale']!r}")
        if when is None:
            continue
        scales = done.setdefault((entry["timepoint_id"], entry.get("infusion_number")), {})
        scales[entry["scale"]] = max(when, scales.get(entry["scale"], when))
    return done


def participant_schedule(protocol: Protocol, participant: Mapping[str, Any], now: datetime) -> list[WorklistRow]:
    """Every planned timepoint of one participant with its state and the scales still due.

    `participant`: {"code": str, "enrolled_at": datetime or None, "infusions": [...] (as for
    plan_timepoints), "completed": [{"timepoint_id", "infusion_number" (None unless the timepoint
    is per infusion), "scale", "completed_at"}, ...]}. A timepoint is done once every scale due at
    it is complete; until then its row lists only the scales still missing.
    """
    code = str(participant.get("code") or participant.get("id") or "")
    if not code:
        raise ScheduleError("a participant needs a code")
    planned = plan_timepoints(protocol, participant.get("enrolled_at"), participant.get("infusions") or ())
    return schedule_states(code, planned, completed_index(participant.get("completed") or ()), now)


def schedule_states(
    code: str, planned: Iterable[PlannedTimepoint], done: CompletedIndex, now: datetime
) -> list[WorklistRow]:
    """participant_schedule's second half, for callers that already hold the plan
    (plan_timepoints) and the completed index (completed_index, or the same shape built from
    stored rows): one row per planned timepoint with its state and the scales still due."""
    now = _required_time(now, "now")
    rows = []
    for p in planned:
        completed = done.get((p.timepoint_id, p.infusion_number), _NOTHING_DONE)
        remaining = tuple(s for s in p.scales if s not in completed) if completed else p.scales
        finished_at = max(completed[s] for s in p.scales) if not remaining else None
        rows.append(
            WorklistRow(
                code,
                p.timepoint_id,
                p.label,
                p.infusion_number,
                remaining or p.scales,
                _state(p, now, finished_at),
                p.due_at,
                p.window_start,
                p.window_end,
                p.provisional,
            )
        )
    return rows


_NOTHING_DONE: Mapping[str, datetime] = {}


def _now_and_next(rows: Sequence[WorklistRow]) -> list[WorklistRow]:
    """Rows due or overdue now, plus the next upcoming one(s): all sharing the earliest due time,
    or, when nothing upcoming has a date yet, the first one not yet scheduled."""
    current = [r for r in rows if r.state in ("due", "overdue")]
    upcoming = [r for r in rows if r.state == "upcoming"]
    dates = [r.due_at for r in upcoming if r.due_at is not None]
    if dates:
        soonest = min(dates)
        return current + [r for r in upcoming if r.due_at == soonest]
    return current + upcoming[:1]


def worklist(protocol: Protocol, participants: Iterable[Mapping[str, Any]], now: datetime) -> list[WorklistRow]:
    """A rater's landing page: per participant, what is due now and what comes next.

    Overdue rows first, then due, then upcoming; within each, the earliest nominal time first
    (rows without a date last), then participant code. Done and missed timepoints are left out
    (missed ones are listed by missed_visits, for a reason to be recorded).
    """
    return worklist_and_missed(protocol, participants, now)[0]


def missed_visits(protocol: Protocol, participants: Iterable[Mapping[str, Any]], now: datetime) -> list[WorklistRow]:
    """Every participant's missed timepoints (window closed, not done), by participant code, then
    nominal time. A participant's `until` (withdrawal or completion time, aware) stops their clock."""
    return worklist_and_missed(protocol, participants, now)[1]


def worklist_and_missed(
    protocol: Protocol, participants: Iterable[Mapping[str, Any]], now: datetime
) -> tuple[list[WorklistRow], list[WorklistRow]]:
    """(worklist, missed_visits) from one pass over the participants' schedules: the worklist
    page shows both, and a schedule is the costly part."""
    now = _required_time(now, "now")
    order = {t.id: index for index, t in enumerate(protocol.timepoints)}
    current: list[WorklistRow] = []
    missed: list[WorklistRow] = []
    for participant in participants:
        until = _optional_time(participant.get("until"), "until")
        rows = participant_schedule(protocol, participant, now if until is None or until > now else until)
        missed += [r for r in rows if r.state == "missed"]
        if until is None:
            current += _now_and_next(rows)
    current.sort(
        key=lambda r: (
            _WORKLIST_ORDER[r.state],
            r.due_at is None,
            r.due_at or now,
            r.participant,
            r.infusion_number or 0,
            order[r.timepoint_id],
        )
    )
    missed.sort(key=lambda r: (r.participant, r.due_at, r.infusion_number or 0, order[r.timepoint_id]))
    return current, missed
