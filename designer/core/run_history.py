"""What training has shown so far: each trained network's best val top-1 over its runs.

The Compare tab plots designs by accuracy; a design trained several times (or
saved under other names) is one network, so runs are grouped by the network's
fingerprint (``designer.core.measure.fingerprint``) and the best run speaks for it.

Reading is bounded and forgiving, because the runs root is a folder anyone may
have copied into: a run folder's own design copy (``design.resnet.json``) and its
``metrics.csv`` are read with a size limit, never train.log or a checkpoint; a
folder that is not a run, or whose files are missing, damaged or too large, is
skipped silently (the Train tab shows what is wrong with a run). Pure: no Qt,
no torch (``designer.core.runs`` stays the one module that starts runs).
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from pathlib import Path

from designer.core.design import Design, DesignError
from designer.core.io import read_text_limited
from designer.core.measure import fingerprint
from designer.core.runs import design_copy

METRICS_LIMIT = 4 * 1024 * 1024  # bytes: some 25,000 epochs of train.py's rows
METRICS_FILE = "metrics.csv"
SETTINGS_FILE = "settings.json"  # what makes a folder a run (as runs.list_runs has it)


@dataclass(frozen=True)
class TrainedDesign:
    """One trained network: its design (the best run's copy) and the best val top-1 reached."""

    fingerprint: str
    design: Design
    best_acc: float  # val top-1, a fraction
    runs: int  # this network's runs with at least one finished epoch
    best_run: str  # the folder name of the run that reached best_acc

    @property
    def name(self) -> str:
        return self.design.name


def best_val_acc(folder: str | os.PathLike[str]) -> float | None:
    """The best val top-1 (a fraction) in a run's metrics.csv; None when it has none.

    Parsed as the Train tab's reader does: the first line is the header, a row of
    another length is skipped, and so is a value that is not a fraction.
    """
    try:
        text = read_text_limited(Path(folder) / METRICS_FILE, METRICS_LIMIT, "metrics file")
    except DesignError:
        return None
    rows = csv.reader(line for line in text.splitlines() if line.strip())
    header = next(rows, None)
    if not header or "val_acc" not in header:
        return None
    column = header.index("val_acc")
    values = [_fraction(row[column]) for row in rows if len(row) == len(header)]
    found = [v for v in values if v is not None]
    return max(found) if found else None


def _fraction(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and 0.0 <= value <= 1.0 else None


def _run_design(folder: Path) -> Design | None:
    """A run's design copy; None for a folder that is not a run or a damaged copy."""
    return design_copy(folder) if (folder / SETTINGS_FILE).is_file() else None


def _run_folders(root: Path) -> list[Path]:
    """The run folders under ``root``, oldest first (their names start with the time)."""
    try:
        return sorted(p for p in root.iterdir() if p.is_dir())
    except OSError:
        return []


def trained_designs(root: str | os.PathLike[str]) -> list[TrainedDesign]:
    """Every network trained under ``root`` to at least one epoch, best accuracy first.

    Runs of one fingerprint are one entry: the best val top-1 over them, the number
    of runs, and the run (the newest of equals) that reached it, whose design copy
    names the entry. Never raises for what is in the folder.
    """
    found: dict[str, TrainedDesign] = {}
    for folder in _run_folders(Path(root)):
        acc = best_val_acc(folder)
        if acc is None:
            continue
        design = _run_design(folder)
        if design is None:
            continue
        key = fingerprint(design)
        old = found.get(key)
        runs = 1 if old is None else old.runs + 1
        if old is None or acc >= old.best_acc:  # oldest first: a later equal wins
            found[key] = TrainedDesign(key, design, acc, runs, folder.name)
        else:
            found[key] = TrainedDesign(key, old.design, old.best_acc, runs, old.best_run)
    return sorted(found.values(), key=lambda t: (-t.best_acc, t.name, t.fingerprint))
