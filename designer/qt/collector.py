"""Keeps Python's garbage collector from stalling the UI.

A full collection walks every tracked object: with a few big drawings alive that
is hundreds of milliseconds on the UI thread, at a random moment. After each
drawing the surviving objects are frozen (full passes skip them), and the
collector runs for real only when the user has been idle for a while, so
cyclic garbage from old drawings is still reclaimed.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

IDLE_COLLECT_MS = 10_000


class Collector(QObject):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._idle = QTimer(self)
        self._idle.setSingleShot(True)
        self._idle.setInterval(IDLE_COLLECT_MS)
        self._idle.timeout.connect(self.collect_now)

    def settle(self) -> None:
        """A drawing is complete: freeze what lives, and collect after the next idle spell."""
        gc.freeze()
        self._idle.start()

    def activity(self) -> None:
        """The user did something: postpone the idle collection."""
        if self._idle.isActive():
            self._idle.start()

    def collect_now(self) -> None:
        gc.unfreeze()
        gc.collect()
        gc.freeze()
