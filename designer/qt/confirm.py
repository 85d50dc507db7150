"""Background torchinfo confirmation of the closed-form totals the inspector shows.

The app's numbers come from ``designer.core.analysis`` (no torch). After the user
pauses, a worker builds the design on the meta device and runs torchinfo on it;
the inspector then says "confirmed by torchinfo" or shows the mismatch. torch
is imported there, in the worker, never on the UI thread or at startup.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QObject, QTimer

from designer.core.analysis import Analysis
from designer.core.design import Design
from designer.qt.workers import Runner

DELAY_ENV = "RESNET_DESIGNER_CONFIRM_MS"  # 0 turns the confirmation off
DELAY_MS = 1500
MAX_BLOCKS = 200  # bigger designs take seconds of torchinfo: not worth a busy CPU


def torchinfo_totals(design: Design) -> tuple[int, int]:
    """(params, mult-adds) as torchinfo counts them for the design built on meta."""
    import torchinfo

    from designer.core.build import build

    model = build(design, device="meta")
    shape = (1, design.input.channels, design.input.height, design.input.width)
    stats = torchinfo.summary(model, input_size=shape, device="meta", verbose=0)
    return int(stats.total_params), int(stats.total_mult_adds)


def verdict(analysis: Analysis, totals: tuple[int, int]) -> tuple[bool, str]:
    params, macs = totals
    if (params, macs) == (analysis.params, analysis.macs):
        return True, "✓ confirmed by torchinfo"
    return False, f"✗ torchinfo counts {params:,} params and {macs:,} MACs"


class Confirmer(QObject):
    """Restarts its idle timer on every change; drops results for designs since edited."""

    def __init__(self, window: object, delay_ms: int | None = None) -> None:
        super().__init__(window)  # type: ignore[arg-type]
        from designer.qt.main_window import MainWindow

        assert isinstance(window, MainWindow)
        self._window = window
        if delay_ms is None:
            try:
                delay_ms = int(os.environ.get(DELAY_ENV, DELAY_MS))
            except ValueError:
                delay_ms = DELAY_MS
        self.runner = Runner(parent=self)
        self.runner.done.connect(self._done)
        self.runner.failed.connect(self._failed)
        self._pending: Analysis | None = None
        self.last: tuple[bool, str] | None = None  # tests read it
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(max(delay_ms, 0))
        self._timer.timeout.connect(self.start_now)
        self.enabled = delay_ms > 0
        window.document.designChanged.connect(lambda _d: self._changed())
        self._changed()

    def _changed(self) -> None:
        self._window.inspector.set_confirmation("")
        if self.enabled:
            self._timer.start()

    def start_now(self) -> None:
        analysis = self._window.analysis
        design = self._window.document.design
        if analysis.design != design:  # still being analysed: try again after the next pause
            self._timer.start()
            return
        if sum(s.depth for s in design.stages) > MAX_BLOCKS:
            self._window.inspector.set_confirmation("not checked by torchinfo (large design)")
            return
        self._pending = analysis
        self._window.inspector.set_confirmation("checking with torchinfo…")
        self.runner.submit(torchinfo_totals, design)

    def _done(self, _generation: int, totals: tuple[int, int]) -> None:
        analysis = self._pending
        if analysis is None or analysis.design != self._window.document.design:
            return  # edited meanwhile: a stale answer
        self.last = verdict(analysis, totals)
        self._window.inspector.set_confirmation(self.last[1], ok=self.last[0])

    def _failed(self, _generation: int, message: str) -> None:
        self.last = (False, f"torchinfo could not check it: {message}")
        self._window.inspector.set_confirmation(self.last[1], ok=False)
