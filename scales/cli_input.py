"""What every command line (`python -m db | scales | protocol | exports`) does with input none
of its own checks look at: arguments that are not UTF-8, and an error no check foresaw.

- `argument_problems(argv)`: one message per argument that is not UTF-8 text. Python hands such
  bytes over as lone surrogates ('\\udcff'), which pass argparse and then fail deep inside (as a
  UnicodeEncodeError from SQLite, a file write or print). Refused up front, by position, so the
  message is the same for a site code, a user name or a file name.
- `unexpected_error_line(exc)`: the one stderr line printed, instead of a traceback, for an
  exception that reached a command's main(). Known bad input has its own message; this is the
  net under it. With $SCALEBOOK_DEBUG set, the traceback is printed too, for a bug report.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Sequence

DEBUG_ENV = "SCALEBOOK_DEBUG"


def argument_problems(argv: Sequence[str]) -> list[str]:
    """One message per argument that is not UTF-8 text (empty when all are)."""
    problems = []
    for position, argument in enumerate(argv, start=1):
        try:
            argument.encode("utf-8")
        except UnicodeEncodeError as exc:
            shown = argument.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            bad = ord(argument[exc.start]) - 0xDC00
            problems.append(
                f"argument {position} '{shown[:60]}' is not UTF-8 text (byte 0x{bad:02x}); type it "
                f"again in a UTF-8 terminal, or rename the file"
            )
    return problems


def unexpected_error_line(exc: BaseException) -> str:
    """The line for an error no check foresaw: its type and text, never a traceback."""
    if os.environ.get(DEBUG_ENV, "").strip() not in ("", "0"):
        traceback.print_exception(exc)
    text = " ".join(str(exc).split())[:300]
    return (
        f"error: unexpected {type(exc).__name__}{': ' + text if text else ''} (this input was not recognised "
        f"as a known problem; nothing more was done; set {DEBUG_ENV}=1 for details to report)"
    )
