"""Every string a participant sees in self-report mode, in one place, ready for translation.

    from selfreport.strings import text
    text("question_count", number=3, total=16)   # "Question 3 of 16"

`STRINGS` maps a language code to a table of message id → text. English ("en") is the source:
a translation copies the table, translates the values, and keeps every message id and every
{placeholder} (tests/test_selfreport_strings.py checks both). A message missing from a
translation falls back to English, never to an id. The language comes from the environment
variable SCALEBOOK_PARTICIPANT_LANGUAGE (default "en").

Style for these texts (older participants, some unwell, on a small phone): short sentences,
plain words, say what to do next, never judge an answer, never hint at a "right" one.

What is NOT here: the questions and answers themselves (they belong to the scale definitions in
scales/definitions/, whose wording is licensed) and the supportive text after a safety answer
(it belongs to the study protocol, with the site's phone number filled in; see selfreport.support).
"""

from __future__ import annotations

import os
import string

LANGUAGE_ENV = "SCALEBOOK_PARTICIPANT_LANGUAGE"
DEFAULT_LANGUAGE = "en"

STRINGS: dict[str, dict[str, str]] = {
    "en": {
        # page and progress
        "page_title": "Questionnaire",
        "welcome": "Thank you for taking part. Your answers are saved as you go.",
        "questionnaire_count": "Questionnaire {number} of {total}",
        "question_count": "Question {number} of {total}",
        "progress_label": "Progress: question {number} of {total}",
        "start": "Start",
        "back": "Back",
        "next": "Next",
        "return_to_review": "Back to the check page",
        "choose_one": "Choose the one answer that fits you best.",
        "resume_note": "If you need to stop, your answers are saved. To carry on later, come back to this page on this "
        "phone or computer (for example from your browser's history).",
        # review and submit
        "review_title": "Check your answers",
        "review_intro": "Here are your answers. To change one, tap “Change”. When you are ready, tap “Send my answers”.",
        "review_question": "Question {number}",
        "not_answered": "Not answered yet",
        "change": "Change answer {number}",
        "answer_now": "Answer question {number}",
        "submit": "Send my answers",
        "submit_needs_all": "Please answer every question before you send your answers.",
        "next_questionnaire": "Go to the next questionnaire",
        "continue": "Continue",
        # problems while answering
        "save_failed": "Your answer could not be saved just now. Please check your connection and choose your answer again.",
        "submit_failed": "Your answers are saved, but they could not be sent just now. Please check your connection and "
        "tap “Send my answers” again.",
        "busy": "Sorry, something went wrong on our side. Please wait a moment and try again.",
        # the same page open twice (e.g. two tabs): a tap or a send from the older copy is not saved
        "answer_changed_elsewhere": "Your answer was not saved, because your answers were changed in another window. "
        "The answers saved now are shown. Please check this question again.",
        "submit_changed_elsewhere": "Your answers were not sent, because they were changed in another window. Please "
        "check the answers below, then tap “Send my answers” again.",
        "answers_changed_elsewhere": "Your answers were changed in another window. The answers saved now are shown.",
        # after a safety answer (the study's own text follows this title)
        "support_title": "Help is available",
        "support_fallback": "Thank you for telling us how you feel. Please tell a member of the study team as soon as "
        "you can. If you are in danger now, call your local emergency number.",
        # the end
        "thanks_title": "Thank you",
        "thanks_kiosk": "Your answers have been saved. Please hand the tablet back to the study team.",
        "thanks_link": "Your answers have been sent to the study team. You can close this page now.",
        # a link that opens nothing (one short sentence each, and nothing else on the page)
        "link_invalid": "This link does not work. Please check that you copied all of it, or ask the study team for a new one.",
        "link_revoked": "This link is no longer active. Please ask the study team for a new one.",
        "link_expired": "This link has expired. Please ask the study team for a new one.",
        "link_used": "These questionnaires have already been sent. Thank you.",
        "link_closed": "To carry on with your questionnaire, please reload this page, or open your link again.",
        "link_held": "This link is already in use on another phone or computer. If that was you, please carry on there. "
        "If not, please ask the study team for a new link.",
        # kiosk: leaving participant mode (for the study team, shown on the participant's screen)
        "staff_exit": "Study team only",
        "staff_exit_intro": "Study team: enter your user name and password to leave participant mode.",
        "staff_username": "Staff user name",
        "staff_password": "Staff password",
        "staff_unlock": "Leave participant mode",
        "staff_cancel": "Cancel",
        # one message for a wrong password, an unknown name and a locked account (no name is revealed)
        "staff_wrong": "The user name or password is not correct, or the account is locked after repeated failed "
        "attempts. Try again, or ask another member of the study team.",
        "staff_wait": "Too many attempts just now. Wait {seconds} seconds, then try again.",
        "staff_missing": "Enter the user name and password.",
    },
}

LANGUAGES = tuple(STRINGS)


def language() -> str:
    """The participant language chosen for this server (SCALEBOOK_PARTICIPANT_LANGUAGE), or English."""
    chosen = os.environ.get(LANGUAGE_ENV, "").strip()
    return chosen if chosen in STRINGS else DEFAULT_LANGUAGE


def placeholders(message: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(message) if name}


def text(key: str, lang: str | None = None, **values: object) -> str:
    """The message `key` in `lang` (default: language()), with its {placeholders} filled in.
    KeyError for an unknown id: a typo must fail in the tests, not show an id to a participant."""
    table = STRINGS.get(lang or language(), STRINGS[DEFAULT_LANGUAGE])
    message = table.get(key)
    if message is None:
        message = STRINGS[DEFAULT_LANGUAGE][key]
    return message.format(**values) if values else message
