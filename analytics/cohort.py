"""Cohort summaries for the PI: trajectories, mean and 95 % CI per planned timepoint, response
and remission rates with their denominators, one summary row per participant, and the
completeness matrix (participant × planned timepoint: done, missing, due, overdue, upcoming).

Input is the whole cohort as loaded by `db.analytics.cohort_rows` (three queries for any number
of participants); everything here is pure and runs in one pass per participant.

Planned timepoints are keyed (timepoint id, infusion number) as `protocol.keys` stores them
(`min_40@2`). They are ordered by their nominal time from the first infusion (each-infusion
timepoints through the protocol's infusion plan), which is also the cohort chart's x order.

Nothing here is remembered between calls, with one exception a reader finds in one place:
each participant's `ParticipantData` keeps what these functions derived from that participant's
data (their Assessment records per scale, outcome per scale, CADSS peak, planned timepoints and
schedule states), and `build_cohort(..., previous=...)` hands an unchanged participant's object,
with those results, to the next cohort. The cohort itself is held by the one cohort snapshot at
the edge (ui/cohort_data.py), keyed by the database's data version; so a new rating recomputes
one participant, and nothing outlives the snapshot that holds it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

import pandas as pd

from analytics.dissociation import infusion_courses, measure_pairs, peak_of
from analytics.outcomes import ScaleOutcome, scale_outcome
from analytics.records import (
    Assessment,
    InfusionEvent,
    assessment_from_row,
    chronological,
    infusion_from_row,
    parse_time,
    sorted_infusions,
    stored_time,
)
from analytics.stats import mean_ci
from db.analytics import AssessmentRow, InfusionRow, ParticipantRow
from protocol import Protocol, ScheduleError, plan_timepoints, planned_infusions, schedule_states
from protocol.keys import assessment_timepoint, parse_assessment_timepoint
from protocol.keys import timepoint_label as stored_timepoint_label
from protocol.outcomes import compile_rules
from protocol.timing import shift

TimepointKey = tuple[str, int | None]
STATE_LABELS = {"done": "done", "missed": "missing", "due": "due", "overdue": "overdue", "upcoming": "upcoming"}
_REFERENCE_START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # a Monday: any date orders the same way


@dataclass(frozen=True)
class Participant:
    id: int
    code: str
    site_code: str | None = None
    arm: str | None = None
    status: str | None = None
    enrolled_at: datetime | None = None


_MISSING = object()


class ParticipantData:
    """One participant's stored data in a cohort (their row, assessment rows by scale, infusions)
    and `derived`: what this module computed from exactly that data, keyed by what else it
    depends on (the protocol's hash, the scale). Equal data gives equal results, so when the next
    cohort holds equal data for the participant, build_cohort(previous=...) reuses this object
    and every result on it; a participant whose data changed gets a fresh, empty one."""

    __slots__ = ("participant", "rows", "infusions", "derived")

    def __init__(self, participant: Participant | None, rows: Mapping[str, Sequence], infusions: tuple) -> None:
        self.participant = participant
        self.rows = rows
        self.infusions = infusions
        self.derived: dict[tuple, Any] = {}

    def same_data(self, other: ParticipantData) -> bool:
        """Equal stored data (rows compare by value; rows the database layer carried over unchanged
        are the same objects, which makes the comparison cheap)."""
        return self.participant == other.participant and self.infusions == other.infusions and self.rows == other.rows

    def derive(self, key: tuple, compute: Callable[[], Any]) -> Any:
        """The result stored under `key`, computed (and stored) the first time it is asked for."""
        found = self.derived.get(key, _MISSING)
        if found is _MISSING:
            found = self.derived[key] = compute()
        return found


class Cohort:
    """Participants with their stored assessments and infusions (one ParticipantData each).

    Rows from the database are grouped by participant and scale once; the Assessment records of
    a scale are built the first time an analysis asks for that scale (the cohort view needs the
    chosen scale and CADSS, not all 48,000 records). Read-only after construction apart from the
    participants' derived results, so one instance can be shared between page runs.
    """

    def __init__(
        self,
        participants: list[Participant],
        rows: Mapping[int, Mapping[str, list]] | None = None,
        infusions: Mapping[int, Sequence[InfusionEvent]] | None = None,
    ) -> None:
        self.participants = participants
        rows, infusions = rows or {}, infusions or {}
        by_id = {p.id: p for p in participants}
        self.data: dict[int, ParticipantData] = {
            pid: ParticipantData(by_id.get(pid), dict(rows.get(pid, {})), sorted_infusions(infusions.get(pid, ())))
            for pid in dict.fromkeys([*by_id, *rows, *infusions])
        }

    @property
    def infusions(self) -> dict[int, tuple[InfusionEvent, ...]]:
        return {pid: d.infusions for pid, d in self.data.items()}

    @classmethod
    def from_assessments(
        cls,
        participants: list[Participant],
        assessments: Iterable[Assessment],
        infusions: Mapping[int, Sequence[InfusionEvent]] | None = None,
    ) -> Cohort:
        """A cohort from ready-made Assessment records (tests, notebooks)."""
        rows: dict[int, dict[str, list]] = {}
        for a in assessments:
            rows.setdefault(a.participant_id, {}).setdefault(a.scale_id, []).append(a)
        return cls(participants, rows, infusions)

    def carry_over(self, previous: Cohort | None) -> Cohort:
        """This cohort, holding `previous`'s ParticipantData (with its derived results) for every
        participant whose data is the same in both; returns self."""
        if previous is not None:
            for pid, data in self.data.items():
                old = previous.data.get(pid)
                if old is not None and old.same_data(data):
                    self.data[pid] = old
        return self

    def _of(self, participant_id: int) -> ParticipantData:
        found = self.data.get(participant_id)
        return found if found is not None else ParticipantData(None, {}, ())

    def infusions_of(self, participant_id: int) -> tuple[InfusionEvent, ...]:
        return self._of(participant_id).infusions

    def scales_of(self, participant_id: int) -> list[str]:
        return list(self._of(participant_id).rows)

    def scale(self, participant_id: int, scale_id: str) -> list[Assessment]:
        """The participant's usable assessments of one scale, in time order (built once per data)."""
        data = self._of(participant_id)
        return data.derive(
            ("scale", scale_id),
            lambda: chronological(
                assessment_from_row(r) if isinstance(r, AssessmentRow) else r for r in data.rows.get(scale_id, ())
            ),
        )

    def assessments(self, participant_id: int) -> list[Assessment]:
        return [a for s in self.scales_of(participant_id) for a in self.scale(participant_id, s)]

    def of(self, participant_id: int) -> tuple[list[Assessment], tuple[InfusionEvent, ...]]:
        return self.assessments(participant_id), self.infusions_of(participant_id)

    def completed(self, participant_id: int) -> dict[TimepointKey, dict[str, datetime]]:
        """What the schedule needs of every submitted assessment, in the shape of
        protocol.schedule.completed_index: {(timepoint id, infusion number): {scale: completed_at}},
        the latest per scale (built from the stored rows; no Assessment records needed)."""
        done: dict[TimepointKey, dict[str, datetime]] = {}
        for scale_id, rows in self._of(participant_id).rows.items():
            for r in rows:
                if isinstance(r, AssessmentRow):
                    key, completed_at = parse_assessment_timepoint(r.timepoint), stored_time(r.completed_at)
                else:
                    key, completed_at = (r.timepoint_id, r.infusion_number), r.completed_at
                if completed_at is None:
                    continue
                scales = done.get(key)
                if scales is None:
                    done[key] = {scale_id: completed_at}
                elif scale_id not in scales or completed_at > scales[scale_id]:
                    scales[scale_id] = completed_at
        return done


def build_cohort(
    participant_rows: Iterable[ParticipantRow],
    assessment_rows: Iterable[AssessmentRow],
    infusion_rows: Iterable[InfusionRow],
    *,
    previous: Cohort | None = None,
) -> Cohort:
    """A Cohort from the rows `db.analytics.cohort_rows` returns. `previous`: the cohort built
    from the last data version; participants whose data is unchanged keep their derived results
    (Cohort.carry_over)."""
    participants = [
        Participant(int(r.id), r.code, r.site_code, r.arm, r.status, parse_time(r.created_at)) for r in participant_rows
    ]
    rows: dict[int, dict[str, list]] = {p.id: {} for p in participants}
    for row in assessment_rows:
        rows.setdefault(row.participant_id, {}).setdefault(row.scale_id, []).append(row)
    infusions: dict[int, list[InfusionEvent]] = {}
    for infusion_row in infusion_rows:
        infusions.setdefault(int(infusion_row.participant_id), []).append(infusion_from_row(infusion_row))
    return Cohort(participants, rows, infusions).carry_over(previous)


# --------------------------------------------------------------------------- planned timepoints


def _hours(duration) -> float:
    return {"minutes": 1 / 60, "hours": 1.0, "days": 24.0}[duration.unit] * duration.value


def timepoint_order(protocol: Protocol, keys: Iterable[TimepointKey]) -> list[TimepointKey]:
    """Protocol timepoint keys (others dropped) by nominal time from the first infusion."""
    by_id = {t.id: t for t in protocol.timepoints}
    planned = {p.number: p.planned_at for p in planned_infusions(protocol, _REFERENCE_START)}
    index = {t.id: i for i, t in enumerate(protocol.timepoints)}

    def nominal(key: TimepointKey) -> tuple[float, int, int]:
        timepoint = by_id[key[0]]
        if timepoint.anchor == "enrolment":
            hours = -1e6 + _hours(timepoint.offset)
        elif timepoint.anchor == "first_infusion" or key[1] is None:
            hours = (
                shift(_REFERENCE_START, timepoint.offset, protocol.timezone) - _REFERENCE_START
            ).total_seconds() / 3600
        else:
            start = planned.get(key[1]) or (_REFERENCE_START + timedelta(days=7 * key[1]))
            hours = (shift(start, timepoint.offset, protocol.timezone) - _REFERENCE_START).total_seconds() / 3600
        return hours, key[1] or 0, index[key[0]]

    unique = {k for k in keys if k[0] in by_id}
    return sorted(unique, key=nominal)


def timepoint_label(protocol: Protocol, key: TimepointKey) -> str:
    """'Day 1 (24 hours)', or '40 minutes after infusion start · infusion 2' for a per-infusion key."""
    return stored_timepoint_label(protocol, assessment_timepoint(*key))


def key_text(key: TimepointKey) -> str:
    return assessment_timepoint(*key)


# --------------------------------------------------------------------------- outcomes


def cohort_outcomes(protocol: Protocol, cohort: Cohort, scale_id: str) -> dict[int, ScaleOutcome]:
    """scale_outcome for every participant (the protocol's rules compiled once for all of them;
    each participant's outcome kept with their data, see ParticipantData)."""
    rules = compile_rules(protocol, scale_id)
    out: dict[int, ScaleOutcome] = {}
    for p in cohort.participants:
        data = cohort._of(p.id)
        # mypy cannot type a lambda with default arguments (binding this loop's p and data) as Callable[[], Any]
        out[p.id] = data.derive(
            ("outcome", protocol.hash, scale_id),
            lambda p=p, data=data: scale_outcome(  # type: ignore[misc]
                protocol, scale_id, cohort.scale(p.id, scale_id), data.infusions, rules=rules
            ),
        )
    return out


def dissociation_peak(protocol: Protocol, cohort: Cohort, participant_id: int, measure: tuple[str, str] | None):
    """The highest post-start value over all infusions of `measure`, the primary dissociation
    measure's (scale id, score) (analytics.dissociation.measure_pairs()[0], from the definitions;
    None when no definition marks one). Kept with the participant's data."""
    if measure is None:
        return None
    data = cohort._of(participant_id)
    scale_id, score = measure
    return data.derive(
        ("dissociation-peak", measure),
        lambda: peak_of(
            infusion_courses(cohort.scale(participant_id, scale_id), data.infusions, (measure,)), scale_id, score
        ),
    )


def _trajectory_rows(p: Participant, outcome: ScaleOutcome) -> list[tuple]:
    """The participant's rows of the trajectory frame: the baseline and every post-baseline point."""
    rows: list[tuple] = []
    if outcome.baseline is not None:
        b = outcome.baseline
        rows.append((p.code, p.arm, (b.timepoint_id, b.infusion_number), b.total, 0.0, True, None, None, b.amended))
    for point in outcome.points:
        a = point.assessment
        rows.append(
            (
                p.code,
                p.arm,
                (a.timepoint_id, a.infusion_number),
                a.total,
                point.percent_change,
                False,
                outcome.flag(point, "response"),
                outcome.flag(point, "remission"),
                a.amended,
            )
        )
    return rows


TRAJECTORY_COLUMNS = [
    "participant",
    "arm",
    "timepoint",
    "label",
    "order",
    "total",
    "percent_change",
    "baseline",
    "response",
    "remission",
    "amended",
]


def trajectory_frame(protocol: Protocol, cohort: Cohort, outcomes: Mapping[int, ScaleOutcome]) -> pd.DataFrame:
    """One row per participant and planned timepoint with a usable score: the baseline and every
    post-baseline assessment of the scale (other pre-infusion ratings are not on the trajectory)."""
    rows = []
    for p in cohort.participants:
        outcome = outcomes.get(p.id)
        if outcome is not None:
            rows += _trajectory_rows(p, outcome)
    order = {k: i for i, k in enumerate(timepoint_order(protocol, (r[2] for r in rows)))}
    # Sorted here (by planned timepoint, then participant) rather than by pandas afterwards, and
    # text columns kept as Python strings (object dtype): the chart and the summaries read them
    # back row by row, which Arrow-backed strings make several times slower.
    kept = sorted((r for r in rows if r[2] in order), key=lambda r: (order[r[2]], r[0]))
    texts = {k: key_text(k) for k in order}
    labels = {k: timepoint_label(protocol, k) for k in order}
    frame = pd.DataFrame(
        {
            "participant": pd.Series([r[0] for r in kept], dtype=object),
            "arm": pd.Series([r[1] for r in kept], dtype=object),
            "timepoint": pd.Series([texts[r[2]] for r in kept], dtype=object),
            "label": pd.Series([labels[r[2]] for r in kept], dtype=object),
            "order": pd.array([order[r[2]] for r in kept], dtype="Int64"),
            "total": pd.array([r[3] for r in kept], dtype="Int64"),
            "percent_change": pd.array([r[4] for r in kept], dtype="Float64"),
            "baseline": pd.array([r[5] for r in kept], dtype=bool),
            "response": pd.array([r[6] for r in kept], dtype="boolean"),
            "remission": pd.array([r[7] for r in kept], dtype="boolean"),
            "amended": pd.array([bool(r[8]) for r in kept], dtype=bool),
        },
        columns=TRAJECTORY_COLUMNS,
    )
    return frame


def _values(series: pd.Series) -> list:
    """A column as Python values, missing (pd.NA, NaN) as None."""
    return [None if v is pd.NA or (isinstance(v, float) and v != v) else v for v in series.tolist()]


def _grouped(frame: pd.DataFrame, keys: list[str], columns: list[str]) -> list[tuple[tuple, dict[str, list]]]:
    """Rows grouped by `keys` in sorted key order (a missing key value after the present ones, as
    pandas' groupby(sort=True, dropna=False) orders them), with the `columns`' values per group.
    Plain Python: a cohort has a few hundred groups of 12,000 rows, where pandas' per-group
    overhead was most of the cost."""
    groups: dict[tuple, dict[str, list]] = {}
    key_rows = zip(*(_values(frame[k]) for k in keys), strict=True)
    value_rows = zip(*(_values(frame[c]) for c in columns), strict=True)
    for key, row in zip(key_rows, value_rows, strict=True):
        group = groups.get(key)
        if group is None:
            group = groups[key] = {c: [] for c in columns}
        for column, value in zip(columns, row, strict=True):
            group[column].append(value)
    return sorted(groups.items(), key=lambda item: tuple((v is None, v) for v in item[0]))


def timepoint_summary(frame: pd.DataFrame, *, by_arm: bool = False, level: float = 0.95) -> pd.DataFrame:
    """Per planned timepoint (and arm): n, mean, SD and the t-based CI of the total."""
    keys = ["order", "timepoint", "label"] + (["arm"] if by_arm else [])
    rows = []
    for group, part in _grouped(frame, keys, ["total"]):
        ci = mean_ci((t for t in part["total"] if t is not None), level)
        rows.append((*group, ci.n, ci.mean, ci.sd, ci.low, ci.high))
    columns = keys + ["n", "mean", "sd", "ci_low", "ci_high"]
    return pd.DataFrame(rows, columns=columns)


def _rate(flags: list) -> tuple[int, int, float | None]:
    decided = [f for f in flags if f is not None]
    met = sum(1 for f in decided if f)
    return met, len(decided), (100.0 * met / len(decided) if decided else None)


def response_rates(frame: pd.DataFrame, *, by_arm: bool = False) -> pd.DataFrame:
    """Per post-baseline planned timepoint (and arm): responders and remitters with their
    denominators (participants for whom the rule could be decided there) and percentages."""
    post = frame[~frame["baseline"].astype(bool)]
    keys = ["order", "timepoint", "label"] + (["arm"] if by_arm else [])
    rows = []
    for group, part in _grouped(post, keys, ["response", "remission"]):
        r_met, r_n, r_pct = _rate(part["response"])
        m_met, m_n, m_pct = _rate(part["remission"])
        rows.append((*group, r_met, r_n, r_pct, m_met, m_n, m_pct))
    columns = keys + ["responders", "response_n", "response_pct", "remitters", "remission_n", "remission_pct"]
    return pd.DataFrame(rows, columns=columns)


def format_rate(met: int, n: int) -> str:
    """'12/30 (40 %)', or '—/0' when nobody could be judged."""
    return f"{met}/{n} ({100 * met / n:.0f} %)" if n else "—/0"


# --------------------------------------------------------------------------- completeness


@dataclass(frozen=True)
class Completeness:
    """matrix: participant code × timepoint label → state; missed: code → missed assessments
    (scales not done at timepoints whose window has closed); problems: code → schedule error."""

    matrix: pd.DataFrame
    missed: dict[str, int]
    problems: dict[str, str]
    columns: tuple[TimepointKey, ...]

    def counts(self) -> pd.DataFrame:
        """Per timepoint: how many participants are in each state (counted once; the page shows
        it on every run)."""
        return self._counts

    @cached_property
    def _counts(self) -> pd.DataFrame:
        states = list(STATE_LABELS.values())
        counted = {label: Counter(self.matrix[label].tolist()) for label in self.matrix.columns}
        return pd.DataFrame(
            {label: [c.get(state, 0) for state in states] for label, c in counted.items()}, index=states, dtype=int
        )


def _boundaries(planned: Sequence[Any]) -> list[datetime]:
    """The instants at which a timepoint's state can change: window opens, due turns overdue,
    window closes (protocol.schedule.timepoint_state compares `now` with exactly these)."""
    out = []
    for p in planned:
        if p.due_at is not None:
            out += [p.window_start, p.overdue_at, p.window_end]
    return out


def _plan(protocol: Protocol, data: ParticipantData) -> list:
    """protocol.schedule.plan_timepoints for one participant (kept with their data: a new rating
    for someone else, or a minute passing, does not move their plan)."""
    participant = data.participant
    if participant is None:  # Cohort._of's stand-in for an id the cohort does not hold
        raise ScheduleError("this participant is not in the cohort read from the database; reload the cohort")

    def plan() -> list:
        infusions = [{"number": i.number, "started_at": i.started_at, "ended_at": i.ended_at} for i in data.infusions]
        return plan_timepoints(protocol, participant.enrolled_at, infusions)

    return data.derive(("plan", protocol.hash), plan)


def participant_states(
    protocol: Protocol, cohort: Cohort, participant: Participant, now: datetime
) -> tuple[dict[TimepointKey, str], int]:
    """One participant's row of the completeness matrix: ({(timepoint id, infusion number): state
    label}, missed assessments), from protocol.schedule (plan_timepoints, then schedule_states on
    the stored completions).

    The answer is kept with the participant's data together with the span of time it holds for
    (until the next instant at which a window opens, turns overdue or closes), so a minute later
    only the participants whose timepoints changed state are judged again. It is the compact
    answer (strings and numbers), not the schedule rows."""
    data = cohort._of(participant.id)
    key = ("states", protocol.hash)
    held = data.derived.get(key)
    if held is not None and held[0] <= now < held[1]:
        return held[2]
    planned = _plan(protocol, data)
    rows = schedule_states(participant.code, planned, cohort.completed(participant.id), now)
    answer = (
        {(r.timepoint_id, r.infusion_number): STATE_LABELS[r.state] for r in rows},
        sum(len(r.scales) for r in rows if r.state == "missed"),
    )
    later = [b for b in _boundaries(planned) if b > now]
    data.derived[key] = (now, min(later) if later else datetime.max.replace(tzinfo=UTC), answer)
    return answer


def completeness(protocol: Protocol, cohort: Cohort, now: datetime) -> Completeness:
    """The participant × planned timepoint matrix from protocol.schedule (windows and states)."""
    checked = parse_time(now)
    if checked is None:
        raise ScheduleError("the current time is required to judge which timepoints are due")
    now = checked
    states: dict[str, dict[TimepointKey, str]] = {}
    missed: dict[str, int] = {}
    problems: dict[str, str] = {}
    for p in cohort.participants:
        try:
            states[p.code], missed[p.code] = participant_states(protocol, cohort, p, now)
        except ScheduleError as exc:
            problems[p.code] = str(exc)
            states[p.code], missed[p.code] = {}, 0
    columns = tuple(timepoint_order(protocol, {k for row in states.values() for k in row}))
    labels = [timepoint_label(protocol, k) for k in columns]
    # Categorical columns (five states and "" for a timepoint the participant does not have):
    # built and sent to the browser as small codes instead of 14,000 strings.
    categories = [*STATE_LABELS.values(), ""]
    matrix = pd.DataFrame(
        {
            label: pd.Categorical([row.get(k, "") for row in states.values()], categories=categories)
            for k, label in zip(columns, labels, strict=True)
        },
        index=pd.Index(list(states), name="participant"),
        columns=labels,
    )
    return Completeness(matrix, missed, problems, columns)


# --------------------------------------------------------------------------- participant table


PARTICIPANT_COLUMNS = [
    "participant",
    "site",
    "arm",
    "status",
    "baseline",
    "endpoint",
    "percent_change",
    "responder",
    "remitter",
    "response_and_remission",
    "first_response_hours",
    "first_response_at",
    "relapse_at",
    "dissociation_peak",
    "dissociation_peak_minutes",
    "missed_assessments",
    "rater_changes",
    "amended",
]


def participant_table(
    protocol: Protocol,
    cohort: Cohort,
    outcomes: Mapping[int, ScaleOutcome],
    missed: Mapping[str, int],
    *,
    show_arm: bool,
) -> pd.DataFrame:
    """One row per participant for the chosen scale: baseline, primary endpoint score, % change,
    responder/remitter at the endpoint, time to first response (hours from the start of infusion
    1), relapse, CADSS peak over all infusions (and its minute), missed assessments, rater
    changes and amended assessments. The arm column is dropped when the viewer is blinded."""
    primary = next(iter(measure_pairs()), None)  # the definitions say which score; looked up once per table
    rows = [
        _table_row(protocol, cohort, p, outcomes[p.id], missed.get(p.code, 0), primary) for p in cohort.participants
    ]
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(PARTICIPANT_COLUMNS)
    dtypes = {
        **dict.fromkeys(
            (
                "baseline",
                "endpoint",
                "dissociation_peak",
                "dissociation_peak_minutes",
                "missed_assessments",
                "rater_changes",
                "amended",
            ),
            "Int64",
        ),
        **dict.fromkeys(("percent_change", "first_response_hours"), "Float64"),
        **dict.fromkeys(("responder", "remitter", "response_and_remission"), "boolean"),
    }
    frame = pd.DataFrame(
        {
            name: pd.array(list(values), dtype=dtypes.get(name, object))
            for name, values in zip(PARTICIPANT_COLUMNS, columns, strict=True)
        },
        columns=PARTICIPANT_COLUMNS,
    )
    if not show_arm:
        frame = frame.drop(columns=["arm"])
    return frame


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else round(value, digits)


def _table_row(
    protocol: Protocol,
    cohort: Cohort,
    p: Participant,
    outcome: ScaleOutcome,
    missed: int,
    dissociation: tuple[str, str] | None,
) -> tuple:
    """One participant's row of participant_table (PARTICIPANT_COLUMNS order)."""
    peak = dissociation_peak(protocol, cohort, p.id, dissociation)
    first, relapse, endpoint = outcome.first_response, outcome.relapse, outcome.endpoint
    row = (
        p.code,
        p.site_code,
        p.arm,
        p.status,
        outcome.baseline_total,
        None if endpoint is None else endpoint.total,
        None if endpoint is None else _round(endpoint.percent_change, 1),
        outcome.endpoint_flag("response"),
        outcome.endpoint_flag("remission"),
        outcome.endpoint_flag("combined"),
        None if first is None else _round(round(first.hours, 2), 1),
        None if first is None else timepoint_label(protocol, parse_assessment_timepoint(first.timepoint)),
        None if relapse is None else timepoint_label(protocol, parse_assessment_timepoint(relapse.timepoint)),
        None if peak is None else peak.value,
        None if peak is None else round(peak.minutes),
        missed,
        len(outcome.rater_changes),
        sum(1 for a in cohort.scale(p.id, outcome.scale_id) if a.amended),
    )
    return row


def to_csv(frame: pd.DataFrame) -> bytes:
    """UTF-8 CSV (with a byte-order mark so spreadsheet programs read the '≥' and 'é' right), text
    neutralised against spreadsheet formulas by the one rule every CSV follows (scales/csvout.py)."""
    from scales.csvout import frame_csv

    return frame_csv(frame)
