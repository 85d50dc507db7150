"""Background torchinfo confirmation of the closed-form totals the inspector shows.

The app's numbers come from ``designer.core.analysis`` (no torch). After the user
pauses, a helper process builds the design on the meta device and runs torchinfo
on it; the inspector then says "confirmed by torchinfo" or shows the mismatch.
torch is imported only in that process: importing it in a thread of this one
would hold the GIL for long stretches and freeze the window.

A network beyond any real one (``designer.core.lint.size_limits``: weights the builder
refuses, absurd multiply-adds or memory) is not checked: "confirmed" would lend its
numbers a credibility they do not deserve, and the inspector notes why instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer

from designer.core.analysis import Analysis
from designer.core.design import Design
from designer.core.lint import size_limits
from designer.core.torch.verify import torchinfo_totals
from designer.qt.analysis_model import AnalysisModel
from designer.qt.processes import HelperUnavailable, run_in_helper
from designer.qt.workers import Runner

DELAY_ENV = "RESNET_DESIGNER_CONFIRM_MS"  # 0 turns the confirmation off
DELAY_MS = 1500
MAX_BLOCKS = 200  # bigger designs take seconds of torchinfo: not worth a busy CPU
TOO_BIG = "too big to confirm: beyond any real network"


def totals_in_helper(design: Design) -> tuple[int, int]:
    """torchinfo's totals, computed in the torch helper process (torch never loads here)."""
    try:
        return run_in_helper("torch", torchinfo_totals, design)
    except HelperUnavailable:
        return torchinfo_totals(design)


def verdict(analysis: Analysis, totals: tuple[int, int]) -> tuple[bool, str]:
    params, macs = totals
    if (params, macs) == (analysis.params, analysis.macs):
        return True, "✓ confirmed by torchinfo"
    return False, f"✗ torchinfo counts {params:,} params and {macs:,} MACs"


Show = Callable[..., None]  # (text, *, ok=None): the inspector's confirmation line


class Confirmer(QObject):
    """Restarts its idle timer on every new analysis; drops answers for outdated ones.

    It reads nothing but what the analysis model publishes, and says what it found
    through ``show`` (the inspector's ``set_confirmation``).
    """

    def __init__(
        self,
        analyses: AnalysisModel,
        show: Show,
        parent: QObject | None = None,
        delay_ms: int | None = None,
    ) -> None:
        super().__init__(parent)
        self._analyses = analyses
        self._show = show
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
        analyses.outdated.connect(self._outdated)
        analyses.subscribe(lambda _analysis: self._changed())

    def _outdated(self) -> None:
        self._pending = None  # an answer still on its way is for an edited design
        self._show("")

    def _changed(self) -> None:
        self._pending = None
        self._show("")
        if self.enabled:
            self._timer.start()

    def start_now(self) -> None:
        analysis = self._analyses.analysis
        if analysis is None or not self._analyses.is_current():
            self._timer.start()  # still being analysed: try again after the next pause
            return
        design = analysis.design
        if size_limits(analysis):
            self.last = (False, TOO_BIG)
            self._show(TOO_BIG, ok=False)
            return
        if sum(s.depth for s in design.stages) > MAX_BLOCKS:
            self._show("not checked by torchinfo (large design)")
            return
        self._pending = analysis
        self._show("checking with torchinfo…")
        self.runner.submit(totals_in_helper, design)

    def _done(self, _generation: int, totals: tuple[int, int]) -> None:
        analysis = self._pending
        if analysis is None or analysis is not self._analyses.analysis:
            return  # edited meanwhile: a stale answer
        self.last = verdict(analysis, totals)
        self._show(self.last[1], ok=self.last[0])

    def _failed(self, _generation: int, message: str) -> None:
        self.last = (False, f"torchinfo could not check it: {message}")
        self._show(self.last[1], ok=False)
