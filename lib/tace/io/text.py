"""User and bundle text as data: the one rule for every string tace did not write itself.

Text that reaches a run's outputs comes from people tace cannot vouch for: the ``--note``,
the manifest's ``site``, ``scanner`` and extra columns, a profile's description and
deviations, and every field of a shared bundle's ``manifest.json``. In every format it is
shown as the characters it holds, never interpreted:

- control characters (C0 but tab and newline, DEL, C1) and the invisible formatting and
  bidirectional characters (U+061C, U+200B-U+200F, U+202A-U+202E, U+2060-U+2069, U+FEFF) are
  **shown visibly** as ``[U+XXXX]``: a reviewer sees that something was there, and a right-to-
  left override cannot reorder what the reader sees (Boucher & Anderson 2021, "Trojan Source");
- text longer than its cap is cut, with a visible ``(truncated)``;
- in Markdown it is escaped (:func:`markdown_inline`): no link, image, emphasis, HTML or
  heading can come out of it; shown as a block, it is fenced by more backticks than it holds
  (:func:`code_block`), so that no content can close the fence.

References
----------
Boucher N, Anderson R. Trojan Source: invisible vulnerabilities. arXiv:2111.00169, 2021.
CommonMark Spec 0.31, sections 2.4 (backslash escapes), 4.5 (fenced code blocks), 6.1
(code spans).
"""

from __future__ import annotations

import html
import re

__all__ = ["TEXT_CAP", "TRUNCATED", "code_block", "markdown_inline", "show_hidden", "visible"]

#: Characters of one user text that reach an output (a note, a site, a profile's description).
TEXT_CAP = 2000
#: What marks text cut at its cap.
TRUNCATED = " (truncated)"

_HIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
# what must never reach a reader unseen, in any text of the article: controls and direction overrides
_REORDERING = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
#: Characters without a space after which a long run of user text (a path) may break a line.
BREAK_EVERY = 24
_LONG_RUN = re.compile(rf"\S{{{2 * BREAK_EVERY},}}")
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+!|<>~=-])")
_BACKTICKS = re.compile(r"`+")


def visible(text: object, cap: int | None = TEXT_CAP, *, one_line: bool = False) -> str:
    """``text`` as a string whose every character shows: hidden characters as ``[U+XXXX]``,
    cut at ``cap`` characters (None: no cap) with :data:`TRUNCATED`; ``one_line``: runs of
    white space (newlines too) as one space.

    >>> visible("scanner\\u202eA\\x07")
    'scanner[U+202E]A[U+0007]'
    >>> visible("x" * 12, cap=5)
    'xxxxx (truncated)'
    >>> visible(" two\\n  lines ", one_line=True)
    'two lines'
    """
    text = "" if text is None else str(text)
    if cap is not None and len(text) > cap:
        text = text[:cap] + TRUNCATED
    text = _HIDDEN.sub(lambda m: f"[U+{ord(m.group()):04X}]", text)
    return " ".join(text.split()) if one_line else text


def show_hidden(text: str) -> str:
    """``text`` with its control and direction-override characters shown as ``[U+XXXX]`` and
    nothing else changed: the last pass over the article's HTML, whatever made it.

    >>> show_hidden("<td>A\u202eB</td>")
    '<td>A[U+202E]B</td>'
    """
    return _REORDERING.sub(lambda m: f"[U+{ord(m.group()):04X}]", text)


def _breakable(text: str) -> str:
    """Long runs without a space (a path, a hash) given a line-break opportunity (U+200B, zero
    width) every :data:`BREAK_EVERY` characters, so that a page can wrap them."""
    return _LONG_RUN.sub(lambda m: "\u200b".join(m.group()[i:i + BREAK_EVERY]
                                                  for i in range(0, len(m.group()), BREAK_EVERY)), text)


def markdown_inline(text: object, cap: int | None = TEXT_CAP) -> str:
    """``text`` as inert inline Markdown (one line): :func:`visible`, long runs made
    breakable, HTML-escaped, and every character Markdown or a pipe table gives meaning to
    backslash-escaped, so that it renders as exactly its characters.

    >>> markdown_inline("![x](/etc/passwd) <b>'|'</b>")
    "\\\\!\\\\[x\\\\]\\\\(/etc/passwd\\\\) &lt;b&gt;'\\\\|'&lt;/b&gt;"
    """
    return _MARKDOWN.sub(r"\\\1", html.escape(_breakable(visible(text, cap, one_line=True)), quote=False))


def code_block(text: object, info: str = "", cap: int | None = None) -> str:
    """``text`` as a fenced Markdown code block that its content cannot close: the fence is
    one backtick longer than the longest run of backticks in it (at least three).

    >>> print(code_block("a\\n```\\nb", "yaml"))
    ````yaml
    a
    ```
    b
    ````
    """
    body = visible(text, cap).rstrip("\n")
    longest = max((len(m.group()) for m in _BACKTICKS.finditer(body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{body}\n{fence}"
