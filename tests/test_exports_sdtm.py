"""`python -m exports sdtm`: CDISC SDTM datasets with Define-XML (issue 12, point 2).

Judged with tools others wrote: pyreadstat and pandas.read_sas read the transport files back,
lxml parses define.xml, and the codes are checked against the CDISC terminology file the project
was given (shared/reference/cdisc_ct_psych.tsv). The study is the one tests/test_exports_csv.py
builds.
"""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest
from lxml import etree

from db.connection import connect, database_path
from db.migrations import init_database
from exports.sdtm import evaluation_interval, iso_duration
from exports.sdtm_terms import CT_FILE, catalog, load_terminology
from protocol.timing import Duration
from scales.loader import registry
from tests.test_exports_csv import FORMULA_REASON, FORMULA_TERM, export, export_events, seed_study

ROOT = Path(__file__).resolve().parent.parent
SHARED_CT = ROOT.parent / "shared" / "reference" / "cdisc_ct_psych.tsv"
DOMAINS = ("dm", "ex", "vs", "ae", "rs", "qs")
ODM = "{http://www.cdisc.org/ns/odm/v1.3}"
DEF = "{http://www.cdisc.org/ns/def/v2.1}"
XLINK = "{http://www.w3.org/1999/xlink}"


@pytest.fixture(scope="module")
def sdtm_dirs(tmp_path_factory):
    """One seeded study exported twice (masked by default, and as the admin): the SDTM build is
    the slow part, so the tests below share it."""
    base = tmp_path_factory.mktemp("sdtm")
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("SCALEBOOK_DB", str(base / "scalebook.db"))
    try:
        seed_study(monkeypatch)
        from exports.cli import main

        results = {}
        for name, extra in (("masked", []), ("admin", ["--as", "admin"])):
            out = base / name
            import contextlib
            import io

            err = io.StringIO()
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                code = main(["sdtm", "--out", str(out), "--study-id", "KET-01", *extra])
            results[name] = (code, out, err.getvalue())
        results["db"] = base / "scalebook.db"
        yield results
    finally:
        monkeypatch.undo()


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def xpt(path: Path):
    return pyreadstat.read_xport(str(path))


def shared_terminology() -> list[dict[str, str]]:
    source = SHARED_CT if SHARED_CT.exists() else CT_FILE
    with source.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


# --------------------------------------------------------------------------- pure pieces


def test_the_shipped_terminology_is_the_projects_reference_file():
    if not SHARED_CT.exists():
        pytest.skip("shared/reference is not beside this checkout")
    assert CT_FILE.read_bytes() == SHARED_CT.read_bytes()


def test_every_shipped_scale_has_valid_codes():
    codes, problems = catalog(registry())
    assert problems == []
    # every scale has codes, in the domain its rater implies: clinician-rated RS, self-report QS
    # (no list of scales here: a new definition is checked without editing this test)
    assert {s: c.domain for s, c in codes.items()} == {
        s: "QS" if d.rater == "self" else "RS" for s, d in registry().items()
    }
    assert {"madrs": "RS", "phq9": "QS"}.items() <= {s: c.domain for s, c in codes.items()}.items()


def test_a_definition_claiming_a_cdisc_code_cdisc_lacks_is_refused():
    import copy

    from scales.loader import compile_definition

    raw = copy.deepcopy(registry()["hamd17"].raw)
    raw["items"][0]["cdisc_testcd"] = "HAMD199"
    codes, problems = catalog({"hamd17": compile_definition(raw)})
    assert any("HAMD199 is not a term of CDISC codelist C100138" in p for p in problems)
    raw = copy.deepcopy(registry()["madrs"].raw)
    raw["items"][0]["cdisc_testcd"] = "HAMD101"  # a sponsor code may not take a CDISC term
    codes, problems = catalog({"madrs": compile_definition(raw)})
    assert any("HAMD101 collides with a CDISC term" in p for p in problems)


def test_durations_and_recall_periods():
    assert iso_duration(Duration(40, "minutes")) == "PT40M"
    assert iso_duration(Duration(1, "days")) == "P1D"
    assert iso_duration(Duration(-30, "minutes")) == "-PT30M"
    assert [evaluation_interval(r) for r in ("7d", "24h", "2w", "3d", "now")] == ["-P7D", "-PT24H", "-P2W", "-P3D", ""]


def test_visits_follow_the_protocol_timepoints():
    import copy

    from exports.sdtm import Visits
    from protocol import load_protocol
    from protocol.loader import STUDIES_DIR, compile_protocol

    repeated = load_protocol(STUDIES_DIR / "repeated_infusion.json")
    visits = Visits(repeated)
    baseline = visits.info("baseline", 1)
    assert (baseline.visitnum, baseline.visit) == (1, "BASELINE")
    pre = visits.info("pre_infusion@2", 2)
    assert (pre.visitnum, pre.visit, pre.eltm, pre.tptref) == (2000, "INFUSION 2", "PT0M", "INFUSION 2 START")
    day1 = visits.info("day_1@3", 3)
    assert (day1.visitnum, day1.visit, day1.eltm) == (3001, "DAY AFTER THE INFUSION - INFUSION 3", "P1D")
    week1 = visits.info("week_1", 4)  # anchored to infusion 1, whatever it was recorded against
    assert (week1.visitnum, week1.visit, week1.tptref) == (1007, "WEEK 1", "INFUSION 1 START")
    other = visits.info("extra visit", None)
    assert (other.visitnum, other.visit, other.tpt, other.tptnum) == (9999, "UNSCHEDULED", "extra visit", None)
    # two timepoints on the same day after infusion 1 keep distinct visit numbers, in protocol order
    raw = copy.deepcopy(load_protocol(STUDIES_DIR / "default.json").raw)
    twin = copy.deepcopy(next(tp for tp in raw["timepoints"] if tp["id"] == "day_7"))
    raw["timepoints"].append({**twin, "id": "week_1_check", "label": "Week 1 check"})
    visits = Visits(compile_protocol(raw))
    assert (visits.info("day_7", None).visitnum, visits.info("week_1_check", None).visitnum) == (1007, 1007.01)


# --------------------------------------------------------------------------- the export


def test_sdtm_writes_every_domain_as_xpt_and_csv(sdtm_dirs):
    code, out, _ = sdtm_dirs["admin"]
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{d}.{ext}" for d in DOMAINS for ext in ("xpt", "csv")] + ["define.xml", "testcodes.csv"]
    )
    for domain in DOMAINS:
        head = (out / f"{domain}.xpt").read_bytes()[:240].decode("ascii")
        assert head.startswith("HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!") and "LIBV8" not in head
        frame, meta = xpt(out / f"{domain}.xpt")
        assert meta.table_name == domain.upper()
        assert all(len(name) <= 8 for name in meta.column_names)
        assert all(label and len(label) <= 40 for label in meta.column_labels)
        assert set(frame["DOMAIN"]) <= {domain.upper()}


def test_xpt_read_back_equals_its_csv(sdtm_dirs):
    for name in ("admin", "masked"):
        _, out, _ = sdtm_dirs[name]
        for domain in DOMAINS:
            frame, meta = xpt(out / f"{domain}.xpt")
            by_pandas = pd.read_sas(out / f"{domain}.xpt", format="xport", encoding="ascii")
            table = rows(out / f"{domain}.csv")
            assert list(frame.columns) == list(table[0] if table else frame.columns)
            assert len(frame) == len(table) == len(by_pandas), domain
            for index, record in enumerate(table):
                for column, text in record.items():
                    value = frame.iloc[index][column]
                    if meta.readstat_variable_types[column] == "double":
                        assert (text == "" and math.isnan(value)) or float(text) == value, (domain, column)
                        other = by_pandas.iloc[index][column]
                        # pandas reads an IBM zero (eight zero bytes, as written) as 16**-65:
                        # pandas-dev/pandas#50670; pyreadstat reads it as 0.
                        other = 0.0 if other == 16.0**-65 else other
                        assert (text == "" and math.isnan(other)) or float(text) == other
                    else:
                        # a free-text cell that looks like a formula carries a leading apostrophe in the CSV only
                        assert text in (value, "'" + value), (domain, column, text, value)
                        assert (by_pandas.iloc[index][column] or "") == value


def test_every_cdisc_code_used_is_in_the_terminology_of_its_instrument(sdtm_dirs):
    _, out, _ = sdtm_dirs["admin"]
    terminology = shared_terminology()
    by_codelist: dict[str, dict[str, str]] = {}
    for term in terminology:
        by_codelist.setdefault(term["Codelist Code"], {})[term["CDISC Submission Value"]] = term["CDISC Synonym(s)"]
    every_value = {t["CDISC Submission Value"] for t in terminology if t["Codelist Code"]}
    codes = {r["testcd"]: r for r in rows(out / "testcodes.csv")}
    used = 0
    for domain in ("rs", "qs"):
        for record in rows(out / f"{domain}.csv"):
            prefix = domain.upper()
            testcd, test, category = record[f"{prefix}TESTCD"], record[f"{prefix}TEST"], record[f"{prefix}CAT"]
            entry = codes[testcd]
            assert (entry["test"], entry["category"], entry["domain"]) == (test, category, prefix)
            cdisc_block = registry()[entry["scale"]].raw["cdisc"]
            assert cdisc_block["domain"] == prefix and cdisc_block["category"] == category
            if entry["defined_by"] == "CDISC":
                codelist = cdisc_block["test_code_codelist"]
                assert entry["codelist"] == codelist
                assert by_codelist[codelist][testcd] == test, testcd
                used += 1
            else:
                assert entry["defined_by"] == "Scalebook" and testcd not in every_value, testcd
            category_list = "C118971" if prefix == "RS" else "C100129"
            assert (category in by_codelist[category_list]) is (entry["category_defined_by"] == "CDISC")
    assert used > 50


def test_testcodes_lists_every_code_with_who_defined_it(sdtm_dirs):
    _, out, _ = sdtm_dirs["admin"]
    listed = rows(out / "testcodes.csv")
    assert list(listed[0]) == [
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
    ]
    by = {r["testcd"]: r for r in listed}
    assert by["HAMD118"]["defined_by"] == "CDISC" and by["HAMD118"]["derived"] == "Y"
    assert by["MADRS01"]["defined_by"] == "Scalebook" and by["MADRS01"]["category_defined_by"] == "CDISC"
    assert by["CADSS24"]["category_defined_by"] == "Scalebook"
    assert by["SBHAMD6"]["defined_by"] == "Scalebook" and by["QIDSR117"]["derived"] == "Y"
    assert by["SYSBP"]["domain"] == "VS"
    for domain in ("rs", "qs"):
        prefix = domain.upper()
        assert {r[f"{prefix}TESTCD"] for r in rows(out / f"{domain}.csv")} <= set(by)


def find(table, **where):
    return [r for r in table if all(r[k] == v for k, v in where.items())]


def test_rs_and_qs_records(sdtm_dirs):
    _, out, _ = sdtm_dirs["admin"]
    rs, qs = rows(out / "rs.csv"), rows(out / "qs.csv")
    assert {r["RSCAT"] for r in rs} == {"MADRS", "CADSS", "BPRS 1988 VERSION", "HAMD 17"}
    assert {r["QSCAT"] for r in qs} == {"QIDS-SR", "PHQ-9", "MADRS-S"}
    assert {r["USUBJID"] for r in rs} == {"KET-01-P001", "KET-01-P002"}
    # the baseline MADRS: every record flagged, before infusion 1, at the baseline visit
    base = find(rs, USUBJID="KET-01-P001", RSCAT="MADRS", VISIT="BASELINE")
    assert len(base) == 11 and all(r["RSLOBXFL"] == "Y" for r in base)
    assert base[0]["RSDTC"] == "2026-03-02T08:00:00" and base[0]["RSDY"] == "1" and base[0]["VISITNUM"] == "1"
    total = find(base, RSTESTCD="MADRS11")[0]
    assert (total["RSORRES"], total["RSSTRESN"], total["RSDRVFL"]) == ("30", "30", "Y")
    assert find(base, RSTESTCD="MADRS01")[0]["RSORRES"] == "3 - between 2 and 4"
    # 40 minutes after infusion 1
    min40 = find(rs, USUBJID="KET-01-P001", RSCAT="MADRS", RSTPT="40 minutes after infusion start")
    assert {
        (r["VISIT"], r["VISITNUM"], r["RSELTM"], r["RSTPTREF"], r["RSTPTNUM"], r["RSEVLINT"], r["RSDY"]) for r in min40
    } == {("INFUSION 1", "1000", "PT40M", "INFUSION 1 START", "2", "-P7D", "1")}
    assert not any(r["RSLOBXFL"] for r in min40)
    # day 1: item 10 not assessed, so no total
    day1 = find(rs, USUBJID="KET-01-P001", RSCAT="MADRS", VISIT="DAY 1 (24 HOURS)")
    assert {r["VISITNUM"] for r in day1} == {"1001"} and {r["RSELTM"] for r in day1} == {"P1D"}
    item10 = find(day1, RSTESTCD="MADRS10")[0]
    assert (item10["RSSTAT"], item10["RSREASND"], item10["RSORRES"], item10["RSSTRESN"]) == (
        "NOT DONE",
        "NOT ASSESSED",
        "",
        "",
    )
    assert find(day1, RSTESTCD="MADRS11")[0]["RSSTAT"] == "NOT DONE"
    # BPRS item 3 not assessed with its reason; HAM-D item 16A not applicable when 16B was rated
    assert find(rs, RSTESTCD="BPRS0103", VISIT="BASELINE")[0]["RSREASND"] == "'" + FORMULA_REASON
    hamd16a = find(rs, RSTESTCD="HAMD116A")[0]
    assert (hamd16a["RSSTAT"], hamd16a["RSREASND"]) == ("NOT DONE", "NOT APPLICABLE: ITEM 16B RATED INSTEAD")
    assert find(rs, RSTESTCD="HAMD116B")[0]["RSSTRESC"] == "1"
    assert find(rs, RSTESTCD="SBHAMD6")[0]["RSDRVFL"] == "Y"
    assert {r["RSEVLINT"] for r in find(rs, RSCAT="CADSS")} == {""}
    # QS: QIDS domain maxima are derived; PHQ-9 prorated total and its recall
    assert {r["QSDRVFL"] for r in qs if r["QSTESTCD"] in ("QIDSR117", "QIDSR118", "QIDSR119", "QIDSR120")} == {"Y"}
    phq_total = find(qs, QSTESTCD="PHQ0111")[0]
    assert (phq_total["QSSTRESN"], phq_total["QSEVLINT"]) == ("9", "-P2W")
    assert find(qs, QSTESTCD="PHQ0109")[0]["QSREASND"] == "NOT ANSWERED"
    assert find(qs, QSTESTCD="PHQ0101")[0]["QSORRES"] == "Several days"
    # sequence numbers run 1..n per participant and domain
    for table, prefix in ((rs, "RS"), (qs, "QS")):
        for subject in {r["USUBJID"] for r in table}:
            assert [int(r[f"{prefix}SEQ"]) for r in table if r["USUBJID"] == subject] == list(
                range(1, 1 + sum(r["USUBJID"] == subject for r in table))
            )
    nyc = find(rs, USUBJID="KET-01-P002", RSTESTCD="MADRS11", VISIT="INFUSION 1")[0]
    assert nyc["RSDTC"] == "2026-03-02T10:12:00"  # New York local time


def test_dm_ex_vs_ae(sdtm_dirs):
    _, out, _ = sdtm_dirs["admin"]
    dm = {r["SUBJID"]: r for r in rows(out / "dm.csv")}
    assert (dm["P001"]["ARMCD"], dm["P001"]["ARM"], dm["P001"]["ACTARMCD"]) == (
        "KETAMINE",
        "Ketamine hydrochloride 0.5 mg/kg IV over 40 minutes",
        "KETAMINE",
    )
    assert (dm["P001"]["RFSTDTC"], dm["P001"]["RFXENDTC"], dm["P001"]["SITEID"], dm["P001"]["SEX"]) == (
        "2026-03-02T09:00:00",
        "2026-03-02T09:40:00",
        "LON",
        "U",
    )
    assert (dm["P001"]["AGE"], dm["P001"]["AGEU"]) == ("40", "YEARS")
    assert (dm["P003"]["ARMCD"], dm["P003"]["ARMNRS"]) == ("", "NOT ASSIGNED")
    ex = rows(out / "ex.csv")
    assert [(e["USUBJID"], e["EXTRT"], e["EXDOSE"], e["EXDOSU"], e["EXROUTE"], e["VISIT"]) for e in ex] == [
        ("KET-01-P001", "KETAMINE", "0.5", "mg/kg", "INTRAVENOUS", "INFUSION 1"),
        ("KET-01-P002", "MIDAZOLAM", "0.5", "mg/kg", "INTRAVENOUS", "INFUSION 1"),
    ]
    vs = find(rows(out / "vs.csv"), USUBJID="KET-01-P001")
    assert [(v["VSTESTCD"], v["VSORRES"], v["VSLOBXFL"]) for v in vs if v["VSTESTCD"] in ("SYSBP", "WEIGHT")] == [
        ("SYSBP", "120", "Y"),
        ("WEIGHT", "72.5", "Y"),
        ("SYSBP", "135", ""),
    ]
    assert find(vs, VSTESTCD="TEMP")[0]["VSORRESU"] == "C"
    ae = rows(out / "ae.csv")[0]
    assert (ae["AETERM"], ae["AESEV"], ae["AESER"], ae["AEREL"], ae["AEACN"], ae["AESTDY"]) == (
        "'" + FORMULA_TERM,
        "MILD",
        "N",
        "POSSIBLY RELATED",
        "DOSE NOT CHANGED",
        "1",
    )


def test_a_blinded_export_masks_arms_treatments_and_doses_and_says_so_first(sdtm_dirs):
    code, out, err = sdtm_dirs["masked"]
    assert code == 0
    assert err.splitlines()[0].startswith("python -m exports sdtm: BLINDED:")
    dm = {r["SUBJID"]: r for r in rows(out / "dm.csv")}
    assert [dm["P001"][v] for v in ("ARMCD", "ARM", "ACTARMCD", "ACTARM")] == ["BLINDED"] * 4
    assert dm["P003"]["ARMNRS"] == "NOT ASSIGNED" and dm["P003"]["ARM"] == ""
    frame, _ = xpt(out / "ex.xpt")
    assert set(frame["EXTRT"]) == {"BLINDED"} and set(frame["EXDOSTXT"]) == {"BLINDED"}
    assert frame["EXDOSE"].isna().all()
    assert "BLINDED" not in sdtm_dirs["admin"][2]
    events = export_events(sdtm_dirs["db"])
    assert [json.loads(e["new_value"])["blinded"] for e in events[-2:]] == [True, False]
    assert json.loads(events[-1]["new_value"])["records"]["rs.xpt"] == len(rows(out / "rs.csv"))


def test_every_text_is_ascii(sdtm_dirs):
    """Transport files carry ASCII text (option labels such as '3 – between 2 and 4' are folded)."""
    _, out, _ = sdtm_dirs["admin"]
    for domain in DOMAINS:
        (out / f"{domain}.csv").read_bytes().decode("ascii")
        frame, meta = xpt(out / f"{domain}.xpt")
        for column in frame.columns:
            if meta.readstat_variable_types[column] == "string":
                assert all(value.isascii() for value in frame[column]), (domain, column)


def test_define_xml_names_every_dataset_variable_codelist_and_origin(sdtm_dirs):
    _, out, _ = sdtm_dirs["admin"]
    tree = etree.parse(str(out / "define.xml"))
    root = tree.getroot()
    assert root.tag == f"{ODM}ODM" and root.get(f"{DEF}Context") == "Submission"
    mdv = root.find(f"{ODM}Study/{ODM}MetaDataVersion")
    assert mdv.get(f"{DEF}DefineVersion") == "2.1.0"
    items = {i.get("OID"): i for i in mdv.findall(f"{ODM}ItemDef")}
    codelists = {c.get("OID"): c for c in mdv.findall(f"{ODM}CodeList")}
    methods = {m.get("OID") for m in mdv.findall(f"{ODM}MethodDef")}
    comments = {c.get("OID") for c in mdv.findall(f"{DEF}CommentDef")}
    groups = {g.get("Name"): g for g in mdv.findall(f"{ODM}ItemGroupDef")}
    assert sorted(groups) == sorted(d.upper() for d in DOMAINS)
    # schema order: standards, datasets, variables, codelists, methods, comments
    order = [etree.QName(child).localname for child in mdv]
    assert order == sorted(
        order, key=["Standards", "ItemGroupDef", "ItemDef", "CodeList", "MethodDef", "CommentDef"].index
    )
    for domain in DOMAINS:
        group = groups[domain.upper()]
        leaf = group.find(f"{DEF}leaf")
        assert leaf.get(f"{XLINK}href") == f"{domain}.xpt" and (out / f"{domain}.xpt").exists()
        assert group.find(f"{DEF}Class").get("Name")
        frame, meta = xpt(out / f"{domain}.xpt")
        refs = group.findall(f"{ODM}ItemRef")
        names = []
        for ref in refs:
            item = items[ref.get("ItemOID")]
            names.append(item.get("Name"))
            origin = item.find(f"{DEF}Origin")
            assert origin is not None and origin.get("Type") in (
                "Collected",
                "Derived",
                "Assigned",
                "Protocol",
                "Not Available",
            )
            if ref.get("MethodOID"):
                assert ref.get("MethodOID") in methods
            if item.get(f"{DEF}CommentOID"):
                assert item.get(f"{DEF}CommentOID") in comments
            code_ref = item.find(f"{ODM}CodeListRef")
            if code_ref is not None:
                assert code_ref.get("CodeListOID") in codelists
            label = item.find(f"{ODM}Description/{ODM}TranslatedText").text
            assert label == meta.column_names_to_labels[item.get("Name")]
            if item.get("DataType") == "text":
                longest = frame[item.get("Name")].str.len().max() if len(frame) else 0
                assert int(item.get("Length")) >= max(longest, 1)
        assert names == meta.column_names
    testcd = codelists["CL.RSTESTCD"]
    hamd101 = [c for c in testcd if c.get("CodedValue") == "HAMD101"][0]
    assert hamd101.find(f"{ODM}Alias").get("Name") == "C100398"
    category = codelists["CL.RSCAT"]
    assert category.find(f"{ODM}Alias").get("Name") == "C118971"
    cadss = [c for c in category if c.get("CodedValue") == "CADSS"][0]
    assert cadss.get(f"{DEF}ExtendedValue") == "Yes"


def test_an_empty_study_writes_empty_domains_and_a_full_define(tmp_path, capsys):
    init_database()
    out = tmp_path / "sdtm"
    code, _, err = export(capsys, "sdtm", "--out", str(out), "--study-id", "EMPTY")
    assert code == 0, err
    for domain in DOMAINS:
        frame, meta = xpt(out / f"{domain}.xpt")
        assert len(frame) == 0 and meta.column_names
        assert rows(out / f"{domain}.csv") == []
    tree = etree.parse(str(out / "define.xml"))
    assert len(tree.getroot().findall(f".//{ODM}ItemGroupDef")) == 6
    assert len(rows(out / "testcodes.csv")) > 100


def test_bad_input_is_one_line_per_problem_and_writes_nothing(tmp_path, capsys):
    init_database()
    a_file = tmp_path / "file"
    a_file.write_text("keep")
    entries = sorted(p.name for p in tmp_path.iterdir())
    code, stdout, err = export(capsys, "sdtm", "--out", str(a_file), "--study-id", "bad id!", "--site", "NOPE")
    lines = err.strip().splitlines()
    assert code == 1 and stdout == "" and len(lines) == 3 and "Traceback" not in err
    assert "is a file" in lines[0] and "--study-id 'bad id!'" in lines[1] and "--site: no site 'NOPE'" in lines[2]
    assert sorted(p.name for p in tmp_path.iterdir()) == entries and a_file.read_text() == "keep"
    db = connect(database_path())
    try:
        assert db.execute("SELECT count(*) FROM audit_events WHERE action = 'export.create'").fetchone()[0] == 0
    finally:
        db.close()


def test_help_describes_the_command():
    proc = subprocess.run(
        [sys.executable, "-m", "exports", "sdtm", "--help"], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert proc.returncode == 0 and "define.xml" in proc.stdout and "--study-id" in proc.stdout


def test_the_terminology_loader_reads_every_codelist():
    terminology = load_terminology()
    assert terminology.name_codelist("C100138") == "C100137"
    assert terminology.terms["C118971"]["MADRS"].code
    assert "HAMD101" in terminology.values
