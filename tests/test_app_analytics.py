"""pages/trajectory.py and pages/cohort.py through AppTest, with each role: access, site
restriction, blinding (no arm, no dose), the time-axis switch, downloads, the certified copy,
the PI's audited acknowledgement of alerts, and a new or amended rating showing at once."""

from __future__ import annotations

import json
from datetime import timedelta

import pandas as pd
import pyarrow as pa
import pytest

from db import alerts, assessments, audit, clinical, clock
from db.connection import unit_of_work
from db.participants import participant_codes
from tests.app_support import app, texts
from tests.test_analytics_db import T0, amend_day1, frozen, madrs, seed_trial

ALLOWED_TRAJECTORY = ("pi", "rater", "monitor", "coordinator")


def specs(at) -> list[dict]:
    return [json.loads(e.proto.spec) for e in at.get("vega_lite_chart")]


def datasets(at, index: int = 0) -> dict[str, pd.DataFrame]:
    """The data Streamlit sent with a chart (Arrow IPC, moved out of the spec), by dataset name."""
    element = at.get("vega_lite_chart")[index]
    return {d.name: pa.ipc.open_stream(d.data.data).read_all().to_pandas() for d in element.proto.datasets}


def layer_names(spec: dict) -> list[str]:
    return [layer.get("name") for layer in spec.get("layer", [])]


def download_labels(at) -> list[str]:
    return [d.proto.label for d in at.get("download_button")]


@pytest.fixture
def seeded(app_world):
    return seed_trial(app_world)


# --------------------------------------------------------------------------- trajectory


@pytest.mark.parametrize("role", ALLOWED_TRAJECTORY)
def test_trajectory_draws_every_scale_and_the_dissociation_panel_for_each_role(app_world, seeded, role):
    at = app("pages/trajectory.py", app_world.users[role], {"participant": "KET-001"}).run()
    assert not at.exception, at.exception
    drawn = specs(at)
    assert [s["title"]["text"].split(" — ")[0] for s in drawn[:3]] == ["MADRS", "CADSS", "BPRS"]
    assert "hconcat" in drawn[3]  # dissociation: CADSS total and BPRS+
    assert layer_names(drawn[0])[:3] == ["bands", "infusion-markers", "infusion-labels"]
    assert download_labels(at).count("PNG") == 4 and download_labels(at).count("SVG") == 4
    outcome = at.dataframe[0].value
    assert outcome.iloc[0][["scale", "baseline", "endpoint", "responder"]].tolist() == ["MADRS", 30, 14, "yes"]
    assert "Open safety alert" in texts(at)
    assert "Rater changed" in texts(at)  # day 1 rated by the PI, the others by the rater


def test_admin_and_participants_cannot_open_the_trajectory(app_world, seeded):
    at = app("pages/trajectory.py", app_world.users["admin"]).run()
    assert "does not give access" in texts(at) and not at.get("vega_lite_chart")


def test_site_staff_see_only_their_sites_participants(app_world, seeded):
    rater = app("pages/trajectory.py", app_world.users["rater"]).run()
    assert rater.selectbox[0].options == ["KET-001"]
    rater = app("pages/trajectory.py", app_world.users["rater"], {"participant": "KET-002"}).run()
    assert rater.selectbox[0].value == "KET-001"  # another site's code in the address is ignored
    pi = app("pages/trajectory.py", app_world.users["pi"], {"participant": "KET-002"}).run()
    assert pi.selectbox[0].options == ["KET-001", "KET-002"] and pi.selectbox[0].value == "KET-002"
    assert "No infusion is logged yet" in texts(pi)


@pytest.mark.parametrize(
    ("role", "blinded"), [("pi", True), ("rater", True), ("monitor", True), ("coordinator", False)]
)
def test_blinded_roles_see_no_arm_and_no_dose(app_world, seeded, role, blinded):
    at = app("pages/trajectory.py", app_world.users[role], {"participant": "KET-001"}).run()
    markers = datasets(at)["madrs-infusions"]
    infusion_table = next(d.value for d in at.dataframe if "dose (mg/kg)" in d.value.columns)
    if blinded:
        assert "arm hidden (blinded)" in texts(at) and "ketamine" not in texts(at)
        assert list(infusion_table["dose (mg/kg)"]) == ["blinded"]
        assert (list(markers["label"]), list(markers["dose"])) == (["#1"], ["blinded"])
    else:
        assert "arm ketamine" in texts(at)
        assert list(infusion_table["dose (mg/kg)"]) == [0.5]
        assert list(markers["label"]) == ["#1 0.5 mg/kg"]


def test_the_time_axis_switch(app_world, seeded):
    at = app("pages/trajectory.py", app_world.users["pi"], {"participant": "KET-001"}).run()
    x = specs(at)[0]["layer"][-1]["encoding"]["x"]
    assert x["scale"]["type"] == "symlog"
    at.button_group(key="time_view").set_value("day").run()
    assert not at.exception
    x = next(layer for layer in specs(at)[0]["layer"] if layer["name"] == "points")["encoding"]["x"]
    assert x["axis"]["title"] == "Hours since the start of infusion 1"
    assert "infusion-spans" in layer_names(specs(at)[0])
    at.button_group(key="time_view").set_value("course").run()
    x = next(layer for layer in specs(at)[0]["layer"] if layer["name"] == "points")["encoding"]["x"]
    assert x["axis"]["title"] == "Days since the start of infusion 1"


def test_the_infusion_day_view_picks_an_infusion(app_world, seeded):
    with frozen(T0 + timedelta(days=3)), unit_of_work() as db:
        clinical.record_infusion(
            db,
            app_world.users["coordinator"],
            app_world.p1["id"],
            2,
            clock.format_utc(T0 + timedelta(days=3, hours=1)),
            70,
            0.5,
        )
    at = app("pages/trajectory.py", app_world.users["pi"], {"participant": "KET-001"}).run()
    assert not any(s.label == "Infusion" for s in at.selectbox)  # only the day view needs it
    at.button_group(key="time_view").set_value("day").run()
    choose = next(s for s in at.selectbox if s.label == "Infusion")
    assert choose.options == ["Infusion 1", "Infusion 2"]
    choose.select(2).run()
    points = next(layer for layer in specs(at)[0]["layer"] if layer["name"] == "points")
    assert points["encoding"]["x"]["axis"]["title"] == "Hours since the start of infusion 2"
    hours = list(datasets(at)["madrs-points"]["hours"])
    assert hours[-1] == pytest.approx(-25.0)  # day 2 (T0 + 2 d) is 25 h before infusion 2


def test_an_amended_rating_shows_at_once(app_world, seeded):
    at = app("pages/trajectory.py", app_world.users["pi"], {"participant": "KET-001"}).run()
    assert "amended" not in layer_names(specs(at)[0])
    amend_day1(app_world, seeded)  # day 1: 14 → 16, no longer a response
    at.run()
    assert "amended" in layer_names(specs(at)[0])
    assert at.dataframe[0].value.iloc[0][["endpoint", "responder"]].tolist() == [16, "no"]
    with frozen(T0 + timedelta(days=3)), unit_of_work() as db:
        assessments.save_assessment(
            db,
            app_world.users["rater"],
            app_world.p1["id"],
            "day_3",
            "madrs",
            "clinician",
            madrs(dict.fromkeys(range(1, 11), 1)),
        )
    at.run()
    points = datasets(at)["madrs-points"]
    assert len(points) == 5 and points["total"].iloc[-1] == 10  # baseline, 40 min, days 1-3: day 3 is drawn


def test_the_certified_copy_is_offered_to_audit_readers_only(app_world, seeded):
    for role in ("pi", "monitor"):
        at = app("pages/trajectory.py", app_world.users[role], {"participant": "KET-001"}).run()
        assert "Download the participant record (HTML)" in download_labels(at), role
    for role in ("rater", "coordinator"):
        at = app("pages/trajectory.py", app_world.users[role], {"participant": "KET-001"}).run()
        assert "Download the participant record (HTML)" not in download_labels(at), role
        assert "which your role may not read" in texts(at)


def test_a_participant_without_ratings(app_world):
    at = app("pages/trajectory.py", app_world.users["pi"], {"participant": "KET-002"}).run()
    assert not at.exception and "No submitted ratings for KET-002 yet" in texts(at)


# --------------------------------------------------------------------------- cohort


@pytest.mark.parametrize("role", ("rater", "coordinator", "admin"))
def test_the_cohort_is_for_the_pi_and_monitors_only(app_world, seeded, role):
    at = app("pages/cohort.py", app_world.users[role]).run()
    assert "does not give access" in texts(at) and not at.get("vega_lite_chart")


@pytest.mark.parametrize("role", ("pi", "monitor"))
def test_cohort_view_summaries_table_and_completeness(app_world, seeded, role):
    at = app("pages/cohort.py", app_world.users[role]).run()
    assert not at.exception, at.exception
    chart = specs(at)[0]
    assert layer_names(chart) == ["participants", "ci", "mean-line", "mean"]
    frames = {tuple(d.value.columns)[:2]: d.value for d in at.dataframe}
    rates = next(v for k, v in frames.items() if k == ("timepoint", "response"))
    day1 = rates[rates["timepoint"] == "Day 1 (24 hours)"].iloc[0]
    assert (day1["response"], day1["remission"]) == ("1/1 (100 %)", "0/1 (0 %)")  # 30 → 14
    table = next(v for k, v in frames.items() if k == ("participant", "site")).set_index("participant")
    assert "arm" not in table.columns  # blinded study: pooled, no arm
    p1 = table.loc["KET-001"]
    assert (p1["baseline"], p1["endpoint"], p1["responder"], p1["CADSS peak"]) == (30, 14, True, 23)
    assert p1["missed assessments"] > 0 and p1["rater changes"] == 2
    matrix = next(d.value for d in at.dataframe if d.value.index.name == "participant")
    assert matrix.loc["KET-001", "40 minutes after infusion start"] == "done"  # MADRS, CADSS, BPRS all done
    assert matrix.loc["KET-001", "Baseline (before the infusion)"] == "missing"  # no QIDS-SR16 at baseline
    assert matrix.loc["KET-001", "80 minutes after infusion start"] == "missing"
    assert "Download the table (CSV)" in download_labels(at) and "PNG" in download_labels(at)
    assert "Arms are hidden" in texts(at)


def test_the_pi_acknowledges_an_alert_with_a_comment_and_it_is_audited(app_world, seeded):
    at = app("pages/cohort.py", app_world.users["pi"]).run()
    assert "Open safety alerts (1)" in texts(at)
    submit = next(b for b in at.button if b.label == "Acknowledge alert")
    submit.click().run()
    assert "Write what was done" in texts(at)
    with unit_of_work(write=False) as db:
        assert len(alerts.list_alerts(db)) == 1  # nothing acknowledged without a note
    at.text_area[0].input("called the participant; safety plan reviewed with the on-call psychiatrist")
    next(b for b in at.button if b.label == "Acknowledge alert").click().run()
    assert "acknowledged; your note is in the audit trail" in texts(at)
    assert "No open safety alerts" in texts(at)
    with unit_of_work(write=False) as db:
        alert = alerts.list_alerts(db, open_only=False)[0]
        events = audit.events_for(db, "safety_alert", alert["id"])
    assert alert["acknowledged_by_name"] == "pi"
    assert [(e["action"], e["username"], e["reason"]) for e in events][-1] == (
        "alert.acknowledge",
        "pi",
        "called the participant; safety plan reviewed with the on-call psychiatrist",
    )


def test_monitors_see_alerts_but_cannot_acknowledge(app_world, seeded):
    at = app("pages/cohort.py", app_world.users["monitor"]).run()
    assert "Open safety alerts (1)" in texts(at) and "Only the PI acknowledges alerts" in texts(at)
    assert not any(b.label == "Acknowledge alert" for b in at.button)


def test_the_cohort_reflects_a_new_rating_at_once(app_world, seeded):
    at = app("pages/cohort.py", app_world.users["pi"]).run()
    amend_day1(app_world, seeded)
    at.run()
    table = next(d.value for d in at.dataframe if tuple(d.value.columns)[:2] == ("participant", "site"))
    p1 = table.set_index("participant").loc["KET-001"]
    assert (p1["endpoint"], p1["responder"], p1["amended"]) == (16, False, 1)


def test_an_unblinded_study_shows_arms_by_arm(app_world, seeded, unblinded):
    at = app("pages/cohort.py", app_world.users["pi"]).run()
    assert not at.exception, at.exception
    table = next(d.value for d in at.dataframe if tuple(d.value.columns)[:2] == ("participant", "site"))
    assert table.set_index("participant").loc["KET-001", "arm"] == "ketamine"
    chart = specs(at)[0]
    assert chart["layer"][0]["encoding"]["color"]["field"] == "arm"
    assert "Arms are hidden" not in texts(at)
    trajectory = app("pages/trajectory.py", app_world.users["pi"], {"participant": "KET-001"}).run()
    assert "arm ketamine" in texts(trajectory)


def test_the_picker_lists_codes_of_the_users_site_and_returns_the_full_record(app_world, seeded):
    with unit_of_work(write=False) as db:
        everyone = participant_codes(db)
        london = participant_codes(db, site=app_world.users["rater"]["site_id"])
    assert [(code, status) for _, code, status in everyone] == [("KET-001", "enrolled"), ("KET-002", "enrolled")]
    assert [code for _, code, _ in london] == ["KET-001"]
    at = app("pages/trajectory.py", app_world.users["pi"], {"participant": "KET-002"}).run()
    assert "**KET-002** · site OXF · enrolled" in texts(at)  # site code and status from the full record
