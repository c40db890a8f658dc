"""The assessment lifecycle: drafts item by item, completion with stored scores, signatures,
amendments with reasons, locking, stale-copy conflicts and bad input that writes nothing."""

from __future__ import annotations

import dataclasses
import itertools
import json
import sqlite3

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from db import ConflictError, LockedError, NotFoundError, PermissionDeniedError, ValidationError, audit
from db import assessments as A
from db.alerts import acknowledge_alert, list_alerts
from scales import ENGINE_VERSION, get_scale, score
from tests.conftest_db import SCALE, counts, full_responses, raw, snapshot


def _start(w, timepoint="baseline", scale=SCALE, actor=None, participant=None, mode="clinician"):
    return A.start_assessment(w.db, actor or w.rater, (participant or w.p1)["id"], timepoint, scale, mode)


def _answer_all(w, a, responses, actor=None):
    for item, value in responses.items():
        a = A.save_draft_response(w.db, actor or w.rater, a["id"], item, value, expected_version=a["version"])
    return a


def _completed(w, timepoint="baseline", value=1):
    a = _answer_all(w, _start(w, timepoint), full_responses(SCALE, value))
    return A.complete_assessment(w.db, w.rater, a["id"], a["version"])


# --- starting --------------------------------------------------------------------------------


def test_start_stores_scale_version_hash_mode_and_default_recall(world):
    definition = get_scale(SCALE)
    a = _start(world)
    assert (a["status"], a["version"], a["mode"]) == ("draft", 1, "clinician")
    assert a["scale_version"] == definition.version
    assert a["definition_hash"] == definition.hash
    assert a["recall"] == definition.default_recall
    assert a["rater_id"] == world.rater["id"] and a["rater"] == "rater"
    assert a["started_at"].endswith("Z") and a["responses"] == {} and a["score"] is None


def test_start_accepts_an_offered_recall_and_refuses_others(world, db_path):
    a = A.start_assessment(world.db, world.rater, world.p1["id"], "day1", "madrs", "clinician", recall="24h")
    assert a["recall"] == "24h"
    before = snapshot(db_path)
    with pytest.raises(ValidationError, match=r"recall period '2w' is not offered by madrs; choose one of 7d, 24h"):
        A.start_assessment(world.db, world.rater, world.p1["id"], "day2", "madrs", "clinician", recall="2w")
    assert snapshot(db_path) == before


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"scale_id": "nosuch"}, ValidationError, r"unknown scale 'nosuch'; known scales: .*hamd17"),
        ({"mode": "phone"}, ValidationError, r"unknown mode 'phone'; choose one of clinician, self, kiosk, link"),
        ({"participant_id": 999}, NotFoundError, r"no participant with id 999"),
        ({"timepoint": "  "}, ValidationError, r"timepoint is required and cannot be blank"),
    ],
)
def test_bad_start_is_refused_and_writes_nothing(world, db_path, kwargs, error, message):
    args = {"participant_id": world.p1["id"], "timepoint": "baseline", "scale_id": SCALE, "mode": "clinician"} | kwargs
    before = snapshot(db_path)
    with pytest.raises(error, match=message):
        A.start_assessment(world.db, world.rater, **args)
    assert snapshot(db_path) == before


def test_the_same_scale_twice_at_one_timepoint_is_a_conflict_naming_the_first(world):
    first = _start(world)
    with pytest.raises(ConflictError, match=rf"assessment {first['id']}, draft\); open that one instead"):
        _start(world)
    assert A.find_assessment(world.db, world.p1["id"], "baseline", SCALE)["id"] == first["id"]


def test_withdrawn_participant_gets_no_new_assessment(world):
    from db.participants import update_participant

    update_participant(world.db, world.coord, world.p1["id"], status="withdrawn", reason="consent withdrawn")
    with pytest.raises(ValidationError, match="P001 is withdrawn"):
        _start(world)


# --- drafts ----------------------------------------------------------------------------------


def test_draft_is_saved_per_item_and_loads_back_on_a_new_connection(world, db_path):
    from db import unit_of_work

    a = _start(world)
    items = list(full_responses())[:3]
    a = A.save_draft_response(world.db, world.rater, a["id"], items[0], 2, expected_version=1)
    a = A.save_draft_response(world.db, world.rater, a["id"], items[1], 0, expected_version=2)
    a = A.save_draft_response(world.db, world.rater, a["id"], items[2], 1)  # no version check asked
    assert a["version"] == 4
    with unit_of_work(db_path, write=False) as other:
        loaded = A.load_assessment(other, a["id"])
    assert loaded["responses"] == {items[0]: 2, items[1]: 0, items[2]: 1}
    assert (loaded["status"], loaded["version"]) == ("draft", 4)
    # clearing an answer
    a = A.save_draft_response(world.db, world.rater, a["id"], items[1], None, expected_version=4)
    assert a["responses"] == {items[0]: 2, items[2]: 1}
    events = [e for e in audit.events_for(world.db, "assessment", a["id"]) if e["action"].startswith("response")]
    assert [(e["field"], e["old_value"], e["new_value"]) for e in events] == [
        (items[0], None, 2),
        (items[1], None, 0),
        (items[2], None, 1),
        (items[1], 0, None),
    ]
    assert events[-1]["action"] == "response.clear"


def test_not_assessed_code_with_reason_is_kept_and_never_summed(world):
    definition = get_scale(SCALE)
    item = next(i for i in definition.items if i.not_assessed_values)
    code = min(item.not_assessed_values)
    a = _start(world)
    a = A.save_draft_response(world.db, world.rater, a["id"], item.id, code, not_assessed_reason="participant asleep")
    assert a["responses"][item.id] == code
    assert a["not_assessed_reasons"] == {item.id: "participant asleep"}
    with pytest.raises(ValidationError, match="a not-assessed reason goes with a not-assessed code"):
        A.save_draft_response(world.db, world.rater, a["id"], item.id, 1, not_assessed_reason="asleep")
    responses = full_responses() | {item.id: code}
    a = _answer_all(world, a, {k: v for k, v in responses.items() if k != item.id})
    done = A.complete_assessment(world.db, world.rater, a["id"], a["version"])
    assert item.id in done["score"]["not_assessed"] and item.id in done["score"]["missing"]


@pytest.mark.parametrize(
    ("item", "value", "message"),
    [
        (f"{SCALE}_1", 7, rf"item {SCALE}_1: value 7 is not allowed.*0-4"),
        (f"{SCALE}_1", "2", rf"item {SCALE}_1: value '2' is not a"),
        (f"{SCALE}_1", 1.5, "is not a whole number"),
        (f"{SCALE}_99", 1, rf"unknown item '{SCALE}_99' for scale '{SCALE}'"),
        (None, 1, "item id must be text"),
    ],
)
def test_out_of_range_or_unknown_item_is_refused_and_writes_nothing(world, db_path, item, value, message):
    a = _start(world)
    before = snapshot(db_path)
    with pytest.raises(ValidationError, match=message):
        A.save_draft_response(world.db, world.rater, a["id"], item, value, expected_version=1)
    assert snapshot(db_path) == before


@pytest.mark.skipif(SCALE != "hamd17", reason="needs the HAM-D 16a/16b choice group")
def test_both_members_of_a_choice_group_are_refused(world):
    a = _start(world)
    a = A.save_draft_response(world.db, world.rater, a["id"], "hamd17_16a", 1)
    with pytest.raises(ValidationError, match="hamd17_16a and hamd17_16b are both answered"):
        A.save_draft_response(world.db, world.rater, a["id"], "hamd17_16b", 1)
    a = A.save_draft_response(world.db, world.rater, a["id"], "hamd17_16a", None)
    a = A.save_draft_response(world.db, world.rater, a["id"], "hamd17_16b", 2)
    assert a["responses"] == {"hamd17_16b": 2}


def test_unknown_assessment_is_not_found(world):
    with pytest.raises(NotFoundError, match="no assessment with id 4242"):
        A.save_draft_response(world.db, world.rater, 4242, f"{SCALE}_1", 1)
    with pytest.raises(NotFoundError):
        A.load_assessment(world.db, 4242)


def test_retrying_the_same_tap_with_a_stale_version_is_a_harmless_no_op(world, db_path):
    a = _start(world)
    first = A.save_draft_response(world.db, world.rater, a["id"], f"{SCALE}_1", 3, expected_version=1)
    events = counts(db_path)["audit_events"]
    again = A.save_draft_response(world.db, world.rater, a["id"], f"{SCALE}_1", 3, expected_version=1)
    assert again["version"] == first["version"] == 2
    assert counts(db_path)["audit_events"] == events


_timepoints = itertools.count()
_ITEMS = [i.id for i in get_scale(SCALE).items]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(st.sampled_from(_ITEMS), st.one_of(st.none(), st.integers(-1, 10))), max_size=20))
def test_any_sequence_of_draft_saves_loads_back_and_replays_from_the_audit_trail(world, steps):
    definition = get_scale(SCALE)
    a = _start(world, f"prop{next(_timepoints)}")
    model: dict[str, int | None] = {}
    bumps = 0
    for item, value in steps:
        allowed = (
            value is None
            or value in definition.item_by_id[item].scored_values | definition.item_by_id[item].not_assessed_values
        )
        after = model | {item: value}
        clash = any(sum(after.get(m) is not None for m in group) > 1 for group in definition.choice_groups)
        try:
            a = A.save_draft_response(world.db, world.rater, a["id"], item, value, expected_version=a["version"])
        except ValidationError:
            assert not allowed or clash
            continue
        assert allowed and not clash
        bumps += model.get(item) != value
        model = after
    loaded = A.load_assessment(world.db, a["id"])
    expected = {k: v for k, v in model.items() if v is not None}
    assert loaded["responses"] == expected and loaded["version"] == 1 + bumps
    replayed: dict[str, int | None] = {}
    for event in audit.events_for(world.db, "assessment", a["id"]):
        if event["action"] in ("response.save", "response.clear"):
            assert replayed.get(event["field"]) == event["old_value"]
            replayed[event["field"]] = event["new_value"]
    assert {k: v for k, v in replayed.items() if v is not None} == expected


# --- completion --------------------------------------------------------------------------------


def test_complete_stores_the_engine_score_from_the_stored_responses(world):
    responses = full_responses(SCALE, 2)
    a = _answer_all(world, _start(world), responses)
    done = A.complete_assessment(world.db, world.rater, a["id"], a["version"])
    expected = score(get_scale(SCALE), responses)
    s = done["score"]
    assert done["status"] == "complete" and done["completed_at"] and done["completed_by"] == "rater"
    assert (s["total"], s["band"], s["band_set"], s["complete"], s["prorated"]) == (
        expected.total,
        expected.band,
        expected.band_set,
        True,
        False,
    )
    assert s["subscales"] == expected.subscales and s["missing"] == []
    assert s["engine_version"] == ENGINE_VERSION and s["definition_hash"] == get_scale(SCALE).hash
    assert done["version"] == a["version"] + 1
    with pytest.raises(ValidationError, match="already complete; to change its answers, amend it and give a reason"):
        A.save_draft_response(world.db, world.rater, a["id"], f"{SCALE}_1", 0)
    with pytest.raises(ValidationError, match="you cannot complete it now"):
        A.complete_assessment(world.db, world.rater, a["id"], done["version"])


def test_incomplete_form_is_stored_as_incomplete_with_the_missing_items(world):
    a = _start(world, scale="phq9")  # staff may not answer a kiosk questionnaire (issue 13 item 7)
    answers = {f"phq9_{i}": 1 for i in (*range(1, 9), 10)}  # item 9 unanswered: PHQ-9 prorates one missing item
    a = _answer_all(world, a, answers)
    done = A.complete_assessment(world.db, world.rater, a["id"], a["version"])
    assert done["score"]["complete"] is False and done["score"]["missing"] == ["phq9_9"]
    assert done["score"]["prorated"] is True and done["score"]["total"] == 9


def test_completing_an_empty_draft_or_without_version_is_refused(world, db_path):
    a = _start(world)
    before = snapshot(db_path)
    with pytest.raises(ValidationError, match="has no answered item"):
        A.complete_assessment(world.db, world.rater, a["id"], 1)
    with pytest.raises(ValidationError, match="expected_version is required"):
        A.complete_assessment(world.db, world.rater, a["id"], None)
    assert snapshot(db_path) == before


def test_save_assessment_is_all_or_nothing(world, db_path):
    before = snapshot(db_path)
    bad = full_responses() | {f"{SCALE}_2": 99}
    with pytest.raises(ValidationError, match=rf"item {SCALE}_2: value 99 is not allowed"):
        A.save_assessment(world.db, world.rater, world.p1["id"], "baseline", SCALE, "clinician", bad)
    assert snapshot(db_path) == before
    done = A.save_assessment(world.db, world.rater, world.p1["id"], "baseline", SCALE, "clinician", full_responses())
    assert done["status"] == "complete" and done["responses"] == full_responses() and done["version"] == 2


def test_safety_flag_raises_an_alert_that_only_the_pi_acknowledges_once(world):
    definition = get_scale(SCALE)
    responses = full_responses(SCALE, 4)  # every item at its maximum fires the suicide-item rule
    flags = score(definition, responses).safety_flags
    assert flags, "the test needs a response set that fires a safety rule"
    done = A.save_assessment(world.db, world.rater, world.p1["id"], "baseline", SCALE, "clinician", responses)
    open_alerts = list_alerts(world.db)
    assert [(x["assessment_id"], x["rule_id"]) for x in open_alerts] == [(done["id"], f["id"]) for f in flags]
    alert_id = open_alerts[0]["id"]
    with pytest.raises(PermissionDeniedError, match=r"rater \(rater\) may not alert: acknowledge"):
        acknowledge_alert(world.db, world.rater, alert_id, "seen")
    acked = acknowledge_alert(world.db, world.pi, alert_id, "called participant; safety plan reviewed")
    assert acked["acknowledged_by_name"] == "pi" and acked["acknowledged_at"].endswith("Z")
    assert list_alerts(world.db) == []
    with pytest.raises(ConflictError, match="already acknowledged by pi"):
        acknowledge_alert(world.db, world.pi, alert_id)


# --- signing, amending, locking ------------------------------------------------------------------


def test_only_the_administering_rater_signs_as_author(world):
    done = _completed(world)
    with pytest.raises(PermissionDeniedError, match="only the rater who administered"):
        A.sign_assessment(world.db, world.rater2, done["id"], done["version"])
    signed = A.sign_assessment(world.db, world.rater, done["id"], done["version"])
    assert signed["status"] == "signed" and signed["signed_by"] == world.rater["id"]
    reviewed = A.sign_assessment(world.db, world.pi, done["id"], signed["version"], meaning="reviewed")
    assert [(s["username"], s["meaning"]) for s in reviewed["signatures"]] == [
        ("rater", "authored"),
        ("pi", "reviewed"),
    ]
    with pytest.raises(ValidationError, match="unknown signature meaning 'ok'"):
        A.sign_assessment(world.db, world.pi, done["id"], reviewed["version"], meaning="ok")


@pytest.mark.parametrize("reason", [None, "", "   \n", 0])
def test_amending_without_a_reason_is_refused_and_writes_nothing(world, db_path, reason):
    done = _completed(world)
    before = snapshot(db_path)
    with pytest.raises(ValidationError, match="a reason for the change .* (is required|must be text)"):
        A.amend_assessment(world.db, world.rater, done["id"], {f"{SCALE}_1": 3}, reason, done["version"])
    assert snapshot(db_path) == before


def test_amendment_audits_each_changed_item_rescores_and_keeps_score_history(world):
    done = _completed(world, value=1)
    reason = "transcription error, corrected from the paper worksheet"
    changes = {f"{SCALE}_1": 3, f"{SCALE}_2": 0, f"{SCALE}_3": 1}  # item 3 unchanged
    amended = A.amend_assessment(world.db, world.rater, done["id"], changes, reason, done["version"])
    assert amended["status"] == "amended" and amended["version"] == done["version"] + 1
    assert amended["responses"][f"{SCALE}_1"] == 3 and amended["responses"][f"{SCALE}_2"] == 0
    assert amended["score"]["total"] == done["score"]["total"] + 2 - 1
    history = A.score_history(world.db, done["id"])
    assert [s["total"] for s in history] == [done["score"]["total"], amended["score"]["total"]]
    assert history[1]["reason"] == reason
    events = [e for e in audit.events_for(world.db, "assessment", done["id"]) if e["action"] == "assessment.amend"]
    assert [(e["field"], e["old_value"], e["new_value"], e["reason"], e["username"]) for e in events] == [
        (f"{SCALE}_1", 1, 3, reason, "rater"),
        (f"{SCALE}_2", 1, 0, reason, "rater"),
    ]
    status = [e for e in audit.events_for(world.db, "assessment", done["id"]) if e["action"] == "assessment.status"]
    assert [(e["old_value"], e["new_value"], e["reason"]) for e in status] == [("complete", "amended", reason)]
    with pytest.raises(ValidationError, match="already the saved value"):
        A.amend_assessment(world.db, world.rater, done["id"], {f"{SCALE}_1": 3}, reason, amended["version"])


def test_amending_a_draft_is_refused(world):
    a = _start(world)
    with pytest.raises(ValidationError, match="still a draft"):
        A.amend_assessment(world.db, world.rater, a["id"], {f"{SCALE}_1": 1}, "why", 1)


def test_locked_assessment_cannot_change_through_the_api(world):
    done = _completed(world)
    with pytest.raises(PermissionDeniedError, match="may not assessment: lock"):
        A.lock_assessment(world.db, world.rater, done["id"], done["version"])
    locked = A.lock_assessment(world.db, world.pi, done["id"], done["version"], reason="database lock")
    assert locked["status"] == "locked" and locked["locked_by"] == world.pi["id"]
    v = locked["version"]
    with pytest.raises(LockedError, match="is locked"):
        A.amend_assessment(world.db, world.pi, done["id"], {f"{SCALE}_1": 0}, "late correction", v)
    with pytest.raises(LockedError):
        A.save_draft_response(world.db, world.rater, done["id"], f"{SCALE}_1", 0)
    with pytest.raises(LockedError):
        A.sign_assessment(world.db, world.pi, done["id"], v, meaning="approved")
    with pytest.raises(LockedError):
        A.lock_assessment(world.db, world.pi, done["id"], v)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE item_responses SET value = 0 WHERE assessment_id = {id}",
        "DELETE FROM item_responses WHERE assessment_id = {id}",
        "INSERT INTO item_responses (assessment_id, item_id, value, answered_at, answered_by) "
        "VALUES ({id}, 'x_1', 1, '2026-01-01T00:00:00.000000Z', 'intruder')",
        "UPDATE assessments SET status = 'amended', version = version + 1 WHERE id = {id}",
        "UPDATE assessments SET timepoint = 'other', version = version + 1 WHERE id = {id}",
        "DELETE FROM assessments WHERE id = {id}",
        "INSERT INTO scores (assessment_id, complete, prorated, engine_version, scale_version, definition_hash, "
        "scored_at, scored_by) VALUES ({id}, 1, 0, 'x', 'x', 'sha256:x', '2026-01-01T00:00:00.000000Z', 'intruder')",
    ],
)
def test_locked_assessment_is_immutable_even_in_raw_sql(world, db_path, statement):
    done = _completed(world)
    A.lock_assessment(world.db, world.pi, done["id"], done["version"])
    before = snapshot(db_path)
    conn = raw(db_path)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="LOCKED"):
            conn.execute(statement.format(id=done["id"]))
    finally:
        conn.close()
    assert snapshot(db_path) == before


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        (
            "UPDATE assessments SET status = 'draft', completed_at = NULL, version = version + 1 WHERE id = {id}",
            "status change is not allowed",
        ),
        ("UPDATE assessments SET recall = 'x' WHERE id = {id}", "raise its version by exactly one"),
        ("UPDATE assessments SET definition_hash = 'sha256:other', version = version + 1 WHERE id = {id}", "are fixed"),
        ("UPDATE scores SET total = 0 WHERE assessment_id = {id}", "APPEND-ONLY"),
        ("DELETE FROM scores WHERE assessment_id = {id}", "APPEND-ONLY"),
        ("DELETE FROM assessments WHERE id = {id}", "never be deleted"),
    ],
)
def test_triggers_guard_completed_assessments_below_the_python_layer(world, db_path, statement, message):
    done = _completed(world)
    conn = raw(db_path)
    try:
        with pytest.raises(sqlite3.IntegrityError, match=message):
            conn.execute(statement.format(id=done["id"]))
    finally:
        conn.close()


# --- concurrency (single process; the multi-process tests are in test_db_concurrency.py) -----------


def test_second_save_from_a_stale_copy_is_a_conflict_and_overwrites_nothing(world, db_path):
    from db import unit_of_work

    a = _start(world)
    with unit_of_work(db_path, write=False) as one, unit_of_work(db_path, write=False) as two:
        copy_one, copy_two = A.load_assessment(one, a["id"]), A.load_assessment(two, a["id"])
    with unit_of_work(db_path) as one:
        A.save_draft_response(one, world.rater, a["id"], f"{SCALE}_1", 3, expected_version=copy_one["version"])
    before = snapshot(db_path)
    with pytest.raises(
        ConflictError,
        match=r"someone else saved a newer copy of assessment \d+ \(you have version 1, the saved copy "
        r"is version 2\); nothing was saved: reload it",
    ):
        with unit_of_work(db_path) as two:
            A.save_draft_response(two, world.rater2, a["id"], f"{SCALE}_1", 0, expected_version=copy_two["version"])
    assert snapshot(db_path) == before
    assert A.load_assessment(world.db, a["id"])["responses"] == {f"{SCALE}_1": 3}


def test_stale_amendment_is_a_conflict(world):
    done = _completed(world)
    A.amend_assessment(world.db, world.rater, done["id"], {f"{SCALE}_1": 3}, "first correction", done["version"])
    with pytest.raises(ConflictError, match="someone else saved a newer copy"):
        A.amend_assessment(world.db, world.pi, done["id"], {f"{SCALE}_1": 0}, "second correction", done["version"])
    assert A.load_assessment(world.db, done["id"])["responses"][f"{SCALE}_1"] == 3


def test_a_changed_definition_never_rescores_silently(world, monkeypatch):
    a = _start(world)
    real = get_scale(SCALE)
    monkeypatch.setattr(A, "get_scale", lambda scale_id: dataclasses.replace(real, hash="sha256:" + "f" * 64))
    with pytest.raises(ConflictError, match=f"the {SCALE} definition changed after assessment {a['id']} was started"):
        A.save_draft_response(world.db, world.rater, a["id"], f"{SCALE}_1", 1)


# --- history ---------------------------------------------------------------------------------------


def test_participant_history_has_one_row_per_assessment_with_stored_scores(world):
    first = _completed(world, "baseline", value=1)
    second = A.save_assessment(
        world.db, world.rater, world.p1["id"], "day1", SCALE, "clinician", full_responses(SCALE, 0)
    )
    draft = _start(world, "day2")
    A.save_assessment(world.db, world.rater_s2, world.p2["id"], "baseline", SCALE, "clinician", full_responses())
    frame = A.participant_history(world.db, world.p1["id"])
    assert isinstance(frame, pd.DataFrame)
    assert list(frame["assessment_id"]) == [first["id"], second["id"], draft["id"]]
    assert list(frame["status"]) == ["complete", "complete", "draft"]
    assert frame["total"].tolist()[:2] == [first["score"]["total"], 0] and pd.isna(frame["total"].iloc[2])
    assert str(frame["total"].dtype) == "Int64" and str(frame["complete"].dtype) == "boolean"
    assert isinstance(frame["started_at"].dtype, pd.DatetimeTZDtype)
    assert frame["subscales"].iloc[0] == first["score"]["subscales"]
    assert set(A.HISTORY_COLUMNS) == set(frame.columns)


def test_history_of_unknown_participant_is_not_found_and_of_a_new_one_is_empty(world):
    with pytest.raises(NotFoundError, match="no participant with id 777"):
        A.participant_history(world.db, 777)
    assert A.participant_history(world.db, world.p2["id"]).empty


def test_stored_score_columns_are_json(world, db_path):
    done = _completed(world)
    conn = raw(db_path)
    try:
        subscales, missing, flags = conn.execute(
            "SELECT subscales, missing, flags FROM scores WHERE assessment_id = ?", [done["id"]]
        ).fetchone()
    finally:
        conn.close()
    assert json.loads(subscales) == done["score"]["subscales"] and json.loads(missing) == [] and json.loads(flags) == []
