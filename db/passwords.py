"""The password rules: what a new password must be, and what a typed password may be at all.

One module, called by every path that sets a password (the first-run screen, the admin page and
`python -m db adduser`, all through `db.users.check_password`) and by every path that checks one
(sign-in, the kiosk exit and the signature, through `db.users.authenticate`).

Every password, new or typed:
- is text without NUL (a NUL ends the string in C code and in many other tools, so a password
  with one could be cut short somewhere else) and without lone surrogates (bytes that are not
  UTF-8, as a terminal or a pipe in another encoding gives them);
- is at most `MAX_PASSWORD_LENGTH` characters, checked before anything hashes it, so a
  megabyte-long "password" costs nothing.

A new password also (NIST SP 800-63B §3.1.1.2, which asks for a minimum length, a check against
lists of commonly used passwords and against repetitive or sequential characters, and no
composition rules):
- has at least `MIN_PASSWORD_LENGTH` characters, not all spaces, and is not the user name;
- is not one character or one short pattern repeated ("aaaaaaaaaa", "abcabcabcabc",
  "passwordpassword") and not one run of consecutive characters ("0123456789", "abcdefghij");
- is not on the common-password list (db/common_passwords.txt: Django's list of 19,640 common
  passwords, whose header names its source and licence), also when spaces are left out or
  digits and symbols are added before or after a listed word ("Liverpool1990!").
Messages say what is wrong and what to do instead; they start in lower case, as every
ValidationError message of db/ does (the caller puts them in a sentence or shows them alone).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

from db.errors import ValidationError

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 128
#: Digits, punctuation and spaces that people put around a common word to satisfy a rule.
_DECORATION = re.compile(r"^[\W\d_]*(?P<core>.*?)[\W\d_]*$", re.DOTALL)
_LIST_FILE = Path(__file__).with_name("common_passwords.txt")
_ADVICE = "choose a longer phrase of several unrelated words"


def typed_password_problem(password: Any) -> str | None:
    """Why `password` cannot be a password at all (not text, a NUL, bytes that are not UTF-8, too
    long), or None. Cheap: call it before hashing or verifying anything."""
    if not isinstance(password, str):
        return "the password must be text"
    if len(password) > MAX_PASSWORD_LENGTH:
        return (
            f"the password is {len(password)} characters long; passwords have at most {MAX_PASSWORD_LENGTH} characters"
        )
    if "\x00" in password:
        return "the password contains a NUL character, which is not allowed; type it again without it"
    if any("\ud800" <= ch <= "\udfff" for ch in password):
        return "the password contains bytes that are not UTF-8 text; type it again in a UTF-8 terminal or file"
    return None


def check_new_password(password: Any, username: str | None = None) -> str:
    """Return `password` when it may be set for `username`; raise ValidationError saying why not."""
    problem = typed_password_problem(password)
    if problem:
        raise ValidationError(problem)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(f"the password must be at least {MIN_PASSWORD_LENGTH} characters long")
    if not password.strip():
        raise ValidationError("the password cannot be only spaces")
    if username and password.strip().lower() == username.strip().lower():
        raise ValidationError("the password cannot be the username")
    if is_repetitive(password):
        raise ValidationError(
            f"the password repeats one character or a short pattern, or is a run such as '0123456789'; {_ADVICE}"
        )
    if is_common(password):
        raise ValidationError(f"the password is on a list of commonly used passwords; {_ADVICE}")
    return password


def is_repetitive(password: str) -> bool:
    """One character or one pattern repeated ("1111111111", "abababab", "qwerqwerqwer",
    "passwordpassword"), or one run of consecutive characters up or down ("0123456789",
    "zyxwvutsrq"). Case and surrounding spaces do not matter."""
    text = password.strip().lower()
    if len(set(text)) <= 2:
        return True
    # A string is a repetition of a shorter unit exactly when it occurs in itself doubled, past
    # the first position (the unit's length is the offset found).
    if (text + text).find(text, 1) < len(text):
        return True
    steps = {ord(b) - ord(a) for a, b in zip(text, text[1:], strict=False)}
    return steps in ({1}, {-1})


@cache
def common_passwords() -> frozenset[str]:
    """The common-password list (lowercased), read once per process."""
    body = _LIST_FILE.read_text(encoding="utf-8").split("\n\n", 1)[1]
    return frozenset(line for line in body.splitlines() if line)


def is_common(password: str) -> bool:
    """On the list as typed (ignoring case and surrounding spaces), without its spaces, or as a
    listed word of 4 or more characters with only digits, symbols or spaces around it."""
    listed = common_passwords()
    text = password.strip().lower()
    if text in listed or re.sub(r"\s+", "", text) in listed:
        return True
    decorated = _DECORATION.match(text)  # the pattern matches any text; None only to the type checker
    core = decorated.group("core") if decorated else text
    return len(core) >= 4 and core in listed
