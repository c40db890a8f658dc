"""define.xml (CDISC Define-XML 2.1) for the SDTM export, written with lxml.

It describes every dataset written (ItemGroupDef with its class, structure, keys and the
transport file it lives in), every variable (ItemDef: data type, length, label, origin with its
source, codelist), every codelist (CDISC codelists carry their NCI C-code; CDISC terms theirs;
sponsor-defined terms in a CDISC codelist are marked def:ExtendedValue="Yes"), every derivation
(MethodDef) and every comment (def:CommentDef), in the element order the Define-XML 2.1 schema
requires (standards, datasets, variables, codelists, methods, comments).

Lengths are the longest value written (at least 1), so they match the transport files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from lxml import etree

from db.clock import utc_now
from protocol import Protocol

if TYPE_CHECKING:  # sdtm imports this module at run time; the type is only for the checker
    from exports.sdtm import CodeList

ODM = "http://www.cdisc.org/ns/odm/v1.3"
DEF = "http://www.cdisc.org/ns/def/v2.1"
XLINK = "http://www.w3.org/1999/xlink"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
NSMAP = {None: ODM, "def": DEF, "xlink": XLINK}
DEFINE_VERSION = "2.1.0"


SYNTHETIC_NOTE = "SYNTHETIC DEMO DATA, not from real participants: "


def _odm(tag: str) -> str:
    return f"{{{ODM}}}{tag}"


def _def(tag: str) -> str:
    return f"{{{DEF}}}{tag}"


def _description(parent: etree._Element, text: str) -> None:
    node = etree.SubElement(parent, _odm("Description"))
    translated = etree.SubElement(node, _odm("TranslatedText"))
    translated.set(XML_LANG, "en")
    translated.set("type", "text/plain")
    translated.text = text


def _alias(parent: etree._Element, code: str) -> None:
    if code:
        etree.SubElement(parent, _odm("Alias"), Context="nci:ExtCodeID", Name=code)


def _lengths(var, values: Sequence) -> dict[str, str]:
    """Length (and SignificantDigits for floats) as the values written need them (computed on
    the distinct values: a findings column has hundreds of thousands of rows, few distinct)."""
    if var.type in ("datetime", "durationDatetime"):
        return {}
    present = set(values) - {None, ""}
    if var.type == "integer":
        return {"Length": str(max((len(str(int(v))) for v in present), default=1))}
    if var.type == "float":
        texts = [repr(float(v)).removesuffix(".0") for v in present]
        decimals = max((len(t.split(".")[1]) if "." in t else 0 for t in texts), default=0)
        return {
            "Length": str(max((len(t.replace("-", "").replace(".", "")) for t in texts), default=1)),
            "SignificantDigits": str(decimals),
        }
    return {"Length": str(max(map(len, map(str, present)), default=1))}


def dataset_lengths(dataset) -> dict[str, dict[str, str]]:
    """The Length (and SignificantDigits) attributes of every variable of a dataset."""
    columns = dataset.columns()
    return {var.name: _lengths(var, columns[var.name]) for var in dataset.variables}


def build(
    datasets: Sequence,
    codelists: Mapping[str, CodeList],
    *,
    study_id: str,
    protocol: Protocol,
    ct_version: str,
    sdtmig_version: str,
    synthetic: bool = False,
) -> etree._ElementTree:
    """The define.xml tree; `synthetic` (a demo database, db.demo) prefixes the study description
    with SYNTHETIC_NOTE so the submission metadata cannot be taken for a real study's."""
    now = utc_now()[:19]
    root = etree.Element(
        _odm("ODM"),
        nsmap=NSMAP,
        FileType="Snapshot",
        FileOID=f"DEFINE.{study_id}",
        CreationDateTime=now,
        ODMVersion="1.3.2",
        Originator="Scalebook",
        SourceSystem="Scalebook",
        SourceSystemVersion="1",
    )
    root.set(_def("Context"), "Submission")
    study = etree.SubElement(root, _odm("Study"), OID=f"STUDY.{study_id}")
    globals_ = etree.SubElement(study, _odm("GlobalVariables"))
    etree.SubElement(globals_, _odm("StudyName")).text = study_id
    etree.SubElement(globals_, _odm("StudyDescription")).text = (SYNTHETIC_NOTE if synthetic else "") + protocol.title
    etree.SubElement(globals_, _odm("ProtocolName")).text = f"{protocol.id} {protocol.version}"
    mdv = etree.SubElement(
        study,
        _odm("MetaDataVersion"),
        OID=f"MDV.{study_id}.SDTMIG.{sdtmig_version}",
        Name=f"{study_id} SDTM",
        Description=f"SDTM datasets of study {study_id} from Scalebook",
    )
    mdv.set(_def("DefineVersion"), DEFINE_VERSION)

    standards = etree.SubElement(mdv, _def("Standards"))
    etree.SubElement(
        standards, _def("Standard"), OID="STD.SDTMIG", Name="SDTMIG", Type="IG", Version=sdtmig_version, Status="Final"
    )
    etree.SubElement(
        standards,
        _def("Standard"),
        OID="STD.CT.SDTM",
        Name="CDISC/NCI",
        Type="CT",
        PublishingSet="SDTM",
        Version=ct_version,
        Status="Final",
    )

    item_defs: list[etree._Element] = []
    methods: dict[str, str] = {}
    comments: dict[str, str] = {}
    for dataset in datasets:
        lengths = dataset.lengths if dataset.lengths is not None else dataset_lengths(dataset)
        group = etree.SubElement(
            mdv,
            _odm("ItemGroupDef"),
            OID=f"IG.{dataset.name}",
            Domain=dataset.name,
            Name=dataset.name,
            Repeating="No" if dataset.name == "DM" else "Yes",
            IsReferenceData="No",
            SASDatasetName=dataset.name,
            Purpose="Tabulation",
        )
        group.set(_def("Structure"), dataset.structure)
        group.set(_def("StandardOID"), "STD.SDTMIG")
        group.set(_def("ArchiveLocationID"), f"LF.{dataset.name}")
        _description(group, dataset.label)
        for order, var in enumerate(dataset.variables, start=1):
            oid = f"IT.{dataset.name}.{var.name}"
            ref = etree.SubElement(
                group, _odm("ItemRef"), ItemOID=oid, OrderNumber=str(order), Mandatory="Yes" if var.mandatory else "No"
            )
            if var.name in dataset.keys:
                ref.set("KeySequence", str(dataset.keys.index(var.name) + 1))
            if var.method:
                method_oid = f"MT.{dataset.name}.{var.name}"
                methods[method_oid] = var.method
                ref.set("MethodOID", method_oid)
            item = etree.Element(
                _odm("ItemDef"), OID=oid, Name=var.name, DataType=var.type, **lengths[var.name], SASFieldName=var.name
            )
            if var.comment:
                comment_oid = f"COM.{dataset.name}.{var.name}"
                comments[comment_oid] = var.comment
                item.set(_def("CommentOID"), comment_oid)
            _description(item, var.label)
            if var.codelist:
                etree.SubElement(item, _odm("CodeListRef"), CodeListOID=f"CL.{var.codelist}")
            origin = etree.SubElement(item, _def("Origin"), Type=var.origin)
            if var.source:
                origin.set("Source", var.source)
            item_defs.append(item)
        etree.SubElement(group, _def("Class"), Name=dataset.cls)
        leaf = etree.SubElement(group, _def("leaf"), ID=f"LF.{dataset.name}")
        leaf.set(f"{{{XLINK}}}href", dataset.file)
        etree.SubElement(leaf, _def("title")).text = dataset.file
    for item in item_defs:
        mdv.append(item)

    used = {v.codelist for d in datasets for v in d.variables if v.codelist}
    for key in sorted(used):
        codelist = codelists[key]
        node = etree.SubElement(mdv, _odm("CodeList"), OID=f"CL.{key}", Name=codelist.name, DataType=codelist.data_type)
        if codelist.nci:
            node.set(_def("StandardOID"), "STD.CT.SDTM")
        else:
            node.set(_def("IsNonStandard"), "Yes")
        decoded = any(i.decode for i in codelist.items)
        seen = set()
        for order, entry in enumerate(codelist.items, start=1):
            if entry.value in seen:
                continue
            seen.add(entry.value)
            child = etree.SubElement(
                node,
                _odm("CodeListItem" if decoded else "EnumeratedItem"),
                CodedValue=entry.value,
                OrderNumber=str(order),
            )
            if entry.extended and codelist.nci:
                child.set(_def("ExtendedValue"), "Yes")
            if decoded:
                decode = etree.SubElement(child, _odm("Decode"))
                translated = etree.SubElement(decode, _odm("TranslatedText"))
                translated.set(XML_LANG, "en")
                translated.text = entry.decode or entry.value
            _alias(child, entry.nci)
        _alias(node, codelist.nci)

    for oid, text in methods.items():
        method = etree.SubElement(
            mdv,
            _odm("MethodDef"),
            OID=oid,
            Name=f"Derivation of {oid.split('.', 2)[2]} in {oid.split('.')[1]}",
            Type="Computation",
        )
        _description(method, text)
    for oid, text in comments.items():
        _description(etree.SubElement(mdv, _def("CommentDef"), OID=oid), text)
    return etree.ElementTree(root)


def write(path: Path, datasets: Sequence, codelists: Mapping[str, CodeList], **kw) -> None:
    build(datasets, codelists, **kw).write(str(path), xml_declaration=True, encoding="UTF-8", pretty_print=True)
