"""The Insights area: one dock at the bottom whose tabs explain and improve a design.

The seven panels (lint, budget fit, compare, numbers, transfer, measure, train) are tabs
of one ``QDockWidget`` ("Insights"), so the area opens and closes as a whole and
takes one modest strip of the window. View > Insights holds the toggle for the
whole area (``Ctrl+Alt+0``) and one action per tab (``Ctrl+Alt+1`` ..
``Ctrl+Alt+7``) that opens the area on that tab.

The panels hang off the main window through ``install`` and never see the window:
the panels that show numbers (lint, numbers) redraw from the analysis model's
``analysisChanged`` while their tab shows; the others follow the document's
``designChanged``, and their edits (applying a fit, loading a design from the
Compare plot) go back through the document's undo stack, like any other edit.
The Measure panel times the design in the torch helper process; each measurement
it keeps is announced to the Compare panel, which can plot measured figures. The
Train panel writes a training bundle (in the same helper) and runs its train.py in a
process of its own, which outlives the window; it polls the run's files on a timer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFrame,
    QMainWindow,
    QMenu,
    QScrollArea,
    QTabWidget,
    QWidget,
)

from designer.qt.analysis_model import AnalysisModel
from designer.qt.document import Document
from designer.qt.insights.compare_dock import ComparePanel
from designer.qt.insights.fit_dock import FitPanel
from designer.qt.insights.lint_dock import LintPanel
from designer.qt.insights.measure_dock import MeasurePanel
from designer.qt.insights.numbers_dock import NumbersPanel
from designer.qt.insights.train_dock import TrainPanel
from designer.qt.insights.transfer_dock import TransferPanel

AREA = Qt.DockWidgetArea.BottomDockWidgetArea
AREA_HEIGHT = 240  # px when first opened: a stage table's rows without starving the graph
MAX_SHARE = 0.3  # ...and never more than this share of the window's height
TOGGLE_SHORTCUT = "Ctrl+Alt+0"  # the whole area; Ctrl+Alt+1..7 open it on a tab

TITLES = {
    "lint": "Lint and stages",
    "fit": "Budget fit",
    "compare": "Compare",
    "numbers": "Numbers",
    "transfer": "Pretrained weights",
    "measure": "Measure",
    "train": "Train",
}
TIPS = {
    "lint": "What a careful reviewer would flag, and per-stage stride and receptive field",
    "fit": "Scale depths and widths to meet MACs, parameter and memory limits",
    "compare": "Designs side by side per stage, and a params-vs-MACs plot",
    "numbers": "The formula behind a layer's figures; training memory by part",
    "transfer": "Which tensors of a checkpoint fit this design",
    "measure": "Time the design on this machine: latency, throughput, a training step",
    "train": "Train the design with its bundle's train.py and watch loss and accuracy",
}
NAMES = tuple(TITLES)


@dataclass
class Insights:
    """The panels and the one dock that holds them, kept on the window as ``window.insights``."""

    lint: LintPanel
    fit: FitPanel
    compare: ComparePanel
    numbers: NumbersPanel
    transfer: TransferPanel
    measure: MeasurePanel
    train: TrainPanel
    area: QDockWidget  # the Insights dock
    tabs: QTabWidget  # its tabs, one per panel, in NAMES order
    toggle: QAction  # View > Insights > Insights: opens and closes the whole area
    tab_actions: dict[str, QAction]  # View > Insights > <tab>: opens the area on that tab

    @property
    def docks(self) -> dict[str, QDockWidget]:
        """Every panel's name -> the one area that holds it (the older per-panel mapping)."""
        return dict.fromkeys(NAMES, self.area)

    def show(self, name: str) -> None:
        """Open the area on the tab ``name`` (one of ``NAMES``: "lint", "fit", ... "measure")."""
        self.tabs.setCurrentIndex(NAMES.index(name))
        self.area.show()
        self.area.raise_()

    def current(self) -> str:
        """The name of the tab in front (whether or not the area is open)."""
        return NAMES[self.tabs.currentIndex()]

    def set_batch(self, n: int) -> None:
        """Show batch size ``n`` (chosen elsewhere, e.g. in the inspector) without echoing it."""
        self.numbers.set_batch(n)
        self.fit.set_batch(n)

    def on_batch_changed(self, slot: Callable[[int], None]) -> None:
        """Call ``slot`` with the batch size whenever the user changes it in a panel."""
        self.numbers.batchChanged.connect(slot)
        self.fit.batchChanged.connect(slot)


class _Page(QScrollArea):
    """A tab page that scrolls only when the area is dragged smaller than the panel's minimum.

    ``widgetResizable`` would size a panel with wrapping labels to its preferred
    height for the width (and scroll at the default height); this fills the page and
    never gives the panel less than its minimum size.
    """

    def __init__(self, panel: QWidget) -> None:
        super().__init__()
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setWidgetResizable(False)
        self.setWidget(panel)
        panel.installEventFilter(self)  # its minimum changes as rows and hints come and go

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            self._fill()
        return super().eventFilter(watched, event)

    def _fill(self) -> None:
        panel = self.widget()
        if panel is None:  # set in __init__: never, in practice
            return
        least = panel.minimumSizeHint().expandedTo(panel.minimumSize())
        view = self.maximumViewportSize()  # the room without scroll bars
        width = max(view.width(), least.width())
        height = max(view.height(), least.height())
        if width > view.width():  # a horizontal scroll bar takes some of the height
            height = max(
                view.height() - self.horizontalScrollBar().sizeHint().height(), least.height()
            )
        if height > view.height():
            width = max(view.width() - self.verticalScrollBar().sizeHint().width(), least.width())
        panel.resize(width, height)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fill()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._fill()


def install(
    window: QMainWindow, document: Document, analyses: AnalysisModel, view_menu: QMenu
) -> Insights:
    """Add the Insights area, closed, at the bottom of ``window``, with actions in ``view_menu``.

    Panels that show numbers subscribe to ``analyses``; those that edit or fetch get
    the document. The caller links their signals to the rest of the window.
    """
    lint = LintPanel(analyses)
    fit = FitPanel(document)
    compare = ComparePanel(document, analyses)
    numbers = NumbersPanel(analyses)
    transfer = TransferPanel(document)
    measure = MeasurePanel(document)
    train = TrainPanel(document)
    panels: dict[str, QWidget] = {
        "lint": lint,
        "fit": fit,
        "compare": compare,
        "numbers": numbers,
        "transfer": transfer,
        "measure": measure,
        "train": train,
    }
    tabs = QTabWidget()
    tabs.setObjectName("insightsTabs")
    tabs.setDocumentMode(True)
    for name, panel in panels.items():
        index = tabs.addTab(_Page(panel), TITLES[name])
        tabs.setTabToolTip(index, TIPS[name])
    area = QDockWidget("Insights", window)
    area.setObjectName("insightsDock")
    area.setWidget(tabs)
    area.setAllowedAreas(
        Qt.DockWidgetArea.BottomDockWidgetArea | Qt.DockWidgetArea.RightDockWidgetArea
    )
    window.addDockWidget(AREA, area)
    # the default height, kept by the hidden dock for when it opens; a window state the
    # caller restores afterwards (the user's own height from last time) replaces it
    window.resizeDocks([area], [AREA_HEIGHT], Qt.Orientation.Vertical)
    area.hide()  # the three panes already fill the window: opened on demand

    def cap() -> None:  # in a short window the default strip is at most MAX_SHARE of it
        limit = int(MAX_SHARE * window.height())
        default = abs(area.height() - AREA_HEIGHT) <= 8  # not a height the user dragged
        if default and limit < area.height() and window.dockWidgetArea(area) == AREA:
            window.resizeDocks([area], [max(limit, 1)], Qt.Orientation.Vertical)

    first: list[bool] = []

    def shown(visible: bool) -> None:
        if visible and not first and not area.isFloating():
            first.append(True)
            QTimer.singleShot(0, cap)  # once the layout has placed the dock

    area.visibilityChanged.connect(shown)

    menu = view_menu.addMenu("&Insights")
    toggle = area.toggleViewAction()
    toggle.setText("Insights")
    toggle.setShortcut(QKeySequence(TOGGLE_SHORTCUT))
    toggle.setStatusTip(
        "Open or close the Insights area: lint, budget fit, compare, numbers, weights, measure,"
        " train"
    )
    toggle.setToolTip(f"Open or close the Insights area ({TOGGLE_SHORTCUT})")
    menu.addAction(toggle)
    menu.addSeparator()
    insights = Insights(
        lint, fit, compare, numbers, transfer, measure, train, area, tabs, toggle, {}
    )
    for number, name in enumerate(NAMES, start=1):
        action = QAction(TITLES[name], window)
        action.setShortcut(QKeySequence(f"Ctrl+Alt+{number}"))
        action.setStatusTip(TIPS[name])
        action.triggered.connect(lambda _checked=False, n=name: insights.show(n))
        menu.addAction(action)
        insights.tab_actions[name] = action

    # one batch size: a change in either panel shows in the other
    numbers.batchChanged.connect(fit.set_batch)
    fit.batchChanged.connect(numbers.set_batch)
    # a measurement kept: the Compare plot's measured axes gain a point
    measure.measured.connect(compare.measurements_changed)
    train.runsChanged.connect(compare.runs_changed)  # accuracy against cost, as runs learn
    return insights
