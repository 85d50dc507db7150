"""Docks that explain and improve a design (lint, budget fit, compare, numbers, transfer).

They hang off the main window through ``install`` and never see the window: the
panels that show numbers (lint, numbers) redraw from the analysis model's
``analysisChanged``; the others follow the document's ``designChanged``, and
their edits (applying a fit) go back through the document's undo stack, like
any other edit.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMenu, QWidget

from designer.qt.analysis_model import AnalysisModel
from designer.qt.document import Document
from designer.qt.insights.compare_dock import ComparePanel
from designer.qt.insights.fit_dock import FitPanel
from designer.qt.insights.lint_dock import LintPanel
from designer.qt.insights.numbers_dock import NumbersPanel
from designer.qt.insights.transfer_dock import TransferPanel

AREA = Qt.DockWidgetArea.BottomDockWidgetArea
DOCK_HEIGHT = 300  # px: room for a table of a ResNet's stages without starving the graph


@dataclass
class Insights:
    """The panels and their docks, kept on the window as ``window.insights``."""

    lint: LintPanel
    fit: FitPanel
    compare: ComparePanel
    numbers: NumbersPanel
    transfer: TransferPanel
    docks: dict[str, QDockWidget]

    def show(self, name: str) -> None:
        """Open the dock ``name`` ("lint", "fit", ...) and bring its tab to the front."""
        dock = self.docks[name]
        dock.show()
        dock.raise_()


TITLES = {
    "lint": "Lint and stages",
    "fit": "Budget fit",
    "compare": "Compare",
    "numbers": "Numbers",
    "transfer": "Pretrained weights",
}
TIPS = {
    "lint": "What a careful reviewer would flag, and per-stage stride and receptive field",
    "fit": "Scale depths and widths to meet MACs, parameter and memory limits",
    "compare": "Designs side by side per stage, and a params-vs-MACs plot",
    "numbers": "The formula behind a layer's figures; training memory by part",
    "transfer": "Which tensors of a checkpoint fit this design",
}


def install(
    window: QMainWindow, document: Document, analyses: AnalysisModel, view_menu: QMenu
) -> Insights:
    """Add the insight docks, tabbed at the bottom of ``window``, with toggles in ``view_menu``.

    Panels that show numbers subscribe to ``analyses``; those that edit or fetch get
    the document. The caller links their signals to the rest of the window.
    """
    lint = LintPanel(analyses)
    fit = FitPanel(document)
    compare = ComparePanel(document)
    numbers = NumbersPanel(analyses)
    transfer = TransferPanel(document)
    panels: dict[str, QWidget] = {
        "lint": lint,
        "fit": fit,
        "compare": compare,
        "numbers": numbers,
        "transfer": transfer,
    }
    menu = view_menu.addMenu("&Insights")
    docks: dict[str, QDockWidget] = {}
    previous: QDockWidget | None = None
    for number, (name, panel) in enumerate(panels.items(), start=1):
        dock = QDockWidget(TITLES[name], window)
        dock.setObjectName(f"{name}Dock")
        dock.setWidget(panel)
        dock.setAllowedAreas(
            Qt.DockWidgetArea.BottomDockWidgetArea | Qt.DockWidgetArea.RightDockWidgetArea
        )
        window.addDockWidget(AREA, dock)
        if previous is not None:
            window.tabifyDockWidget(previous, dock)
        previous = dock
        toggle = dock.toggleViewAction()
        toggle.setText(TITLES[name])
        toggle.setShortcut(QKeySequence(f"Ctrl+Alt+{number}"))
        toggle.setStatusTip(TIPS[name])
        toggle.triggered.connect(lambda checked, d=dock: checked and d.raise_())
        menu.addAction(toggle)
        dock.hide()  # the three panes already fill the window: opened on demand
        docks[name] = dock
    window.resizeDocks(list(docks.values()), [DOCK_HEIGHT] * len(docks), Qt.Orientation.Vertical)
    return Insights(lint, fit, compare, numbers, transfer, docks)
