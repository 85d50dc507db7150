"""Checkpoint work for the app, done in the torch helper process: recover a design, match one.

Both read a file and import torch, so they never run on the UI thread; a worker
thread calls ``recover`` or ``match`` and waits with the GIL released while the
helper process (see ``designer.qt.processes``) does the work, or does it itself
where no helper can start. The helper keeps the last checkpoint's tensors, so an
edit re-matches in milliseconds. A refusal comes back as a ``Refusal`` (one line
naming the file), never as an exception: ``DesignError`` does not cross processes.

This module imports neither Qt nor torch at import time: the helper loads it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from designer.core.design import Design, DesignError
from designer.core.recover import CHECKPOINT_FILTER
from designer.qt.processes import HelperUnavailable, run_in_helper

if TYPE_CHECKING:
    from designer.core.recover import Recovery
    from designer.core.torch.transfer import TransferReport

FILTER = CHECKPOINT_FILTER

_cache_lock = threading.Lock()
_cache: dict[tuple[str, int, int], Any] = {}  # (path, mtime_ns, size) -> tensors; one entry


@dataclass(frozen=True)
class Refusal:
    """Why a checkpoint could not be read or recovered, in one line."""

    message: str


def short_name(path: str | Path, limit: int = 36) -> str:
    """The file's name, its middle elided past ``limit`` characters (labels, status lines).

    timm's names run long (``resnetv2_50x1_bit.goog_in21k_ft_in1k.safetensors``): one
    unbroken word that would widen a dock or push a status line off the window.
    """
    name = Path(path).name
    if len(name) <= limit:
        return name
    keep = limit - 1
    return f"{name[: keep - keep // 2]}…{name[-(keep // 2) :]}"


def reason(exc: BaseException, path: str | Path) -> str:
    """The first line of ``exc`` without the file's path (the caller names the file)."""
    text = exc.reason if isinstance(exc, DesignError) else str(exc)
    line = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    for prefix in (f"{path}: ", f"{Path(path).resolve()}: "):
        line = line.removeprefix(prefix)
    return line


# -- what the helper runs -----------------------------------------------------------------
def recover_file(path: str) -> Recovery | Refusal:
    """The design in ``path``'s names and shapes (the core's ``recover_checkpoint``)."""
    try:
        from designer.core.torch.checkpoint import recover_checkpoint

        return recover_checkpoint(path)
    except Exception as exc:  # one line whatever went wrong: the file is the user's
        return Refusal(reason(exc, path))


def match_file(path: str, design: Design) -> tuple[Design, TransferReport] | Refusal:
    """Which tensors of ``path`` fit ``design`` by name and shape (tensors cached per file)."""
    try:
        from designer.core.torch.transfer import load_checkpoint
        from designer.core.torch.transfer import match as match_tensors

        stat = Path(path).stat()
        key = (path, stat.st_mtime_ns, stat.st_size)
        with _cache_lock:
            tensors = _cache.get(key)
        if tensors is None:
            with _cache_lock:
                _cache.clear()  # one checkpoint held at a time: they can be gigabytes
            tensors = load_checkpoint(path)
            with _cache_lock:
                _cache[key] = tensors
        return design, match_tensors(design, tensors)
    except Exception as exc:
        return Refusal(reason(exc, path))


# -- what a worker thread calls --------------------------------------------------------------
def recover(path: str) -> Recovery | Refusal:
    try:
        return run_in_helper("torch", recover_file, path)
    except HelperUnavailable:
        return recover_file(path)


def match(path: str, design: Design) -> tuple[Design, TransferReport] | Refusal:
    try:
        return run_in_helper("torch", match_file, path, design)
    except HelperUnavailable:
        return match_file(path, design)


def fit_line(report: TransferReport, path: str | Path) -> str:
    """'62 of 65 tensors from resnet50.pth' (the design's tensors, those the file gave)."""
    total = len(report.matched) + len(report.shape_mismatch) + len(report.missing)
    return f"{len(report.matched)} of {total} tensors from {short_name(path)}"
