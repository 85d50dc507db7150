"""The design form, driven with real keys, clicks and wheel events.

Undo from any field (typed text is applied first; a refused value is discarded before
any step is undone), limits named when a keystroke hits them, absurd sizes flagged, an
unfocused field ignoring the wheel, lint findings pointing at a highlighted control, the
preset box naming the preset the design is, and the stage table in the Tab order.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QPointF, QRect, Qt
from PySide6.QtGui import QAction, QWheelEvent
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QLineEdit,
    QToolTip,
    QTreeWidget,
    QWidget,
)

from designer.core.lint import lint
from designer.core.presets import load_preset
from designer.qt import confirm
from designer.qt.design_panel import INVALID, POINTED
from designer.qt.shortcuts import plain, shortcuts_dialog

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


@pytest.fixture
def win(window):
    """The window, active, so its shortcuts (Undo, Redo) reach it."""
    window.activateWindow()
    return window


def _focused() -> QWidget:
    widget = QApplication.focusWidget()
    assert widget is not None
    return widget


def _type_into(qtbot, widget: QWidget, text: str) -> None:
    """Click into a field, select what it holds and type ``text`` (nothing applied yet)."""
    target = widget.lineEdit() if isinstance(widget, QAbstractSpinBox) else widget
    qtbot.mouseClick(target, Qt.MouseButton.LeftButton)
    assert widget.hasFocus()
    qtbot.keyClick(widget, Qt.Key.Key_A, CTRL)
    qtbot.keyClicks(widget, text)


def _undo(qtbot) -> None:
    qtbot.keyClick(_focused(), Qt.Key.Key_Z, CTRL)


def _redo(qtbot) -> None:
    qtbot.keyClick(_focused(), Qt.Key.Key_Z, CTRL | SHIFT)


# -- Undo and Redo from a field ---------------------------------------------------------
def test_undo_and_redo_work_in_the_field_tab_leads_to(qtbot, win):
    original = win.document.design
    depth = win.panel.stages.spin(2, "depth")
    _type_into(qtbot, depth, "23")
    qtbot.keyClick(depth, Qt.Key.Key_Tab)
    deeper = original.with_stage(2, depth=23)
    assert win.document.design == deeper
    assert isinstance(_focused(), QAbstractSpinBox) and _focused() is not depth  # the width

    _undo(qtbot)
    assert win.document.design == original
    assert depth.value() == 6
    _redo(qtbot)
    assert win.document.design == deeper
    assert depth.value() == 23


def test_undo_applies_typed_text_first_so_redo_brings_it_back(qtbot, win):
    original = win.document.design
    depth = win.panel.stages.spin(2, "depth")
    _type_into(qtbot, depth, "23")  # no Enter, no Tab: typed, not applied
    assert win.document.design == original

    _undo(qtbot)
    assert win.document.design == original
    assert depth.text() == "6"  # the field shows the design again
    _redo(qtbot)
    assert win.document.design == original.with_stage(2, depth=23)


def test_undo_in_a_text_field_undoes_the_rename(qtbot, win):
    original = win.document.design
    name = win.panel.widgets["name"]
    _type_into(qtbot, name, "Mine")
    qtbot.keyClick(name, Qt.Key.Key_Return)  # applied; the cursor stays in the field
    assert win.document.design.name == "Mine" and name.hasFocus()

    _undo(qtbot)
    assert win.document.design == original
    assert name.text() == original.name
    _redo(qtbot)
    assert win.document.design.name == "Mine" and name.text() == "Mine"


# -- an invalid value is discarded first -------------------------------------------
def test_undo_discards_an_invalid_value_before_the_edit_before_it(qtbot, win):
    original = win.document.design
    name = win.panel.widgets["name"]
    _type_into(qtbot, name, "Mine")
    qtbot.keyClick(name, Qt.Key.Key_Tab)
    renamed = original.replace(name="Mine")
    assert win.document.design == renamed

    width = win.panel.stages.spin(1, "width")
    _type_into(qtbot, width, "0")
    qtbot.keyClick(width, Qt.Key.Key_Tab)
    assert win.document.error is not None and win.document.error[1] == "stages[1].width"
    assert width.property(INVALID) is True and win.panel.error_label.isVisible()

    _undo(qtbot)  # the first Undo throws the 0 away, and only that
    assert win.document.design == renamed
    assert win.document.error is None and not win.panel.error_label.isVisible()
    assert width.value() == 128 and not width.property(INVALID)
    assert win.error_label.isHidden()  # the window's status line and greyed views too

    _undo(qtbot)  # the second undoes the rename
    assert win.document.design == original
    assert name.text() == original.name


def test_undo_discards_an_invalid_value_typed_and_not_applied(qtbot, win):
    original = win.document.design
    assert win.document.undo_stack.count() == 0  # nothing to undo but the typed value
    width = win.panel.stages.spin(1, "width")
    _type_into(qtbot, width, "0")
    _undo(qtbot)
    assert win.document.design == original and win.document.error is None
    assert width.value() == 128 and not width.property(INVALID)
    assert win.document.undo_stack.count() == 0


def test_undo_discards_invalid_head_widths_in_the_text_field(qtbot, win):
    original = win.document.design
    hidden = win.panel.widgets["head.hidden"]
    _type_into(qtbot, hidden, "512, abc")
    qtbot.keyClick(hidden, Qt.Key.Key_Return)
    assert win.document.error is not None and hidden.property(INVALID) is True
    _undo(qtbot)
    assert win.document.design == original and win.document.error is None
    assert isinstance(hidden, QLineEdit) and hidden.text() == ""


# -- limits said when hit; absurd sizes flagged -----------------------------------------------
def test_a_keystroke_over_the_limit_is_named_not_dropped_silently(qtbot, win):
    heard: list[str] = []
    win.panel.limitHit.connect(heard.append)
    stride = win.panel.stages.spin(2, "stride")
    _type_into(qtbot, stride, "99")
    assert stride.text() == "9"  # Qt still refuses the second 9
    expected = "Stage 3 stride is at most 64 (99 was not taken)"
    assert win.panel.error_label.isVisible() and win.panel.error_label.text() == expected
    assert heard == [expected]
    assert QToolTip.isVisible() and QToolTip.text() == expected  # beside the box too
    qtbot.keyClick(stride, Qt.Key.Key_Return)  # the 9 applies and the note goes
    assert win.document.design.stages[2].stride == 9
    assert not win.panel.error_label.isVisible()


def test_a_network_field_over_its_limit_is_named(qtbot, win):
    dropout = win.panel.widgets["head.dropout"]
    _type_into(qtbot, dropout, "5")
    assert win.panel.error_label.text() == "Dropout is at most 1 (5 was not taken)"


def test_an_absurd_width_is_flagged_in_the_totals_and_not_confirmed(qtbot, win, monkeypatch):
    width = win.panel.stages.spin(2, "width")
    _type_into(qtbot, width, "2000000")
    qtbot.keyClick(width, Qt.Key.Key_Return)
    design = win.document.design
    assert design.stages[2].width == 2_000_000  # valid: within every hard limit
    note = win.inspector.size_note
    qtbot.waitUntil(lambda: note.isVisible(), timeout=5000)
    assert note.text().startswith("⚠ Beyond any real network: ")
    assert "absurd-size" in {f.code for f in lint(design)}

    def no_torchinfo(_design):
        raise AssertionError("torchinfo ran on an absurd design")

    monkeypatch.setattr(confirm, "totals_in_helper", no_torchinfo)
    win.confirmer.start_now()
    assert win.confirmer.last == (False, confirm.TOO_BIG)
    assert win.inspector.confirm_label.text() == confirm.TOO_BIG

    _type_into(qtbot, width, "256")  # back to a real size: the note goes
    qtbot.keyClick(width, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not note.isVisible(), timeout=5000)


# -- the wheel over an unfocused field ----------------------------------------------------
def _wheel(widget: QWidget, steps: int = 1) -> None:
    centre = QPointF(widget.width() / 2, widget.height() / 2)
    event = QWheelEvent(
        centre,
        QPointF(widget.mapToGlobal(centre.toPoint())),
        QPoint(0, 0),
        QPoint(0, 120 * steps),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, event)


def test_the_wheel_scrolls_past_unfocused_fields_and_steps_a_clicked_one(qtbot, win):
    original = win.document.design
    classes = win.panel.widgets["num_classes"]
    block = win.panel.widgets["block"]
    win.graph.setFocus()
    for widget in (classes, block, win.panel.stages.spin(0, "depth")):
        _wheel(widget)
    assert win.document.design == original and classes.value() == 1000

    qtbot.mouseClick(classes.lineEdit(), Qt.MouseButton.LeftButton)
    _wheel(classes)
    assert classes.value() == 1001 and win.document.design.num_classes == 1001


# -- lint findings point at a highlighted control -------------------------------------------
def _in_viewport(win, widget: QWidget) -> bool:
    viewport = win.panel_scroll.viewport()
    top_left = widget.mapTo(viewport, QPoint(0, 0))
    return viewport.rect().contains(top_left) and viewport.rect().contains(
        top_left + QPoint(widget.width() - 1, widget.height() - 1)
    )


def test_point_at_scrolls_to_focuses_and_highlights_the_control(qtbot, win):
    win.resize(1280, 640)  # the form is taller than its pane: it scrolls
    qtbot.waitUntil(lambda: win.panel_scroll.verticalScrollBar().maximum() > 0, timeout=3000)
    win.panel_scroll.verticalScrollBar().setValue(0)
    target = win.panel.widgets["input.width"]
    assert not _in_viewport(win, target)

    assert win.panel.point_at("input.width") is True
    qtbot.waitUntil(lambda: _in_viewport(win, target), timeout=2000)
    assert target.hasFocus() and target.property(POINTED) is True
    halo = win.panel.halo
    assert halo is not None and halo.isVisible() and halo.target is target
    assert halo.geometry().contains(QRect(target.mapTo(win.panel, QPoint()), target.size()))
    qtbot.waitUntil(lambda: not target.property(POINTED), timeout=4000)  # it fades
    assert win.panel.halo is None or not win.panel.halo.isVisible()


def test_point_at_a_stage_option_reveals_it_and_says_so_for_unknown_fields(qtbot, win):
    win.resize(1280, 640)
    assert not win.panel.stages.options_visible()
    assert win.panel.point_at("stages[3].se_ratio") is True
    cell = win.panel.stages.option(3, "se_ratio")
    assert win.panel.stages.options_visible() and cell.property(POINTED) is True
    qtbot.waitUntil(lambda: cell.isVisible() and _in_viewport(win, cell), timeout=2000)
    assert cell.hasFocus()
    assert win.panel.point_at("no.such.field") is False


def test_a_highlight_outlives_the_stage_rows_it_pointed_into(qtbot, win):
    assert win.panel.point_at("stages[1].depth") is True
    qtbot.mouseClick(win.panel.stages.add_button, Qt.MouseButton.LeftButton)  # rows rebuilt
    assert len(win.document.design.stages) == 5
    qtbot.waitUntil(lambda: win.panel.halo is None, timeout=4000)  # it goes, quietly


# -- the preset box names the preset the design is ----------------------------------------
def test_the_preset_box_names_the_preset_whatever_the_name(qtbot, win):
    preset = win.panel.preset
    assert preset.currentText() == "resnet50"
    _type_into(qtbot, win.panel.widgets["name"], "My ResNet")
    qtbot.keyClick(win.panel.widgets["name"], Qt.Key.Key_Return)
    assert preset.currentText() == "resnet50"  # renamed: still resnet50's network

    expansion = win.panel.stages.spin(0, "expansion")  # 'auto' is 4 for bottlenecks
    _type_into(qtbot, expansion, "4")
    qtbot.keyClick(expansion, Qt.Key.Key_Return)
    assert win.document.design.stages[0].expansion == 4
    assert preset.currentText() == "resnet50"  # the same network

    depth = win.panel.stages.spin(2, "depth")
    _type_into(qtbot, depth, "23")
    qtbot.keyClick(depth, Qt.Key.Key_Return)
    assert preset.currentText() == "resnet101"
    _type_into(qtbot, depth, "22")
    qtbot.keyClick(depth, Qt.Key.Key_Return)
    assert preset.currentText() == "Custom design"


def test_new_shows_the_preset_it_starts_from(qtbot, win):
    win.new_action.trigger()
    assert win.document.design.name != load_preset("resnet50").name  # "Untitled"
    assert win.panel.preset.currentText() == "resnet50"


# -- the Tab order -------------------------------------------------------------------------
def _tab_chain(qtbot, start: QWidget, count: int, key=Qt.Key.Key_Tab) -> list[QWidget]:
    start.setFocus()
    chain = [_focused()]
    for _ in range(count):
        qtbot.keyClick(_focused(), key)
        chain.append(_focused())
    return chain


def test_tab_goes_through_the_stage_table_and_its_buttons_and_out(qtbot, win):
    panel, stages = win.panel, win.panel.stages
    last_network = panel.widgets["stem.norm_act"]
    rows = len(win.document.design.stages)
    chain = _tab_chain(qtbot, last_network, 1 + 4 * rows + 4 + 1)
    assert chain[1] is stages.options_toggle
    cells = [w for r in range(rows) for w in stages.spins[r]]
    assert chain[2 : 2 + 4 * rows] == cells
    buttons = [stages.add_button, stages.remove_button, stages.up_button, stages.down_button]
    assert chain[2 + 4 * rows : 6 + 4 * rows] == buttons
    assert chain[-1] is panel.widgets["groups"]  # out, into the blocks' fields

    back = _tab_chain(qtbot, stages.add_button, 2, Qt.Key.Key_Backtab)
    assert back[1:] == [stages.spin(rows - 1, "expansion"), stages.spin(rows - 1, "stride")]


def test_focusing_a_stage_cell_selects_its_row_for_the_buttons(qtbot, win):
    stages = win.panel.stages
    qtbot.mouseClick(stages.spin(2, "width").lineEdit(), Qt.MouseButton.LeftButton)
    assert stages.selected_row() == 2
    original = win.document.design
    chain = _tab_chain(qtbot, stages.spin(1, "expansion"), 1, Qt.Key.Key_Backtab)
    assert chain[-1] is stages.spin(1, "stride") and stages.selected_row() == 1
    stages.up_button.setFocus()
    qtbot.keyClick(stages.up_button, Qt.Key.Key_Space)  # moves the stage focused last
    assert win.document.design.stages[0] == original.stages[1]


def test_the_per_stage_options_are_in_the_tab_order_when_shown(qtbot, win):
    stages = win.panel.stages
    stages.show_options(True)
    chain = _tab_chain(qtbot, stages.options_toggle, 3)
    assert chain[1:] == [stages.option(0, key) for key in ("block", "groups", "width_per_group")]


# -- Help > Keyboard Shortcuts -------------------------------------------------------------------
def test_the_shortcuts_page_lists_the_window_actions_and_the_gestures(qtbot, window):
    dialog = shortcuts_dialog(window)
    qtbot.addWidget(dialog)
    tree = dialog.findChild(QTreeWidget, "shortcuts")
    tops = [tree.topLevelItem(i) for i in range(tree.topLevelItemCount())]
    groups = {
        top.text(0): {top.child(j).text(0): top.child(j).text(1) for j in range(top.childCount())}
        for top in tops
    }
    assert list(groups)[:3] == ["File", "Edit", "View"]  # the menu bar's order
    assert groups["File"]["Save"] == window.save_action.shortcut().toString()
    assert groups["View"]["Fit to Window"] == "Ctrl+0"
    assert "Ctrl+Shift+Z" in groups["Edit"][plain(window.redo_action.text())]
    gestures = groups["Mouse and keys: Graph"]
    assert gestures["Collapse the stage into one node"] == "Double-click a stage's frame"
    listed = {text for rows in groups.values() for text in rows}
    for action in window.findChildren(QAction):
        if any(not key.isEmpty() for key in action.shortcuts()):
            assert plain(action.text()) in listed, action.text()


# -- a block kind's own options show only where a block of that kind is -----------------------
def test_a_kinds_own_options_show_only_for_that_kind(qtbot, win):
    widgets = win.panel.widgets
    assert not widgets["scale"].isVisible() and not widgets["radix"].isVisible()
    assert widgets["groups"].isVisible()  # the common options stay in view
    block = widgets["block"]
    block.setFocus()
    qtbot.keyClicks(block, "res2")  # the combo's keyboard search picks res2net
    qtbot.waitUntil(lambda: win.document.design.block == "res2net", timeout=3000)
    assert widgets["scale"].isVisible() and not widgets["radix"].isVisible()
    assert not widgets["sk_ratio"].isVisible()
    _undo(qtbot)
    qtbot.waitUntil(lambda: win.document.design.block == "bottleneck", timeout=3000)
    assert not widgets["scale"].isVisible()
