"""Coalesce bursts of edits: the first runs at once, the rest at most once per interval."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer


class Throttle(QObject):
    def __init__(self, interval_ms: int, fn: Callable[[], object], parent: QObject | None = None):
        super().__init__(parent)
        self._fn = fn
        self._pending = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._timeout)

    def __call__(self) -> None:
        if self._timer.isActive():
            self._pending = True
            return
        self._fn()
        self._timer.start()

    def is_pending(self) -> bool:
        """A call is being held back until the interval ends."""
        return self._pending

    def flush(self) -> None:
        """Run a pending call now (tests, screenshots)."""
        if self._pending:
            self._pending = False
            self._fn()

    def _timeout(self) -> None:
        if self._pending:
            self._pending = False
            self._fn()
            self._timer.start()
