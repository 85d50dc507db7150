"""Where the bundled resources (presets, styles, icons, the desktop entry) live.

The repository keeps them in its top-level ``resources/``; a wheel carries the same
files inside the package as ``designer/_resources`` (pyproject.toml maps one onto the
other), found with :mod:`importlib.resources` wherever the package is installed:
a virtual environment, the user site, ``pip install --target DIR``. A source checkout,
installed in editable mode or not installed at all, reads ``resources/`` itself.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path

PACKAGED = "_resources"


@cache
def resource_dir() -> Path:
    """The folder holding ``presets/``, ``styles/`` and ``icons/``."""
    packaged = files("designer") / PACKAGED
    # an unpacked install (a zip import would give a Traversable: it has no folder to glob)
    if isinstance(packaged, Path) and (packaged / "presets").is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "resources"
