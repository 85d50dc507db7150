"""The Compare tab's params-against-MACs plot, painted by the widget itself.

Both axes are logarithmic, as in ``designer.core.compare.pareto_figure`` (the
exported figure). The x axis may instead show a measured figure, latency or
throughput (an ``Axis``), each point carrying its own ``x``. The plot fills
whatever room its tab gives it and writes its labels in the widget's own font,
so it reads like the rest of the app; colours come from the palette (light or
dark), except the pinned designs' markers, which use colours that read on both.
Hovering a point rings it and names it, with its figures, in a tooltip (every
point under the mouse, nearest first); clicking emits ``pointClicked`` with the
nearest point that has a design, and the Compare panel loads that design as one
undoable edit.
"""

from __future__ import annotations

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
from designer.core.report import human_count

# the pinned designs' markers: distinct on a light and on a dark background
PIN_COLOURS = ("#d1495b", "#00a3b4", "#e09f1f", "#4a7fc1", "#9a6fd0")
X_TITLES = ("multiply-adds per image (MACs, log scale)", "MACs (log scale)", "MACs")
Y_TITLES = ("parameters (log scale)", "params (log)", "params")
HOVER_RADIUS = 9  # px from a marker's centre that still counts as over it
POINT_RADIUS = 4
PIN_RADIUS = 7


@dataclass(frozen=True)
class Axis:
    """What the x axis shows: its titles, longest first, and the line shown with no points."""

    titles: tuple[str, ...] = X_TITLES
    empty: str = ""


MACS = Axis()


@dataclass(frozen=True)
class Point:
    """One marker: a bundled preset (grey) or a pinned design (coloured diamond)."""

    label: str  # the preset's name ("resnet34") or the pinned column's label
    title: str  # the design's own name ("ResNet-34")
    params: int
    macs: int
    design: Design | None  # None: a measured design the app no longer has (not loadable)
    pinned: bool = False
    current: bool = False  # the document's own design, shown when nothing is pinned
    x: float | None = None  # a measured figure; None: the MACs
    detail: str = ""  # what x is, for the tooltip

    @property
    def x_value(self) -> float:
        return self.macs if self.x is None else self.x

    def describe(self) -> str:
        name = self.title if self.title == self.label else f"{self.title} ({self.label})"
        figure = f"{human_count(self.macs)} MACs" if self.x is None else self.detail
        return f"{name}: {human_count(self.params)} params · {figure}"


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


class ParetoPlot(QWidget):
    """Params (y) against MACs (x), log-log, every bundled preset and the pinned designs."""

    pointClicked = Signal(object)  # the Point under a left click

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.points: list[Point] = []
        self.axis = MACS
        self.hovered: list[int] = []  # indices of the points under the mouse, nearest first
        self._placed: list[QPointF] = []  # each point's centre at the last layout
        self._plot = QRectF()
        self._ranges = (0.0, 1.0, 0.0, 1.0)  # log10 of min/max MACs, min/max params
        self.setMouseTracking(True)
        self.setMinimumSize(QSize(220, 140))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)

    # -- data ---------------------------------------------------------------------------
    def set_points(self, points: list[Point], axis: Axis = MACS) -> None:
        self.points = list(points)
        self.axis = axis
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

    # -- geometry -----------------------------------------------------------------------
    def _layout(self) -> None:
        """Axis ranges with a margin, the plot rectangle, and each point's centre."""
        fm = QFontMetrics(self.font())
        if self.points:
            xs = [math.log10(_positive(p.x_value)) for p in self.points]
            ys = [math.log10(max(p.params, 1)) for p in self.points]
            x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
        else:
            x0, x1, y0, y1 = 8.0, 10.0, 5.0, 8.0
        x0, x1 = _padded(x0, x1)
        y0, y1 = _padded(y0, y1)
        self._ranges = (x0, x1, y0, y1)
        widest = max((fm.horizontalAdvance(tick_text(v)) for v in _nice_ticks(y0, y1)), default=0)
        line = fm.height()
        left = line + 6 + widest + 6  # the rotated axis title, then the tick labels
        self._plot = QRectF(left, line // 2 + 4, self.width() - left - 12, 0)
        self._plot.setBottom(self.height() - 2 * line - 10)
        r = self._plot
        self._placed = [
            QPointF(
                r.left() + (x - x0) / (x1 - x0) * r.width(),
                r.bottom() - (y - y0) / (y1 - y0) * r.height(),
            )
            for x, y in zip(
                (math.log10(_positive(p.x_value)) for p in self.points),
                (math.log10(max(p.params, 1)) for p in self.points),
                strict=True,
            )
        ]

    def resizeEvent(self, event) -> None:  # noqa: ANN001 - QResizeEvent
        super().resizeEvent(event)
        self._layout()

    # -- painting -----------------------------------------------------------------------
    def paintEvent(self, _event: QPaintEvent) -> None:
        palette = self.palette()
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), palette.color(QPalette.ColorRole.Base))
        text = palette.color(QPalette.ColorRole.Text)
        muted = palette.color(QPalette.ColorRole.PlaceholderText)
        grid = QColor(palette.color(QPalette.ColorRole.Mid))
        grid.setAlpha(110)
        r = self._plot
        if r.width() < 20 or r.height() < 20:
            painter.end()
            return
        if not self.points and self.axis.empty:
            painter.setPen(muted)
            painter.drawText(
                self.rect().adjusted(16, 16, -16, -16),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                self.axis.empty,
            )
            painter.end()
            return
        fm = QFontMetrics(self.font())
        x0, x1, y0, y1 = self._ranges

        # grid and ticks
        painter.setPen(QPen(grid, 1))
        for value in _nice_ticks(x0, x1):
            x = r.left() + (math.log10(value) - x0) / (x1 - x0) * r.width()
            painter.setPen(QPen(grid, 1))
            painter.drawLine(QPointF(x, r.top()), QPointF(x, r.bottom()))
            label = tick_text(value)
            painter.setPen(muted)
            w = fm.horizontalAdvance(label)
            painter.drawText(QPointF(x - w / 2, r.bottom() + fm.ascent() + 3), label)
        for value in _nice_ticks(y0, y1):
            y = r.bottom() - (math.log10(value) - y0) / (y1 - y0) * r.height()
            painter.setPen(QPen(grid, 1))
            painter.drawLine(QPointF(r.left(), y), QPointF(r.right(), y))
            label = tick_text(value)
            painter.setPen(muted)
            w = fm.horizontalAdvance(label)
            painter.drawText(QPointF(r.left() - w - 5, y + fm.ascent() / 2 - 1), label)
        painter.setPen(QPen(muted, 1))
        painter.drawRect(r)

        # axis titles, shortened where the plot is small
        painter.setPen(text)
        x_title = _fitting(fm, r.width(), self.axis.titles)
        painter.drawText(
            QPointF(
                r.center().x() - fm.horizontalAdvance(x_title) / 2,
                self.height() - fm.descent() - 4,
            ),
            x_title,
        )
        painter.save()
        painter.translate(fm.ascent() + 2, r.center().y())
        painter.rotate(-90)
        y_title = _fitting(fm, r.height(), Y_TITLES)
        painter.drawText(QPointF(-fm.horizontalAdvance(y_title) / 2, 0), y_title)
        painter.restore()

        # markers: presets first, pinned designs on top
        order = sorted(range(len(self.points)), key=lambda i: self.points[i].pinned)
        pins = 0
        colours: dict[int, QColor] = {}
        for i in range(len(self.points)):
            if self.points[i].pinned or self.points[i].current:
                colours[i] = QColor(PIN_COLOURS[pins % len(PIN_COLOURS)])
                pins += 1
        for i in order:
            centre = self._placed[i]
            if i in colours:
                painter.setPen(QPen(palette.color(QPalette.ColorRole.Base), 1))
                painter.setBrush(colours[i])
                painter.drawPath(_diamond(centre, PIN_RADIUS))
            else:
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(muted)
                painter.drawEllipse(centre, POINT_RADIUS, POINT_RADIUS)

        # labels where they fit: pinned first (over grey markers if need be), then
        # presets, never over each other
        markers = [QRectF(p.x() - 5, p.y() - 5, 10, 10) for p in self._placed]
        taken: list[QRectF] = []
        labels = sorted(range(len(self.points)), key=lambda i: i not in colours)
        bold = self.font()
        bold.setBold(True)
        for i in labels:
            point = self.points[i]
            font = bold if i in colours else self.font()
            metrics = QFontMetrics(font)
            avoid = taken if i in colours else taken + markers[:i] + markers[i + 1 :]
            box = _place(metrics, point.label, self._placed[i], r, avoid)
            if box is None:
                continue
            taken.append(box)
            painter.setFont(font)
            painter.setPen(colours.get(i, text))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, point.label)
        painter.setFont(self.font())

        # the hovered point: a ring (its name and figures are in the tooltip)
        if self.hovered:
            centre = self._placed[self.hovered[0]]
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(QPen(palette.color(QPalette.ColorRole.Highlight), 2))
            painter.drawEllipse(centre, PIN_RADIUS + 4, PIN_RADIUS + 4)
        painter.end()

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

    def leaveEvent(self, event) -> None:  # noqa: ANN001 - QEvent
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
