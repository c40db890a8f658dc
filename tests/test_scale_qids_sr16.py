"""QIDS-SR16 (Rush 2003): what is specific to this definition (its domains as max-subscales, the
total's terms, CDISC codes). The hand-computed scoring cases are data, in
scales/definitions/qids_sr16.cases.json, run by tests/test_scale_cases.py.

Total = max(1-4) + 5 + max(6-9) + 10 + 11 + 12 + 13 + 14 + max(15, 16): nine domains, each 0-3, total 0-27.
Bands: 0-5 none, 6-10 mild, 11-15 moderate, 16-20 severe, 21-27 very severe.
"""

import pytest

from scales import get_scale, score

ITEMS = [f"qids_sr16_{n}" for n in range(1, 17)]


@pytest.fixture(scope="module")
def qids():
    return get_scale("qids_sr16")


def all_at(value):
    return {i: value for i in ITEMS}


def test_no_not_assessed_codes(qids):
    assert all(i.not_assessed == () for i in qids.items)


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
