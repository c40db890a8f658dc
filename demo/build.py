"""Build the synthetic demo study through the functions the app itself uses (db/ and study/):
every participant, eligibility decision, infusion, vital sign, adverse event, rating, signature,
amendment, deviation, missed-visit reason and safety alert goes through the same write function
a page calls, so scores come from the engine, every write leaves its audit events and the
database passes `python -m db verify-audit`. Nothing writes a table directly.

How "live" works: the study happens over the five weeks before today. Each action is planned at
the moment it would have happened in a real trial (a rating at its timepoint, a vital sign every
15 minutes), all actions are sorted by that moment, and each runs with the one clock every
stored timestamp comes from (`db.clock.utc_now`) set to it, so what was entered when is as in a
live study (no rating looks transcribed late). Actions planned after now are left undone, so
today's worklist has ratings due and upcoming infusions. Determinism: every value is drawn from
`random.Random(seed)` before anything runs, and every time is relative to today's midnight UTC
(from the clock at the start), so one seed on one day gives the same participants, answers and
scores.

Blinding: the study is blinded, so infusions (their dose) are recorded by the coordinator, the
unblinded role of protocol.blinding; raters and the PI rate blind. Both arms record the
protocol's 0.5 mg/kg over 40 minutes: the protocol's dosing block describes the blinded infusion
as ketamine's (0.2-1.0 mg/kg), so midazolam's 0.045 mg/kg could not be entered; the arm says
what was given. The database is marked as the demo's first (db.demo), which labels it
synthetic on every page and in every export.

One protocol per database: the app runs one protocol file ($SCALEBOOK_PROTOCOL, default
protocol/studies/default.json) and plans every participant's visits from it, so one demo
database follows one protocol. Under a single-infusion protocol each participant has one
infusion; under a repeated one (protocol/studies/repeated_infusion.json) each has the
protocol's calendar (protocol.schedule.planned_infusions: induction on its weekdays, then
weekly maintenance) from a first infusion on an induction weekday, with ratings around every
infusion; infusions still ahead today are left for the worklist. The command line builds the
repeated-infusion group as a database of its own beside the main study (demo/cli.py says why).
"""

from __future__ import annotations

import contextlib
import functools
import os
import random
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from db import assessments, clock, participants, screening, selfreport, tokens, visits
from db.connection import Database, connect, database_path, transaction
from db.demo import holds_data, is_demo, mark_demo
from db.migrations import init_database
from db.permissions import system_actor
from db.sites import create_site
from db.users import create_user, get_user
from demo import shapes
from protocol import Protocol, load_protocol
from protocol.schedule import plan_timepoints, planned_infusions
from scales import get_scale
from study import infusions as infusion_day
from study.assessments import find_or_start_assessment, record_rating
from study.self_report import start_self_report

SITES = (("S01", "North clinic (demo site)"), ("S02", "South clinic (demo site)"))
ARMS = ("ketamine", "midazolam")
SELF_REPORT = ("qids_sr16", "phq9")
# PHQ-9 is not on the default protocol's timepoints; the demo gives it with the QIDS-SR16 at these.
PHQ9_AT = ("baseline", "day_7", "day_14")
STUDY_DAYS = 38  # first infusions spread over the days before today (and one tomorrow)
# MADRS item 5 (reduced appetite) is what the one amendment corrects.
AMENDED_ITEM = "madrs_5"
AMEND_REASON = "rater transcription error: item 5 corrected from the paper worksheet"
MISSED_REASON = "participant unwell and could not attend; rang the study team"


class DemoRefused(Exception):
    """The target database holds data that is not the demo's (or already holds the demo)."""


@dataclass(frozen=True)
class Account:
    role: str
    username: str
    password: str
    site: str | None


@dataclass
class Person:
    code: str
    site: str
    arm: str
    eligible: bool
    responder: bool
    screened_at: datetime
    infusions: list[datetime] = field(default_factory=list)
    weight: float = 70.0
    baseline: float = 32.0
    cadss_base: float = 2.0
    cadss_peak: float = 20.0
    bprs_base: float = 26.0
    systolic: int = 125
    heart_rate: int = 72
    pid: int = 0


@dataclass(order=True)
class Action:
    at: datetime
    order: int
    label: str = field(compare=False)
    run: Callable[[Database], Any] = field(compare=False)


# --------------------------------------------------------------------------- clock


@contextlib.contextmanager
def _clock_at() -> Iterator[Callable[[datetime], None]]:
    """Set the one clock (db.clock.utc_now) to the moment of each action; restored afterwards."""
    original = clock.utc_now
    moment: list[datetime] = [datetime.now(UTC)]

    def utc_now() -> str:
        return clock.format_utc(moment[0])

    def set_to(at: datetime) -> None:
        moment[0] = at

    clock.utc_now = utc_now
    try:
        yield set_to
    finally:
        clock.utc_now = original


# --------------------------------------------------------------------------- accounts


def _password(rng: random.Random, role: str) -> str:
    """A demo-only password from the seed: long, not common, not the username."""
    tail = "".join(rng.choice(string.ascii_lowercase + string.digits) for _ in range(10))
    return f"Demo-{role}-{tail}"


def _accounts(rng: random.Random) -> list[Account]:
    return [
        Account("admin", "demo.admin", _password(rng, "admin"), None),
        Account("pi", "demo.pi", _password(rng, "pi"), None),
        Account("rater", "demo.rater1", _password(rng, "rater"), "S01"),
        Account("rater", "demo.rater2", _password(rng, "rater"), "S02"),
        Account("coordinator", "demo.coordinator", _password(rng, "coordinator"), None),
        Account("monitor", "demo.monitor", _password(rng, "monitor"), None),
    ]


# --------------------------------------------------------------------------- the cohort


def _cohort(rng: random.Random, protocol: Protocol, count: int, today: datetime) -> list[Person]:
    """`count` eligible participants (arms balanced and shuffled, 60 % responders on ketamine,
    fewer on midazolam) plus a few screen failures, first infusions spread over the past weeks."""
    arms = [ARMS[i % 2] for i in range(count)]
    rng.shuffle(arms)
    ketamine = [i for i, arm in enumerate(arms) if arm == "ketamine"]
    placebo = [i for i, arm in enumerate(arms) if arm != "ketamine"]
    responders = set(rng.sample(ketamine, round(0.6 * len(ketamine))))
    responders |= set(rng.sample(placebo, round(0.15 * len(placebo))))
    people = []
    for i in range(count):
        day = -STUDY_DAYS + round(i * (STUDY_DAYS + 1) / max(count - 1, 1))
        first = today + timedelta(days=day, hours=9, minutes=rng.choice((0, 15, 30, 45, 60)))
        course = [first]
        if protocol.infusion_plan.kind != "single" and protocol.infusion_plan.induction:
            weekdays = protocol.infusion_plan.induction.weekday_numbers  # a course starts on one of them
            while first.astimezone(protocol.timezone).weekday() not in weekdays:
                first += timedelta(days=1)
            course = [p.planned_at for p in planned_infusions(protocol, first)]
        screened = (first - timedelta(days=rng.randint(2, 6))).replace(hour=10, minute=rng.choice((0, 20, 40)))
        people.append(
            Person(
                code=f"DEMO-{i + 1:03d}",
                site=SITES[i % 2][0],
                arm=arms[i],
                eligible=True,
                responder=i in responders,
                screened_at=screened,
                infusions=course,
                weight=round(rng.uniform(52, 112), 1),
                baseline=rng.uniform(30, 35),
                cadss_base=rng.uniform(0, 4),
                cadss_peak=rng.uniform(15, 27),
                bprs_base=rng.uniform(24, 29),
                systolic=rng.randint(112, 134),
                heart_rate=rng.randint(62, 84),
            )
        )
    for j in range(max(1, count // 12)):
        screened = today - timedelta(days=rng.randint(3, STUDY_DAYS)) + timedelta(hours=11)
        people.append(
            Person(
                code=f"DEMO-{count + j + 1:03d}",
                site=SITES[j % 2][0],
                arm=ARMS[j % 2],
                eligible=False,
                responder=False,
                screened_at=screened,
            )
        )
    return people


# --------------------------------------------------------------------------- the plan of actions


class Planner:
    """Collects the actions of the study, each at the moment it happens, then runs them in order."""

    def __init__(
        self, protocol: Protocol, accounts: dict[str, dict[str, Any]], rng: random.Random, now: datetime
    ) -> None:
        self.protocol = protocol
        self.users = accounts
        self.rng = rng
        self.now = now
        self.actions: list[Action] = []
        self.definitions = {s: get_scale(s) for s in ("madrs", "cadss", "bprs", "qids_sr16", "phq9")}

    def add(self, at: datetime, label: str, run: Callable[[Database], Any]) -> None:
        self.actions.append(Action(at, len(self.actions), label, run))

    # ---- values

    def _hours_since(self, person: Person, at: datetime) -> tuple[float | None, int]:
        given = [t for t in person.infusions if t <= at]
        if not given:
            return None, 0
        return (at - given[-1]).total_seconds() / 3600, len(given)

    def answers(self, person: Person, scale_id: str, at: datetime, *, alert: bool = False) -> dict[str, int]:
        hours, count = self._hours_since(person, at)
        gain = shapes.improvement(person.arm, person.responder, hours, count)
        definition = self.definitions[scale_id]
        noise = self.rng.uniform(-1.5, 1.5)
        if scale_id == "madrs":
            fixed = {"madrs_10": 4} if alert else None
            return shapes.answers_for(definition, person.baseline * (1 - gain) + noise, self.rng, fixed=fixed)
        if scale_id == "qids_sr16":
            return shapes.answers_for(definition, person.baseline * 0.78 * (1 - 0.9 * gain) + noise / 2, self.rng)
        if scale_id == "phq9":
            return shapes.answers_for(definition, person.baseline * 0.58 * (1 - 0.9 * gain) + noise / 2, self.rng)
        if scale_id == "cadss":
            above = shapes.cadss_above_baseline(person.arm, person.cadss_peak, hours)
            return shapes.answers_for(definition, max(person.cadss_base + above + noise / 2, 0), self.rng)
        rise = shapes.bprs_positive_rise(person.arm, hours)
        raised = (
            dict(zip(self.rng.sample(shapes.BPRS_POSITIVE, 3), (1, 1, 1), strict=True))
            if rise >= 3
            else ({self.rng.choice(shapes.BPRS_POSITIVE): 1} if rise else {})
        )
        return shapes.answers_for(
            definition,
            person.bprs_base * (1 - 0.3 * gain) + noise,
            self.rng,
            caps=dict.fromkeys(shapes.BPRS_POSITIVE, 1),
            raise_items=raised,
        )

    # ---- the study, participant by participant

    def participant(self, person: Person, specials: dict[str, Any]) -> None:
        coordinator = self.users["coordinator"]
        rater = self.users[f"rater:{person.site}"]
        protocol = self.protocol
        self.add(person.screened_at, f"enrol {person.code}", lambda db: self._enrol(db, person))
        answers = {
            "depressive_episode": True,
            "failed_treatments": 2 + self.rng.randint(0, 3),
            "age_18_to_65": self.rng.randint(22, 63),
            "psychosis_history": not person.eligible,
            "substance_use_disorder": False,
            "cardiovascular_risk": False,
            "intracranial_hypertension_or_seizures": False,
            "pregnancy_or_breastfeeding": False,
        }
        wanted = {c.id for c in protocol.eligibility.criteria} if protocol.eligibility else set()
        answers = {k: v for k, v in answers.items() if k in wanted}
        self.add(
            person.screened_at + timedelta(minutes=15),
            f"screen {person.code}",
            lambda db: screening.record_eligibility(db, coordinator, protocol, person.pid, answers),
        )
        if not person.eligible:
            return
        infusions = [
            {"number": n, "started_at": t, "ended_at": t + timedelta(minutes=40)}
            for n, t in enumerate(person.infusions, 1)
        ]
        for n, start in enumerate(person.infusions, 1):
            self._infusion(person, n, start, specials)
        missed: set[str] = set()
        for planned in plan_timepoints(protocol, person.screened_at, infusions):
            if planned.due_at is None:
                continue
            key = planned.timepoint_id + (f"@{planned.infusion_number}" if planned.infusion_number else "")
            # The infusion this visit follows (the latest started by its due time).
            latest = max((t for t in person.infusions if t <= planned.due_at), default=planned.due_at)
            if planned.timepoint_id == "baseline":
                at = person.screened_at + timedelta(minutes=30)
            elif planned.due_at - latest >= timedelta(hours=20):
                # A visit a day or more after an infusion, at a time of day that varies, sometimes
                # missed; a rating minutes after an infusion is on time (below).
                at = planned.due_at + timedelta(minutes=self.rng.randint(-50, 90))
                chance = self.rng.random()
                if (chance < 0.05 and not key.startswith(("day_1", "week_2"))) or specials.get("miss") == (
                    person.code,
                    key,
                ):
                    missed.add(key)
                    forced = specials.get("miss") == (person.code, key)
                    if (len(specials["missed_reasons"]) < 2 or forced) and planned.window_end is not None:
                        specials["missed_reasons"].append((person, key, planned.window_end + timedelta(hours=2)))
                    continue
            else:
                at = planned.due_at + timedelta(minutes=self.rng.randint(0, 3))
            before = planned.due_at - timedelta(minutes=30)
            if planned.window_end is not None and planned.window_end <= planned.due_at and at > before:
                # A window that closes at its due time (the ratings before an infusion): the
                # visit's ratings and self-report all happen in the half hour before it.
                at = before
            if key == specials.get("late", (None, None))[1] and person is specials["late"][0]:
                at = planned.window_end + timedelta(hours=5) if planned.window_end else at
            scales = list(planned.scales)
            if planned.timepoint_id in PHQ9_AT and "qids_sr16" in scales:
                scales.append("phq9")
            clinician = [s for s in scales if s not in SELF_REPORT]
            own = [s for s in scales if s in SELF_REPORT]
            for step, scale_id in enumerate(clinician):
                when = at + timedelta(minutes=3 * step)
                alert = specials.get("alert") == (person.code, key) and scale_id == "madrs"
                amend = specials.get("amend") == (person.code, key) and scale_id == "madrs"
                self._rating(
                    person,
                    rater,
                    planned.timepoint_id,
                    planned.infusion_number,
                    scale_id,
                    when,
                    self.answers(person, scale_id, when, alert=alert),
                    amend,
                )
            if own:
                when = at + timedelta(minutes=3 * len(clinician) + 2)
                answer_sets = {s: self.answers(person, s, when) for s in own}
                self.add(
                    when,
                    f"self-report {person.code} {key}",
                    functools.partial(self._self_report, person=person, key=key, answer_sets=answer_sets, at=when),
                )
        ended = max(
            (
                p.window_end
                for p in plan_timepoints(protocol, person.screened_at, infusions)
                if p.window_end is not None
            ),
            default=None,
        )
        if ended is not None:
            self.add(
                ended + timedelta(hours=3),
                f"complete {person.code}",
                lambda db: participants.complete_participant(db, coordinator, person.pid),
            )

    def _enrol(self, db: Database, person: Person) -> None:
        row = participants.create_participant(db, self.users["coordinator"], person.code, person.site, arm=person.arm)
        person.pid = row["id"]

    def _infusion(self, person: Person, number: int, start: datetime, specials: dict[str, Any]) -> None:
        coordinator = self.users["coordinator"]
        state: dict[str, int] = {}

        def begin(db: Database) -> None:
            row = infusion_day.record_infusion(
                db, coordinator, self.protocol, person.pid, number, start, person.weight, 0.5
            )
            state["id"] = row["id"]

        self.add(start + timedelta(minutes=1), f"infusion {person.code} #{number}", begin)
        self.add(
            start + timedelta(minutes=41),
            f"infusion end {person.code} #{number}",
            lambda db: infusion_day.end_infusion(db, coordinator, state["id"], start + timedelta(minutes=40)),
        )
        after = int(self.protocol.vitals.after_infusion_minutes) if self.protocol.vitals else 120
        step = int(self.protocol.vitals.interval_minutes) if self.protocol.vitals else 15
        ketamine = person.arm == "ketamine"
        for minute in range(0, 40 + after + 1, step):
            rise = 14 if ketamine and 10 <= minute <= 55 else 0
            values = {
                "systolic": person.systolic + rise + self.rng.randint(-5, 5),
                "diastolic": 72 + rise // 2 + self.rng.randint(-5, 5),
                "heart_rate": person.heart_rate + (8 if rise else 0) + self.rng.randint(-4, 4),
                "spo2": self.rng.randint(96, 99),
            }
            measured = start + timedelta(minutes=minute)
            self.add(
                measured + timedelta(minutes=2),
                f"vitals {person.code} +{minute}",
                functools.partial(self._vitals, person, state, measured, values),
            )
        ae = specials["adverse_events"].get((person.code, number))
        if ae:
            term, severity, related, onset_min, lasting = ae
            onset = start + timedelta(minutes=onset_min)
            resolved = onset + timedelta(minutes=lasting)
            self.add(
                resolved + timedelta(minutes=5),
                f"adverse event {person.code}",
                lambda db: infusion_day.record_adverse_event(
                    db,
                    coordinator,
                    self.protocol,
                    person.pid,
                    term,
                    onset,
                    severity,
                    related,
                    infusion_id=state["id"],
                    resolved_at=resolved,
                    action_taken="dose_not_changed",
                    outcome="recovered",
                ),
            )

    def _vitals(
        self, person: Person, state: dict[str, int], measured: datetime, values: dict[str, Any], db: Database
    ) -> None:
        infusion_day.record_vitals(
            db, self.users["coordinator"], self.protocol, person.pid, measured, infusion_id=state["id"], **values
        )

    def _rating(
        self,
        person: Person,
        rater: dict[str, Any],
        timepoint: str,
        number: int | None,
        scale_id: str,
        at: datetime,
        answers: dict[str, int],
        amend: bool,
    ) -> None:
        state: dict[str, Any] = {}

        def rate(db: Database) -> None:
            if number is not None and person.infusions[number - 1] > at:
                # A rating before its infusion is logged (the ratings before an infusion): the rate
                # page's path, a draft answered item by item and completed; the import path
                # (record_rating) refuses a rating it cannot place around a logged infusion.
                row = find_or_start_assessment(
                    db, rater, self.protocol, person.pid, timepoint, number, scale_id, now=at
                ).assessment
                version = row["version"]
                for item_id, value in answers.items():
                    version = assessments.save_draft_response(
                        db, rater, row["id"], item_id, value, expected_version=version
                    )["version"]
                state["row"] = assessments.complete_assessment(db, rater, row["id"], version)
                return
            opened = record_rating(
                db,
                rater,
                self.protocol,
                {"id": person.pid, "code": person.code},
                timepoint,
                number,
                scale_id,
                "clinician",
                answers,
                now=at,
            )
            state["row"] = opened.assessment

        def sign(db: Database) -> None:
            row = state["row"]
            state["row"] = assessments.sign_assessment(db, rater, row["id"], row["version"], "authored")

        def amended(db: Database) -> None:
            row = state["row"]
            old = answers[AMENDED_ITEM]
            assessments.amend_assessment(
                db, rater, row["id"], {AMENDED_ITEM: old + 1 if old < 6 else old - 1}, AMEND_REASON, row["version"]
            )

        self.add(at, f"rate {person.code} {scale_id} {timepoint}", rate)
        self.add(at + timedelta(minutes=1), f"sign {person.code} {scale_id} {timepoint}", sign)
        if amend:
            self.add(at + timedelta(hours=3), f"amend {person.code} {scale_id} {timepoint}", amended)

    def _self_report(
        self, db: Database, *, person: Person, key: str, answer_sets: dict[str, dict[str, int]], at: datetime
    ) -> None:
        """The kiosk: the coordinator opens the questionnaires (study.self_report.start_self_report,
        as the Self-report page does, its window checked at the visit's time), the participant
        answers item by item and sends."""
        coordinator = self.users["coordinator"]
        link = start_self_report(
            db, coordinator, self.protocol, person.pid, key, list(answer_sets), channel="kiosk", now=at
        )
        me = tokens.claim_link(db, tokens.redeem_token(db, link["token"]))
        for assessment_id in link["assessment_ids"]:
            row = assessments.load_assessment(db, assessment_id)
            version = row["version"]
            for item_id, value in answer_sets[row["scale_id"]].items():
                version = selfreport.save_answer(db, me, assessment_id, item_id, value, version)["version"]
            selfreport.submit_questionnaire(db, me, assessment_id, version)

    # ---- running

    def run(self, db: Database, set_clock: Callable[[datetime], None]) -> int:
        """Run every action planned up to now, in time order, those of one day in one transaction
        (each action's own transaction nests in it as a savepoint; fewer commits, same rows)."""
        due = sorted(a for a in self.actions if a.at <= self.now)
        done = 0
        index = 0
        while index < len(due):
            day = due[index].at.date()
            set_clock(due[index].at)
            with transaction(db):
                while index < len(due) and due[index].at.date() == day:
                    action = due[index]
                    set_clock(action.at)
                    try:
                        action.run(db)
                    except Exception as exc:
                        raise RuntimeError(
                            f"demo step '{action.label}' at {action.at:%Y-%m-%d %H:%M} failed: {exc}"
                        ) from exc
                    done += 1
                    index += 1
        return done


# --------------------------------------------------------------------------- entry point


def _missed_reason(
    coordinator: dict[str, Any], protocol: Protocol, person: Person, key: str, at: datetime, db: Database
) -> None:
    visits.record_missed_reason(db, coordinator, protocol, person.pid, key, MISSED_REASON, now=at)


def _today(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def _specials(rng: random.Random, people: list[Person], now: datetime) -> dict[str, Any]:
    """The handful of events a living study has: adverse events, one out-of-window rating, one
    amended rating, one safety alert awaiting the PI (on the latest day-3 or day-7 MADRS so far)."""
    treated = [p for p in people if p.eligible and p.infusions and p.infusions[0] < now - timedelta(hours=3)]
    ketamine = [p for p in treated if p.arm == "ketamine"]
    placebo = [p for p in treated if p.arm != "ketamine"]
    terms = [
        ("Dissociation", "mild", "probable", 20, 35),
        ("Nausea", "mild", "possible", 30, 40),
        ("Transient blood pressure increase", "moderate", "probable", 25, 30),
        ("Headache", "mild", "possible", 35, 45),
    ]
    events: dict[tuple[str, int], tuple] = {}
    for person, term in zip(rng.sample(ketamine, min(len(ketamine), len(terms))), terms, strict=False):
        events[(person.code, 1)] = term
    if placebo:
        events[(rng.choice(placebo).code, 1)] = ("Sedation", "mild", "possible", 15, 40)
    specials: dict[str, Any] = {"adverse_events": events, "missed_reasons": []}
    day7 = [p for p in treated if p.infusions[0] + timedelta(days=9) < now]
    if day7:
        specials["late"] = (rng.choice(day7), "day_7")
    day2 = [p for p in treated if p.infusions[0] + timedelta(days=3) < now]
    if day2:  # at least one missed visit, with its reason
        specials["miss"] = (rng.choice(day2).code, "day_2")
    day1 = [p for p in treated if p.infusions[0] + timedelta(days=2) < now]
    if day1:
        specials["amend"] = (rng.choice(day1).code, "day_1")
    recent = [
        p
        for p in treated
        if p.arm == "ketamine" and not p.responder and p.infusions[0] + timedelta(days=3, hours=6) < now
    ]
    if recent:
        latest = max(recent, key=lambda p: p.infusions[0])
        specials["alert"] = (latest.code, "day_3")
    return specials


def build(
    path: str | Path | None = None,
    seed: int = 15,
    participants: int = 40,
    protocol: Protocol | str | Path | None = None,
) -> list[Account]:
    """Create the synthetic demo study in the database at `path` (default $SCALEBOOK_DB) and
    return its accounts (role, username, demo-only password, site). `protocol` (a Protocol or a
    file; default $SCALEBOOK_PROTOCOL, else the default protocol) sets the calendar: one infusion
    each, or a repeated-infusion course. DemoRefused when the database already holds data
    (anyone's, or an earlier demo: delete that file first)."""
    if participants < 2:
        raise ValueError("the demo needs at least 2 participants (one per arm)")
    chosen = None if protocol is None or isinstance(protocol, Protocol) else str(protocol)
    if not isinstance(protocol, Protocol):
        protocol = load_protocol(protocol)
    with _active_protocol(chosen):
        return _build(path, seed, participants, protocol)


@contextlib.contextmanager
def _active_protocol(path: str | None) -> Iterator[None]:
    """Make a protocol file given to `build` the active one ($SCALEBOOK_PROTOCOL) while it runs:
    the write paths that are not handed a protocol (the eligibility decision taken again when the
    baseline rating completes, db.screening.active_protocol) read that, as the app does."""
    if path is None:
        yield
        return
    before = os.environ.get("SCALEBOOK_PROTOCOL")
    os.environ["SCALEBOOK_PROTOCOL"] = path
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("SCALEBOOK_PROTOCOL", None)
        else:
            os.environ["SCALEBOOK_PROTOCOL"] = before


def check_target(path: str | Path | None) -> None:
    """DemoRefused when the database at `path` already holds a demo or any other data (nothing
    is written); the command line checks every file it will build before building any."""
    target = database_path(path)
    if str(target) != ":memory:" and target.exists():
        with contextlib.closing(connect(target)) as db:
            if is_demo(db):
                raise DemoRefused(
                    f"{target} already holds a demo study; delete it (with its .key and .witness files) "
                    "to build it again"
                )
            if holds_data(db):
                raise DemoRefused(
                    f"{target} holds data that is not the demo's (accounts, sites or participants); "
                    "the demo never writes into it. Give another file with --db"
                )


def _build(path: str | Path | None, seed: int, participants: int, protocol: Protocol) -> list[Account]:
    target = database_path(path)
    now = clock.parse_utc(clock.utc_now())
    today = _today(now)
    rng = random.Random(seed)
    accounts = _accounts(random.Random(f"{seed}:accounts"))
    people = _cohort(rng, protocol, participants, today)
    specials = _specials(rng, people, now)
    start = min(p.screened_at for p in people) - timedelta(days=1)
    check_target(target)
    with _clock_at() as set_clock:
        set_clock(start)
        init_database(target)
        with contextlib.closing(connect(target)) as db:
            if holds_data(db) and not is_demo(db):
                raise DemoRefused(f"{target} holds data that is not the demo's; the demo never writes into it")
            system = system_actor("demo")
            with transaction(db):
                mark_demo(db, system)
                for code, name in SITES:
                    create_site(db, system, code, name)
            users: dict[str, dict[str, Any]] = {}
            for account in accounts:
                set_clock(start + timedelta(minutes=len(users) + 1))
                row = create_user(
                    db,
                    system,
                    account.username,
                    account.role,
                    account.password,
                    site=account.site,
                    all_sites=account.site is None,
                )
                users[f"{account.role}:{account.site}" if account.role == "rater" else account.role] = get_user(
                    db, row["id"]
                )
            planner = Planner(protocol, users, rng, now)
            for person in people:
                planner.participant(person, specials)
            for person, key, at in specials["missed_reasons"]:
                planner.add(
                    at,
                    f"missed reason {person.code} {key}",
                    functools.partial(_missed_reason, users["coordinator"], protocol, person, key, at),
                )
            planner.run(db, set_clock)
    return accounts
