"""The Compare tab's params-against-MACs plot, painted by the widget itself.

Both axes are logarithmic, as in ``designer.core.compare.pareto_figure`` (the
exported figure). The x axis may instead show a measured figure, latency or
throughput, or the parameters (an ``Axis``), each point carrying its own ``x``;
the y axis may show the best val top-1 of trained designs instead (linear, in
percent), each point carrying its own ``y``. There the points on the Pareto front
(``Point.front``) are filled in the front's colour and joined by a step line (one
per ``group``: figures measured with other settings are not compared), with a
legend under the plot, beside the x axis's title, where it never hides a point.
The plot fills
whatever room its tab gives it and writes its labels in the widget's own font,
so it reads like the rest of the app; colours come from the palette (light or
dark), except the pinned designs' markers, which use colours that read on both.
Hovering a point rings it and names it, with its figures, in a tooltip (every
point under the mouse, nearest first); clicking emits ``pointClicked`` with the
nearest point that has a design, and the Compare panel loads that design as one
undoable edit.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from PySide6.QtCore import QPoint, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFontMetrics,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPalette,
    QPen,
)
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from designer.core.design import Design
from designer.core.pareto import staircase
from designer.core.report import human_count

# the pinned designs' markers: distinct on a light and on a dark background
PIN_COLOURS = ("#d1495b", "#00a3b4", "#e09f1f", "#4a7fc1", "#9a6fd0")
X_TITLES = ("multiply-adds per image (MACs, log scale)", "MACs (log scale)", "MACs")
Y_TITLES = ("parameters (log scale)", "params (log)", "params")
ACCURACY_TITLES = ("best val top-1 accuracy (%)", "best val top-1 (%)", "top-1 %")
FRONT_COLOUR = "#3a9d5d"  # the Pareto front: a green that reads on light and dark
FRONT = "on the Pareto front"
FRONT_TIP = "Pareto front"  # the legend
HOVER_RADIUS = 9  # px from a marker's centre that still counts as over it
POINT_RADIUS = 4
PIN_RADIUS = 7
FRONT_RADIUS = 5


@dataclass(frozen=True)
class Axis:
    """What an axis shows: its titles, longest first, and the line shown with no points.

    ``log``: a log scale (counts, times); else linear, in percent (accuracy).
    ``minimise`` (x only): a lower value is better (MACs, latency), which the
    Pareto front's step line follows; throughput is the other way.
    """

    titles: tuple[str, ...] = X_TITLES
    empty: str = ""
    log: bool = True
    minimise: bool = True


MACS = Axis()
PARAMS = Axis(Y_TITLES)
ACCURACY = Axis(ACCURACY_TITLES, log=False)


@dataclass(frozen=True)
class Point:
    """One marker: a bundled preset (grey), a pinned design (coloured diamond) or, on
    the accuracy axis, a trained design (filled green on the Pareto front)."""

    label: str  # the preset's name ("resnet34") or the pinned column's label
    title: str  # the design's own name ("ResNet-34")
    params: int
    macs: int
    design: Design | None  # None: a measured design the app no longer has (not loadable)
    pinned: bool = False
    current: bool = False  # the document's own design, shown when nothing is pinned
    x: float | None = None  # a measured figure (or the parameters); None: the MACs
    detail: str = ""  # what a measured x is, for the tooltip
    y: float | None = None  # best val top-1 in percent; None: the parameters
    note: str = ""  # a last tooltip line (a trained design's runs)
    front: bool = False  # on the Pareto front of its group
    group: str = ""  # points compared with each other (one measured setting)

    @property
    def x_value(self) -> float:
        return self.macs if self.x is None else self.x

    @property
    def y_value(self) -> float:
        return self.params if self.y is None else self.y

    def describe(self) -> str:
        name = self.title if self.title == self.label else f"{self.title} ({self.label})"
        if self.y is None:
            figure = f"{human_count(self.macs)} MACs" if self.x is None else self.detail
            return f"{name}: {human_count(self.params)} params · {figure}"
        head = f"{name}: {self.y:.2f}% best val top-1" + (f" · {FRONT}" if self.front else "")
        figures = f"{human_count(self.params)} params · {human_count(self.macs)} MACs"
        lines = [head, figures + (f" · {self.detail}" if self.detail else "")]
        return "\n".join(lines + ([self.note] if self.note else []))


def _nice_ticks(low: float, high: float) -> list[float]:
    """Tick values between 10**low and 10**high: decades, or 1-2-5 steps in a short range."""
    span = high - low
    steps = (1.0,) if span > 2.5 else (1.0, 2.0, 5.0) if span > 0.8 else (1.0, 1.5, 2, 3, 5, 7)
    ticks = []
    for decade in range(math.floor(low), math.ceil(high) + 1):
        for step in steps:
            value = step * 10.0**decade
            if low <= math.log10(value) <= high:
                ticks.append(value)
    return ticks


def tick_text(value: float) -> str:
    """2e9 -> '2G', 1.5e7 -> '15M': axis labels as short as the numbers allow."""
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= scale:
            return f"{value / scale:g}{unit}"
    return f"{value:g}"


def _linear_step(span: float) -> float:
    """A 1-2-5 step giving some five ticks over ``span``."""
    raw = max(span, 1e-9) / 5
    magnitude = 10.0 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)


def _ticks(axis: Axis, low: float, high: float) -> list[tuple[float, str]]:
    """(position on the axis, label) of each tick between ``low`` and ``high``.

    A log axis's positions are log10 of its values; a linear one's are its values,
    in percent.
    """
    if axis.log:
        return [(math.log10(v), tick_text(v)) for v in _nice_ticks(low, high)]
    step = _linear_step(high - low)
    first, last = math.ceil(low / step - 1e-9), math.floor(high / step + 1e-9)
    return [(round(k * step, 9), f"{round(k * step, 9):g}%") for k in range(first, last + 1)]


def _scaled(value: float, axis: Axis) -> float:
    """Where ``value`` sits along ``axis``: its log10 on a log axis, itself on a linear one."""
    return math.log10(_positive(value)) if axis.log else value


class ParetoPlot(QWidget):
    """Params (y) against MACs (x), log-log, every bundled preset and the pinned designs.

    Or accuracy (y, linear) against a cost (x, log), with the Pareto front marked.
    """

    pointClicked = Signal(object)  # the Point under a left click

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.points: list[Point] = []
        self.axis = MACS
        self.y_axis = PARAMS
        self.empty = ""  # the line shown with no points
        self.hovered: list[int] = []  # indices of the points under the mouse, nearest first
        self._placed: list[QPointF] = []  # each point's centre at the last layout
        self._plot = QRectF()
        self._ranges = (0.0, 1.0, 0.0, 1.0)  # min/max of x, then y, as placed (log10 or %)
        self.setMouseTracking(True)
        self.setMinimumSize(QSize(220, 140))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)

    # -- data ---------------------------------------------------------------------------
    def set_points(
        self,
        points: list[Point],
        axis: Axis = MACS,
        y_axis: Axis = PARAMS,
        empty: str | None = None,
    ) -> None:
        """Plot ``points``; ``empty`` (else the x axis's) is the line shown with none."""
        self.points = list(points)
        self.axis = axis
        self.y_axis = y_axis
        self.empty = axis.empty if empty is None else empty
        self.hovered = []
        self._layout()
        self.update()

    def position_of(self, label: str) -> QPoint:
        """Where the point labelled ``label`` is drawn, in widget pixels (tests, hover)."""
        self._layout()
        index = next(i for i, p in enumerate(self.points) if p.label == label)
        return self._placed[index].toPoint()

    def hover_text(self) -> str:
        """What hovering shows now: the points under the mouse, one a line ("" if none)."""
        if not self.hovered:
            return ""
        lines = [self.points[i].describe() for i in self.hovered]
        first = self.points[self.hovered[0]]
        if not first.current and first.design is not None:
            lines.append(f"Click to load {first.label}")
        return "\n".join(lines)

    def front_lines(self) -> list[list[tuple[float, float]]]:
        """The Pareto front's step lines, one per group, in the axes' units (tests, paint)."""
        groups: dict[str, list[tuple[float, float]]] = {}
        for p in self.points:
            if p.front:
                groups.setdefault(p.group, []).append((p.x_value, p.y_value))
        return [staircase(g, minimise_x=self.axis.minimise) for g in groups.values()]

    # -- geometry -----------------------------------------------------------------------
    def _layout(self) -> None:
        """Axis ranges with a margin, the plot rectangle, and each point's centre."""
        fm = QFontMetrics(self.font())
        coords = [
            (_scaled(p.x_value, self.axis), _scaled(p.y_value, self.y_axis)) for p in self.points
        ]
        if coords:
            xs, ys = [c[0] for c in coords], [c[1] for c in coords]
            x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
        else:
            x0, x1 = 8.0, 10.0
            y0, y1 = (5.0, 8.0) if self.y_axis.log else (0.0, 100.0)
        x0, x1 = _padded(x0, x1)
        y0, y1 = _padded(y0, y1) if self.y_axis.log else _padded_percent(y0, y1)
        self._ranges = (x0, x1, y0, y1)
        ticks = _ticks(self.y_axis, y0, y1)
        widest = max((fm.horizontalAdvance(label) for _, label in ticks), default=0)
        line = fm.height()
        left = line + 6 + widest + 6  # the rotated axis title, then the tick labels
        self._plot = QRectF(left, line // 2 + 4, self.width() - left - 12, 0)
        self._plot.setBottom(self.height() - 2 * line - 10)
        self._placed = [self._pixel(x, y) for x, y in coords]

    def _pixel(self, x: float, y: float) -> QPointF:
        """Widget pixels of a place on the axes (log10 or percent, as ``_scaled`` gives)."""
        r, (x0, x1, y0, y1) = self._plot, self._ranges
        return QPointF(
            r.left() + (x - x0) / (x1 - x0) * r.width(),
            r.bottom() - (y - y0) / (y1 - y0) * r.height(),
        )

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._layout()

    # -- painting -----------------------------------------------------------------------
    def paintEvent(self, _event: QPaintEvent) -> None:
        palette = self.palette()
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), palette.color(QPalette.ColorRole.Base))
        muted = palette.color(QPalette.ColorRole.PlaceholderText)
        r = self._plot
        if r.width() < 20 or r.height() < 20:
            painter.end()
            return
        if not self.points and self.empty:
            painter.setPen(muted)
            painter.drawText(
                self.rect().adjusted(16, 16, -16, -16),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                self.empty,
            )
            painter.end()
            return
        self._paint_axes(painter)
        self._paint_front(painter)
        colours = self._pin_colours()
        self._paint_markers(painter, colours)
        self._paint_labels(painter, colours)
        # the hovered point: a ring (its name and figures are in the tooltip)
        if self.hovered:
            centre = self._placed[self.hovered[0]]
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(QPen(palette.color(QPalette.ColorRole.Highlight), 2))
            painter.drawEllipse(centre, PIN_RADIUS + 4, PIN_RADIUS + 4)
        painter.end()

    def _paint_axes(self, painter: QPainter) -> None:
        """Grid, ticks, frame, the axis titles (shortened where the plot is small), legend."""
        palette = self.palette()
        muted = palette.color(QPalette.ColorRole.PlaceholderText)
        grid = QColor(palette.color(QPalette.ColorRole.Mid))
        grid.setAlpha(110)
        fm = QFontMetrics(self.font())
        r = self._plot
        x0, x1, y0, y1 = self._ranges
        for at, label in _ticks(self.axis, x0, x1):
            x = self._pixel(at, y0).x()
            painter.setPen(QPen(grid, 1))
            painter.drawLine(QPointF(x, r.top()), QPointF(x, r.bottom()))
            painter.setPen(muted)
            w = fm.horizontalAdvance(label)
            painter.drawText(QPointF(x - w / 2, r.bottom() + fm.ascent() + 3), label)
        for at, label in _ticks(self.y_axis, y0, y1):
            y = self._pixel(x0, at).y()
            painter.setPen(QPen(grid, 1))
            painter.drawLine(QPointF(r.left(), y), QPointF(r.right(), y))
            painter.setPen(muted)
            w = fm.horizontalAdvance(label)
            painter.drawText(QPointF(r.left() - w - 5, y + fm.ascent() / 2 - 1), label)
        painter.setPen(QPen(muted, 1))
        painter.drawRect(r)

        painter.setPen(palette.color(QPalette.ColorRole.Text))
        legend = self._paint_legend(painter) if any(p.front for p in self.points) else 0.0
        x_title = _fitting(fm, r.width() - 2 * legend, self.axis.titles)
        baseline = self.height() - fm.descent() - 4
        painter.drawText(
            QPointF(r.center().x() - fm.horizontalAdvance(x_title) / 2, baseline), x_title
        )
        painter.save()
        painter.translate(fm.ascent() + 2, r.center().y())
        painter.rotate(-90)
        y_title = _fitting(fm, r.height(), self.y_axis.titles)
        painter.drawText(QPointF(-fm.horizontalAdvance(y_title) / 2, 0), y_title)
        painter.restore()

    def _paint_legend(self, painter: QPainter) -> float:
        """The front's legend (a line, a dot, "Pareto front") under the plot's left edge,
        beside the x title, never over a point; returns the width it takes."""
        fm = QFontMetrics(self.font())
        r = self._plot
        y = self.height() - fm.descent() - 4 - fm.ascent() / 2 + 1
        colour = QColor(FRONT_COLOUR)
        painter.save()
        painter.setPen(QPen(colour, 2))
        painter.drawLine(QPointF(r.left(), y), QPointF(r.left() + 18, y))
        painter.setPen(QPen(self.palette().color(QPalette.ColorRole.Base), 1))
        painter.setBrush(colour)
        painter.drawEllipse(QPointF(r.left() + 9, y), FRONT_RADIUS, FRONT_RADIUS)
        painter.restore()
        painter.drawText(QPointF(r.left() + 24, self.height() - fm.descent() - 4), FRONT_TIP)
        return 24 + fm.horizontalAdvance(FRONT_TIP) + 16

    def _paint_front(self, painter: QPainter) -> None:
        """The Pareto front's step line(s), under the markers."""
        painter.setPen(QPen(QColor(FRONT_COLOUR), 2))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        for line in self.front_lines():
            places = [self._pixel(_scaled(x, self.axis), _scaled(y, self.y_axis)) for x, y in line]
            if len(places) < 2:  # a front of one design: its marker says it
                continue
            path = QPainterPath(places[0])
            for place in places[1:]:
                path.lineTo(place)
            painter.drawPath(path)

    def _front_segments(self) -> list[QRectF]:
        """The step lines' segments as thin boxes, for labels to keep off."""
        boxes = []
        for line in self.front_lines():
            places = [self._pixel(_scaled(x, self.axis), _scaled(y, self.y_axis)) for x, y in line]
            for a, b in itertools.pairwise(places):
                boxes.append(QRectF(a, b).normalized().adjusted(-1, -1, 1, 1))
        return boxes

    def _pin_colours(self) -> dict[int, QColor]:
        """The pinned (or current) designs' colours, in the order they come."""
        colours: dict[int, QColor] = {}
        for i, p in enumerate(self.points):
            if p.pinned or p.current:
                colours[i] = QColor(PIN_COLOURS[len(colours) % len(PIN_COLOURS)])
        return colours

    def _paint_markers(self, painter: QPainter, colours: dict[int, QColor]) -> None:
        """Grey dots, then the front's green ones, then the pinned diamonds on top (a pinned
        design on the front wears a green halo)."""
        palette = self.palette()
        base = palette.color(QPalette.ColorRole.Base)
        front = QColor(FRONT_COLOUR)
        order = sorted(range(len(self.points)), key=lambda i: (i in colours, self.points[i].front))
        for i in order:
            centre, point = self._placed[i], self.points[i]
            if point.front:
                painter.setPen(QPen(base, 1))
                painter.setBrush(front)
                radius = PIN_RADIUS + 3 if i in colours else FRONT_RADIUS
                painter.drawEllipse(centre, radius, radius)
            if i in colours:
                painter.setPen(QPen(base, 1))
                painter.setBrush(colours[i])
                painter.drawPath(_diamond(centre, PIN_RADIUS))
            elif not point.front:
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(palette.color(QPalette.ColorRole.PlaceholderText))
                painter.drawEllipse(centre, POINT_RADIUS, POINT_RADIUS)

    def _paint_labels(self, painter: QPainter, colours: dict[int, QColor]) -> None:
        """Labels where they fit: pinned first (over grey markers if need be), then the
        front, then the rest, never over each other."""
        text = self.palette().color(QPalette.ColorRole.Text)
        r = self._plot
        markers = [QRectF(p.x() - 5, p.y() - 5, 10, 10) for p in self._placed]
        lines = self._front_segments()
        taken: list[QRectF] = []
        labels = sorted(
            range(len(self.points)), key=lambda i: (i not in colours, not self.points[i].front)
        )
        bold = self.font()
        bold.setBold(True)
        for i in labels:
            point = self.points[i]
            font = bold if i in colours else self.font()
            metrics = QFontMetrics(font)
            avoid = taken if i in colours else taken + markers[:i] + markers[i + 1 :]
            box = _place(metrics, point.label, self._placed[i], r, avoid + lines)
            if box is None and i in colours:  # a pinned design's name: over the line then
                box = _place(metrics, point.label, self._placed[i], r, avoid)
            if box is None:
                continue
            taken.append(box)
            painter.setFont(font)
            painter.setPen(colours.get(i, text))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, point.label)
        painter.setFont(self.font())

    # -- mouse --------------------------------------------------------------------------
    def _under(self, pos: QPointF) -> list[int]:
        near = [
            (math.hypot(c.x() - pos.x(), c.y() - pos.y()), i) for i, c in enumerate(self._placed)
        ]
        hits = sorted((d, not self.points[i].pinned, i) for d, i in near if d <= HOVER_RADIUS)
        return [i for _d, _preset, i in hits]

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        under = self._under(event.position())
        if under != self.hovered:
            self.hovered = under
            self.setCursor(
                Qt.CursorShape.PointingHandCursor if under else Qt.CursorShape.ArrowCursor
            )
            self.update()
        if under:
            QToolTip.showText(event.globalPosition().toPoint(), self.hover_text(), self)
        else:
            QToolTip.hideText()
        super().mouseMoveEvent(event)

    def leaveEvent(self, event) -> None:
        if self.hovered:
            self.hovered = []
            self.update()
        super().leaveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            under = self._under(event.position())
            loadable = [i for i in under if self.points[i].design is not None]
            if loadable:
                self.pointClicked.emit(self.points[loadable[0]])
                event.accept()
                return
        super().mouseReleaseEvent(event)


def _positive(value: float) -> float:
    """A value a log axis can place: MACs of a tiny net may be 0, and must not break it."""
    return value if value > 0 else 1.0


def _fitting(fm: QFontMetrics, room: float, titles: tuple[str, ...]) -> str:
    """The longest of ``titles`` that fits in ``room`` pixels (else the shortest)."""
    return next((t for t in titles if fm.horizontalAdvance(t) <= room), titles[-1])


def _padded(low: float, high: float) -> tuple[float, float]:
    """A log range with room around the points: at least half a decade wide."""
    span = max(high - low, 0.5)
    middle = (low + high) / 2
    return middle - span / 2 - 0.08 * span, middle + span / 2 + 0.08 * span


def _padded_percent(low: float, high: float) -> tuple[float, float]:
    """A percent range with room around the points, within 0-100: at least 4 points wide,
    so designs a fraction of a point apart (CIFAR's ResNets) still read apart."""
    span = max(high - low, 4.0)
    middle = (low + high) / 2
    low, high = middle - 0.58 * span, middle + 0.58 * span
    if low < 0:
        low, high = 0.0, min(100.0, high - low)
    if high > 100:
        low, high = max(0.0, low - (high - 100.0)), 100.0
    return low, high


def _diamond(centre: QPointF, radius: float) -> QPainterPath:
    path = QPainterPath()
    path.moveTo(centre.x(), centre.y() - radius)
    path.lineTo(centre.x() + radius, centre.y())
    path.lineTo(centre.x(), centre.y() + radius)
    path.lineTo(centre.x() - radius, centre.y())
    path.closeSubpath()
    return path


def _place(
    fm: QFontMetrics,
    label: str,
    at: QPointF,
    bounds: QRectF,
    taken: list[QRectF],
) -> QRectF | None:
    """A box for ``label`` beside ``at`` inside ``bounds`` that overlaps nothing taken."""
    w, h = fm.horizontalAdvance(label) + 2, fm.height()
    gap = PIN_RADIUS + 2
    for dx, dy in (
        (gap, -h / 2),  # right
        (-gap - w, -h / 2),  # left
        (-w / 2, -gap - h),  # above
        (-w / 2, gap),  # below
        (gap - 4, -gap - h + 4),  # above right
        (gap - 4, gap - 4),  # below right
    ):
        box = QRectF(at.x() + dx, at.y() + dy, w, h)
        if not bounds.contains(box):
            continue
        if any(box.intersects(other) for other in taken):
            continue
        return box
    return None
