"""CADSS definition: hand-computed cases from Bremner 1998 (sum of 23 items, 0-92), the
commonly reported subscales and CADSS-6 (scales.md), and Scalebook's rules."""

import pytest

from scales import ResponseError, get_scale, score

ITEMS = [f"cadss_{n}" for n in range(1, 24)]


def cadss():
    return get_scale("cadss")


def responses(*values):
    assert len(values) == 23
    return dict(zip(ITEMS, values, strict=True))


def all_zero():
    return responses(*([0] * 23))


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


# --- totals ------------------------------------------------------------------------------


def test_minimum_total():
    r = score(cadss(), all_zero())
    assert r.total == 0
    assert r.band is None
    assert r.band_set is None
    assert r.complete is True
    assert r.subscales == {"depersonalization": 0, "derealization": 0, "amnesia": 0, "cadss6": 0}
    assert r.flags == []


def test_maximum_total():
    r = score(cadss(), responses(*([4] * 23)))
    assert r.total == 92
    assert r.band is None
    assert r.subscales == {"depersonalization": 28, "derealization": 48, "amnesia": 16, "cadss6": 24}


# --- subscales on distinct values --------------------------------------------------------

# With only five values for 23 items no response set can give every item its own value, so
# the subscales are checked three ways: a mixed set cycling 1,2,3,4,0 through the items (hand-
# added sums below), one item at a time (which subscales move), and sets where only one
# subscale's items are non-zero, each with different values.

MIXED = {
    "cadss_1": 1,
    "cadss_2": 2,
    "cadss_3": 3,
    "cadss_4": 4,
    "cadss_5": 0,
    "cadss_6": 1,
    "cadss_7": 2,
    "cadss_8": 3,
    "cadss_9": 4,
    "cadss_10": 0,
    "cadss_11": 1,
    "cadss_12": 2,
    "cadss_13": 3,
    "cadss_14": 4,
    "cadss_15": 0,
    "cadss_16": 1,
    "cadss_17": 2,
    "cadss_18": 3,
    "cadss_19": 4,
    "cadss_20": 0,
    "cadss_21": 1,
    "cadss_22": 2,
    "cadss_23": 3,
}


def test_subscales_on_mixed_responses():
    r = score(cadss(), MIXED)
    # total: 1+2+3+4+0 + 1+2+3+4+0 + 1+2+3+4+0 + 1+2+3+4+0 + 1+2+3 = 10+10+10+10+6
    assert r.total == 46
    # depersonalization 3,4,5,6,7,20,21: 3+4+0+1+2+0+1
    assert r.subscales["depersonalization"] == 11
    # derealization 1,2,8,9,10,11,12,13,16,17,18,19: 1+2+3+4+0+1+2+3+1+2+3+4
    assert r.subscales["derealization"] == 26
    # amnesia 14,15,22,23: 4+0+2+3
    assert r.subscales["amnesia"] == 9
    # CADSS-6 1,2,6,7,15,22: 1+2+1+2+0+2
    assert r.subscales["cadss6"] == 8


def test_each_item_counted_in_the_right_subscales():
    """One item at a time set to 1: which subscales move says which lists it belongs to."""
    expected = {
        1: ("derealization", "cadss6"),
        2: ("derealization", "cadss6"),
        3: ("depersonalization",),
        4: ("depersonalization",),
        5: ("depersonalization",),
        6: ("depersonalization", "cadss6"),
        7: ("depersonalization", "cadss6"),
        8: ("derealization",),
        9: ("derealization",),
        10: ("derealization",),
        11: ("derealization",),
        12: ("derealization",),
        13: ("derealization",),
        14: ("amnesia",),
        15: ("amnesia", "cadss6"),
        16: ("derealization",),
        17: ("derealization",),
        18: ("derealization",),
        19: ("derealization",),
        20: ("depersonalization",),
        21: ("depersonalization",),
        22: ("amnesia", "cadss6"),
        23: ("amnesia",),
    }
    for n, members in expected.items():
        values = all_zero()
        values[f"cadss_{n}"] = 1
        r = score(cadss(), values)
        assert r.total == 1, n
        assert {k for k, v in r.subscales.items() if v == 1} == set(members), n
        assert {k for k, v in r.subscales.items() if v == 0} == {
            "depersonalization",
            "derealization",
            "amnesia",
            "cadss6",
        } - set(members), n


def test_depersonalization_only():
    values = all_zero()
    values.update({"cadss_3": 1, "cadss_4": 2, "cadss_5": 3, "cadss_6": 4, "cadss_7": 1, "cadss_20": 2, "cadss_21": 3})
    r = score(cadss(), values)
    assert r.subscales == {"depersonalization": 16, "derealization": 0, "amnesia": 0, "cadss6": 5}
    assert r.total == 16


def test_amnesia_and_cadss6():
    values = all_zero()
    values.update({"cadss_14": 1, "cadss_15": 2, "cadss_22": 3, "cadss_23": 4})
    r = score(cadss(), values)
    assert r.subscales == {"depersonalization": 0, "derealization": 0, "amnesia": 10, "cadss6": 5}
    assert r.total == 10


def test_cadss6_items():
    values = all_zero()
    values.update({"cadss_1": 4, "cadss_2": 3, "cadss_6": 2, "cadss_7": 1, "cadss_15": 4, "cadss_22": 3})
    r = score(cadss(), values)
    assert r.subscales["cadss6"] == 17
    assert r.subscales["derealization"] == 7
    assert r.subscales["depersonalization"] == 3
    assert r.subscales["amnesia"] == 7
    assert r.total == 17


# --- missing and not assessed ------------------------------------------------------------


def test_missing_item_gives_no_total():
    values = dict(MIXED)
    del values["cadss_12"]
    r = score(cadss(), values)
    assert r.total is None
    assert r.complete is False
    assert r.missing == ["cadss_12"]
    # Only the subscale containing item 12 loses its value.
    assert r.subscales == {"depersonalization": 11, "derealization": None, "amnesia": 9, "cadss6": 8}


def test_not_assessed_observer_item():
    values = dict(MIXED)
    values["cadss_22"] = 9
    r = score(cadss(), values)
    assert r.total is None
    assert r.complete is False
    assert r.not_assessed == ["cadss_22"]
    assert r.missing == ["cadss_22"]
    assert r.subscales == {"depersonalization": 11, "derealization": 26, "amnesia": None, "cadss6": None}


# --- invalid responses -------------------------------------------------------------------


@pytest.mark.parametrize("bad", [5, 7, -1, 2.5, "3"])
def test_value_outside_options_raises_naming_item(bad):
    values = all_zero()
    values["cadss_17"] = bad
    with pytest.raises(ResponseError, match="cadss_17"):
        score(cadss(), values)


def test_unknown_item_raises():
    values = all_zero()
    values["cadss_24"] = 1
    with pytest.raises(ResponseError, match="cadss_24"):
        score(cadss(), values)


def test_no_flags_even_at_maximum():
    assert score(cadss(), responses(*([4] * 23))).flags == []
