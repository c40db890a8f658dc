"""Eligibility: questions generated from the protocol, every branch of the decision, and the
automatic baseline severity check (MADRS ≥ 20 in the default protocol)."""

from datetime import date

import pytest

from protocol import EligibilityError, decide, load_protocol, screening_questions
from protocol.loader import DEFAULT_PROTOCOL

EXCLUSIONS = [
    "psychosis_history",
    "substance_use_disorder",
    "cardiovascular_risk",
    "intracranial_hypertension_or_seizures",
    "pregnancy_or_breastfeeding",
]


@pytest.fixture(scope="module")
def default_protocol():
    return load_protocol(DEFAULT_PROTOCOL)


def eligible_answers(**changes):
    answers = {"depressive_episode": True, "failed_treatments": 2, "age_18_to_65": 40}
    answers.update({exclusion: False for exclusion in EXCLUSIONS})
    answers.update(changes)
    return answers


def test_questions_come_from_the_protocol(default_protocol):
    questions = screening_questions(default_protocol)
    assert [(q.id, q.kind, q.answer) for q in questions] == [
        ("depressive_episode", "inclusion", "yes_no"),
        ("failed_treatments", "inclusion", "integer"),
        ("age_18_to_65", "inclusion", "integer"),
        *[(e, "exclusion", "yes_no") for e in EXCLUSIONS],
        ("baseline_severity", "inclusion", "automatic"),
    ]
    age = questions[2]
    assert (age.min, age.max, age.unit) == (18, 65, "years")
    assert "never a date of birth" in age.text
    severity = questions[-1]
    assert severity.automatic and (severity.scale, severity.min) == ("madrs", 20)
    assert not any(q.automatic for q in questions[:-1])


def test_eligible_when_everything_is_met(default_protocol):
    decision = decide(default_protocol, eligible_answers(), baseline_total=20)
    assert (decision.eligible, decision.reasons, decision.pending) == (True, [], [])


def test_baseline_severity_just_below_the_threshold(default_protocol):
    decision = decide(default_protocol, eligible_answers(), baseline_total=19)
    assert decision.eligible is False
    assert decision.reasons == ["inclusion not met: baseline MADRS total 19 is below the protocol's threshold of 20"]


def test_missing_baseline_is_pending(default_protocol):
    decision = decide(default_protocol, eligible_answers(), baseline_total=None)
    assert (decision.eligible, decision.reasons, decision.pending) == (None, [], ["baseline_severity"])


def test_missing_answers_are_pending_never_eligible(default_protocol):
    answers = eligible_answers()
    del answers["failed_treatments"]
    answers["pregnancy_or_breastfeeding"] = None
    decision = decide(default_protocol, answers, baseline_total=30)
    assert decision.eligible is None
    assert decision.pending == ["failed_treatments", "pregnancy_or_breastfeeding"]


def test_a_failure_decides_even_with_answers_pending(default_protocol):
    decision = decide(default_protocol, {"psychosis_history": True}, baseline_total=None)
    assert decision.eligible is False
    assert decision.reasons == ["exclusion applies: Lifetime history of a psychotic disorder or of psychotic features."]
    assert "baseline_severity" in decision.pending and "depressive_episode" in decision.pending


@pytest.mark.parametrize("age, ok", [(17, False), (18, True), (65, True), (66, False), (True, True), (False, False)])
def test_age_as_number_or_yes_no(default_protocol, age, ok):
    decision = decide(default_protocol, eligible_answers(age_18_to_65=age), baseline_total=25)
    assert decision.eligible is ok
    if not ok and not isinstance(age, bool):
        assert decision.reasons == [f"inclusion not met: age_18_to_65 answered {age}, required 18–65 years"]


@pytest.mark.parametrize("count, ok", [(0, False), (1, False), (2, True), (7, True), (True, True), (False, False)])
def test_failed_treatments_at_least_two(default_protocol, count, ok):
    decision = decide(default_protocol, eligible_answers(failed_treatments=count), baseline_total=25)
    assert decision.eligible is ok


def test_failed_treatments_message_names_the_minimum(default_protocol):
    decision = decide(default_protocol, eligible_answers(failed_treatments=1), baseline_total=25)
    assert decision.reasons == ["inclusion not met: failed_treatments answered 1, required at least 2 trials"]


def test_no_depressive_episode(default_protocol):
    decision = decide(default_protocol, eligible_answers(depressive_episode=False), baseline_total=25)
    assert decision.eligible is False
    assert decision.reasons[0].startswith("inclusion not met: Current major depressive episode")


@pytest.mark.parametrize("exclusion", EXCLUSIONS)
def test_each_exclusion_excludes(default_protocol, exclusion):
    decision = decide(default_protocol, eligible_answers(**{exclusion: True}), baseline_total=25)
    text = default_protocol.eligibility.criterion(exclusion).text
    assert (decision.eligible, decision.reasons) == (False, [f"exclusion applies: {text}"])


def test_every_failing_criterion_is_named(default_protocol):
    answers = eligible_answers(age_18_to_65=70, substance_use_disorder=True, pregnancy_or_breastfeeding=True)
    decision = decide(default_protocol, answers, baseline_total=12)
    assert decision.eligible is False
    assert decision.reasons == [
        "inclusion not met: age_18_to_65 answered 70, required 18–65 years",
        "exclusion applies: Substance use disorder (other than nicotine or caffeine) within the last 3 months.",
        "exclusion applies: Pregnant or breastfeeding.",
        "inclusion not met: baseline MADRS total 12 is below the protocol's threshold of 20",
    ]


@pytest.mark.parametrize(
    "answers, message",
    [
        ({"age": 40}, "answers for unknown criteria age; this protocol asks:"),
        ({"age_18_to_65": date(1990, 1, 1)}, "'age_18_to_65' must be answered a whole number of years, or true/false"),
        ({"age_18_to_65": "40"}, "'age_18_to_65' must be answered a whole number of years"),
        ({"age_18_to_65": 40.5}, "'age_18_to_65' must be answered a whole number of years"),
        ({"age_18_to_65": 200}, "'age_18_to_65': 200 is not a plausible number of years"),
        ({"psychosis_history": 1}, "'psychosis_history' must be answered true or false, not 1"),
        ({"psychosis_history": "no"}, "'psychosis_history' must be answered true or false"),
    ],
)
def test_bad_answers_are_refused(default_protocol, answers, message):
    with pytest.raises(EligibilityError) as caught:
        decide(default_protocol, answers, baseline_total=None)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    "total, message",
    [
        (61, "baseline MADRS total 61 is outside the scale's range 0–60"),
        (-1, "baseline MADRS total -1 is outside the scale's range 0–60"),
        (20.0, "baseline MADRS total must be a whole number, not 20.0"),
        (True, "baseline MADRS total must be a whole number, not True"),
    ],
)
def test_impossible_baseline_totals_are_refused(default_protocol, total, message):
    with pytest.raises(EligibilityError) as caught:
        decide(default_protocol, eligible_answers(), baseline_total=total)
    assert message in str(caught.value)
