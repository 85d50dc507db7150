"""Text from a design or a file, made safe to show: no escape sequence, markup or reordering.

A design name or file name may hold ESC sequences (clearing a terminal, setting a
window title), carriage returns, NULs, bidi overrides that reorder what follows,
or lone surrogates that no encoding can write. :func:`visible` shows each as a
``\\uXXXX`` escape; newlines and tabs pass. The escape is also a valid JSON escape,
so JSON printed through it stays valid JSON.
"""

from __future__ import annotations

import re

_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def visible(text: str) -> str:
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def escaped_line(text: str) -> str:
    """:func:`visible` text whose newlines are escapes too: a message that must stay one line
    (an error naming a path that holds a newline) without changing what it names."""
    return visible(text).replace("\n", "\\u000a")


def one_line(text: str) -> str:
    """:func:`visible` text on one line (runs of whitespace, newlines included, become a space)."""
    return visible(" ".join(text.split()))
