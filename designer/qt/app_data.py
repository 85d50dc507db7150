"""Where the app keeps its own data (recovery sessions, runs, measurements).

Its own module, below :mod:`designer.qt.app`: the views that keep data import it, and
the app imports those views (through the main window).
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QStandardPaths


def app_data_dir(env: str, name: str) -> Path:
    """A folder of the app's own data: ``$env`` when set (tests, portable use), else ``name``
    in the platform's app-data folder (``~/.local/share/...`` on Linux)."""
    override = os.environ.get(env)
    if override:
        return Path(override)
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(base or Path.home() / ".resnet-designer") / name
