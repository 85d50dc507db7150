"""Editing on the graph with the mouse and keyboard: menus, title buttons, Delete, inline editor.

Every action must land in the document as one undoable edit, exactly as the form's.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QContextMenuEvent
from PySide6.QtWidgets import QApplication, QGraphicsPathItem, QMenu

from designer.core.analysis import analyse
from designer.qt.graph_view import ClusterItem, TitleButton
from tests.reference_figures import TORCHVISION_COUNTS


def _depths(window) -> list[int]:
    return [s.depth for s in window.document.design.stages]


def _redrawn(qtbot, window) -> None:
    qtbot.waitUntil(lambda: not window.is_busy(), timeout=10_000)


def _point(window, item) -> QPoint:
    view = window.graph
    view.ensureVisible(item, 40, 40)
    return view.mapFromScene(item.sceneBoundingRect().center())


def _frame(window, stage: int) -> ClusterItem:
    items = window.graph.scene().items()
    return next(i for i in items if isinstance(i, ClusterItem) and i.stage == stage)


def _right_click(qtbot, window, item, at: QPoint | None = None) -> QMenu:
    view = window.graph
    pos = at if at is not None else _point(window, item)
    viewport = view.viewport()
    qtbot.mouseClick(viewport, Qt.MouseButton.RightButton, pos=pos)
    menu = QApplication.activePopupWidget()
    if menu is None:  # a platform that opens menus on a separate context-menu event
        event = QContextMenuEvent(
            QContextMenuEvent.Reason.Mouse, pos, viewport.mapToGlobal(pos), Qt.KeyboardModifier(0)
        )
        QApplication.sendEvent(viewport, event)
        menu = QApplication.activePopupWidget()
    assert isinstance(menu, QMenu), "no menu opened"
    return menu


def _choose(qtbot, menu: QMenu, *path: str) -> None:
    """Click through ``path`` (submenu titles, then the item) with the mouse."""
    for i, text in enumerate(path):
        action = next(a for a in menu.actions() if a.text().split("\t")[0] == text)
        rect = menu.actionGeometry(action)
        if i < len(path) - 1:
            qtbot.mouseMove(menu, rect.center())
            qtbot.mouseClick(menu, Qt.MouseButton.LeftButton, pos=rect.center())
            qtbot.waitUntil(lambda a=action: a.menu().isVisible(), timeout=3000)
            menu = action.menu()
        else:
            qtbot.mouseClick(menu, Qt.MouseButton.LeftButton, pos=rect.center())


def test_right_click_a_stage_frame_adds_a_block_and_undo_takes_it_back(qtbot, window):
    frame = _frame(window, 2)
    window.graph.ensureVisible(frame.title_rect)
    title = window.graph.mapFromScene(frame.title_rect.center())
    menu = _right_click(qtbot, window, frame, title)
    _choose(qtbot, menu, "Add a Block")
    assert _depths(window) == [3, 4, 7, 3]
    _redrawn(qtbot, window)
    assert "7 blocks" in window.graph.graph.graph["stage_labels"][2]
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=3000)
    qtbot.keyClick(window.graph, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert _depths(window) == [3, 4, 6, 3]


def test_split_a_stage_at_a_block_keeps_the_network(qtbot, window):
    menu = _right_click(qtbot, window, window.graph.nodes["layer3.2"])
    _choose(qtbot, menu, "Split the Stage Here")
    assert _depths(window) == [3, 4, 2, 4, 3]
    assert analyse(window.document.design).params == TORCHVISION_COUNTS["resnet50"].params
    assert window.document.undo_stack.undoText() == "Split the Stage Here"


def test_downsample_here_and_a_stage_submenu(qtbot, window):
    menu = _right_click(qtbot, window, window.graph.nodes["layer1.1"])
    _choose(qtbot, menu, "Downsample Here (stride 2)")
    assert _depths(window) == [1, 2, 4, 6, 3]
    assert window.document.design.stages[1].stride == 2
    _redrawn(qtbot, window)
    menu = _right_click(qtbot, window, window.graph.nodes["layer4.0"])
    _choose(qtbot, menu, "Stage layer4", "Width", "Double (512)")
    assert window.document.design.stages[3].width == 512


def test_delete_removes_the_selected_block_then_the_stage(qtbot, window):
    view = window.graph
    node = view.nodes["layer4.1"]
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=_point(window, node))
    assert node.isSelected()
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    assert _depths(window) == [3, 4, 6, 2]
    _redrawn(qtbot, window)
    frame = _frame(window, 3)
    view.ensureVisible(frame.title_rect)
    title = view.mapFromScene(frame.title_rect.center())
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=title)
    assert frame.isSelected()
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    assert _depths(window) == [3, 4, 6]


def test_title_buttons_add_and_remove(qtbot, window):
    buttons = {b.action: b for b in _frame(window, 0).buttons}
    assert all(isinstance(b, TitleButton) for b in buttons.values())
    qtbot.mouseClick(
        window.graph.viewport(), Qt.MouseButton.LeftButton, pos=_point(window, buttons["add"])
    )
    assert _depths(window) == [4, 4, 6, 3]
    _redrawn(qtbot, window)
    buttons = {b.action: b for b in _frame(window, 0).buttons}
    qtbot.mouseClick(
        window.graph.viewport(), Qt.MouseButton.LeftButton, pos=_point(window, buttons["remove"])
    )
    assert _depths(window) == [3, 4, 6, 3]


def test_double_click_the_stem_opens_an_editor_that_applies_on_enter(qtbot, window):
    view = window.graph
    qtbot.mouseDClick(
        view.viewport(), Qt.MouseButton.LeftButton, pos=_point(window, view.nodes["stem"])
    )
    editor = window.graph_editor.editor
    assert editor is not None and editor.isVisible()
    width = editor.fields["stem.width"]
    width.selectAll()
    qtbot.keyClicks(width, "32")
    qtbot.keyClick(width, Qt.Key.Key_Return)
    assert window.document.design.stem.width == 32
    assert not editor.isVisible()


def test_the_inline_editor_keeps_a_refused_value_and_says_why(qtbot, window):
    view = window.graph
    qtbot.mouseDClick(
        view.viewport(), Qt.MouseButton.LeftButton, pos=_point(window, view.nodes["layer2.0"])
    )
    editor = window.graph_editor.editor
    before = window.document.design
    block = editor.fields["block"]
    block.setFocus()
    # a pre-activation block in a post-activation network is refused with the fix
    index = block.findText("preact_basic")
    for _ in range(index):
        qtbot.keyClick(block, Qt.Key.Key_Down)
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    assert window.document.design == before
    assert editor.isVisible() and "use one of" in editor.error.text()


def test_an_impossible_action_is_one_line_and_changes_nothing(qtbot, window):
    before = window.document.design
    menu = _right_click(qtbot, window, window.graph.nodes["layer4.2"])
    _choose(qtbot, menu, "Merge with the Next Stage")
    assert window.document.design == before
    assert "no next stage" in window.statusBar().currentMessage()
    assert window.document.error is None  # the form is not put in an error state


def test_block_level_shows_each_blocks_shortcut(qtbot, window):
    arcs = {
        node: [c for c in item.childItems() if isinstance(c, QGraphicsPathItem)]
        for node, item in window.graph.nodes.items()
        if item.kind == "block"
    }
    assert len(arcs) == 16 and all(len(a) == 1 for a in arcs.values())
    assert arcs["layer1.0"][0].toolTip() == "shortcut: projection"
    assert arcs["layer1.1"][0].toolTip() == "shortcut: identity"


def test_layer_level_nodes_open_their_blocks_menu(qtbot, window):
    window.set_level("layer")
    _redrawn(qtbot, window)
    menu = _right_click(qtbot, window, window.graph.nodes["layer2.1.conv2"])
    assert menu.actions()[0].text() == "Block layer2.1"
    _choose(qtbot, menu, "Add a Block")
    assert _depths(window) == [3, 5, 6, 3]


def test_the_block_editor_sets_the_stages_own_options(qtbot, window):
    view = window.graph
    qtbot.mouseDClick(
        view.viewport(), Qt.MouseButton.LeftButton, pos=_point(window, view.nodes["layer3.1"])
    )
    editor = window.graph_editor.editor
    qtbot.keyClicks(editor.fields["groups"], "32")
    qtbot.keyClicks(editor.fields["width_per_group"], "4")
    qtbot.keyClicks(editor.fields["se_ratio"], "x")
    qtbot.keyClick(editor.fields["se_ratio"], Qt.Key.Key_Return)
    assert "write a number" in editor.error.text()  # one line, and the editor stays
    editor.fields["se_ratio"].clear()
    qtbot.keyClick(editor.fields["se_ratio"], Qt.Key.Key_Return)
    stage = window.document.design.stages[2]
    assert (stage.groups, stage.width_per_group, stage.se_ratio) == (32, 4, None)
    # the stage is now as in torchvision's resnext50_32x4d: its 3x3 is 512 wide, 32 groups
    qtbot.waitUntil(lambda: not window.is_busy(), timeout=10_000)
    conv = next(x for x in window.analyses.analysis.layers if x.name == "layer3.1.conv2")
    assert (conv.groups, conv.input_shape[0]) == (32, 512)
