"""The bundled presets: design files under ``resources/presets/``."""

from __future__ import annotations

from functools import cache

from designer.core.design import Design
from designer.core.io import FILE_SUFFIX, load
from designer.core.resources import resource_dir

PRESET_DIR = resource_dir() / "presets"


def preset_names() -> list[str]:
    return sorted(p.name[: -len(FILE_SUFFIX)] for p in PRESET_DIR.glob(f"*{FILE_SUFFIX}"))


@cache
def load_preset(name: str) -> Design:
    """The preset called ``name``; KeyError if there is none."""
    path = PRESET_DIR / f"{name}{FILE_SUFFIX}"
    if name not in preset_names():
        raise KeyError(name)
    return load(path)
