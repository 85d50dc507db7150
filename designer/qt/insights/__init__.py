"""Docks that explain and improve a design (lint, budget fit, compare, numbers, transfer).

They hang off the main window through ``install`` and talk to it only through its
document (the design) and the inspector's selection signal: one-way data flow.
Each panel redraws from ``designChanged``; edits (applying a fit) go back
through the document's undo stack, like any other edit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QDockWidget, QMenu, QWidget

from designer.qt.insights.compare_dock import ComparePanel
from designer.qt.insights.fit_dock import FitPanel
from designer.qt.insights.lint_dock import LintPanel
from designer.qt.insights.numbers_dock import NumbersPanel
from designer.qt.insights.transfer_dock import TransferPanel

if TYPE_CHECKING:
    from designer.qt.main_window import MainWindow

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


def _view_menu(window: MainWindow) -> QMenu:
    for action in window.menuBar().actions():
        menu = action.menu()
        if isinstance(menu, QMenu) and action.text().replace("&", "") == "View":
            return menu
    return window.menuBar().addMenu("&View")


def _focus_field(window: MainWindow, field: str) -> None:
    """Point the user at the control for ``field`` (a lint finding's design path)."""
    widget = window.panel.widget_for(field)
    if widget is None:
        window.statusBar().showMessage(f"Fix it at {field}", 6000)
        return
    scroll = window.splitter.widget(0)
    ensure = getattr(scroll, "ensureWidgetVisible", None)
    if ensure is not None:
        ensure(widget)
    widget.setFocus(Qt.FocusReason.OtherFocusReason)
    window.statusBar().showMessage(f"Fix it at {field}: the highlighted control", 6000)


def install(window: MainWindow) -> None:
    """Add the insight docks, tabbed at the bottom, and their View-menu toggles."""
    document = window.document
    panels: dict[str, QWidget] = {
        "lint": LintPanel(document),
        "fit": FitPanel(document),
        "compare": ComparePanel(document),
        "numbers": NumbersPanel(document),
        "transfer": TransferPanel(document),
    }
    titles = {
        "lint": "Lint and stages",
        "fit": "Budget fit",
        "compare": "Compare",
        "numbers": "Numbers",
        "transfer": "Pretrained weights",
    }
    tips = {
        "lint": "What a careful reviewer would flag, and per-stage stride and receptive field",
        "fit": "Scale depths and widths to meet MACs, parameter and memory limits",
        "compare": "Designs side by side per stage, and a params-vs-MACs plot",
        "numbers": "The formula behind a layer's figures; training memory by part",
        "transfer": "Which tensors of a checkpoint fit this design",
    }
    menu = _view_menu(window).addMenu("&Insights")
    docks: dict[str, QDockWidget] = {}
    previous: QDockWidget | None = None
    for number, (name, panel) in enumerate(panels.items(), start=1):
        dock = QDockWidget(titles[name], window)
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
        toggle.setText(titles[name])
        toggle.setShortcut(QKeySequence(f"Ctrl+Alt+{number}"))
        toggle.setStatusTip(tips[name])
        toggle.triggered.connect(lambda checked, d=dock: checked and d.raise_())
        menu.addAction(toggle)
        dock.hide()  # the three panes already fill the window: opened on demand
        docks[name] = dock
    window.resizeDocks(list(docks.values()), [DOCK_HEIGHT] * len(docks), Qt.Orientation.Vertical)
    insights = Insights(docks=docks, **panels)  # type: ignore[arg-type]
    insights.lint.fieldRequested.connect(lambda field: _focus_field(window, field))
    window.inspector.layerSelected.connect(insights.numbers.select_layer)
    window.insights = insights  # type: ignore[attr-defined]
