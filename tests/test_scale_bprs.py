"""BPRS 18 items (Overall & Gorham 1962/1988): hand-computed cases.

Each item 1-7 (1 = not present); 9 = not assessed, never summed. Total 18-126, no severity bands.
BPRS+ (positive symptoms) = items 4 + 11 + 12 + 15, range 4-28.
"""

import pytest

from scales import ResponseError, get_scale, score

ITEMS = [f"bprs_{n}" for n in range(1, 19)]


@pytest.fixture(scope="module")
def bprs():
    return get_scale("bprs")


def all_at(value):
    return {i: value for i in ITEMS}


def test_minimum_total_is_18(bprs):
    result = score(bprs, all_at(1))
    assert result.total == 18
    assert result.subscales["positive"] == 4
    assert result.complete is True
    assert result.missing == []
    assert result.prorated is False


def test_maximum_total_is_126(bprs):
    result = score(bprs, all_at(7))
    # 18 x 7 = 126
    assert result.total == 126
    assert result.subscales["positive"] == 28
    assert result.complete is True


def test_no_bands(bprs):
    result = score(bprs, all_at(4))
    assert result.total == 72
    assert result.band is None
    assert result.band_set is None
    assert "bands" not in bprs.raw["scoring"]
    assert bprs.band_set_ids() == []


def test_no_safety_or_consistency_flags_even_at_maximum(bprs):
    assert score(bprs, all_at(7)).flags == []
    assert bprs.rules == ()


def test_distinct_values_total_and_positive_subscale(bprs):
    values = [1, 3, 2, 6, 1, 4, 1, 2, 5, 3, 4, 7, 2, 1, 5, 3, 2, 1]
    responses = dict(zip(ITEMS, values, strict=True))
    result = score(bprs, responses)
    # items 1-6: 1+3+2+6+1+4 = 17; items 7-12: 1+2+5+3+4+7 = 22; items 13-18: 2+1+5+3+2+1 = 14
    # total = 17 + 22 + 14 = 53
    assert result.total == 53
    # BPRS+ = item 4 (6) + item 11 (4) + item 12 (7) + item 15 (5) = 22
    assert result.subscales["positive"] == 22


def test_positive_subscale_ignores_other_items(bprs):
    responses = all_at(7) | {"bprs_4": 2, "bprs_11": 1, "bprs_12": 3, "bprs_15": 1}
    result = score(bprs, responses)
    # BPRS+ = 2 + 1 + 3 + 1 = 7
    assert result.subscales["positive"] == 7
    # total = 14 items x 7 + 7 = 98 + 7 = 105
    assert result.total == 105


def test_positive_subscale_range(bprs):
    sub = bprs.subscale_by_id["positive"]
    assert sub.label == "BPRS positive symptoms (BPRS+)"
    assert sub.method == "sum"
    assert sub.items == ("bprs_4", "bprs_11", "bprs_12", "bprs_15")
    assert (sub.min, sub.max) == (4, 28)


def test_not_assessed_9_is_never_summed(bprs):
    responses = all_at(2) | {"bprs_12": 9}
    result = score(bprs, responses)
    assert result.total is None
    assert result.not_assessed == ["bprs_12"]
    assert result.missing == ["bprs_12"]
    assert result.complete is False
    # item 12 is a BPRS+ item, so the subscale has no score either
    assert result.subscales["positive"] is None


def test_not_assessed_outside_positive_subscale_keeps_subscale(bprs):
    responses = all_at(3) | {"bprs_1": 9, "bprs_18": 9}
    result = score(bprs, responses)
    assert result.total is None
    assert result.not_assessed == ["bprs_1", "bprs_18"]
    assert result.missing == ["bprs_1", "bprs_18"]
    # BPRS+ = 4 x 3 = 12
    assert result.subscales["positive"] == 12


def test_missing_item_gives_no_total(bprs):
    responses = all_at(1)
    del responses["bprs_7"]
    result = score(bprs, responses)
    assert result.total is None
    assert result.complete is False
    assert result.missing == ["bprs_7"]
    assert result.not_assessed == []


@pytest.mark.parametrize("value", [0, 8, -1, 10, 1.5, "2", True, False])
def test_invalid_values_are_rejected(bprs, value):
    with pytest.raises(ResponseError, match="bprs_3"):
        score(bprs, all_at(1) | {"bprs_3": value})


def test_unknown_item_is_rejected(bprs):
    with pytest.raises(ResponseError, match="bprs_19"):
        score(bprs, all_at(1) | {"bprs_19": 1})


def test_items_order_and_shared_options(bprs):
    names = [i.short_name for i in bprs.items]
    assert names == [
        "Somatic concern",
        "Anxiety",
        "Emotional withdrawal",
        "Conceptual disorganization",
        "Guilt feelings",
        "Tension",
        "Mannerisms and posturing",
        "Grandiosity",
        "Depressive mood",
        "Hostility",
        "Suspiciousness",
        "Hallucinatory behaviour",
        "Motor retardation",
        "Uncooperativeness",
        "Unusual thought content",
        "Blunted affect",
        "Excitement",
        "Disorientation",
    ]
    assert [i.id for i in bprs.items] == ITEMS
    labels = [o["label"] for o in bprs.items[0].options]
    assert labels == [
        "Not present",
        "Very mild",
        "Mild",
        "Moderate",
        "Moderately severe",
        "Severe",
        "Extremely severe",
    ]
    assert [o["value"] for o in bprs.items[0].options] == [1, 2, 3, 4, 5, 6, 7]
    assert all(i.options == bprs.items[0].options for i in bprs.items)
    assert all(i.not_assessed_values == {9} for i in bprs.items)
    assert all(i.guide for i in bprs.items)
    assert bprs.rater == "clinician"
    assert bprs.default_recall == "7d"
    assert (bprs.total_min, bprs.total_max) == (18, 126)


def test_cdisc_codes_for_every_item_and_total(bprs):
    expected = [
        ("BPRS0101", "BPRS01-Somatic Concern"),
        ("BPRS0102", "BPRS01-Anxiety"),
        ("BPRS0103", "BPRS01-Emotional Withdrawal"),
        ("BPRS0104", "BPRS01-Conceptual Disorganization"),
        ("BPRS0105", "BPRS01-Guilt Feelings"),
        ("BPRS0106", "BPRS01-Tension"),
        ("BPRS0107", "BPRS01-Mannerisms and Posturing"),
        ("BPRS0108", "BPRS01-Grandiosity"),
        ("BPRS0109", "BPRS01-Depressive Mood"),
        ("BPRS0110", "BPRS01-Hostility"),
        ("BPRS0111", "BPRS01-Suspiciousness"),
        ("BPRS0112", "BPRS01-Hallucinatory Behavior"),
        ("BPRS0113", "BPRS01-Motor Retardation"),
        ("BPRS0114", "BPRS01-Uncooperativeness"),
        ("BPRS0115", "BPRS01-Unusual Thought Content"),
        ("BPRS0116", "BPRS01-Blunted Affect"),
        ("BPRS0117", "BPRS01-Excitement"),
        ("BPRS0118", "BPRS01-Disorientation"),
    ]
    assert [(i.raw["cdisc_testcd"], i.raw["cdisc_test"]) for i in bprs.items] == expected
    total = bprs.raw["scoring"]["total"]
    assert (total["cdisc_testcd"], total["cdisc_test"]) == ("BPRS0119", "BPRS01-Total Score")
    cdisc = bprs.raw["cdisc"]
    assert cdisc["domain"] == "RS"
    assert cdisc["category"] == "BPRS 1988 VERSION"
    assert cdisc["sponsor_defined"] is False
    assert cdisc["test_code_codelist"] == "C161625"


def test_result_records_definition_hash(bprs):
    result = score(bprs, all_at(1))
    assert result.definition_hash == bprs.hash
    assert result.definition_hash.startswith("sha256:")
