"""Supportive text values per site, link addresses, default validity and the QR code."""

import pytest

from protocol import load_protocol
from selfreport import links, support
from selfreport.strings import text

SUPPORTIVE = load_protocol().supportive_text


def test_site_values_come_from_secrets_then_environment_most_specific_first():
    environ = {
        "SCALEBOOK_SITE_PHONE": "0300 000 0000",
        "SCALEBOOK_SITE_PHONE_LON": "020 7946 0000",
        "SCALEBOOK_SITE_PHONE_HOURS": "9am to 5pm",
    }
    assert support.site_values(SUPPORTIVE, "LON", environ) == {
        "site_phone": "020 7946 0000",
        "site_phone_hours": "9am to 5pm",
    }
    assert support.site_values(SUPPORTIVE, "OXF", environ)["site_phone"] == "0300 000 0000"
    secrets = {"supportive_text": {"site_phone_hours": "any time", "lon": {"site_phone": "01865 000000"}}}
    assert support.site_values(SUPPORTIVE, "LON", environ, secrets) == {
        "site_phone": "01865 000000",
        "site_phone_hours": "any time",
    }
    assert support.env_names("site_phone", "LON") == ["SCALEBOOK_SITE_PHONE_LON", "SCALEBOOK_SITE_PHONE"]


def test_the_study_text_is_filled_in_or_replaced_by_the_short_fallback_never_half_filled():
    values = {"site_phone": "020 7946 0000", "site_phone_hours": "any time, day or night"}
    message = support.supportive_message(SUPPORTIVE, values)
    assert "020 7946 0000" in message and "{" not in message and "116 123" in message
    partial = {"site_phone": "020 7946 0000", "site_phone_hours": "  "}
    assert support.missing_values(SUPPORTIVE, partial) == [
        ("site_phone_hours", dict(SUPPORTIVE.placeholders)["site_phone_hours"])
    ]
    assert support.supportive_message(SUPPORTIVE, partial) == text("support_fallback")


def test_the_link_address_uses_the_configured_base_or_the_staff_page_address():
    assert (
        links.base_url({"SCALEBOOK_PUBLIC_URL": "https://ecoa.example.org/"}, "http://10.0.0.2:8501/x")
        == "https://ecoa.example.org"
    )
    assert (
        links.base_url({}, "http://127.0.0.1:8501/self_report_start?participant=KET-001", "self_report_start")
        == "http://127.0.0.1:8501"
    )
    assert links.base_url({}, "https://host/study/self_report_start", "self_report_start") == "https://host/study"
    assert links.link_url("https://host", "abc-_123") == "https://host/?token=abc-_123"


@pytest.mark.parametrize(("raw", "hours"), [("", 72), ("48", 48), ("0", 72), ("999", 72), ("soon", 72)])
def test_default_validity_is_72_hours_unless_configured(raw, hours):
    assert links.default_ttl_hours({"SCALEBOOK_LINK_TTL_HOURS": raw}) == hours


def test_the_qr_code_is_an_image():
    image, kind = links.qr_image("https://ecoa.example.org/?token=" + "x" * 43)
    if kind == "png":
        assert image[:8] == b"\x89PNG\r\n\x1a\n"
    else:
        assert kind == "svg" and "<svg" in image
