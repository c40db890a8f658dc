"""BPRS 18 items (Overall & Gorham 1962/1988): what is specific to this definition (items,
labels, CDISC codes, the BPRS+ subscale's definition). The hand-computed scoring cases are data,
in scales/definitions/bprs.cases.json, run by tests/test_scale_cases.py.

Each item 1-7 (1 = not present); 9 = not assessed, never summed. Total 18-126, no severity bands.
BPRS+ (positive symptoms) = items 4 + 11 + 12 + 15, range 4-28.
"""

import pytest

from scales import get_scale, score

ITEMS = [f"bprs_{n}" for n in range(1, 19)]


@pytest.fixture(scope="module")
def bprs():
    return get_scale("bprs")


def all_at(value):
    return {i: value for i in ITEMS}


def test_no_bands(bprs):
    assert "bands" not in bprs.raw["scoring"]
    assert bprs.band_set_ids() == []


def test_no_safety_or_consistency_rules(bprs):
    assert bprs.rules == ()


def test_positive_subscale_range(bprs):
    sub = bprs.subscale_by_id["positive"]
    assert sub.label == "BPRS positive symptoms (BPRS+)"
    assert sub.method == "sum"
    assert sub.items == ("bprs_4", "bprs_11", "bprs_12", "bprs_15")
    assert (sub.min, sub.max) == (4, 28)


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
