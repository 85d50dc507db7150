"""The one place where text from a design becomes Python source.

Generated code never pastes a user string: identifiers go through
:class:`Namespace` (illegal characters replaced, keywords and builtins avoided,
duplicates numbered), string values through :func:`string_literal` (``repr``),
and free text through :func:`docstring_text`, which escapes or drops everything
that could end the docstring.
"""

from __future__ import annotations

import builtins
import keyword
import math
import re
import unicodedata

_ILLEGAL = re.compile(r"\W")
_RESERVED = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(dir(builtins))


class Namespace:
    """Hands out unique, legal, non-reserved identifiers (after torch.fx's ``_Namespace``)."""

    def __init__(self, taken: tuple[str, ...] = ()) -> None:
        self._taken: set[str] = set(taken)

    def name(self, wanted: str) -> str:
        base = _ILLEGAL.sub("_", wanted.strip()) or "_unnamed"
        if not base.isascii():
            base = "".join(c if c.isascii() else "_" for c in base)
        if base[0].isdigit():
            base = "_" + base
        if base in _RESERVED:
            base += "_"
        candidate, n = base, 1
        while candidate in self._taken:
            candidate = f"{base}_{n}"
            n += 1
        self._taken.add(candidate)
        return candidate


def _escape_char(ch: str) -> str:
    if ch == "\\":
        return "\\\\"
    if ch == '"':
        return '\\"'  # no run of quotes can close the docstring, even at its end
    if ch.isprintable():
        return ch
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def docstring_text(text: str, limit: int = 72) -> str:
    """``text`` made safe inside a ``\"\"\"`` docstring, on one line of at most ``limit`` chars.

    Backslashes and quotes are escaped; newlines, NUL, U+2028 and every other
    non-printable character become visible escapes, so the text can neither end
    the docstring nor start a new source line. Overlong text is cut with '...'.
    """
    pieces = [_escape_char(ch) for ch in text.strip()]
    out: list[str] = []
    used = 0
    for i, piece in enumerate(pieces):
        tail = 0 if i == len(pieces) - 1 else 3
        width = display_width(piece)
        if used + width + tail > limit:
            out.append("...")
            break
        out.append(piece)
        used += width
    return "".join(out).strip()


def string_literal(text: str) -> str:
    """A Python literal for ``text``, quoted and escaped exactly as ``ruff format`` leaves it.

    Backslashes, the chosen quote and every non-printable character are escaped
    (as ``repr`` would); double quotes are preferred unless they need more escapes.
    """
    quote = '"' if text.count('"') <= text.count("'") else "'"
    body = []
    for ch in text:
        if ch == "\\" or ch == quote:
            body.append("\\" + ch)
        elif ch.isprintable():
            body.append(ch)
        else:
            body.append(repr(ch)[1:-1])
    return quote + "".join(body) + quote


def display_width(text: str) -> int:
    """Columns ``text`` takes (wide East Asian characters count twice, as in ruff)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def number_literal(value: int | float) -> str:
    """A literal for a validated, finite number (bools are refused: they are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"not a number: {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"not a finite number: {value!r}")
    return repr(value)
