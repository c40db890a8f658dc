"""CDISC controlled terminology and the test codes every scale uses in SDTM (RS or QS).

The terminology is CDISC CT release 2025-03-25 as published by NCI EVS, restricted to the
instruments Scalebook ships (exports/cdisc/ct_psych_2025-03-25.tsv, a copy of the project's
reference file shared/reference/cdisc_ct_psych.tsv; a test keeps the two identical).

Test codes, per scale (`catalog`):
- where CDISC publishes the instrument (the definition's `cdisc` block names the test-code
  codelist, e.g. HAM-D 17 → C100138): the item, total and subscale codes given in the definition
  must be terms of that codelist, and their names the matching terms of the paired test-name
  codelist (C100137); anything else is refused, never exported under a made-up code;
- what CDISC does not publish (MADRS, CADSS and MADRS-S items; the HAM-D6 and BPRS+
  subscales) is Scalebook sponsor-defined: the definition's codes, else a code starting with
  SB, and no sponsor code may equal any CDISC term of the terminology file.
Every code is 1-8 upper-case letters, digits or '_', every name at most 40 characters.

The vital-sign test codes are CDISC's VSTESTCD/VSTEST terms (codelists C66741/C67153).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from scales import ScaleDefinition

CT_FILE = Path(__file__).resolve().parent / "cdisc" / "ct_psych_2025-03-25.tsv"
CT_VERSION = "2025-03-25"
CATEGORY_CODELISTS = {"RS": "C118971", "QS": "C100129"}  # CCCAT, QSCAT
TESTCD_PATTERN = re.compile(r"^[A-Z][A-Z0-9_]{0,7}$")
CDISC = "CDISC"
SPONSOR = "Scalebook"

#: Sponsor codes for derived scores that the definitions do not code (stable across exports).
SPONSOR_SUBSCALE_CODES = {("hamd17", "hamd6"): "SBHAMD6", ("bprs", "positive"): "SBBPRSP"}


@dataclass(frozen=True)
class Term:
    code: str  # NCI C-code of the term
    codelist: str  # NCI C-code of its codelist ('' for a codelist's own row)
    value: str  # CDISC submission value
    synonym: str
    codelist_name: str
    extensible: str


@dataclass
class Terminology:
    codelists: dict[str, Term] = field(default_factory=dict)  # codelist C-code → its header row
    terms: dict[str, dict[str, Term]] = field(default_factory=dict)  # codelist C-code → value → term
    values: set[str] = field(default_factory=set)  # every submission value of every term

    def name_codelist(self, code_codelist: str) -> str | None:
        """The test-name codelist paired with a test-code codelist (same name, 'Name' for 'Code')."""
        header = self.codelists.get(code_codelist)
        if header is None:
            return None
        wanted = header.codelist_name.replace("Test Code", "Test Name")
        for code, other in self.codelists.items():
            if other.codelist_name == wanted and code != code_codelist:
                return code
        return None


@lru_cache(maxsize=4)
def load_terminology(path: Path = CT_FILE) -> Terminology:
    terminology = Terminology()
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            term = Term(
                row["Code"],
                row["Codelist Code"],
                row["CDISC Submission Value"],
                row["CDISC Synonym(s)"],
                row["Codelist Name"],
                row["Codelist Extensible (Yes/No)"],
            )
            if not term.codelist:
                terminology.codelists[term.code] = term
            else:
                terminology.terms.setdefault(term.codelist, {})[term.value] = term
                terminology.values.add(term.value)
    return terminology


@dataclass(frozen=True)
class TestCode:
    domain: str
    category: str
    testcd: str
    test: str
    defined_by: str  # CDISC or Scalebook
    scale_id: str
    source: str  # "item <id>", "total" or "subscale <id>"
    derived: bool
    codelist: str = ""  # NCI C-code of the test-code codelist (CDISC codes)
    nci_code: str = ""  # NCI C-code of the term (CDISC codes)


@dataclass(frozen=True)
class ScaleCodes:
    scale_id: str
    domain: str
    category: str
    category_defined_by: str
    category_nci: str
    items: Mapping[str, TestCode]
    total: TestCode
    subscales: Mapping[str, TestCode]

    def all(self) -> list[TestCode]:
        return [*self.items.values(), self.total, *self.subscales.values()]


def _alnum(text: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", text.upper())


def scale_codes(definition: ScaleDefinition, terminology: Terminology) -> tuple[ScaleCodes, list[str]]:
    """The SDTM codes of one scale and the problems found (one line each; empty when usable)."""
    cdisc = definition.raw.get("cdisc") or {}
    file = f"scales/definitions/{definition.id}.json"
    domain = cdisc.get("domain") or ("QS" if definition.rater == "self" else "RS")
    category = cdisc.get("category") or definition.abbreviation.upper()
    category_term = terminology.terms.get(CATEGORY_CODELISTS.get(domain, ""), {}).get(category)
    codelist = "" if cdisc.get("sponsor_defined", True) else cdisc.get("test_code_codelist", "")
    code_terms = terminology.terms.get(codelist, {}) if codelist else {}
    name_terms = terminology.terms.get(terminology.name_codelist(codelist) or "", {}) if codelist else {}
    problems: list[str] = []
    if codelist and not code_terms:
        problems.append(f"{file}: cdisc.test_code_codelist {codelist} is not in the terminology file {CT_FILE.name}")
    prefix = "SB" + _alnum(definition.id)[:3]

    def make(
        source: str, derived: bool, testcd: str | None, test: str | None, fallback_code: str, fallback_name: str
    ) -> TestCode:
        if codelist and testcd and testcd in code_terms:
            term = code_terms[testcd]
            name = term.synonym
            if test and test != name:
                problems.append(f"{file}: {source}: test name '{test}' differs from CDISC's '{name}' for {testcd}")
            if name_terms and name not in name_terms:
                problems.append(f"{file}: {source}: CDISC test name '{name}' is not in the paired name codelist")
            return TestCode(domain, category, testcd, name, CDISC, definition.id, source, derived, codelist, term.code)
        if codelist and testcd:
            problems.append(
                f"{file}: {source}: test code {testcd} is not a term of CDISC codelist {codelist}; "
                f"correct the definition (codes are never invented for a CDISC instrument)"
            )
        code = testcd or fallback_code
        name = test or fallback_name
        if code in terminology.values:
            problems.append(
                f"{file}: {source}: sponsor-defined test code {code} collides with a CDISC term; choose another code"
            )
        return TestCode(domain, category, code, name[:40], SPONSOR, definition.id, source, derived)

    items = {}
    for n, item in enumerate(definition.items, start=1):
        items[item.id] = make(
            f"item {item.id}",
            False,
            item.raw.get("cdisc_testcd"),
            item.raw.get("cdisc_test"),
            f"{prefix}{n:02d}",
            f"{definition.abbreviation}-{item.short_name}",
        )
    total_raw = definition.raw.get("scoring", {}).get("total", {})
    total = make(
        "total",
        True,
        total_raw.get("cdisc_testcd"),
        total_raw.get("cdisc_test"),
        f"{prefix}TOT",
        f"{definition.abbreviation}-Total Score",
    )
    name_prefix = total.test.split("-", 1)[0] if "-" in total.test else definition.abbreviation
    subscales = {}
    for n, sub in enumerate(definition.subscales, start=1):
        fallback = SPONSOR_SUBSCALE_CODES.get((definition.id, sub.id), f"{prefix}S{n}")
        subscales[sub.id] = make(
            f"subscale {sub.id}",
            True,
            sub.raw.get("cdisc_testcd"),
            sub.raw.get("cdisc_test"),
            fallback,
            f"{name_prefix}-{sub.label}",
        )
    codes = ScaleCodes(
        definition.id,
        domain,
        category,
        CDISC if category_term else SPONSOR,
        category_term.code if category_term else "",
        items,
        total,
        subscales,
    )
    seen: dict[str, str] = {}
    for test in codes.all():
        if not TESTCD_PATTERN.match(test.testcd):
            problems.append(
                f"{file}: {test.source}: test code '{test.testcd}' must be 1-8 upper-case letters, "
                f"digits or '_', starting with a letter"
            )
        if len(test.test) > 40:
            problems.append(f"{file}: {test.source}: test name '{test.test}' is longer than 40 characters")
        if test.testcd in seen:
            problems.append(f"{file}: {test.source}: test code {test.testcd} is used twice (also {seen[test.testcd]})")
        seen[test.testcd] = test.source
    return codes, problems


def catalog(
    definitions: Mapping[str, ScaleDefinition], terminology: Terminology | None = None
) -> tuple[dict[str, ScaleCodes], list[str]]:
    """Every scale's codes, and every problem found (codes must also be unique within a domain)."""
    terminology = terminology or load_terminology()
    result: dict[str, ScaleCodes] = {}
    problems: list[str] = []
    owners: dict[tuple[str, str], str] = {}
    for scale_id, definition in sorted(definitions.items()):
        codes, found = scale_codes(definition, terminology)
        problems += found
        for test in codes.all():
            other = owners.setdefault((codes.domain, test.testcd), scale_id)
            if other != scale_id:
                problems.append(
                    f"scales/definitions/{scale_id}.json: test code {test.testcd} is also used by "
                    f"{other} in {codes.domain}"
                )
        result[scale_id] = codes
    return result, problems


# Vital signs: CDISC VSTESTCD (C66741) / VSTEST (C67153) terms and their standard units.
VITAL_TESTS = (
    # column, VSTESTCD, VSTEST, unit
    ("systolic", "SYSBP", "Systolic Blood Pressure", "mmHg"),
    ("diastolic", "DIABP", "Diastolic Blood Pressure", "mmHg"),
    ("heart_rate", "HR", "Heart Rate", "beats/min"),
    ("resp_rate", "RESP", "Respiratory Rate", "breaths/min"),
    ("spo2", "OXYSAT", "Oxygen Saturation", "%"),
    ("temperature_c", "TEMP", "Temperature", "C"),
    ("weight_kg", "WEIGHT", "Weight", "kg"),
)
VS_TESTCD_CODELIST = "C66741"
