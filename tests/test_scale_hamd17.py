"""HAM-D 17: hand-computed cases from the published scoring rules (Hamilton 1960/1967, CDISC HAMD 17).

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


def with_total(n):
    """A complete set of answers (16A rated) whose values add up to n: the 0-4 items are filled first."""
    responses = zeros()
    left = n
    for item_id in WIDE + NARROW_16A:
        step = min(left, 4 if item_id in WIDE else 2)
        responses[item_id] = step
        left -= step
    assert left == 0
    return responses


def test_minimum_total_is_0():
    result = score(get_scale("hamd17"), zeros())
    assert result.total == 0
    assert result.complete is True
    assert result.missing == []
    assert result.band == "Normal"
    assert result.band_set == "scales_md"
    assert result.prorated is False
    assert result.flags == []


def test_maximum_total_is_52(hamd):
    responses = {i: 4 for i in WIDE} | {i: 2 for i in NARROW_16A}
    result = score(hamd, responses)
    # 9 items x 4 + 8 items x 2 = 36 + 16 = 52
    assert result.total == 52
    assert result.band == "Very severe"
    assert result.subscales["hamd6"] == 22
    assert result.hidden == ["hamd17_16b"]


def test_maximum_with_part_b_is_also_52(hamd):
    responses = {i: 4 for i in WIDE} | {i: 2 for i in NARROW_16A if i != "hamd17_16a"} | {"hamd17_16b": 2}
    result = score(hamd, responses)
    assert result.total == 52
    assert result.hidden == ["hamd17_16a"]


@pytest.mark.parametrize(
    "total, band",
    [
        (0, "Normal"),
        (7, "Normal"),
        (8, "Mild"),
        (13, "Mild"),
        (14, "Moderate"),
        (18, "Moderate"),
        (19, "Severe"),
        (22, "Severe"),
        (23, "Very severe"),
        (52, "Very severe"),
    ],
)
def test_default_band_edges(hamd, total, band):
    result = score(hamd, with_total(total))
    assert result.total == total
    assert result.band == band
    assert result.band_set == "scales_md"


@pytest.mark.parametrize(
    "total, band",
    [
        (0, "No depression"),
        (7, "No depression"),
        (8, "Mild"),
        (16, "Mild"),
        (17, "Moderate"),
        (23, "Moderate"),
        (24, "Severe"),
        (52, "Severe"),
    ],
)
def test_zimmerman_band_edges(hamd, total, band):
    result = score(hamd, with_total(total), band_set="zimmerman2013")
    assert result.total == total
    assert result.band == band
    assert result.band_set == "zimmerman2013"


def test_unknown_band_set_is_rejected(hamd):
    with pytest.raises(ResponseError, match="nosuchset"):
        score(hamd, zeros(), band_set="nosuchset")


def test_hand_worked_total(hamd):
    responses = {
        "hamd17_1": 3,
        "hamd17_2": 2,
        "hamd17_3": 1,
        "hamd17_4": 2,
        "hamd17_5": 1,
        "hamd17_6": 0,
        "hamd17_7": 3,
        "hamd17_8": 1,
        "hamd17_9": 0,
        "hamd17_10": 2,
        "hamd17_11": 1,
        "hamd17_12": 1,
        "hamd17_13": 2,
        "hamd17_14": 1,
        "hamd17_15": 0,
        "hamd17_16a": 1,
        "hamd17_17": 0,
    }
    result = score(hamd, responses)
    # 3+2+1+2+1+0+3+1+0+2+1+1+2+1+0+1+0 = 21
    assert result.total == 21
    assert result.band == "Severe"
    # HAM-D6: items 1, 2, 7, 8, 10, 13 = 3+2+3+1+2+2 = 13
    assert result.subscales["hamd6"] == 13


def test_missing_item_gives_no_total(hamd):
    responses = zeros()
    del responses["hamd17_5"]
    result = score(hamd, responses)
    assert result.total is None
    assert result.band is None
    assert result.complete is False
    assert result.missing == ["hamd17_5"]


def test_none_value_counts_as_missing(hamd):
    responses = zeros() | {"hamd17_12": None}
    result = score(hamd, responses)
    assert result.total is None
    assert result.missing == ["hamd17_12"]


def test_16a_answered_hides_16b(hamd):
    result = score(hamd, zeros("a"))
    assert result.hidden == ["hamd17_16b"]
    assert "hamd17_16b" not in result.missing
    assert result.complete is True


def test_16b_answered_hides_16a(hamd):
    result = score(hamd, zeros("b"))
    assert result.hidden == ["hamd17_16a"]
    assert "hamd17_16a" not in result.missing
    assert result.total == 0
    assert result.complete is True


def test_both_16a_and_16b_answered_is_an_error(hamd):
    responses = zeros("a") | {"hamd17_16b": 1}
    with pytest.raises(ResponseError) as excinfo:
        score(hamd, responses)
    message = str(excinfo.value)
    assert "hamd17_16a" in message
    assert "hamd17_16b" in message


def test_neither_16a_nor_16b_answered(hamd):
    responses = zeros("a")
    del responses["hamd17_16a"]
    result = score(hamd, responses)
    assert result.total is None
    assert result.complete is False
    assert result.missing == ["hamd17_16a", "hamd17_16b"]
    assert result.hidden == []


def test_16a_not_assessed_is_never_summed(hamd):
    responses = {i: 4 for i in WIDE} | {i: 2 for i in NARROW_16A} | {"hamd17_16a": 3}
    result = score(hamd, responses)
    assert result.total is None
    assert result.band is None
    assert result.not_assessed == ["hamd17_16a"]
    assert result.missing == ["hamd17_16a"]
    assert result.hidden == ["hamd17_16b"]
    assert result.complete is False


def test_16b_not_assessed_is_never_summed(hamd):
    responses = zeros("b") | {"hamd17_16b": 3}
    result = score(hamd, responses)
    assert result.total is None
    assert result.not_assessed == ["hamd17_16b"]
    assert result.missing == ["hamd17_16b"]
    assert result.hidden == ["hamd17_16a"]


@pytest.mark.parametrize("value, total", [(0, 0), (1, 1), (2, 2)])
def test_16b_contributes_up_to_2(hamd, value, total):
    result = score(hamd, zeros("b") | {"hamd17_16b": value})
    assert result.total == total


def test_16b_above_2_other_than_not_assessed_code_is_rejected(hamd):
    with pytest.raises(ResponseError, match="hamd17_16b"):
        score(hamd, zeros("b") | {"hamd17_16b": 4})


def test_code_9_on_item_16_is_rejected(hamd):
    with pytest.raises(ResponseError, match="hamd17_16a"):
        score(hamd, zeros("a") | {"hamd17_16a": 9})


def test_other_item_not_assessed_code_9(hamd):
    responses = zeros() | {"hamd17_10": 9, "hamd17_1": 4}
    result = score(hamd, responses)
    assert result.total is None
    assert result.not_assessed == ["hamd17_10"]
    assert result.missing == ["hamd17_10"]
    # item 10 belongs to the HAM-D6, so it has no score either
    assert result.subscales["hamd6"] is None


def test_code_3_is_a_score_not_a_missing_code_on_wide_items(hamd):
    result = score(hamd, zeros() | {"hamd17_1": 3})
    assert result.total == 3
    assert result.not_assessed == []


def test_code_3_on_a_0_to_2_item_other_than_16_is_rejected(hamd):
    with pytest.raises(ResponseError, match="hamd17_4"):
        score(hamd, zeros() | {"hamd17_4": 3})


def test_hamd6_on_distinct_values(hamd):
    responses = zeros() | {
        # HAM-D6 members
        "hamd17_1": 4,
        "hamd17_2": 1,
        "hamd17_7": 3,
        "hamd17_8": 0,
        "hamd17_10": 2,
        "hamd17_13": 1,
        # non-members, set high to show they are left out
        "hamd17_3": 2,
        "hamd17_9": 4,
        "hamd17_11": 3,
        "hamd17_15": 4,
        "hamd17_4": 2,
    }
    result = score(hamd, responses)
    # HAM-D6 = 4 + 1 + 3 + 0 + 2 + 1 = 11
    assert result.subscales["hamd6"] == 11
    # total = 11 + (2 + 4 + 3 + 4 + 2) = 11 + 15 = 26
    assert result.total == 26
    assert result.band == "Very severe"


def test_hamd6_bounds(hamd):
    low = score(hamd, zeros())
    assert low.subscales["hamd6"] == 0
    sub = hamd.subscale_by_id["hamd6"]
    assert (sub.min, sub.max) == (0, 22)
    assert sub.items == ("hamd17_1", "hamd17_2", "hamd17_7", "hamd17_8", "hamd17_10", "hamd17_13")


def test_hamd6_missing_member_gives_no_subscale(hamd):
    responses = zeros()
    del responses["hamd17_13"]
    result = score(hamd, responses)
    assert result.subscales["hamd6"] is None


@pytest.mark.parametrize("value, fires", [(0, False), (2, False), (3, True), (4, True), (9, False)])
def test_suicide_safety_trigger(hamd, value, fires):
    result = score(hamd, zeros() | {"hamd17_3": value})
    ids = [f["id"] for f in result.flags]
    assert ("hamd17_suicide" in ids) is fires
    if fires:
        flag = result.safety_flags[0]
        assert flag["kind"] == "safety"
        assert flag["message"]


def test_unknown_item_is_rejected(hamd):
    with pytest.raises(ResponseError, match="hamd17_18"):
        score(hamd, zeros() | {"hamd17_18": 1})


def test_unknown_item_16c_is_rejected(hamd):
    with pytest.raises(ResponseError, match="hamd17_16c"):
        score(hamd, zeros() | {"hamd17_16c": 1})


@pytest.mark.parametrize("value", [5, -1, 1.5, "2", True, 8])
def test_out_of_range_values_on_a_0_to_4_item_are_rejected(hamd, value):
    with pytest.raises(ResponseError, match="hamd17_1"):
        score(hamd, zeros() | {"hamd17_1": value})


@pytest.mark.parametrize("value", [3, -1, 0.5, "1", False])
def test_out_of_range_values_on_a_0_to_2_item_are_rejected(hamd, value):
    with pytest.raises(ResponseError, match="hamd17_17"):
        score(hamd, zeros() | {"hamd17_17": value})


def test_whole_float_is_accepted(hamd):
    result = score(hamd, zeros() | {"hamd17_1": 2.0})
    assert result.total == 2


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
