"""Issue 16 on the rater's form and the review page, through AppTest: the next scale due after
submit, option labels with their scores (one rule for every scale), a blinded rating that stays
blinded after submit, a not-assessed item announced before signing, no internal names on screen,
the sticky header's progress and chips, and focus mode remembered per rater."""

from datetime import UTC, datetime, timedelta

import pytest

from db import assessments, audit, clinical, preferences
from db.connection import unit_of_work
from db.errors import ValidationError
from protocol import load_protocol
from scales import get_scale
from study.assessments import find_or_start_assessment
from tests.app_support import PASSWORD, app, texts, texts_without_clock_times
from tests.conftest_db import mark_eligible
from ui.form_text import option_label

MADRS_22 = {f"madrs_{n}": v for n, v in zip(range(1, 11), [3, 3, 2, 2, 2, 2, 2, 2, 2, 2], strict=True)}


def start(world, scale_id: str, timepoint: str = "baseline") -> int:
    with unit_of_work() as db:
        return find_or_start_assessment(
            db, world.users["rater"], load_protocol(), world.p1["id"], timepoint, None, scale_id
        ).id


def open_form(world, assessment_id: int, *, blinded: bool = False):
    at = app("pages/rate.py", world.users["rater"], query={"assessment": str(assessment_id)}).run()
    assert not at.exception, at.exception
    if not blinded:
        at.toggle[0].set_value(False).run()  # the default study is blinded: the live total is hidden
    return at


def radio(at, item_id: str):
    return next(r for r in at.radio if r.key and r.key.startswith("v:") and r.key.endswith(f":{item_id}"))


def rate_all(at, values: dict[str, int]) -> None:
    for item_id, value in values.items():
        radio(at, item_id).set_value(value).run()
        assert not at.exception, at.exception


def sign(at) -> None:
    next(t for t in at.text_input if t.label.startswith("Your password")).input(PASSWORD)
    next(b for b in at.button if b.label == "Sign and submit").click().run()
    assert not at.exception, at.exception


def stored(assessment_id: int) -> dict:
    with unit_of_work(write=False) as db:
        return assessments.load_assessment(db, assessment_id)


# --------------------------------------------------------------------------- option labels


def test_every_option_label_starts_with_its_score_whatever_the_scale():
    for scale_id in ("madrs", "hamd17", "cadss", "bprs"):
        for item in get_scale(scale_id).items:
            for option in item.options:
                label = option_label(option)
                assert label.startswith(f"{option['value']} – "), (scale_id, item.id, label)
                assert option["label"].strip() in label  # the licensed wording itself is kept
    assert option_label({"value": 0, "label": "Absent"}) == "0 – Absent"
    assert option_label({"value": 0, "label": "0 – No visible sadness"}) == "0 – No visible sadness"


def test_hamd_options_on_the_form_carry_their_scores_like_madrs(app_world):
    at = open_form(app_world, start(app_world, "hamd17"))
    assert radio(at, "hamd17_1").options[:2] == ["0 – Absent", "1 – Mild"]
    madrs = open_form(app_world, start(app_world, "madrs"))
    assert radio(madrs, "madrs_1").options[0] == "0 – No visible sadness"


# --------------------------------------------------------------------------- header, blinding


def test_the_header_counts_what_is_rated_and_offers_the_unanswered_items(app_world):
    at = open_form(app_world, start(app_world, "madrs"))
    rate_all(at, {"madrs_1": 3, "madrs_2": 3})
    assert "**2 of 10 rated**" in texts(at)
    chips = [b.label for b in at.button if b.key and b.key.startswith("chip-unanswered-")]
    assert chips == ["3", "4", "5", "6"] and "+4 more" in texts(at)  # the next four, the rest counted
    header = next(m.value for m in at.markdown if "rated**" in m.value)
    assert header.endswith("**Total:** — · **Band:** —")  # unblinded: the live total (MADRS needs all 10)


def test_a_blinded_rating_shows_no_total_or_band_after_submit_either(app_world):
    aid = start(app_world, "madrs")
    at = open_form(app_world, aid, blinded=True)
    rate_all(at, MADRS_22)
    assert "Total" not in texts(at)
    sign(at)
    assert stored(aid)["status"] == "signed" and stored(aid)["score"]["total"] == 22
    assert "Submitted (signed)." in texts(at)
    assert not at.metric, [m.label for m in at.metric]
    assert "22" not in texts_without_clock_times(at) and "Moderate" not in texts(at)
    assert "blinded rating" in texts(at)


# --------------------------------------------------------------------------- not assessed, names


def test_a_not_assessed_item_that_blanks_the_total_is_announced_before_signing(app_world):
    aid = start(app_world, "madrs")
    at = open_form(app_world, aid)
    rate_all(at, {k: v for k, v in MADRS_22.items() if k != "madrs_4"})
    assert "Marked not assessed" not in texts(at)
    next(c for c in at.checkbox if c.key == f"na:{aid}:madrs_4").check().run()
    next(t for t in at.text_input if t.key == f"nar:{aid}:madrs_4").input("asleep during interview").run()
    shown = texts(at)
    assert "Marked not assessed: item 4 (Reduced sleep)" in shown and "leaves the total blank" in shown
    sign(at)
    shown = texts(at)
    assert stored(aid)["score"]["total"] is None
    assert "Missing or not assessed: item 4 (Reduced sleep)" in shown
    for internal in ("madrs_", "None", "snaith1986"):
        assert internal not in shown, internal


def test_the_review_page_names_items_scales_and_recall_in_words(app_world):
    aid = start(app_world, "madrs")
    at = open_form(app_world, aid)
    rate_all(at, MADRS_22)
    sign(at)
    review = app("pages/assessment.py", app_world.users["pi"]).run()
    next(s for s in review.selectbox if s.label == "Participant").select("KET-001").run()
    assert not review.exception, review.exception
    shown = texts(review) + "\n".join(str(s.options) for s in review.selectbox)
    for frame in review.dataframe:
        shown += frame.value.to_string()
    assert "MADRS" in shown and "the past 7 days" in shown
    for internal in ("madrs_", "madrs ·", " 7d", "None"):
        assert internal not in shown, internal


# --------------------------------------------------------------------------- after submit


def test_after_submit_the_next_scale_due_now_is_one_tap_away(app_world):
    started = datetime.now(UTC) - timedelta(minutes=40)
    with unit_of_work() as db:
        mark_eligible(db, app_world.users["coordinator"], app_world.users["rater"], app_world.p1["id"])
        clinical.record_infusion(
            db,
            app_world.users["coordinator"],
            app_world.p1["id"],
            1,
            started,
            70,
            0.5,
            override_reasons={"infusion_before_baseline": "baseline rated on paper first"},
        )
    cadss = start(app_world, "cadss", "min_40")
    at = open_form(app_world, cadss)
    rate_all(at, {f"cadss_{n}": 0 for n in range(1, 24)})
    sign(at)
    assert "Next scale due for KET-001 now:** BPRS · 40 minutes after infusion start" in texts(at)
    next(b for b in at.button if b.label == "Rate BPRS now").click().run()
    assert not at.exception, at.exception
    with unit_of_work(write=False) as db:
        bprs = assessments.find_assessment(db, app_world.p1["id"], "min_40", "bprs")
    assert bprs is not None and at.query_params["assessment"] == str(bprs["id"])
    assert "BPRS — KET-001" in texts(at)
    assert any(b.label == "Back to the worklist" for b in open_form(app_world, cadss).button)


# --------------------------------------------------------------------------- focus mode


def test_focus_mode_shows_one_item_and_is_remembered_for_the_rater(app_world):
    aid = start(app_world, "madrs")
    at = open_form(app_world, aid)
    next(t for t in at.toggle if t.label == "One item per screen").set_value(True).run()
    assert [r.key for r in at.radio if r.key.startswith("v:")] == [f"v:{aid}:madrs_1"]
    next(b for b in at.button if b.label == "Next →").click().run()
    assert [r.key for r in at.radio if r.key.startswith("v:")] == [f"v:{aid}:madrs_2"]
    next(b for b in at.button if b.key and b.key.endswith("-madrs_9")).click().run()
    assert [r.key for r in at.radio if r.key.startswith("v:")] == [f"v:{aid}:madrs_9"]
    with unit_of_work(write=False) as db:
        assert preferences.get_preference(db, app_world.users["rater"]["id"], "form_layout") == "focus"
        assert preferences.get_preference(db, app_world.users["pi"]["id"], "form_layout") == "list"
    again = open_form(app_world, aid)  # a new session (e.g. after signing out and in)
    assert next(t for t in again.toggle if t.label == "One item per screen").value is True
    assert len([r for r in again.radio if r.key.startswith("v:")]) == 1


def test_a_preference_is_the_newest_audited_choice_and_only_known_values_are_kept(app_world):
    rater = app_world.users["rater"]
    with unit_of_work() as db:
        assert preferences.get_preference(db, rater["id"], "form_layout") == "list"  # the default
        preferences.set_preference(db, rater, "form_layout", "focus")
        preferences.set_preference(db, rater, "form_layout", "focus")  # unchanged: nothing written
        events = [e for e in audit.events_for(db, "user", rater["id"]) if e["action"] == "user.preference"]
        assert [(e["field"], e["old_value"], e["new_value"]) for e in events] == [("form_layout", "list", "focus")]
        with pytest.raises(ValidationError):
            preferences.set_preference(db, rater, "form_layout", "sideways")
        assert preferences.get_preference(db, rater["id"], "form_layout") == "focus"
