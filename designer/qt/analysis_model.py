"""The one owner of the live analysis: every view gets it from ``analysisChanged``.

The document says what the design is; this model says what its numbers are.
Each design is analysed once: on this thread, within the edit, when it is small
(the closed form takes microseconds per block, so the inspector and docks are
never a step behind), in the drawing helper process when it is huge (a
10,000-block design takes seconds of pure Python, which would starve the UI
thread of the GIL). One huge analysis runs at a time: edits made meanwhile are
coalesced into one more. Results for a design the user has since edited are
dropped (the runner's generation, then a design check).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from designer.core.analysis import Analysis, analyse
from designer.core.design import Design
from designer.qt.document import Document
from designer.qt.pipeline import analyse_remembered
from designer.qt.workers import Runner

SYNC_ANALYSIS_BLOCKS = 1000  # more blocks than this: analysed off the UI thread


def blocks(design: Design) -> int:
    return sum(s.depth for s in design.stages)


class AnalysisModel(QObject):
    """Analyses the document's design after each change and publishes the result."""

    analysisChanged = Signal(object)  # Analysis of the document's current design
    outdated = Signal()  # the design changed; its analysis follows
    failed = Signal(str)  # one line: the off-thread analysis raised

    def __init__(self, document: Document, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self._analysis: Analysis | None = None
        self._outdated = False  # views were told the analysis is behind the design
        self._deferred = False  # an edit arrived while a huge analysis was running
        self.runs = 0  # analyses started (tests read it)
        self.runner = Runner(parent=self)
        self.runner.done.connect(self._ready)
        self.runner.failed.connect(lambda _g, message: self.failed.emit(message))
        self.runner.busyChanged.connect(self._runner_busy)
        document.designChanged.connect(self._design_changed)
        self._analyse()

    # -- state ------------------------------------------------------------------
    @property
    def analysis(self) -> Analysis | None:
        """The newest analysis; None only while the first one of a huge design runs."""
        return self._analysis

    def is_current(self) -> bool:
        """The analysis held is of the document's design (not of an earlier edit)."""
        a = self._analysis
        return a is not None and (
            a.design is self.document.design or a.design == self.document.design
        )

    def is_busy(self) -> bool:
        return self.runner.is_busy()

    def subscribe(self, slot: Callable[[Analysis], None]) -> None:
        """Call ``slot`` with every new analysis, starting with the current one."""
        self.analysisChanged.connect(slot)
        if self._analysis is not None:
            slot(self._analysis)

    # -- work -------------------------------------------------------------------
    def _design_changed(self, _design: Design) -> None:
        if not self.is_current() and not self._outdated:
            self._outdated = True
            self.outdated.emit()
        self._analyse()

    def _analyse(self) -> None:
        design = self.document.design
        if self.is_current():
            if self._outdated and self._analysis is not None:  # undone back: nothing to compute
                self.runner.drop_running()
                self._publish(self._analysis)
            return
        self.runs += 1
        if blocks(design) <= SYNC_ANALYSIS_BLOCKS:
            self.runner.drop_running()  # a huge design's analysis still running is stale now
            self._publish(analyse(design))
        elif self.runner.is_busy():
            self.runs -= 1  # counted when it starts
            self._deferred = True  # started when the running one ends
        else:
            self.runner.submit(analyse_remembered, design)

    def _runner_busy(self, busy: bool) -> None:
        if not busy and self._deferred:
            self._deferred = False
            self._analyse()

    def _ready(self, _generation: int, analysis: Analysis) -> None:
        if analysis.design == self.document.design:
            self._publish(analysis)

    def _publish(self, analysis: Analysis) -> None:
        self._analysis = analysis
        self._outdated = False
        self.analysisChanged.emit(analysis)
