"""db/analytics.py: the bulk reads behind the views, on data written through the real repository
functions (audited, scored by the engine), and the data versions the pages cache on.

`seed_trial` is shared with tests/test_report.py and tests/test_app_analytics.py."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from analytics.cohort import cohort_outcomes
from analytics.records import assessment_from_row, infusion_from_row
from charts.views import cohort_from_rows
from db import alerts, assessments, clinical, clock
from db import analytics as store
from db.connection import unit_of_work
from protocol import load_protocol
from tests.conftest_db import mark_eligible

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # infusion 1 of KET-001
PROTOCOL = load_protocol()


@contextmanager
def frozen(moment: datetime):
    """Make everything the db package stores happen at `moment` (completion times included)."""
    original = clock.utc_now
    clock.utc_now = lambda: clock.format_utc(moment)
    try:
        yield
    finally:
        clock.utc_now = original


def madrs(total_of_items: dict[int, int]) -> dict[str, int]:
    return {f"madrs_{n}": total_of_items.get(n, 0) for n in range(1, 11)}


DAY1 = madrs({1: 2, 2: 2, 3: 2, 4: 2, 5: 1, 6: 1, 7: 1, 8: 1, 9: 1, 10: 1})  # 14
DAY2 = madrs({**{n: 1 for n in range(1, 10)}, 10: 4})  # 13, item 10 = 4: a safety alert


def seed_trial(study) -> dict:
    """KET-001 (LON, ketamine, 0.5 mg/kg at T0): baseline MADRS 30 (T0 − 2 d, rater), CADSS 0 and
    BPRS 18 before; at 40 min MADRS 20, CADSS 23 (all items 1), BPRS 22 (positive 8); day 1 MADRS
    14 by the PI (a rater change); day 2 MADRS 13 with item 10 = 4 (open safety alert).
    KET-002 (OXF, midazolam): baseline MADRS 30 by the PI, no infusion."""
    rater, coordinator, pi = study.users["rater"], study.users["coordinator"], study.users["pi"]
    p1, p2 = study.p1["id"], study.p2["id"]
    ids = {}
    with frozen(T0 - timedelta(days=2)), unit_of_work() as db:
        mark_eligible(db, coordinator, rater, p1)  # baseline MADRS 30 at T0 - 2 d
        mark_eligible(db, pi, pi, p2)
        assessments.save_assessment(
            db, rater, p1, "baseline", "cadss", "clinician", {f"cadss_{n}": 0 for n in range(1, 24)}
        )
        assessments.save_assessment(
            db, rater, p1, "baseline", "bprs", "clinician", {f"bprs_{n}": 1 for n in range(1, 19)}
        )
    with frozen(T0 - timedelta(hours=1)), unit_of_work() as db:
        ids["infusion"] = clinical.record_infusion(
            db, coordinator, p1, 1, clock.format_utc(T0), 70, 0.5, ended_at=clock.format_utc(T0 + timedelta(minutes=40))
        )["id"]
    with frozen(T0 + timedelta(minutes=42)), unit_of_work() as db:
        assessments.save_assessment(
            db, rater, p1, "min_40", "madrs", "clinician", madrs(dict.fromkeys(range(1, 11), 2)), recall="24h"
        )
        assessments.save_assessment(
            db, rater, p1, "min_40", "cadss", "clinician", {f"cadss_{n}": 1 for n in range(1, 24)}
        )
        positive = {4: 2, 11: 2, 12: 2, 15: 2}
        assessments.save_assessment(
            db, rater, p1, "min_40", "bprs", "clinician", {f"bprs_{n}": positive.get(n, 1) for n in range(1, 19)}
        )
    with frozen(T0 + timedelta(days=1)), unit_of_work() as db:
        ids["day_1"] = assessments.save_assessment(db, pi, p1, "day_1", "madrs", "clinician", DAY1, recall="24h")["id"]
    with frozen(T0 + timedelta(days=2)), unit_of_work() as db:
        ids["day_2"] = assessments.save_assessment(db, rater, p1, "day_2", "madrs", "clinician", DAY2)["id"]
    return ids


def amend_day1(study, ids):
    """Amend day 1 item 5 from 1 to 3: 14 → 16 (no longer a response to a baseline of 30)."""
    with frozen(T0 + timedelta(days=3)), unit_of_work() as db:
        row = assessments.load_assessment(db, ids["day_1"])
        return assessments.amend_assessment(
            db,
            study.users["pi"],
            ids["day_1"],
            {"madrs_5": 3},
            "transcription error, corrected from the worksheet",
            row["version"],
        )


def test_cohort_rows_load_current_scores_and_infusions(app_world):
    seed_trial(app_world)
    with unit_of_work(write=False) as db:
        rows = store.cohort_rows(db)
        lon = store.cohort_rows(db, site_id=app_world.users["rater"]["site_id"])
    assert [p.code for p in rows["participants"]] == ["KET-001", "KET-002"]
    assert [p.code for p in lon["participants"]] == ["KET-001"] and len(lon["assessments"]) == 8
    assert len(rows["assessments"]) == 9 and len(rows["infusions"]) == 1
    cohort = cohort_from_rows(rows)
    o = cohort_outcomes(PROTOCOL, cohort, "madrs")[app_world.p1["id"]]
    assert (o.baseline_total, o.endpoint.total, o.endpoint_flag("response")) == (30, 14, True)
    assert [(c.timepoint, c.previous_rater, c.rater) for c in o.rater_changes][0][0] == "day_1"
    bprs = cohort.scale(app_world.p1["id"], "bprs")
    assert [a.subscales.get("positive") for a in bprs] == [4, 8]  # stored subscales, decoded


def test_participant_rows_and_the_amended_flag(app_world):
    ids = seed_trial(app_world)
    amend_day1(app_world, ids)
    with unit_of_work(write=False) as db:
        rows = store.participant_rows(db, app_world.p1["id"])
    day1 = next(assessment_from_row(r) for r in rows["assessments"] if r.id == ids["day_1"])
    assert (day1.total, day1.amended, day1.status, day1.rater) == (16, True, "amended", "pi")
    assert day1.definition_hash.startswith("sha256:") and day1.recall == "24h"
    assert infusion_from_row(rows["infusions"][0]).dose_mg_per_kg == 0.5
    assert [a["rule_id"] for a in rows["alerts"]] == ["madrs_suicidal_thoughts"]


def test_data_versions_change_with_every_audited_write(app_world):
    ids = seed_trial(app_world)
    with unit_of_work(write=False) as db:
        before, p1_before = store.data_version(db), store.participant_version(db, app_world.p1["id"])
        p2_before = store.participant_version(db, app_world.p2["id"])
    amend_day1(app_world, ids)
    with unit_of_work(write=False) as db:
        after_amend, p1_after = store.data_version(db), store.participant_version(db, app_world.p1["id"])
        assert store.participant_version(db, app_world.p2["id"]) == p2_before  # the other participant's cache stays
    assert before != after_amend and p1_before != p1_after
    with unit_of_work() as db:
        alert = alerts.list_alerts(db, participant_id=app_world.p1["id"])[0]
        alerts.acknowledge_alert(db, app_world.users["pi"], alert["id"], "called the participant")
    with unit_of_work(write=False) as db:
        assert store.participant_version(db, app_world.p1["id"]) != p1_after
        assert store.data_version(db) != after_amend


def test_participant_record_holds_everything_for_the_certified_copy(app_world):
    ids = seed_trial(app_world)
    amend_day1(app_world, ids)
    with unit_of_work(write=False) as db:
        record = store.participant_record(db, app_world.p1["id"])
    assert record["participant"]["code"] == "KET-001" and len(record["infusions"]) == 1
    day1 = next(a for a in record["assessments"] if a["id"] == ids["day_1"])
    assert day1["responses"]["madrs_5"] == 3 and [s["total"] for s in day1["score_history"]] == [14, 16]
    actions = {e["action"] for e in record["audit"]}
    assert {"participant.create", "infusion.create", "assessment.amend", "alert.create"} <= actions


# --------------------------------------------------------------------------- incremental re-reads


def refreshed(previous=None, site_id=None):
    with unit_of_work(write=False) as db:
        return store.refresh_cohort_rows(db, previous, site_id=site_id)


def full(site_id=None):
    with unit_of_work(write=False) as db:
        return store.cohort_rows(db, site_id=site_id)


def same_rows(a, b):
    return (
        sorted(a["assessments"]) == sorted(b["assessments"])
        and a["infusions"] == b["infusions"]
        and a["participants"] == b["participants"]
    )


def test_refresh_rereads_only_the_participant_whose_assessments_changed(app_world):
    ids = seed_trial(app_world)
    first = refreshed()
    assert first["reread"] == 2 and same_rows(first, full())
    unchanged = refreshed(first)
    assert unchanged["reread"] == 0 and same_rows(unchanged, full())
    amend_day1(app_world, ids)  # a new score row and a version step for KET-001's day 1
    after = refreshed(unchanged)
    assert after["reread"] == 1 and same_rows(after, full())
    day1 = next(r for r in after["assessments"] if r.id == ids["day_1"])
    assert (day1.total, day1.n_scores) == (16, 2)  # the amended total, two score rows
    p2 = app_world.p2["id"]
    assert after["by_participant"][p2] is unchanged["by_participant"][p2]  # KET-002's rows reused as they were


def test_refresh_sees_a_signature_a_lock_and_a_new_rating(app_world):
    ids = seed_trial(app_world)
    rows = refreshed()
    with frozen(T0 + timedelta(days=3)), unit_of_work() as db:  # a version step without a new score
        row = assessments.load_assessment(db, ids["day_2"])
        assessments.sign_assessment(db, app_world.users["rater"], ids["day_2"], row["version"])
    rows = refreshed(rows)
    assert rows["reread"] == 1 and same_rows(rows, full())
    assert next(r for r in rows["assessments"] if r.id == ids["day_2"]).status == "signed"
    with frozen(T0 + timedelta(days=3)), unit_of_work() as db:
        row = assessments.load_assessment(db, ids["day_2"])
        assessments.lock_assessment(db, app_world.users["pi"], ids["day_2"], row["version"], "database lock")
    rows = refreshed(rows)
    assert rows["reread"] == 1 and next(r for r in rows["assessments"] if r.id == ids["day_2"]).status == "locked"
    with frozen(T0), unit_of_work() as db:
        assessments.save_assessment(db, app_world.users["pi"], app_world.p2["id"], "day_1", "madrs", "clinician", DAY1)
    rows = refreshed(rows)
    assert rows["reread"] == 1 and same_rows(rows, full())


def test_refresh_never_reuses_rows_read_for_another_site(app_world):
    seed_trial(app_world)
    everyone = refreshed()
    london = refreshed(everyone, site_id=app_world.users["rater"]["site_id"])
    assert london["reread"] == 1 and same_rows(london, full(site_id=app_world.users["rater"]["site_id"]))
    assert [p.code for p in london["participants"]] == ["KET-001"]


# --------------------------------------------------------------------------- named rows


def test_every_statement_names_its_columns_as_its_row_type_does(app_world):
    """The row types in db.analytics are the one description of what the statements return: a
    statement whose columns drift from its type (a missing AS, a reordered column) fails here,
    and the rows above db/ are read by name."""
    seed_trial(app_world)
    statements = [
        (store.ParticipantRow, store.PARTICIPANTS_SQL.format(site=""), [1]),
        (store.AssessmentRow, store.COHORT_ASSESSMENTS_SQL.format(site=""), [1]),
        (store.AssessmentRow, store.PARTICIPANT_ASSESSMENTS_SQL, [app_world.p1["id"]]),
        (store.InfusionRow, store.INFUSIONS_SQL.format(site=""), [1]),
    ]
    with unit_of_work(write=False) as db:
        for shape, sql, params in statements:
            cursor = db.execute(sql, params)
            assert tuple(c[0] for c in cursor.description) == shape._fields, shape.__name__
        rows = store.cohort_rows(db)
        one = store.participant_rows(db, app_world.p1["id"])
    assert all(type(r) is store.ParticipantRow for r in rows["participants"])
    assert all(type(r) is store.AssessmentRow for r in rows["assessments"] + one["assessments"])
    assert all(type(r) is store.InfusionRow for r in rows["infusions"] + one["infusions"])


def test_no_scale_is_named_in_the_analytics_sql():
    """Which scale has which subscales comes from the scale definitions, not from SQL."""
    source = open(store.__file__, encoding="utf-8").read()
    assert "CASE WHEN a.scale_id" not in source and "scale_id = '" not in source
