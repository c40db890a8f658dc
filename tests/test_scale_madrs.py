"""MADRS definition: hand-computed cases from Montgomery & Åsberg 1979 (sum of ten items, 0-60),
Snaith et al. 1986 bands and the Swedish clinical bands, and Scalebook's rules (scales.md)."""

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


# --- totals ------------------------------------------------------------------------------


def test_minimum_total():
    r = score(madrs(), responses(0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
    assert r.total == 0
    assert r.band == "Normal / symptom absent"
    assert r.band_set == "snaith1986"
    assert r.complete is True
    assert r.missing == []
    assert r.prorated is False
    assert r.definition_hash.startswith("sha256:")


def test_maximum_total():
    r = score(madrs(), responses(6, 6, 6, 6, 6, 6, 6, 6, 6, 6))
    assert r.total == 60
    assert r.band == "Severe"


def test_mixed_total():
    r = score(madrs(), responses(3, 4, 2, 5, 0, 1, 6, 2, 3, 1))
    assert r.total == 27
    assert r.band == "Moderate"


def test_odd_values_accepted_and_summed():
    r = score(madrs(), responses(1, 1, 1, 1, 1, 1, 1, 1, 1, 1))
    assert r.total == 10
    r = score(madrs(), responses(1, 3, 5, 1, 3, 5, 1, 3, 5, 0))
    assert r.total == 27
    r = score(madrs(), responses(5, 5, 5, 5, 5, 5, 5, 5, 5, 5))
    assert r.total == 50


def test_float_whole_number_accepted():
    r = score(madrs(), responses(2.0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
    assert r.total == 2


# --- Snaith 1986 bands (default) ---------------------------------------------------------


@pytest.mark.parametrize(
    "values, total, band",
    [
        ((0, 0, 0, 0, 0, 0, 0, 0, 0, 0), 0, "Normal / symptom absent"),
        ((6, 0, 0, 0, 0, 0, 0, 0, 0, 0), 6, "Normal / symptom absent"),
        ((6, 1, 0, 0, 0, 0, 0, 0, 0, 0), 7, "Mild"),
        ((6, 6, 6, 1, 0, 0, 0, 0, 0, 0), 19, "Mild"),
        ((6, 6, 6, 2, 0, 0, 0, 0, 0, 0), 20, "Moderate"),
        ((6, 6, 6, 6, 6, 4, 0, 0, 0, 0), 34, "Moderate"),
        ((6, 6, 6, 6, 6, 5, 0, 0, 0, 0), 35, "Severe"),
        ((6, 6, 6, 6, 6, 6, 6, 6, 6, 6), 60, "Severe"),
    ],
)
def test_snaith_band_edges(values, total, band):
    r = score(madrs(), responses(*values))
    assert r.total == total
    assert r.band == band
    assert r.band_set == "snaith1986"


# --- Swedish bands -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "values, total, band",
    [
        ((0, 0, 0, 0, 0, 0, 0, 0, 0, 0), 0, "None or minimal"),
        ((6, 6, 0, 0, 0, 0, 0, 0, 0, 0), 12, "None or minimal"),
        ((6, 6, 1, 0, 0, 0, 0, 0, 0, 0), 13, "Mild"),
        ((6, 6, 6, 1, 0, 0, 0, 0, 0, 0), 19, "Mild"),
        ((6, 6, 6, 2, 0, 0, 0, 0, 0, 0), 20, "Moderate"),
        ((6, 6, 6, 6, 6, 4, 0, 0, 0, 0), 34, "Moderate"),
        ((6, 6, 6, 6, 6, 5, 0, 0, 0, 0), 35, "Severe"),
        ((6, 6, 6, 6, 6, 6, 6, 6, 6, 6), 60, "Severe"),
    ],
)
def test_swedish_band_edges(values, total, band):
    r = score(madrs(), responses(*values), band_set="swedish")
    assert r.total == total
    assert r.band == band
    assert r.band_set == "swedish"


def test_same_total_different_band_sets():
    values = responses(6, 4, 0, 0, 0, 0, 0, 0, 0, 0)  # total 10
    assert score(madrs(), values).band == "Mild"
    assert score(madrs(), values, band_set="swedish").band == "None or minimal"


def test_unknown_band_set_raises():
    with pytest.raises(ResponseError, match="zimmerman"):
        score(madrs(), responses(0, 0, 0, 0, 0, 0, 0, 0, 0, 0), band_set="zimmerman")


# --- missing and not assessed ------------------------------------------------------------


def test_missing_item_gives_no_total():
    values = responses(3, 3, 3, 3, 3, 3, 3, 3, 3, 3)
    del values["madrs_5"]
    r = score(madrs(), values)
    assert r.total is None
    assert r.band is None
    assert r.complete is False
    assert r.missing == ["madrs_5"]
    assert r.not_assessed == []
    assert r.prorated is False


def test_none_value_counts_as_missing():
    values = responses(3, 3, 3, 3, 3, 3, 3, 3, 3, 3)
    values["madrs_7"] = None
    r = score(madrs(), values)
    assert r.total is None
    assert r.missing == ["madrs_7"]


def test_empty_form_lists_every_item_missing():
    r = score(madrs(), {})
    assert r.total is None
    assert r.complete is False
    assert r.missing == ITEMS
    assert r.flags == []


def test_not_assessed_code_not_summed():
    r = score(madrs(), responses(2, 2, 2, 9, 2, 2, 2, 2, 2, 2))
    assert r.total is None
    assert r.band is None
    assert r.complete is False
    assert r.not_assessed == ["madrs_4"]
    assert r.missing == ["madrs_4"]


def test_not_assessed_suicide_item_does_not_fire_safety():
    r = score(madrs(), responses(2, 2, 2, 2, 2, 2, 2, 2, 2, 9))
    assert r.not_assessed == ["madrs_10"]
    assert "madrs_suicidal_thoughts" not in flag_ids(r)


# --- invalid responses -------------------------------------------------------------------


@pytest.mark.parametrize("bad", [7, -1, 2.5, "3", True, 8])
def test_value_outside_options_raises_naming_item(bad):
    values = responses(0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    values["madrs_3"] = bad
    with pytest.raises(ResponseError, match="madrs_3"):
        score(madrs(), values)


def test_unknown_item_raises():
    values = responses(0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    values["madrs_11"] = 2
    with pytest.raises(ResponseError, match="madrs_11"):
        score(madrs(), values)


# --- safety trigger ----------------------------------------------------------------------


def test_safety_fires_at_4():
    r = score(madrs(), responses(0, 0, 0, 0, 0, 0, 0, 0, 0, 4))
    assert r.total == 4
    safety = [f for f in r.flags if f["kind"] == "safety"]
    assert [f["id"] for f in safety] == ["madrs_suicidal_thoughts"]
    assert safety[0]["message"]
    assert r.safety_flags == safety


def test_safety_fires_at_6():
    r = score(madrs(), responses(0, 0, 0, 0, 0, 0, 0, 0, 0, 6))
    assert "madrs_suicidal_thoughts" in flag_ids(r)


def test_safety_does_not_fire_at_3():
    r = score(madrs(), responses(0, 0, 0, 0, 0, 0, 0, 0, 0, 3))
    assert r.flags == []


def test_safety_fires_on_incomplete_form():
    r = score(madrs(), {"madrs_10": 5})
    assert r.total is None
    assert "madrs_suicidal_thoughts" in flag_ids(r)


# --- consistency checks ------------------------------------------------------------------


def test_sadness_mismatch_fires_reported_0_apparent_4():
    r = score(madrs(), responses(4, 0, 0, 0, 0, 0, 0, 0, 0, 0))
    checks = [f for f in r.flags if f["kind"] == "consistency"]
    assert [f["id"] for f in checks] == ["madrs_sadness_mismatch"]
    assert "confirm" in checks[0]["message"].lower()


def test_sadness_mismatch_fires_reported_0_apparent_6():
    r = score(madrs(), responses(6, 0, 0, 0, 0, 0, 0, 0, 0, 0))
    assert flag_ids(r) == ["madrs_sadness_mismatch"]


def test_sadness_mismatch_silent_below_threshold():
    r = score(madrs(), responses(3, 0, 0, 0, 0, 0, 0, 0, 0, 0))
    assert r.flags == []


def test_sadness_mismatch_silent_when_reported_1():
    r = score(madrs(), responses(4, 1, 0, 0, 0, 0, 0, 0, 0, 0))
    assert r.flags == []


def test_sadness_mismatch_silent_when_reported_not_assessed():
    r = score(madrs(), responses(5, 9, 0, 0, 0, 0, 0, 0, 0, 0))
    assert "madrs_sadness_mismatch" not in flag_ids(r)


def test_reported_without_apparent_fires_at_5():
    r = score(madrs(), responses(0, 5, 0, 0, 0, 0, 0, 0, 0, 0))
    assert flag_ids(r) == ["madrs_reported_without_apparent"]


def test_reported_without_apparent_silent_at_4():
    r = score(madrs(), responses(0, 4, 0, 0, 0, 0, 0, 0, 0, 0))
    assert r.flags == []


def test_reported_without_apparent_silent_when_apparent_1():
    r = score(madrs(), responses(1, 6, 0, 0, 0, 0, 0, 0, 0, 0))
    assert r.flags == []


def test_consistency_flags_do_not_change_score():
    r = score(madrs(), responses(4, 0, 0, 0, 0, 0, 0, 0, 0, 0))
    assert r.total == 4
    assert r.complete is True
