"""Every export as one ZIP file, for the Data export page: the same files the command line
writes, built by the same functions, for the signed-in account's scope.

    build_zip(db_path, actor, ["csv", "sdtm", "fhir", "redcap"], site="LON", progress=callback)

What goes in (one folder per kind):

- `csv/`: what `python -m exports csv` writes (assessments, responses, wide files per scale,
  participants, infusions, vitals, adverse events, eligibility, dictionary);
- `sdtm/`: what `python -m exports sdtm --study-id ID` writes (<domain>.xpt and .csv for DM, EX,
  VS, AE, RS, QS, testcodes.csv, define.xml);
- `fhir/`: `questionnaire_<scale>.json` per shipped scale (`fhir-questionnaire`) and
  `responses.json`, the Bundle of QuestionnaireResponses (`fhir-responses`);
- `redcap/`: `dictionary.csv` (`redcap-dictionary`) and `records.csv` (`redcap-records`);
- `manifest.json`: who exported what, when, for which site, blinded or not, records per file.

Scope and blinding are those of the account (exports.scope.scope_for, the rule the command
line's --as applies): it must hold a role that may export (admin, pi, monitor); an account tied
to a site gets that site only, whatever site it asks for; in a blinded study arms and doses are
masked unless the account's role may see them (exports.blinding). The files are read from one
read-only snapshot of the database, so they agree with each other. The ZIP is one audit event
(who, which kinds, site, blinded, records per file), written before the data is handed out: if
it cannot be recorded, nothing is returned.
"""

from __future__ import annotations

import io
import json
import os
import re
import tempfile
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from db import exports as db_exports
from db.clock import utc_now
from db.connection import Database, database_path, unit_of_work
from db.demo import DEMO_LABEL, is_demo
from db.errors import StorageError
from db.migrations import require_latest
from exports import csv_export, fhir, redcap, sdtm
from exports.blinding import MASK
from exports.cli import CommandError
from exports.files import owner_only
from exports.scope import STUDY_ID_PATTERN, Scope, scope_for, study_id_problems
from protocol import Protocol, ProtocolError, load_protocol
from scales import csvout
from scales.loader import registry


@dataclass(frozen=True)
class Kind:
    id: str
    label: str
    help: str


KINDS: dict[str, Kind] = {
    k.id: k
    for k in (
        Kind(
            "csv",
            "CSV for statisticians",
            "assessments, item responses, one wide file per scale, participants, infusions, vitals, adverse events, "
            "eligibility, and a dictionary of every column",
        ),
        Kind(
            "sdtm",
            "CDISC SDTM with define.xml",
            "DM, EX, VS, AE, RS and QS as SAS transport (.xpt) and CSV, testcodes.csv and define.xml (Define-XML 2.1)",
        ),
        Kind(
            "fhir",
            "HL7 FHIR R4",
            "one Questionnaire per scale and a Bundle of QuestionnaireResponses, one per assessment",
        ),
        Kind(
            "redcap",
            "REDCap data dictionary and records",
            "the data dictionary (one instrument per scale) and the flat record import file",
        ),
    )
}

#: The audit event's kind of a ZIP download (db.exports.record_export).
AUDIT_KIND = "zip"

Progress = Callable[[float, str], None]


@dataclass
class ZipExport:
    """The built ZIP and what it holds."""

    data: bytes
    file_name: str
    kinds: list[str]
    site: str | None
    masked: bool
    notice: str | None
    counts: dict[str, int] = field(default_factory=dict)  # records per file, by path inside the ZIP
    notes: list[str] = field(default_factory=list)  # what the command line would say on stderr

    @property
    def total_records(self) -> int:
        return sum(self.counts.values())


def blinding_notice(scope: Scope) -> str | None:
    """What a masked export says about itself (None when nothing is masked)."""
    if not scope.masked:
        return None
    return (
        f"The study is blinded and {scope.actor['username']} ({scope.actor['role']}) may not see treatment "
        f"allocation: arms, treatments and doses read {MASK}."
    )


def default_study_id(protocol: Protocol) -> str:
    """A STUDYID to offer for SDTM: the protocol id, cut to what STUDYID allows."""
    text = re.sub(r"[^A-Za-z0-9_-]+", "_", protocol.id).strip("_-")[:20] or "SCALEBOOK"
    return text if STUDY_ID_PATTERN.match(text) else "SCALEBOOK"


# ---------------------------------------------------------------------------------------------
# one writer per kind (each writes what its command line writes, into `out`)
# ---------------------------------------------------------------------------------------------

Written = tuple[dict[str, int], list[str]]  # records per file written, and notes (what the CLI prints on stderr)


def write_csv(db: Database, scope: Scope, protocol: Protocol, out: Path, study_id: str) -> Written:
    return csv_export.write_files(db, scope, protocol, out), []


def write_sdtm(db: Database, scope: Scope, protocol: Protocol, out: Path, study_id: str) -> Written:
    counts, limit = sdtm.write_files(db, scope, protocol, study_id, out)
    notes = [
        f"SDTM: {cut} {variable} value(s) longer than {sdtm.MAX_TEXT} characters were cut to {sdtm.MAX_TEXT} "
        f"(the full text is in the CSV export)"
        for variable, cut in sorted(limit.cut.items())
    ]
    return counts, notes


def write_fhir(db: Database, scope: Scope, protocol: Protocol, out: Path, study_id: str) -> Written:
    counts = {}
    for scale_id, definition in sorted(registry().items()):
        name = f"questionnaire_{scale_id}.json"
        (out / name).write_text(
            fhir._json_text(fhir.questionnaire(definition, fhir.DEFAULT_BASE_URL)), encoding="utf-8", newline=""
        )
        counts[name] = 1
    with (out / "responses.json").open("w", encoding="utf-8", newline="") as handle:
        counts["responses.json"] = fhir.write_bundle(
            handle,
            db_exports.assessment_rows(db, site_id=scope.site_id),
            db_exports.response_rows(db, site_id=scope.site_id),
            fhir.DEFAULT_BASE_URL,
            synthetic=is_demo(db),
        )
    return counts, []


def write_redcap(db: Database, scope: Scope, protocol: Protocol, out: Path, study_id: str) -> Written:
    definitions = [d for _, d in sorted(registry().items())]
    rows = redcap.dictionary_rows(definitions)
    (out / "dictionary.csv").write_text(redcap.dictionary_csv(definitions), encoding="utf-8", newline="")
    with (out / "records.csv").open("w", encoding="utf-8", newline="") as handle:
        pairs = fhir.in_step(
            db_exports.assessment_rows(db, site_id=scope.site_id), db_exports.response_rows(db, site_id=scope.site_id)
        )
        writer = csvout.Writer(handle, redcap.records_columns(definitions), raw=redcap.RAW_COLUMNS)
        writer.writerows(redcap.records_rows(definitions, pairs, redcap.EVENT_SUFFIX))
    return {"dictionary.csv": len(rows), "records.csv": writer.rows}, []


WRITERS: dict[str, Callable[[Database, Scope, Protocol, Path, str], Written]] = {
    "csv": write_csv,
    "sdtm": write_sdtm,
    "fhir": write_fhir,
    "redcap": write_redcap,
}


# ---------------------------------------------------------------------------------------------
# the ZIP
# ---------------------------------------------------------------------------------------------


def _problems(kinds: Sequence[str], study_id: str | None) -> list[str]:
    problems = []
    if not kinds:
        problems.append(f"choose at least one export: {', '.join(KINDS)}")
    problems += [f"unknown export '{k}'; choose from {', '.join(KINDS)}" for k in kinds if k not in KINDS]
    if "sdtm" in kinds:
        problems += [p.replace("--study-id", "Study ID") for p in study_id_problems(study_id)]
    return problems


def _file_name(scope: Scope, moment: str) -> str:
    stamp = moment[:16].replace("-", "").replace(":", "").replace("T", "-")
    return f"scalebook-export-{(scope.site_code or 'all-sites').lower()}-{stamp}.zip"


def build_zip(
    db_path: str | os.PathLike[str] | None,
    actor: Mapping[str, Any],
    kinds: Sequence[str],
    site: str | None = None,
    progress: Progress | None = None,
    *,
    study_id: str | None = None,
    protocol: Protocol | None = None,
) -> ZipExport:
    """The chosen exports (`kinds`, from KINDS) as one ZIP, for `actor` (the signed-in account)
    and `site` (a site code, or None: every site the account may see). `progress(fraction,
    text)` is called as each part is done. CommandError with one line per problem (an unknown
    kind, a bad study id, an account that may not export or asks for another site) and nothing
    built or audited otherwise."""
    kinds = list(dict.fromkeys(kinds))
    report = progress or (lambda fraction, text: None)
    problems = _problems(kinds, study_id)
    if problems:
        raise CommandError(problems)
    if protocol is None:
        try:
            protocol = load_protocol()
        except ProtocolError as exc:
            raise CommandError(f"protocol: {exc}") from None
    path = database_path(db_path)
    counts: dict[str, int] = {}
    notes: list[str] = []
    steps = len(kinds) + 1
    buffer = io.BytesIO()
    try:
        with tempfile.TemporaryDirectory(prefix="scalebook-export-") as temporary:
            staged = Path(temporary)
            with unit_of_work(path, write=False) as db:
                require_latest(db)
                synthetic = is_demo(db)
                scope, problems = scope_for(db, actor, site, protocol)  # the export.read check
                who = scope.actor
                if problems:
                    raise CommandError([p.replace("--site", "Site") for p in problems])
                for done, kind in enumerate(kinds):
                    report(done / steps, f"Writing {KINDS[kind].label} ({done + 1} of {len(kinds)})")
                    folder = staged / kind
                    folder.mkdir()
                    written, said = WRITERS[kind](db, scope, protocol, folder, study_id or "")
                    counts.update({f"{kind}/{name}": n for name, n in written.items()})
                    notes += said
            report(len(kinds) / steps, "Packing the ZIP file")
            moment = utc_now()
            manifest = {
                "exported_at": moment,
                "exported_by": who["username"],
                "role": who["role"],
                "site": scope.site_code or "all sites",
                "blinded": scope.masked,
                "notice": blinding_notice(scope),
                "kinds": kinds,
                "study_id": study_id if "sdtm" in kinds else None,
                "records": counts,
                "notes": notes,
            }
            if synthetic:  # a demo database's ZIP says so (db.demo)
                manifest["synthetic_demo"] = DEMO_LABEL
            owner_only(staged)  # the ZIP keeps each file's mode: 0600 when unpacked, as every export
            with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                for file in sorted(p for p in staged.rglob("*") if p.is_file()):
                    archive.write(file, file.relative_to(staged).as_posix())
                archive.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    except csv_export.ExportProblem as exc:
        raise CommandError(str(exc)) from None
    except OSError as exc:
        raise CommandError(f"the export could not be written ({exc.strerror})") from None
    except StorageError as exc:
        raise CommandError(str(exc)) from None
    built = ZipExport(
        buffer.getvalue(),
        _file_name(scope, moment),
        kinds,
        scope.site_code,
        scope.masked,
        blinding_notice(scope),
        counts,
        notes,
    )
    try:
        with unit_of_work(path) as db:
            db_exports.record_export(
                db,
                who,
                AUDIT_KIND,
                counts,
                site=scope.site_code,
                blinded=scope.masked,
                destination=f"download {built.file_name}",
                details={"kinds": kinds, "study_id": manifest["study_id"]},
            )
    except StorageError as exc:
        raise CommandError(f"the export's audit event could not be recorded ({exc}); nothing was exported") from None
    report(1.0, "Ready")
    return built
