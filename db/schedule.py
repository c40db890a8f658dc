"""What the schedule needs from storage: per participant, enrolment time, actual infusions and
completed assessments, in the shape protocol.schedule.worklist / participant_schedule take.

Two queries for any number of participants (not one per participant), so the worklist stays
fast on a large study.
"""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database

from db import _sql
from protocol.keys import parse_assessment_timepoint
from protocol.timing import parse_stored

ACTIVE_STATUSES = ("screening", "enrolled")


def schedule_inputs(
    db: Database, *, site_id: int | None = None, participant_id: int | None = None, active_only: bool = True
) -> list[dict[str, Any]]:
    """[{id, code, site_id, status, enrolled_at, infusions: [...], completed: [...]}] by code."""
    where: list[str] = []
    params: list[Any] = []
    if active_only:
        where.append(f"p.status IN ({', '.join('?' for _ in ACTIVE_STATUSES)})")
        params += ACTIVE_STATUSES
    if site_id is not None:
        where.append("p.site_id = ?")
        params.append(site_id)
    if participant_id is not None:
        where.append("p.id = ?")
        params.append(participant_id)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    people = _sql.many(
        db,
        f"SELECT p.id, p.code, p.site_id, p.status, p.created_at FROM participants p {clause} ORDER BY p.code",
        params,
    )
    by_id = {
        p["id"]: {
            "id": p["id"],
            "code": p["code"],
            "site_id": p["site_id"],
            "status": p["status"],
            "enrolled_at": parse_stored(p["created_at"]),
            "infusions": [],
            "completed": [],
        }
        for p in people
    }
    if not by_id:
        return []
    ids = list(by_id)
    marks = ", ".join("?" for _ in ids)
    for row in db.execute(
        f"SELECT participant_id, id, number, started_at, ended_at FROM infusions "
        f"WHERE participant_id IN ({marks}) ORDER BY number",
        ids,
    ).fetchall():
        by_id[row[0]]["infusions"].append(
            {"id": row[1], "number": row[2], "started_at": parse_stored(row[3]), "ended_at": parse_stored(row[4])}
        )
    for pid, timepoint, scale, completed in db.execute(
        # When it happened: a rating entered after the fact counts at the time it was done.
        f"SELECT participant_id, timepoint, scale_id, coalesce(assessed_at, completed_at) FROM assessments "
        f"WHERE participant_id IN ({marks}) AND status <> 'draft'",
        ids,
    ).fetchall():
        timepoint_id, infusion_number = parse_assessment_timepoint(timepoint)
        by_id[pid]["completed"].append(
            {
                "timepoint_id": timepoint_id,
                "infusion_number": infusion_number,
                "scale": scale,
                "completed_at": parse_stored(completed),
            }
        )
    return list(by_id.values())
