"""Small widget helpers the insight docks share: read-only tables, hints, one-line errors."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from designer.core.analysis import Analysis
from designer.qt.analysis_model import AnalysisModel


class LazyAnalysisPanel(QWidget):
    """A panel that follows the live analysis but redraws only while it is shown.

    Closed docks cost nothing per edit (a big network takes ~10 ms to lint); a panel
    that was closed during edits catches up when it opens. It never analyses: it
    subscribes to the analysis model. Subclasses implement ``refresh``.
    """

    analysis: Analysis | None = None
    _dirty: bool = False

    def follow(self, analyses: AnalysisModel) -> None:
        """Subscribe to ``analyses`` (call at the end of ``__init__``)."""
        analyses.subscribe(self.set_analysis)

    def set_analysis(self, analysis: Analysis) -> None:
        self.analysis, self._dirty = analysis, True
        if self.isVisible():
            self.refresh()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._dirty:
            self.refresh()

    def refresh(self) -> None:
        raise NotImplementedError


RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter


def choices(items: list[tuple[str, str]], tip: str = "") -> QComboBox:
    """A combo box of (label shown, value kept as its data) pairs."""
    box = QComboBox()
    for label, value in items:
        box.addItem(label, value)
    if tip:
        box.setToolTip(tip)
    return box


def table(headers: list[str], *, stretch_last: bool = True) -> QTableWidget:
    """A read-only, row-selecting table: the docks show results, they never take edits."""
    view = QTableWidget(0, len(headers))
    view.setHorizontalHeaderLabels(headers)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setAlternatingRowColors(True)
    view.verticalHeader().hide()
    view.verticalHeader().setDefaultSectionSize(view.fontMetrics().height() + 6)
    view.setWordWrap(False)
    header = view.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setStretchLastSection(stretch_last)
    return view


def cell(text: str, *, right: bool = False, tip: str = "") -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    if right:
        item.setTextAlignment(RIGHT)
    if tip:
        item.setToolTip(tip)
    return item


def fill_row(view: QTableWidget, row: int, items: list[QTableWidgetItem]) -> None:
    for column, item in enumerate(items):
        view.setItem(row, column, item)


def hint(text: str = "") -> QLabel:
    """A muted, wrapping explanation line (styled by app.qss's QLabel#hint)."""
    label = QLabel(text)
    label.setObjectName("hint")
    label.setWordWrap(True)
    return label


def error_label() -> QLabel:
    """A one-line inline error, hidden until there is something to say."""
    label = QLabel()
    label.setObjectName("inlineError")
    label.setWordWrap(True)
    label.hide()
    return label


def show_error(label: QLabel, message: str) -> None:
    label.setText(f"⚠ {message}" if message else "")
    label.setToolTip(message)
    label.setVisible(bool(message))


def exact(n: int) -> str:
    return f"{n:,}"
