"""Eligibility screening generated from the protocol's criteria: the pure decision.

Storage, audit and the screening page live elsewhere; this module says which questions to ask
and what the answers decide. Participants are pseudonymous, so age is answered as a whole number
of years or as a yes/no "aged 18–65 at screening", never as a date of birth.

Decision rules
- An inclusion criterion is met by `True`, or by a whole number inside its range.
- An exclusion criterion applies when answered `True` (and then the participant is not eligible).
- The severity criterion is checked automatically: baseline total ≥ the protocol's min_total.
- A missing answer (absent or None) or a missing baseline rating is *pending*, never a pass.
- `eligible` is False as soon as any criterion fails (every failure is named in `reasons`, and
  pending ones are still listed), None while nothing fails but something is pending, else True.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from protocol.errors import EligibilityError
from protocol.model import EligibilityCriterion, Protocol, SeverityCriterion
from scales import registry

Answer = bool | int | None


@dataclass(frozen=True)
class ScreeningQuestion:
    """One screening question as a form shows it. `automatic` questions are not asked: they are
    answered from a rating (the baseline severity)."""

    id: str
    kind: str
    text: str
    answer: str  # "yes_no", "integer" or "automatic"
    min: int | None = None
    max: int | None = None
    unit: str | None = None
    scale: str | None = None

    @property
    def automatic(self) -> bool:
        return self.answer == "automatic"


@dataclass(frozen=True)
class EligibilityDecision:
    eligible: bool | None
    reasons: list[str]
    pending: list[str]


def screening_questions(protocol: Protocol) -> list[ScreeningQuestion]:
    """The protocol's questions in file order: inclusions, then exclusions, then the automatic
    severity check (inclusion) last, since it needs the baseline rating."""
    criteria = protocol.eligibility.criteria
    ordered = [c for c in criteria if c.kind == "inclusion"] + [c for c in criteria if c.kind == "exclusion"]
    questions = [ScreeningQuestion(c.id, c.kind, c.text, c.answer, c.min, c.max, c.unit) for c in ordered]
    severity = protocol.eligibility.severity
    questions.append(
        ScreeningQuestion(
            severity.id, "inclusion", severity.text, "automatic", min=severity.min_total, scale=severity.scale
        )
    )
    return questions


def _check_answer(criterion: EligibilityCriterion, answer: Answer) -> None:
    if answer is None or isinstance(answer, bool):
        return
    if criterion.answer == "integer" and isinstance(answer, int):
        if not 0 <= answer <= 150:
            raise EligibilityError(f"'{criterion.id}': {answer} is not a plausible number of {criterion.unit}")
        return
    expected = "true or false" if criterion.answer == "yes_no" else f"a whole number of {criterion.unit}, or true/false"
    raise EligibilityError(f"'{criterion.id}' must be answered {expected}, not {answer!r}")


def _failure(criterion: EligibilityCriterion, answer: bool | int) -> str | None:
    """Why this answer makes the participant ineligible, or None when it does not."""
    if criterion.kind == "exclusion":
        return f"exclusion applies: {criterion.text}" if answer else None
    if isinstance(answer, bool):
        return None if answer else f"inclusion not met: {criterion.text}"
    too_low = criterion.min is not None and answer < criterion.min
    too_high = criterion.max is not None and answer > criterion.max
    if too_low or too_high:
        return f"inclusion not met: {criterion.id} answered {answer}, required {criterion.range_text()}"
    return None


def _severity_failure(severity: SeverityCriterion, baseline_total: int) -> str | None:
    definition = registry()[severity.scale]
    if isinstance(baseline_total, bool) or not isinstance(baseline_total, int):
        raise EligibilityError(
            f"baseline {definition.abbreviation} total must be a whole number, not {baseline_total!r}"
        )
    if not definition.total_min <= baseline_total <= definition.total_max:
        raise EligibilityError(
            f"baseline {definition.abbreviation} total {baseline_total} is outside the scale's range "
            f"{definition.total_min}–{definition.total_max}"
        )
    if baseline_total < severity.min_total:
        return (
            f"inclusion not met: baseline {definition.abbreviation} total {baseline_total} is below "
            f"the protocol's threshold of {severity.min_total}"
        )
    return None


def decide(protocol: Protocol, answers: Mapping[str, Answer], baseline_total: int | None) -> EligibilityDecision:
    """Decide eligibility from the screening answers and the baseline total (rules in the module docstring).

    Raises EligibilityError for an answer to a criterion the protocol does not have (likely a
    typo that would otherwise leave a criterion silently pending) or an answer of the wrong kind.
    """
    eligibility = protocol.eligibility
    known = {c.id for c in eligibility.criteria}
    unknown = sorted(set(answers) - known)
    if unknown:
        raise EligibilityError(
            f"answers for unknown criteria {', '.join(unknown)}; this protocol asks: {', '.join(sorted(known))}"
        )
    reasons: list[str] = []
    pending: list[str] = []
    for question in screening_questions(protocol):
        if question.automatic:
            continue
        criterion = eligibility.criterion(question.id)
        answer = answers.get(criterion.id)
        _check_answer(criterion, answer)
        if answer is None:
            pending.append(criterion.id)
            continue
        failure = _failure(criterion, answer)
        if failure:
            reasons.append(failure)
    if baseline_total is None:
        pending.append(eligibility.severity.id)
    else:
        failure = _severity_failure(eligibility.severity, baseline_total)
        if failure:
            reasons.append(failure)
    eligible = False if reasons else (None if pending else True)
    return EligibilityDecision(eligible=eligible, reasons=reasons, pending=pending)
