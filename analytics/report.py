"""A participant's record as one self-contained HTML file an investigator can keep as a
certified copy: trajectories (inline SVG), every assessment with its items, answers, stored
scores, score history and signatures, the safety alerts, and the participant's whole audit
history, with the definition hashes, the engine version and the protocol it was judged under.

Integrity: everything between the CONTENT markers is hashed (SHA-256 of its UTF-8 bytes) and the
digest is printed after the content. `verify_report(text)` recomputes it, so a kept copy can be
checked: any edit to the content changes the digest. (The digest shows the copy is unchanged
since it was generated; the audit trail's own hash chain, whose row hashes are printed in the
history, ties the copy to the database.)

Blinding: a copy made by a blinded role leaves out the arm and every dose (which would reveal
it: 0.5 mg/kg ketamine versus 0.045 mg/kg midazolam), in the tables and in the audit values,
and says so at the top.

Pure: the caller passes the record (`db.analytics.participant_record`), the protocol, the
outcomes and the chart SVGs; nothing here reads the database or draws.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from analytics.outcomes import ScaleOutcome
from protocol import Protocol
from protocol.keys import timepoint_label
from protocol.timing import local_text
from scales import ENGINE_VERSION, get_scale
from scales.errors import ScaleError

CONTENT_START = "<!-- SCALEBOOK-REPORT-CONTENT-START -->"
CONTENT_END = "<!-- SCALEBOOK-REPORT-CONTENT-END -->"
_DIGEST = re.compile(r'<code id="content-sha256">([0-9a-f]{64})</code>')
BLINDED_KEYS = frozenset({"arm", "dose_mg_per_kg", "total_dose_mg"})
BLINDED = "[blinded]"

CSS = """
body { font-family: 'DejaVu Sans', Arial, sans-serif; font-size: 13px; color: #111; margin: 24px; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; border-bottom: 1px solid #999; }
h3 { font-size: 14px; margin-bottom: 4px; }
table { border-collapse: collapse; margin: 6px 0 12px; }
th, td { border: 1px solid #bbb; padding: 3px 6px; text-align: left; vertical-align: top; }
th { background: #eee; } .meta td:first-child { font-weight: bold; background: #f6f6f6; }
.note { color: #444; font-size: 12px; } .blinded { color: #8a2a00; font-weight: bold; }
.chart { margin: 8px 0 16px; } code { font-size: 12px; word-break: break-all; }
"""


def redact(value: Any) -> Any:
    """The value with arm and dose fields replaced by '[blinded]' (recursively)."""
    if isinstance(value, Mapping):
        return {k: (BLINDED if k in BLINDED_KEYS else redact(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def redact_event(event: Mapping[str, Any]) -> dict[str, Any]:
    """An audit event as a blinded viewer may see it: arm/dose values withheld."""
    out = dict(event)
    if out.get("field") in BLINDED_KEYS:
        out["old_value"] = None if out.get("old_value") is None else BLINDED
        out["new_value"] = None if out.get("new_value") is None else BLINDED
    else:
        out["old_value"] = redact(out.get("old_value"))
        out["new_value"] = redact(out.get("new_value"))
    return out


def _e(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (dict, list)):
        return html.escape(json.dumps(value, ensure_ascii=False, sort_keys=True))
    return html.escape(str(value))


def _local(utc_text: str | None, tz: ZoneInfo) -> str:
    return local_text(utc_text, tz, "%Y-%m-%d %H:%M:%S %Z")


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]], cls: str = "") -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _meta(rows: Iterable[tuple[str, Any]]) -> str:
    return (
        '<table class="meta"><tbody>'
        + "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in rows)
        + "</tbody></table>"
    )


def _flag(value: bool | None) -> str:
    return "not decidable" if value is None else ("yes" if value else "no")


def _answer_label(definition, item, value) -> str:
    for option in (*item.options, *item.not_assessed):
        if option["value"] == value:
            return option["label"]
    return ""


def _assessment_section(a: Mapping[str, Any], labels: Mapping[str, str], tz: ZoneInfo) -> str:
    score = a.get("score") or {}
    title = f"{a['scale_id']} · {labels.get(a['timepoint'], a['timepoint'])} · assessment {a['id']}"
    parts = [
        f"<h3>{_e(title)}</h3>",
        _meta(
            [
                ("Status", a["status"]),
                ("Version", a["version"]),
                ("Mode", a["mode"]),
                ("Recall", a["recall"]),
                ("Rater", a.get("rater") or ""),
                ("Started", _local(a["started_at"], tz)),
                ("Completed", _local(a.get("completed_at"), tz)),
                ("Scale version", a["scale_version"]),
                ("Definition hash", a["definition_hash"]),
                ("Total", score.get("total")),
                ("Band", score.get("band")),
                ("Band set", score.get("band_set")),
                ("Subscales", score.get("subscales")),
                ("Complete", score.get("complete")),
                ("Prorated", score.get("prorated")),
                ("Missing items", ", ".join(score.get("missing") or [])),
                ("Engine version", score.get("engine_version")),
            ]
        ),
    ]
    try:
        definition = get_scale(a["scale_id"])
    except ScaleError:
        definition = None
    responses, reasons = a.get("responses") or {}, a.get("not_assessed_reasons") or {}
    rows = []
    if definition is not None:
        for item in definition.items:
            value = responses.get(item.id)
            rows.append(
                (
                    item.number,
                    item.short_name,
                    "" if value is None else value,
                    "" if value is None else _answer_label(definition, item, value),
                    reasons.get(item.id, ""),
                )
            )
    else:  # a definition no longer installed: the stored answers still go in the copy
        rows = [(item_id, "", value, "", reasons.get(item_id, "")) for item_id, value in sorted(responses.items())]
    parts.append(_table(("Item", "Name", "Value", "Answer", "Not-assessed reason"), rows))
    history = a.get("score_history") or []
    if len(history) > 1:
        parts.append('<p class="note">Score history (a rescoring after an amendment adds a row):</p>')
        parts.append(
            _table(
                ("Scored at", "By", "Total", "Band", "Subscales", "Reason"),
                [
                    (
                        _local(s["scored_at"], tz),
                        s.get("scored_by"),
                        s.get("total"),
                        s.get("band"),
                        s.get("subscales"),
                        s.get("reason"),
                    )
                    for s in history
                ],
            )
        )
    signatures = a.get("signatures") or []
    if signatures:
        parts.append(
            _table(
                ("Signed by", "Meaning", "Version signed", "Signed at"),
                [
                    (s["username"], s["meaning"], s["assessment_version"], _local(s["signed_at"], tz))
                    for s in signatures
                ],
            )
        )
    return "\n".join(parts)


def build_report(
    record: Mapping[str, Any],
    protocol: Protocol,
    outcomes: Mapping[str, ScaleOutcome],
    *,
    charts_svg: Sequence[tuple[str, str]] = (),
    generated_by: Mapping[str, Any],
    blinded: bool,
    generated_at: datetime | None = None,
) -> str:
    """The report as an HTML document (str). `charts_svg`: (caption, SVG text) pairs."""
    tz = protocol.timezone
    now = (generated_at or datetime.now(UTC)).astimezone(UTC)
    participant = record["participant"]
    labels = {a["timepoint"]: timepoint_label(protocol, a["timepoint"]) for a in record["assessments"]}
    labels.update({t.id: t.label for t in protocol.timepoints})  # alerts may name a protocol id
    hashes = sorted({(a["scale_id"], a["scale_version"], a["definition_hash"]) for a in record["assessments"]})
    body = [f"<h1>Participant record: {_e(participant['code'])}</h1>"]
    if blinded:
        body.append(
            '<p class="blinded">Blinded copy: the treatment arm and every dose are withheld for the role '
            f"{_e(generated_by.get('role'))} in this blinded study.</p>"
        )
    body.append(
        _meta(
            [
                ("Participant", participant["code"]),
                ("Site", participant.get("site_code")),
                ("Status", participant.get("status")),
                ("Arm", BLINDED if blinded else (participant.get("arm") or "")),
                ("Study protocol", f"{protocol.id} {protocol.version} ({protocol.title})"),
                ("Protocol hash", protocol.hash),
                ("Scoring engine version", ENGINE_VERSION),
                ("Generated at", f"{local_text(now, UTC, '%Y-%m-%dT%H:%M:%SZ')} ({_local(now.isoformat(), tz)})"),
                ("Generated by", f"{generated_by.get('username')} ({generated_by.get('role')})"),
                ("Times shown in", str(tz)),
            ]
        )
    )
    body.append("<h2>Scale definitions used</h2>")
    body.append(_table(("Scale", "Version", "Definition hash (sha256 of the canonical JSON)"), hashes))

    body.append("<h2>Outcomes (protocol rules)</h2>")
    rows = []
    for scale_id, o in outcomes.items():
        first, relapse = o.first_response, o.relapse
        rows.append(
            (
                scale_id,
                o.baseline_total,
                None if o.endpoint is None else o.endpoint.total,
                None if o.endpoint_percent_change is None else f"{o.endpoint_percent_change:+.1f} %",
                _flag(o.endpoint_flag("response")),
                _flag(o.endpoint_flag("remission")),
                _flag(o.endpoint_flag("combined")),
                "" if first is None else f"{labels.get(first.timepoint, first.timepoint)} ({first.hours:.1f} h)",
                "" if relapse is None else labels.get(relapse.timepoint, relapse.timepoint),
                len(o.rater_changes),
            )
        )
    body.append(
        _table(
            (
                "Scale",
                "Baseline",
                f"Endpoint ({protocol.primary_endpoint.timepoint})",
                "% change",
                "Responder",
                "Remitter",
                "Both",
                "First response",
                "Relapse",
                "Rater changes",
            ),
            rows,
        )
    )
    body.append('<p class="note">' + "<br>".join(_e(f"{r.label}: {r.source}") for r in protocol.outcome_rules) + "</p>")

    if charts_svg:
        body.append("<h2>Trajectories</h2>")
        for caption, svg in charts_svg:
            body.append(f'<div class="chart"><p class="note">{_e(caption)}</p>{svg}</div>')

    body.append("<h2>Infusions</h2>")
    body.append(
        _table(
            ("Number", "Started", "Ended", "Weight (kg)", "Dose (mg/kg)", "Total dose (mg)"),
            [
                (
                    i["number"],
                    _local(i["started_at"], tz),
                    _local(i.get("ended_at"), tz),
                    i.get("weight_kg"),
                    BLINDED if blinded else i.get("dose_mg_per_kg"),
                    BLINDED if blinded else i.get("total_dose_mg"),
                )
                for i in record["infusions"]
            ],
        )
    )

    body.append("<h2>Assessments</h2>")
    body += [_assessment_section(a, labels, tz) for a in record["assessments"]] or ["<p>None.</p>"]

    body.append("<h2>Safety alerts</h2>")
    body.append(
        _table(
            (
                "Alert",
                "Scale",
                "Timepoint",
                "Message",
                "Raised",
                "Resolved before submit",
                "Acknowledged",
                "By",
                "Note",
            ),
            [
                (
                    al["id"],
                    al.get("scale_id"),
                    labels.get(al.get("timepoint"), al.get("timepoint")),
                    al["message"],
                    _local(al["created_at"], tz),
                    f"{_local(al['resolved_at'], tz)}: {al.get('resolution')}" if al.get("resolved_at") else "",
                    _local(al.get("acknowledged_at"), tz),
                    al.get("acknowledged_by_name"),
                    al.get("acknowledgement_note"),
                )
                for al in record["alerts"]
            ],
        )
    )

    body.append("<h2>Audit history</h2>")
    events = [redact_event(e) if blinded else e for e in record["audit"]]
    body.append(
        _table(
            ("Event", "When", "Who", "Role", "Action", "Record", "Field", "Old", "New", "Reason", "Row hash"),
            [
                (
                    e["id"],
                    _local(e["ts"], tz),
                    e["username"],
                    e["role"],
                    e["action"],
                    f"{e['entity']} {e.get('entity_id') or ''}",
                    e.get("field"),
                    e.get("old_value"),
                    e.get("new_value"),
                    e.get("reason"),
                    (e.get("row_hash") or "")[:16],
                )
                for e in events
            ],
        )
    )

    content = "\n".join(body)
    digest = hashlib.sha256(content.encode("utf-8")).hexdigest()
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Scalebook record {_e(participant['code'])}</title><style>{CSS}</style></head><body>\n"
        f"{CONTENT_START}\n{content}\n{CONTENT_END}\n"
        '<hr><p class="note">SHA-256 of the report content (the UTF-8 text between the two CONTENT markers in '
        f'this file): <code id="content-sha256">{digest}</code>. Recompute it to check that a kept copy is '
        "unchanged.</p>\n</body></html>\n"
    )


def content_digest(text: str) -> str:
    """SHA-256 (hex) of the content between the markers of a report."""
    start = text.index(CONTENT_START) + len(CONTENT_START) + 1
    end = text.index(CONTENT_END) - 1
    return hashlib.sha256(text[start:end].encode("utf-8")).hexdigest()


def printed_digest(text: str) -> str | None:
    match = _DIGEST.search(text)
    return match.group(1) if match else None


def verify_report(text: str) -> bool:
    """True when the printed digest matches the content (the copy is unchanged)."""
    try:
        return printed_digest(text) == content_digest(text)
    except ValueError:
        return False
