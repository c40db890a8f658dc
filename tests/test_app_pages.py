"""Participants, assessments (view, amend, lock) and administration pages through AppTest."""

from db import assessments, audit, users
from db.connection import unit_of_work
from tests.app_support import app, texts

MADRS = {f"madrs_{n}": 2 for n in range(1, 11)}  # total 20, Moderate


def button(at, label):
    return next(b for b in at.button if b.label == label)


def text_input(at, label_start):
    return next(t for t in at.text_input if t.label.startswith(label_start))


def box(at, label):
    return next(s for s in at.selectbox if s.label == label)


def submitted_madrs(study, timepoint="day_1"):
    with unit_of_work() as db:
        row = assessments.save_assessment(
            db, study.users["rater"], study.p1["id"], timepoint, "madrs", "clinician", MADRS
        )
        return assessments.sign_assessment(db, study.users["rater"], row["id"], row["version"])


# --------------------------------------------------------------------------- participants


def test_coordinator_enrols_and_searches(app_world):
    at = app("pages/participants.py", app_world.users["coordinator"]).run()
    text_input(at, "Participant code").input("KET-003")
    text_input(at, "Arm").input("ketamine")
    button(at, "Enrol").click().run()
    assert "Participant KET-003 enrolled at LON" in texts(at)
    codes = list(at.dataframe[0].value["code"])
    assert codes == ["KET-001", "KET-003"]  # a LON coordinator never sees the OXF participant
    at.text_input[0].input("003").run()
    assert list(at.dataframe[0].value["code"]) == ["KET-003"]
    assert "arm" in at.dataframe[0].value.columns  # coordinators prepare the infusion: unblinded


def test_enrolment_refuses_a_name_and_a_duplicate(app_world):
    at = app("pages/participants.py", app_world.users["coordinator"]).run()
    text_input(at, "Participant code").input("John Smith")
    button(at, "Enrol").click().run()
    assert "is not valid" in texts(at) and "never a name" in texts(at)
    text_input(at, "Participant code").input("KET-001")
    button(at, "Enrol").click().run()
    assert "already used" in texts(at)


def test_blinded_roles_never_see_arms(app_world):
    for role in ("rater", "pi", "monitor"):
        at = app("pages/participants.py", app_world.users[role]).run()
        assert "arm" not in at.dataframe[0].value.columns, role
        assert "Treatment arms are hidden" in texts(at)


def test_readers_get_no_enrol_form(app_world):
    for role in ("rater", "monitor"):
        at = app("pages/participants.py", app_world.users[role]).run()
        assert not any(b.label == "Enrol" for b in at.button), role


# --------------------------------------------------------------------------- assessments


def test_view_shows_answers_score_and_signature(app_world):
    submitted_madrs(app_world)
    at = app("pages/assessment.py", app_world.users["monitor"]).run()
    assert [m.value for m in at.metric][:2] == ["20", "Moderate"]
    answers = at.dataframe[0].value
    assert list(answers["value"]) == [2] * 10
    assert "Signed by rater (authored)" in texts(at)
    assert not any(b.label == "Save the amendment" for b in at.button)  # monitors read only


def test_amend_needs_a_reason_then_records_old_new_and_reason(app_world):
    done = submitted_madrs(app_world)
    at = app("pages/assessment.py", app_world.users["rater"]).run()
    box(at, "Item to amend").select("madrs_3").run()
    box(at, "New value").select(5)
    button(at, "Save the amendment").click().run()
    assert "reason for the change" in texts(at).lower()
    with unit_of_work(write=False) as db:
        assert assessments.load_assessment(db, done["id"])["status"] == "signed"
    box(at, "Item to amend").select("madrs_3").run()
    box(at, "New value").select(5)
    text_input(at, "Reason for the change").input("transcription error, corrected from worksheet")
    button(at, "Save the amendment").click().run()
    assert "Item 3 amended" in texts(at)
    with unit_of_work(write=False) as db:
        row = assessments.load_assessment(db, done["id"])
        events = [e for e in audit.events_for(db, "assessment", done["id"]) if e["action"] == "assessment.amend"]
    assert row["status"] == "amended" and row["score"]["total"] == 23
    assert [(e["field"], e["old_value"], e["new_value"], e["reason"]) for e in events] == [
        ("madrs_3", 2, 5, "transcription error, corrected from worksheet")
    ]
    # the audit history is shown to the roles that may read the audit trail (issue 13 item 15): the PI
    assert len(at.dataframe) == 1 and "shown to the PI, monitors and admins" in texts(at)
    at = app("pages/assessment.py", app_world.users["pi"]).run()
    history = at.dataframe[1].value
    # Items by number and name, not by id (issue 16 item 7).
    rows = set(zip(history["item"], history["old"], history["new"], strict=True))
    assert ("item 3 (Inner tension)", "2", "5") in rows


def test_pi_locks_then_nothing_can_change(app_world):
    done = submitted_madrs(app_world)
    at = app("pages/assessment.py", app_world.users["pi"]).run()
    button(at, "Lock this assessment").click().run()
    assert "Assessment locked" in texts(at)
    assert "locked: it can no longer be changed" in texts(at)
    assert not any(b.label == "Save the amendment" for b in at.button)
    with unit_of_work(write=False) as db:
        assert assessments.load_assessment(db, done["id"])["status"] == "locked"


# --------------------------------------------------------------------------- administration


def test_admin_creates_user_changes_role_deactivates_and_resets(app_world):
    at = app("pages/admin.py", app_world.users["admin"]).run()
    text_input(at, "User name").input("newrater")
    box(at, "Role").select("rater")
    box(at, "Site").select("LON")
    text_input(at, "Initial password").input("a long enough password")
    button(at, "Create user").click().run()
    assert "User 'newrater' created as rater" in texts(at)
    box(at, "Account").select("newrater").run()
    box(at, "New role").select("pi")
    text_input(at, "Reason").input("promoted")
    button(at, "Change role").click().run()
    assert "newrater is now pi" in texts(at)
    box(at, "Account").select("newrater").run()
    button(at, "Deactivate").click().run()
    assert "newrater deactivated" in texts(at)
    box(at, "Account").select("newrater").run()
    text_input(at, "New password").input("another long password")
    button(at, "Reset password").click().run()
    assert "Password of newrater reset" in texts(at)
    with unit_of_work(write=False) as db:
        account = users.get_user(db, "newrater")
        actions = [e["action"] for e in audit.events_for(db, "user", account["id"])]
    assert (account["role"], account["active"]) == ("pi", 0)
    assert actions == ["user.create", "user.change_role", "user.deactivate", "user.reset_password"]


def test_admin_errors_are_words_not_tracebacks(app_world):  # one bad field at a time, each named
    at = app("pages/admin.py", app_world.users["admin"]).run()
    text_input(at, "User name").input("x y")
    text_input(at, "Initial password").input("short")
    button(at, "Create user").click().run()
    assert not at.exception
    assert "username 'x y' is not valid" in texts(at)
    text_input(at, "Time zone").input("Mars/Olympus")
    text_input(at, "Site code").input("MARS")
    button(at, "Add site").click().run()
    assert "unknown time zone" in texts(at)


def test_per_infusion_timepoints_are_labelled_with_their_infusion(app_world):
    """Stored keys such as min_40@2 read as words on every page (one labelling function)."""
    from protocol import load_protocol
    from protocol.keys import timepoint_label

    protocol = load_protocol()
    assert timepoint_label(protocol, "min_40@2") == f"{protocol.timepoint('min_40').label} · infusion 2"
    assert timepoint_label(protocol, "day_1") == protocol.timepoint("day_1").label
    assert timepoint_label(protocol, "unscheduled visit") == "unscheduled visit"
    with unit_of_work() as db:
        assessments.save_assessment(
            db, app_world.users["rater"], app_world.p1["id"], "min_40@2", "madrs", "clinician", MADRS
        )
    at = app("pages/assessment.py", app_world.users["pi"], query={"participant": "KET-001"}).run()
    assert f"MADRS · {protocol.timepoint('min_40').label} · infusion 2" in texts(at)


def test_every_page_applies_the_same_blinding_rule(app_world):
    """Arms are hidden when the protocol OR the study record is blinded, for the blinded roles."""
    from protocol import load_protocol
    from ui.blinding import arm_visible

    protocol = load_protocol()
    assert protocol.blinded
    assert [arm_visible(r, protocol) for r in ("admin", "coordinator", "pi", "rater", "monitor")] == [
        True,
        True,
        False,
        False,
        False,
    ]
