"""Text that came from a person, the database or the address bar, shown as text: never as Markdown.

Streamlit renders Markdown (GitHub-flavoured, plus its own `:color[...]`, `:material/icon:` and
`$maths$` directives) in far more places than `st.markdown`: `st.caption`, `st.error`,
`st.warning`, `st.info`, `st.success`, `st.toast`, titles and headers, `st.table` cells, and the
label and `help` tooltip of every widget, button, tab and expander. A participant code, an arm, an
adverse-event term, a reason, a user name, an exception message that repeats what was typed, or a
`?assessment=` value pasted into a link would otherwise be read as Markdown: `![x](http://host/x.png)`
loads a remote image in the reader's browser (telling that host who is looking, and when), and
`[text](http://host)` or a bare `www.host` shows an attacker's link inside a trusted page.

`md(value)` is the one escape every page and widget uses for such text (issue 13 item 8). It
puts a backslash (CommonMark: an escaped punctuation character is always shown as itself) before:

- every character that can open or close inline Markdown anywhere in a line: `\\`, `` ` ``, `*`,
  `~`, `[`, `]`, `<`, `>`, `&`, `|`, `$`, and `_` where it is not inside a word (between letters
  or digits it never starts emphasis);
- a character that would start a block at the beginning of the text (`#`, `-`, `+`, `=`, and the
  `.` or `)` of a leading number), and leading blanks are dropped (four would start code).

GitHub's *autolink literals* (`http://…`, `www.…`, `name@host`), Streamlit's `:material/icon:`
and emoji shortcodes (`:smile:`) are found in the text after escapes are resolved, so a backslash
cannot stop them: an invisible WORD JOINER (U+2060) goes after a `:` that is followed by `//`, a
letter, `_`, `+`, `-` or a shortcode such as `:100:` (not a time such as 10:30), after `www` and
after `@`, which breaks each pattern and shows nothing (the `:` also no longer starts a Streamlit
directive such as `:red[...]`). Line breaks become spaces (a new line could start a block);
`multiline=True` keeps them as hard line breaks, each line treated as the start of a block.
Everything else (letters, digits, `.`, `,`, `'`, `(`, `)`, `-` inside the text, spaces) is left as
it is, so the Markdown source still reads naturally (and tests can look for it).

Also Markdown, so escape stored text there too: the options and captions of `st.radio`, the
options of `st.segmented_control` and `st.pills`, and the value of `st.metric`. NOT Markdown, and
must not be escaped (the backslashes would show): the options of `st.selectbox` and
`st.multiselect` (their `format_func` text), `st.dataframe` cells, text-input values and
placeholders, `st.text`, `st.code`, `st.json`, download file names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

#: U+2060 WORD JOINER: zero width, not a word character, never a line-break opportunity.
JOINER = "\u2060"
_AUTOLINK = re.compile(r"(?i)(?<=:)(?=//|[a-z_+\-]|\d[\w+\-]*:)|(?<=www)(?=\.)|(?<=@)")
_NEWLINES = re.compile(r"\r\n|[\r\n\u0085\u2028\u2029\v\f]")
_INLINE = re.compile(
    r"[\\`*~\[\]<>&|$]"  # emphasis, code, strike-through, links and images, HTML, entities, tables, maths
    r"|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])"  # an underscore that is not inside a word
)
_BLOCK_START = re.compile(r"^([#=+-])|^(\d+)([.)])")  # heading, setext line, list item, ordered list


def _line(text: str) -> str:
    text = _INLINE.sub(lambda m: "\\" + m.group(0), text.lstrip(" \t"))
    return _BLOCK_START.sub(lambda m: "\\" + m.group(1) if m.group(1) else m.group(2) + "\\" + m.group(3), text)


def md(value: Any, *, multiline: bool = False) -> str:
    """`value` (any object; None gives "") as Markdown that shows exactly its text.

    Use it for every piece of text that did not come from this program's own source: database
    fields, query parameters, user input and exception messages that may repeat it. Compose the
    rest of the message around it as usual (`st.error(f"No assessment {md(raw)} here.")`); a
    whole sentence with no intended formatting can be passed through it as one piece.
    """
    if value is None:
        return ""
    text = _AUTOLINK.sub(JOINER, str(value))
    if multiline:
        return "  \n".join(_line(line) for line in _NEWLINES.split(text))
    return _line(" ".join(_NEWLINES.split(text)))


def md_join(values: Iterable[Any], separator: str = ", ") -> str:
    """Several such values, each escaped, joined by `separator` (which is program text)."""
    return separator.join(md(v) for v in values)
