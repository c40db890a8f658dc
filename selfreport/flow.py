"""Which screen a participant sees: one question per screen, back and next, a check page, then
the next questionnaire or the end. Pure functions of the scale definition and the stored
answers, so a participant who reopens their link lands exactly where they stopped, and the
order of screens is tested without Streamlit.

Screens (`Step.kind`):
    intro    the questionnaire's title and instructions, and a Start button
    item     one question (`item_id`); `from_review` when opened from the check page
    review   every answer with a Change button, and Send
    support  the study's supportive text after a safety answer (then `after`)
    thanks   the end

The questions shown follow the definition's visibility rules (e.g. PHQ-9 question 10 appears
only when an earlier answer is above 0), re-evaluated from the stored answers at every step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from scales import ScaleDefinition, form_progress, visible_items

KINDS = ("intro", "item", "review", "support", "thanks")


@dataclass(frozen=True)
class Step:
    kind: str
    assessment_id: int | None = None
    item_id: str | None = None
    from_review: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: Any) -> Step | None:
        if not isinstance(raw, Mapping) or raw.get("kind") not in KINDS:
            return None
        return cls(raw["kind"], raw.get("assessment_id"), raw.get("item_id"), bool(raw.get("from_review")))


THANKS = Step("thanks")


def questions(definition: ScaleDefinition, responses: Mapping[str, int]) -> list[str]:
    """The questions to ask, in order, given the answers so far (visibility rules applied)."""
    return [
        i
        for i in visible_items(definition, responses)
        if definition.item_by_id[i].scored or definition.item_by_id[i].required
    ]


def position(definition: ScaleDefinition, responses: Mapping[str, int], item_id: str) -> tuple[int, int]:
    """(number, total) of a question among those asked now, for "Question 3 of 16"."""
    asked = questions(definition, responses)
    return (asked.index(item_id) + 1 if item_id in asked else len(asked)), len(asked)


def ready_to_submit(definition: ScaleDefinition, responses: Mapping[str, int]) -> bool:
    """Every question asked has an answer."""
    answered, expected = form_progress(definition, responses)
    return expected > 0 and answered >= expected


def open_step(definition: ScaleDefinition, assessment_id: int, responses: Mapping[str, int]) -> Step:
    """Where a questionnaire continues: its start screen when nothing is answered yet, else the
    first unanswered question, else the check page."""
    if not responses:
        return Step("intro", assessment_id)
    for item_id in questions(definition, responses):
        if item_id not in responses:
            return Step("item", assessment_id, item_id)
    return Step("review", assessment_id)


def resume_step(questionnaires: Sequence[Mapping[str, Any]], definitions: Mapping[str, ScaleDefinition]) -> Step:
    """The screen to show a participant who opens (or reopens) their link: the first
    questionnaire not yet sent, where it stopped; the end when all are sent."""
    for q in questionnaires:
        if q["status"] == "draft":
            return open_step(definitions[q["scale_id"]], q["id"], q["responses"])
    return THANKS


def first_question(definition: ScaleDefinition, assessment_id: int, responses: Mapping[str, int]) -> Step:
    asked = questions(definition, responses)
    return Step("item", assessment_id, asked[0]) if asked else Step("review", assessment_id)


def next_step(definition: ScaleDefinition, step: Step, responses: Mapping[str, int]) -> Step:
    """After Next on a question: the following question asked now, or the check page (always the
    check page when the question was opened from it)."""
    if step.from_review:
        return Step("review", step.assessment_id)
    asked = questions(definition, responses)
    if step.item_id in asked:
        later = asked[asked.index(step.item_id) + 1 :]
        if later:
            return Step("item", step.assessment_id, later[0])
    return Step("review", step.assessment_id)


def previous_step(definition: ScaleDefinition, step: Step, responses: Mapping[str, int]) -> Step:
    """After Back: the question before (the start screen before the first; the last question
    from the check page)."""
    asked = questions(definition, responses)
    if step.kind == "review":
        return Step("item", step.assessment_id, asked[-1]) if asked else Step("intro", step.assessment_id)
    if step.from_review:
        return Step("review", step.assessment_id)
    if step.item_id in asked and asked.index(step.item_id) > 0:
        return Step("item", step.assessment_id, asked[asked.index(step.item_id) - 1])
    return Step("intro", step.assessment_id)


def after_submit(
    questionnaires: Sequence[Mapping[str, Any]], submitted_id: int, definitions: Mapping[str, ScaleDefinition]
) -> Step:
    """After sending one questionnaire: the next one not yet sent, or the end."""
    rest = [q for q in questionnaires if q["id"] != submitted_id and q["status"] == "draft"]
    if not rest:
        return THANKS
    q = rest[0]
    return open_step(definitions[q["scale_id"]], q["id"], q["responses"])


def answer_label(definition: ScaleDefinition, item_id: str, value: int | None) -> str | None:
    """The words of the chosen answer (None when unanswered)."""
    if value is None:
        return None
    item = definition.item_by_id[item_id]
    return next((o["label"] for o in item.options if o["value"] == value), str(value))


@dataclass(frozen=True)
class ReviewRow:
    number: int
    item_id: str
    prompt: str
    answer: str | None


def review_rows(definition: ScaleDefinition, responses: Mapping[str, int]) -> list[ReviewRow]:
    """One row per question asked, numbered as the participant saw them."""
    return [
        ReviewRow(
            n, item_id, definition.item_by_id[item_id].prompt, answer_label(definition, item_id, responses.get(item_id))
        )
        for n, item_id in enumerate(questions(definition, responses), start=1)
    ]


def safety_triggered(flags: Sequence[Mapping[str, Any]]) -> bool:
    """Whether a stored score's flags include a safety trigger (the alert for the PI is recorded
    with the score; the participant then sees the supportive text)."""
    return any(flag.get("kind") == "safety" for flag in flags)
