"""Notification of safety alerts outside the app (e-mail), sent after the alert's transaction
commits, never inside it.

    email     settings from .streamlit/secrets.toml ([notifications]), the message, SMTP sending
    dispatch  finds alerts not yet notified, sends them in a background thread, records each
              attempt (db.alerts.record_notifications)

Pure Python: no Streamlit here (the UI calls `dispatch.dispatch_pending` after a save).
"""
