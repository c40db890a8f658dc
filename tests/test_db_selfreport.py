"""Self-report link sets: one link for several questionnaires of one participant, hashed, single
use (used up with the last questionnaire), revocable, expiring; kiosk links; the m004 schema."""

from __future__ import annotations

import hashlib
import sqlite3

import pytest

from db import PermissionDeniedError, ValidationError, audit, clock
from db import assessments as A
from db import selfreport as S
from db.alerts import list_alerts
from db.tokens import LinkRefused, check_actor, create_link, get_token, list_tokens, redeem_token, revoke_token
from protocol import load_protocol
from study.self_report import start_self_report
from tests.conftest_db import full_responses, raw, snapshot

SET = ["qids_sr16", "phq9"]


@pytest.fixture
def link(world):
    return start_self_report(world.db, world.coord, load_protocol(), world.p1["id"], "day7", SET)


def answer_all(db, actor, assessment_id, scale_id, value=0):
    a = None
    for item_id, v in full_responses(scale_id, value).items():
        a = A.save_draft_response(db, actor, assessment_id, item_id, v)
    return a


def test_one_link_opens_the_drafts_of_a_set_in_order_and_stores_only_a_hash(world, db_path, link):
    assert len(link["token"]) >= 40 and link["channel"] == "link" and link["already_done"] == []
    drafts = [A.find_assessment(world.db, world.p1["id"], "day7", s) for s in SET]
    assert link["assessment_ids"] == [d["id"] for d in drafts]
    assert all(d["mode"] == "link" and d["status"] == "draft" for d in drafts)
    everything = repr(snapshot(db_path))
    assert link["token"] not in everything
    assert hashlib.sha256(link["token"].encode()).hexdigest() in everything
    expected = clock.utc_after(link["created_at"], hours=72)
    assert link["expires_at"] == expected
    opened = S.open_link_set(world.db, redeem_token(world.db, link["token"]))
    assert [q["scale_id"] for q in opened["questionnaires"]] == SET and opened["site_code"] == "S1"
    assert "total" not in repr(opened["questionnaires"])  # answers only: a participant never sees a score


def test_the_participant_answers_only_the_questionnaires_of_the_link(world, link):
    me = redeem_token(world.db, link["token"])
    assert me["assessment_ids"] == link["assessment_ids"] and me["channel"] == "link"
    qids, phq = link["assessment_ids"]
    A.save_draft_response(world.db, me, qids, "qids_sr16_1", 2)
    A.save_draft_response(world.db, me, phq, "phq9_1", 1)
    other_time = A.start_assessment(world.db, world.coord, world.p1["id"], "day14", "phq9", "link")
    other_person = A.start_assessment(world.db, world.coord_s2, world.p2["id"], "day7", "phq9", "link")
    for aid in (other_time["id"], other_person["id"]):
        with pytest.raises(PermissionDeniedError):
            A.save_draft_response(world.db, me, aid, "phq9_1", 1)
    # a session that adds ids to its own actor gains nothing: the database decides
    forged = {**me, "assessment_ids": [*me["assessment_ids"], other_time["id"]]}
    with pytest.raises(PermissionDeniedError, match="not valid"):
        A.save_draft_response(world.db, forged, other_time["id"], "phq9_1", 1)


def test_the_link_is_used_up_by_the_last_questionnaire_only(world, link):
    me = redeem_token(world.db, link["token"])
    qids, phq = link["assessment_ids"]
    a = answer_all(world.db, me, qids, "qids_sr16")
    A.complete_assessment(world.db, me, qids, a["version"])
    assert get_token(world.db, link["id"])["consumed_at"] is None
    again = redeem_token(world.db, link["token"])  # reopened after the first questionnaire: still works
    assert [q["status"] for q in S.open_link_set(world.db, again)["questionnaires"]] == ["complete", "draft"]
    with pytest.raises(ValidationError, match="already complete"):
        A.save_draft_response(world.db, again, qids, "qids_sr16_1", 3)
    a = answer_all(world.db, again, phq, "phq9")
    done = A.complete_assessment(world.db, again, phq, a["version"])
    assert done["status"] == "complete" and done["completed_by"] == "participant:P001" and done["mode"] == "link"
    assert get_token(world.db, link["id"])["consumed_at"] is not None
    with pytest.raises(LinkRefused, match="already been submitted") as refused:
        redeem_token(world.db, link["token"])
    assert refused.value.reason == "used"
    events = [e["action"] for e in audit.events_for(world.db, "self_report_token", link["id"])]
    assert events == ["token.create", "token.redeem", "token.redeem", "token.consume"]


def test_a_reopened_link_keeps_every_answer(world, link):
    me = redeem_token(world.db, link["token"])
    A.save_draft_response(world.db, me, link["assessment_ids"][0], "qids_sr16_1", 1)
    A.save_draft_response(world.db, me, link["assessment_ids"][0], "qids_sr16_2", 3)
    again = redeem_token(world.db, link["token"])
    opened = S.open_link_set(world.db, again)
    assert opened["questionnaires"][0]["responses"] == {"qids_sr16_1": 1, "qids_sr16_2": 3}
    assert get_token(world.db, link["id"])["use_count"] == 2


@pytest.mark.parametrize("how", ["revoked", "expired", "replaced"])
def test_a_withdrawn_expired_or_replaced_link_stops_at_the_next_tap(world, link, monkeypatch, how):
    me = redeem_token(world.db, link["token"])
    if how == "revoked":
        revoke_token(world.db, world.coord, link["id"], reason="sent to the wrong phone")
        reason = "revoked"
    elif how == "replaced":
        start_self_report(
            world.db, world.coord, load_protocol(), world.p1["id"], "day7", ["phq9"]
        )  # shares PHQ-9: revokes
        reason = "revoked"
    else:
        later = clock.utc_after(link["expires_at"], seconds=1)
        monkeypatch.setattr(clock, "utc_now", lambda: later)
        reason = "expired"
    with pytest.raises(LinkRefused) as refused:
        redeem_token(world.db, link["token"])
    assert refused.value.reason == reason
    with pytest.raises(LinkRefused):
        check_actor(world.db, me)
    with pytest.raises(PermissionDeniedError):
        A.save_draft_response(world.db, me, link["assessment_ids"][0], "qids_sr16_1", 1)


def test_an_unknown_token_is_refused_as_invalid(world):
    for bad in ("", "short", "x" * 43, None):
        with pytest.raises(LinkRefused) as refused:
            redeem_token(world.db, bad)
        assert refused.value.reason == "invalid"


def test_a_new_link_reuses_the_drafts_and_skips_what_was_sent(world, link):
    me = redeem_token(world.db, link["token"])
    qids, phq = link["assessment_ids"]
    A.save_draft_response(world.db, me, phq, "phq9_1", 2)
    a = answer_all(world.db, me, qids, "qids_sr16")
    A.complete_assessment(world.db, me, qids, a["version"])
    second = start_self_report(world.db, world.coord, load_protocol(), world.p1["id"], "day7", SET, channel="kiosk")
    assert second["already_done"] == ["qids_sr16"] and second["assessment_ids"] == [phq]
    assert second["channel"] == "kiosk" and second["expires_at"] == clock.utc_after(second["created_at"], hours=4)
    assert get_token(world.db, link["id"])["revoked_at"] is not None  # only the newest link works
    kiosk = redeem_token(world.db, second["token"])
    assert S.open_link_set(world.db, kiosk)["questionnaires"][0]["responses"] == {"phq9_1": 2}
    a = answer_all(world.db, kiosk, phq, "phq9")
    A.complete_assessment(world.db, kiosk, phq, a["version"])
    with pytest.raises(ValidationError, match="already submitted qids_sr16, phq9"):
        start_self_report(world.db, world.coord, load_protocol(), world.p1["id"], "day7", SET)


def test_only_self_report_scales_and_staff_of_the_site_may_make_links(world, db_path):
    before = snapshot(db_path)
    with pytest.raises(ValidationError, match="rated by a clinician"):
        start_self_report(world.db, world.coord, load_protocol(), world.p1["id"], "day7", ["madrs"])
    with pytest.raises(ValidationError, match="at least one"):
        start_self_report(world.db, world.coord, load_protocol(), world.p1["id"], "day7", [])
    with pytest.raises(PermissionDeniedError, match="another site"):
        start_self_report(world.db, world.coord_s2, load_protocol(), world.p1["id"], "day7", SET)
    with pytest.raises(PermissionDeniedError, match="monitor"):
        start_self_report(world.db, world.monitor, load_protocol(), world.p1["id"], "day7", SET)
    with pytest.raises(ValidationError, match="at most 336 hours"):
        start_self_report(world.db, world.coord, load_protocol(), world.p1["id"], "day7", SET, ttl_hours=400)
    assert snapshot(db_path) == before  # nothing half-saved


def test_a_link_never_mixes_participants(world, db_path):
    a1 = A.start_assessment(world.db, world.pi, world.p1["id"], "day7", "phq9", "link")
    a2 = A.start_assessment(world.db, world.pi, world.p2["id"], "day7", "phq9", "link")
    with pytest.raises(ValidationError, match="one participant only"):
        create_link(world.db, world.pi, [a1["id"], a2["id"]])
    token = create_link(world.db, world.pi, [a1["id"]])
    conn = raw(db_path)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
            conn.execute(
                "INSERT INTO self_report_link_assessments (token_id, participant_id, assessment_id, position) "
                "VALUES (?, ?, ?, 1)",
                [token["id"], world.p2["id"], a2["id"]],
            )
        with pytest.raises(sqlite3.IntegrityError, match="APPEND-ONLY"):
            conn.execute("DELETE FROM self_report_link_assessments")
    finally:
        conn.close()


def test_a_safety_answer_raises_an_alert_for_the_pi(world, link):
    me = redeem_token(world.db, link["token"])
    qids = link["assessment_ids"][0]
    for item_id, v in full_responses("qids_sr16", 0).items():
        a = A.save_draft_response(world.db, me, qids, item_id, 2 if item_id == "qids_sr16_12" else v)
    done = A.complete_assessment(world.db, me, qids, a["version"])
    assert any(f["kind"] == "safety" for f in done["score"]["flags"])
    assert [(x["participant_id"], x["rule_id"]) for x in list_alerts(world.db)] == [
        (world.p1["id"], "qids_sr16_suicidal_thoughts")
    ]


def test_staff_lists_links_with_their_state_and_self_reports_with_totals(world, link):
    me = redeem_token(world.db, link["token"])
    qids, phq = link["assessment_ids"]
    a = answer_all(world.db, me, qids, "qids_sr16", 1)
    A.complete_assessment(world.db, me, qids, a["version"])
    A.save_draft_response(world.db, me, phq, "phq9_9", 1)
    [row] = S.list_links(world.db, world.p1["id"])
    assert row["state"] == "active" and [q["scale_id"] for q in row["questionnaires"]] == SET
    assert "token_hash" not in row and "token" not in row
    reports = {r["scale_id"]: r for r in S.list_self_reports(world.db, world.p1["id"])}
    assert reports["qids_sr16"]["status"] == "complete" and reports["qids_sr16"]["total"] is not None
    assert reports["qids_sr16"]["responses"] is None
    assert reports["phq9"]["total"] is None and reports["phq9"]["responses"] == {"phq9_9": 1}
    assert [t["id"] for t in list_tokens(world.db, phq)] == [link["id"]]
