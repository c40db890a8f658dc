"""The supportive text a participant sees after a self-report safety answer.

The words are the study's (protocol file, `supportive_text`: whom to call, what to do now); the
protocol declares placeholders such as {site_phone} and {site_phone_hours} that each SITE fills
in, because a multi-site study has one protocol but a phone number per site. A site's values
come from the deployment, not from the protocol file, in this order (first non-blank wins):

1. Streamlit secrets, a table per site code:      [supportive_text.LON]  site_phone = "020 7946 0000"
2. Streamlit secrets, a table for every site:     [supportive_text]      site_phone_hours = "any time"
3. environment variable per site:                 SCALEBOOK_SITE_PHONE_LON=...
4. environment variable for every site:           SCALEBOOK_SITE_PHONE=...

(the variable name is SCALEBOOK_ + the placeholder name in capitals, + _SITECODE for one site).

A text with a placeholder left empty is never shown half-filled: the participant then sees the
short fallback from selfreport.strings ("tell the study team ... call your local emergency
number"), and the staff self-report page warns that the site's values are missing, so the gap
is found before a participant is handed the tablet. The alert for the PI is recorded either way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from protocol import ProtocolInputError, SupportiveText
from selfreport.strings import text

ENV_PREFIX = "SCALEBOOK_"
SECRETS_SECTION = "supportive_text"


def env_names(placeholder: str, site_code: str | None) -> list[str]:
    """The environment variables read for a placeholder, most specific first."""
    base = ENV_PREFIX + placeholder.upper()
    return ([f"{base}_{site_code.upper()}"] if site_code else []) + [base]


def _clean(value: Any) -> str:
    return "" if value is None or isinstance(value, Mapping) else str(value).strip()


def site_values(
    supportive: SupportiveText,
    site_code: str | None,
    environ: Mapping[str, str],
    secrets: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """The values this site gives the text's placeholders (missing ones left out)."""
    section = (secrets or {}).get(SECRETS_SECTION) or {}
    per_site: Mapping[str, Any] = {}
    if site_code:
        per_site = next(
            (v for k, v in section.items() if str(k).upper() == site_code.upper() and isinstance(v, Mapping)), {}
        )
    values: dict[str, str] = {}
    for name, _what in supportive.placeholders:
        candidates = [per_site.get(name), section.get(name)] + [environ.get(var) for var in env_names(name, site_code)]
        found = next((_clean(c) for c in candidates if _clean(c)), "")
        if found:
            values[name] = found
    return values


def missing_values(supportive: SupportiveText, values: Mapping[str, str]) -> list[tuple[str, str]]:
    """(placeholder, what it is) for every placeholder the site has not filled in."""
    return [(name, what) for name, what in supportive.placeholders if not _clean(values.get(name))]


def supportive_message(supportive: SupportiveText, values: Mapping[str, str], lang: str | None = None) -> str:
    """The study's text with the site's values, or the short fallback when any is missing."""
    try:
        return supportive.render(values)
    except ProtocolInputError:
        return text("support_fallback", lang)
