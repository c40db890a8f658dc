"""`python -m exports sdtm --out DIR --study-id ID`: CDISC SDTM datasets with Define-XML.

Domains (SDTMIG 3.4 variables; each as <domain>.xpt, SAS transport version 5 written by
pyreadstat, and <domain>.csv with the same values):

- DM: one record per participant. SEX is U (Scalebook stores none: participants are
  pseudonymous) and COUNTRY empty (sites carry none); AGE from the screening answer in years
  where the protocol asks for it. ARMNRS says why an arm is empty (SCREEN FAILURE, NOT
  ASSIGNED, ASSIGNED, NOT TREATED).
- EX: one record per infusion: dose in mg/kg (EXDOSE/EXDOSU), intravenous, start and end.
- VS: one record per vital sign measured, and the body weight taken for each infusion.
- AE: one record per adverse event as it stands (verbatim term; not MedDRA-coded).
- RS (clinician-rated: MADRS, HAM-D 17, CADSS, BPRS) and QS (self-report: MADRS-S, QIDS-SR16,
  PHQ-9): per submitted assessment one record per item (an answer; or RSSTAT NOT DONE with the
  reason: not assessed, not answered, or not applicable such as HAM-D 16A/16B whichever part
  was not rated), then the total and each subscale (QIDS domain maxima included) with DRVFL Y.

Test codes and names come from CDISC CT where CDISC publishes the instrument, and are Scalebook
sponsor-defined otherwise (exports/sdtm_terms.py); testcodes.csv lists every one with its
category and who defined it. define.xml (Define-XML 2.1) describes every dataset, variable,
codelist, origin and derivation.

Visits and time points, from the study protocol:
- the protocol's baseline timepoint is VISIT BASELINE (VISITNUM 1);
- a timepoint on the day of an infusion (anchored to the first or each infusion, offset under
  24 hours) belongs to VISIT "INFUSION n" (VISITNUM 1000 n);
- a timepoint days after infusion n is its own visit (VISITNUM 1000 n + days; a second
  timepoint on the same day gets .01, .02 in protocol order); one anchored to enrolment has
  VISITNUM 100 + days; a timepoint the protocol does not name is UNSCHEDULED (9999);
- --TPT is the timepoint's label, --TPTNUM its position in the protocol, --ELTM its PLANNED
  offset as an ISO 8601 duration (PT40M, P1D) from --TPTREF "INFUSION n START" (the actual
  time is --DTC; the CSV export carries the actual minutes since infusion start).
--DTC is the site's local clock time (ISO 8601, no offset); --DY counts from RFSTDTC (the
start of infusion 1). --LOBXFL marks the baseline rating of each scale as the protocol's one
baseline rule chooses it (protocol.baseline), and for vital signs the last value at or before
the start of infusion 1. --EVLINT is the recall period (7d → -P7D, 24h → -PT24H).

Text is ASCII (what SAS transport files and the FDA expect): dashes and letters with accents are
folded (Å → A, – → -). Text longer than 200 characters (a long not-done reason) is cut to 200,
and the export says how many were cut.

Blinding (exports/scope.py): a masked export writes BLINDED for ARMCD, ARM, ACTARMCD, ACTARM
and EXTRT, leaves EXDOSE empty with EXDOSTXT BLINDED, and its first stderr line says so.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import unicodedata
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
import pyreadstat

from db import exports as db_exports
from db.connection import Database
from db.demo import is_demo
from exports.blinding import MASK
from exports.cli import CommandError
from exports.records import (
    Infusions,
    Timepoints,
    infusion_reference,
    local_date,
    local_dtc,
    stored_utc,
    subscale_values,
    utc,
)
from exports.scope import Scope, add_scope_arguments, export_to_directory, study_id_problems
from exports.sdtm_terms import CDISC, CT_VERSION, VITAL_TESTS, ScaleCodes, catalog
from protocol import Protocol
from protocol.baseline import baseline_index
from protocol.keys import parse_assessment_timepoint
from protocol.timing import Duration
from scales import ScaleDefinition, csvout
from scales.engine import visible_items
from scales.loader import registry

SDTMIG_VERSION = "3.4"
MAX_TEXT = 200
UNSCHEDULED = 9999
DOMAINS = ("DM", "EX", "VS", "AE", "RS", "QS")


# ---------------------------------------------------------------------------------------------
# variables and datasets
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Var:
    """One SDTM variable as define.xml describes it.

    type: text, integer, float, datetime (ISO 8601 --DTC) or durationDatetime (--ELTM, --EVLINT).
    origin: Collected, Derived, Assigned or Protocol (Define-XML 2.1 origin types), with its
    source (Investigator, Subject, Sponsor). `method` (for Derived) and `comment` become
    define.xml MethodDef and CommentDef texts. `free`: free text a person typed (neutralised in
    the CSV)."""

    name: str
    label: str
    type: str
    origin: str
    source: str | None = None
    codelist: str | None = None
    method: str | None = None
    comment: str | None = None
    mandatory: bool = False
    free: bool = False

    @property
    def numeric(self) -> bool:
        return self.type in ("integer", "float")


@dataclass
class Dataset:
    """One domain: its metadata and its records, kept as one list per variable.

    Records are added as tuples in variable order (`add`) and moved into the column lists every
    CHUNK records, so a domain of 700,000 records is never also held as 700,000 tuples. The
    writers read `columns()`; `release()` drops the data after writing, keeping the record count
    and the lengths define.xml needs."""

    CHUNK = 50_000

    name: str
    label: str
    cls: str
    structure: str
    keys: tuple[str, ...]
    variables: list[Var]
    count: int = 0
    lengths: dict[str, dict[str, str]] | None = None
    _pending: list[tuple] = field(default_factory=list, repr=False)
    _columns: list[list[Any]] | None = field(default=None, repr=False)

    @property
    def file(self) -> str:
        return f"{self.name.lower()}.xpt"

    def add(self, record: tuple) -> None:
        self._pending.append(record)
        if len(self._pending) >= self.CHUNK:
            self._flush()

    def _flush(self) -> list[list[Any]]:
        """Move the pending records into the column lists (made at the first flush); return them."""
        if self._columns is None:
            self._columns = [[] for _ in self.variables]
        if self._pending:
            for column, values in zip(self._columns, zip(*self._pending, strict=True), strict=True):
                column.extend(values)
            self.count += len(self._pending)
            self._pending = []
        return self._columns

    def columns(self) -> dict[str, list[Any]]:
        return {v.name: column for v, column in zip(self.variables, self._flush(), strict=True)}

    def release(self) -> None:
        self._columns = [[] for _ in self.variables]

    def frame(self) -> pd.DataFrame:
        """The data as a DataFrame for pyreadstat (numbers float64, text object), releasing each
        column as it is copied; the dataset holds no data afterwards."""
        columns = self._flush()
        data = {}
        for index, var in enumerate(self.variables):
            values = columns[index]
            if var.numeric:
                data[var.name] = pd.Series([math.nan if v is None else v for v in values], dtype="float64")
            else:
                data[var.name] = pd.Series(["" if v is None else v for v in values], dtype=object)
            columns[index] = []
        return pd.DataFrame(data, columns=[v.name for v in self.variables])


def _v(name, label, type_, origin, source=None, **kw) -> Var:
    return Var(name, label, type_, origin, source, **kw)


STUDYID = _v(
    "STUDYID", "Study Identifier", "text", "Protocol", mandatory=True, comment="The --study-id given to the export."
)
USUBJID = _v(
    "USUBJID",
    "Unique Subject Identifier",
    "text",
    "Derived",
    mandatory=True,
    method="STUDYID, a hyphen and the participant's pseudonymous study code (SUBJID).",
)


def _domain_var(domain: str) -> Var:
    return _v(
        "DOMAIN", "Domain Abbreviation", "text", "Assigned", "Sponsor", codelist=f"DOMAIN.{domain}", mandatory=True
    )


def _seq(domain: str) -> Var:
    return _v(
        f"{domain}SEQ",
        "Sequence Number",
        "integer",
        "Derived",
        mandatory=True,
        method="Numbers the participant's records 1, 2, 3 ... in the dataset's sort order.",
    )


def _dy(name: str, label: str, of: str) -> Var:
    return _v(
        name,
        label,
        "integer",
        "Derived",
        method=f"Study day of {of}: local date of {of} minus the local date of RFSTDTC, plus 1 when on or "
        f"after it (no day 0).",
    )


VISITNUM = _v(
    "VISITNUM",
    "Visit Number",
    "float",
    "Derived",
    method="From the protocol timepoint: BASELINE 1; on the day of infusion n 1000 n; n days after infusion "
    "n 1000 n + days (.01, .02 for a second timepoint on the same day, in protocol order); anchored "
    "to enrolment 100 + days; a timepoint the protocol does not name 9999 (UNSCHEDULED).",
)
VISIT = _v(
    "VISIT",
    "Visit Name",
    "text",
    "Derived",
    method="BASELINE; INFUSION n for the day of infusion n; else the protocol timepoint's label in capitals "
    "(with ' - INFUSION n' when it repeats around each infusion); UNSCHEDULED otherwise.",
)


# ---------------------------------------------------------------------------------------------
# small conversions
# ---------------------------------------------------------------------------------------------

_FOLD = str.maketrans(
    {
        "–": "-",
        "—": "-",
        "‒": "-",
        "−": "-",
        "‘": "'",
        "’": "'",
        "“": '"',
        "”": '"',
        "≥": ">=",
        "≤": "<=",
        "×": "x",
        "…": "...",
        "·": "-",
        "\u00a0": " ",
    }
)


@lru_cache(maxsize=100_000)
def ascii_text(text: str | None) -> str:
    """ASCII for a transport file: punctuation folded, accents dropped, anything else '?'."""
    if not text:
        return ""
    folded = unicodedata.normalize("NFKD", text.translate(_FOLD))
    return "".join(c for c in folded if not unicodedata.combining(c)).encode("ascii", "replace").decode("ascii")


class TextLimit:
    """Cuts text to MAX_TEXT characters, counting what it cut."""

    def __init__(self) -> None:
        self.cut: dict[str, int] = defaultdict(int)

    def __call__(self, text: str | None, variable: str) -> str:
        value = ascii_text(text)
        if len(value) > MAX_TEXT:
            self.cut[variable] += 1
            return value[:MAX_TEXT]
        return value


def study_day(day: date | None, reference: date | None) -> int | None:
    if day is None or reference is None:
        return None
    delta = (day - reference).days
    return delta + 1 if delta >= 0 else delta


def iso_duration(duration: Duration) -> str:
    value = duration.value
    sign = "-" if value < 0 else ""
    value = abs(value)
    if duration.unit == "minutes":
        return f"{sign}PT{value}M"
    if duration.unit == "hours":
        return f"{sign}PT{value}H"
    return f"{sign}P{value}D"


_RECALL = re.compile(r"^(\d+)\s*([hdwmy])$")


def evaluation_interval(recall: str | None) -> str:
    """A definition's recall period id as --EVLINT (7d → -P7D, 24h → -PT24H; 'now' → empty)."""
    match = _RECALL.match((recall or "").strip().lower())
    if not match:
        return ""
    number, unit = match.groups()
    return f"-PT{number}H" if unit == "h" else f"-P{number}{unit.upper()}"


def _code(text: str, length: int = 20) -> str:
    return re.sub(r"[^A-Z0-9_]", "", ascii_text(text).upper().replace(" ", "_"))[:length] or "ARM"


# ---------------------------------------------------------------------------------------------
# visits and time points
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VisitInfo:
    visitnum: int | float
    visit: str
    tpt: str
    tptnum: int | None
    eltm: str
    tptref: str


class Visits:
    """The protocol's timepoints as SDTM visits and time points (see the module docstring)."""

    def __init__(self, protocol: Protocol) -> None:
        self.protocol = protocol
        self.order = {t.id: n for n, t in enumerate(protocol.timepoints, start=1)}
        self.baseline = protocol.baseline_rule.timepoint
        self.cache: dict[tuple[str, int | None], VisitInfo] = {}

    @staticmethod
    def day_offset(timepoint) -> int:
        """Whole days after the anchor (0 = the same day as the infusion)."""
        offset = timepoint.offset
        minutes = {"minutes": 1, "hours": 60, "days": 1440}[offset.unit] * offset.value
        return 0 if abs(minutes) < 1440 else minutes // 1440

    def _rank(self, timepoint, number: int) -> int:
        days = self.day_offset(timepoint)
        same_day = [
            t.id
            for t in self.protocol.timepoints
            if t.id != self.baseline
            and self.day_offset(t) == days
            and t.anchor != "enrolment"
            and (t.anchor == "each_infusion" or number == 1)
        ]
        return same_day.index(timepoint.id) if timepoint.id in same_day else 0

    def info(self, stored: str, infusion_number: int | None) -> VisitInfo:
        key = (stored, infusion_number)
        found = self.cache.get(key)
        if found is None:
            found = self.cache[key] = self._info(stored, infusion_number)
        return found

    def _info(self, stored: str, infusion_number: int | None) -> VisitInfo:
        timepoint_id, _ = parse_assessment_timepoint(stored)
        try:
            timepoint = self.protocol.timepoint(timepoint_id)
        except Exception:  # a timepoint the protocol does not name
            return VisitInfo(UNSCHEDULED, "UNSCHEDULED", ascii_text(stored), None, "", "")
        label = ascii_text(timepoint.label)
        tptnum = self.order[timepoint.id]
        eltm = iso_duration(timepoint.offset)
        if timepoint.anchor == "enrolment":
            days = self.day_offset(timepoint)
            return VisitInfo(100 + days, label.upper(), label, tptnum, eltm, "ENROLMENT")
        # A timepoint anchored to the first infusion refers to infusion 1 whichever infusion the
        # rating was recorded against; one repeated around each infusion to its own.
        number = 1 if timepoint.anchor == "first_infusion" else infusion_number or 1
        reference = f"INFUSION {number} START"
        if timepoint.id == self.baseline:
            return VisitInfo(1, "BASELINE", label, tptnum, eltm, reference)
        days = self.day_offset(timepoint)
        if days == 0:
            return VisitInfo(1000 * number, f"INFUSION {number}", label, tptnum, eltm, reference)
        visit = label.upper() + (f" - INFUSION {number}" if timepoint.anchor == "each_infusion" else "")
        rank = self._rank(timepoint, number)
        visitnum = 1000 * number + days if rank == 0 else round(1000 * number + days + rank / 100, 2)
        return VisitInfo(visitnum, visit, label, tptnum, eltm, reference)


def infusion_visit(number: int | None) -> tuple[int, str]:
    return (UNSCHEDULED, "UNSCHEDULED") if number is None else (1000 * number, f"INFUSION {number}")


# ---------------------------------------------------------------------------------------------
# the domains
# ---------------------------------------------------------------------------------------------


@dataclass
class Context:
    study_id: str
    scope: Scope
    protocol: Protocol
    definitions: Mapping[str, ScaleDefinition]
    codes: Mapping[str, ScaleCodes]
    participants: list[dict[str, Any]]
    infusions: Infusions
    infusion_rows: list[dict[str, Any]]
    limit: TextLimit = field(default_factory=TextLimit)

    def usubjid(self, code: str) -> str:
        return f"{self.study_id}-{code}"

    @cached_property
    def reference_dates(self) -> dict[int, date | None]:
        """RFSTDTC's local date per participant: the reference of every --DY."""
        return {p["participant_id"]: local_date(p["first_infusion_at"], p["site_timezone"]) for p in self.participants}


DM_VARS = [
    STUDYID,
    _domain_var("DM"),
    USUBJID,
    _v(
        "SUBJID",
        "Subject Identifier for the Study",
        "text",
        "Collected",
        "Investigator",
        mandatory=True,
        comment="The participant's pseudonymous study code as entered at enrolment.",
    ),
    _v(
        "RFSTDTC",
        "Subject Reference Start Date/Time",
        "datetime",
        "Derived",
        method="Start of infusion 1 (local time at the site).",
    ),
    _v(
        "RFENDTC",
        "Subject Reference End Date/Time",
        "datetime",
        "Derived",
        method="When the participant's completion or withdrawal took effect (status date); empty while ongoing.",
    ),
    _v("RFXSTDTC", "Date/Time of First Study Treatment", "datetime", "Derived", method="Start of infusion 1."),
    _v(
        "RFXENDTC",
        "Date/Time of Last Study Treatment",
        "datetime",
        "Derived",
        method="End of the last infusion (its start when no end was recorded).",
    ),
    _v("SITEID", "Study Site Identifier", "text", "Assigned", "Sponsor", mandatory=True),
    _v(
        "AGE",
        "Age",
        "integer",
        "Collected",
        "Investigator",
        comment="The screening answer in years where the protocol asks for age as a number; Scalebook stores no "
        "date of birth.",
    ),
    _v("AGEU", "Age Units", "text", "Assigned", "Sponsor", codelist="AGEU"),
    _v(
        "SEX",
        "Sex",
        "text",
        "Not Available",
        codelist="SEX",
        mandatory=True,
        comment="U for every participant: Scalebook is pseudonymous by design and does not collect sex.",
    ),
    _v(
        "ARMCD",
        "Planned Arm Code",
        "text",
        "Derived",
        codelist="ARMCD",
        method="The allocated arm's id in capitals; BLINDED in a blinded export; empty with ARMNRS when not allocated.",
    ),
    _v(
        "ARM",
        "Description of Planned Arm",
        "text",
        "Derived",
        codelist="ARM",
        free=True,
        method="The allocated arm's label from the protocol; BLINDED in a blinded export.",
    ),
    _v(
        "ACTARMCD",
        "Actual Arm Code",
        "text",
        "Derived",
        codelist="ARMCD",
        method="As ARMCD once an infusion was given (Scalebook records no other actual arm).",
    ),
    _v(
        "ACTARM",
        "Description of Actual Arm",
        "text",
        "Derived",
        codelist="ARM",
        free=True,
        method="As ARM once an infusion was given.",
    ),
    _v(
        "ARMNRS",
        "Reason Arm and/or Actual Arm is Null",
        "text",
        "Derived",
        codelist="ARMNRS",
        method="SCREEN FAILURE for a screen failure; NOT ASSIGNED when no arm is allocated; ASSIGNED, NOT TREATED "
        "when allocated but never infused.",
    ),
    _v(
        "COUNTRY",
        "Country",
        "text",
        "Not Available",
        mandatory=True,
        comment="Empty: Scalebook sites carry no country; add it from the site list before submission.",
    ),
]


def build_dm(ctx: Context, eligibility: Sequence[Mapping[str, Any]]) -> Dataset:
    arms = {a.id: a.label for a in ctx.protocol.arms}
    year_questions = {
        c.id
        for c in ctx.protocol.eligibility.criteria
        if c.answer == "integer" and (c.unit or "").lower() in ("years", "year")
    }
    ages: dict[int, int] = {}
    for decision in eligibility:  # ordered by decision id: the latest answer wins
        answers = json.loads(decision["answers"])
        for key in year_questions:
            value = answers.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                ages[decision["participant_id"]] = value
    ds = Dataset("DM", "Demographics", "SPECIAL PURPOSE", "One record per subject", ("STUDYID", "USUBJID"), DM_VARS)
    for p in ctx.participants:
        tz = p["site_timezone"]
        arm = p["arm"]
        treated = bool(p["n_infusions"])
        if p["status"] == "screen_failed" and not treated:
            armcd = arm_label = act_cd = act_label = ""
            reason = "SCREEN FAILURE"
        elif arm is None:
            armcd = arm_label = act_cd = act_label = ""
            reason = "NOT ASSIGNED"
        else:
            armcd = MASK if ctx.scope.masked else _code(arm)
            arm_label = MASK if ctx.scope.masked else ctx.limit(arms.get(arm, arm), "ARM")
            act_cd, act_label = (armcd, arm_label) if treated else ("", "")
            reason = "" if treated else "ASSIGNED, NOT TREATED"
        ended = p["status"] in ("completed", "withdrawn")
        age = ages.get(p["participant_id"])
        ds.add(
            (
                ctx.study_id,
                "DM",
                ctx.usubjid(p["participant"]),
                p["participant"],
                local_dtc(p["first_infusion_at"], tz),
                local_dtc(p["status_at"], tz) if ended else "",
                local_dtc(p["first_infusion_at"], tz),
                local_dtc(p["last_infusion_end_at"], tz),
                p["site"],
                age,
                "YEARS" if age is not None else "",
                "U",
                armcd,
                arm_label,
                act_cd,
                act_label,
                reason,
                "",
            )
        )
    return ds


EX_VARS = [
    STUDYID,
    _domain_var("EX"),
    USUBJID,
    _seq("EX"),
    _v(
        "EXTRT",
        "Name of Treatment",
        "text",
        "Derived",
        codelist="EXTRT",
        method="The allocated arm's id in capitals (the arm ids name the infused product), else the protocol's "
        "drug; BLINDED in a blinded export.",
    ),
    _v(
        "EXDOSE",
        "Dose",
        "float",
        "Collected",
        "Investigator",
        comment="Dose per kg body weight as logged; empty in a blinded export (EXDOSTXT says BLINDED).",
    ),
    _v("EXDOSTXT", "Dose Description", "text", "Assigned", "Sponsor", comment="BLINDED in a blinded export."),
    _v("EXDOSU", "Dose Units", "text", "Assigned", "Sponsor", codelist="EXDOSU"),
    _v("EXDOSFRM", "Dose Form", "text", "Assigned", "Sponsor", codelist="EXDOSFRM"),
    _v("EXROUTE", "Route of Administration", "text", "Assigned", "Sponsor", codelist="EXROUTE"),
    VISITNUM,
    VISIT,
    _v("EXSTDTC", "Start Date/Time of Treatment", "datetime", "Collected", "Investigator"),
    _v("EXENDTC", "End Date/Time of Treatment", "datetime", "Collected", "Investigator"),
    _dy("EXSTDY", "Study Day of Start of Treatment", "EXSTDTC"),
    _dy("EXENDY", "Study Day of End of Treatment", "EXENDTC"),
]


def build_ex(ctx: Context) -> Dataset:
    drug = ascii_text(ctx.protocol.dosing.drug).upper()
    arm_of = {p["participant_id"]: p["arm"] for p in ctx.participants}
    ds = Dataset(
        "EX",
        "Exposure",
        "INTERVENTIONS",
        "One record per infusion per subject",
        ("STUDYID", "USUBJID", "EXTRT", "EXSTDTC"),
        EX_VARS,
    )
    seq: dict[str, int] = defaultdict(int)
    reference = ctx.reference_dates
    for i in ctx.infusion_rows:
        tz = i["site_timezone"]
        usubjid = ctx.usubjid(i["participant"])
        seq[usubjid] += 1
        arm = arm_of.get(i["participant_id"])
        treatment = MASK if ctx.scope.masked else (_code(arm, 200).replace("_", " ") if arm else drug)
        visitnum, visit = infusion_visit(i["infusion_number"])
        ref = reference.get(i["participant_id"])
        ds.add(
            (
                ctx.study_id,
                "EX",
                usubjid,
                seq[usubjid],
                treatment,
                None if ctx.scope.masked else i["dose_mg_per_kg"],
                MASK if ctx.scope.masked else "",
                "mg/kg",
                "SOLUTION",
                "INTRAVENOUS",
                visitnum,
                visit,
                local_dtc(i["started_at"], tz),
                local_dtc(i["ended_at"], tz),
                study_day(local_date(i["started_at"], tz), ref),
                study_day(local_date(i["ended_at"], tz), ref),
            )
        )
    return ds


VS_VARS = [
    STUDYID,
    _domain_var("VS"),
    USUBJID,
    _seq("VS"),
    _v("VSTESTCD", "Vital Signs Test Short Name", "text", "Assigned", "Sponsor", codelist="VSTESTCD", mandatory=True),
    _v("VSTEST", "Vital Signs Test Name", "text", "Assigned", "Sponsor", codelist="VSTEST", mandatory=True),
    _v("VSORRES", "Result or Finding in Original Units", "text", "Collected", "Investigator"),
    _v("VSORRESU", "Original Units", "text", "Assigned", "Sponsor", codelist="UNIT"),
    _v("VSSTRESC", "Character Result/Finding in Std Format", "text", "Derived", method="VSORRES as text."),
    _v("VSSTRESN", "Numeric Result/Finding in Standard Units", "float", "Derived", method="VSORRES as a number."),
    _v("VSSTRESU", "Standard Units", "text", "Assigned", "Sponsor", codelist="UNIT"),
    _v(
        "VSLOBXFL",
        "Last Observation Before Exposure Flag",
        "text",
        "Derived",
        codelist="NY",
        method="Y on the participant's last value of each test at or before the start of infusion 1.",
    ),
    VISITNUM,
    VISIT,
    _v(
        "VSDTC",
        "Date/Time of Measurements",
        "datetime",
        "Collected",
        "Investigator",
        comment="When the measurement was taken (for WEIGHT: the start of the infusion it was dosed by).",
    ),
    _dy("VSDY", "Study Day of Vital Signs", "VSDTC"),
]


def build_vs(ctx: Context, vitals: Sequence[Mapping[str, Any]]) -> Dataset:
    records: list[tuple[Any, ...]] = []  # (participant code, utc time, test order, values...)
    for order, (column, testcd, test, unit) in enumerate(VITAL_TESTS):
        if column == "weight_kg":
            for i in ctx.infusion_rows:
                records.append(
                    (
                        i["participant"],
                        i["started_at"],
                        order,
                        i,
                        testcd,
                        test,
                        unit,
                        i["weight_kg"],
                        i["infusion_number"],
                    )
                )
            continue
        for v in vitals:
            if v[column] is not None:
                records.append(
                    (v["participant"], v["measured_at"], order, v, testcd, test, unit, v[column], v["infusion_number"])
                )
    records.sort(key=lambda r: (r[0].lower(), r[0], utc(r[1]), r[2]))
    baseline: dict[tuple[str, str], int] = {}
    for index, (code, when, _, row, testcd, *_rest) in enumerate(records):
        first = ctx.infusions.first_start(row["participant_id"])
        if first is not None and stored_utc(when, "a vital sign's time") <= first:
            baseline[(code, testcd)] = index
    flagged = set(baseline.values())
    ds = Dataset(
        "VS",
        "Vital Signs",
        "FINDINGS",
        "One record per vital sign measurement per time point per subject",
        ("STUDYID", "USUBJID", "VSTESTCD", "VISITNUM", "VSDTC"),
        VS_VARS,
    )
    seq: dict[str, int] = defaultdict(int)
    reference = ctx.reference_dates
    for index, (code, when, _, row, testcd, test, unit, value, number) in enumerate(records):
        usubjid = ctx.usubjid(code)
        seq[usubjid] += 1
        tz = row["site_timezone"]
        text = csvout.cell(value)
        visitnum, visit = infusion_visit(number)
        ds.add(
            (
                ctx.study_id,
                "VS",
                usubjid,
                seq[usubjid],
                testcd,
                test,
                text,
                unit,
                text,
                float(value),
                unit,
                "Y" if index in flagged else "",
                visitnum,
                visit,
                local_dtc(when, tz),
                study_day(local_date(when, tz), reference.get(row["participant_id"])),
            )
        )
    return ds


AE_SEVERITY = {"mild": "MILD", "moderate": "MODERATE", "severe": "SEVERE"}
AE_RELATION = {
    "not_related": "NOT RELATED",
    "unlikely": "UNLIKELY RELATED",
    "possible": "POSSIBLY RELATED",
    "probable": "PROBABLY RELATED",
    "definite": "RELATED",
}
AE_ACTION = {
    "dose_not_changed": "DOSE NOT CHANGED",
    "infusion_slowed": "DOSE RATE REDUCED",
    "infusion_interrupted": "DRUG INTERRUPTED",
    "infusion_stopped": "DRUG WITHDRAWN",
    "not_applicable": "NOT APPLICABLE",
    "unknown": "UNKNOWN",
}
AE_OUTCOME = {
    "recovered": "RECOVERED/RESOLVED",
    "recovering": "RECOVERING/RESOLVING",
    "not_recovered": "NOT RECOVERED/NOT RESOLVED",
    "recovered_with_sequelae": "RECOVERED/RESOLVED WITH SEQUELAE",
    "fatal": "FATAL",
    "unknown": "UNKNOWN",
}

AE_VARS = [
    STUDYID,
    _domain_var("AE"),
    USUBJID,
    _seq("AE"),
    _v("AETERM", "Reported Term for the Adverse Event", "text", "Collected", "Investigator", mandatory=True, free=True),
    _v(
        "AEDECOD",
        "Dictionary-Derived Term",
        "text",
        "Not Available",
        comment="Empty: Scalebook stores the verbatim term; MedDRA coding is done before submission.",
    ),
    _v("AESEV", "Severity/Intensity", "text", "Collected", "Investigator", codelist="AESEV"),
    _v("AESER", "Serious Event", "text", "Collected", "Investigator", codelist="NY"),
    _v("AEREL", "Causality", "text", "Collected", "Investigator", codelist="AEREL"),
    _v("AEACN", "Action Taken with Study Treatment", "text", "Collected", "Investigator", codelist="AEACN"),
    _v("AEOUT", "Outcome of Adverse Event", "text", "Collected", "Investigator", codelist="AEOUT"),
    _v("AESTDTC", "Start Date/Time of Adverse Event", "datetime", "Collected", "Investigator"),
    _v("AEENDTC", "End Date/Time of Adverse Event", "datetime", "Collected", "Investigator"),
    _dy("AESTDY", "Study Day of Start of Adverse Event", "AESTDTC"),
    _dy("AEENDY", "Study Day of End of Adverse Event", "AEENDTC"),
]


def build_ae(ctx: Context, events: Sequence[Mapping[str, Any]]) -> Dataset:
    ds = Dataset(
        "AE",
        "Adverse Events",
        "EVENTS",
        "One record per adverse event per subject",
        ("STUDYID", "USUBJID", "AEDECOD", "AESTDTC"),
        AE_VARS,
    )
    seq: dict[str, int] = defaultdict(int)
    reference = ctx.reference_dates
    for e in events:
        tz = e["site_timezone"]
        usubjid = ctx.usubjid(e["participant"])
        seq[usubjid] += 1
        ref = reference.get(e["participant_id"])
        ds.add(
            (
                ctx.study_id,
                "AE",
                usubjid,
                seq[usubjid],
                ctx.limit(e["term"], "AETERM"),
                "",
                AE_SEVERITY.get(e["severity"], ""),
                "Y" if e["serious"] else "N",
                AE_RELATION.get(e["relatedness"], ""),
                AE_ACTION.get(e["action_taken"] or "", ""),
                AE_OUTCOME.get(e["outcome"] or "", ""),
                local_dtc(e["onset_at"], tz),
                local_dtc(e["resolved_at"], tz),
                study_day(local_date(e["onset_at"], tz), ref),
                study_day(local_date(e["resolved_at"], tz), ref),
            )
        )
    return ds


def findings_vars(domain: str) -> list[Var]:
    """RS or QS variables (SDTMIG 3.4 labels; QS words 'Question' where RS says 'Assessment')."""
    clinician = domain == "RS"
    source = "Investigator" if clinician else "Subject"
    what = "Assessment" if clinician else "Question"
    return [
        STUDYID,
        _domain_var(domain),
        USUBJID,
        _seq(domain),
        _v(
            f"{domain}TESTCD",
            f"{what} Short Name",
            "text",
            "Assigned",
            "Sponsor",
            codelist=f"{domain}TESTCD",
            mandatory=True,
            comment="CDISC CT test codes where CDISC publishes the instrument, else Scalebook "
            "sponsor-defined (testcodes.csv says which).",
        ),
        _v(f"{domain}TEST", f"{what} Name", "text", "Assigned", "Sponsor", codelist=f"{domain}TEST", mandatory=True),
        _v(
            f"{domain}CAT",
            f"Category for {what}" if clinician else "Category of Question",
            "text",
            "Assigned",
            "Sponsor",
            codelist=f"{domain}CAT",
        ),
        _v(
            f"{domain}ORRES",
            "Result or Finding in Original Units" if clinician else "Finding in Original Units",
            "text",
            "Collected",
            source,
            comment="Items: the label of the option chosen; totals and subscales (DRVFL Y): the stored score.",
        ),
        _v(
            f"{domain}ORRESU",
            "Original Units",
            "text",
            "Assigned",
            "Sponsor",
            comment="Empty: rating-scale scores have no unit.",
        ),
        _v(
            f"{domain}STRESC",
            "Character Result/Finding in Std Format",
            "text",
            "Derived",
            method="The item's score (or the derived score) as text.",
        ),
        _v(
            f"{domain}STRESN",
            "Numeric Result/Finding in Standard Units",
            "float",
            "Derived",
            method="The item's score (or the derived score) as a number.",
        ),
        _v(
            f"{domain}STAT",
            "Completion Status",
            "text",
            "Derived",
            codelist="ND",
            method="NOT DONE when the record has no result: the item was not assessed, not answered or not "
            "applicable, or the derived score could not be computed.",
        ),
        _v(
            f"{domain}REASND",
            "Reason Not Done",
            "text",
            "Collected",
            source,
            free=True,
            comment="The reason recorded with a not-assessed item, else NOT ASSESSED, NOT ANSWERED, NOT "
            "APPLICABLE (with why) or NOT COMPUTED.",
        ),
        _v(
            f"{domain}LOBXFL",
            "Last Observation Before Exposure Flag",
            "text",
            "Derived",
            codelist="NY",
            method="Y on the records with a result of the participant's baseline rating of the scale, chosen by "
            "the protocol's baseline rule: the last submitted rating with a total at the baseline timepoint "
            "that happened before infusion 1 started (within the protocol's lookback).",
        ),
        _v(
            f"{domain}DRVFL",
            "Derived Flag",
            "text",
            "Derived",
            codelist="NY",
            method="Y on totals and subscales (QIDS-SR16 domain maxima included): the score stored when the "
            "assessment was submitted, computed by the scale engine from the definition.",
        ),
        VISITNUM,
        VISIT,
        _v(
            f"{domain}DTC",
            f"Date/Time of {'Assessment' if clinician else 'Finding'}",
            "datetime",
            "Collected",
            source,
            comment="When the rating happened (for one entered later: when it was done), local time at the site.",
        ),
        _dy(f"{domain}DY", f"Study Day of {'Assessment' if clinician else 'Finding'}", f"{domain}DTC"),
        _v(
            f"{domain}TPT",
            "Planned Time Point Name",
            "text",
            "Protocol",
            free=True,
            comment="The protocol timepoint's label (the stored timepoint text when the protocol does not name it).",
        ),
        _v(
            f"{domain}TPTNUM",
            "Planned Time Point Number",
            "integer",
            "Protocol",
            comment="The timepoint's position in the protocol file.",
        ),
        _v(
            f"{domain}ELTM",
            "Planned Elapsed Time from Time Point Ref",
            "durationDatetime",
            "Protocol",
            comment="The timepoint's planned offset from its anchor (ISO 8601 duration).",
        ),
        _v(
            f"{domain}TPTREF",
            "Time Point Reference",
            "text",
            "Protocol",
            comment="INFUSION n START for timepoints anchored to an infusion, ENROLMENT for those anchored to "
            "enrolment.",
        ),
        _v(
            f"{domain}EVLINT",
            "Evaluation Interval",
            "durationDatetime",
            "Derived",
            method="The assessment's recall period as a negative ISO 8601 duration (7d: -P7D, 24h: -PT24H); empty "
            "for 'right now'.",
        ),
    ]


def _baselines(ctx: Context, assessments: Sequence[Mapping[str, Any]]) -> set[int]:
    """The assessment ids that are each participant's baseline of a scale (protocol.baseline)."""
    usable: dict[tuple[int, str], list[Mapping[str, Any]]] = defaultdict(list)
    for row in assessments:
        if row["total"] is not None:
            usable[(row["participant_id"], row["scale_id"])].append(row)
    chosen = set()
    for (participant_id, _), rows in usable.items():
        index = baseline_index(
            ctx.protocol,
            [stored_utc(r["happened_at"], "a completed rating's time") for r in rows],
            [parse_assessment_timepoint(r["timepoint"]) for r in rows],
            ctx.infusions.first_start(participant_id),
        )
        if index is not None:
            chosen.add(rows[index]["assessment_id"])
    return chosen


def option_labels(definition: ScaleDefinition) -> dict[str, dict[int, str]]:
    """Per item, the ASCII label of each option (--ORRES of an answer)."""
    return {item.id: {o["value"]: ascii_text(o["label"]) for o in item.options} for item in definition.items}


def _not_applicable(definition: ScaleDefinition, item_id: str, values: Mapping[str, int]) -> str:
    group = definition.group_of.get(item_id)
    if group:
        rated = [m for m in group if values.get(m) is not None and m != item_id]
        if rated:
            number = definition.item_by_id[rated[0]].number
            return f"NOT APPLICABLE: ITEM {number} RATED INSTEAD"
    return "NOT APPLICABLE: NOT ASKED FOR THESE ANSWERS"


FINDINGS = {
    "RS": (
        "Disease Response and Clin Classification",
        "One record per assessment per time point per visit per subject",
    ),
    "QS": ("Questionnaires", "One record per questionnaire per question per time point per visit per subject"),
}


def build_findings(ctx: Context, db: Database, domain: str) -> Dataset:
    """RS or QS (the scales whose codes go to that domain), walking assessments and responses in
    step (db.exports' ordering contract)."""
    label, structure = FINDINGS[domain]
    dataset = Dataset(
        domain,
        label,
        "FINDINGS",
        structure,
        ("STUDYID", "USUBJID", f"{domain}CAT", f"{domain}TESTCD", "VISITNUM", f"{domain}TPTNUM", f"{domain}DTC"),
        findings_vars(domain),
    )
    scale_ids = sorted(s for s, codes in ctx.codes.items() if codes.domain == domain)
    if not scale_ids:
        return dataset
    visits = Visits(ctx.protocol)
    timepoints = Timepoints(ctx.protocol)
    assessments = list(db_exports.assessment_rows(db, site_id=ctx.scope.site_id, scale_ids=scale_ids))
    baselines = _baselines(ctx, assessments)
    reference = ctx.reference_dates
    seq: dict[str, int] = defaultdict(int)
    limit = ctx.limit
    label_cache: dict[str, dict[str, dict[int, str]]] = {}
    responses = db_exports.response_rows(db, site_id=ctx.scope.site_id, scale_ids=scale_ids)
    pending = next(responses, None)
    for row in assessments:
        answers: dict[str, tuple[int | None, str | None]] = {}
        while pending is not None and pending["assessment_id"] == row["assessment_id"]:
            answers[pending["item_id"]] = (pending["value"], pending["not_assessed_reason"])
            pending = next(responses, None)
        definition = ctx.definitions.get(row["scale_id"])
        codes = ctx.codes.get(row["scale_id"])
        if definition is None or codes is None:
            continue  # a scale no longer shipped: its definition (and codes) are unknown
        labels = label_cache.get(definition.id)
        if labels is None:
            labels = label_cache[definition.id] = option_labels(definition)
        tz = row["site_timezone"]
        usubjid = ctx.usubjid(row["participant"])
        number = infusion_reference(row, timepoints, ctx.infusions)
        visit = visits.info(row["timepoint"], number)
        dtc = local_dtc(row["happened_at"], tz)
        day = study_day(local_date(row["happened_at"], tz), reference.get(row["participant_id"]))
        evlint = evaluation_interval(row["recall"])
        is_baseline = row["assessment_id"] in baselines
        category = codes.category
        tail = (
            visit.visitnum,
            visit.visit,
            dtc,
            day,
            limit(visit.tpt, f"{domain}TPT"),
            visit.tptnum,
            visit.eltm,
            visit.tptref,
            evlint,
        )
        values = {k: v for k, (v, _) in answers.items() if v is not None}
        shown = set(visible_items(definition, values))
        key = usubjid
        result: tuple[str, str, str, int | None, str, str, str, str]  # --ORRES to --DRVFL of one record
        for item in definition.items:
            test = codes.items[item.id]
            value, reason = answers.get(item.id, (None, None))
            seq[key] += 1
            if value is not None and value in item.scored_values:
                result = (
                    labels[item.id].get(value, str(value)),
                    "",
                    str(value),
                    value,
                    "",
                    "",
                    "Y" if is_baseline else "",
                    "",
                )
            else:
                if value is not None or reason:
                    why = reason or next((c["label"] for c in item.not_assessed if c["value"] == value), "NOT ASSESSED")
                    why = why if reason else why.upper()
                elif item.id not in shown:
                    why = _not_applicable(definition, item.id, values)
                else:
                    why = "NOT ANSWERED"
                result = ("", "", "", None, "NOT DONE", limit(why, f"{domain}REASND"), "", "")
            dataset.add((ctx.study_id, domain, usubjid, seq[key], test.testcd, test.test, category, *result, *tail))
        subscales = subscale_values(row["subscales"])
        derived = [(codes.total, row["total"])] + [
            (codes.subscales[s.id], subscales.get(s.id)) for s in definition.subscales
        ]
        for test, score in derived:
            seq[key] += 1
            if score is None:
                result = ("", "", "", None, "NOT DONE", "NOT COMPUTED: ITEMS MISSING OR NOT ASSESSED", "", "Y")
            else:
                result = (str(score), "", str(score), score, "", "", "Y" if is_baseline else "", "Y")
            dataset.add((ctx.study_id, domain, usubjid, seq[key], test.testcd, test.test, category, *result, *tail))
    if pending is not None:
        raise CommandError(
            f"internal error: response of assessment {pending['assessment_id']} came out of order; nothing was exported"
        )
    return dataset


# ---------------------------------------------------------------------------------------------
# codelists for define.xml
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CodeListItem:
    value: str
    decode: str | None = None
    nci: str = ""
    extended: bool = False


@dataclass(frozen=True)
class CodeList:
    key: str
    name: str
    nci: str = ""  # the CDISC codelist's C-code (empty: sponsor-defined)
    items: tuple[CodeListItem, ...] = ()
    data_type: str = "text"


def codelists(ctx: Context) -> dict[str, CodeList]:
    """Every codelist a variable refers to (CDISC codelists named by their C-code)."""
    lists = {
        f"DOMAIN.{d}": CodeList(f"DOMAIN.{d}", f"Domain Abbreviation ({d})", "C66734", (CodeListItem(d),))
        for d in DOMAINS
    }
    yn = (CodeListItem("Y", "Yes"), CodeListItem("N", "No"))
    lists["NY"] = CodeList("NY", "No Yes Response", "C66742", yn)
    lists["ND"] = CodeList("ND", "Not Done", "C66789", (CodeListItem("NOT DONE"),))
    lists["SEX"] = CodeList("SEX", "Sex", "C66731", (CodeListItem("U", "Unknown"),))
    lists["AGEU"] = CodeList("AGEU", "Age Unit", "C66781", (CodeListItem("YEARS"),))
    lists["ARMNRS"] = CodeList(
        "ARMNRS",
        "Arm Null Reason",
        "C142179",
        tuple(CodeListItem(v) for v in ("ASSIGNED, NOT TREATED", "NOT ASSIGNED", "SCREEN FAILURE")),
    )
    arms = [(_code(a.id), ascii_text(a.label)) for a in ctx.protocol.arms]
    lists["ARMCD"] = CodeList(
        "ARMCD",
        "Planned/Actual Arm Code",
        items=tuple(
            [CodeListItem(code, label) for code, label in arms] + [CodeListItem(MASK, "Masked: blinded export")]
        ),
    )
    lists["ARM"] = CodeList(
        "ARM", "Planned/Actual Arm", items=tuple([CodeListItem(label) for _, label in arms] + [CodeListItem(MASK)])
    )
    treatments = sorted(
        {_code(a.id, 200).replace("_", " ") for a in ctx.protocol.arms}
        | {ascii_text(ctx.protocol.dosing.drug).upper(), MASK}
    )
    lists["EXTRT"] = CodeList("EXTRT", "Name of Treatment", items=tuple(CodeListItem(t) for t in treatments))
    lists["EXDOSU"] = CodeList("EXDOSU", "Unit (dose)", "C71620", (CodeListItem("mg/kg"),))
    lists["EXDOSFRM"] = CodeList("EXDOSFRM", "Pharmaceutical Dosage Form", "C66726", (CodeListItem("SOLUTION"),))
    lists["EXROUTE"] = CodeList("EXROUTE", "Route of Administration", "C66729", (CodeListItem("INTRAVENOUS"),))
    lists["VSTESTCD"] = CodeList(
        "VSTESTCD",
        "Vital Signs Test Code",
        "C66741",
        tuple(CodeListItem(code, name) for _, code, name, _ in VITAL_TESTS),
    )
    lists["VSTEST"] = CodeList(
        "VSTEST", "Vital Signs Test Name", "C67153", tuple(CodeListItem(name) for _, _, name, _ in VITAL_TESTS)
    )
    lists["UNIT"] = CodeList(
        "UNIT",
        "Unit (vital signs)",
        "C71620",
        tuple(CodeListItem(u) for u in dict.fromkeys(unit for *_, unit in VITAL_TESTS)),
    )
    lists["AESEV"] = CodeList(
        "AESEV",
        "Severity/Intensity Scale for Adverse Events",
        "C66769",
        tuple(CodeListItem(v) for v in AE_SEVERITY.values()),
    )
    lists["AEREL"] = CodeList(
        "AEREL", "Causality (sponsor-defined)", items=tuple(CodeListItem(v) for v in AE_RELATION.values())
    )
    lists["AEACN"] = CodeList(
        "AEACN", "Action Taken with Study Treatment", "C66767", tuple(CodeListItem(v) for v in AE_ACTION.values())
    )
    lists["AEOUT"] = CodeList(
        "AEOUT", "Outcome of Event", "C66768", tuple(CodeListItem(v) for v in AE_OUTCOME.values())
    )
    for domain in ("RS", "QS"):
        tests = [t for codes in ctx.codes.values() if codes.domain == domain for t in codes.all()]
        lists[f"{domain}TESTCD"] = CodeList(
            f"{domain}TESTCD",
            f"{domain} test codes (CDISC and Scalebook)",
            items=tuple(CodeListItem(t.testcd, t.test, t.nci_code, t.defined_by != CDISC) for t in tests),
        )
        lists[f"{domain}TEST"] = CodeList(
            f"{domain}TEST",
            f"{domain} test names (CDISC and Scalebook)",
            items=tuple(CodeListItem(t.test, None, t.nci_code, t.defined_by != CDISC) for t in tests),
        )
        categories = {c.category: c for c in ctx.codes.values() if c.domain == domain}
        lists[f"{domain}CAT"] = CodeList(
            f"{domain}CAT",
            "Category of Clinical Classification" if domain == "RS" else "Category of Questionnaire",
            "C118971" if domain == "RS" else "C100129",
            tuple(
                CodeListItem(c.category, None, c.category_nci, c.category_defined_by != CDISC)
                for c in categories.values()
            ),
        )
    return lists


TESTCODE_COLUMNS = (
    "domain",
    "category",
    "testcd",
    "test",
    "defined_by",
    "category_defined_by",
    "codelist",
    "nci_code",
    "scale",
    "source",
    "derived",
)


def testcode_rows(ctx: Context) -> list[dict[str, Any]]:
    rows = []
    for codes in ctx.codes.values():
        for t in codes.all():
            rows.append(
                {
                    "domain": t.domain,
                    "category": t.category,
                    "testcd": t.testcd,
                    "test": t.test,
                    "defined_by": t.defined_by,
                    "category_defined_by": codes.category_defined_by,
                    "codelist": t.codelist,
                    "nci_code": t.nci_code,
                    "scale": t.scale_id,
                    "source": t.source,
                    "derived": "Y" if t.derived else "N",
                }
            )
    for column, code, name, _ in VITAL_TESTS:
        rows.append(
            {
                "domain": "VS",
                "category": "",
                "testcd": code,
                "test": name,
                "defined_by": CDISC,
                "category_defined_by": "",
                "codelist": "C66741",
                "nci_code": "",
                "scale": "",
                "source": column,
                "derived": "N",
            }
        )
    return rows


# ---------------------------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------------------------


def write_dataset(dataset: Dataset, out: Path) -> None:
    """<domain>.xpt (SAS transport v5 through pyreadstat) and <domain>.csv with the same values;
    then the data is released, keeping what define.xml needs (count, lengths)."""
    from exports import define_xml

    columns = dataset.columns()
    dataset.lengths = define_xml.dataset_lengths(dataset)
    csvout.write_columns(
        out / f"{dataset.name.lower()}.csv",
        columns,
        raw={v.name for v in dataset.variables if not v.free},
        text={v.name for v in dataset.variables if not v.numeric},
    )
    del columns
    frame = dataset.frame()  # moves the values into the frame
    labels: dict[str, str | None] = {v.name: v.label for v in dataset.variables}
    pyreadstat.write_xport(
        frame,
        str(out / dataset.file),
        file_label=dataset.label,
        column_labels=labels,
        table_name=dataset.name,
        file_format_version=5,
    )


def context(db: Database, scope: Scope, protocol: Protocol, study_id: str) -> Context:
    """Everything the domains share; CommandError when a definition's codes are unusable."""
    definitions = dict(sorted(registry().items()))
    codes, problems = catalog(definitions)
    if problems:
        raise CommandError(problems)
    infusion_rows = db_exports.infusion_rows(db, site_id=scope.site_id)
    return Context(
        study_id=study_id,
        scope=scope,
        protocol=protocol,
        definitions=definitions,
        codes=codes,
        participants=db_exports.participant_rows(db, site_id=scope.site_id),
        infusions=Infusions(infusion_rows),
        infusion_rows=infusion_rows,
    )


def build_domains(ctx: Context, db: Database) -> Iterator[Dataset]:
    """DM, EX, VS, AE, RS, QS, one at a time (a domain is written and released before the next
    is built, so only one large domain is in memory at once)."""
    yield build_dm(ctx, db_exports.eligibility_rows(db, site_id=ctx.scope.site_id))
    yield build_ex(ctx)
    yield build_vs(ctx, db_exports.vitals_rows(db, site_id=ctx.scope.site_id))
    yield build_ae(ctx, db_exports.adverse_event_rows(db, site_id=ctx.scope.site_id))
    yield build_findings(ctx, db, "RS")
    yield build_findings(ctx, db, "QS")


def write_files(
    db: Database, scope: Scope, protocol: Protocol, study_id: str, out: Path
) -> tuple[dict[str, int], TextLimit]:
    from exports import define_xml

    ctx = context(db, scope, protocol, study_id)
    counts = {}
    datasets = []
    for dataset in build_domains(ctx, db):
        write_dataset(dataset, out)
        counts[dataset.file] = dataset.count
        datasets.append(dataset)
    counts["testcodes.csv"] = csvout.write_csv(
        out / "testcodes.csv", TESTCODE_COLUMNS, testcode_rows(ctx), raw=TESTCODE_COLUMNS
    )
    define_xml.write(
        out / "define.xml",
        datasets,
        codelists(ctx),
        study_id=study_id,
        protocol=protocol,
        ct_version=CT_VERSION,
        sdtmig_version=SDTMIG_VERSION,
        synthetic=is_demo(db),
    )
    counts["define.xml"] = len(datasets)
    return counts, ctx.limit


def run(args: argparse.Namespace) -> int:
    counts, limit = export_to_directory(
        args,
        "sdtm",
        lambda db, scope, protocol, out: write_files(db, scope, protocol, args.study_id, out),
        problems=study_id_problems(args.study_id),
        details={"study_id": args.study_id},
    )
    out = Path(args.out)
    for variable, cut in sorted(limit.cut.items()):
        print(
            f"python -m exports sdtm: note: {cut} {variable} value(s) longer than {MAX_TEXT} characters were cut "
            f"to {MAX_TEXT} (the full text is in the CSV export)",
            file=sys.stderr,
        )
    records = {k: v for k, v in counts.items() if k.endswith(".xpt")}
    print(f"wrote {', '.join(f'{k} ({v})' for k, v in records.items())}, testcodes.csv and define.xml to {out}")
    return 0


def register(commands) -> None:
    p = commands.add_parser(
        "sdtm",
        help="write CDISC SDTM datasets (DM, EX, VS, AE, RS, QS) with define.xml",
        description="Write the SDTM domains DM, EX, VS, AE, RS (clinician-rated scales) and QS (self-report) as "
        "<domain>.xpt (SAS transport v5) and <domain>.csv, testcodes.csv (every test code, its name, "
        "category and whether CDISC or Scalebook defined it) and define.xml (Define-XML 2.1) into a new "
        "or empty directory. Test codes follow CDISC controlled terminology 2025-03-25 where CDISC "
        "publishes the instrument. The export is audited.",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="a new or empty directory to write the files to")
    p.add_argument("--study-id", required=True, metavar="ID", help="STUDYID (1-20 letters, digits, '-', '_')")
    add_scope_arguments(p)
    p.set_defaults(run=run)
