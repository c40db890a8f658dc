"""Send the e-mail notification of each new safety alert, after the alert has been committed.

`dispatch_pending` is called by the UI after every save that may raise an alert (a draft
answer, a submission) and by the staff alert banner as a catch-up for alerts raised by any
other path. It looks for alerts raised in the last WINDOW_HOURS with no notification attempt
recorded yet, and sends each to its site's recipients in a background thread, so a tap never
waits for a slow mail server; each attempt (sent or failed, with the error) is recorded in
alert_notifications with its audit event. A failure never touches the alert itself: it is
already stored, and stays open in the app. Failed attempts are not retried automatically; the
alert banner and the form say that the e-mail failed, and why.

Alerts raised while notification was off are not e-mailed later (older than the window), and
an alert whose site has no recipient records nothing, so the UI can say "no recipient".
Within one server process a lock and an in-flight set make sure each alert is sent once, even
when several sessions save at the same moment.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

from db import alerts, clock
from db.connection import unit_of_work
from db.errors import StorageError
from notify.email import EmailSettings, build_message, load_settings, send

WINDOW_HOURS = 24
PUBLIC_URL_ENV = "SCALEBOOK_PUBLIC_URL"

_lock = threading.Lock()
_in_flight: set[int] = set()


def _claim(db_path: Any) -> list[dict[str, Any]]:
    """The alerts to send now, marked in flight (read under the lock, so two runs never both
    claim one alert: another run's alert is either recorded already or still in flight)."""
    since = clock.utc_after(clock.utc_now(), hours=-WINDOW_HOURS)
    with _lock:
        with unit_of_work(db_path, write=False) as db:
            pending = [a for a in alerts.alerts_awaiting_notification(db, since) if a["id"] not in _in_flight]
        _in_flight.update(a["id"] for a in pending)
    return pending


def send_pending(
    db_path: Any = None,
    settings: EmailSettings | None = None,
    *,
    timepoint_label: Callable[[str], str] | None = None,
    app_url: str | None = None,
) -> list[dict[str, Any]]:
    """Send every alert awaiting notification now (in this thread) and record the attempts;
    return the recorded attempts. Does nothing when notification is off."""
    settings = settings if settings is not None else load_settings()
    if not settings.enabled:
        return []
    app_url = app_url if app_url is not None else (os.environ.get(PUBLIC_URL_ENV) or "").strip() or None
    try:
        pending = _claim(db_path)
    except StorageError:
        return []  # busy: the next save or page load tries again
    recorded: list[dict[str, Any]] = []
    try:
        for alert in pending:
            recipients = settings.recipients(alert["site_code"], alert["audience"]["pi_emails"])
            if not recipients:
                continue
            message = build_message(alert, settings, recipients, timepoint_label=timepoint_label, app_url=app_url)
            attempts = send(settings, message, recipients)
            try:
                with unit_of_work(db_path) as db:
                    recorded += alerts.record_notifications(db, alert["id"], attempts)
            except StorageError:
                continue  # sent (or failed) but not recorded: a later run sends it again (twice beats never)
    finally:
        with _lock:
            _in_flight.difference_update(a["id"] for a in pending)
    return recorded


def dispatch_pending(
    db_path: Any = None,
    settings: EmailSettings | None = None,
    *,
    timepoint_label: Callable[[str], str] | None = None,
    app_url: str | None = None,
) -> threading.Thread | None:
    """`send_pending` in a background thread (returned, e.g. for a test to join); None when
    notification is off, so nothing at all happens then."""
    settings = settings if settings is not None else load_settings()
    if not settings.enabled:
        return None
    thread = threading.Thread(
        target=send_pending,
        args=(db_path, settings),
        kwargs={"timepoint_label": timepoint_label, "app_url": app_url},
        name="scalebook-alert-email",
        daemon=True,
    )
    thread.start()
    return thread
