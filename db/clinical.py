"""The infusion day: infusions, vital signs and adverse events, and the protocol's planned
timepoints.

Each record is validated here (clear messages) and again by the table's CHECKs (so a bypass
cannot store a 5 kg weight or a diastolic above the systolic). Every write is one transaction
with its audit events. Times are given as timezone-aware ISO-8601 text or datetimes and stored
as UTC.

Infusions follow the study protocol (the one passed in, else `protocol.load_protocol()`, the
file the app runs): weight, dose per kg and duration inside its ranges and the total dose
rounded as protocol.dosing rounds it; infusions numbered 1, 2, 3 ... in time order. Two rules
need an explicit override with a reason, and the override is recorded as a protocol deviation
in the same transaction (`infusion_warnings` says in advance which apply, for the page):

- infusion 1 needs an accepted baseline rating of the protocol's primary scale, by the one
  baseline rule (protocol.baseline): deviation kind 'infusion_before_baseline';
- a later infusion may not start fewer calendar days after the previous one than the infusion
  plan allows (protocol.dosing.spacing_problem): deviation kind 'infusion_interval'.

Vital signs and adverse-event onsets keep the time they HAPPENED (measured_at, onset_at) beside
the time they were entered (created_at): not in the future, not before the participant's
enrolment, and with a reason when entered more than protocol.late_entry.LATE_ENTRY_MINUTES
after the fact (protocol.late_entry, the rule the rating forms use too). A reading's threshold
warnings (protocol.vitals.check_vitals) come back from `record_vitals`, and the latest reading's
warnings stay open until acknowledged or a later reading is saved (`open_vitals_warning`).
Adverse events are edited field by field with a reason; each changed field is audited.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, NoReturn, overload

from sqlite_utils import Database

from db import _sql, audit, clock
from db.baseline import baseline_rating
from db.connection import transaction
from db.deviations import insert_deviation
from db.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from db.participants import get_participant
from db.permissions import authorize
from db.screening import require_eligible
from db.sites import get_study
from protocol import Protocol, ProtocolError, load_protocol
from protocol.baseline import describe as describe_baseline
from protocol.baseline import earliest_accepted
from protocol.blinding import dose_refusal, study_blinded
from protocol.dosing import check_duration, spacing_problem
from protocol.dosing import total_dose_mg as protocol_total_dose
from protocol.errors import ProtocolInputError
from protocol.late_entry import CLOCK_TOLERANCE, is_late, late_entry_problem
from protocol.timing import DAY_FORMAT, local_text
from protocol.vitals import MEASURES, check_vitals
from scales import get_scale
from scales.errors import ScaleError

VITAL_RANGES = {
    "systolic": (40, 300),
    "diastolic": (20, 200),
    "heart_rate": (20, 250),
    "resp_rate": (4, 60),
    "spo2": (50, 100),
    "temperature_c": (30.0, 45.0),
}

# Controlled terms of an adverse event (the codes stored, as the table's CHECKs allow) and what
# a person reads for each (CTCAE/MedDRA-style wording; CDISC AEOUT for the outcome).
SEVERITY_LABELS = {"mild": "Mild", "moderate": "Moderate", "severe": "Severe"}
RELATEDNESS_LABELS = {
    "not_related": "Not related",
    "unlikely": "Unlikely related",
    "possible": "Possibly related",
    "probable": "Probably related",
    "definite": "Definitely related",
}
OUTCOME_LABELS = {
    "recovered": "Recovered / resolved",
    "recovering": "Recovering / resolving",
    "not_recovered": "Not recovered / not resolved",
    "recovered_with_sequelae": "Recovered with sequelae",
    "fatal": "Fatal",
    "unknown": "Unknown",
}
ACTION_LABELS = {  # action taken with the study infusion (CDISC AEACN, worded for an infusion)
    "dose_not_changed": "Infusion not changed",
    "infusion_slowed": "Infusion slowed",
    "infusion_interrupted": "Infusion interrupted, then resumed",
    "infusion_stopped": "Infusion stopped",
    "not_applicable": "Not applicable (no infusion running)",
    "unknown": "Unknown",
}
SEVERITIES = tuple(SEVERITY_LABELS)
RELATEDNESS = tuple(RELATEDNESS_LABELS)
OUTCOMES = tuple(OUTCOME_LABELS)
ACTIONS = tuple(ACTION_LABELS)
ENDED_OUTCOMES = ("recovered", "recovered_with_sequelae", "fatal")  # an event with this outcome has an end date
LABELS = {
    "severity": SEVERITY_LABELS,
    "relatedness": RELATEDNESS_LABELS,
    "outcome": OUTCOME_LABELS,
    "action_taken": ACTION_LABELS,
}
AE_EDITABLE = (
    "term",
    "onset_at",
    "resolved_at",
    "severity",
    "serious",
    "serious_at",
    "relatedness",
    "action_taken",
    "outcome",
)

BEFORE_BASELINE = "infusion_before_baseline"
INTERVAL = "infusion_interval"


def label(field: str, code: str | None) -> str:
    """What a person reads for a stored adverse-event code ('not_related' → 'Not related'); '' for None."""
    if code is None:
        return ""
    return LABELS.get(field, {}).get(code, code)


# For the type checker: a required time always comes back as stored text, an optional one may be None.
@overload
def _time(value: Any, what: str, *, required: Literal[True] = True) -> str: ...
@overload
def _time(value: Any, what: str, *, required: bool) -> str | None: ...


def _time(value: Any, what: str, *, required: bool = True) -> str | None:
    if value is None:
        if required:
            raise ValidationError(f"{what} is required")
        return None
    try:
        moment = clock.parse_utc(value) if isinstance(value, str) else value
        return clock.format_utc(moment) if isinstance(moment, datetime) else _bad_time(value, what)
    except ValueError:
        return _bad_time(value, what)


def _bad_time(value: Any, what: str) -> NoReturn:
    raise ValidationError(f"{what} {value!r} is not a time with a timezone; give e.g. '2026-03-01T09:30:00Z'")


@overload
def _number(
    value: Any, what: str, low: float, high: float, *, integer: bool = False, required: Literal[True]
) -> float | int: ...
@overload
def _number(
    value: Any, what: str, low: float, high: float, *, integer: bool = False, required: bool = False
) -> float | int | None: ...


def _number(
    value: Any, what: str, low: float, high: float, *, integer: bool = False, required: bool = False
) -> float | int | None:
    """A number checked against its plausible range; None stays None unless `required`."""
    if value is None:
        if required:
            raise ValidationError(f"{what} is required")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or (integer and float(value) != int(value)):
        raise ValidationError(f"{what} must be a {'whole ' if integer else ''}number, not {value!r}")
    if not low <= value <= high:
        raise ValidationError(f"{what} {value} is outside the plausible range {low}-{high}; check the entry")
    return int(value) if integer else float(value)


def _protocol(protocol: Protocol | None) -> Protocol:
    """The protocol given, else the one the app runs; a broken file is a clear refusal."""
    if protocol is not None:
        return protocol
    try:
        return load_protocol()
    except ProtocolError as exc:
        raise ValidationError(
            f"the study protocol cannot be loaded, so nothing can be checked against it: {exc}"
        ) from None


def _shown(stored: str | datetime, protocol: Protocol) -> str:
    """A time for a message, in the study's local time."""
    return local_text(stored, protocol.timezone, DAY_FORMAT)


def _participant_for_write(db, actor, participant_id, action="clinical.record"):
    participant = get_participant(db, participant_id)
    who = authorize(db, actor, action, site_id=participant["site_id"])
    return participant, who


def _infusion_of(db, participant, infusion_id) -> int | None:
    if infusion_id is None:
        return None
    infusion_id = _sql.record_id(infusion_id, "infusion")
    if not _sql.one(
        db, "SELECT id FROM infusions WHERE id = ? AND participant_id = ?", [infusion_id, participant["id"]]
    ):
        raise NotFoundError(f"participant {participant['code']} has no infusion with id {infusion_id}")
    return infusion_id


def _entry_problem(
    happened: str, participant: Mapping[str, Any], reason: str | None, protocol: Protocol, what: str
) -> None:
    """protocol.late_entry's rule for a time something happened, entered now; ValidationError if broken."""
    problem = late_entry_problem(
        clock.parse_utc(happened),
        clock.parse_utc(clock.utc_now()),
        clock.parse_utc(participant["created_at"]),
        reason,
        zone=protocol.timezone,
    )
    if problem:
        raise ValidationError(f"{what}: {problem}")


def entered_later(happened_at: str | None, entered_at: str | None) -> bool:
    """True when a record was entered more than the late-entry delay after it happened."""
    if not happened_at or not entered_at:
        return False
    return is_late(clock.parse_utc(happened_at), clock.parse_utc(entered_at))


# --------------------------------------------------------------------------- infusions


@dataclass(frozen=True)
class InfusionWarning:
    """A protocol rule an infusion start would break; it may start anyway only with a reason,
    which is recorded as a protocol deviation of `kind` at `timepoint`."""

    kind: str  # 'infusion_before_baseline' or 'infusion_interval'
    timepoint: str
    problem: str  # what is wrong (stored as the deviation's description)
    advice: str  # how to fix it

    @property
    def message(self) -> str:
        return f"{self.problem} {self.advice}"


def _infusion_warnings(
    db: Database, protocol: Protocol, participant: Mapping[str, Any], number: int, started: str
) -> list[InfusionWarning]:
    """infusion_warnings for a checked participant row and a stored-form start time."""
    start = clock.parse_utc(started)
    warnings = []
    if number == 1:
        scale_id = protocol.primary_endpoint.scale
        try:
            scale = get_scale(scale_id).abbreviation
        except ScaleError:  # pragma: no cover - the loader checks that the scale exists
            scale = scale_id
        if baseline_rating(db, protocol, participant["id"], scale_id, infusion_start=start) is None:
            last = baseline_rating(db, protocol, participant["id"], scale_id)  # infusion 1 not logged: unbounded
            problem = (
                f"{participant['code']} has no accepted baseline {scale} for an infusion starting "
                f"{_shown(start, protocol)} (the baseline is {describe_baseline(protocol)})."
            )
            if last is not None and clock.parse_utc(last["happened_at"]) >= start:
                problem += (
                    f" The baseline {scale} on record was done {_shown(last['happened_at'], protocol)}, "
                    f"after this start."
                )
            elif last is not None and clock.parse_utc(last["happened_at"]) < (
                earliest_accepted(protocol, start) or start
            ):
                problem += (
                    f" The baseline {scale} on record ({_shown(last['happened_at'], protocol)}) is older than "
                    f"the protocol accepts."
                )
            warnings.append(
                InfusionWarning(
                    BEFORE_BASELINE,
                    protocol.baseline_rule.timepoint,
                    problem,
                    f"Rate the baseline {scale} first (or correct the start time), or give a reason to start anyway: "
                    f"it is recorded as a protocol deviation.",
                )
            )
    else:
        previous = _sql.one(
            db,
            "SELECT number, started_at FROM infusions WHERE participant_id = ? AND number = ?",
            [participant["id"], number - 1],
        )
        if previous is not None:
            spacing = spacing_problem(
                protocol, number, start, previous["number"], clock.parse_utc(previous["started_at"])
            )
            if spacing:
                warnings.append(
                    InfusionWarning(
                        INTERVAL,
                        f"Infusion {number}",
                        spacing[0].upper() + spacing[1:] + ".",
                        "Choose a later start, or give a reason to start it now: it is recorded as a protocol deviation.",
                    )
                )
    return warnings


def infusion_warnings(
    db: Database, protocol: Protocol, participant_id: int, number: int, started_at: Any
) -> list[InfusionWarning]:
    """The overridable protocol rules an infusion `number` starting at `started_at` would break
    (none: it may start). record_infusion applies exactly these; the page shows them first."""
    number = int(_number(number, "infusion number", 1, 1000, integer=True, required=True))
    started = _time(started_at, "infusion start")
    return _infusion_warnings(db, protocol, get_participant(db, participant_id), number, started)


def record_infusion(
    db: Database,
    actor: Mapping[str, Any],
    participant_id: int,
    number: int,
    started_at: Any,
    weight_kg: float,
    dose_mg_per_kg: float,
    *,
    protocol: Protocol | None = None,
    ended_at: Any = None,
    total_dose_mg: float | None = None,
    planned_duration_min: int | None = None,
    notes: str | None = None,
    override_reasons: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Log infusion `number` under the protocol's dosing and spacing rules (module docstring).

    The total dose is weight × dose per kg rounded as protocol.dosing rounds it; a `total_dose_mg`
    given (the total the user confirmed) must equal it. `override_reasons` maps a warning kind
    ('infusion_before_baseline', 'infusion_interval') to the reason for starting anyway; each
    warning that applies needs one, and is recorded as a protocol deviation with it. The row
    returned carries the deviations recorded under "deviations".
    """
    protocol = _protocol(protocol)
    dosing = protocol.dosing
    number = int(_number(number, "infusion number", 1, 1000, integer=True, required=True))
    started = _time(started_at, "infusion start")
    ended = _time(ended_at, "infusion end", required=False)
    if ended and ended < started:
        raise ValidationError("the infusion cannot end before it starts; check both times")
    if planned_duration_min is None:
        planned_duration_min = int(dosing.duration_minutes.default or dosing.duration_minutes.min)
    duration = _number(planned_duration_min, "planned duration (min)", 1, 600, integer=True, required=True)
    try:
        total = protocol_total_dose(weight_kg, dose_mg_per_kg, dosing)
        check_duration(duration, dosing)
    except ProtocolInputError as exc:
        raise ValidationError(f"{exc}; check the entry") from None
    if total_dose_mg is not None:
        given = _number(total_dose_mg, "total dose (mg)", 0.1, 700, required=True)
        if abs(given - float(total)) > 1e-9:
            raise ValidationError(
                f"the total dose {given:g} mg does not match the weight × dose ({weight_kg:g} kg × "
                f"{dose_mg_per_kg:g} mg/kg = {total} mg, rounded to 0.1 mg); check the entries"
            )
    notes = _sql.text(notes, "notes", max_len=2000, required=False)
    reasons = {
        kind: _sql.text(text, "reason for starting anyway", max_len=1000, required=False)
        for kind, text in (override_reasons or {}).items()
    }
    with transaction(db):
        participant, who = _participant_for_write(db, actor, participant_id)
        # The one blinding rule (protocol.blinding) also decides who may record a dose.
        refusal = dose_refusal(who["role"], study_blinded(protocol.blinded, get_study(db)["blinded"]))
        if refusal:
            raise PermissionDeniedError(f"{who['username']} may not record an infusion: {refusal}")
        require_eligible(db, participant)
        if _sql.one(
            db, "SELECT id FROM infusions WHERE participant_id = ? AND number = ?", [participant["id"], number]
        ):
            raise ConflictError(f"participant {participant['code']} already has infusion {number}")
        last = _sql.one(
            db, "SELECT * FROM infusions WHERE participant_id = ? ORDER BY number DESC LIMIT 1", [participant["id"]]
        )
        expected = 1 if last is None else last["number"] + 1
        if number != expected:
            raise ValidationError(
                f"participant {participant['code']}'s next infusion is number {expected}; "
                f"log infusion {expected} before infusion {number}"
            )
        if last is not None:
            if last["ended_at"] is None:
                raise ValidationError(
                    f"infusion {last['number']} of {participant['code']} is still running: record "
                    f"its end before starting infusion {number}"
                )
            if started < last["ended_at"]:
                raise ValidationError(
                    f"infusion {number} cannot start ({_shown(started, protocol)}) before infusion "
                    f"{last['number']} ended ({_shown(last['ended_at'], protocol)}); check the time"
                )
        warnings = _infusion_warnings(db, protocol, participant, number, started)
        unexplained = [w for w in warnings if not reasons.get(w.kind)]
        if unexplained:
            raise ValidationError(" ".join(w.message for w in unexplained))
        now = clock.utc_now()
        values = {
            "number": number,
            "started_at": started,
            "ended_at": ended,
            "weight_kg": float(weight_kg),
            "dose_mg_per_kg": float(dose_mg_per_kg),
            "total_dose_mg": float(total),
            "planned_duration_min": duration,
            "notes": notes,
        }
        cursor = db.execute(
            f"INSERT INTO infusions (participant_id, {', '.join(values)}, recorded_by, created_at, updated_at) "
            f"VALUES (?, {', '.join('?' for _ in values)}, ?, ?, ?)",
            [participant["id"], *values.values(), who["id"], now, now],
        )
        infusion_id = _sql.new_id(cursor)
        audit.record(db, who, "infusion.create", "infusion", infusion_id, new=values, participant_id=participant["id"])
        deviations = [
            insert_deviation(db, who, participant["id"], w.timepoint, w.problem, kind=w.kind, reason=reasons[w.kind])
            for w in warnings
        ]
        row = _sql.require_row(
            _sql.one(db, "SELECT * FROM infusions WHERE id = ?", [infusion_id]), "infusion", infusion_id
        )
        return row | {"deviations": deviations}


def end_infusion(db: Database, actor: Mapping[str, Any], infusion_id: int, ended_at: Any) -> dict[str, Any]:
    ended = _time(ended_at, "infusion end")
    with transaction(db):
        infusion = _sql.require_row(
            _sql.one(db, "SELECT * FROM infusions WHERE id = ?", [_sql.record_id(infusion_id, "infusion")]),
            "infusion",
            infusion_id,
        )
        _, who = _participant_for_write(db, actor, infusion["participant_id"])
        if ended < infusion["started_at"]:
            raise ValidationError("the infusion cannot end before it starts; check the time")
        db.execute(
            "UPDATE infusions SET ended_at = ?, updated_at = ? WHERE id = ?", [ended, clock.utc_now(), infusion["id"]]
        )
        audit.record(
            db,
            who,
            "infusion.end",
            "infusion",
            infusion["id"],
            field="ended_at",
            old=infusion["ended_at"],
            new=ended,
            participant_id=infusion["participant_id"],
        )
        return _sql.require_row(
            _sql.one(db, "SELECT * FROM infusions WHERE id = ?", [infusion["id"]]), "infusion", infusion["id"]
        )


def list_infusions(db: Database, participant_id: int) -> list[dict[str, Any]]:
    return _sql.many(db, "SELECT * FROM infusions WHERE participant_id = ? ORDER BY number", [participant_id])


# --------------------------------------------------------------------------- vital signs


def vitals_warnings(protocol: Protocol, reading: Mapping[str, Any]) -> list[str]:
    """The protocol's threshold warnings for a stored or entered reading (protocol.vitals.check_vitals),
    as sentences ('systolic blood pressure 184 mmHg is above the protocol's threshold of 180 mmHg')."""
    measured = {m: reading[m] for m in MEASURES if reading.get(m) is not None}
    if not measured:
        return []
    return [w.message for w in check_vitals(measured, protocol.vitals.thresholds)]


def record_vitals(
    db: Database,
    actor: Mapping[str, Any],
    participant_id: int,
    measured_at: Any,
    *,
    infusion_id: int | None = None,
    late_entry_reason: str | None = None,
    protocol: Protocol | None = None,
    **values: Any,
) -> dict[str, Any]:
    """One set of vital signs (any of systolic, diastolic, heart_rate, resp_rate, spo2,
    temperature_c) measured at `measured_at` (when it happened; see the module docstring for
    late entries). The row returned carries the protocol's threshold warnings under "warnings"."""
    protocol = _protocol(protocol)
    unknown = sorted(set(values) - set(VITAL_RANGES))
    if unknown:
        raise ValidationError(f"unknown vital sign(s) {', '.join(unknown)}; use {', '.join(VITAL_RANGES)}")
    checked = {
        k: _number(v, k.replace("_", " "), *VITAL_RANGES[k], integer=k != "temperature_c", required=True)
        for k, v in values.items()
        if v is not None
    }
    if not checked:
        raise ValidationError("no vital sign given; enter at least one measurement")
    if "systolic" in checked and "diastolic" in checked and checked["systolic"] <= checked["diastolic"]:
        raise ValidationError("systolic pressure must be above diastolic; check the two values")
    measured = _time(measured_at, "measurement time")
    reason = _sql.text(late_entry_reason, "reason for the late entry", max_len=1000, required=False)
    with transaction(db):
        participant, who = _participant_for_write(db, actor, participant_id)
        infusion = _infusion_of(db, participant, infusion_id)
        _entry_problem(measured, participant, reason, protocol, "vital signs")
        cursor = db.execute(
            f"INSERT INTO vitals (participant_id, infusion_id, measured_at, {', '.join(checked)}, late_entry_reason, "
            f"recorded_by, created_at) VALUES (?, ?, ?, {', '.join('?' for _ in checked)}, ?, ?, ?)",
            [participant["id"], infusion, measured, *checked.values(), reason, who["id"], clock.utc_now()],
        )
        vitals_id = _sql.new_id(cursor)
        audit.record(
            db,
            who,
            "vitals.create",
            "vitals",
            vitals_id,
            participant_id=participant["id"],
            new={"measured_at": measured, "infusion_id": infusion, **checked, "late_entry_reason": reason},
        )
        row = _sql.require_row(_vitals_row(db, vitals_id), "vital-signs reading", vitals_id)
        return row | {"warnings": vitals_warnings(protocol, row)}


def _vitals_row(db: Database, vitals_id: int) -> dict[str, Any] | None:
    row = _sql.one(db, "SELECT * FROM vitals WHERE id = ?", [vitals_id])
    if row is not None:
        row["entered_later"] = entered_later(row["measured_at"], row["created_at"])
    return row


def list_vitals(db: Database, participant_id: int, infusion_id: int | None = None) -> list[dict[str, Any]]:
    """A participant's readings by the time they were measured; `entered_later` marks late entries."""
    if infusion_id is None:
        rows = _sql.many(db, "SELECT * FROM vitals WHERE participant_id = ? ORDER BY measured_at, id", [participant_id])
    else:
        rows = _sql.many(
            db,
            "SELECT * FROM vitals WHERE participant_id = ? AND infusion_id = ? ORDER BY measured_at, id",
            [participant_id, infusion_id],
        )
    for row in rows:
        row["entered_later"] = entered_later(row["measured_at"], row["created_at"])
    return rows


VITALS_ACKNOWLEDGE = "vitals.acknowledge"


def open_vitals_warning(
    db: Database, protocol: Protocol, participant_id: int, infusion_id: int | None
) -> dict[str, Any] | None:
    """The warnings that still need attention for one infusion's vital signs: those of its LATEST
    reading (by the time measured), unless acknowledged. A later reading closes them (a normal one
    by having none). {vitals: row, warnings: [...]} or None."""
    if infusion_id is None:
        return None
    rows = list_vitals(db, participant_id, infusion_id)
    if not rows:
        return None
    latest = rows[-1]
    warnings = vitals_warnings(protocol, latest)
    if not warnings or _sql.one(
        db,
        "SELECT id FROM audit_events WHERE entity = 'vitals' AND entity_id = ? AND action = ?",
        [str(latest["id"]), VITALS_ACKNOWLEDGE],
    ):
        return None
    return {"vitals": latest, "warnings": warnings}


def acknowledge_vitals_warning(
    db: Database, actor: Mapping[str, Any], vitals_id: int, note: str | None = None, *, protocol: Protocol | None = None
) -> dict[str, Any]:
    """Record (audited) that a reading's threshold warnings were seen and acted on, with an
    optional note (e.g. 'repeated after 5 minutes, physician informed')."""
    protocol = _protocol(protocol)
    note = _sql.text(note, "note", max_len=1000, required=False)
    with transaction(db):
        row = _sql.require_row(
            _vitals_row(db, _sql.record_id(vitals_id, "vital signs")), "vital-signs reading", vitals_id
        )
        _, who = _participant_for_write(db, actor, row["participant_id"])
        warnings = vitals_warnings(protocol, row)
        if not warnings:
            raise ValidationError("this reading is inside the protocol's limits; there is nothing to acknowledge")
        audit.record(
            db,
            who,
            VITALS_ACKNOWLEDGE,
            "vitals",
            row["id"],
            new={"warnings": warnings, "note": note},
            reason=note,
            participant_id=row["participant_id"],
        )
        return row


# --------------------------------------------------------------------------- adverse events


def _code(value: Any, allowed: Mapping[str, str], what: str, *, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if value not in allowed:
        raise ValidationError(f"unknown {what} {value!r}; choose one of {', '.join(allowed)}")
    return value


def _not_future(stored: str | None, what: str, protocol: Protocol) -> None:
    if stored and clock.parse_utc(stored) > clock.parse_utc(clock.utc_now()) + CLOCK_TOLERANCE:
        raise ValidationError(
            f"the {what} ({_shown(stored, protocol)}) is in the future; enter the date and time it actually happened"
        )


def _adverse_event_values(values: Mapping[str, Any], protocol: Protocol) -> dict[str, Any]:
    """An adverse event's fields checked together and in stored form (AE_EDITABLE keys)."""
    term = _sql.text(values.get("term"), "adverse event term", max_len=200)
    severity = _code(values.get("severity"), SEVERITY_LABELS, "severity")
    relatedness = _code(values.get("relatedness"), RELATEDNESS_LABELS, "relatedness")
    outcome = _code(values.get("outcome"), OUTCOME_LABELS, "outcome", required=False)
    action = _code(values.get("action_taken"), ACTION_LABELS, "action taken", required=False)
    serious = values.get("serious")
    if serious not in (True, False, 0, 1, None):
        raise ValidationError(f"serious must be yes or no, not {serious!r}")
    serious = bool(serious)
    onset = _time(values.get("onset_at"), "onset time")
    resolved = _time(values.get("resolved_at"), "end time", required=False)
    serious_at = _time(values.get("serious_at"), "date it became serious", required=False)
    if resolved and resolved < onset:
        raise ValidationError("an adverse event cannot end before its onset; check both times")
    if serious and serious_at is None:
        raise ValidationError("a serious adverse event needs the date and time it became serious (the SAE date)")
    if not serious and serious_at is not None:
        raise ValidationError("only a serious adverse event has an SAE date; tick 'serious' or clear the SAE date")
    if serious_at and serious_at < onset:
        raise ValidationError("an adverse event cannot become serious before its onset; check the SAE date")
    if serious_at and resolved and serious_at > resolved:
        raise ValidationError("an adverse event cannot become serious after it ended; check the SAE date and the end")
    if outcome in ENDED_OUTCOMES and resolved is None:
        raise ValidationError(
            f"the outcome '{label('outcome', outcome)}' means the event has ended: give its end date and time"
        )
    if resolved and outcome in ("recovering", "not_recovered"):
        raise ValidationError(
            f"an event that has ended cannot be '{label('outcome', outcome)}'; choose its outcome "
            f"at the end, or clear the end date"
        )
    return {
        "term": term,
        "onset_at": onset,
        "resolved_at": resolved,
        "severity": severity,
        "serious": int(serious),
        "serious_at": serious_at,
        "relatedness": relatedness,
        "action_taken": action,
        "outcome": outcome,
    }


def _ae_row(db: Database, ae_id: int) -> dict[str, Any] | None:
    row = _sql.one(db, "SELECT * FROM adverse_events WHERE id = ?", [ae_id])
    if row is not None:
        row["entered_later"] = entered_later(row["onset_at"], row["created_at"])
    return row


def record_adverse_event(
    db: Database,
    actor: Mapping[str, Any],
    participant_id: int,
    term: str,
    onset_at: Any,
    severity: str,
    relatedness: str,
    *,
    serious: bool = False,
    infusion_id: int | None = None,
    resolved_at: Any = None,
    action_taken: str | None = None,
    outcome: str | None = None,
    serious_at: Any = None,
    late_entry_reason: str | None = None,
    protocol: Protocol | None = None,
) -> dict[str, Any]:
    """Record an adverse event with its onset as it happened (late entries need a reason), its
    controlled terms (codes of SEVERITY_LABELS, RELATEDNESS_LABELS, OUTCOME_LABELS, ACTION_LABELS),
    and for a serious one the date it became serious."""
    protocol = _protocol(protocol)
    values = _adverse_event_values(
        {
            "term": term,
            "onset_at": onset_at,
            "resolved_at": resolved_at,
            "severity": severity,
            "serious": serious,
            "serious_at": serious_at,
            "relatedness": relatedness,
            "action_taken": action_taken,
            "outcome": outcome,
        },
        protocol,
    )
    reason = _sql.text(late_entry_reason, "reason for the late entry", max_len=1000, required=False)
    with transaction(db):
        participant, who = _participant_for_write(db, actor, participant_id)
        infusion = _infusion_of(db, participant, infusion_id)
        _entry_problem(values["onset_at"], participant, reason, protocol, "adverse event onset")
        _not_future(values["resolved_at"], "end time", protocol)
        _not_future(values["serious_at"], "SAE date", protocol)
        now = clock.utc_now()
        values = {"infusion_id": infusion, **values, "late_entry_reason": reason}
        cursor = db.execute(
            f"INSERT INTO adverse_events (participant_id, {', '.join(values)}, recorded_by, created_at, updated_at) "
            f"VALUES (?, {', '.join('?' for _ in values)}, ?, ?, ?)",
            [participant["id"], *values.values(), who["id"], now, now],
        )
        ae_id = _sql.new_id(cursor)
        audit.record(
            db,
            who,
            "adverse_event.create",
            "adverse_event",
            ae_id,
            new=values,
            participant_id=participant["id"],
        )
        return _sql.require_row(_ae_row(db, ae_id), "adverse event", ae_id)


def update_adverse_event(
    db: Database,
    actor: Mapping[str, Any],
    ae_id: int,
    changes: Mapping[str, Any],
    reason: str,
    *,
    expected_updated_at: str | None = None,
    protocol: Protocol | None = None,
) -> dict[str, Any]:
    """Change an adverse event's fields (any of AE_EDITABLE) for a stated reason.

    The whole event is checked again with the changes applied; each field that changes is one
    audit event (old and new value, the reason). `expected_updated_at`, the updated_at the user
    saw, refuses the edit (ConflictError) if someone changed the event since.
    """
    protocol = _protocol(protocol)
    if not isinstance(changes, Mapping) or not changes:
        raise ValidationError("no change given; say which fields of the adverse event change")
    unknown = sorted(set(changes) - set(AE_EDITABLE))
    if unknown:
        raise ValidationError(
            f"cannot change {', '.join(unknown)} of an adverse event; editable: {', '.join(AE_EDITABLE)}"
        )
    reason = _sql.text(reason, "reason for the change", max_len=1000)
    with transaction(db):
        row = _sql.require_row(_ae_row(db, _sql.record_id(ae_id, "adverse event")), "adverse event", ae_id)
        participant, who = _participant_for_write(db, actor, row["participant_id"])
        if expected_updated_at is not None and row["updated_at"] != expected_updated_at:
            raise ConflictError(
                f"adverse event '{row['term']}' was changed by someone else "
                f"({_shown(row['updated_at'], protocol)}) since you opened it; reload the page and "
                f"make your change again"
            )
        merged = _adverse_event_values({**{k: row[k] for k in AE_EDITABLE}, **changes}, protocol)
        changed = {k: (row[k], merged[k]) for k in AE_EDITABLE if row[k] != merged[k]}
        if not changed:
            raise ValidationError("nothing to change: the values given are the ones already recorded")
        if "onset_at" in changed:
            _entry_problem(merged["onset_at"], participant, reason, protocol, "adverse event onset")
        for field, what in (("resolved_at", "end time"), ("serious_at", "SAE date")):
            if field in changed:
                _not_future(merged[field], what, protocol)
        now = clock.utc_now()
        db.execute(
            f"UPDATE adverse_events SET {', '.join(f'{k} = ?' for k in changed)}, updated_at = ? WHERE id = ?",
            [*(new for _, new in changed.values()), now, row["id"]],
        )
        audit.record_many(
            db,
            who,
            [
                audit.event(
                    "adverse_event.update",
                    "adverse_event",
                    row["id"],
                    field=field,
                    old=old,
                    new=new,
                    reason=reason,
                    participant_id=row["participant_id"],
                )
                for field, (old, new) in changed.items()
            ],
        )
        return _sql.require_row(_ae_row(db, row["id"]), "adverse event", row["id"])


def get_adverse_event(db: Database, ae_id: int) -> dict[str, Any]:
    return _sql.require_row(_ae_row(db, _sql.record_id(ae_id, "adverse event")), "adverse event", ae_id)


def list_adverse_events(db: Database, participant_id: int) -> list[dict[str, Any]]:
    """A participant's adverse events by onset; `entered_later` marks late entries."""
    rows = _sql.many(
        db, "SELECT * FROM adverse_events WHERE participant_id = ? ORDER BY onset_at, id", [participant_id]
    )
    for row in rows:
        row["entered_later"] = entered_later(row["onset_at"], row["created_at"])
    return rows
