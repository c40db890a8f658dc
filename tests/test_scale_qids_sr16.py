"""QIDS-SR16 (Rush 2003): hand-computed cases.

Total = max(1-4) + 5 + max(6-9) + 10 + 11 + 12 + 13 + 14 + max(15, 16): nine domains, each 0-3, total 0-27.
Bands: 0-5 none, 6-10 mild, 11-15 moderate, 16-20 severe, 21-27 very severe.
"""

import pytest

from scales import ResponseError, get_scale, score

ITEMS = [f"qids_sr16_{n}" for n in range(1, 17)]


@pytest.fixture(scope="module")
def qids():
    return get_scale("qids_sr16")


def all_at(value):
    return {i: value for i in ITEMS}


def answers(*values):
    return dict(zip(ITEMS, values, strict=True))


def test_minimum_total_is_0(qids):
    result = score(qids, all_at(0))
    assert result.total == 0
    assert result.band == "None"
    assert result.band_set == "rush2003"
    assert result.complete is True
    assert result.subscales == {"sleep": 0, "appetite_weight": 0, "psychomotor": 0}
    assert result.flags == []


def test_maximum_total_is_27_not_48(qids):
    result = score(qids, all_at(3))
    # nine domains x 3 = 27 (a plain sum of the 16 items would be 48)
    assert result.total == 27
    assert result.band == "Very severe"
    # no domain ever exceeds 3, even with every member item at 3
    assert result.subscales == {"sleep": 3, "appetite_weight": 3, "psychomotor": 3}


def test_sleep_domain_takes_the_maximum(qids):
    result = score(qids, all_at(0) | {"qids_sr16_1": 3, "qids_sr16_2": 0, "qids_sr16_3": 1, "qids_sr16_4": 2})
    assert result.subscales["sleep"] == 3
    # only the sleep domain contributes: total = 3
    assert result.total == 3


def test_appetite_weight_domain_takes_the_maximum(qids):
    result = score(qids, all_at(0) | {"qids_sr16_6": 1, "qids_sr16_7": 0, "qids_sr16_8": 2, "qids_sr16_9": 0})
    assert result.subscales["appetite_weight"] == 2
    assert result.total == 2


def test_psychomotor_domain_takes_the_maximum(qids):
    result = score(qids, all_at(0) | {"qids_sr16_15": 1, "qids_sr16_16": 3})
    assert result.subscales["psychomotor"] == 3
    assert result.total == 3


def test_hand_worked_example_1(qids):
    #                 1  2  3  4  5  6  7  8  9 10 11 12 13 14 15 16
    responses = answers(1, 3, 0, 2, 2, 0, 1, 2, 0, 1, 0, 1, 2, 3, 1, 2)
    result = score(qids, responses)
    # sleep max(1,3,0,2) = 3; item 5 = 2; appetite/weight max(0,1,2,0) = 2; items 10-14 = 1+0+1+2+3 = 7;
    # psychomotor max(1,2) = 2.  Total = 3 + 2 + 2 + 7 + 2 = 16.
    # (A plain sum of the 16 items would be 21.)
    assert result.subscales == {"sleep": 3, "appetite_weight": 2, "psychomotor": 2}
    assert result.total == 16
    assert result.band == "Severe"


def test_hand_worked_example_2(qids):
    #                 1  2  3  4  5  6  7  8  9 10 11 12 13 14 15 16
    responses = answers(2, 2, 2, 2, 1, 3, 0, 3, 0, 2, 1, 0, 1, 1, 0, 0)
    result = score(qids, responses)
    # sleep max(2,2,2,2) = 2; item 5 = 1; appetite/weight max(3,0,3,0) = 3; items 10-14 = 2+1+0+1+1 = 5;
    # psychomotor max(0,0) = 0.  Total = 2 + 1 + 3 + 5 + 0 = 11.
    assert result.subscales == {"sleep": 2, "appetite_weight": 3, "psychomotor": 0}
    assert result.total == 11
    assert result.band == "Moderate"


def test_hand_worked_example_3(qids):
    #                 1  2  3  4  5  6  7  8  9 10 11 12 13 14 15 16
    responses = answers(0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 1, 1, 0)
    result = score(qids, responses)
    # sleep 1 + item 5 1 + appetite/weight 1 + items 10-14 (0+1+0+0+1 = 2) + psychomotor 1 = 6
    assert result.total == 6
    assert result.band == "Mild"


# Domains in total order; each entry lists the items of one domain.
DOMAINS = [
    ["qids_sr16_1", "qids_sr16_2", "qids_sr16_3", "qids_sr16_4"],
    ["qids_sr16_5"],
    ["qids_sr16_6", "qids_sr16_7", "qids_sr16_8", "qids_sr16_9"],
    ["qids_sr16_10"],
    ["qids_sr16_11"],
    ["qids_sr16_12"],
    ["qids_sr16_13"],
    ["qids_sr16_14"],
    ["qids_sr16_15", "qids_sr16_16"],
]


def with_total(n):
    """Answers whose domain scores add up to n: domains filled to 3 in order, with every item of a
    domain given the domain's value (so the multi-item domains also show that max, not sum, applies)."""
    responses = {}
    left = n
    for members in DOMAINS:
        step = min(left, 3)
        for item_id in members:
            responses[item_id] = step
        left -= step
    assert left == 0
    return responses


@pytest.mark.parametrize(
    "total, band",
    [
        (0, "None"),
        (5, "None"),
        (6, "Mild"),
        (10, "Mild"),
        (11, "Moderate"),
        (15, "Moderate"),
        (16, "Severe"),
        (20, "Severe"),
        (21, "Very severe"),
        (27, "Very severe"),
    ],
)
def test_band_edges(qids, total, band):
    result = score(qids, with_total(total))
    assert result.total == total
    assert result.band == band
    assert result.band_set == "rush2003"


def test_band_edge_6_reached_through_sleep_domain_only_once(qids):
    # sleep items all 3 -> domain 3 (not 12); item 5 = 3 -> total 6
    responses = all_at(0) | {"qids_sr16_1": 3, "qids_sr16_2": 3, "qids_sr16_3": 3, "qids_sr16_4": 3, "qids_sr16_5": 3}
    result = score(qids, responses)
    assert result.subscales["sleep"] == 3
    assert result.total == 6
    assert result.band == "Mild"


def test_missing_item_gives_no_total(qids):
    responses = all_at(1)
    del responses["qids_sr16_7"]
    result = score(qids, responses)
    assert result.total is None
    assert result.band is None
    assert result.complete is False
    assert result.missing == ["qids_sr16_7"]
    assert result.subscales["appetite_weight"] is None
    assert result.subscales["sleep"] == 1


def test_missing_single_item_domain_gives_no_total(qids):
    responses = all_at(2)
    del responses["qids_sr16_11"]
    result = score(qids, responses)
    assert result.total is None
    assert result.missing == ["qids_sr16_11"]
    assert result.subscales == {"sleep": 2, "appetite_weight": 2, "psychomotor": 2}


@pytest.mark.parametrize("value, fires", [(0, False), (1, False), (2, True), (3, True)])
def test_suicidal_thoughts_safety_trigger(qids, value, fires):
    result = score(qids, all_at(0) | {"qids_sr16_12": value})
    ids = [f["id"] for f in result.safety_flags]
    assert ("qids_sr16_suicidal_thoughts" in ids) is fires


def test_appetite_both_ways_consistency_check(qids):
    flagged = score(qids, all_at(0) | {"qids_sr16_6": 2, "qids_sr16_7": 2})
    kinds = {f["id"]: f["kind"] for f in flagged.flags}
    assert kinds == {"qids_sr16_appetite_both_ways": "consistency"}
    # the check never changes the score: appetite/weight domain = max(2, 2, 0, 0) = 2
    assert flagged.total == 2
    not_flagged = score(qids, all_at(0) | {"qids_sr16_6": 2, "qids_sr16_7": 1})
    assert not_flagged.flags == []


def test_weight_both_ways_consistency_check(qids):
    flagged = score(qids, all_at(0) | {"qids_sr16_8": 3, "qids_sr16_9": 2})
    assert [f["id"] for f in flagged.flags] == ["qids_sr16_weight_both_ways"]
    assert flagged.total == 3
    assert score(qids, all_at(0) | {"qids_sr16_8": 1, "qids_sr16_9": 3}).flags == []


def test_no_not_assessed_codes(qids):
    assert all(i.not_assessed == () for i in qids.items)
    with pytest.raises(ResponseError, match="qids_sr16_4"):
        score(qids, all_at(0) | {"qids_sr16_4": 9})


@pytest.mark.parametrize("value", [4, 5, -1, 1.5, "2", True, False])
def test_invalid_values_are_rejected(qids, value):
    with pytest.raises(ResponseError, match="qids_sr16_10"):
        score(qids, all_at(0) | {"qids_sr16_10": value})


def test_unknown_item_is_rejected(qids):
    with pytest.raises(ResponseError, match="qids_sr16_17"):
        score(qids, all_at(0) | {"qids_sr16_17": 0})


def test_structure(qids):
    assert [i.id for i in qids.items] == ITEMS
    assert qids.rater == "self"
    assert qids.default_recall == "7d"
    assert [o["id"] for o in qids.recall_options] == ["7d"]
    assert all((i.min, i.max) == (0, 3) for i in qids.items)
    assert all([o["value"] for o in i.options] == [0, 1, 2, 3] for i in qids.items)
    assert (qids.total_min, qids.total_max) == (0, 27)
    assert qids.total_terms == (
        "sleep",
        "qids_sr16_5",
        "appetite_weight",
        "qids_sr16_10",
        "qids_sr16_11",
        "qids_sr16_12",
        "qids_sr16_13",
        "qids_sr16_14",
        "psychomotor",
    )
    subs = {s.id: (s.method, s.items, s.min, s.max) for s in qids.subscales}
    assert subs == {
        "sleep": ("max", ("qids_sr16_1", "qids_sr16_2", "qids_sr16_3", "qids_sr16_4"), 0, 3),
        "appetite_weight": ("max", ("qids_sr16_6", "qids_sr16_7", "qids_sr16_8", "qids_sr16_9"), 0, 3),
        "psychomotor": ("max", ("qids_sr16_15", "qids_sr16_16"), 0, 3),
    }


def test_cdisc_codes_for_every_item_subscale_and_total(qids):
    expected = [
        ("QIDSR101", "QIDSR1-Falling Asleep"),
        ("QIDSR102", "QIDSR1-Sleep During the Night"),
        ("QIDSR103", "QIDSR1-Waking Up Too Early"),
        ("QIDSR104", "QIDSR1-Sleeping Too Much"),
        ("QIDSR105", "QIDSR1-Feeling Sad"),
        ("QIDSR106", "QIDSR1-Decreased Appetite"),
        ("QIDSR107", "QIDSR1-Increased Appetite"),
        ("QIDSR108", "QIDSR1-Decreased Weight"),
        ("QIDSR109", "QIDSR1-Increased Weight"),
        ("QIDSR110", "QIDSR1-Concentration/Decision Making"),
        ("QIDSR111", "QIDSR1-View of Myself"),
        ("QIDSR112", "QIDSR1-Thoughts of Death or Suicide"),
        ("QIDSR113", "QIDSR1-General Interest"),
        ("QIDSR114", "QIDSR1-Energy Level"),
        ("QIDSR115", "QIDSR1-Feeling Slowed Down"),
        ("QIDSR116", "QIDSR1-Feeling Restless"),
    ]
    assert [(i.raw["cdisc_testcd"], i.raw["cdisc_test"]) for i in qids.items] == expected
    subs = {s.id: (s.raw["cdisc_testcd"], s.raw["cdisc_test"]) for s in qids.subscales}
    assert subs == {
        "sleep": ("QIDSR117", "QIDSR1-Highest Score Sleep Items"),
        "appetite_weight": ("QIDSR118", "QIDSR1-High Score Appetite/Weight Items"),
        "psychomotor": ("QIDSR119", "QIDSR1-Highest Score Psychomotor Items"),
    }
    total = qids.raw["scoring"]["total"]
    assert (total["cdisc_testcd"], total["cdisc_test"]) == ("QIDSR120", "QIDSR1-Total Score")
    cdisc = qids.raw["cdisc"]
    assert cdisc["domain"] == "QS"
    assert cdisc["category"] == "QIDS-SR"
    assert cdisc["sponsor_defined"] is False
    assert cdisc["test_code_codelist"] == "C130263"


def test_result_records_definition_hash(qids):
    result = score(qids, all_at(0))
    assert result.definition_hash == qids.hash
    assert result.definition_hash.startswith("sha256:")
