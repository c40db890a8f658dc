"""Two messages of the trial day that the walk in tests/test_browser_trial_day.py found wrong,
checked fast through AppTest:

- recording the first adverse event closes the "Record an adverse event" expander (it is open
  only while there is none), so its "recorded" message must be drawn outside it, where it can be
  seen;
- a worklist timepoint whose infusion is not logged yet reads "not yet scheduled: ..." instead of
  "due not yet scheduled".
"""

from db import clinical
from db.connection import unit_of_work
from tests.app_support import app, texts


def test_the_first_adverse_event_recorded_is_confirmed_outside_the_closing_expander(app_world):
    pid = app_world.p1["id"]
    at = app("pages/infusion.py", app_world.users["coordinator"]).run()
    [recorder] = [e for e in at.expander if e.label == "Record an adverse event"]
    assert recorder.proto.expanded  # open while there is no event
    next(w for w in at.text_input if w.key == f"participant:{pid}:ae-new0-term").set_value("nausea")
    next(b for b in at.button if b.key == f"participant:{pid}:ae-record").click().run()
    assert not at.exception
    with unit_of_work(write=False) as db:
        assert [e["term"] for e in clinical.list_adverse_events(db, pid)] == ["nausea"]
    [recorder] = [e for e in at.expander if e.label == "Record an adverse event"]
    assert not recorder.proto.expanded  # closed now that an event exists ...
    assert "Adverse event 'nausea' recorded." in [s.value for s in at.success]
    assert not [s for s in recorder.success]  # ... so the message is not inside it


def test_a_timepoint_without_its_infusion_says_not_yet_scheduled(app_world):
    at = app("pages/worklist.py", app_world.users["rater"]).run()
    captions = [c.value for c in at.caption]
    assert any(c.startswith("not yet scheduled: its time follows from the infusion start") for c in captions), captions
    assert "due not yet scheduled" not in texts(at)
