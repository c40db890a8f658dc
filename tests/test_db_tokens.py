"""Self-report links: stored hashed, bound to one questionnaire, revocable, expiring, used up."""

from __future__ import annotations

import hashlib

import pytest

from db import PermissionDeniedError, ValidationError, clock
from db import assessments as A
from db.tokens import create_token, list_tokens, redeem_token, revoke_token
from tests.conftest_db import SCALE, snapshot


@pytest.fixture
def link(world):
    assessment = A.start_assessment(world.db, world.coord, world.p1["id"], "day1", "phq9", "link")
    token = create_token(world.db, world.coord, assessment["id"], ttl_hours=24)
    return assessment, token


def test_the_raw_token_is_returned_once_and_only_its_hash_is_stored(world, db_path, link):
    _, token = link
    raw_token = token["token"]
    assert len(raw_token) >= 40 and "token_hash" not in token
    everything = repr(snapshot(db_path))
    assert raw_token not in everything
    assert hashlib.sha256(raw_token.encode()).hexdigest() in everything
    assert all("token" not in t and "token_hash" not in t for t in list_tokens(world.db, token["assessment_id"]))


def test_a_participant_answers_and_completes_only_their_own_questionnaire(world, link):
    assessment, token = link
    me = redeem_token(world.db, token["token"])
    assert me["role"] == "participant" and me["username"] == "participant:P001" and me["id"] is None
    a = A.save_draft_response(world.db, me, assessment["id"], "phq9_1", 2)
    assert a["responses"] == {"phq9_1": 2} and a["version"] == 2
    other = A.start_assessment(world.db, world.coord, world.p1["id"], "day1", "madrs_s", "link")
    with pytest.raises(PermissionDeniedError, match="only the questionnaire it was sent for"):
        A.save_draft_response(world.db, me, other["id"], "madrs_s_1", 1)
    with pytest.raises(PermissionDeniedError, match=r"participant:P001 \(participant\) may not assessment: start"):
        A.start_assessment(world.db, me, world.p1["id"], "day2", "phq9", "link")
    for i in range(2, 10):
        a = A.save_draft_response(world.db, me, assessment["id"], f"phq9_{i}", 0)
    done = A.complete_assessment(world.db, me, assessment["id"], a["version"])
    assert done["status"] == "complete" and done["completed_by"] == "participant:P001"
    assert list_tokens(world.db, assessment["id"])[0]["consumed_at"] is not None
    with pytest.raises(PermissionDeniedError, match="already been submitted"):
        redeem_token(world.db, token["token"])


def test_a_reopened_link_continues_where_it_stopped_and_uses_are_counted(world, link):
    assessment, token = link
    me = redeem_token(world.db, token["token"])
    A.save_draft_response(world.db, me, assessment["id"], "phq9_1", 1)
    again = redeem_token(world.db, token["token"])
    assert A.load_assessment(world.db, assessment["id"])["responses"] == {"phq9_1": 1} and again == me
    assert list_tokens(world.db, assessment["id"])[0]["use_count"] == 2


def test_revoked_and_replaced_tokens_open_nothing(world, link):
    assessment, token = link
    me = redeem_token(world.db, token["token"])
    replacement = create_token(world.db, world.coord, assessment["id"])
    with pytest.raises(PermissionDeniedError, match="withdrawn"):
        redeem_token(world.db, token["token"])
    with pytest.raises(PermissionDeniedError, match="withdrawn"):
        A.save_draft_response(world.db, me, assessment["id"], "phq9_1", 1)  # a session opened before the revoke
    revoke_token(world.db, world.coord, replacement["id"], reason="sent to the wrong address")
    with pytest.raises(PermissionDeniedError, match="withdrawn"):
        redeem_token(world.db, replacement["token"])


def test_an_expired_token_opens_nothing(world, link, monkeypatch):
    _, token = link
    later = clock.utc_after(token["expires_at"], seconds=1)
    monkeypatch.setattr(clock, "utc_now", lambda: later)
    with pytest.raises(PermissionDeniedError, match="expired"):
        redeem_token(world.db, token["token"])


@pytest.mark.parametrize("bad", ["", "short", "x" * 43, None])
def test_an_unknown_token_is_refused_without_saying_more(world, bad):
    with pytest.raises(PermissionDeniedError, match="this link is not valid"):
        redeem_token(world.db, bad)


def test_links_only_for_draft_self_report_questionnaires(world, db_path):
    clinician = A.start_assessment(world.db, world.rater, world.p1["id"], "baseline", SCALE, "clinician")
    before = snapshot(db_path)
    with pytest.raises(ValidationError, match="links are for self-report"):
        create_token(world.db, world.coord, clinician["id"])
    with pytest.raises(ValidationError, match="at most 336 hours"):
        create_token(world.db, world.coord, clinician["id"], ttl_hours=1000)
    assert snapshot(db_path) == before
