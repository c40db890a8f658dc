"""One export permission rule, checked below the pages: exports.scope.scope_for checks
`export.read` against the database (the account as stored now), and every export path reads
participant data only after it: the command line (`python -m exports ... --as USERNAME`, through
resolve_scope) and the Data export page (exports.bundle.build_zip). An account without
export.read, or one whose role was taken away after it signed in, is refused on each path with
nothing written and nothing audited."""

from __future__ import annotations

import pytest

from db import users
from db.connection import unit_of_work
from db.errors import PermissionDeniedError
from db.exports import EXPORT_ACTION
from db.permissions import system_actor
from exports import bundle
from exports.cli import CommandError, main
from exports.scope import scope_for
from protocol import load_protocol
from tests.app_support import app, texts


def exports_audited() -> int:
    with unit_of_work(write=False) as db:
        return db.execute("SELECT count(*) FROM audit_events WHERE action = ?", [EXPORT_ACTION]).fetchone()[0]


def demote(app_world, role: str = "pi") -> dict:
    """The session's copy of the `role` account, after an admin made it a rater."""
    account = dict(app_world.users[role])
    with unit_of_work() as db:
        users.change_role(db, app_world.users["admin"], account["id"], "rater", "moved to rating")
    return account


def test_scope_for_is_the_rule(app_world):
    protocol = load_protocol()
    stale = demote(app_world)
    with unit_of_work(write=False) as db:
        scope, problems = scope_for(db, app_world.users["monitor"], None, protocol)
        assert problems == [] and scope.actor["role"] == "monitor"
        assert scope_for(db, system_actor("tests"), None, protocol)[0].actor["role"] == "system"
        for refused, why in (
            (app_world.users["rater"], "may not export: read"),
            (app_world.users["coordinator"], "may not export: read"),
            (stale, "changed from pi to rater; sign in again"),  # checked against the stored account
        ):
            with pytest.raises(PermissionDeniedError, match=why):
                scope_for(db, refused, None, protocol)


def test_the_export_page_path_is_refused_below_the_page(app_world):
    """build_zip is what the page calls: a session copy that still says 'pi' is not enough."""
    stale = demote(app_world)
    with pytest.raises(CommandError) as refused:
        bundle.build_zip(None, stale, ["csv"])
    assert refused.value.problems == ["the role of 'pi' changed from pi to rater; sign in again"]
    at = app("pages/export.py", app_world.users["rater"]).run()
    assert "does not give access" in texts(at) and "Build the ZIP file" not in [b.label for b in at.button]
    assert exports_audited() == 0


def test_the_command_line_path_is_refused(app_world, tmp_path, capsys):
    out = tmp_path / "csv"
    demote(app_world)
    for username in ("rater", "pi"):  # a rater, and a pi demoted to rater
        assert main(["csv", "--out", str(out), "--as", username]) == 1
        assert "exports need an admin, pi or monitor account" in capsys.readouterr().err
    assert not out.exists() and exports_audited() == 0
    assert main(["csv", "--out", str(out), "--as", "monitor"]) == 0  # the same command for a monitor
    assert out.is_dir() and exports_audited() == 1
