"""Links a participant opens: the address, its validity, and the QR code to scan.

The address is the app's public base address + `/?token=<raw token>`. The base comes from the
environment variable SCALEBOOK_PUBLIC_URL when set (a clinic server behind a reverse proxy
knows its public name only from its configuration), else from the address the staff member's
browser used (`page_url`, minus the page's own path). The default validity is 72 hours, or
SCALEBOOK_LINK_TTL_HOURS when set (1 to 336).

Once a browser has taken a link (its first tap; db.tokens.claim_link), the page address carries
that browser's holder secret instead of the token (`?questionnaire=continue&resume=<secret>`),
so a reload, or a phone waking a tab it had put to sleep, continues as the holder, while the
raw token itself opens nothing for any other browser.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from urllib.parse import urlencode, urlsplit, urlunsplit

import qrcode

from db.tokens import DEFAULT_TTL_HOURS, MAX_TTL_HOURS

PUBLIC_URL_ENV = "SCALEBOOK_PUBLIC_URL"
TTL_ENV = "SCALEBOOK_LINK_TTL_HOURS"
TOKEN_PARAM = "token"
RESUME_PARAM = "resume"  # the holder secret of a link taken on the participant's own device


def default_ttl_hours(environ: Mapping[str, str]) -> int:
    """SCALEBOOK_LINK_TTL_HOURS if it is a whole number of hours from 1 to 336, else 72."""
    raw = (environ.get(TTL_ENV) or "").strip()
    try:
        hours = int(raw)
    except ValueError:
        return DEFAULT_TTL_HOURS
    return hours if 1 <= hours <= MAX_TTL_HOURS else DEFAULT_TTL_HOURS


def base_url(environ: Mapping[str, str], page_url: str | None, page_path: str = "") -> str:
    """The app's base address, without a trailing slash ("" when nothing is known)."""
    configured = (environ.get(PUBLIC_URL_ENV) or "").strip()
    if configured:
        return configured.rstrip("/")
    if not page_url:
        return ""
    parts = urlsplit(page_url)
    path = parts.path.rstrip("/")
    if page_path and path.endswith("/" + page_path.strip("/")):
        path = path[: -len(page_path.strip("/")) - 1]
    return urlunsplit((parts.scheme, parts.netloc, path, "", "")).rstrip("/")


def link_url(base: str, raw_token: str) -> str:
    """The address to send: <base>/?token=<raw token>."""
    return f"{base}/?{urlencode({TOKEN_PARAM: raw_token})}"


def qr_image(url: str) -> tuple[bytes | str, str]:
    """The QR code of `url` as (PNG bytes, "png"), or (SVG text, "svg") where Pillow is missing.
    Error correction M, a 4-module quiet zone: scans from a phone held at arm's length."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=8, border=4)
    code.add_data(url)
    code.make(fit=True)
    try:
        import PIL  # noqa: F401  (only to choose the output format)
    except ImportError:
        from qrcode.image.svg import SvgPathImage

        return code.make_image(image_factory=SvgPathImage).to_string(encoding="unicode"), "svg"
    buffer = io.BytesIO()
    code.make_image(fill_color="black", back_color="white").save(buffer, format="PNG")
    return buffer.getvalue(), "png"
