"""Issue 13 item 6: a one-time self-report link is used by one browser at a time, and a stale
self-report save is refused instead of silently overwriting.

The rule "who may use this link now" is db.tokens.link_use (tested here without Streamlit); the
first tap in a browser claims the link (db.tokens.claim_link), a second browser is refused with
reason "held"; only the holder writes (db.selfreport.save_answer / submit_questionnaire), and
each write carries the version of the answers the screen showed. The page tests below drive
the same paths through Streamlit AppTest: two browsers on one link, two windows of one holder,
the holder's reload, and the kiosk.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time

import pytest

from db import PermissionDeniedError, audit, clock, tokens
from db import assessments as A
from db import selfreport as S
from db.connection import unit_of_work
from db.tokens import HOLDER, OPEN, LinkRefused, claim_link, link_use, redeem_token, resume_link
from protocol import load_protocol
from scales import get_scale
from selfreport.strings import text
from study.self_report import start_self_report
from tests.app_support import app, texts
from tests.conftest_db import full_responses, raw, snapshot
from tests.test_app_selfreport import answer, button, hand_over, make_link, open_link, pick, staff_page, stored

NOW = "2026-05-01T10:00:00.000000Z"
LATER = "2026-05-04T10:00:00.000000Z"


def token_row(**changes):
    row = {"revoked_at": None, "consumed_at": None, "expires_at": LATER, "holder_hash": None}
    return {**row, **changes}


# --------------------------------------------------------------------------- the rule, without a database


def test_the_rule_who_may_use_a_link_now():
    secret = "s" * 43
    held = token_row(holder_hash=tokens.holder_hash(secret))
    assert link_use(token_row(), None, NOW) == OPEN  # nobody holds it: this browser may look and claim it
    assert link_use(token_row(), secret, NOW) == "invalid"  # a secret that holds nothing
    assert link_use(held, secret, NOW) == HOLDER
    assert link_use(held, None, NOW) == "held"  # a second browser
    assert link_use(held, "t" * 43, NOW) == "held"
    assert link_use(held, "", NOW) == "held"
    # a link that opens nothing opens it for nobody, holder included (and says why, not "held")
    assert link_use({**held, "revoked_at": NOW}, secret, NOW) == "revoked"
    assert link_use({**held, "consumed_at": NOW}, secret, NOW) == "used"
    assert link_use(held, secret, LATER) == "expired"
    assert link_use(token_row(revoked_at=NOW), None, NOW) == "revoked"


# --------------------------------------------------------------------------- the database


SET = ["qids_sr16", "phq9"]


@pytest.fixture
def link(world):
    return start_self_report(world.db, world.coord, load_protocol(), world.p1["id"], "day7", SET)


def test_the_first_browser_to_tap_holds_the_link_and_a_second_is_refused(world, db_path, link):
    first = redeem_token(world.db, link["token"])  # opening the link claims nothing yet (a mail scanner
    second = redeem_token(world.db, link["token"])  # or a link preview takes nothing away)
    assert first["holder"] is None and second["holder"] is None
    first = claim_link(world.db, first)  # the first tap
    assert first["holder"] and claim_link(world.db, first) == first  # claiming again is harmless
    with pytest.raises(LinkRefused, match="another phone or browser") as refused:
        claim_link(world.db, second)
    assert refused.value.reason == "held"
    with pytest.raises(LinkRefused) as refused:
        redeem_token(world.db, link["token"])  # a third browser opening the link later
    assert refused.value.reason == "held"
    with pytest.raises(LinkRefused):
        tokens.check_actor(world.db, second)  # the second browser's next page run
    qids = link["assessment_ids"][0]
    with pytest.raises(LinkRefused):
        S.save_answer(world.db, second, qids, "qids_sr16_1", 3, 1)
    with pytest.raises(LinkRefused):  # every write path asks the same rule (db.permissions)
        A.save_draft_response(world.db, second, qids, "qids_sr16_1", 3)
    saved = S.save_answer(world.db, first, qids, "qids_sr16_1", 2, A.load_assessment(world.db, qids)["version"])
    assert saved["responses"] == {"qids_sr16_1": 2}
    # the database keeps only the hash of the holder secret
    everything = repr(snapshot(db_path))
    assert first["holder"] not in everything and hashlib.sha256(first["holder"].encode()).hexdigest() in everything
    assert tokens.get_token(world.db, link["id"])["held_at"] is not None
    events = [e["action"] for e in audit.events_for(world.db, "self_report_token", link["id"])]
    assert events == ["token.create", "token.redeem", "token.redeem", "token.claim"]


def test_only_the_holder_writes(world, link):
    visitor = redeem_token(world.db, link["token"])
    qids = link["assessment_ids"][0]
    with pytest.raises(PermissionDeniedError, match="holds this self-report link"):
        S.save_answer(world.db, visitor, qids, "qids_sr16_1", 1, 1)
    with pytest.raises(PermissionDeniedError, match="holds this self-report link"):
        S.submit_questionnaire(world.db, visitor, qids, 1)
    assert A.load_assessment(world.db, qids)["responses"] == {}


def test_the_holder_resumes_with_its_secret_until_the_link_ends(world, link, monkeypatch):
    me = claim_link(world.db, redeem_token(world.db, link["token"]))
    assert resume_link(world.db, me["holder"]) == me  # a reload: a new session, the same holder
    for bad in ("x" * 43, "", None, "short"):
        with pytest.raises(LinkRefused) as refused:
            resume_link(world.db, bad)
        assert refused.value.reason == "invalid"
    assert tokens.get_token(world.db, link["id"])["use_count"] == 2
    later = clock.utc_after(link["expires_at"], seconds=1)
    monkeypatch.setattr(clock, "utc_now", lambda: later)
    with pytest.raises(LinkRefused) as refused:
        resume_link(world.db, me["holder"])
    assert refused.value.reason == "expired"


def test_a_new_link_is_how_the_participant_moves_to_another_device(world, link):
    me = claim_link(world.db, redeem_token(world.db, link["token"]))
    qids = link["assessment_ids"][0]
    S.save_answer(world.db, me, qids, "qids_sr16_1", 2, A.load_assessment(world.db, qids)["version"])
    fresh = start_self_report(
        world.db, world.coord, load_protocol(), world.p1["id"], "day7", SET
    )  # revokes the held link
    with pytest.raises(LinkRefused) as refused:
        resume_link(world.db, me["holder"])
    assert refused.value.reason == "revoked"
    phone = claim_link(world.db, redeem_token(world.db, fresh["token"]))
    assert S.open_link_set(world.db, phone)["questionnaires"][0]["responses"] == {"qids_sr16_1": 2}


def test_the_schema_keeps_the_first_holder(world, db_path, link):
    claim_link(world.db, redeem_token(world.db, link["token"]))
    conn = raw(db_path)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="CONFLICT: a self-report link stays with the browser"):
            conn.execute("UPDATE self_report_tokens SET holder_hash = ? WHERE id = ?", ["a" * 64, link["id"]])
        with pytest.raises(sqlite3.IntegrityError, match="CONFLICT"):
            conn.execute("UPDATE self_report_tokens SET holder_hash = NULL, held_at = NULL WHERE id = ?", [link["id"]])
        other = start_self_report(world.db, world.coord, load_protocol(), world.p1["id"], "day14", ["phq9"])
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):  # a holder always comes with its time
            conn.execute("UPDATE self_report_tokens SET holder_hash = ? WHERE id = ?", ["b" * 64, other["id"]])
    finally:
        conn.close()


def test_a_stale_answer_or_send_is_refused_and_writes_nothing(world, db_path, link):
    me = claim_link(world.db, redeem_token(world.db, link["token"]))
    phq = link["assessment_ids"][1]
    shown = A.load_assessment(world.db, phq)["version"]  # two windows of the holder draw the same version
    first = S.save_answer(world.db, me, phq, "phq9_1", 1, shown)  # window one
    assert S.save_answer(world.db, me, phq, "phq9_1", 1, shown)["version"] == first["version"]  # a retried tap
    before = snapshot(db_path)
    with pytest.raises(S.StaleAnswers, match="changed in another window") as stale:
        S.save_answer(world.db, me, phq, "phq9_1", 3, shown)  # window two, drawn before window one saved
    assert stale.value.args and snapshot(db_path) == before  # refused whole: no answer, no audit event
    with pytest.raises(S.StaleAnswers):
        S.save_answer(world.db, me, phq, "phq9_2", 3, shown)  # another question from the stale screen too
    with pytest.raises(Exception, match="expected_version"):
        S.save_answer(world.db, me, phq, "phq9_2", 3, None)  # a participant save always says what it showed
    current = first["version"]
    for item_id, value in full_responses("phq9", 0).items():
        if item_id != "phq9_1":
            current = S.save_answer(world.db, me, phq, item_id, value, current)["version"]
    review = current  # the check page drawn now
    current = S.save_answer(world.db, me, phq, "phq9_1", 2, current)["version"]  # changed in the other window
    before = snapshot(db_path)
    with pytest.raises(S.StaleAnswers):
        S.submit_questionnaire(world.db, me, phq, review)  # never sends answers the check page did not show
    assert snapshot(db_path) == before
    done = S.submit_questionnaire(world.db, me, phq, current)
    assert done["status"] == "complete" and done["responses"]["phq9_1"] == 2


# --------------------------------------------------------------------------- the pages (AppTest)


def test_two_browsers_open_one_link_the_first_tap_wins_and_the_other_is_told_what_to_do(app_world):
    link = make_link(app_world)
    phone = open_link(link["token"])
    laptop = open_link(link["token"])  # both opened before anyone tapped: both see the start screen
    assert button(laptop, text("start")) and button(phone, text("start"))
    button(phone, text("start")).click().run()
    answer(phone, 2)
    button(laptop, text("start")).click().run()  # the later tap: refused, nothing of the questionnaire shown
    assert not laptop.exception, laptop.exception
    assert [m.value for m in laptop.markdown] == [f"#### {text('link_held')}"]
    assert "study team for a new link" in text("link_held")
    assert not laptop.radio and not laptop.button
    assert stored(app_world)["responses"] == {"qids_sr16_1": 2}
    late = open_link(link["token"])  # a third browser, later: refused at once
    assert [m.value for m in late.markdown] == [f"#### {text('link_held')}"] and not late.radio
    answer(phone, 1)  # the holder carries on
    assert stored(app_world)["responses"] == {"qids_sr16_1": 2, "qids_sr16_2": 1}
    staff = pick(staff_page(app_world))  # the study team sees that the link is taken
    assert "· in use on one device since" in texts(staff)


def test_the_holder_address_replaces_the_token_and_a_reload_continues(app_world):
    link = make_link(app_world)
    at = open_link(link["token"])
    assert dict(at.query_params) == {"questionnaire": "continue"}  # opened, not yet taken
    button(at, text("start")).click().run()
    address = dict(at.query_params)
    assert address["questionnaire"] == "continue" and len(address["resume"]) >= 40
    assert link["token"] not in repr(address)
    answer(at, 3)
    reloaded = app("app.py", query=address).run()
    assert not reloaded.exception, reloaded.exception
    assert "Question 2 of 16" in reloaded.get("progress")[0].proto.text
    # a session ended by the idle time-out is not revived by its own address: it asks for a reload
    reloaded.session_state["participant_last_activity"] = time.time() - 24 * 3600
    reloaded.run()
    assert text("link_closed") in texts(reloaded) and not reloaded.radio
    assert "Question 2 of 16" in app("app.py", query=address).run().get("progress")[0].proto.text
    tampered = app("app.py", query={**address, "resume": "y" * 43}).run()
    assert [m.value for m in tampered.markdown] == [f"#### {text('link_invalid')}"] and not tampered.radio


def test_a_stale_tap_from_a_second_window_is_refused_and_shows_the_stored_answer(app_world):
    link = make_link(app_world)
    one = open_link(link["token"])
    button(one, text("start")).click().run()
    answer(one, 1)  # question 1, then on to question 2
    two = app("app.py", query=dict(one.query_params)).run()  # the same page opened in a second tab
    assert "Question 2 of 16" in two.get("progress")[0].proto.text and two.radio[0].value is None
    one.radio[0].set_value(2).run()  # window one answers question 2
    assert stored(app_world)["responses"]["qids_sr16_2"] == 2
    two.radio[0].set_value(0).run()  # window two still shows no answer there: its tap must not overwrite
    assert not two.exception, two.exception
    assert text("answer_changed_elsewhere") in [w.value for w in two.warning]
    assert two.radio[0].value == 2  # the answer stored now is shown
    assert stored(app_world)["responses"]["qids_sr16_2"] == 2
    two.radio[0].set_value(0).run()  # a tap on what is on screen now is saved
    assert stored(app_world)["responses"]["qids_sr16_2"] == 0
    one.run()  # window one's next run shows the change and says so
    assert one.radio[0].value == 0 and text("answers_changed_elsewhere") in [i.value for i in one.info]


def test_a_stale_send_is_refused_and_the_check_page_shows_the_answers_stored_now(app_world):
    link = make_link(app_world, scales=("phq9",))
    one = open_link(link["token"])
    button(one, text("start")).click().run()
    for n in range(1, 11):
        answer(one, 0 if n == 9 else 1)  # question 10 is asked because a problem was reported; no safety answer
    assert text("review_title") in texts(one)
    two = app("app.py", query=dict(one.query_params)).run()  # the check page in a second tab
    assert text("review_title") in texts(two)
    button(one, "Change answer 3").click().run()
    one.radio[0].set_value(2).run()  # window one changes question 3 ...
    button(two, text("submit")).click().run()  # ... which window two's check page did not show
    assert not two.exception, two.exception
    assert text("submit_changed_elsewhere") in [w.value for w in two.warning]
    assert stored(app_world, "phq9")["status"] == "draft" and text("review_title") in texts(two)
    changed = next(o["label"] for o in get_scale("phq9").item_by_id["phq9_3"].options if o["value"] == 2)
    assert changed in [m.value for m in two.markdown]  # the check page now shows the stored answer
    button(two, text("submit")).click().run()  # sent: exactly what the check page shows now
    assert not two.exception, two.exception
    assert text("thanks_link") in texts(two)
    done = stored(app_world, "phq9")
    assert done["status"] == "complete" and done["responses"]["phq9_3"] == 2


def test_the_kiosk_takes_its_link_at_the_first_tap_and_keeps_the_secret_out_of_the_address(app_world):
    at = hand_over(app_world)
    assert at.session_state["participant_actor"]["holder"] is None
    button(at, text("start")).click().run()
    actor = at.session_state["participant_actor"]
    assert actor["channel"] == "kiosk" and actor["holder"]
    assert "resume" not in dict(at.query_params)
    answer(at, 1)
    assert stored(app_world)["mode"] == "kiosk" and stored(app_world)["responses"] == {"qids_sr16_1": 1}
    with unit_of_work(write=False) as db:
        assert tokens.get_token(db, actor["token_id"])["held_at"] is not None
