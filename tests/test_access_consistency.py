"""Issue 13 item 15: consistent access.

(a) A new account's site is never a default: the admin picks a site or confirms "all sites"
    (the Users page starts with neither; db.users.create_user and `python -m db adduser` refuse
    neither and both).
(b) `authorize` trusts no role from a mapping it did not load: staff accounts are re-read by id;
    the system and participant actors exist only as the read-only `Actor` their loaders make, so
    a plain dict claiming role "system" or "participant" (a copy, or one built by hand) is refused
    by every write, the export audit included.
(c) Audit history follows one permission (db.permissions.may_read_audit) on every page: the
    Assessments page's history and the trajectory page's certified copy agree for every role.
(d) An assessment whose scale definition file is gone opens read-only with a note, never an
    exception: Assessments, Rate (a draft), the trajectory and the exports.
"""

from __future__ import annotations

import io
import json
import shutil
import sys
from pathlib import Path

import pytest

from db import assessments, tokens, users
from db import exports as db_exports
from db.cli import main as db_main
from db.connection import unit_of_work
from db.errors import PermissionDeniedError, ValidationError
from db.permissions import ROLES, Actor, authorize, may_read_audit, participant_actor, system_actor
from protocol import load_protocol
from scales.loader import DEFINITIONS_DIR, SCALES_DIR_ENV
from study.self_report import start_self_report
from tests.app_support import PASSWORD, app, texts
from tests.conftest_db import snapshot
from ui.navigation import PAGES

MADRS = {f"madrs_{n}": 2 for n in range(1, 11)}
MDX = {f"mdx_{n}": 2 for n in range(1, 11)}


def box(at, label):
    return next(s for s in at.selectbox if s.label == label)


def text_input(at, label):
    return next(t for t in at.text_input if t.label == label)


def button(at, label):
    return next(b for b in at.button if b.label == label)


# --------------------------------------------------------------------------- (a) no default site


def test_an_account_needs_a_site_or_all_sites_chosen_explicitly(app_world, db_path):
    admin = app_world.users["admin"]
    with unit_of_work() as db:
        before = snapshot(db_path)
        for site, everywhere in ((None, False), ("", False), ("LON", True)):
            with pytest.raises(ValidationError, match="choose"):
                users.create_user(db, admin, "new.rater", "rater", PASSWORD, site, all_sites=everywhere)
        assert snapshot(db_path) == before  # nothing written, not even an audit event
        assert users.create_user(db, admin, "lon.rater", "rater", PASSWORD, "LON")["site_id"] is not None
        assert users.create_user(db, admin, "roving.pi", "pi", PASSWORD, all_sites=True)["site_id"] is None


def test_the_users_page_starts_with_no_site_and_refuses_to_guess(app_world):
    at = app("pages/admin.py", app_world.users["admin"]).run()
    assert box(at, "Site").value is None  # not "(all sites)", not the first site
    text_input(at, "User name").input("new.rater")
    text_input(at, "Initial password").input("a long enough password")
    button(at, "Create user").click().run()
    assert "choose the account's site" in texts(at) and not at.exception
    with unit_of_work(write=False) as db:
        assert "new.rater" not in {u["username"] for u in users.list_users(db)}

    text_input(at, "User name").input("new.rater")
    text_input(at, "Initial password").input("a long enough password")
    box(at, "Site").select("LON")
    button(at, "Create user").click().run()
    assert "User 'new.rater' created as rater at site LON" in texts(at)

    text_input(at, "User name").input("roving.monitor")
    box(at, "Role").select("monitor")
    text_input(at, "Initial password").input("a long enough password")
    next(c for c in at.checkbox if c.label.startswith("All sites")).check()
    button(at, "Create user").click().run()
    assert "User 'roving.monitor' created as monitor for all sites" in texts(at)
    with unit_of_work(write=False) as db:
        made = {u["username"]: u["site_id"] for u in users.list_users(db)}
    assert made["new.rater"] is not None and made["roving.monitor"] is None


def test_the_command_line_asks_for_a_site_or_all_sites(db_path, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    with pytest.raises(SystemExit) as exit_:
        db_main(["adduser", "ann", "--role", "rater"])
    assert exit_.value.code == 2
    assert "one of the arguments --site --all-sites is required" in capsys.readouterr().err


# --------------------------------------------------------------------------- (b) no trusted plain dicts


def test_a_plain_dict_is_never_the_system(world, db_path):
    before = snapshot(db_path)
    for forged in (
        {"id": None, "username": "cli:mallory", "role": "system", "site_id": None},
        dict(system_actor("copied")),
    ):
        with pytest.raises(PermissionDeniedError, match="system actor comes only from"):
            users.create_user(world.db, forged, "mallory", "admin", PASSWORD, all_sites=True)
        with pytest.raises(PermissionDeniedError, match="system actor comes only from"):
            authorize(world.db, forged, "user.manage")
        with pytest.raises(PermissionDeniedError, match="system actor comes only from"):
            db_exports.record_export(world.db, forged, "csv", {"x.csv": 1}, blinded=False)
    assert snapshot(db_path) == before
    real = system_actor("tests")
    assert authorize(world.db, real, "user.manage") is real  # the loader's actor works, and stays typed


def test_a_participant_actor_is_only_what_the_link_made(world, db_path):

    made = start_self_report(world.db, world.coord, load_protocol(), world.p1["id"], "day_7", ["phq9"], channel="link")
    me = tokens.redeem_token(world.db, made["token"])
    assert isinstance(me, Actor) and me["role"] == "participant"
    aid = me["assessment_ids"][0]
    before = snapshot(db_path)
    for forged in (
        dict(me),
        {**me},
        {
            "id": None,
            "username": "participant:P001",
            "role": "participant",
            "participant_id": world.p1["id"],
            "assessment_ids": [aid],
            "token_id": me["token_id"],
        },
    ):
        with pytest.raises(PermissionDeniedError, match="not valid"):
            assessments.save_draft_response(world.db, forged, aid, "phq9_1", 1)
    assert snapshot(db_path) == before
    assert assessments.save_draft_response(world.db, me, aid, "phq9_1", 1)["responses"] == {"phq9_1": 1}


def test_an_actor_cannot_be_made_or_changed_outside_its_loaders():
    with pytest.raises(TypeError, match="made only by"):
        Actor({"id": None, "username": "x", "role": "system"})
    real = system_actor("tests")
    with pytest.raises(AttributeError):
        real._fields = {}  # noqa: SLF001
    with pytest.raises(TypeError):
        real["role"] = "admin"  # type: ignore[index]
    with pytest.raises(ValueError, match="role 'participant'"):
        participant_actor({"role": "system"})


def test_a_staff_role_is_read_from_the_account_not_from_the_mapping(world):
    claimed = {**world.rater, "role": "pi"}  # a rater's id, claiming the PI's role
    with pytest.raises(PermissionDeniedError, match="role of 'rater' changed"):
        authorize(world.db, claimed, "assessment.lock")
    assert authorize(world.db, dict(world.rater), "assessment.start")["role"] == "rater"


# --------------------------------------------------------------------------- (c) one audit permission


def submitted(study):
    with unit_of_work() as db:
        row = assessments.save_assessment(
            db, study.users["rater"], study.p1["id"], "day_1", "madrs", "clinician", MADRS
        )
        return assessments.sign_assessment(db, study.users["rater"], row["id"], row["version"])


def test_every_page_shows_audit_history_to_the_same_roles(app_world):
    submitted(app_world)
    for role in ROLES:
        shown = {}
        if role in PAGES["assessment"].roles:
            at = app("pages/assessment.py", app_world.users[role]).run()
            assert not at.exception, role
            shown["assessment"] = any(e.label == "History (audit trail)" for e in at.expander)
        if role in PAGES["trajectory"].roles:
            at = app("pages/trajectory.py", app_world.users[role]).run()
            assert not at.exception, role
            shown["trajectory"] = any(
                b.label == "Download the participant record (HTML)" for b in at.get("download_button")
            )
        assert set(shown.values()) <= {may_read_audit(role)}, (role, shown)


def test_pages_that_read_the_audit_trail_ask_the_one_rule():
    """A page reading audit events (a record's history, the certified copy) asks may_read_audit."""
    root = Path(__file__).resolve().parent.parent
    for page in sorted((root / "pages").glob("*.py")):
        source = page.read_text(encoding="utf-8")
        if "audit.events_for" in source or "participant_record" in source:
            assert "may_read_audit(" in source, page.name
            assert '"audit.read"' not in source, page.name  # no second spelling of the rule


# --------------------------------------------------------------------------- (d) a definition gone


@pytest.fixture
def retired_scale(app_world, tmp_path, monkeypatch):
    """A scale installed while an assessment was done (a draft and a signed one), then removed."""
    directory = tmp_path / "definitions"
    shutil.copytree(DEFINITIONS_DIR, directory)
    # a copy of the MADRS under another id (item ids carry the scale id)
    text = (directory / "madrs.json").read_text(encoding="utf-8").replace('"madrs_', '"mdx_')
    data = json.loads(text)
    data.update(id="mdx", title="MADRS (retired copy)", abbreviation="MDX")
    extra = directory / "mdx.json"
    extra.write_text(json.dumps(data, indent=2), encoding="utf-8")
    monkeypatch.setenv(SCALES_DIR_ENV, str(directory))
    with unit_of_work() as db:
        rater = app_world.users["rater"]
        done = assessments.save_assessment(db, rater, app_world.p1["id"], "day_1", "mdx", "clinician", MDX)
        assessments.sign_assessment(db, rater, done["id"], done["version"])
        draft = assessments.start_assessment(db, rater, app_world.p1["id"], "day_2", "mdx", "clinician")
        assessments.save_draft_response(db, rater, draft["id"], "mdx_1", 3)
    extra.unlink()
    return {"done": done["id"], "draft": draft["id"]}


def test_an_assessment_without_its_definition_opens_read_only(app_world, retired_scale):
    for role in ("pi", "rater", "monitor"):
        at = app("pages/assessment.py", app_world.users[role]).run()
        if at.selectbox and any(s.label == "Assessment" for s in at.selectbox):
            box(at, "Assessment").select(retired_scale["done"]).run()
        assert not at.exception, role
        assert "not installed on this server any more" in texts(at) and "read-only" in texts(at), role
        assert not any(b.label in ("Save the amendment", "Lock this assessment") for b in at.button), role
        assert [m.value for m in at.metric][:1] == ["20"]  # the stored score is still shown


def test_a_draft_without_its_definition_opens_read_only_on_the_rate_page(app_world, retired_scale):
    at = app("pages/rate.py", app_world.users["rater"], {"assessment": str(retired_scale["draft"])}).run()
    assert not at.exception
    assert "opens read-only" in texts(at) and not at.radio  # nothing to answer
    assert not any(b.label == "Sign and submit" for b in at.button)


def test_the_trajectory_and_the_exports_skip_a_scale_without_its_definition(app_world, retired_scale):
    at = app("pages/trajectory.py", app_world.users["pi"]).run()
    assert not at.exception
    from exports.bundle import build_zip

    built = build_zip(None, app_world.users["pi"], ["csv", "sdtm", "fhir", "redcap"], study_id="KET")
    assert built.total_records > 0
