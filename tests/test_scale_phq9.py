"""PHQ-9: hand-computed cases from Kroenke 2001 and the NHS prorating rule (scales.md)."""

import pytest

from scales import ResponseError, get_scale, score

ITEMS = [f"phq9_{n}" for n in range(1, 10)]


@pytest.fixture(scope="module")
def phq9():
    return get_scale("phq9")


def answers(*values, item10=None):
    responses = dict(zip(ITEMS, values, strict=False))
    if item10 is not None:
        responses["phq9_10"] = item10
    return responses


def test_minimum_total_hides_item_10(phq9):
    result = score(phq9, answers(0, 0, 0, 0, 0, 0, 0, 0, 0))
    assert result.total == 0
    assert result.band == "Minimal"
    assert result.complete
    assert result.hidden == ["phq9_10"]


def test_maximum_total(phq9):
    result = score(phq9, answers(3, 3, 3, 3, 3, 3, 3, 3, 3, item10=3))
    assert result.total == 27
    assert result.band == "Severe"
    assert result.complete


@pytest.mark.parametrize(
    ("values", "total", "band"),
    [
        ((1, 1, 1, 1, 0, 0, 0, 0, 0), 4, "Minimal"),
        ((1, 1, 1, 1, 1, 0, 0, 0, 0), 5, "Mild"),
        ((1, 1, 1, 1, 1, 1, 1, 1, 1), 9, "Mild"),
        ((2, 1, 1, 1, 1, 1, 1, 1, 1), 10, "Moderate"),
        ((2, 2, 2, 2, 2, 1, 1, 1, 1), 14, "Moderate"),
        ((2, 2, 2, 2, 2, 2, 1, 1, 1), 15, "Moderately severe"),
        ((3, 2, 2, 2, 2, 2, 2, 2, 2), 19, "Moderately severe"),
        ((3, 3, 2, 2, 2, 2, 2, 2, 2), 20, "Severe"),
    ],
)
def test_every_band_edge(phq9, values, total, band):
    result = score(phq9, answers(*values, item10=1))
    assert (result.total, result.band) == (total, band)


def test_item_10_is_never_summed(phq9):
    without = score(phq9, answers(1, 1, 1, 1, 1, 1, 1, 1, 1, item10=0))
    with_max = score(phq9, answers(1, 1, 1, 1, 1, 1, 1, 1, 1, item10=3))
    assert without.total == with_max.total == 9


def test_item_10_asked_only_when_any_item_above_zero(phq9):
    shown = score(phq9, answers(0, 0, 0, 0, 0, 0, 0, 1, 0))
    assert "phq9_10" not in shown.hidden
    assert shown.missing == ["phq9_10"]  # asked and unanswered: form incomplete, total still valid
    assert shown.total == 1
    hidden = score(phq9, answers(0, 0, 0, 0, 0, 0, 0, 0, 0, item10=2))
    assert "phq9_10" in hidden.hidden and hidden.complete


def test_one_missing_item_is_prorated(phq9):
    # 8 answered items sum to 13; 13 * 9 / 8 = 14.625 -> 15 (half up), reported as prorated.
    result = score(phq9, answers(2, 2, 2, 2, 2, 1, 1, 1, None, item10=1))
    assert result.total == 15
    assert result.prorated
    assert result.band == "Moderately severe"
    assert not result.complete
    assert result.missing == ["phq9_9"]


def test_two_missing_items_are_prorated(phq9):
    # 7 answered items sum to 10; 10 * 9 / 7 = 12.857 -> 13.
    result = score(phq9, answers(2, 2, 2, 1, 1, 1, 1, None, None, item10=0))
    assert (result.total, result.prorated) == (13, True)
    assert result.missing == ["phq9_8", "phq9_9"]


def test_prorating_rounds_half_up(phq9):
    # 8 answered items sum to 12; 12 * 9 / 8 = 13.5 -> 14.
    result = score(phq9, answers(2, 2, 2, 2, 1, 1, 1, 1, None, item10=0))
    assert result.total == 14


def test_three_missing_items_give_no_total(phq9):
    result = score(phq9, answers(3, 3, 3, 3, 3, 3, None, None, None, item10=0))
    assert result.total is None
    assert result.band is None
    assert not result.prorated
    assert result.missing == ["phq9_7", "phq9_8", "phq9_9"]


def test_safety_trigger_on_any_item_9_response(phq9):
    assert score(phq9, answers(0, 0, 0, 0, 0, 0, 0, 0, 0)).safety_flags == []
    flags = score(phq9, answers(0, 0, 0, 0, 0, 0, 0, 0, 1, item10=0)).safety_flags
    assert [f["id"] for f in flags] == ["phq9_self_harm"]


@pytest.mark.parametrize("bad", [4, -1, 1.5, "2", True])
def test_out_of_range_values_are_rejected(phq9, bad):
    with pytest.raises(ResponseError, match="phq9_3"):
        score(phq9, {"phq9_3": bad})


def test_codes_for_interchange(phq9):
    raw = phq9.raw
    assert raw["cdisc"] == {"domain": "QS", "category": "PHQ-9", "sponsor_defined": False, "test_code_codelist": "C103481"}
    assert [i.raw["cdisc_testcd"] for i in phq9.items] == [f"PHQ01{n:02d}" for n in range(1, 11)]
    assert raw["scoring"]["total"]["cdisc_testcd"] == "PHQ0111"
    assert raw["loinc"]["panel"] == "44249-1"
    assert raw["scoring"]["total"]["loinc"] == "44261-6"
    assert [i.raw["loinc"] for i in phq9.items] == [
        "44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5", "44253-3", "44260-8", "69722-7",
    ]
