"""Docks that explain and improve a design (lint, budget fit, compare, numbers, transfer).

They hang off the main window through ``install`` and talk to it only through its
document (the design) and the inspector's selection signal: one-way data flow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from designer.qt.main_window import MainWindow


def install(window: MainWindow) -> None:
    """Add the insight docks and their View-menu toggles to ``window`` (none yet)."""
