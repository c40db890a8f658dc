"""study.assessments: the one find-or-start rule with the protocol window check, called by every
path that makes a rating. A rating outside its timepoint's window records the same
outside_window deviation whether it comes from the clinician form (ui.assessment_start), the
self-report kiosk or link (study.self_report) or the import of transcribed ratings (the
`import-responses` command line)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from db import clock
from db.assessments import find_assessment
from db.clinical import record_infusion
from db.connection import unit_of_work
from db.deviations import list_deviations
from db.errors import ConflictError, ValidationError
from exports.cli import main
from protocol import load_protocol
from study.assessments import find_or_start_assessment, record_rating
from study.self_report import start_self_report
from tests.app_support import app, texts
from tests.conftest_db import mark_eligible

PROTOCOL = load_protocol()
#: Day 1 is 24 hours after the infusion start, window ±4 hours: a rating now is 20 hours early.
EARLY = "20.0 hours before the window opens"


def dosed(world, monkeypatch) -> datetime:
    """KET-001 eligible and given infusion 1 two minutes from now (db.clock stands just after it);
    returns the infusion start."""
    enrolled = datetime.now(UTC).replace(microsecond=0)
    moment = {"now": enrolled + timedelta(minutes=1)}
    monkeypatch.setattr(clock, "utc_now", lambda: clock.format_utc(moment["now"]))
    with unit_of_work() as db:
        mark_eligible(db, world.users["coordinator"], world.users["rater"], world.p1["id"])
        started = enrolled + timedelta(minutes=2)
        moment["now"] = started + timedelta(minutes=1)
        record_infusion(db, world.users["coordinator"], world.p1["id"], 1, started, 70, 0.5)
    return started


def the_deviation(world, scale_id: str) -> dict:
    """The one deviation recorded for KET-001, checked to be the day-1 window deviation of the
    assessment of `scale_id` at day 1; returned for path-specific checks."""
    with unit_of_work(write=False) as db:
        rows = list_deviations(db, participant_id=world.p1["id"])
        assessment = find_assessment(db, world.p1["id"], "day_1", scale_id)
    assert len(rows) == 1, rows
    row = rows[0]
    assert row["kind"] == "outside_window" and row["timepoint"] == "day_1"
    assert row["assessment_id"] == assessment["id"]
    assert row["description"].startswith(f"{scale_id} at Day 1") and row["description"].endswith(EARLY)
    assert row["minutes_early"] == pytest.approx(20 * 60 + 2, abs=1) and row["minutes_late"] is None
    return row


def test_the_clinician_form_records_the_deviation(app_world, monkeypatch):
    from ui.assessment_start import start_or_resume

    dosed(app_world, monkeypatch)
    aid = start_or_resume(app_world.users["rater"], PROTOCOL, app_world.p1["id"], "day_1", None, "madrs")
    assert aid is not None
    assert the_deviation(app_world, "madrs")["description"] == f"madrs at Day 1 (24 hours) started {EARLY}"


@pytest.mark.parametrize("channel", ["kiosk", "link"])
def test_the_self_report_kiosk_and_link_record_the_same_deviation(app_world, monkeypatch, channel):
    dosed(app_world, monkeypatch)
    with unit_of_work() as db:
        made = start_self_report(
            db, app_world.users["coordinator"], PROTOCOL, app_world.p1["id"], "day_1", ["qids_sr16"], channel=channel
        )
    row = the_deviation(app_world, "qids_sr16")
    assert made["deviations"] == [row["description"]] == [f"qids_sr16 at Day 1 (24 hours) started {EARLY}"]
    with unit_of_work(write=False) as db:
        assert find_assessment(db, app_world.p1["id"], "day_1", "qids_sr16")["mode"] == channel


def test_the_self_report_page_records_the_deviation_and_tells_the_staff(app_world, monkeypatch):
    dosed(app_world, monkeypatch)
    at = app("pages/self_report_start.py", app_world.users["coordinator"]).run()
    next(s for s in at.selectbox if s.label == "Participant").select("KET-001").run()
    next(s for s in at.selectbox if s.label == "Timepoint").select("day_1").run()
    next(b for b in at.button if b.label == "Create the link").click().run()
    assert not at.exception, at.exception
    row = the_deviation(app_world, "qids_sr16")
    assert f"Outside the protocol window: {row['description']}. A protocol deviation was recorded." in texts(at)


def test_the_import_command_line_records_the_same_deviation(app_world, monkeypatch, tmp_path, capsys):
    dosed(app_world, monkeypatch)
    at = datetime.now(UTC).replace(microsecond=0).isoformat()
    lines = [f"KET-001,madrs,day_1,{at},madrs_{n},2," for n in range(1, 11)]
    path = tmp_path / "paper.csv"
    path.write_text(
        "\n".join(["participant,scale,timepoint,assessed_at,item,value,not_assessed_reason", *lines]) + "\n"
    )
    assert main(["import-responses", str(path), "--as", "rater"]) == 0
    row = the_deviation(app_world, "madrs")
    assert row["description"] == f"madrs at Day 1 (24 hours) rated {EARLY}"  # rated: the time it happened is given
    assert f"protocol deviation: {row['description']}" in capsys.readouterr().out


def test_a_rating_inside_its_window_or_already_started_records_none(app_world, monkeypatch):
    started = dosed(app_world, monkeypatch)
    rater = app_world.users["rater"]
    with unit_of_work() as db:
        inside = find_or_start_assessment(
            db, rater, PROTOCOL, app_world.p1["id"], "day_1", None, "madrs", now=started + timedelta(days=1)
        )
        again = find_or_start_assessment(db, rater, PROTOCOL, app_world.p1["id"], "day_1", None, "madrs")
        assert list_deviations(db, participant_id=app_world.p1["id"]) == []
    assert inside.created and inside.deviation is None and inside.assessment["infusion_id"] is not None
    assert not again.created and again.id == inside.id and again.deviation is None


def test_an_import_never_replaces_a_rating_nor_places_one_around_an_unlogged_infusion(app_world, monkeypatch):
    dosed(app_world, monkeypatch)
    rater = app_world.users["rater"]
    with unit_of_work() as db:
        find_or_start_assessment(db, rater, PROTOCOL, app_world.p1["id"], "day_1", None, "madrs")
    values = {f"madrs_{n}": 1 for n in range(1, 11)}
    with unit_of_work() as db, pytest.raises(ConflictError, match="never replaces a stored rating"):
        record_rating(db, rater, PROTOCOL, app_world.p1, "day_1", None, "madrs", "clinician", values)
    with unit_of_work() as db, pytest.raises(ValidationError, match="no infusion 2 logged"):
        record_rating(db, rater, PROTOCOL, app_world.p1, "min_40", 2, "madrs", "clinician", values)


def test_self_report_refuses_a_clinician_rating_and_records_nothing(app_world, monkeypatch):
    dosed(app_world, monkeypatch)
    with unit_of_work() as db:
        find_or_start_assessment(
            db,
            app_world.users["rater"],
            PROTOCOL,
            app_world.p1["id"],
            "day_7",
            None,
            "qids_sr16",
            now=datetime.now(UTC) + timedelta(days=7),
        )
    with unit_of_work() as db, pytest.raises(ValidationError, match="started as a clinician rating"):
        start_self_report(db, app_world.users["coordinator"], PROTOCOL, app_world.p1["id"], "day_7", ["qids_sr16"])
