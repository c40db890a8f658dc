"""Safety alerts raised in the draft (issue 11, point 8): raised when the answer is saved, kept
when the draft is abandoned, resolved (and kept) when the answer is corrected, re-opened when it
is given again, linked to the score at completion instead of duplicated; acknowledged alerts
stay acknowledged; every change audited. Plus who an alert reaches (point 9) and the record of
e-mail attempts (point 10), and (AppTest) the form, landing pages and menu that show them."""

from __future__ import annotations

import sqlite3

import pytest

from db import ValidationError, audit, clock, users
from db import alerts as AL
from db import assessments as A
from db.connection import unit_of_work
from db.tokens import redeem_token
from notify.email import OFF, parse_settings
from protocol import load_protocol
from study.self_report import start_self_report
from tests.app_support import app, texts
from tests.conftest_db import PASSWORD, raw
from ui.alerts import email_sentence, who_was_alerted

RULE = "madrs_suicidal_thoughts"
NINE = {f"madrs_{n}": 2 for n in range(1, 10)}


def madrs_draft(w, timepoint="baseline", participant=None, actor=None):
    return A.start_assessment(w.db, actor or w.rater, (participant or w.p1)["id"], timepoint, "madrs", "clinician")


def save(w, draft, item_id, value, actor=None):
    return A.save_draft_response(w.db, actor or w.rater, draft["id"], item_id, value)


def rows(w, draft):
    return AL.list_alerts(w.db, open_only=False, assessment_id=draft["id"])


def actions(w, alert_id):
    return [e["action"] for e in audit.events_for(w.db, "safety_alert", alert_id)]


def test_a_safety_answer_raises_the_alert_when_it_is_saved_not_at_submit(world):
    draft = madrs_draft(world)
    save(world, draft, "madrs_1", 3)
    assert rows(world, draft) == []  # no rule fires yet
    saved = save(world, draft, "madrs_10", 4)
    assert saved["status"] == "draft"  # nothing submitted: the draft is simply abandoned here
    [alert] = AL.list_alerts(world.db)  # open, for the PI, at once
    assert (alert["assessment_id"], alert["rule_id"], alert["score_id"]) == (draft["id"], RULE, None)
    assert (alert["item_id"], alert["item_value"], alert["resolved_at"]) == ("madrs_10", 4, None)
    assert alert["participant_code"] == "P001" and alert["site_code"] == "S1" and alert["assessment_status"] == "draft"
    assert actions(world, alert["id"]) == ["alert.create"]
    create = audit.events_for(world.db, "safety_alert", alert["id"])[0]
    assert create["username"] == "rater" and create["new_value"]["raised"] == "in the draft"
    # the answer and its alert are one transaction: the save's event directly precedes the alert's
    answer = [e for e in audit.events_for(world.db, "assessment", draft["id"]) if e["field"] == "madrs_10"][-1]
    assert create["id"] == answer["id"] + 1
    assert audit.verify_audit(world.db) is None


def test_a_corrected_answer_resolves_the_alert_which_stays_with_its_history(world):
    draft = madrs_draft(world)
    save(world, draft, "madrs_10", 4)
    save(world, draft, "madrs_10", 2)
    assert AL.list_alerts(world.db) == []  # no longer open ...
    [alert] = rows(world, draft)  # ... but kept
    assert alert["resolved_at"].endswith("Z") and alert["resolved_by"] == "rater"
    assert "madrs_10 changed from 4 to 2" in alert["resolution"]
    assert actions(world, alert["id"]) == ["alert.create", "alert.resolve"]
    resolve = audit.events_for(world.db, "safety_alert", alert["id"])[-1]
    assert resolve["reason"] == alert["resolution"] and resolve["new_value"] == alert["resolved_at"]


def test_clearing_the_answer_also_resolves_and_giving_it_again_reopens_the_same_alert(world):
    draft = madrs_draft(world)
    save(world, draft, "madrs_10", 5)
    save(world, draft, "madrs_10", None)
    [alert] = rows(world, draft)
    assert "from 5 to no answer" in alert["resolution"]
    save(world, draft, "madrs_10", 6)
    [again] = rows(world, draft)
    assert again["id"] == alert["id"]  # one alert per assessment and rule: re-opened, not duplicated
    assert (again["resolved_at"], again["resolved_by"], again["resolution"]) == (None, None, None)
    assert again["item_value"] == 6 and AL.list_alerts(world.db) == [again]
    assert actions(world, alert["id"]) == ["alert.create", "alert.resolve", "alert.reopen"]
    reopen = audit.events_for(world.db, "safety_alert", alert["id"])[-1]
    assert reopen["old_value"]["resolution"] == alert["resolution"]  # the history keeps what was resolved


def test_recording_the_item_as_not_assessed_resolves_the_alert_and_says_so(world):
    draft = madrs_draft(world)
    save(world, draft, "madrs_10", 4)
    A.save_draft_response(world.db, world.rater, draft["id"], "madrs_10", 9, not_assessed_reason="interview stopped")
    [alert] = rows(world, draft)
    assert "madrs_10 changed from 4 to not assessed" in alert["resolution"]


def test_a_higher_rating_while_open_updates_the_value_on_the_alert(world):
    draft = madrs_draft(world)
    save(world, draft, "madrs_10", 4)
    save(world, draft, "madrs_10", 6)
    [alert] = rows(world, draft)
    assert alert["item_value"] == 6 and alert["resolved_at"] is None
    assert actions(world, alert["id"]) == ["alert.create", "alert.update"]


def test_other_answers_leave_the_alert_alone(world):
    draft = madrs_draft(world)
    save(world, draft, "madrs_10", 4)
    for item_id, value in NINE.items():
        save(world, draft, item_id, value)
    [alert] = rows(world, draft)
    assert actions(world, alert["id"]) == ["alert.create"]


def test_completion_links_the_draft_alert_to_the_score_instead_of_a_second_alert(world):
    draft = madrs_draft(world)
    for item_id, value in {**NINE, "madrs_10": 4}.items():
        draft = save(world, draft, item_id, value)
    done = A.complete_assessment(world.db, world.rater, draft["id"], draft["version"])
    [alert] = rows(world, draft)
    assert alert["score_id"] == done["score"]["id"] and alert["assessment_status"] == "complete"
    assert actions(world, alert["id"]) == ["alert.create", "alert.link"]
    assert world.db.execute("SELECT count(*) FROM safety_alerts").fetchone()[0] == 1


def test_a_one_shot_save_raises_the_alert_with_its_score_item_and_value(world):
    done = A.save_assessment(
        world.db, world.rater, world.p1["id"], "day1", "madrs", "clinician", {**NINE, "madrs_10": 5}
    )
    [alert] = rows(world, done)
    assert (alert["score_id"], alert["item_id"], alert["item_value"]) == (done["score"]["id"], "madrs_10", 5)
    assert actions(world, alert["id"]) == ["alert.create"]


def test_an_answer_corrected_before_submit_stays_resolved_at_completion(world):
    draft = madrs_draft(world)
    for item_id, value in {**NINE, "madrs_10": 4}.items():
        draft = save(world, draft, item_id, value)
    draft = save(world, draft, "madrs_10", 1)
    A.complete_assessment(world.db, world.rater, draft["id"], draft["version"])
    [alert] = rows(world, draft)
    assert alert["resolved_at"] is not None and alert["score_id"] is None
    assert AL.list_alerts(world.db) == []


def test_an_acknowledged_alert_stays_acknowledged_whatever_the_draft_does(world):
    draft = madrs_draft(world)
    for item_id, value in {**NINE, "madrs_10": 4}.items():
        draft = save(world, draft, item_id, value)
    [alert] = AL.list_alerts(world.db)
    acked = AL.acknowledge_alert(world.db, world.pi, alert["id"], "rang the participant; safety plan agreed")
    draft = save(world, draft, "madrs_10", 1)  # corrected: an acknowledged alert is not resolved
    draft = save(world, draft, "madrs_10", 5)  # and not re-opened or duplicated
    A.complete_assessment(world.db, world.rater, draft["id"], draft["version"])
    [after] = rows(world, draft)
    assert (after["acknowledged_by_name"], after["acknowledged_at"]) == ("pi", acked["acknowledged_at"])
    assert (after["resolved_at"], after["item_value"], after["score_id"]) == (None, 4, None)
    assert actions(world, alert["id"]) == ["alert.create", "alert.acknowledge"]
    assert AL.list_alerts(world.db) == []


def test_a_refused_save_raises_no_alert(world):
    draft = madrs_draft(world)
    with pytest.raises(ValidationError):
        save(world, draft, "madrs_10", 99)
    assert rows(world, draft) == []


def test_what_fired_an_alert_cannot_be_rewritten_nor_the_alert_deleted(world, db_path):
    draft = madrs_draft(world)
    save(world, draft, "madrs_10", 4)
    conn = raw(db_path)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="APPEND-ONLY"):
            conn.execute("UPDATE safety_alerts SET message = 'nothing to see'")
        with pytest.raises(sqlite3.IntegrityError, match="APPEND-ONLY"):
            conn.execute("DELETE FROM safety_alerts")
    finally:
        conn.close()


def test_a_self_report_answer_alerts_through_the_same_save(world):
    link = start_self_report(world.db, world.coord, load_protocol(), world.p1["id"], "day7", ["phq9"], channel="kiosk")
    me = redeem_token(world.db, link["token"])
    [phq] = link["assessment_ids"]
    A.save_draft_response(world.db, me, phq, "phq9_9", 1)
    [alert] = AL.alerts_for_link(world.db, link["id"])
    assert (alert["rule_id"], alert["item_id"], alert["item_value"], alert["mode"]) == (
        "phq9_self_harm",
        "phq9_9",
        1,
        "kiosk",
    )
    create = audit.events_for(world.db, "safety_alert", alert["id"])[0]
    assert create["role"] == "participant" and create["username"] == "participant:P001"
    A.save_draft_response(world.db, me, phq, "phq9_9", 0)
    [resolved] = AL.alerts_for_link(world.db, link["id"])
    assert resolved["resolved_by"] == "participant:P001"


def test_open_alerts_are_listed_by_site(world):
    mine = madrs_draft(world)
    save(world, mine, "madrs_10", 4)
    theirs = madrs_draft(world, participant=world.p2, actor=world.rater_s2)
    save(world, theirs, "madrs_10", 4, actor=world.rater_s2)
    s1 = world.p1["site_id"]
    assert [a["participant_code"] for a in AL.list_alerts(world.db, site_id=s1)] == ["P001"]
    assert sorted(a["participant_code"] for a in AL.list_alerts(world.db)) == ["P001", "P002"]


def test_the_audience_is_the_active_pis_covering_the_site(world):
    system = world.system
    users.create_user(world.db, system, "pi.s1@clinic.example.org", "pi", PASSWORD, site="S1")
    users.create_user(world.db, system, "pi_s2", "pi", PASSWORD, site="S2")
    gone = users.create_user(world.db, system, "old.pi@clinic.example.org", "pi", PASSWORD, site="S1")
    users.deactivate(world.db, system, gone["id"], "left the study")
    audience = AL.alert_audience(world.db, world.p1["site_id"])
    assert audience["site_code"] == "S1"
    assert audience["pis"] == ["pi", "pi.s1@clinic.example.org"]  # the all-sites PI and S1's; not S2's, not gone
    assert audience["pi_emails"] == ["pi.s1@clinic.example.org"]


def test_notification_attempts_are_recorded_and_audited_once_per_alert(world):
    draft = madrs_draft(world)
    save(world, draft, "madrs_10", 4)
    since = clock.utc_after(clock.utc_now(), hours=-1)
    [pending] = AL.alerts_awaiting_notification(world.db, since)
    assert pending["audience"]["site_code"] == "S1"
    recorded = AL.record_notifications(
        world.db,
        pending["id"],
        [
            {"recipient": "a@example.org", "status": "sent"},
            {"recipient": "b@example.org", "status": "failed", "error": "550 no such user"},
        ],
    )
    assert [(r["recipient"], r["status"], r["error"]) for r in recorded] == [
        ("a@example.org", "sent", None),
        ("b@example.org", "failed", "550 no such user"),
    ]
    assert AL.alerts_awaiting_notification(world.db, since) == []
    assert AL.notifications_for(world.db, [pending["id"]])[pending["id"]] == recorded
    notify = [e for e in audit.events_for(world.db, "safety_alert", pending["id"]) if e["action"] == "alert.notify"]
    assert [(e["username"], e["new_value"]["status"]) for e in notify] == [
        ("notify:email", "sent"),
        ("notify:email", "failed"),
    ]
    with pytest.raises(ValidationError, match="sent or failed"):
        AL.record_notifications(world.db, pending["id"], [{"recipient": "c@example.org", "status": "maybe"}])
    later = madrs_draft(world, timepoint="day1")
    save(world, later, "madrs_10", 4)
    assert [a["assessment_id"] for a in AL.alerts_awaiting_notification(world.db, since)] == [later["id"]]
    assert AL.alerts_awaiting_notification(world.db, clock.utc_now()) == []  # raised before `since`: left alone


# --------------------------------------------------------------------------- what the UI says (point 9, 10)

ON = parse_settings(
    {"enabled": True, "smtp_host": "127.0.0.1", "from": "sb@example.org", "contacts": {"LON": ["desk@example.org"]}}
)
RAISED = {"id": 1, "site_id": 1, "site_code": "LON", "created_at": "2099-01-01T00:00:00.000000Z"}


def test_the_words_say_truthfully_who_was_alerted_and_whether_e_mail_went_out():
    nobody = {"site_code": "LON", "pis": [], "pi_emails": []}
    assert who_was_alerted(RAISED, nobody, [], OFF) == (
        "Recorded as an open safety alert for site LON, but no active PI account covers this site: tell the PI "
        "yourself now. E-mail notification is off."
    )
    pis = {"site_code": "LON", "pis": ["dr.who@example.org", "pi"], "pi_emails": ["dr.who@example.org"]}
    assert who_was_alerted(RAISED, pis, [], OFF).startswith(
        "Recorded as an open safety alert for the PI(s) of site LON: dr.who@example.org, pi."
    )
    assert email_sentence(RAISED, pis, [], ON) == "E-mail to dr.who@example.org, desk@example.org is being sent."
    attempts = [
        {"recipient": "dr.who@example.org", "status": "sent", "error": None},
        {"recipient": "desk@example.org", "status": "failed", "error": "550 no such user"},
    ]
    assert email_sentence(RAISED, pis, attempts, ON) == (
        "E-mail sent to dr.who@example.org. E-mail to desk@example.org failed (550 no such user); the alert is "
        "recorded here all the same."
    )
    no_contacts = parse_settings({"enabled": True, "smtp_host": "h", "from": "sb@example.org"})
    assert "site LON has no e-mail recipient" in email_sentence(RAISED, nobody, [], no_contacts)
    broken = parse_settings({"enabled": True, "from": "sb@example.org"})
    assert email_sentence(RAISED, pis, [], broken) == (
        "E-mail notification is not working: [notifications] smtp_host is missing (the SMTP server's name)."
    )
    old = {**RAISED, "created_at": "2000-01-01T00:00:00.000000Z"}
    assert email_sentence(old, pis, [], ON).startswith("No e-mail was sent for this alert")


def test_the_form_shows_the_alert_in_the_item_when_tapped_and_the_resolution_when_corrected(app_world):
    with unit_of_work() as db:
        draft = A.start_assessment(db, app_world.users["rater"], app_world.p1["id"], "baseline", "madrs", "clinician")
    at = app("pages/rate.py", app_world.users["rater"], query={"assessment": str(draft["id"])}).run()
    radio = next(r for r in at.radio if r.key == f"v:{draft['id']}:madrs_10")
    radio.set_value(4).run()
    assert not at.exception, at.exception
    [error] = [e.value for e in at.error if "Safety alert" in e.value]
    assert "Recorded as an open safety alert for the PI(s) of site LON: pi." in error  # the PI covers all sites
    assert "E-mail notification is off." in error
    next(r for r in at.radio if r.key == f"v:{draft['id']}:madrs_10").set_value(2).run()
    assert not [e for e in at.error if "Safety alert" in e.value]
    assert any("Safety alert resolved" in i.value and "from 4 to 2" in i.value for i in at.info)


def test_staff_see_open_alerts_where_they_land_and_in_the_menu_elsewhere(app_world):
    with unit_of_work() as db:
        draft = A.start_assessment(db, app_world.users["rater"], app_world.p1["id"], "baseline", "madrs", "clinician")
        A.save_draft_response(db, app_world.users["rater"], draft["id"], "madrs_10", 5)
        other = A.start_assessment(db, app_world.users["pi"], app_world.p2["id"], "baseline", "madrs", "clinician")
        A.save_draft_response(db, app_world.users["pi"], other["id"], "madrs_10", 4)
    pi_landing = app("pages/worklist.py", app_world.users["pi"]).run()  # no site: every site
    assert "**2 open safety alerts** (all sites)" in texts(pi_landing)
    assert "**KET-001** · MADRS item 10 (Suicidal thoughts) = 5" in texts(pi_landing)
    rater_landing = app("pages/worklist.py", app_world.users["rater"]).run()  # site LON only
    assert "**1 open safety alert** (site LON)" in texts(rater_landing) and "KET-002" not in texts(rater_landing)
    monitor_landing = app("pages/participants.py", app_world.users["monitor"]).run()
    assert "**2 open safety alerts** (all sites)" in texts(monitor_landing)
    elsewhere = app("pages/library.py", app_world.users["coordinator"]).run()  # not a landing page: in the menu
    assert "1 open safety alert" in "\n".join(e.value for e in elsewhere.sidebar.error)
