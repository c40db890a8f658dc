"""The demo study (`python -m demo`, demo/): deterministic, valid by every check the app applies to
real entries (verify-audit re-scores every assessment and compares the data with the audit trail),
shaped like the literature, refusing a database with other data, printing one line per role, and
labelled synthetic on every page and in the exports.

Kept fast: one small demo database is shared by the module; the clock is fixed, as the
determinism promise is "same seed, same day, same study"."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import demo.cli
import pytest
from argon2 import PasswordHasher
from demo import DemoRefused, build

import db.cli
from db import clock, users
from db.connection import connect
from db.demo import DEMO_LABEL, is_demo
from db.migrations import init_database
from db.permissions import ROLES, system_actor
from db.sites import create_site
from exports import cli as exports_cli
from protocol import load_protocol
from protocol.schedule import planned_infusions
from tests.app_support import app

NOW = "2026-03-18T14:30:00.000000Z"


@pytest.fixture(scope="module")
def frozen():
    """A fixed clock and cheap password hashing for the whole module."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(clock, "utc_now", lambda: NOW)
        patch.setattr(users, "hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))
        yield patch


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory, frozen) -> tuple[Path, list]:
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    accounts = build(path, seed=7, participants=8)
    return path, accounts


def snapshot(path: Path) -> dict[str, list]:
    """Everything a participant's record holds, without row ids that nothing promises or random secrets."""
    queries = {
        "participants": "SELECT p.code, s.code, arm, status, p.created_at FROM participants p JOIN sites s "
        "ON s.id = p.site_id ORDER BY p.code",
        "assessments": "SELECT p.code, a.timepoint, a.scale_id, a.mode, a.status, a.started_at, a.completed_at "
        "FROM assessments a JOIN participants p ON p.id = a.participant_id ORDER BY 1, 2, 3",
        "responses": "SELECT p.code, a.timepoint, a.scale_id, r.item_id, r.value FROM item_responses r JOIN "
        "assessments a ON a.id = r.assessment_id JOIN participants p ON p.id = a.participant_id "
        "ORDER BY 1, 2, 3, 4",
        "scores": "SELECT p.code, a.timepoint, a.scale_id, s.total, s.subscales, s.band FROM scores s JOIN "
        "assessments a ON a.id = s.assessment_id JOIN participants p ON p.id = a.participant_id "
        "ORDER BY 1, 2, 3, s.id",
        "infusions": "SELECT participant_id, number, started_at, ended_at, weight_kg, dose_mg_per_kg FROM infusions "
        "ORDER BY 1, 2",
        "vitals": "SELECT participant_id, measured_at, systolic, diastolic, heart_rate, spo2 FROM vitals ORDER BY 1, 2",
        "adverse_events": "SELECT participant_id, term, onset_at, severity FROM adverse_events ORDER BY 1, 2",
        "deviations": "SELECT participant_id, timepoint, kind, description FROM protocol_deviations ORDER BY 1, 2, 4",
        "alerts": "SELECT participant_id, rule_id, acknowledged_at FROM safety_alerts ORDER BY 1, 2",
    }
    with closing(sqlite3.connect(path)) as conn:
        return {name: conn.execute(sql).fetchall() for name, sql in queries.items()}


def test_same_seed_same_study_and_another_seed_differs(demo_db, tmp_path, capsys):
    path, accounts = demo_db
    again = build(tmp_path / "again.db", seed=7, participants=8)
    assert snapshot(tmp_path / "again.db") == snapshot(path)
    assert again == accounts
    # Another seed, through the command line, which prints one line per account and every role.
    assert (
        demo.cli.main(
            ["--db", str(tmp_path / "other.db"), "--seed", "8", "--participants", "8", "--repeated-group", "0"]
        )
        == 0
    )
    lines = [line for line in capsys.readouterr().out.splitlines() if line and not line.startswith("#")]
    assert {line.split()[0] for line in lines} == set(ROLES)
    assert all(len(line.split()) == 3 for line in lines)
    other = snapshot(tmp_path / "other.db")
    assert other["responses"] != snapshot(path)["responses"]
    assert other["participants"] != snapshot(path)["participants"]


def test_cli_header_says_passwords_are_demo_only_and_builds_the_repeated_group_beside(tmp_path, frozen, capsys):
    """The command line prints demo-only accounts and builds the repeated-infusion group beside the
    main study. That group follows protocol/studies/repeated_infusion.json: every participant gets
    the protocol's calendar (induction on its weekdays, then weekly maintenance) up to today,
    ratings around each infusion, all inside their windows (no deviation), and the database
    passes every audit check."""
    assert demo.cli.main(["--db", str(tmp_path / "two.db"), "--participants", "2", "--repeated-group", "3"]) == 0
    out = capsys.readouterr().out
    assert "DEMO-ONLY" in out and "Synthetic demo study" in out
    beside = tmp_path / "two-repeated.db"
    assert f"SCALEBOOK_DB={beside} SCALEBOOK_PROTOCOL=protocol/studies/repeated_infusion.json" in out
    with closing(connect(beside)) as conn:
        assert is_demo(conn)
    check_repeated_calendar(beside)
    for line in out.splitlines():
        if not line.startswith("#"):
            role, username, password = line.split()
            assert users.check_password(password, username) == password  # the app's own password policy


def test_passes_every_check_of_the_audit_trail(demo_db):
    path, _ = demo_db
    # Chain, anchor (key + witness), every stored score equal to the engine's re-score, data = trail.
    assert db.cli.main(["--db", str(path), "verify-audit"]) == 0


def test_study_has_the_events_of_a_living_trial(demo_db):
    path, accounts = demo_db
    with closing(sqlite3.connect(path)) as conn:
        one = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
        assert one("SELECT count(*) FROM participants WHERE status = 'screen_failed'") >= 1
        assert one("SELECT count(DISTINCT site_id) FROM participants") == 2
        assert one("SELECT count(DISTINCT arm) FROM participants") == 2
        assert one("SELECT count(*) FROM safety_alerts WHERE acknowledged_at IS NULL") == 1  # awaiting the PI
        assert one("SELECT count(*) FROM assessments WHERE status = 'amended'") == 1
        assert (
            one(
                "SELECT count(*) FROM audit_events WHERE action = 'assessment.amend' AND reason LIKE "
                "'%transcription error%'"
            )
            == 1
        )
        # The one late visit is the only deviation: every other rating happened inside its window.
        assert one("SELECT count(DISTINCT participant_id || timepoint) FROM protocol_deviations") == 1
        assert one("SELECT count(*) FROM protocol_deviations WHERE kind = 'outside_window'") >= 1
        assert one("SELECT count(*) FROM missed_visits") >= 1  # a missed visit, with its reason
        assert one("SELECT count(*) FROM signatures") > 0
        assert one("SELECT count(*) FROM adverse_events") >= 2
        assert one("SELECT count(*) FROM assessments WHERE mode = 'kiosk' AND scale_id = 'phq9'") > 0
        # Infusions: 0.5 mg/kg over 40 minutes, vitals every 15 minutes through 2 hours after the end.
        assert one("SELECT count(*) FROM infusions WHERE dose_mg_per_kg != 0.5") == 0
        per = conn.execute(
            "SELECT count(*) FROM vitals v JOIN infusions i ON i.id = v.infusion_id "
            "WHERE i.ended_at IS NOT NULL GROUP BY i.id"
        ).fetchall()
        assert per and all(n == 11 for (n,) in per)
        # The clock was fixed in the afternoon: the study is live, with ratings still due later today or tomorrow.
        assert one("SELECT max(started_at) FROM infusions") <= NOW
    assert {a.role for a in accounts} == set(ROLES)


def _mean(conn, scale, timepoint, arm, column="total"):
    return conn.execute(
        f"SELECT avg({column}) FROM scores s JOIN assessments a ON a.id = s.assessment_id JOIN participants p ON "
        "p.id = a.participant_id WHERE a.scale_id = ? AND a.timepoint = ? AND p.arm = ?",
        [scale, timepoint, arm],
    ).fetchone()[0]


def test_ratings_are_shaped_like_the_literature(demo_db):
    path, _ = demo_db
    with closing(sqlite3.connect(path)) as conn:
        base = _mean(conn, "madrs", "baseline", "ketamine")
        assert 29 <= base <= 36
        day1 = _mean(conn, "madrs", "day_1", "ketamine")
        assert day1 < _mean(conn, "madrs", "min_230", "ketamine") < base  # the fall is largest at 24 hours
        assert _mean(conn, "madrs", "day_1", "midazolam") > day1
        assert _mean(conn, "cadss", "min_40", "ketamine") > _mean(conn, "cadss", "baseline", "ketamine") + 10
        assert _mean(conn, "cadss", "min_120", "ketamine") < _mean(conn, "cadss", "baseline", "ketamine") + 3
        positive = "json_extract(s.subscales, '$.positive')"
        assert _mean(conn, "bprs", "min_40", "ketamine", positive) > _mean(
            conn, "bprs", "baseline", "ketamine", positive
        )


def test_refuses_a_database_with_other_data(tmp_path, frozen, capsys):
    path = tmp_path / "real.db"
    init_database(path)
    with closing(connect(path)) as conn:
        create_site(conn, system_actor("test"), "LON", "A real site")
    with pytest.raises(DemoRefused, match="not the demo's"):
        build(path, participants=2)
    assert demo.cli.main(["--db", str(path), "--participants", "2"]) == 1
    assert "not the demo's" in capsys.readouterr().err
    with closing(connect(path)) as conn:
        assert not is_demo(conn)
        assert conn.execute("SELECT count(*) FROM participants").fetchone()[0] == 0


def test_refuses_to_build_over_an_earlier_demo(demo_db):
    path, _ = demo_db
    with pytest.raises(DemoRefused, match="already holds a demo"):
        build(path, participants=2)


def test_banner_on_a_page_of_the_demo_database(demo_db, monkeypatch):
    path, _ = demo_db
    monkeypatch.setenv("SCALEBOOK_DB", str(path))
    with closing(connect(path)) as conn:
        pi = users.get_user(conn, "demo.pi")
    at = app("pages/library.py", user=pi).run()
    assert not at.exception
    assert any(DEMO_LABEL in str(w.value) for w in at.warning)


def test_no_banner_on_an_ordinary_database(db_path):
    at = app("pages/library.py").run()  # the sign-in screen of an empty, non-demo database
    assert not at.exception
    assert not any(DEMO_LABEL in str(w.value) for w in at.warning)


def test_exports_say_synthetic(demo_db, tmp_path, monkeypatch):
    path, _ = demo_db
    monkeypatch.setenv("SCALEBOOK_DB", str(path))
    assert exports_cli.main(["fhir-responses", "--out", str(tmp_path / "r.json"), "--as", "demo.pi"]) == 0
    bundle = json.loads((tmp_path / "r.json").read_text())
    assert bundle["meta"]["tag"][0]["code"] == "HTEST"
    assert exports_cli.main(["csv", "--out", str(tmp_path / "csv"), "--as", "demo.pi"]) == 0
    assert DEMO_LABEL in (tmp_path / "csv" / "dictionary.csv").read_text()
    assert exports_cli.main(["sdtm", "--out", str(tmp_path / "sdtm"), "--as", "demo.pi", "--study-id", "DEMO1"]) == 0
    assert "SYNTHETIC DEMO DATA" in (tmp_path / "sdtm" / "define.xml").read_text()


REPEATED = Path(__file__).resolve().parent.parent / "protocol" / "studies" / "repeated_infusion.json"


def check_repeated_calendar(path: Path) -> None:
    """The repeated-infusion group's calendar, windows and audit trail (see the CLI test)."""
    protocol = load_protocol(REPEATED)
    with closing(sqlite3.connect(path)) as conn:
        rows = conn.execute("SELECT participant_id, number, started_at FROM infusions ORDER BY 1, 2").fetchall()
        given: dict[int, list[tuple[int, str]]] = {}
        for pid, number, started in rows:
            given.setdefault(pid, []).append((number, started))
        assert max(len(v) for v in given.values()) >= 8  # one participant far into the course
        for infusions in given.values():
            first = clock.parse_utc(infusions[0][1])
            planned = [p.planned_at for p in planned_infusions(protocol, first)]
            assert [n for n, _ in infusions] == list(range(1, len(infusions) + 1))
            assert [clock.parse_utc(t) for _, t in infusions] == planned[: len(infusions)]
        assert conn.execute("SELECT count(*) FROM assessments WHERE timepoint = 'pre_infusion@2'").fetchone()[0] > 0
        assert conn.execute("SELECT count(*) FROM assessments WHERE timepoint LIKE 'week_%'").fetchone()[0] > 0
        assert conn.execute("SELECT count(*) FROM protocol_deviations").fetchone()[0] == 0
    assert db.cli.main(["--db", str(path), "verify-audit"]) == 0
