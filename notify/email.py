"""E-mail notification of safety alerts: settings, the message, and sending it over SMTP.

Off by default. A deployment turns it on in `.streamlit/secrets.toml` (the file Streamlit reads
its secrets from; SCALEBOOK_SECRETS_FILE names another file):

    [notifications]
    enabled = true
    smtp_host = "smtp.example.org"
    smtp_port = 587
    from = "scalebook@example.org"
    starttls = true              # or ssl = true for SMTP over TLS (port 465)
    username = "scalebook"       # optional: SMTP authentication
    password = "..."
    timeout_seconds = 10         # a slow server never holds anything up for longer
    contacts = { LON = ["safety-desk@example.org"], "*" = ["sponsor-safety@example.org"] }

Recipients of an alert: the active PI accounts covering its site whose user name is an e-mail
address, plus the named contacts of its site code, plus those under "*" (every site).

The message says what the PI needs to act and nothing more: participant code (pseudonymous),
site, questionnaire, timepoint, the item and its rating, the rule's message, when, and where to
acknowledge it. No other answer of the questionnaire is included, and no names exist anyway.
"""

from __future__ import annotations

import os
import smtplib
import ssl
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from protocol.timing import local_text
from scales import get_scale
from scales.errors import ScaleError

SECTION = "notifications"
SECRETS_ENV = "SCALEBOOK_SECRETS_FILE"
DEFAULT_SECRETS = Path(".streamlit") / "secrets.toml"
ALL_SITES = "*"
DEFAULT_TIMEOUT_S = 10.0
MAX_TIMEOUT_S = 60.0
MODE_WORDS = {
    "clinician": "clinician rating",
    "self": "participant self-report",
    "kiosk": "participant self-report on the clinic tablet",
    "link": "participant self-report by link",
}


@dataclass(frozen=True)
class EmailSettings:
    """The [notifications] settings. `problem` says why settings that exist cannot be used (then
    `enabled` is False, and the UI says so instead of pretending e-mails go out)."""

    enabled: bool = False
    smtp_host: str = ""
    smtp_port: int = 25
    sender: str = ""
    starttls: bool = False
    use_ssl: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT_S
    contacts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    problem: str | None = None

    def recipients(self, site_code: str | None, pi_emails: Iterable[str] = ()) -> list[str]:
        """The addresses an alert of this site goes to, each once, PIs first."""
        out: list[str] = []
        for address in [
            *pi_emails,
            *self.contacts.get((site_code or "").upper(), ()),
            *self.contacts.get(ALL_SITES, ()),
        ]:
            if address.lower() not in {a.lower() for a in out}:
                out.append(address)
        return out


OFF = EmailSettings()


def _off(problem: str) -> EmailSettings:
    return EmailSettings(enabled=False, problem=problem)


def _addresses(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, Sequence) or not all(isinstance(v, str) and "@" in v for v in value):
        raise ValueError(f'{where} must be a list of e-mail addresses, e.g. ["safety@example.org"]')
    return tuple(v.strip() for v in value)


def parse_settings(section: Mapping[str, Any] | None) -> EmailSettings:
    """The [notifications] table as EmailSettings; missing or `enabled = false` is OFF, and a
    table that cannot be used is off with `problem` saying what to fix."""
    if not section:
        return OFF
    if not isinstance(section, Mapping):
        return _off(f"[{SECTION}] must be a table")
    enabled = section.get("enabled", False)
    if not isinstance(enabled, bool):
        return _off(f"[{SECTION}] enabled must be true or false, not {enabled!r}")
    if not enabled:
        return OFF
    try:
        host = str(section.get("smtp_host") or "").strip()
        sender = str(section.get("from") or "").strip()
        if not host:
            raise ValueError("smtp_host is missing (the SMTP server's name)")
        if "@" not in sender:
            raise ValueError("from is missing or not an e-mail address (the sender of the alerts)")
        port = section.get("smtp_port", 465 if section.get("ssl") else 25)
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ValueError(f"smtp_port must be a port number, not {port!r}")
        timeout = section.get("timeout_seconds", DEFAULT_TIMEOUT_S)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= MAX_TIMEOUT_S:
            raise ValueError(f"timeout_seconds must be a number of seconds from 0 to {MAX_TIMEOUT_S:.0f}")
        raw_contacts = section.get("contacts") or {}
        if not isinstance(raw_contacts, Mapping):
            raise ValueError('contacts must be a table of site code to addresses, e.g. { LON = ["a@example.org"] }')
        contacts = {
            str(site).strip().upper(): _addresses(value, f"contacts.{site}") for site, value in raw_contacts.items()
        }
        flags = {name: section.get(name, False) for name in ("starttls", "ssl")}
        for name, value in flags.items():
            if not isinstance(value, bool):
                raise ValueError(f"{name} must be true or false, not {value!r}")
        if flags["starttls"] and flags["ssl"]:
            raise ValueError("choose starttls (port 587) or ssl (port 465), not both")
        username = section.get("username") or None
        password = section.get("password") or None
    except ValueError as exc:
        return _off(f"[{SECTION}] {exc}")
    return EmailSettings(
        enabled=True,
        smtp_host=host,
        smtp_port=port,
        sender=sender,
        starttls=flags["starttls"],
        use_ssl=flags["ssl"],
        username=str(username) if username else None,
        password=str(password) if password else None,
        timeout=float(timeout),
        contacts=contacts,
    )


def secrets_path(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    configured = (environ.get(SECRETS_ENV) or "").strip()
    return Path(configured) if configured else Path.cwd() / DEFAULT_SECRETS


_cache: dict[Path, tuple[float, EmailSettings]] = {}


def load_settings(
    path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> EmailSettings:
    """The settings from the secrets file (re-read when the file changes); OFF without a file."""
    target = Path(path) if path is not None else secrets_path(environ)
    try:
        mtime = target.stat().st_mtime
    except OSError:
        return OFF
    cached = _cache.get(target)
    if cached and cached[0] == mtime:
        return cached[1]
    try:
        with open(target, "rb") as handle:
            settings = parse_settings(tomllib.load(handle).get(SECTION))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        settings = _off(f"{target} cannot be read ({exc})")
    _cache[target] = (mtime, settings)
    return settings


# --------------------------------------------------------------------------- the message


def _local(utc_text: str | None, zone: str | None) -> str:
    if not utc_text:
        return ""
    try:
        tz = ZoneInfo(zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo("UTC")
    return local_text(utc_text, tz)


def describe_item(scale_id: str, item_id: str | None) -> tuple[str, str]:
    """("MADRS — Montgomery–Åsberg ...", "item 10 (Suicidal thoughts)") for the message; plain ids
    when the definition is unavailable."""
    try:
        definition = get_scale(scale_id)
    except ScaleError:
        return scale_id, f"item {item_id}" if item_id else "a safety item"
    title = f"{definition.abbreviation} — {definition.title}"
    item = definition.item_by_id.get(item_id or "")
    if item is None:
        return title, f"item {item_id}" if item_id else "a safety item"
    return title, f"item {item.number} ({item.short_name})"


def build_message(
    alert: Mapping[str, Any],
    settings: EmailSettings,
    recipients: Sequence[str],
    *,
    timepoint_label: Callable[[str], str] | None = None,
    app_url: str | None = None,
) -> EmailMessage:
    """The notification of one alert (a row of db.alerts with participant_code, site_code,
    site_timezone, scale_id, timepoint, mode, item_id, item_value, message, created_at)."""
    scale, item = describe_item(alert["scale_id"], alert.get("item_id"))
    abbreviation = scale.split(" — ")[0]
    timepoint = timepoint_label(alert["timepoint"]) if timepoint_label else alert["timepoint"]
    rated = f", answered {alert['item_value']}" if alert.get("item_value") is not None else ""
    raised = (
        "while the questionnaire was being answered (before submission)"
        if alert.get("score_id") is None
        else "when the questionnaire was submitted"
    )
    message = EmailMessage()
    # Short enough not to be folded: "Scalebook safety alert: KET-001, site LON, MADRS item 10"
    message["Subject"] = (
        f"Scalebook safety alert: {alert['participant_code']}, site {alert['site_code']}, "
        f"{abbreviation} {item.split(' (')[0]}"
    )
    message["From"] = settings.sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=settings.sender.rsplit("@", 1)[-1])
    lines = [
        "A safety answer was recorded in Scalebook. It is an open safety alert until the PI acknowledges it.",
        "",
        f"Participant: {alert['participant_code']} (site {alert['site_code']})",
        f"Questionnaire: {scale}, timepoint {timepoint} ({MODE_WORDS.get(alert.get('mode') or '', 'assessment')})",
        f"Item: {item}{rated}",
        f"Rule: {alert['message']}",
        f"Recorded: {_local(alert['created_at'], alert.get('site_timezone'))}, {raised}",
        "",
        ("Open Scalebook, page 'Cohort and alerts', to see it and acknowledge it: " + app_url.rstrip("/") + "/cohort")
        if app_url
        else "Open Scalebook, page 'Cohort and alerts', to see it and acknowledge it.",
        "",
        "The participant code is pseudonymous. This message was sent automatically; do not reply to it.",
    ]
    message.set_content("\n".join(lines))
    return message


# --------------------------------------------------------------------------- sending


def send(settings: EmailSettings, message: EmailMessage, recipients: Sequence[str]) -> list[dict[str, Any]]:
    """Send one message to `recipients` in one SMTP session (bounded by the settings' timeout);
    return one attempt per recipient: {recipient, status: sent|failed, error}. Never raises for
    a server problem: a failure is an attempt to record, and the alert stays open in the app."""
    try:
        if settings.use_ssl:
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.smtp_host, settings.smtp_port, timeout=settings.timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.timeout)
        with client:
            if settings.starttls:
                client.starttls(context=ssl.create_default_context())
            if settings.username:
                client.login(settings.username, settings.password or "")
            refused = client.send_message(message, from_addr=settings.sender, to_addrs=list(recipients))
    except smtplib.SMTPRecipientsRefused as exc:
        refused = exc.recipients
    except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
        error = f"{type(exc).__name__}: {exc}".strip()[:500] or type(exc).__name__
        return [{"recipient": r, "status": "failed", "error": error} for r in recipients]
    attempts = []
    for recipient in recipients:
        problem = refused.get(recipient) if refused else None
        if problem is None:
            attempts.append({"recipient": recipient, "status": "sent", "error": None})
        else:
            code, text = problem
            detail = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
            attempts.append({"recipient": recipient, "status": "failed", "error": f"refused: {code} {detail}"[:500]})
    return attempts
