"""Engine behaviour that does not belong to one scale: input checking and result shape."""

import pytest

from scales import ResponseError, get_scale, score
from scales.engine import visible_items


@pytest.fixture(scope="module")
def phq9():
    return get_scale("phq9")


def test_unknown_item_is_an_error_naming_it(phq9):
    with pytest.raises(ResponseError, match="unknown item 'madrs_1' for scale 'phq9'"):
        score(phq9, {"madrs_1": 2})


def test_responses_must_be_a_mapping(phq9):
    with pytest.raises(ResponseError, match="must be an object"):
        score(phq9, [1, 2, 3])


def test_none_means_unanswered(phq9):
    result = score(phq9, {"phq9_1": None})
    assert "phq9_1" in result.missing


def test_whole_floats_are_accepted(phq9):
    assert score(phq9, {f"phq9_{n}": 1.0 for n in range(1, 10)}).total == 9


def test_unknown_band_set(phq9):
    with pytest.raises(ResponseError, match="unknown band set 'swedish'"):
        score(phq9, {}, band_set="swedish")


def test_visible_items_applies_rules(phq9):
    assert "phq9_10" not in visible_items(phq9, {"phq9_1": 0})
    assert "phq9_10" in visible_items(phq9, {"phq9_1": 1})


def test_result_dict_has_the_documented_keys(phq9):
    keys = set(score(phq9, {}).to_dict())
    assert {
        "total",
        "band",
        "complete",
        "missing",
        "prorated",
        "subscales",
        "flags",
        "definition_hash",
        "engine_version",
        "scale_version",
        "not_assessed",
        "hidden",
    } <= keys


def test_empty_form(phq9):
    result = score(phq9, {})
    assert result.total is None and not result.complete
    assert result.missing == [f"phq9_{n}" for n in range(1, 10)]  # item 10 hidden until an item is > 0


def test_numpy_integers_from_dataframes_are_accepted(phq9):
    import numpy as np

    assert score(phq9, {f"phq9_{n}": np.int64(2) for n in range(1, 10)}).total == 18
    with pytest.raises(ResponseError, match="not a whole number"):
        score(phq9, {"phq9_1": np.float64(1.5)})


def test_form_progress_counts_visible_items_and_groups_once():
    from scales import form_progress

    hamd = get_scale("hamd17")
    assert form_progress(hamd, {}) == (0, 17)  # 16a/16b are one slot
    assert form_progress(hamd, {"hamd17_1": 2, "hamd17_16b": 1}) == (2, 17)
    assert form_progress(hamd, {"hamd17_3": 9}) == (1, 17)  # not assessed counts as dealt with
    phq9 = get_scale("phq9")
    assert form_progress(phq9, {"phq9_1": 0}) == (1, 9)  # item 10 hidden while everything is 0
    assert form_progress(phq9, {"phq9_1": 1}) == (1, 10)
