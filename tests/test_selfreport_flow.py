"""The order of the participant's screens (selfreport.flow), without Streamlit."""

from scales import get_scale
from selfreport import flow
from selfreport.flow import Step

QIDS = get_scale("qids_sr16")
PHQ9 = get_scale("phq9")
DEFS = {"qids_sr16": QIDS, "phq9": PHQ9}


def test_a_fresh_questionnaire_starts_at_its_intro_then_the_first_question():
    assert flow.open_step(QIDS, 1, {}) == Step("intro", 1)
    assert flow.first_question(QIDS, 1, {}) == Step("item", 1, "qids_sr16_1")


def test_resuming_lands_on_the_first_unanswered_question_or_the_check_page():
    answered = {f"qids_sr16_{n}": 1 for n in range(1, 6)}
    assert flow.open_step(QIDS, 1, answered) == Step("item", 1, "qids_sr16_6")
    everything = {i.id: 0 for i in QIDS.items}
    assert flow.open_step(QIDS, 1, everything) == Step("review", 1)
    sets = [
        {"id": 1, "scale_id": "qids_sr16", "status": "complete", "responses": everything},
        {"id": 2, "scale_id": "phq9", "status": "draft", "responses": {"phq9_1": 0}},
    ]
    assert flow.resume_step(sets, DEFS) == Step("item", 2, "phq9_2")
    sets[1]["status"] = "complete"
    assert flow.resume_step(sets, DEFS) == flow.THANKS


def test_next_and_back_walk_one_question_at_a_time():
    step = Step("item", 1, "qids_sr16_2")
    assert flow.next_step(QIDS, step, {}) == Step("item", 1, "qids_sr16_3")
    assert flow.previous_step(QIDS, step, {}) == Step("item", 1, "qids_sr16_1")
    assert flow.previous_step(QIDS, Step("item", 1, "qids_sr16_1"), {}) == Step("intro", 1)
    assert flow.next_step(QIDS, Step("item", 1, "qids_sr16_16"), {}) == Step("review", 1)
    assert flow.previous_step(QIDS, Step("review", 1), {}) == Step("item", 1, "qids_sr16_16")
    assert flow.position(QIDS, {}, "qids_sr16_3") == (3, 16)


def test_a_question_changed_from_the_check_page_returns_there():
    step = Step("item", 1, "qids_sr16_4", from_review=True)
    assert flow.next_step(QIDS, step, {}) == Step("review", 1)
    assert flow.previous_step(QIDS, step, {}) == Step("review", 1)


def test_phq9_question_10_is_asked_only_after_a_problem_was_reported():
    none = {f"phq9_{n}": 0 for n in range(1, 10)}
    assert flow.questions(PHQ9, none)[-1] == "phq9_9"
    assert flow.next_step(PHQ9, Step("item", 1, "phq9_9"), none) == Step("review", 1)
    assert flow.ready_to_submit(PHQ9, none)
    some = {**none, "phq9_3": 1}
    assert flow.questions(PHQ9, some)[-1] == "phq9_10"
    assert flow.next_step(PHQ9, Step("item", 1, "phq9_9"), some) == Step("item", 1, "phq9_10")
    assert not flow.ready_to_submit(PHQ9, some)
    rows = flow.review_rows(PHQ9, some)
    assert (rows[-1].number, rows[-1].item_id, rows[-1].answer) == (10, "phq9_10", None)
    assert rows[0].answer == "Not at all"


def test_after_sending_comes_the_next_questionnaire_then_the_end():
    sets = [
        {"id": 1, "scale_id": "qids_sr16", "status": "draft", "responses": {}},
        {"id": 2, "scale_id": "phq9", "status": "draft", "responses": {}},
    ]
    assert flow.after_submit(sets, 1, DEFS) == Step("intro", 2)
    assert flow.after_submit(sets[1:], 2, DEFS) == flow.THANKS


def test_steps_survive_the_session_state_round_trip_and_junk_is_ignored():
    step = Step("item", 3, "phq9_4", from_review=True)
    assert Step.from_dict(step.to_dict()) == step
    assert Step.from_dict(None) is None and Step.from_dict({"kind": "admin"}) is None


def test_only_safety_flags_trigger_the_supportive_text():
    assert flow.safety_triggered([{"kind": "safety", "id": "x"}])
    assert not flow.safety_triggered([{"kind": "consistency", "id": "y"}])
    assert not flow.safety_triggered([])
