"""Properties that hold for every shipped scale, checked with hypothesis."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scales import registry, score
from tests.strategies import complete_responses

SCALES = sorted(registry())


@pytest.mark.parametrize("scale_id", SCALES)
def test_complete_form_total_is_in_range_and_banded(scale_id):
    definition = registry()[scale_id]

    @settings(max_examples=150, deadline=None)
    @given(complete_responses(definition))
    def check(responses):
        result = score(definition, responses)
        assert result.complete, result.missing
        assert definition.total_min <= result.total <= definition.total_max
        assert not result.prorated
        if definition.band_sets:
            assert result.band is not None
        for sub in definition.subscales:
            assert sub.min <= result.subscales[sub.id] <= sub.max

    check()


@pytest.mark.parametrize("scale_id", [s for s in SCALES if any(i.not_assessed for i in registry()[s].items)])
def test_not_assessed_never_adds_to_a_total(scale_id):
    """Coding an item not assessed never sums its code: the total disappears (no proration on
    these scales) instead of growing by 9 or 3, and the item is named."""
    definition = registry()[scale_id]
    codable = [i for i in definition.items if i.not_assessed]

    @settings(max_examples=100, deadline=None)
    @given(complete_responses(definition), st.data())
    def check(responses, data):
        candidates = [i for i in codable if i.id in responses]
        item = data.draw(st.sampled_from(candidates))
        code = data.draw(st.sampled_from(sorted(item.not_assessed_values)))
        baseline = score(definition, responses)
        result = score(definition, {**responses, item.id: code})
        assert item.id in result.not_assessed and item.id in result.missing
        assert result.total is None or result.total <= baseline.total
        if definition.missing_policy == "none":
            assert result.total is None

    check()


def test_qids_domains_never_exceed_three():
    definition = registry()["qids_sr16"]

    @settings(max_examples=300, deadline=None)
    @given(complete_responses(definition))
    def check(responses):
        result = score(definition, responses)
        for domain in ("sleep", "appetite_weight", "psychomotor"):
            assert 0 <= result.subscales[domain] <= 3

    check()


def test_prorated_total_stays_in_range():
    definition = registry()["phq9"]

    @settings(max_examples=200, deadline=None)
    @given(complete_responses(definition), st.sets(st.sampled_from([f"phq9_{n}" for n in range(1, 10)]), max_size=2))
    def check(responses, dropped):
        result = score(definition, {k: v for k, v in responses.items() if k not in dropped})
        assert result.total is not None
        assert 0 <= result.total <= 27
        assert result.prorated == bool(dropped)

    check()


@pytest.mark.parametrize("scale_id", SCALES)
def test_scoring_is_deterministic_and_names_its_rules(scale_id):
    definition = registry()[scale_id]

    @settings(max_examples=30, deadline=None)
    @given(complete_responses(definition))
    def check(responses):
        a, b = score(definition, responses), score(definition, dict(reversed(list(responses.items()))))
        assert a == b
        assert a.definition_hash == definition.hash and a.definition_hash.startswith("sha256:")

    check()
