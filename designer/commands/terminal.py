"""What the CLI prints is made safe for a terminal: no escape sequence from a name reaches it.

A design name or file name may hold ESC sequences (clearing the screen, setting the
window title), carriage returns, NULs, bidi overrides that reorder what follows, or
lone surrogates that no encoding can write. Every one is printed as a ``\\uXXXX``
escape instead; newlines and tabs pass. The escape is also a valid JSON escape,
so ``summary --json`` and ``open`` stay valid JSON.
"""

from __future__ import annotations

import re
from typing import TextIO

_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def terminal_safe(text: str) -> str:
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


class SafeStream:
    """A text stream wrapper that writes :func:`terminal_safe` text to the stream it wraps."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(terminal_safe(text))

    def __getattr__(self, name: str) -> object:
        return getattr(self._stream, name)
