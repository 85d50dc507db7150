"""What the CLI prints is made safe for a terminal: no escape sequence from a name reaches it.

Every write goes through :func:`designer.core.text.visible`, which shows control,
bidi and lone-surrogate characters as ``\\uXXXX`` escapes (valid JSON escapes too).
"""

from __future__ import annotations

from typing import TextIO

from designer.core.text import visible


class SafeStream:
    """A text stream wrapper that writes :func:`visible` text to the stream it wraps."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    @property
    def wrapped(self) -> TextIO:
        """The stream itself, for text already made safe (a progress line's ``\\r``)."""
        return self._stream

    def write(self, text: str) -> int:
        return self._stream.write(visible(text))

    def __getattr__(self, name: str) -> object:
        return getattr(self._stream, name)
