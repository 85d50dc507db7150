"""The graph as a user meets it in the window: the stride a block label shows, a lint
finding's control outlined, hovered and selected nodes drawn differently."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QStyleOptionGraphicsItem


def _type(qtbot, box, text: str) -> None:
    box.setFocus()
    box.selectAll()
    qtbot.keyClicks(box, text)
    qtbot.keyClick(box, Qt.Key.Key_Return)


def test_a_typed_stride_of_9_reads_stride_9_on_the_graph(qtbot, window):
    # 56x56 at stride 9 is 7x7: a size ratio of 8, so a label read off the sizes says 8
    _type(qtbot, window.panel.stages.spin(1, "stride"), "9")
    assert window.document.design.stages[1].stride == 9
    qtbot.waitUntil(lambda: not window.is_busy(), timeout=10_000)
    label = window.graph.graph.nodes["layer2.0"]["label"]
    assert "stride 9" in label and "stride 8" not in label


def test_clicking_a_lint_finding_outlines_its_control(qtbot, window):
    _type(qtbot, window.panel.stages.spin(1, "stride"), "9")  # lint: an odd, big stride
    qtbot.waitUntil(lambda: not window.is_busy(), timeout=10_000)
    window.insights.show("lint")
    lint = window.insights.lint
    qtbot.waitUntil(lambda: lint.table.rowCount() > 0, timeout=5000)
    rect = lint.table.visualItemRect(lint.table.item(0, 2))
    qtbot.mouseClick(lint.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    control = window.panel.widget_for(lint.findings[0].field)
    assert control is not None and control.property("pointed") is True
    assert "outlined" in window.statusBar().currentMessage()


def _paint(item) -> QImage:
    rect = item.boundingRect().toAlignedRect()
    image = QImage(rect.size(), QImage.Format.Format_ARGB32)
    image.fill(0)
    painter = QPainter(image)
    painter.translate(-rect.topLeft())
    option = QStyleOptionGraphicsItem()
    option.exposedRect = QRectF(rect)
    item.paint(painter, option, None)
    painter.end()
    return image


def test_hovered_and_selected_nodes_look_different(qtbot, window):
    node = window.graph.nodes["layer2.1"]
    plain = _paint(node)
    node._hover = True
    hovered = _paint(node)
    node._hover = False
    node.setSelected(True)
    selected = _paint(node)
    assert plain != hovered and plain != selected
    assert hovered != selected  # they shared one outline style
