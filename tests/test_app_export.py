"""The Data export page through AppTest (issue 12, point 7): for the PI, monitors and admins; a
site-bound account exports its site only; blinding by role; the ZIP is built with a progress bar
and offered as a download, and each build is an audit event."""

from __future__ import annotations

import io
import json
import zipfile

from db import audit, users
from db import exports as db_exports
from db.assessments import save_assessment
from db.connection import unit_of_work
from db.permissions import system_actor
from exports import bundle
from tests.app_support import PASSWORD, app, texts

MADRS = {f"madrs_{n}": 2 for n in range(1, 11)}


def button(at, label):
    return next(b for b in at.button if b.label == label)


def checkbox(at, label):
    return next(c for c in at.checkbox if c.label == label)


def downloads(at):
    return at.get("download_button")


def export_events() -> list[dict]:
    with unit_of_work(write=False) as db:
        rows = db.execute(
            "SELECT username, new_value FROM audit_events WHERE action = ? ORDER BY id", [db_exports.EXPORT_ACTION]
        ).fetchall()
    return [{"username": u, **audit.decode(v)} for u, v in rows]


def rated(study) -> None:
    with unit_of_work() as db:
        save_assessment(db, study.users["rater"], study.p1["id"], "baseline", "madrs", "clinician", MADRS)


def test_the_pi_builds_a_zip_of_every_site_and_downloads_it(app_world):
    rated(app_world)
    at = app("pages/export.py", app_world.users["pi"]).run()
    assert not at.exception
    assert "Data export" in texts(at)
    assert [s.label for s in at.selectbox] == ["Site"] and at.selectbox[0].value == "All sites"
    assert "exported as BLINDED" in texts(at)  # the PI rates and reviews blind
    assert checkbox(at, "CSV for statisticians").value is True
    checkbox(at, "HL7 FHIR R4").check().run()
    assert not downloads(at)
    button(at, "Build the ZIP file").click().run()
    assert not at.exception and not at.error
    offered = downloads(at)
    assert len(offered) == 1 and offered[0].proto.label.startswith("Download scalebook-export-all-sites-")
    assert any(s.value.endswith("records for all sites.") for s in at.success)
    assert any("arms, treatments and doses read BLINDED" in w.value for w in at.warning)
    events = export_events()
    assert len(events) == 1 and events[0]["username"] == "pi" and events[0]["kinds"] == ["csv", "fhir"]
    assert events[0]["blinded"] is True and events[0]["records"]["csv/assessments.csv"] == 1

    # A changed choice never offers the ZIP built for the previous one.
    checkbox(at, "REDCap data dictionary and records").check().run()
    assert not downloads(at)


def test_an_admin_chooses_a_site_and_sees_arms(app_world):
    rated(app_world)
    at = app("pages/export.py", app_world.users["admin"]).run()
    assert "exported as BLINDED" not in texts(at)  # the admin sees arms
    at.selectbox[0].select("LON").run()
    button(at, "Build the ZIP file").click().run()
    assert not at.exception and not at.error and not at.warning
    (offered,) = downloads(at)
    assert offered.proto.label.startswith("Download scalebook-export-lon-")
    events = export_events()
    assert events[-1]["username"] == "admin" and events[-1]["site"] == "LON" and events[-1]["blinded"] is False
    # What that choice builds (exports.bundle, tested against the command line in test_exports_bundle.py).
    built = bundle.build_zip(None, app_world.users["admin"], ["csv"], "LON")
    with zipfile.ZipFile(io.BytesIO(built.data)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        participants = archive.read("csv/participants.csv").decode().splitlines()
    assert manifest["site"] == "LON" and len(participants) == 2 and participants[1].startswith("KET-001,LON,ketamine")


def test_a_site_bound_monitor_exports_its_site_only(app_world):
    with unit_of_work() as db:
        monitor = users.create_user(db, system_actor("tests"), "monitor_lon", "monitor", PASSWORD, site="LON")
    at = app("pages/export.py", monitor).run()
    assert not at.exception
    assert not at.selectbox  # no site to choose
    assert "Your account belongs to site LON: the export holds that site's participants only." in texts(at)
    button(at, "Build the ZIP file").click().run()
    assert downloads(at)[0].proto.label.startswith("Download scalebook-export-lon-")
    assert export_events()[-1]["site"] == "LON"


def test_sdtm_needs_a_valid_study_id_and_says_what_is_wrong(app_world):
    at = app("pages/export.py", app_world.users["pi"]).run()
    checkbox(at, "CDISC SDTM with define.xml").check().run()
    study_id = next(t for t in at.text_input if t.label == "Study ID (SDTM STUDYID)")
    assert study_id.value  # offered from the protocol
    study_id.set_value("two words").run()
    button(at, "Build the ZIP file").click().run()
    assert not at.exception and not downloads(at)
    assert any(e.value.startswith("Study ID 'two words': use 1-20 letters") for e in at.error)
    assert export_events() == []
    study_id = next(t for t in at.text_input if t.label == "Study ID (SDTM STUDYID)")
    study_id.set_value("KET-01").run()
    button(at, "Build the ZIP file").click().run()
    assert not at.error and downloads(at)


def test_nothing_ticked_cannot_be_built(app_world):
    at = app("pages/export.py", app_world.users["monitor"]).run()
    checkbox(at, "CSV for statisticians").uncheck().run()
    assert button(at, "Build the ZIP file").disabled
    assert "Tick at least one format." in texts(at)


def test_raters_and_coordinators_are_refused(app_world):
    for role in ("rater", "coordinator"):
        at = app("pages/export.py", app_world.users[role]).run()
        assert not at.button or "Build the ZIP file" not in [b.label for b in at.button]
        assert "does not give access" in texts(at)
