"""HAM-D 17 (Hamilton 1960/1967, CDISC HAMD 17): what is specific to this definition (items and
ranges, the 16A/16B choice group, not-assessed codes, HAM-D6, CDISC codes). The hand-computed
scoring cases are data, in scales/definitions/hamd17.cases.json, run by tests/test_scale_cases.py.

Items 1, 2, 3, 7, 8, 9, 10, 11, 15 run 0-4; items 4, 5, 6, 12, 13, 14, 16 (A or B) and 17 run 0-2.
Total 0-52; item 16 is rated by history (A) or by weekly weighing (B), never both.
"""

import pytest

from scales import ResponseError, get_scale, score

WIDE = ["hamd17_1", "hamd17_2", "hamd17_3", "hamd17_7", "hamd17_8", "hamd17_9", "hamd17_10", "hamd17_11", "hamd17_15"]
NARROW_16A = ["hamd17_4", "hamd17_5", "hamd17_6", "hamd17_12", "hamd17_13", "hamd17_14", "hamd17_16a", "hamd17_17"]


@pytest.fixture(scope="module")
def hamd():
    return get_scale("hamd17")


def zeros(part="a"):
    """Every item 0, with item 16 rated by part A (or B)."""
    items = WIDE + [i for i in NARROW_16A if i != "hamd17_16a"] + [f"hamd17_16{part}"]
    return {i: 0 for i in items}


def test_unknown_band_set_is_rejected(hamd):
    with pytest.raises(ResponseError, match="nosuchset"):
        score(hamd, zeros(), band_set="nosuchset")


def test_hamd6_bounds(hamd):
    sub = hamd.subscale_by_id["hamd6"]
    assert (sub.min, sub.max) == (0, 22)
    assert sub.items == ("hamd17_1", "hamd17_2", "hamd17_7", "hamd17_8", "hamd17_10", "hamd17_13")


def test_suicide_safety_flag_carries_a_message(hamd):
    flag = score(hamd, zeros() | {"hamd17_3": 3}).safety_flags[0]
    assert (flag["id"], flag["kind"]) == ("hamd17_suicide", "safety") and flag["message"]


def test_items_and_ranges(hamd):
    expected = [
        ("hamd17_1", "1", 4),
        ("hamd17_2", "2", 4),
        ("hamd17_3", "3", 4),
        ("hamd17_4", "4", 2),
        ("hamd17_5", "5", 2),
        ("hamd17_6", "6", 2),
        ("hamd17_7", "7", 4),
        ("hamd17_8", "8", 4),
        ("hamd17_9", "9", 4),
        ("hamd17_10", "10", 4),
        ("hamd17_11", "11", 4),
        ("hamd17_12", "12", 2),
        ("hamd17_13", "13", 2),
        ("hamd17_14", "14", 2),
        ("hamd17_15", "15", 4),
        ("hamd17_16a", "16A", 2),
        ("hamd17_16b", "16B", 2),
        ("hamd17_17", "17", 2),
    ]
    assert [(i.id, i.number, i.max) for i in hamd.items] == expected
    assert all(i.min == 0 for i in hamd.items)
    assert all(i.guide for i in hamd.items)
    assert all(o.get("anchor") and o.get("label") for i in hamd.items for o in i.options)
    assert hamd.rater == "clinician"
    assert hamd.default_recall == "7d"
    assert [o["id"] for o in hamd.recall_options] == ["7d"]
    assert (hamd.total_min, hamd.total_max) == (0, 52)
    assert hamd.choice_groups == (("hamd17_16a", "hamd17_16b"),)


def test_not_assessed_codes(hamd):
    for item in hamd.items:
        expected = {3} if item.id in ("hamd17_16a", "hamd17_16b") else {9}
        assert item.not_assessed_values == expected, item.id


def test_cdisc_codes_for_every_item_and_total(hamd):
    expected = {
        "hamd17_1": ("HAMD101", "HAMD1-Depressed Mood"),
        "hamd17_2": ("HAMD102", "HAMD1-Feelings of Guilt"),
        "hamd17_3": ("HAMD103", "HAMD1-Suicide"),
        "hamd17_4": ("HAMD104", "HAMD1-Insomnia Early - Early Night"),
        "hamd17_5": ("HAMD105", "HAMD1-Insomnia Middle - Middle Night"),
        "hamd17_6": ("HAMD106", "HAMD1-Insomnia Early Hours - Morning"),
        "hamd17_7": ("HAMD107", "HAMD1-Work and Activities"),
        "hamd17_8": ("HAMD108", "HAMD1-Retardation"),
        "hamd17_9": ("HAMD109", "HAMD1-Agitation"),
        "hamd17_10": ("HAMD110", "HAMD1-Anxiety Psychic"),
        "hamd17_11": ("HAMD111", "HAMD1-Anxiety Somatic"),
        "hamd17_12": ("HAMD112", "HAMD1-Somatic Symptoms Gastrointestinal"),
        "hamd17_13": ("HAMD113", "HAMD1-General Somatic Symptoms"),
        "hamd17_14": ("HAMD114", "HAMD1-Genital Symptoms"),
        "hamd17_15": ("HAMD115", "HAMD1-Hypochondriasis"),
        "hamd17_16a": ("HAMD116A", "HAMD1-Loss of WT According to Patient"),
        "hamd17_16b": ("HAMD116B", "HAMD1-Loss of WT According to WK Meas"),
        "hamd17_17": ("HAMD117", "HAMD1-Insight"),
    }
    assert {i.id: (i.raw["cdisc_testcd"], i.raw["cdisc_test"]) for i in hamd.items} == expected
    total = hamd.raw["scoring"]["total"]
    assert (total["cdisc_testcd"], total["cdisc_test"]) == ("HAMD118", "HAMD1-Total Score")
    cdisc = hamd.raw["cdisc"]
    assert cdisc["domain"] == "RS"
    assert cdisc["category"] == "HAMD 17"
    assert cdisc["sponsor_defined"] is False
    assert cdisc["test_code_codelist"] == "C100138"


def test_result_records_definition_hash(hamd):
    result = score(hamd, zeros())
    assert result.definition_hash == hamd.hash
    assert result.definition_hash.startswith("sha256:")
