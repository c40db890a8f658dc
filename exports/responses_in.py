"""Transcribed ratings in: paper source documents, or data from another system.

    python -m exports import-responses FILE --as USERNAME [--create-participants --site CODE] [--dry-run]

FILE is a long CSV (UTF-8), one row per item response, with the columns

    participant, scale, timepoint, assessed_at, item, value[, not_assessed_reason][, infusion_number]

Rows with the same participant, scale, timepoint and assessed_at (the same instant, whatever
offset it is written with) form one assessment. `timepoint` is a protocol timepoint id, or
`<id>@<n>` for a timepoint repeated at each infusion (the form assessments.csv of the CSV export
writes); `infusion_number` may give n instead. `assessed_at` is when the rating was done, ISO
8601 with a UTC offset. `value` is the score, a not-assessed code of the item (e.g. 9), or empty;
a not-assessed code or an empty value needs `not_assessed_reason`, a score must not have one.

Each assessment is stored completed through db.assessments.save_assessment, the path of the
one-shot form, so it gets the same checks and hooks: values against the definition, the
late-entry rule (not in the future, not before enrolment; the reason stored is
"transcribed from a source document (import of FILE, sha256 ...)"), scoring by the engine,
safety alerts, eligibility re-evaluation. A rating outside its timepoint's window is a protocol
deviation, by the rule every path uses (study.assessments). It keeps the time it happened
(assessments.assessed_at) and the time it was entered (started/completed now), is rated by the
importing account (mode clinician for clinician-rated scales, self for self-report: the schema
has no other mode) and is marked transcribed by an audit event (db.exports.transcription_event),
which the exports read as source `transcribed`. The import as a whole is one audit event with
the file's SHA-256 (db.imports), so the same file is refused the second time.

All or nothing: every line is checked on its own first (columns, scale, item, value, timepoint,
time), then each assessment as a whole (completeness, an item twice); then, in ONE transaction,
every assessment goes through the write path of the form, which checks what only the database
knows (the account at that site, the participant's status and enrolment, a rating already
stored). That transaction is committed only when no problem at all was found, and never with
--dry-run. Problems come one line per bad row (`FILE: line 17: madrs_10: value 7 is not
allowed ...`), or per assessment or participant naming its first line, and nothing is written.

`--as USERNAME`: the account responsible for the transcription, in whose name everything is
audited; it must be allowed to rate at each participant's site (db.permissions.authorize).
Participants must exist, unless `--create-participants` enrols the unknown ones at `--site`
(the account must then be allowed to enrol there), enrolled as of their earliest rating in the
file; with `--site`, every participant in the file must belong to that site.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import math
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from db import audit, imports, participants, sites
from db import exports as db_exports
from db.clock import format_utc
from db.connection import ENV_VAR, Database, database_path, unit_of_work
from db.errors import NotFoundError, StorageError
from db.migrations import require_latest
from db.permissions import authorize, require
from exports.cli import CommandError
from protocol import Protocol, ProtocolError, load_protocol
from protocol.keys import assessment_timepoint, parse_assessment_timepoint
from protocol.timing import parse_entered
from scales import ScaleDefinition
from scales.engine import check_responses, normalise_value, score
from scales.errors import ResponseError
from scales.loader import registry, skipped_note
from study.assessments import record_rating

REQUIRED_COLUMNS = ("participant", "scale", "timepoint", "assessed_at", "item", "value")
OPTIONAL_COLUMNS = ("not_assessed_reason", "infusion_number")
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
MAX_REASON = 500
FIRST_YEAR, LAST_YEAR = 1900, 2200  # assessed_at outside these years is a typing slip (and year 1 or 9999 overflows)
MODE_FOR_RATER = {"clinician": "clinician", "observer": "clinician", "self": "self"}


@dataclass
class Row:
    """One checked line of the file."""

    line: int
    participant: str
    scale: str
    timepoint_id: str
    infusion_number: int | None  # the number in the assessment's key (per-infusion timepoints only)
    key: str  # the stored timepoint: <id> or <id>@<n>
    assessed_at: datetime  # UTC
    item: str
    value: int | None
    reason: str | None
    cells: tuple[str, str, str, str] = ("", "", "", "")  # participant, scale, timepoint, assessed_at as written


def _written(cells: Mapping[str, str]) -> tuple[str, str, str, str]:
    """The assessment a line belongs to as written (to know which assessments have a bad line)."""
    return (cells["participant"].casefold(), cells["scale"], cells["timepoint"], cells["assessed_at"])


@dataclass
class Rating:
    """One assessment to store: the rows of one participant, scale, timepoint and time."""

    participant: str
    scale: str
    timepoint_id: str
    infusion_number: int | None
    key: str
    assessed_at: datetime
    lines: list[int] = field(default_factory=list)
    values: dict[str, int | None] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)

    @property
    def first_line(self) -> int:
        return self.lines[0]

    @property
    def label(self) -> str:
        return f"{self.participant} {self.scale} at {self.key}"


@dataclass
class ImportResult:
    """What an import stored (or, with dry_run, would store)."""

    file_name: str
    sha256: str
    dry_run: bool
    assessments: int = 0
    responses: int = 0
    participants: int = 0
    participants_created: list[str] = field(default_factory=list)
    deviations: list[str] = field(default_factory=list)
    assessment_ids: list[int] = field(default_factory=list)

    def summary(self) -> str:
        verb = "would import" if self.dry_run else "imported"
        text = (
            f"{verb} {self.assessments} assessment{'s' if self.assessments != 1 else ''} "
            f"({self.responses} item responses) of {self.participants} participant"
            f"{'s' if self.participants != 1 else ''} from {self.file_name} (sha256 {self.sha256[:12]})"
        )
        if self.participants_created:
            text += f"; {'would enrol' if self.dry_run else 'enrolled'} {', '.join(self.participants_created)}"
        if self.deviations:
            text += f"; {len(self.deviations)} rated outside the protocol window (protocol deviations recorded)"
        if self.dry_run:
            text += "; dry run: nothing was written"
        return text


# ---------------------------------------------------------------------------------------------
# reading and checking the file (no database)
# ---------------------------------------------------------------------------------------------


def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CommandError(
            f"{name}: line {line}: the file is not UTF-8 text (byte 0x{data[exc.start]:02x}); save it "
            f"as 'CSV UTF-8' and import it again"
        ) from None


def _header(cells: Sequence[str], name: str) -> list[str]:
    names = [c.strip().lower() for c in cells]
    problems = []
    for column in REQUIRED_COLUMNS:
        if column not in names:
            problems.append(
                f"{name}: line 1: the column '{column}' is missing; the header needs "
                f"{', '.join(REQUIRED_COLUMNS)} (optional: {', '.join(OPTIONAL_COLUMNS)})"
            )
    for position, column in enumerate(names, start=1):
        if column not in COLUMNS:
            problems.append(
                f"{name}: line 1: column {position} '{cells[position - 1].strip()}' is not a column of "
                f"this import; the columns are {', '.join(COLUMNS)}"
            )
        elif names.index(column) != position - 1:
            problems.append(f"{name}: line 1: the column '{column}' appears twice")
    if problems:
        raise CommandError(problems)
    return names


def _time(text: str) -> datetime:
    try:
        moment = parse_entered(text)
    except ValueError:
        text = text if len(text) <= 40 else text[:40] + "…"
        raise ValueError(
            f"assessed_at '{text}' is not a date and time; write it in ISO 8601 with the UTC offset, "
            f"e.g. 2026-03-02T09:40:00+00:00"
        ) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(
            f"assessed_at '{text}' has no UTC offset; add it (e.g. {text}+00:00 or {text}Z) so the time "
            f"is not read in the wrong time zone"
        )
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        # Years 1 and 9999 parse, but their UTC time can fall outside what datetime holds; no rating is that old.
        raise ValueError(f"assessed_at '{text}' is out of range; give a date between {FIRST_YEAR} and {LAST_YEAR}")
    return moment.astimezone(UTC)


def _shown(text: str) -> str:
    """A cell as quoted in a message: long ones cut, so that a problem stays one readable line."""
    return text if len(text) <= 30 else f"{text[:20]}… ({len(text)} characters)"


def _number(text: str, what: str) -> int | None:
    if not text:
        return None
    try:
        number = int(text) if len(text) <= 30 else None
    except ValueError:
        number = None
    if number is None:
        raise ValueError(f"{what} '{_shown(text)}' is not a whole number")
    if number < 1:
        raise ValueError(f"{what} {number} must be 1 or more")
    return number


def _allowed(definition: ScaleDefinition, item_id: str) -> str:
    item = definition.item_by_id[item_id]
    codes = ", ".join(str(c["value"]) for c in item.not_assessed)
    return f"{item.min}-{item.max}" + (f" or the not-assessed code {codes}" if codes else "")


def _check_row(
    line: int, cells: Mapping[str, str], protocol: Protocol, definitions: Mapping[str, ScaleDefinition]
) -> tuple[Row | None, list[str]]:
    """One line checked on its own; (Row, []) or (None, what is wrong with it)."""
    problems: list[str] = []
    participant = cells["participant"]
    if not participant:
        problems.append("participant is empty; give the participant's study code")
    scale_id = cells["scale"]
    definition = definitions.get(scale_id)
    if definition is None:
        problems.append(
            f"scale '{scale_id}' is unknown; the scales are {', '.join(sorted(definitions))}{skipped_note(scale_id)}"
        )

    key = None
    number = None
    timepoint_id, key_number = parse_assessment_timepoint(cells["timepoint"])
    try:
        column_number = _number(cells.get("infusion_number", ""), "infusion_number")
    except ValueError as exc:
        problems.append(str(exc))
        column_number = None
    try:
        timepoint = protocol.timepoint(timepoint_id)
    except Exception:  # ProtocolInputError naming the known ids
        problems.append(
            f"timepoint '{cells['timepoint']}' is not in the protocol; its timepoints are "
            f"{', '.join(t.id for t in protocol.timepoints)}"
        )
        timepoint = None
    if timepoint is not None:
        if key_number is not None and column_number is not None and key_number != column_number:
            problems.append(
                f"timepoint {cells['timepoint']} names infusion {key_number} but infusion_number is {column_number}"
            )
        elif timepoint.per_infusion:
            number = key_number or column_number
            if number is None:
                problems.append(
                    f"timepoint {timepoint_id} is repeated at each infusion: give infusion_number, or "
                    f"write the timepoint as {timepoint_id}@<infusion number>"
                )
        elif key_number is not None:
            problems.append(f"timepoint {timepoint_id} occurs once; write it without '@{key_number}'")
        elif timepoint.anchor == "first_infusion" and column_number not in (None, 1):
            problems.append(f"timepoint {timepoint_id} belongs to infusion 1, not infusion {column_number}")
        if definition is not None and scale_id not in timepoint.scales:
            problems.append(
                f"{scale_id} is not planned at timepoint {timepoint_id} (the protocol plans "
                f"{', '.join(timepoint.scales) or 'no scale'} there)"
            )
        key = assessment_timepoint(timepoint_id, number)

    try:
        assessed_at = _time(cells["assessed_at"])
    except ValueError as exc:
        problems.append(str(exc))
        assessed_at = None

    item_id, raw_value = cells["item"], cells["value"]
    reason = cells.get("not_assessed_reason", "").strip() or None
    value = None
    if reason is not None and len(reason) > MAX_REASON:
        problems.append(f"{item_id}: not_assessed_reason is {len(reason)} characters long; keep it to {MAX_REASON}")
    if definition is not None:
        if item_id not in definition.item_by_id:
            problems.append(
                f"{item_id or '(empty item)'}: not an item of {scale_id}; its items are "
                f"{definition.items[0].id} ... {definition.items[-1].id}"
            )
        else:
            item = definition.item_by_id[item_id]
            try:
                value = normalise_value(definition, item_id, _value(raw_value))
            except (ResponseError, ValueError) as exc:
                message = str(exc).removeprefix(f"item {item_id}: ")
                problems.append(
                    f"{item_id}: {message}"
                    if isinstance(exc, ResponseError)
                    else f"{item_id}: value '{_shown(raw_value)}' is not a number; allowed values are "
                    f"{_allowed(definition, item_id)}"
                )
            else:
                if value is not None and value in item.scored_values and reason:
                    problems.append(
                        f"{item_id}: a not-assessed reason goes with an empty value or a not-assessed "
                        f"code, not with the score {value}; remove one of them"
                    )
                elif value is not None and value in item.not_assessed_values and not reason:
                    problems.append(
                        f"{item_id}: value {value} means not assessed; give the reason in not_assessed_reason"
                    )
                elif value is None and not reason:
                    problems.append(
                        f"{item_id}: no value and no not_assessed_reason; give the score, or the reason "
                        f"the item was not assessed"
                    )
                elif value is None and item.not_assessed:
                    value = item.not_assessed[0]["value"]  # stored as the form stores it: the code with the reason
    if problems:
        return None, problems
    assert key is not None and assessed_at is not None  # each is None only with a problem named above
    return Row(
        line, participant, scale_id, timepoint_id, number, key, assessed_at, item_id, value, reason, _written(cells)
    ), []


def _value(text: str) -> int | float | None:
    if not text:
        return None
    if len(text) > 30:  # no score is written with more; int() of 4,300+ digits would raise its own ValueError
        raise ValueError(text)
    try:
        return int(text)
    except ValueError:
        number = float(text)  # '3.0' is 3; '3.5' is refused by normalise_value; 'x' raises ValueError
    if not math.isfinite(number):
        raise ValueError(text)  # nan, inf: not a score
    return number


def read_rows(
    data: bytes,
    name: str,
    protocol: Protocol,
    definitions: Mapping[str, ScaleDefinition] | None = None,
    spoiled: set[tuple[str, str, str, str]] | None = None,
) -> tuple[list[Row], list[str]]:
    """Every line of the file checked on its own: (good rows, one problem line per bad row).
    CommandError at once when the file cannot be read as this CSV at all (encoding, header).
    `spoiled` collects the assessments (as written) that have a bad line."""
    definitions = definitions if definitions is not None else registry()
    text = _decode(data, name)
    if not text.strip():
        raise CommandError(
            f"{name}: the file is empty; its first line must be the header "
            f"{','.join(REQUIRED_COLUMNS)},not_assessed_reason"
        )
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[Row] = []
    problems: list[str] = []
    names: list[str] | None = None
    while True:
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(
                f"{name}: line {line}: "
                + (
                    f"a field is longer than {csv.field_size_limit():,} characters; no cell of this import needs that"
                    if "field larger" in str(exc)
                    else f"this line is not valid CSV ({exc}); check its quotes"
                )
            )
            break
        if names is None:
            names = _header(cells, name)
            continue
        if not any(c.strip() for c in cells):
            continue  # a blank line
        if len(cells) != len(names):
            problems.append(
                f"{name}: line {line}: {len(cells)} fields, but the header has {len(names)}; check for a "
                f"missing or extra comma (quote text that contains a comma)"
            )
            continue
        named = {n: c.strip() for n, c in zip(names, cells, strict=True)}
        row, row_problems = _check_row(line, named, protocol, definitions)
        if row is None:
            problems.append(f"{name}: line {line}: {'; '.join(row_problems)}")
            if spoiled is not None:
                spoiled.add(_written(named))
        else:
            rows.append(row)
    if names is None:
        raise CommandError(problems or [f"{name}: the file has no header line"])
    if not rows and not problems:
        problems.append(f"{name}: the file has a header but no rows; nothing to import")
    return rows, problems


def group_ratings(
    rows: Sequence[Row],
    name: str,
    definitions: Mapping[str, ScaleDefinition] | None = None,
    spoiled: AbstractSet[tuple[str, str, str, str]] = frozenset(),
) -> tuple[list[Rating], list[str]]:
    """The rows grouped into assessments, each checked as a whole: an item given twice, one
    participant's scale at one timepoint given at two times (one assessment each, by the
    protocol), the choice groups, and completeness: every item the score lacks (unanswered, not
    assessed) must come with a not-assessed reason. An assessment with a bad line (`spoiled`,
    from read_rows) is left out without more messages: its bad line is reported already."""
    definitions = definitions if definitions is not None else registry()
    ratings: dict[tuple[str, str, str, datetime], Rating] = {}
    slots: dict[tuple[str, str, str], Rating] = {}
    item_lines: dict[tuple[tuple, str], int] = {}
    problems: list[str] = []
    for row in rows:
        group = (row.participant.casefold(), row.scale, row.key, row.assessed_at)
        rating = ratings.get(group)
        if rating is None:
            slot = (row.participant.casefold(), row.scale, row.key)
            other = slots.get(slot)
            if other is not None:
                problems.append(
                    f"{name}: line {row.line}: {row.participant} {row.scale} at {row.key} is also given "
                    f"at {format_utc(other.assessed_at)} (line {other.first_line}); a participant has one "
                    f"rating of a scale per timepoint: correct assessed_at or the timepoint"
                )
                continue
            rating = ratings[group] = slots[slot] = Rating(
                row.participant, row.scale, row.timepoint_id, row.infusion_number, row.key, row.assessed_at
            )
        earlier = item_lines.get((group, row.item))
        if earlier is not None:
            problems.append(
                f"{name}: line {row.line}: {row.item} is already given for this assessment on line "
                f"{earlier}; give each item once"
            )
            continue
        item_lines[(group, row.item)] = row.line
        rating.lines.append(row.line)
        rating.values[row.item] = row.value
        if row.reason:
            rating.reasons[row.item] = row.reason
    checked = []
    spoiled_groups = {
        (row.participant.casefold(), row.scale, row.key, row.assessed_at) for row in rows if row.cells in spoiled
    }
    for group, rating in ratings.items():
        if group in spoiled_groups:
            continue
        problem = _completeness(definitions[rating.scale], rating)
        if problem:
            problems.append(f"{name}: line {rating.first_line}: {rating.label}: {problem}")
        else:
            checked.append(rating)
    return checked, problems


def _completeness(definition: ScaleDefinition, rating: Rating) -> str | None:
    values = {k: v for k, v in rating.values.items() if v is not None}
    try:
        check_responses(definition, values)
    except ResponseError as exc:
        return str(exc)
    result = score(definition, values)
    unexplained = []
    for item_id in result.missing:
        group = definition.group_of.get(item_id) or (item_id,)
        if not any(member in rating.reasons for member in group):
            unexplained.append(item_id)
    if unexplained:
        return (
            f"incomplete: {', '.join(unexplained)} {'has' if len(unexplained) == 1 else 'have'} no score and no "
            f"not-assessed reason; add {'its row' if len(unexplained) == 1 else 'their rows'} with the score, or "
            f"with the reason it was not assessed"
        )
    return None


# ---------------------------------------------------------------------------------------------
# writing (one transaction)
# ---------------------------------------------------------------------------------------------


class _RollBack(Exception):
    """Leaves the import's transaction without committing (problems found, or a dry run)."""


def _enrolment_times(ratings: Sequence[Rating]) -> dict[str, datetime]:
    earliest: dict[str, datetime] = {}
    for rating in ratings:
        code = rating.participant.casefold()
        if code not in earliest or rating.assessed_at < earliest[code]:
            earliest[code] = rating.assessed_at
    return earliest


def _participants(
    db: Database,
    actor: Mapping[str, Any],
    ratings: Sequence[Rating],
    name: str,
    *,
    create: bool,
    site: Mapping[str, Any] | None,
    reason: str,
    result: ImportResult,
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The participants of the ratings by case-folded code, created where asked; problems, one
    line per participant (naming its first line)."""
    found: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    first_line: dict[str, int] = {}
    for rating in sorted(ratings, key=lambda r: r.first_line):
        first_line.setdefault(rating.participant.casefold(), rating.first_line)
    enrolled = _enrolment_times(ratings)
    for code, line in first_line.items():
        shown = next(r.participant for r in ratings if r.participant.casefold() == code)
        try:
            participant = participants.find_participant(db, shown)
        except NotFoundError:
            participant = None
        try:
            if participant is None:
                if not create or site is None:  # import_responses refuses --create-participants without --site
                    problems.append(
                        f"{name}: line {line}: participant {shown} is not enrolled in this study; check "
                        f"the code, enrol them first, or import with --create-participants --site CODE"
                    )
                    continue
                participant = participants.create_participant(
                    db,
                    actor,
                    shown,
                    site["code"],
                    enrolled_at=enrolled[code],
                    reason=f"{reason}: enrolled as of their earliest rating in the file",
                )
                result.participants_created.append(participant["code"])
            elif site is not None and participant["site_id"] != site["id"]:
                problems.append(
                    f"{name}: line {line}: participant {participant['code']} belongs to site "
                    f"{participant['site_code']}, not {site['code']} (--site)"
                )
                continue
            authorize(db, actor, "assessment.start", site_id=participant["site_id"])
        except StorageError as exc:
            problems.append(f"{name}: line {line}: participant {shown}: {exc}")
            continue
        found[code] = participant
    return found, problems


def _store(
    db: Database,
    actor: Mapping[str, Any],
    protocol: Protocol,
    rating: Rating,
    participant: Mapping[str, Any],
    definition: ScaleDefinition,
    name: str,
    reason: str,
    result: ImportResult,
) -> str | None:
    """Store one rating (and its deviation and transcription mark); the problem, or None. The
    placement and window rule are study.assessments.record_rating, as on every other path."""
    try:
        saved = record_rating(
            db,
            actor,
            protocol,
            participant,
            rating.timepoint_id,
            rating.infusion_number,
            rating.scale,
            MODE_FOR_RATER.get(definition.rater, "clinician"),
            {k: v for k, v in rating.values.items() if v is not None},
            assessed_at=rating.assessed_at,
            late_entry_reason=reason,
            not_assessed_reasons=rating.reasons,
        )
        audit.record_many(
            db,
            actor,
            [db_exports.transcription_event(saved.id, participant["id"], source_file=name, lines=rating.lines)],
        )
    except StorageError as exc:
        return str(exc)
    deviation = saved.deviation
    if deviation:
        result.deviations.append(deviation)
    result.assessments += 1
    result.responses += len(rating.lines)
    result.assessment_ids.append(saved.id)
    return None


def import_responses(
    data: bytes,
    file_name: str,
    username: str,
    *,
    db_path: str | Path | None = None,
    create_participants: bool = False,
    site: str | None = None,
    dry_run: bool = False,
    protocol: Protocol | None = None,
) -> ImportResult:
    """Import the transcribed ratings in `data` (the file's bytes) as `username`, all or nothing.
    Returns what was stored (or would be, with dry_run); CommandError with one line per problem,
    and nothing written, otherwise."""
    name = Path(file_name).name
    sha = hashlib.sha256(data).hexdigest()
    if protocol is None:
        try:
            protocol = load_protocol()
        except ProtocolError as exc:
            raise CommandError(f"protocol: {exc}") from None
    if create_participants and not site:
        raise CommandError("--create-participants needs --site CODE: the site the new participants are enrolled at")
    definitions = registry()
    spoiled: set[tuple[str, str, str, str]] = set()
    rows, problems = read_rows(data, name, protocol, definitions, spoiled)
    ratings, group_problems = group_ratings(rows, name, definitions, spoiled)
    problems += group_problems
    reason = f"transcribed from a source document (import of {name[:200]}, sha256 {sha[:12]})"
    result = ImportResult(name, sha, dry_run)

    path = database_path(db_path)
    if str(path) != ":memory:" and not path.is_file():
        raise CommandError(f"database {path}: no such file; give the database with --db PATH or ${ENV_VAR}")
    try:
        with unit_of_work(path) as db:
            require_latest(db)
            earlier = imports.find_import(db, sha)
            if earlier is not None:
                stored = earlier.get("records", {}).get("assessments", "?")
                raise CommandError(
                    f"{name}: this file (sha256 {sha[:12]}) was already imported on {earlier['ts'][:16].replace('T', ' ')} "
                    f"UTC by {earlier['username']} ({stored} assessment{'' if stored == 1 else 's'}); importing it "
                    f"again would double its ratings, so nothing was imported"
                )
            actor = _actor(db, username, create_participants)
            site_row = _site(db, site)
            found, participant_problems = _participants(
                db, actor, ratings, name, create=create_participants, site=site_row, reason=reason, result=result
            )
            problems += participant_problems
            result.participants = len(found)
            for rating in sorted(ratings, key=lambda r: (r.assessed_at, r.first_line)):
                participant = found.get(rating.participant.casefold())
                if participant is None:
                    continue  # its problem is reported once, above
                problem = _store(
                    db, actor, protocol, rating, participant, definitions[rating.scale], name, reason, result
                )
                if problem:
                    problems.append(f"{name}: line {rating.first_line}: {rating.label}: {problem}")
            if problems:
                raise _RollBack
            audit.record_many(
                db,
                actor,
                [
                    imports.import_event(
                        sha,
                        name,
                        {
                            "assessments": result.assessments,
                            "item_responses": result.responses,
                            "participants_created": len(result.participants_created),
                            "deviations": len(result.deviations),
                        },
                        assessment_ids=result.assessment_ids,
                        participants_created=result.participants_created,
                        site=site_row["code"] if site_row else None,
                    )
                ],
            )
            if dry_run:
                raise _RollBack
    except _RollBack:
        if problems:
            count = len(problems)
            raise CommandError(
                [
                    *problems,
                    f"{name}: {count} problem{'s' if count != 1 else ''} found; nothing was "
                    f"imported (correct the file and import it again)",
                ]
            ) from None
    except StorageError as exc:
        raise CommandError(f"database {path}: {exc}; nothing was imported") from None
    return result


def _actor(db: Database, username: str, create: bool) -> dict[str, Any]:
    """The --as account, allowed to rate (and to enrol, with --create-participants)."""
    try:
        actor = imports.importing_account(db, username)
        require(actor, "assessment.start")
        if create:
            require(actor, "participant.enrol")
    except StorageError as exc:
        raise CommandError(f"--as {username}: {exc}") from None
    return actor


def _site(db: Database, code: str | None) -> dict[str, Any] | None:
    if not code:
        return None
    try:
        return sites.get_site(db, code)
    except NotFoundError as exc:
        known = ", ".join(s["code"] for s in sites.list_sites(db))
        raise CommandError(f"--site: {exc}; the sites are {known or 'none yet'}") from None


# ---------------------------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CommandError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CommandError(f"{path}: is a directory; give the CSV file") from None
    except OSError as exc:
        raise CommandError(f"{path}: cannot read ({exc.strerror})") from None
    result = import_responses(
        data,
        path.name,
        args.as_user,
        db_path=getattr(args, "db", None),
        create_participants=args.create_participants,
        site=args.site,
        dry_run=args.dry_run,
    )
    print(result.summary())
    for text in result.deviations:
        print(f"  protocol deviation: {text}")
    return 0


def register(commands) -> None:
    p = commands.add_parser(
        "import-responses",
        help="import transcribed ratings (paper source documents, another system) from a CSV",
        description="Import completed ratings from a long CSV (UTF-8), one row per item: participant, scale, "
        "timepoint, assessed_at (ISO 8601 with UTC offset), item, value, not_assessed_reason (optional "
        "infusion_number). Rows with the same participant, scale, timepoint and assessed_at are one "
        "assessment, stored completed and scored by the engine, with the time it happened and the time it "
        "was entered, marked as transcribed and audited under --as. Every row is checked first: any "
        "problem is reported (one line per bad row) and nothing is written. The same file is never "
        "imported twice.",
    )
    p.add_argument("file", metavar="FILE", help="the CSV file of transcribed ratings")
    p.add_argument(
        "--as",
        dest="as_user",
        required=True,
        metavar="USERNAME",
        help="the account responsible for the transcription (a rater, PI or coordinator allowed to rate "
        "at each participant's site), in whose name the ratings are stored and audited",
    )
    p.add_argument(
        "--create-participants",
        action="store_true",
        help="enrol participants the study does not know yet at --site (the account must be allowed to "
        "enrol there), as of their earliest rating in the file",
    )
    p.add_argument(
        "--site",
        metavar="CODE",
        help="the site new participants are enrolled at; every participant in the file must belong to it",
    )
    p.add_argument(
        "--dry-run", action="store_true", help="check everything and report what would be imported; write nothing"
    )
    p.set_defaults(run=run)
