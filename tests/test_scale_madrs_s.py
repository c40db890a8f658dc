"""MADRS-S definition: what is specific to it (items, options, recall, band-set note, CDISC codes).
The hand-computed scoring cases (Svanborg & Åsberg 1994 total, Swedish clinical band edges,
missing items, the safety trigger, refused values) are data, in
scales/definitions/madrs_s.cases.json, run by tests/test_scale_cases.py."""

from scales import get_scale


def madrs_s():
    return get_scale("madrs_s")


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
