"""The inspector's room: the layer table folds away leaving the totals (and
stays folded across runs), the columns fit with the MACs never cut off, Tab leaves the
table, and a batch size set from elsewhere is shown without being echoed."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication

from designer.core.explain import training_bytes
from designer.core.report import human_bytes
from designer.qt.inspector import COLUMNS, LAYERS_COLLAPSED, Inspector


def test_the_layers_button_folds_the_table_away_and_is_remembered(qtbot, window):
    inspector = window.inspector
    toggle = inspector.layers_toggle
    assert toggle.isVisible() and inspector.table.isVisible()
    assert toggle.text() == f"Layers ({inspector.model.rowCount():,})"
    qtbot.mouseClick(toggle, Qt.MouseButton.LeftButton)
    assert inspector.layers_collapsed()
    assert not inspector.table.isVisible() and not inspector.filter.isVisible()
    assert inspector.values["params"].isVisible() and inspector.batch.isVisible()
    assert toggle.arrowType() == Qt.ArrowType.RightArrow
    assert QSettings().value(LAYERS_COLLAPSED, type=bool) is True

    again = Inspector()  # the next window's inspector starts folded
    qtbot.addWidget(again)
    assert again.layers_collapsed()
    again.set_layers_collapsed(False)
    assert not again.layers_collapsed()
    assert QSettings().value(LAYERS_COLLAPSED, type=bool) is False

    qtbot.mouseClick(toggle, Qt.MouseButton.LeftButton)
    assert not inspector.layers_collapsed() and inspector.table.isVisible()


def test_set_batch_shows_a_batch_size_without_emitting(qtbot, window):
    inspector = window.inspector
    heard: list[int] = []
    inspector.batchChanged.connect(heard.append)
    inspector.set_batch(64)
    assert inspector.batch.value() == 64 and heard == []
    analysis = window.analyses.analysis
    assert inspector.values["memory"].text() == human_bytes(training_bytes(analysis, 64))

    box = inspector.batch  # typed by the user: announced
    qtbot.mouseClick(box.lineEdit(), Qt.MouseButton.LeftButton)
    qtbot.keyClick(box, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(box, "8")
    qtbot.keyClick(box, Qt.Key.Key_Return)
    assert heard == [8]


def test_tab_leaves_the_layer_table(qtbot, window):
    table = window.inspector.table
    rect = table.visualRect(table.model().index(3, 0))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert table.hasFocus() and table.currentIndex().row() == 3
    qtbot.keyClick(table, Qt.Key.Key_Tab)
    assert not table.hasFocus()
    assert QApplication.focusWidget() is not None


def _fits(inspector, column: int) -> bool:
    """The column's whole cell lies inside the table's viewport, wide enough for its text."""
    header = inspector.table.horizontalHeader()
    metrics = inspector.table.fontMetrics()
    left = header.sectionViewportPosition(column)
    width = header.sectionSize(column)
    text = metrics.horizontalAdvance(inspector.model.longest(column))
    shown = not inspector.table.isColumnHidden(column)
    return shown and left >= 0 and left + width <= inspector.table.viewport().width() > text


def _shown(inspector) -> list[str]:
    table = inspector.table
    return [COLUMNS[c] for c in range(len(COLUMNS)) if not table.isColumnHidden(c)]


def _size(qtbot, window, width: int, height: int) -> None:
    window.resize(width, height)
    window.size_panes()  # as the window sizes its panes when first shown
    qtbot.waitUntil(lambda: window.inspector.table.viewport().width() > 0, timeout=2000)
    qtbot.wait(20)  # the table's resize reaches its columns


@pytest.mark.parametrize("size", [(1440, 900), (1280, 800)])
def test_the_macs_column_is_not_cut_off_at_the_default_width(qtbot, window, size):
    inspector = window.inspector
    assert window.document.design.name == "ResNet-50"
    _size(qtbot, window, *size)
    assert inspector.table.horizontalScrollBar().maximum() == 0
    shown = _shown(inspector)
    assert shown[0] == "Layer" and shown[-2:] == ["Params", "MACs"]
    for column, name in enumerate(COLUMNS):
        if name in shown and name != "Layer":  # the Layer column may elide
            assert _fits(inspector, column), name


def test_a_wide_inspector_shows_every_column_whole(qtbot, window):
    inspector = window.inspector
    _size(qtbot, window, 1600, 900)
    sizes = window.splitter.sizes()
    window.splitter.setSizes([sizes[0], 300, sum(sizes) - sizes[0] - 300])
    qtbot.waitUntil(lambda: _shown(inspector) == list(COLUMNS), timeout=3000)
    assert inspector.table.horizontalScrollBar().maximum() == 0
    assert all(_fits(inspector, column) for column in range(len(COLUMNS)))

    window.splitter.setSizes([sizes[0], 900, sum(sizes) - sizes[0] - 900])  # narrow again
    qtbot.waitUntil(lambda: "Input" not in _shown(inspector), timeout=3000)
    assert _fits(inspector, 5) and "widen" in inspector.layers_toggle.toolTip().lower()


def test_columns_follow_a_longer_number(qtbot, window):
    inspector = window.inspector
    _size(qtbot, window, 1440, 900)
    header = inspector.table.horizontalHeader()
    before = header.sectionSize(4)
    classes = window.panel.widgets["num_classes"]
    qtbot.mouseClick(classes.lineEdit(), Qt.MouseButton.LeftButton)
    qtbot.keyClick(classes, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(classes, "1000000")  # the fc layer: 2,049,000,000 parameters
    qtbot.keyClick(classes, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: header.sectionSize(4) > before, timeout=3000)
    assert _fits(inspector, 4) and _fits(inspector, 5)
    assert inspector.table.horizontalScrollBar().maximum() == 0
