"""What every subcommand shares: resolving DESIGN arguments, checked arguments, one-line errors."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from designer.core.design import Design, DesignError
from designer.core.io import load, nearest
from designer.core.presets import load_preset, preset_names
from designer.core.recover import Recovery, is_checkpoint


class UsageError(Exception):
    """A bad argument: the CLI prints it as one line and exits 2."""


MAX_SEED = 2**63 - 1  # what torch.manual_seed and every export accept alike


def seed(text: str) -> int:
    """An argparse type: a seed every command accepts alike, 0 to 2**63 - 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text[:30]}' is not a whole number") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be between 0 and 2**63 - 1 (got {text[:30]})")
    return value


def check_output(path: Path, force: bool, flag: str = "-o") -> None:
    """Refuse, before any work, an output the command could not or should not write."""
    parent = path.parent
    if path.is_dir():
        raise UsageError(f"{flag}: '{path}' is a folder; give a file name")
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
