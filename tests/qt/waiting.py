"""Waits the Qt tests share."""

from __future__ import annotations


def settled(qtbot, widget) -> None:
    """Wait until ``widget`` keeps its size for a moment (the area takes its height late)."""
    sizes = [widget.size()]

    def still() -> bool:
        sizes.append(widget.size())
        return len(sizes) > 3 and sizes[-1] == sizes[-2] == sizes[-3]

    qtbot.waitUntil(still)
