"""The infusion day as use cases: logging an infusion, its end, vital signs and adverse events,
each one function taking `(db, actor, protocol, ...)` that every path calls (the Infusion day
page, the demo study builder; no import or command records infusions today).

The rules each applies, and where each is decided:

- dose: the dose per kg and the weight inside the protocol's ranges and the total dose rounded
  half-up to 0.1 mg (protocol.dosing.total_dose_mg; `total_to_prepare` gives the page the same
  figure to confirm), the planned duration inside its range (protocol.dosing.check_duration);
- who may record a dose in a blinded study (protocol.blinding.dose_refusal), an eligible
  screening decision, infusions numbered in order and not overlapping;
- the overridable rules (an accepted baseline before infusion 1, the spacing of later infusions),
  recorded as protocol deviations with the reason given (`infusion_warnings` says in advance which
  apply, for the page to ask for the reasons);
- vital signs: plausible values, when they happened (late entries need a reason,
  protocol.late_entry) and the protocol's threshold warnings (protocol.vitals.check_vitals), which
  come back with the stored reading and stay open until acknowledged;
- adverse events: controlled terms, onset and end times as for vital signs.

The checks are enforced where the record is stored (db.clinical, in the write's transaction with
its audit events), so a write cannot skip them; this module is the one entry point above storage,
where the protocol is always the caller's (the file the app runs, or the demo's), never a silent
fall-back. The reads are in study.records (`data.read`).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from db import clinical
from db.clinical import InfusionWarning
from db.connection import Database
from protocol import Protocol
from protocol.dosing import total_dose_mg
from study.records import authorize_read


def total_to_prepare(protocol: Protocol, weight_kg: object, dose_mg_per_kg: object) -> Decimal:
    """The total dose to prepare (mg) for this weight and dose per kg, as `record_infusion` checks
    the confirmed total against it: both inside the protocol's ranges, rounded half-up to 0.1 mg.
    ProtocolInputError (a DoseError) naming the value outside its range."""
    return total_dose_mg(weight_kg, dose_mg_per_kg, protocol.dosing)


def infusion_warnings(
    db: Database, actor: Mapping[str, Any], protocol: Protocol, participant_id: int, number: int, started_at: Any
) -> list[InfusionWarning]:
    """The overridable protocol rules an infusion `number` starting at `started_at` would break
    (none: it may start), for an actor who may read the participant's data. `record_infusion`
    applies exactly these."""
    participant = authorize_read(db, actor, participant_id)
    return clinical.infusion_warnings(db, protocol, participant["id"], number, started_at)


def record_infusion(
    db: Database,
    actor: Mapping[str, Any],
    protocol: Protocol,
    participant_id: int,
    number: int,
    started_at: Any,
    weight_kg: float,
    dose_mg_per_kg: float,
    *,
    ended_at: Any = None,
    total_dose_mg: float | None = None,
    planned_duration_min: int | None = None,
    notes: str | None = None,
    override_reasons: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Log infusion `number` under `protocol` (the rules in the module docstring). `total_dose_mg`:
    the total the user confirmed, refused unless it is the protocol's rounding of weight × dose;
    `override_reasons`: warning kind → reason to start anyway (each recorded as a deviation).
    Returns the stored row with the deviations recorded under "deviations"."""
    return clinical.record_infusion(
        db,
        actor,
        participant_id,
        number,
        started_at,
        weight_kg,
        dose_mg_per_kg,
        protocol=protocol,
        ended_at=ended_at,
        total_dose_mg=total_dose_mg,
        planned_duration_min=planned_duration_min,
        notes=notes,
        override_reasons=override_reasons,
    )


def end_infusion(db: Database, actor: Mapping[str, Any], infusion_id: int, ended_at: Any) -> dict[str, Any]:
    """Record when a running infusion ended (not before it started). The end has no protocol rule
    (a longer or shorter infusion than planned is recorded as it happened), so no protocol."""
    return clinical.end_infusion(db, actor, infusion_id, ended_at)


def record_vitals(
    db: Database,
    actor: Mapping[str, Any],
    protocol: Protocol,
    participant_id: int,
    measured_at: Any,
    *,
    infusion_id: int | None = None,
    late_entry_reason: str | None = None,
    **values: Any,
) -> dict[str, Any]:
    """One set of vital signs measured at `measured_at` (any of systolic, diastolic, heart_rate,
    resp_rate, spo2, temperature_c). The stored row carries the protocol's threshold warnings
    under "warnings" (sentences naming the value and the threshold)."""
    return clinical.record_vitals(
        db,
        actor,
        participant_id,
        measured_at,
        infusion_id=infusion_id,
        late_entry_reason=late_entry_reason,
        protocol=protocol,
        **values,
    )


def vitals_warnings(protocol: Protocol, reading: Mapping[str, Any]) -> list[str]:
    """The protocol's threshold warnings for a reading (stored or entered), as sentences: the
    same ones `record_vitals` returns and the page shows until they are acknowledged."""
    return clinical.vitals_warnings(protocol, reading)


def acknowledge_vitals_warning(
    db: Database, actor: Mapping[str, Any], protocol: Protocol, vitals_id: int, note: str | None = None
) -> dict[str, Any]:
    """Record (audited) that a reading's threshold warnings were seen and acted on; refused for a
    reading inside the protocol's limits."""
    return clinical.acknowledge_vitals_warning(db, actor, vitals_id, note, protocol=protocol)


def record_adverse_event(
    db: Database,
    actor: Mapping[str, Any],
    protocol: Protocol,
    participant_id: int,
    term: str,
    onset_at: Any,
    severity: str,
    relatedness: str,
    *,
    serious: bool = False,
    serious_at: Any = None,
    resolved_at: Any = None,
    outcome: str | None = None,
    action_taken: str | None = None,
    infusion_id: int | None = None,
    late_entry_reason: str | None = None,
) -> dict[str, Any]:
    """An adverse event with its controlled terms (db.clinical's SEVERITIES, RELATEDNESS,
    OUTCOMES, ACTIONS) and its times as they happened: not in the future, and with a reason when
    entered later than the protocol's late-entry rule allows."""
    return clinical.record_adverse_event(
        db,
        actor,
        participant_id,
        term,
        onset_at,
        severity,
        relatedness,
        serious=serious,
        serious_at=serious_at,
        resolved_at=resolved_at,
        outcome=outcome,
        action_taken=action_taken,
        infusion_id=infusion_id,
        late_entry_reason=late_entry_reason,
        protocol=protocol,
    )


def update_adverse_event(
    db: Database,
    actor: Mapping[str, Any],
    protocol: Protocol,
    ae_id: int,
    changes: Mapping[str, Any],
    reason: str,
    *,
    expected_updated_at: str | None = None,
) -> dict[str, Any]:
    """Change an adverse event's fields with a reason (each changed field audited); refused when
    it changed since `expected_updated_at` (another user's save)."""
    return clinical.update_adverse_event(
        db, actor, ae_id, changes, reason, expected_updated_at=expected_updated_at, protocol=protocol
    )
