"""E-mail notification of safety alerts (issue 11, point 10), against a real SMTP server on
loopback (aiosmtpd): off by default, settings from the secrets file, the message carries the
participant code, site, scale and item and no other answer, each attempt is recorded (sent or
failed with its error), a failing or silent server never loses the alert nor holds a save up,
and each alert is sent once."""

from __future__ import annotations

import email
import socket
import threading
import time
from email import policy

import pytest
from aiosmtpd.controller import Controller

from db import alerts as AL
from db import assessments as A
from db import audit, users
from notify import dispatch
from notify.email import OFF, SECRETS_ENV, EmailSettings, load_settings, parse_settings, send
from tests.conftest_db import PASSWORD

PI_EMAIL = "pi.s1@clinic.example.org"
CONTACT = "safety-desk@clinic.example.org"
SPONSOR = "sponsor-safety@example.org"
# Distinctive answers to the other items: none of them may appear in the e-mail.
OTHERS = {
    "madrs_1": 3,
    "madrs_2": 5,
    "madrs_3": 1,
    "madrs_4": 0,
    "madrs_5": 2,
    "madrs_6": 3,
    "madrs_7": 1,
    "madrs_8": 0,
    "madrs_9": 2,
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Inbox:
    """aiosmtpd handler that keeps every message and refuses recipients at refused.example.org."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 (aiosmtpd's name)
        if address.endswith("@refused.example.org"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller, inbox
    finally:
        controller.stop()


def settings_for(port: int, **extra) -> EmailSettings:
    return parse_settings(
        {
            "enabled": True,
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "from": "scalebook@clinic.example.org",
            "timeout_seconds": 5,
            "contacts": {"S1": [CONTACT], "*": [SPONSOR]},
            **extra,
        }
    )


@pytest.fixture
def alert(world):
    """An open alert raised in a MADRS draft of P001 (site S1), whose site has an e-mail PI."""
    users.create_user(world.db, world.system, PI_EMAIL, "pi", PASSWORD, site="S1")
    draft = A.start_assessment(world.db, world.rater, world.p1["id"], "baseline", "madrs", "clinician")
    for item_id, value in {**OTHERS, "madrs_10": 4}.items():
        A.save_draft_response(world.db, world.rater, draft["id"], item_id, value)
    [raised] = AL.list_alerts(world.db)
    return raised


# --------------------------------------------------------------------------- settings


def test_notification_is_off_without_settings(tmp_path, monkeypatch):
    monkeypatch.setenv(SECRETS_ENV, str(tmp_path / "missing.toml"))
    assert load_settings() == OFF and not OFF.enabled and OFF.problem is None
    assert parse_settings({"enabled": False, "smtp_host": "x"}) == OFF


def test_settings_are_read_from_the_secrets_file(tmp_path, monkeypatch):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(
        '[notifications]\nenabled = true\nsmtp_host = "mail.example.org"\nsmtp_port = 587\n'
        'from = "scalebook@example.org"\nstarttls = true\nusername = "sb"\npassword = "s3cret"\n'
        'contacts = { LON = ["a@example.org"], "*" = ["all@example.org"] }\n'
    )
    monkeypatch.setenv(SECRETS_ENV, str(secrets))
    settings = load_settings()
    assert (settings.enabled, settings.smtp_host, settings.smtp_port, settings.starttls) == (
        True,
        "mail.example.org",
        587,
        True,
    )
    assert "s3cret" not in repr(settings)  # the password never ends up in a log line
    assert settings.recipients("lon", ["pi@example.org", "A@example.org"]) == [
        "pi@example.org",
        "A@example.org",
        "all@example.org",
    ]  # PIs first, each address once
    assert settings.recipients("OXF") == ["all@example.org"]


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ({"enabled": True, "from": "a@example.org"}, "smtp_host is missing"),
        ({"enabled": True, "smtp_host": "h"}, "from is missing"),
        ({"enabled": True, "smtp_host": "h", "from": "a@x.org", "smtp_port": "25"}, "smtp_port must be a port number"),
        (
            {"enabled": True, "smtp_host": "h", "from": "a@x.org", "contacts": {"LON": ["not an address"]}},
            "contacts.LON must be a list of e-mail addresses",
        ),
        ({"enabled": True, "smtp_host": "h", "from": "a@x.org", "starttls": True, "ssl": True}, "not both"),
        ({"enabled": "yes"}, "enabled must be true or false"),
    ],
)
def test_unusable_settings_are_off_and_say_what_to_fix(section, problem):
    settings = parse_settings(section)
    assert not settings.enabled and problem in settings.problem


def test_a_broken_secrets_file_is_off_with_the_reason(tmp_path):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text("[notifications\nenabled = true\n")
    settings = load_settings(secrets)
    assert not settings.enabled and "cannot be read" in settings.problem


# --------------------------------------------------------------------------- sending


def test_each_new_alert_reaches_the_site_pi_and_contacts_by_smtp(world, alert, smtp):
    controller, inbox = smtp
    recorded = dispatch.send_pending(settings=settings_for(controller.port), app_url="https://ecoa.example.org/")
    assert [(r["recipient"], r["status"]) for r in recorded] == [
        (PI_EMAIL, "sent"),
        (CONTACT, "sent"),
        (SPONSOR, "sent"),
    ]
    [(to, message)] = inbox.messages
    assert to == [PI_EMAIL, CONTACT, SPONSOR]
    subject, body = message["Subject"], message.get_content()
    assert subject == "Scalebook safety alert: P001, site S1, MADRS item 10"
    assert "Participant: P001 (site S1)" in body
    assert "Questionnaire: MADRS — Montgomery–Åsberg Depression Rating Scale, timepoint baseline" in body
    assert "Item: item 10 (Suicidal thoughts), answered 4" in body
    assert "MADRS item 10 (suicidal thoughts) was rated 4 or higher" in body  # the rule's own message
    assert "before submission" in body and "https://ecoa.example.org/cohort" in body
    # nothing else of the questionnaire: no other item, and no other answer
    for item in ("Apparent sadness", "Reported sadness", "Inner tension", "madrs_1", "madrs_2"):
        assert item not in body and item not in subject
    assert "Total" not in body and "total" not in body
    # recorded and audited; sent once only
    attempts = AL.notifications_for(world.db, [alert["id"]])[alert["id"]]
    assert [(a["recipient"], a["status"], a["error"]) for a in attempts] == [
        (PI_EMAIL, "sent", None),
        (CONTACT, "sent", None),
        (SPONSOR, "sent", None),
    ]
    assert [e["action"] for e in audit.events_for(world.db, "safety_alert", alert["id"])].count("alert.notify") == 3
    assert dispatch.send_pending(settings=settings_for(controller.port)) == []
    assert len(inbox.messages) == 1


def test_a_refused_recipient_is_recorded_as_failed_and_the_others_still_get_it(world, alert, smtp):
    controller, inbox = smtp
    settings = parse_settings(
        {
            "enabled": True,
            "smtp_host": "127.0.0.1",
            "smtp_port": controller.port,
            "from": "scalebook@clinic.example.org",
            "contacts": {"S1": ["gone@refused.example.org"]},
        }
    )
    recorded = dispatch.send_pending(settings=settings)
    assert [(r["recipient"], r["status"]) for r in recorded] == [
        (PI_EMAIL, "sent"),
        ("gone@refused.example.org", "failed"),
    ]
    assert "550" in recorded[1]["error"]
    assert [to for to, _ in inbox.messages] == [[PI_EMAIL]]


def test_a_server_that_is_down_records_the_failure_and_the_alert_stays_open(world, alert):
    recorded = dispatch.send_pending(settings=settings_for(free_port()))  # nobody listens there
    assert {r["status"] for r in recorded} == {"failed"} and len(recorded) == 3
    assert "ConnectionRefusedError" in recorded[0]["error"]
    assert [a["id"] for a in AL.list_alerts(world.db)] == [alert["id"]]  # the alert itself is untouched


def test_a_silent_server_is_given_up_on_after_the_timeout():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts the connection, never says hello
    try:
        settings = parse_settings(
            {
                "enabled": True,
                "smtp_host": "127.0.0.1",
                "smtp_port": listener.getsockname()[1],
                "from": "scalebook@example.org",
                "timeout_seconds": 0.5,
            }
        )
        started = time.monotonic()
        message = email.message.EmailMessage()
        message["Subject"] = "test"
        message.set_content("test")
        [attempt] = send(settings, message, ["pi@example.org"])
        assert time.monotonic() - started < 5
        assert attempt["status"] == "failed" and "timed out" in attempt["error"]
    finally:
        listener.close()


def test_dispatch_runs_in_the_background_and_nothing_happens_when_off(world, alert, smtp, monkeypatch):
    controller, inbox = smtp
    assert dispatch.dispatch_pending(settings=OFF) is None
    assert AL.notifications_for(world.db, [alert["id"]])[alert["id"]] == []
    thread = dispatch.dispatch_pending(settings=settings_for(controller.port))
    assert isinstance(thread, threading.Thread) and thread.daemon
    thread.join(timeout=20)
    assert len(inbox.messages) == 1
    assert len(AL.notifications_for(world.db, [alert["id"]])[alert["id"]]) == 3


def test_concurrent_dispatches_send_each_alert_once(world, alert, smtp):
    controller, inbox = smtp
    settings = settings_for(controller.port)
    threads = [dispatch.dispatch_pending(settings=settings) for _ in range(4)]
    for thread in threads:
        thread.join(timeout=20)
    assert len(inbox.messages) == 1
    assert len(AL.notifications_for(world.db, [alert["id"]])[alert["id"]]) == 3
