"""The graph view: the design's graph as interactive scene items (centre of the window).

It draws a finished ``(graph, layout)`` pair made by a worker; it computes
nothing itself. Zoom with the wheel, pan by dragging, double-click a stage
frame (or a collapsed stage) to collapse or expand it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetricsF,
    QPainter,
    QPainterPath,
    QPalette,
    QPen,
    QPolygonF,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsPolygonItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSceneMouseEvent,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QStyleOptionGraphicsItem,
    QWidget,
)

from designer.core.report import human_count, shape_text

# fill hues per node kind (graph.py's drawing categories); lightness follows the palette
KIND_HUES: dict[str, tuple[int, int]] = {  # kind -> (hue, saturation)
    "conv": (215, 150),
    "norm": (140, 110),
    "act": (40, 170),
    "pool": (270, 110),
    "linear": (340, 130),
    "add": (25, 200),
    "mul": (25, 200),
    "block": (205, 120),
    "stem": (175, 110),
    "head": (340, 110),
    "stage": (230, 60),
    "input": (0, 0),
    "flatten": (0, 0),
    "dropout": (0, 0),
    "pad": (0, 0),
}
SKIP_COLOR = QColor(230, 120, 20)
NODE_FONT_PX = 10
# Below these zoom levels a node is drawn as a plain box, or without its label.
LOD_BOX_ONLY = 0.2
LOD_NO_TEXT = 0.45
SLICE_MS = 10.0  # item building per event-loop turn (the UI must never stall 50 ms)
CHECK_EVERY = 16  # items between clock checks
RETIRE_BATCH = 500


@dataclass(frozen=True)
class Colors:
    background: QColor
    text: QColor
    edge: QColor
    cluster: QColor
    cluster_border: QColor
    accent: QColor
    dark: bool

    @staticmethod
    def from_palette(palette: QPalette) -> Colors:
        dark = palette.color(QPalette.ColorRole.Window).lightness() < 128
        base = palette.color(QPalette.ColorRole.Base)
        text = palette.color(QPalette.ColorRole.Text)
        cluster = QColor(base).darker(106) if not dark else QColor(base).lighter(135)
        return Colors(
            background=base,
            text=text,
            edge=QColor(110, 110, 120) if not dark else QColor(165, 165, 175),
            cluster=cluster,
            cluster_border=QColor(cluster).darker(125) if not dark else cluster.lighter(150),
            accent=palette.color(QPalette.ColorRole.Highlight),
            dark=dark,
        )

    def fill(self, kind: str) -> QColor:
        hue, sat = KIND_HUES.get(kind, (0, 0))
        if self.dark:
            return QColor.fromHsl(hue, min(sat, 120), 62)
        return QColor.fromHsl(hue, sat, 228)


def node_tooltip(node_id: str, attrs: dict[str, Any]) -> str:
    lines = [f"<b>{attrs.get('label', node_id)}</b>", f"{attrs.get('op', '')} · {node_id}"]
    if attrs.get("input_shape") is not None:
        lines.append(f"in:  {shape_text(attrs['input_shape'])}")
    if attrs.get("output_shape") is not None:
        lines.append(f"out: {shape_text(attrs['output_shape'])}")
    if attrs.get("params"):
        lines.append(f"params: {attrs['params']:,} ({human_count(attrs['params'])})")
    if attrs.get("macs"):
        lines.append(f"MACs: {attrs['macs']:,} ({human_count(attrs['macs'])})")
    if attrs.get("kind") == "stage":
        lines.append("<i>double-click to expand</i>")
    return "<br>".join(lines)


class NodeItem(QGraphicsRectItem):
    """A node: geometry in C++ (no Python call per paint of other nodes), drawing in paint()."""

    def __init__(
        self, node_id: str, attrs: dict[str, Any], rect: QRectF, colors: Colors, font: QFont
    ) -> None:
        super().__init__(rect)
        # never drawn (paint() draws the node): it only gives the C++ bounding rect the
        # margin that the 3-px selection outline needs
        self.setPen(QPen(QColor(0, 0, 0, 0), 6.0))
        self.node_id = node_id
        self.attrs = attrs
        self._rect = rect
        self._colors = colors
        self._font = font
        self._hover = False
        self._text: str | None = None  # the elided label, made on first paint
        self.setAcceptHoverEvents(True)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable, True)
        self.setToolTip(node_tooltip(node_id, attrs))
        self.setZValue(2)

    @property
    def kind(self) -> str:
        return str(self.attrs.get("kind", ""))

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        c = self._colors
        r = self._rect
        fill = c.fill(self.kind)
        # Level of detail: zoomed far out (a whole ResNet-1001 on screen) text is
        # illegible and thousands of text layouts would stall the UI thread.
        lod = option.levelOfDetailFromTransform(painter.worldTransform())  # type: ignore[attr-defined]
        if lod < LOD_BOX_ONLY:
            painter.fillRect(r, c.accent if self.isSelected() else fill)
            return
        selected = self.isSelected()
        pen = QPen(c.accent if selected else fill.darker(150 if not c.dark else 60))
        pen.setWidthF(3.0 if selected else (1.8 if self._hover else 1.0))
        if self._hover and not selected:
            pen.setColor(c.accent)
        painter.setPen(pen)
        painter.setBrush(QBrush(fill))
        if self.kind in ("add", "mul"):
            side = min(r.width(), r.height())
            circle = QRectF(0, 0, side, side)
            circle.moveCenter(r.center())
            painter.drawEllipse(circle)
        else:
            radius = min(8.0, r.height() / 3)
            painter.drawRoundedRect(r, radius, radius)
        if lod < LOD_NO_TEXT:
            return
        painter.setPen(c.text)
        painter.setFont(self._font)
        painter.drawText(r, Qt.AlignmentFlag.AlignCenter, self._elided_label())

    def _elided_label(self) -> str:
        if self._text is None:
            metrics = QFontMetricsF(self._font)
            label = str(self.attrs.get("label", self.node_id))
            self._text = metrics.elidedText(
                label, Qt.TextElideMode.ElideRight, self._rect.width() - 8
            )
        return self._text

    def hoverEnterEvent(self, event: Any) -> None:
        self._hover = True
        self.update()
        super().hoverEnterEvent(event)

    def hoverLeaveEvent(self, event: Any) -> None:
        self._hover = False
        self.update()
        super().hoverLeaveEvent(event)

    def mouseDoubleClickEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        stage = self.attrs.get("stage")
        scene = self.scene()
        if self.kind == "stage" and isinstance(scene, GraphScene) and stage is not None:
            scene.stageToggled.emit(int(stage))
            return
        super().mouseDoubleClickEvent(event)


class ClusterItem(QGraphicsRectItem):
    """The frame around one stage, titled beside its top right; double-click collapses it."""

    def __init__(self, stage: int, label: str, rect: QRectF, colors: Colors, font: QFont) -> None:
        super().__init__(rect)
        self.stage = stage
        self._label = label
        self._colors = colors
        self._font = font
        metrics = QFontMetricsF(font)
        # dot leaves no room for a title inside the frame, so it sits just outside, right
        self._title = QRectF(
            rect.right() + 8, rect.top(), metrics.horizontalAdvance(label) + 4, metrics.height()
        )
        self.setZValue(0)
        self.setToolTip(f"{label}<br><i>double-click to collapse this stage</i>")

    def boundingRect(self) -> QRectF:
        return super().boundingRect().united(self._title)

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        c = self._colors
        painter.setPen(QPen(c.cluster_border, 1.0, Qt.PenStyle.DashLine))
        painter.setBrush(c.cluster)
        painter.drawRoundedRect(self.rect(), 10, 10)
        painter.setPen(c.text)
        painter.setFont(self._font)
        painter.drawText(
            self._title, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, self._label
        )

    def mouseDoubleClickEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        scene = self.scene()
        if isinstance(scene, GraphScene):
            scene.stageToggled.emit(self.stage)


class EdgeItem(QGraphicsPathItem):
    def __init__(
        self,
        points: tuple[tuple[float, float], ...],
        shape: Any,
        skip: bool,
        colors: Colors,
    ) -> None:
        super().__init__()
        self.skip = skip
        pts = [QPointF(x, y) for x, y in points]
        path = QPainterPath(pts[0])
        for p in pts[1:]:  # the layout samples curves into polylines already
            path.lineTo(p)
        color = SKIP_COLOR if skip else colors.edge
        pen = QPen(color, 2.0 if skip else 1.4)
        if skip:
            pen.setStyle(Qt.PenStyle.DashLine)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        self.setPen(pen)
        self.setPath(path)
        self.setZValue(1)
        kind = "skip (shortcut) path" if skip else "tensor"
        self.setToolTip(f"{kind}: {shape_text(shape) if shape is not None else '?'}")
        self.setAcceptHoverEvents(True)
        # a child item, so the edge needs no Python paint(): every geometry query of a
        # big scene stays in C++ (the hover area is the drawn line itself)
        arrow = QGraphicsPolygonItem(
            _arrow_head(pts[-2] if len(pts) > 1 else pts[0], pts[-1]), self
        )
        arrow.setPen(QPen(Qt.PenStyle.NoPen))
        arrow.setBrush(color)
        self._color = color
        self._shape_value = shape
        self._label: QGraphicsSimpleTextItem | None = None

    def show_label(self, on: bool, font: QFont) -> None:
        if not on:
            if self._label is not None:
                self._label.hide()
            return
        if self._label is None:
            text = shape_text(self._shape_value) if self._shape_value is not None else ""
            label = QGraphicsSimpleTextItem(text, self)
            label.setFont(font)
            label.setBrush(self.pen().color())
            path = self.path()
            mid = path.pointAtPercent(0.5)
            label.setPos(mid.x() + 4, mid.y() - label.boundingRect().height() / 2)
            self._label = label
        self._label.show()


def _arrow_head(tail: QPointF, tip: QPointF) -> QPolygonF:
    """The arrow's triangle, drawn by its edge (one item per edge, not two)."""
    dx, dy = tip.x() - tail.x(), tip.y() - tail.y()
    length = max((dx * dx + dy * dy) ** 0.5, 1e-6)
    ux, uy = dx / length, dy / length
    size = 7.0
    left = QPointF(tip.x() - ux * size - uy * size * 0.5, tip.y() - uy * size + ux * size * 0.5)
    right = QPointF(tip.x() - ux * size + uy * size * 0.5, tip.y() - uy * size - ux * size * 0.5)
    return QPolygonF([tip, left, right])


class GraphScene(QGraphicsScene):
    stageToggled = Signal(int)


class GraphView(QGraphicsView):
    """Draws a laid-out graph; emits the node the user clicks."""

    nodeSelected = Signal(str)  # node id, "" when cleared
    stageToggled = Signal(int)
    drawn = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._scene = GraphScene(self)
        self._scene.stageToggled.connect(self.stageToggled)
        self._scene.selectionChanged.connect(self._selection_changed)
        self.setScene(self._scene)
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setToolTip("")
        self.nodes: dict[str, NodeItem] = {}
        self.graph: Any = None
        self._root: QGraphicsRectItem | None = None
        self._by_name: dict[str, str] = {}
        self._by_block: dict[str, str] = {}
        self._by_stage: dict[int, str] = {}
        self._muting = False
        self.stale = False
        self.user_zoomed = False
        self.edges: list[EdgeItem] = []
        self.edge_labels = False
        self._build: Iterator[None] | None = None
        self._building_root: QGraphicsItem | None = None
        self._retired: list[QGraphicsItem] = []  # old drawings' items, deleted in slices
        self.builds_dropped = 0  # unfinished builds replaced by newer ones (tests read it)
        # A BSP index, so a repaint or a hover visits only the items under the exposed
        # rect, not all of a 20,000-item drawing. Its upkeep stays cheap because item
        # geometry lives in C++ (rect, path and polygon items) and each build slice
        # registers only its own items under a hidden root (see _make_items).
        self._scene.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.BspTreeIndex)

    # -- drawing ----------------------------------------------------------------------
    def show_graph(self, graph: Any, layout: Any, *, refit: bool) -> None:
        """Replace the scene with ``graph`` placed at ``layout`` (a core.layout.Layout).

        Items are made in slices of at most SLICE_MS per event-loop turn, off the scene,
        so a 3,000-node layer graph never freezes the window; the old drawing stays up
        until the new one is complete, and a newer call drops an unfinished build.
        """
        self.cancel_build()
        self._build = self._make_items(graph, layout, refit)
        self._step_build()

    @property
    def building(self) -> bool:
        return self._build is not None

    def cancel_build(self) -> None:
        if self._build is not None:
            self._build.close()
            self._build = None
            self.builds_dropped += 1
        if self._building_root is not None:
            self._retire(self._building_root)
            self._building_root = None

    def _retire(self, root: QGraphicsItem) -> None:
        """Take a drawing off screen now and delete its items a slice at a time."""
        root.setVisible(False)
        idle = not self._retired
        self._retired.append(root)  # the root goes last: the list is deleted from its end
        self._retired.extend(root.childItems())
        if idle:
            QTimer.singleShot(0, self._delete_retired)

    def _delete_retired(self) -> None:
        deadline = time.perf_counter() + SLICE_MS / 1e3
        scene = self._scene
        while self._retired and time.perf_counter() < deadline:
            for item in self._retired[-RETIRE_BATCH:]:
                if item.scene() is scene:
                    scene.removeItem(item)  # back to Python, freed with the last reference
            del self._retired[-RETIRE_BATCH:]
        if self._retired:
            QTimer.singleShot(0, self._delete_retired)

    def _step_build(self) -> None:
        build = self._build
        if build is None:
            return
        deadline = time.perf_counter() + SLICE_MS / 1e3
        try:
            while time.perf_counter() < deadline:
                next(build)
        except StopIteration:
            self._build = None
            self.drawn.emit()
            return
        QTimer.singleShot(0, self._step_build)

    def _make_items(self, graph: Any, layout: Any, refit: bool) -> Iterator[None]:
        colors = Colors.from_palette(self.palette())
        font = QFont(self.font())
        font.setPixelSize(NODE_FONT_PX)  # scene units: the layout sized boxes for 10 pt text
        header_font = QFont(font)
        header_font.setBold(True)
        root = QGraphicsRectItem()
        root.setFlag(QGraphicsItem.GraphicsItemFlag.ItemHasNoContents, True)
        # built hidden inside the scene, so each slice pays for its own items' registration
        root.setVisible(False)
        self._scene.addItem(root)
        self._building_root = root
        labels = graph.graph.get("stage_labels", {})
        # the layout's own extent (asking 20,000 items for theirs would stall 100 ms)
        bounds = QRectF(0, 0, layout.width, layout.height)
        for stage, box in layout.clusters.items():
            rect = box_rect(box)
            cluster = ClusterItem(
                int(stage), labels.get(stage, str(stage)), rect, colors, header_font
            )
            cluster.setParentItem(root)
            bounds = bounds.united(cluster.boundingRect())
        yield
        edges: list[EdgeItem] = []
        for i, ((u, v), points) in enumerate(layout.edges.items()):
            if not points or not graph.has_edge(u, v):
                continue
            data = graph.edges[u, v]
            edge = EdgeItem(tuple(points), data.get("shape"), bool(data.get("skip")), colors)
            edge.setParentItem(root)
            if self.edge_labels:
                edge.show_label(True, font)
            edges.append(edge)
            if i % CHECK_EVERY == 0:
                yield
        nodes: dict[str, NodeItem] = {}
        by_name: dict[str, str] = {}
        by_block: dict[str, str] = {}
        by_stage: dict[int, str] = {}
        for i, (node_id, box) in enumerate(layout.nodes.items()):
            attrs = graph.nodes[node_id]
            item = NodeItem(node_id, attrs, box_rect(box), colors, font)
            item.setParentItem(root)
            nodes[node_id] = item
            by_name.setdefault(str(attrs.get("name", node_id)), node_id)
            by_block.setdefault(str(attrs.get("block", "")), node_id)
            if attrs.get("kind") == "stage" and attrs.get("stage") is not None:
                by_stage[int(attrs["stage"])] = node_id
            if i % CHECK_EVERY == 0:
                yield
        yield
        # the swap: the finished drawing replaces the old one in one short step
        selected = self.selected_node()
        self._muting = True
        if self._root is not None:
            self._retire(self._root)
        self._building_root = None
        self.setBackgroundBrush(colors.background)
        root.setVisible(True)
        self._root, self.nodes, self.graph, self.edges = root, nodes, graph, edges
        self._by_name, self._by_block, self._by_stage = by_name, by_block, by_stage
        margin = 24
        self._scene.setSceneRect(bounds.adjusted(-margin, -margin, margin, margin))
        root.setOpacity(0.35 if self.stale else 1.0)
        if selected in self.nodes:
            self.nodes[selected].setSelected(True)
        self._muting = False
        if refit or not self.user_zoomed:
            self.fit()

    def set_edge_labels(self, on: bool) -> None:
        """Show each edge's tensor shape beside it (View > Edge Shapes)."""
        self.edge_labels = on
        font = QFont(self.font())
        font.setPixelSize(NODE_FONT_PX - 1)
        for edge in self.edges:
            edge.show_label(on, font)

    def set_stale(self, stale: bool) -> None:
        """Grey the drawing: it shows the last valid design, not the invalid edit."""
        self.stale = stale
        if self._root is not None:
            self._root.setOpacity(0.35 if stale else 1.0)

    def fit(self) -> None:
        rect = self._scene.sceneRect()
        if rect.isEmpty():
            return
        self.resetTransform()
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        # never blow a tiny graph up past 1.5x, and keep long ones readable: fit the width
        scale = self.transform().m11()
        if scale > 1.5:
            self.resetTransform()
            self.scale(1.5, 1.5)
        elif scale < 0.8:  # too small to read: fit the width instead and start at the top
            width_scale = min(1.0, self.viewport().width() / max(rect.width(), 1))
            self.resetTransform()
            self.scale(width_scale, width_scale)
            self.centerOn(rect.center().x(), rect.top())
        self.user_zoomed = False

    def zoom(self, factor: float) -> None:
        scale = self.transform().m11() * factor
        if 0.02 <= scale <= 8:
            self.scale(factor, factor)
            self.user_zoomed = True

    def wheelEvent(self, event: QWheelEvent) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            super().wheelEvent(event)  # scroll
            return
        delta = event.angleDelta().y()
        if delta:
            self.zoom(1.0015**delta)

    # -- selection ----------------------------------------------------------------------
    def selected_node(self) -> str:
        items = [i for i in self._scene.selectedItems() if isinstance(i, NodeItem)]
        return items[0].node_id if items else ""

    def node_for_layer(self, name: str, block: str, stage: int | None) -> str:
        """The node that shows layer ``name`` (itself, its block, or its collapsed stage)."""
        for key, table in ((name, self._by_name), (block, self._by_block)):
            if key in table:
                return table[key]
        if stage is not None and stage in self._by_stage:
            return self._by_stage[stage]
        return ""

    def select_node(self, node_id: str, *, emit: bool = False) -> None:
        self._muting = not emit
        self._scene.clearSelection()
        item = self.nodes.get(node_id)
        if item is not None:
            item.setSelected(True)
            self.ensureVisible(item, 80, 80)
        self._muting = False

    def _selection_changed(self) -> None:
        if not self._muting:
            self.nodeSelected.emit(self.selected_node())


def box_rect(box: Any) -> QRectF:
    """A layout Box (top-left x, y and size, in scene units) as a QRectF."""
    return QRectF(box.x, box.y, box.w, box.h)
