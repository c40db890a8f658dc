"""The rater's scale form through Streamlit AppTest: start, tap, draft persistence, completeness,
consistency flags, not assessed, HAM-D 16 A/B, signature and the safety alert."""

from db import alerts, assessments, audit
from db.connection import unit_of_work
from tests.app_support import PASSWORD, app, texts


def open_form(study, scale_id="madrs", timepoint="baseline", role="rater"):
    at = app("pages/rate.py", study.users[role]).run()
    boxes = {s.label: s for s in at.selectbox}
    boxes["Participant"].select("KET-001").run()
    {s.label: s for s in at.selectbox}["Timepoint"].select(timepoint).run()
    {s.label: s for s in at.selectbox}["Scale"].select(scale_id).run()
    next(b for b in at.button if b.label == "Open the form").click().run()
    assert not at.exception, at.exception
    at.toggle[0].set_value(False).run()  # the default study is blinded: live total hidden until shown
    return at


def radio(at, item_id):
    return next(r for r in at.radio if r.key and r.key.endswith(f":{item_id}") and r.key.startswith("v:"))


def stored(study, scale_id="madrs", timepoint="baseline"):
    with unit_of_work(write=False) as db:
        return assessments.find_assessment(db, study.p1["id"], timepoint, scale_id)


def rate_all(at, values: dict[str, int]):
    for item_id, value in values.items():
        radio(at, item_id).set_value(value).run()
        assert not at.exception, at.exception


MADRS_22 = {f"madrs_{n}": v for n, v in zip(range(1, 11), [3, 3, 2, 2, 2, 2, 2, 2, 2, 2], strict=True)}


def submit(at, password=PASSWORD):
    next(t for t in at.text_input if t.label.startswith("Your password")).input(password)
    next(b for b in at.button if b.label == "Sign and submit").click().run()


def test_no_option_is_preselected_and_each_tap_is_saved_at_once(app_world):
    at = open_form(app_world)
    assert all(radio(at, f"madrs_{n}").value is None for n in range(1, 11))
    radio(at, "madrs_1").set_value(4).run()
    draft = stored(app_world)
    assert draft["status"] == "draft" and draft["responses"] == {"madrs_1": 4}
    assert draft["recall"] == "7d"
    assert at.get("progress")[0].proto.text == "1 of 10 items rated"


def test_a_fresh_session_brings_the_draft_back(app_world):
    at = open_form(app_world)
    rate_all(at, {"madrs_1": 4, "madrs_2": 3, "madrs_3": 1})
    assessment_id = stored(app_world)["id"]
    again = app("pages/rate.py", app_world.users["rater"], query={"assessment": str(assessment_id)}).run()
    assert [radio(again, f"madrs_{n}").value for n in (1, 2, 3, 4)] == [4, 3, 1, None]


def test_submit_needs_every_item_then_shows_total_and_band(app_world):
    at = open_form(app_world)
    rate_all(at, dict(list(MADRS_22.items())[:9]))
    assert "Still to rate" in texts(at) and "items 10" in texts(at)
    assert next(b for b in at.button if b.label == "Sign and submit").disabled
    rate_all(at, {"madrs_10": 2})
    assert "**Total:** 22 · **Band:** Moderate" in texts(at)  # the engine's total, drawn live
    submit(at)
    assert not at.exception
    saved = stored(app_world)
    assert saved["status"] == "signed" and saved["score"]["total"] == 22 and saved["score"]["band"] == "Moderate"
    assert [m.value for m in at.metric][:2] == ["22", "Moderate"]
    assert saved["signatures"][0]["username"] == "rater" and saved["signatures"][0]["meaning"] == "authored"


def test_wrong_password_does_not_submit(app_world):
    at = open_form(app_world)
    rate_all(at, MADRS_22)
    submit(at, "not my password")
    assert "password is not correct" in texts(at)
    assert stored(app_world)["status"] == "draft"


def test_live_total_is_hidden_by_default_in_a_blinded_study(app_world):
    at = open_form(app_world)
    rate_all(at, MADRS_22)
    assert "**Total:** 22" in texts(at)
    fresh = app("pages/rate.py", app_world.users["rater"], query={"assessment": str(stored(app_world)["id"])}).run()
    assert fresh.toggle[0].value is True
    assert "**Total:**" not in texts(fresh)


def test_consistency_flag_must_be_confirmed(app_world):
    at = open_form(app_world)
    rate_all(at, {**MADRS_22, "madrs_1": 4, "madrs_2": 0})
    assert "Please check: Reported sadness (item 2) is 0" in texts(at)
    submit(at)
    assert "Confirm the flagged ratings" in texts(at)
    assert stored(app_world)["status"] == "draft"
    next(c for c in at.checkbox if c.label.startswith("I have checked")).check()
    submit(at)
    assert stored(app_world)["status"] == "signed"


def test_not_assessed_needs_a_reason_and_is_never_summed(app_world):
    at = open_form(app_world)
    rate_all(at, {k: v for k, v in MADRS_22.items() if k != "madrs_4"})
    next(c for c in at.checkbox if c.key == f"na:{stored(app_world)['id']}:madrs_4").check().run()
    assert "Give a reason" in texts(at)
    assert "madrs_4" not in stored(app_world)["responses"]
    next(t for t in at.text_input if t.key == f"nar:{stored(app_world)['id']}:madrs_4").input(
        "asleep during interview"
    ).run()
    draft = stored(app_world)
    assert draft["responses"]["madrs_4"] == 9 and draft["not_assessed_reasons"]["madrs_4"] == "asleep during interview"
    submit(at)
    score = stored(app_world)["score"]
    assert score["total"] is None and score["missing"] == ["madrs_4"] and score["not_assessed"] == ["madrs_4"]


def test_safety_trigger_alerts_rater_and_pi(app_world):
    at = open_form(app_world)
    rate_all(at, {**MADRS_22, "madrs_10": 4})
    submit(at)
    assert any("Safety alert" in e.value for e in at.error)
    with unit_of_work(write=False) as db:
        open_alerts = alerts.list_alerts(db)
    assert [(a["participant_id"], a["rule_id"]) for a in open_alerts] == [
        (app_world.p1["id"], "madrs_suicidal_thoughts")
    ]


def test_hamd_item_16_shows_only_the_chosen_part(app_world):
    at = open_form(app_world, "hamd17")
    keys = [r.key for r in at.radio if r.key and r.key.startswith("v:")]
    assert not any(k.endswith("16a") or k.endswith("16b") for k in keys)
    choice = next(r for r in at.radio if r.key and r.key.startswith("grp:"))
    choice.set_value("hamd17_16b").run()
    keys = [r.key for r in at.radio if r.key and r.key.startswith("v:")]
    assert any(k.endswith("16b") for k in keys) and not any(k.endswith("16a") for k in keys)
    radio(at, "hamd17_16b").set_value(2).run()
    next(r for r in at.radio if r.key and r.key.startswith("grp:")).set_value("hamd17_16a").run()
    assert "hamd17_16b" not in stored(app_world, "hamd17")["responses"]  # switching clears the other part
    with unit_of_work(write=False) as db:
        events = audit.events_for(db, "assessment", stored(app_world, "hamd17")["id"])
    assert [(e["field"], e["old_value"], e["new_value"]) for e in events if e["field"] == "hamd17_16b"] == [
        ("hamd17_16b", None, 2),
        ("hamd17_16b", 2, None),
    ]


def test_a_stale_tablet_gets_a_conflict_and_reloads(app_world):
    at = open_form(app_world)
    rate_all(at, {"madrs_1": 2})
    draft = stored(app_world)
    with unit_of_work() as db:  # the same draft saved from a second tablet
        assessments.save_draft_response(
            db, app_world.users["rater"], draft["id"], "madrs_2", 5, expected_version=draft["version"]
        )
    radio(at, "madrs_3").set_value(1).run()
    assert "The form now shows the latest saved answers." in texts(at)
    assert stored(app_world)["responses"] == {"madrs_1": 2, "madrs_2": 5}
    assert radio(at, "madrs_2").value == 5


def test_monitor_cannot_open_the_form_and_participant_from_other_site_is_hidden(app_world):
    at = app("pages/rate.py", app_world.users["monitor"]).run()
    assert "does not give access" in texts(at)
    at = app("pages/rate.py", app_world.users["rater"]).run()
    assert {s.label: s for s in at.selectbox}["Participant"].options == ["KET-001"]


def test_a_mistyped_or_foreign_assessment_address_shows_nothing(app_world):
    at = app("pages/rate.py", app_world.users["rater"], query={"assessment": "abc"}).run()
    assert "There is no assessment 'abc'" in texts(at) and not at.radio
    at = app("pages/rate.py", app_world.users["rater"], query={"assessment": "999"}).run()
    assert "There is no assessment '999'" in texts(at) and not at.radio
    with unit_of_work() as db:  # a draft at the other site (OXF): a LON rater may not open it
        other = assessments.start_assessment(
            db, app_world.users["pi"], app_world.p2["id"], "baseline", "madrs", "clinician"
        )
    at = app("pages/rate.py", app_world.users["rater"], query={"assessment": str(other["id"])}).run()
    assert "belongs to another site" in texts(at) and not at.radio
