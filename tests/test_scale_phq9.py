"""PHQ-9: what is specific to this definition (its interchange codes). The hand-computed scoring
cases (Kroenke 2001 bands, item 10, NHS prorating, the safety trigger) are data, in
scales/definitions/phq9.cases.json, run by tests/test_scale_cases.py."""

import pytest

from scales import get_scale


@pytest.fixture(scope="module")
def phq9():
    return get_scale("phq9")


def test_codes_for_interchange(phq9):
    raw = phq9.raw
    assert raw["cdisc"] == {
        "domain": "QS",
        "category": "PHQ-9",
        "sponsor_defined": False,
        "test_code_codelist": "C103481",
    }
    assert [i.raw["cdisc_testcd"] for i in phq9.items] == [f"PHQ01{n:02d}" for n in range(1, 11)]
    assert raw["scoring"]["total"]["cdisc_testcd"] == "PHQ0111"
    assert raw["loinc"]["panel"] == "44249-1"
    assert raw["scoring"]["total"]["loinc"] == "44261-6"
    assert [i.raw["loinc"] for i in phq9.items] == [
        "44250-9",
        "44255-8",
        "44259-0",
        "44254-1",
        "44251-7",
        "44258-2",
        "44252-5",
        "44253-3",
        "44260-8",
        "69722-7",
    ]
