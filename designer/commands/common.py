"""What every subcommand shares: resolving DESIGN arguments and one-line usage errors."""

from __future__ import annotations

import os
from pathlib import Path

from designer.core.design import Design, DesignError
from designer.core.io import load, nearest
from designer.core.presets import load_preset, preset_names


class UsageError(Exception):
    """A bad argument: the CLI prints it as one line and exits 2."""


def resolve_design(spec: str) -> Design:
    """A design from a preset name, a design file, or a model.py exported by us."""
    path = Path(spec)
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
