"""MADRS-S definition: hand-computed cases from Svanborg & Åsberg 1994 (sum of nine items,
0-54), the Swedish clinical bands and Scalebook's rules (scales.md)."""

import pytest

from scales import ResponseError, get_scale, score

ITEMS = [f"madrs_s_{n}" for n in range(1, 10)]


def madrs_s():
    return get_scale("madrs_s")


def responses(*values):
    assert len(values) == 9
    return dict(zip(ITEMS, values, strict=True))


def flag_ids(result):
    return [f["id"] for f in result.flags]


# --- structure ---------------------------------------------------------------------------


def test_item_ids_and_count():
    d = madrs_s()
    assert [i.id for i in d.items] == [
        "madrs_s_1",
        "madrs_s_2",
        "madrs_s_3",
        "madrs_s_4",
        "madrs_s_5",
        "madrs_s_6",
        "madrs_s_7",
        "madrs_s_8",
        "madrs_s_9",
    ]
    assert len(d.items) == 9
    assert d.rater == "self"


def test_options_0_to_6_anchors_at_even_values_and_no_not_assessed_code():
    for item in madrs_s().items:
        assert [o["value"] for o in item.options] == [0, 1, 2, 3, 4, 5, 6]
        assert [o["value"] for o in item.options if "anchor" in o] == [0, 2, 4, 6]
        assert item.not_assessed == ()
        assert item.prompt.endswith("?")


def test_recall_3_days_only():
    d = madrs_s()
    assert d.default_recall == "3d"
    assert d.recall_options == [{"id": "3d", "label": "the past 3 days"}]


def test_band_set_carries_not_validated_note():
    band_sets = madrs_s().raw["scoring"]["bands"]["sets"]
    assert [s["id"] for s in band_sets] == ["swedish_clinical"]
    assert band_sets[0]["note"] == "Used in Swedish clinical practice; not formally validated"


def test_cdisc_codes_sponsor_defined_and_short():
    d = madrs_s()
    assert d.raw["cdisc"]["domain"] == "QS"
    assert d.raw["cdisc"]["category"] == "MADRS-S"
    assert d.raw["cdisc"]["sponsor_defined"] is True
    codes = [i.raw["cdisc_testcd"] for i in d.items] + [d.raw["scoring"]["total"]["cdisc_testcd"]]
    assert codes == [
        "MADRSS01",
        "MADRSS02",
        "MADRSS03",
        "MADRSS04",
        "MADRSS05",
        "MADRSS06",
        "MADRSS07",
        "MADRSS08",
        "MADRSS09",
        "MADRSS10",
    ]
    assert all(len(c) <= 8 for c in codes)


# --- totals ------------------------------------------------------------------------------


def test_minimum_total():
    r = score(madrs_s(), responses(0, 0, 0, 0, 0, 0, 0, 0, 0))
    assert r.total == 0
    assert r.band == "None or minimal"
    assert r.band_set == "swedish_clinical"
    assert r.complete is True
    assert r.missing == []


def test_maximum_total():
    r = score(madrs_s(), responses(6, 6, 6, 6, 6, 6, 6, 6, 6))
    assert r.total == 54
    assert r.band == "Severe"


def test_odd_values_accepted_and_summed():
    r = score(madrs_s(), responses(1, 3, 5, 1, 3, 5, 1, 3, 0))
    assert r.total == 22
    assert r.band == "Moderate"


@pytest.mark.parametrize(
    "values, total, band",
    [
        ((0, 0, 0, 0, 0, 0, 0, 0, 0), 0, "None or minimal"),
        ((6, 6, 0, 0, 0, 0, 0, 0, 0), 12, "None or minimal"),
        ((6, 6, 1, 0, 0, 0, 0, 0, 0), 13, "Mild"),
        ((6, 6, 6, 1, 0, 0, 0, 0, 0), 19, "Mild"),
        ((6, 6, 6, 2, 0, 0, 0, 0, 0), 20, "Moderate"),
        ((6, 6, 6, 6, 6, 4, 0, 0, 0), 34, "Moderate"),
        ((6, 6, 6, 6, 6, 5, 0, 0, 0), 35, "Severe"),
        ((6, 6, 6, 6, 6, 6, 6, 6, 6), 54, "Severe"),
    ],
)
def test_swedish_clinical_band_edges(values, total, band):
    r = score(madrs_s(), responses(*values))
    assert r.total == total
    assert r.band == band


# --- missing -----------------------------------------------------------------------------


def test_missing_item_gives_no_total():
    values = responses(2, 2, 2, 2, 2, 2, 2, 2, 2)
    del values["madrs_s_3"]
    r = score(madrs_s(), values)
    assert r.total is None
    assert r.band is None
    assert r.complete is False
    assert r.missing == ["madrs_s_3"]
    assert r.prorated is False


def test_code_9_is_not_allowed_for_self_report():
    values = responses(2, 2, 2, 2, 2, 2, 2, 2, 2)
    values["madrs_s_4"] = 9
    with pytest.raises(ResponseError, match="madrs_s_4"):
        score(madrs_s(), values)


# --- invalid responses -------------------------------------------------------------------


@pytest.mark.parametrize("bad", [7, -1, 2.5, "3"])
def test_value_outside_options_raises_naming_item(bad):
    values = responses(0, 0, 0, 0, 0, 0, 0, 0, 0)
    values["madrs_s_6"] = bad
    with pytest.raises(ResponseError, match="madrs_s_6"):
        score(madrs_s(), values)


def test_unknown_item_raises():
    values = responses(0, 0, 0, 0, 0, 0, 0, 0, 0)
    values["madrs_s_10"] = 1
    with pytest.raises(ResponseError, match="madrs_s_10"):
        score(madrs_s(), values)


def test_madrs_item_id_is_unknown_here():
    with pytest.raises(ResponseError, match="madrs_1"):
        score(madrs_s(), {"madrs_1": 2})


# --- safety trigger ----------------------------------------------------------------------


def test_safety_fires_at_4():
    r = score(madrs_s(), responses(0, 0, 0, 0, 0, 0, 0, 0, 4))
    assert r.total == 4
    assert [(f["id"], f["kind"]) for f in r.flags] == [("madrs_s_zest_for_life", "safety")]


def test_safety_fires_at_6():
    r = score(madrs_s(), responses(0, 0, 0, 0, 0, 0, 0, 0, 6))
    assert flag_ids(r) == ["madrs_s_zest_for_life"]


def test_safety_does_not_fire_at_3():
    r = score(madrs_s(), responses(6, 6, 6, 6, 6, 6, 6, 6, 3))
    assert r.total == 51
    assert r.flags == []


def test_safety_fires_on_incomplete_form():
    r = score(madrs_s(), {"madrs_s_9": 4})
    assert r.total is None
    assert flag_ids(r) == ["madrs_s_zest_for_life"]
