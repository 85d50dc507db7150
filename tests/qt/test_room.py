"""The graph gets the room: pane shares at 1280x800, remembered splitters, a toolbar that
stays put, tooltips that wrap."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QToolBar, QToolTip

from designer.core.presets import load_preset


def _tool_x(window, text: str) -> int:
    bar = window.findChild(QToolBar, "mainToolbar")
    action = next(a for a in bar.actions() if a.text().replace("&", "") == text)
    return bar.widgetForAction(action).geometry().x()


def _open(qtbot, size=(1280, 800)):
    from designer.qt.main_window import MainWindow

    win = MainWindow(load_preset("resnet50"))
    win.resize(*size)
    win.show()
    qtbot.waitUntil(lambda: win.drawing is not None and not win.is_busy(), timeout=10_000)
    return win


def _close(qtbot, win) -> None:
    qtbot.waitUntil(lambda: not win.is_busy(), timeout=10_000)
    win.document.undo_stack.setClean()
    win.close()
    win.deleteLater()


def test_the_graph_is_the_widest_pane_at_1280x800(qtbot):
    win = _open(qtbot)
    try:
        panel, graph, inspector = win.splitter.sizes()
        assert graph > inspector and graph > panel
        assert graph >= 0.35 * win.width()
    finally:
        _close(qtbot, win)


def test_splitter_positions_are_remembered(qtbot):
    win = _open(qtbot)
    try:
        handle = win.splitter.handle(2)  # between the graph and the inspector
        middle = handle.rect().center()
        qtbot.mousePress(handle, Qt.MouseButton.LeftButton, pos=middle)
        qtbot.mouseMove(handle, middle - QPoint(120, 0))
        qtbot.mouseRelease(handle, Qt.MouseButton.LeftButton, pos=middle - QPoint(120, 0))
        dragged = win.splitter.sizes()
    finally:
        _close(qtbot, win)
    again = _open(qtbot)
    try:
        assert again.splitter.sizes() == dragged
    finally:
        _close(qtbot, again)


def test_toolbar_buttons_stay_put_as_the_undo_text_changes(qtbot, window):
    before = _tool_x(window, "Blocks")
    frame_buttons = [
        b
        for item in window.graph.scene().items()
        for b in getattr(item, "buttons", [])
        if b.action == "add"
    ]
    button = frame_buttons[0]
    window.graph.ensureVisible(button)
    at = window.graph.mapFromScene(button.sceneBoundingRect().center())
    qtbot.mouseClick(window.graph.viewport(), Qt.MouseButton.LeftButton, pos=at)
    assert window.document.undo_stack.undoText().startswith("Add a block")
    assert _tool_x(window, "Blocks") == before
    assert "Add a block" in window.undo_button_action.toolTip()


def test_long_plain_tooltips_wrap(qtbot, window):
    from PySide6.QtGui import QHelpEvent
    from PySide6.QtWidgets import QApplication

    from designer.qt.fields import FIELDS

    longest = max(FIELDS, key=lambda f: len(f.tooltip))  # a field's long explanation
    assert len(longest.tooltip) > 200
    widget = window.panel.widget_for(longest.path)
    spot = widget.rect().center()
    QApplication.sendEvent(
        widget, QHelpEvent(QHelpEvent.Type.ToolTip, spot, widget.mapToGlobal(spot))
    )
    qtbot.waitUntil(QToolTip.isVisible, timeout=3000)
    assert QToolTip.text().startswith("<p>")
    label = next(w for w in QApplication.topLevelWidgets() if w.inherits("QTipLabel"))
    assert label.width() < 700


def _key(qtbot, window, key, modifier=Qt.KeyboardModifier.ControlModifier) -> None:
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=3000)
    qtbot.keyClick(window.graph, key, modifier)


def test_fit_shows_the_whole_graph_and_fit_width_its_width(qtbot, window):
    window.set_level("layer")
    qtbot.waitUntil(lambda: not window.is_busy(), timeout=10_000)
    view = window.graph
    _key(qtbot, window, Qt.Key.Key_0)
    shown = view.mapToScene(view.viewport().rect()).boundingRect()
    whole = view.scene().sceneRect()
    assert shown.contains(whole.adjusted(1, 1, -1, -1))  # the whole layer-level ResNet-50
    _key(qtbot, window, Qt.Key.Key_9)
    shown = view.mapToScene(view.viewport().rect()).boundingRect()
    assert shown.width() >= whole.width() - 2 and shown.height() < whole.height() / 3
    assert shown.top() <= whole.top() + 2  # from the start: the input and stem


def test_left_to_right_is_a_view_option_that_is_remembered(qtbot):
    win = _open(qtbot)
    try:
        _key(qtbot, win, Qt.Key.Key_4)
        qtbot.waitUntil(lambda: not win.is_busy(), timeout=10_000)
        layout = win.drawing.layout
        assert layout.direction == "LR" and layout.width > layout.height
        assert win.left_to_right_action.isChecked()
    finally:
        _close(qtbot, win)
    again = _open(qtbot)
    try:
        assert again.drawing.layout.direction == "LR"
    finally:
        _close(qtbot, again)


def _type_number(qtbot, box, text: str) -> None:
    box.setFocus()
    box.selectAll()
    qtbot.keyClicks(box, text)
    qtbot.keyClick(box, Qt.Key.Key_Return)


def test_one_batch_size_for_the_totals_and_the_numbers(qtbot, window):
    numbers = window.insights.numbers
    fit = window.insights.fit
    _type_number(qtbot, window.inspector.batch, "256")
    assert numbers.batch.value() == 256 and fit.batch.value() == 256
    window.insights.show("numbers")
    _type_number(qtbot, numbers.batch, "64")
    assert window.inspector.batch.value() == 64 and fit.batch.value() == 64


def test_dark_and_light_are_a_view_choice_that_redraws_and_is_remembered(qtbot, window):
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from designer.qt.appearance import KEY

    original = QApplication.palette().color(QApplication.palette().ColorRole.Base)
    try:
        window.scheme_actions["dark"].trigger()
        qtbot.waitUntil(lambda: not window.is_busy(), timeout=10_000)
        assert window.graph.backgroundBrush().color().lightness() < 80
        assert QSettings().value(KEY) == "dark"
        window.scheme_actions["light"].trigger()
        qtbot.waitUntil(lambda: not window.is_busy(), timeout=10_000)
        assert window.graph.backgroundBrush().color().lightness() > 200
    finally:
        window.scheme_actions["system"].trigger()
    assert QApplication.palette().color(QApplication.palette().ColorRole.Base) == original


def test_opening_the_insights_area_keeps_the_graph_fitted(qtbot, window):
    view = window.graph
    window.insights.show("compare")
    qtbot.waitUntil(lambda: window.insights.area.isVisible(), timeout=3000)
    qtbot.wait(50)
    shown = view.mapToScene(view.viewport().rect()).boundingRect()
    assert shown.top() <= view.scene().sceneRect().top() + 2  # the input is still in view
    assert shown.width() >= view.scene().sceneRect().width() - 2
