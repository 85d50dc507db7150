"""What every subcommand shares: resolving DESIGN arguments, checked arguments, one-line errors."""

from __future__ import annotations

import argparse
import contextlib
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from designer.core.design import Design, DesignError
from designer.core.io import NOT_A_FILE, load, nearest
from designer.core.presets import load_preset, preset_names
from designer.core.recover import Recovery, is_checkpoint


class UsageError(Exception):
    """A bad argument: the CLI prints it as one line and exits 2."""


MAX_SEED = 2**63 - 1  # what torch.manual_seed and every export accept alike


def number_text(text: str, what: str) -> str:
    """``text`` if it is written in ASCII (Python's int() and float() also take other
    scripts' digits and fullwidth ones, which no option means), else a one-line refusal."""
    if not text.isascii() or not text.strip():
        raise argparse.ArgumentTypeError(f"'{text[:30]}' is not {what} (ASCII digits)")
    return text


def whole(low: int, high: int, shown: str = "") -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high`` (``shown``: the high end as
    people write it), refused in one line."""

    def parse(text: str) -> int:
        try:
            value = int(number_text(text, "a whole number"))
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text[:30]}' is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"must be between {low} and {shown or high} (got {text[:30]})"
            )
        return value

    return parse


seed = whole(0, MAX_SEED, "2**63 - 1")
"""An argparse type: a seed every command accepts alike, 0 to 2**63 - 1."""


def checkpoint_file(text: str) -> str:
    """An argparse type: a checkpoint path that names a readable regular file, checked
    before anything heavy (torch) is loaded for it."""
    if not text:
        raise argparse.ArgumentTypeError("an empty path: give a checkpoint file")
    try:
        mode = os.stat(text).st_mode
    except FileNotFoundError:
        raise argparse.ArgumentTypeError(f"{text}: no such file") from None
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"{text}: cannot read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(mode):
        raise argparse.ArgumentTypeError(f"{text}: is a folder: give a checkpoint file")
    if not stat.S_ISREG(mode):
        raise argparse.ArgumentTypeError(
            f"{text}: is not a regular file (a device, pipe or socket): give a checkpoint file"
        )
    return text


def check_output(path: Path, force: bool, flag: str = "-o") -> None:
    """Refuse, before any work, an output the command could not or should not write."""
    parent = path.parent
    if path.is_dir():
        raise UsageError(f"{flag}: '{path}' is a folder; give a file name")
    if path.exists() and not path.is_file():
        raise UsageError(f"{flag}: '{path}' {NOT_A_FILE}")
    if not parent.is_dir():
        raise UsageError(f"{flag}: the folder '{parent}' does not exist; create it first")
    if path.exists() and not force:
        raise UsageError(f"{flag}: '{path}' already exists (add --force to overwrite it)")


def recover_design(spec: str) -> Recovery:
    """The design a checkpoint's names and shapes describe (its data is never read)."""
    from designer.core.torch.checkpoint import recover_checkpoint

    return recover_checkpoint(spec)


def resolve_design(spec: str) -> Design:
    """A design from a preset name, a design file, a model.py exported by us, or a checkpoint."""
    path = Path(spec)
    if is_checkpoint(spec):
        return recover_design(spec).design
    if path.suffix == ".py":
        from designer.core.embedded import design_from_model_py

        return design_from_model_py(path)
    if spec.endswith(".json") or path.exists() or os.sep in spec:
        try:
            return load(path)
        except DesignError as exc:
            where = f"{path}: " if not str(exc).startswith(str(path)) else ""
            raise DesignError("", f"{where}{exc}") from None
    names = preset_names()
    if spec in names:
        return load_preset(spec)
    near = nearest(spec, names)
    hint = f"did you mean '{near}'?" if near else "run 'presets' to list them"
    raise UsageError(f"DESIGN: '{spec}' is neither a design file nor a preset ({hint})")


STDOUT = "-"
"""``-o -``: the command writes its output to stdout instead of a file."""


def refuse_binary_on_stdout(flag: str, what: str) -> None:
    """``-o -`` with a binary format: refused in one line (a terminal would get bytes)."""
    raise UsageError(f"{flag} -: {what} is binary, and only text goes to stdout: give a file name")


def add_progress_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--progress",
        action="store_true",
        help="print progress as plain lines on stderr even when it is not a terminal"
        " (on a terminal it is always shown, on one line)",
    )


class Progress:
    """A long write's progress on stderr, never on stdout (which holds only results).

    On a terminal: one line redrawn in place and erased at the end. Elsewhere (a
    log, a pipe, CI): nothing, unless ``lines`` (``--progress``), then one plain
    line per step, so logs stay readable and a script's stderr holds only errors.
    Use as a context manager; the instance is the core's ``progress(fraction, message)``.
    """

    def __init__(self, what: str, *, lines: bool = False) -> None:
        import sys

        self._what = what
        self._raw = raw_stream(sys.stderr)
        self._tty = bool(getattr(sys.stderr, "isatty", lambda: False)())
        self._lines = lines and not self._tty
        self._drawn = 0
        self._columns = 80
        if self._tty:
            # a line longer than the terminal would wrap, and \r redraw only its end
            with contextlib.suppress(OSError, ValueError, AttributeError):
                self._columns = os.get_terminal_size(self._raw.fileno()).columns or 80

    def __call__(self, fraction: float, message: str) -> None:
        from designer.core.text import one_line

        text = one_line(f"{self._what}: {fraction:4.0%} {message}")
        if self._tty:
            text = text[: max(self._columns - 1, 10)]
            width = max(self._drawn, len(text))
            self._raw.write("\r" + text.ljust(width))
            self._raw.flush()
            self._drawn = width
        elif self._lines:
            self._raw.write(text + "\n")
            self._raw.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._drawn:
            self._raw.write("\r" + " " * self._drawn + "\r")
            self._raw.flush()
            self._drawn = 0


def raw_stream(stream: object) -> Any:
    """The stream a :class:`~designer.commands.terminal.SafeStream` wraps (or ``stream``):
    for the carriage returns of a progress line, whose text is made safe beforehand."""
    return getattr(stream, "wrapped", stream)
