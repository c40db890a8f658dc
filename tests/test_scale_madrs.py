"""MADRS definition: what is specific to it (items, options, recall periods, CDISC codes, band
sets, the wording of its flags). The hand-computed scoring cases (totals, Snaith 1986 and Swedish
band edges, missing and not-assessed items, safety and consistency flags) are data, in
scales/definitions/madrs.cases.json, run by tests/test_scale_cases.py."""

import pytest

from scales import ResponseError, get_scale, score

ITEMS = [f"madrs_{n}" for n in range(1, 11)]


def madrs():
    return get_scale("madrs")


def responses(*values):
    """Ten values in item order, written out by each test."""
    assert len(values) == 10
    return dict(zip(ITEMS, values, strict=True))


def flag_ids(result):
    return [f["id"] for f in result.flags]


# --- structure ---------------------------------------------------------------------------


def test_item_ids_and_count():
    d = madrs()
    assert [i.id for i in d.items] == [
        "madrs_1",
        "madrs_2",
        "madrs_3",
        "madrs_4",
        "madrs_5",
        "madrs_6",
        "madrs_7",
        "madrs_8",
        "madrs_9",
        "madrs_10",
    ]
    assert len(d.items) == 10
    assert d.rater == "clinician"


def test_every_item_has_options_0_to_6_with_anchors_at_even_values_only():
    for item in madrs().items:
        assert [o["value"] for o in item.options] == [0, 1, 2, 3, 4, 5, 6]
        assert [o["value"] for o in item.options if "anchor" in o] == [0, 2, 4, 6]
        assert item.guide
        assert [c["value"] for c in item.not_assessed] == [9]


def test_recall_default_7d_and_24h_allowed():
    d = madrs()
    assert d.default_recall == "7d"
    assert {o["id"]: o["label"] for o in d.recall_options} == {
        "7d": "the past 7 days",
        "24h": "the past 24 hours",
    }


def test_cdisc_codes_sponsor_defined():
    d = madrs()
    assert d.raw["cdisc"]["domain"] == "RS"
    assert d.raw["cdisc"]["category"] == "MADRS"
    assert d.raw["cdisc"]["sponsor_defined"] is True
    assert d.items[0].raw["cdisc_testcd"] == "MADRS01"
    assert d.items[9].raw["cdisc_testcd"] == "MADRS10"
    assert d.raw["scoring"]["total"]["cdisc_testcd"] == "MADRS11"


# --- band sets ---------------------------------------------------------------------------


def test_unknown_band_set_raises():
    with pytest.raises(ResponseError, match="zimmerman"):
        score(madrs(), responses(0, 0, 0, 0, 0, 0, 0, 0, 0, 0), band_set="zimmerman")


# --- safety trigger ----------------------------------------------------------------------


def test_safety_flag_carries_a_message():
    r = score(madrs(), responses(0, 0, 0, 0, 0, 0, 0, 0, 0, 4))
    assert r.total == 4
    safety = [f for f in r.flags if f["kind"] == "safety"]
    assert [f["id"] for f in safety] == ["madrs_suicidal_thoughts"]
    assert safety[0]["message"]
    assert r.safety_flags == safety


# --- consistency checks ------------------------------------------------------------------


def test_sadness_mismatch_asks_the_rater_to_confirm():
    r = score(madrs(), responses(4, 0, 0, 0, 0, 0, 0, 0, 0, 0))
    checks = [f for f in r.flags if f["kind"] == "consistency"]
    assert [f["id"] for f in checks] == ["madrs_sadness_mismatch"]
    assert "confirm" in checks[0]["message"].lower()
