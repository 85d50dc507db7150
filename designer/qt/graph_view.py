"""The graph view: the design's graph as interactive scene items (centre of the window).

It draws a finished ``(graph, layout)`` pair made by a worker; it computes
nothing itself. Zoom with the wheel, pan by dragging, double-click a stage
frame (or a collapsed stage) to collapse or expand it. Editing is asked for,
not done, here: a right-click, the Delete key, a double-click on a node or a
stage's title buttons emit what was aimed at (the node's attributes), and
``designer.qt.graph_edit`` turns that into a document edit.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QPoint, QPointF, QRectF, QSizeF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetricsF,
    QKeyEvent,
    QPainter,
    QPainterPath,
    QPalette,
    QPen,
    QPolygonF,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsPolygonItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSceneContextMenuEvent,
    QGraphicsSceneMouseEvent,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QStyleOptionGraphicsItem,
    QWidget,
)

from designer.core.graph.geometry import title_parts
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
MAX_FIT_SCALE = 1.5  # a fitted tiny graph is never blown up past this
READABLE_SCALE = 0.6  # below it a new drawing is fitted by width, not whole
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
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        if lod < LOD_BOX_ONLY:
            painter.fillRect(r, c.accent if self.isSelected() else fill)
            return
        selected = self.isSelected()
        # selected: a thick solid accent outline; hovered: a lighter fill and a dotted
        # accent outline, so the two never look alike
        pen = QPen(c.accent if selected else fill.darker(150 if not c.dark else 60))
        pen.setWidthF(3.0 if selected else 1.0)
        if self._hover and not selected:
            pen = QPen(c.accent, 1.6, Qt.PenStyle.DotLine)
            fill = fill.lighter(112) if not c.dark else fill.lighter(135)
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
        if not isinstance(scene, GraphScene) or stage is None:
            super().mouseDoubleClickEvent(event)
        elif self.kind == "stage":
            scene.stageToggled.emit(int(stage))
        else:
            scene.editRequested.emit(self.attrs, event.screenPos())

    def contextMenuEvent(self, event: QGraphicsSceneContextMenuEvent) -> None:
        scene = self.scene()
        if isinstance(scene, GraphScene) and self.attrs.get("stage") is not None:
            if not self.isSelected():
                scene.clearSelection()
                self.setSelected(True)
            scene.menuRequested.emit(self.attrs, event.screenPos())


class ClusterItem(QGraphicsRectItem):
    """The frame around one stage, titled beside its top right (above it, left to right)
    with its edit buttons; double-click collapses it, right-click opens its menu."""

    def __init__(
        self,
        stage: int,
        label: str,
        rect: QRectF,
        colors: Colors,
        font: QFont,
        *,
        above: bool = False,
        editable: bool = True,
    ) -> None:
        super().__init__(rect)
        self.stage = stage
        self._label = label
        self._colors = colors
        self._font = font
        metrics = QFontMetricsF(font)
        # dot leaves no room for a title inside the frame, so it sits just outside: right
        # of the frame's top, or (left to right) above it, one part a line, in the room the
        # layout keeps there
        self._text = "\n".join(title_parts(label)) if above else label
        lines = self._text.split("\n")
        width = max(metrics.horizontalAdvance(line) for line in lines) + 4
        size = QSizeF(width, metrics.height() * len(lines))
        corner = (
            QPointF(rect.left(), rect.top() - size.height() - 4)
            if above
            else QPointF(rect.right() + 8, rect.top())
        )
        self._title = QRectF(corner, size)
        first_line = QRectF(
            corner, QSizeF(metrics.horizontalAdvance(lines[0]) + 4, metrics.height())
        )
        self.buttons: list[TitleButton] = []
        x = first_line.right()
        if editable:
            x += 6
            for text, action, tip in TITLE_BUTTONS:
                button = TitleButton(text, action, tip, colors, font, self)
                button.setPos(x, first_line.top() + (first_line.height() - button.side) / 2)
                x += button.side + 3
                self.buttons.append(button)
        buttons = first_line.adjusted(0, -2, x - first_line.right(), 2)
        self._extent = super().boundingRect().united(self._title).united(buttons)
        self.setZValue(0)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable, True)
        self.setToolTip(
            f"{label}<br><i>double-click to collapse this stage; right-click for its menu;"
            " click it and press Delete to remove it</i>"
        )

    @property
    def title_rect(self) -> QRectF:
        return QRectF(self._title)

    @property
    def attrs(self) -> dict[str, Any]:
        """What the frame stands for, in a graph node's terms (graph_edit.target_of)."""
        return {"kind": "stage", "op": "Stage", "stage": self.stage}

    def boundingRect(self) -> QRectF:
        return self._extent

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRect(self.rect())
        path.addRect(self._title)
        return path

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        c = self._colors
        selected = self.isSelected()
        pen = QPen(c.accent, 2.0) if selected else QPen(c.cluster_border, 1.0, Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(c.cluster)
        painter.drawRoundedRect(self.rect(), 10, 10)
        painter.setPen(c.text)
        painter.setFont(self._font)
        painter.drawText(
            self._title, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, self._text
        )

    def mouseDoubleClickEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        scene = self.scene()
        if isinstance(scene, GraphScene):
            scene.stageToggled.emit(self.stage)

    def contextMenuEvent(self, event: QGraphicsSceneContextMenuEvent) -> None:
        scene = self.scene()
        if isinstance(scene, GraphScene):
            scene.clearSelection()
            self.setSelected(True)
            scene.menuRequested.emit(self.attrs, event.screenPos())


TITLE_BUTTONS: tuple[tuple[str, str, str], ...] = (
    ("+", "add", "Add a block to this stage"),
    ("−", "remove", "Remove a block from this stage"),
    ("⋯", "menu", "Edit this stage: stride, width, block, insert, move, split, remove…"),
)


class TitleButton(QGraphicsRectItem):
    """A small button beside a stage's title: always visible, so editing is discoverable."""

    def __init__(
        self, text: str, action: str, tip: str, colors: Colors, font: QFont, frame: ClusterItem
    ) -> None:
        side = QFontMetricsF(font).height() + 2
        super().__init__(QRectF(0, 0, side, side), frame)
        self.side = side
        self.action = action
        self._text = text
        self._colors = colors
        self._font = font
        self._frame = frame
        self._hover = False
        self.setAcceptHoverEvents(True)
        self.setToolTip(tip)
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        c = self._colors
        painter.setPen(QPen(c.accent if self._hover else c.cluster_border, 1.0))
        painter.setBrush(c.accent.lighter(170) if self._hover and not c.dark else c.background)
        painter.drawRoundedRect(self.rect(), 3, 3)
        painter.setPen(c.text)
        painter.setFont(self._font)
        painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self._text)

    def hoverEnterEvent(self, event: Any) -> None:
        self._hover = True
        self.update()

    def hoverLeaveEvent(self, event: Any) -> None:
        self._hover = False
        self.update()

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        event.accept()  # the click is the button's, not the start of a pan

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        scene = self.scene()
        if isinstance(scene, GraphScene) and self.rect().contains(event.pos()):
            scene.titleButtonClicked.emit(self._frame.stage, self.action, event.screenPos())


def skip_arc(rect: QRectF, across: bool) -> QPainterPath:
    """A block's shortcut drawn beside it, from the edge into it to the edge out of it:
    right of the box top to bottom, or (left to right) under it."""
    path = QPainterPath()
    if across:
        a = QPointF(rect.left() + 10, rect.bottom())
        b = QPointF(rect.right() - 10, rect.bottom())
        path.moveTo(a)
        path.cubicTo(a + QPointF(0, 16), b + QPointF(0, 16), b)
    else:
        a = QPointF(rect.right(), rect.top() + 4)
        b = QPointF(rect.right(), rect.bottom() - 4)
        path.moveTo(a)
        path.cubicTo(a + QPointF(16, 0), b + QPointF(16, 0), b)
    return path


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
        self.across = False  # left to right: the label goes above the (horizontal) edge
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
        self._background = colors.background
        self._shape_value = shape
        self._label: QGraphicsRectItem | None = None
        # one label per tensor: of the edges leaving a node (the main path and the skip
        # carry the same tensor) only one is labelled; set by the view
        self.labelled = True

    def show_label(self, on: bool, font: QFont) -> None:
        if not on or not self.labelled:
            if self._label is not None:
                self._label.hide()
            return
        if self._label is None:
            text = shape_text(self._shape_value) if self._shape_value is not None else ""
            # on a backing of the scene's colour, so a label legible across a frame's
            # border or another edge; above the nodes, so never hidden under one
            plate = QGraphicsRectItem(self)
            plate.setPen(QPen(Qt.PenStyle.NoPen))
            back = QColor(self._background)
            back.setAlpha(225)
            plate.setBrush(back)
            label = QGraphicsSimpleTextItem(text, plate)
            label.setFont(font)
            label.setBrush(self.pen().color())
            size = label.boundingRect()
            plate.setRect(QRectF(-2, -1, size.width() + 4, size.height() + 2))
            mid = self.path().pointAtPercent(0.5)
            if self.across:
                plate.setPos(mid.x() - size.width() / 2, mid.y() - size.height() - 3)
            else:
                plate.setPos(mid.x() + 5, mid.y() - size.height() / 2)
            plate.setZValue(3)
            self._label = plate
        self._label.show()


def _only_skips(graph: Any, node: str) -> bool:
    return all(d.get("skip") for _, _, d in graph.out_edges(node, data=True))


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
    menuRequested = Signal(object, QPoint)  # node attributes, screen position
    editRequested = Signal(object, QPoint)
    titleButtonClicked = Signal(int, str, QPoint)  # stage, "add" / "remove" / "menu"


class GraphView(QGraphicsView):
    """Draws a laid-out graph; emits the node the user clicks."""

    nodeSelected = Signal(str)  # node id, "" when cleared
    stageToggled = Signal(int)
    drawn = Signal()
    menuRequested = Signal(object, QPoint)  # the aimed-at node's attributes, where
    editRequested = Signal(object, QPoint)
    deleteRequested = Signal(object)
    titleButtonClicked = Signal(int, str, QPoint)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._scene = GraphScene(self)
        self._scene.stageToggled.connect(self.stageToggled)
        self._scene.menuRequested.connect(self.menuRequested)
        self._scene.editRequested.connect(self.editRequested)
        self._scene.titleButtonClicked.connect(self.titleButtonClicked)
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
        self._build: Generator[None, None, None] | None = None
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

    def _make_items(self, graph: Any, layout: Any, refit: bool) -> Generator[None, None, None]:
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
        n_stages = graph.graph.get("n_stages", 0)
        across = getattr(layout, "direction", "TB") == "LR"
        # the layout's own extent (asking 20,000 items for theirs would stall 100 ms)
        bounds = QRectF(0, 0, layout.width, layout.height)
        for stage, box in layout.clusters.items():
            rect = box_rect(box)
            cluster = ClusterItem(
                int(stage),
                labels.get(stage, str(stage)),
                rect,
                colors,
                header_font,
                above=across,
                editable=0 <= int(stage) < n_stages,
            )
            cluster.setParentItem(root)
            bounds = bounds.united(cluster.boundingRect())
        yield
        edges: list[EdgeItem] = []
        labelled: dict[str, bool] = {}  # source -> its labelled edge is on the main path
        for i, ((u, v), points) in enumerate(layout.edges.items()):
            if not points or not graph.has_edge(u, v):
                continue
            data = graph.edges[u, v]
            skip = bool(data.get("skip"))
            edge = EdgeItem(tuple(points), data.get("shape"), skip, colors)
            edge.setParentItem(root)
            edge.across = across
            edge.labelled = u not in labelled and (not skip or _only_skips(graph, u))
            if edge.labelled:
                labelled[u] = True
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
            rect = box_rect(box)
            item = NodeItem(node_id, attrs, rect, colors, font)
            item.setParentItem(root)
            shortcut = attrs.get("shortcut")
            if shortcut and attrs.get("kind") == "block":
                arc = QGraphicsPathItem(skip_arc(rect, across), item)
                identity = shortcut == "identity"
                arc.setPen(
                    QPen(
                        SKIP_COLOR, 1.6, Qt.PenStyle.SolidLine if identity else Qt.PenStyle.DashLine
                    )
                )
                arc.setToolTip(f"shortcut: {shortcut.replace('_', '-')}")
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
            self.fit_readable()

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
        """The whole graph in the view (never blown up past 1.5x)."""
        rect = self._scene.sceneRect()
        if rect.isEmpty():
            return
        self.resetTransform()
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        if self.transform().m11() > MAX_FIT_SCALE:
            self.resetTransform()
            self.scale(MAX_FIT_SCALE, MAX_FIT_SCALE)
        self.user_zoomed = False

    def fit_width(self) -> None:
        """The graph's width (its height, left to right) in the view, from its start."""
        rect = self._scene.sceneRect()
        if rect.isEmpty():
            return
        port = self.viewport()
        tall = rect.height() / max(rect.width(), 1) >= port.height() / max(port.width(), 1)
        scale = (
            port.width() / max(rect.width(), 1) if tall else port.height() / max(rect.height(), 1)
        )
        scale = min(scale, 1.0)  # the start of a long graph at its natural size at most
        self.resetTransform()
        self.scale(scale, scale)
        if tall:
            self.centerOn(rect.center().x(), rect.top() + port.height() / scale / 2)
        else:
            self.centerOn(rect.left() + port.width() / scale / 2, rect.center().y())
        self.user_zoomed = False

    def fit_readable(self) -> None:
        """A new drawing's first view: the whole graph when its text stays readable,
        else the fitted width from the start (a ResNet-152 whole would be 3 px text)."""
        self.fit()
        if self.transform().m11() < READABLE_SCALE:
            self.fit_width()

    def zoom(self, factor: float) -> None:
        scale = self.transform().m11() * factor
        if 0.02 <= scale <= 8:
            self.scale(factor, factor)
            self.user_zoomed = True

    def resizeEvent(self, event: QResizeEvent) -> None:
        """Until the user zooms, the view stays fitted as its pane or a dock changes size."""
        super().resizeEvent(event)
        if not self.user_zoomed and self._root is not None and not self.building:
            self.fit_readable()

    def wheelEvent(self, event: QWheelEvent) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            super().wheelEvent(event)  # scroll
            return
        delta = event.angleDelta().y()
        if delta:
            self.zoom(1.0015**delta)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            attrs = self.selected_attrs()
            if attrs is not None:
                self.deleteRequested.emit(attrs)
                event.accept()
                return
        super().keyPressEvent(event)

    # -- selection ----------------------------------------------------------------------
    def selected_attrs(self) -> dict[str, Any] | None:
        """What is selected (a node or a stage frame), in a node's attribute terms."""
        for item in self._scene.selectedItems():
            if isinstance(item, NodeItem | ClusterItem):
                return dict(item.attrs)
        return None

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
