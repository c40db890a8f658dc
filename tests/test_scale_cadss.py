"""CADSS definition: what is specific to it (items, observer items, options, recall, CDISC codes,
no bands). The hand-computed scoring cases (Bremner 1998 total, the subscales and CADSS-6, missing
and not-assessed items) are data, in scales/definitions/cadss.cases.json, run by
tests/test_scale_cases.py."""

from scales import get_scale

ITEMS = [f"cadss_{n}" for n in range(1, 24)]


def cadss():
    return get_scale("cadss")


# --- structure ---------------------------------------------------------------------------


def test_item_ids_and_count():
    d = cadss()
    assert len(d.items) == 23
    assert d.items[0].id == "cadss_1"
    assert d.items[22].id == "cadss_23"
    assert [i.id for i in d.items] == ITEMS
    assert d.rater == "clinician"


def test_items_20_to_23_are_observed():
    d = cadss()
    assert [i.id for i in d.items if i.rated_by == "observer"] == [
        "cadss_20",
        "cadss_21",
        "cadss_22",
        "cadss_23",
    ]
    assert all(i.rated_by == "clinician" for i in d.items[:19])


def test_options_0_to_4_and_not_assessed_9():
    for item in cadss().items:
        assert [o["label"] for o in item.options] == [
            "0 – Not at all",
            "1 – Slightly",
            "2 – Moderately",
            "3 – Considerably",
            "4 – Extremely",
        ]
        assert [o["value"] for o in item.options] == [0, 1, 2, 3, 4]
        assert [c["value"] for c in item.not_assessed] == [9]


def test_recall_now_only():
    d = cadss()
    assert d.default_recall == "now"
    assert d.recall_options == [{"id": "now", "label": "right now, at this moment"}]


def test_no_bands_and_no_safety_triggers():
    d = cadss()
    assert "bands" not in d.raw["scoring"]
    assert d.band_sets == {}
    assert d.default_band_set is None
    assert "safety_triggers" not in d.raw


def test_cdisc_codes():
    d = cadss()
    assert d.raw["cdisc"]["domain"] == "RS"
    assert d.raw["cdisc"]["category"] == "CADSS"
    assert d.raw["cdisc"]["sponsor_defined"] is True
    assert d.items[0].raw["cdisc_testcd"] == "CADSS01"
    assert d.items[22].raw["cdisc_testcd"] == "CADSS23"
    assert d.raw["scoring"]["total"]["cdisc_testcd"] == "CADSS24"
    assert {s.id: s.raw["cdisc_testcd"] for s in d.subscales} == {
        "depersonalization": "CADSSDP",
        "derealization": "CADSSDR",
        "amnesia": "CADSSAM",
        "cadss6": "CADSS6",
    }
