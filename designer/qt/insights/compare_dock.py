"""The compare tab: pinned designs side by side per stage, with deltas, and a Pareto plot.

The table reuses ``compare.columns`` (figures, not text). The plot
(``ParetoPlot``) paints params against MACs of every bundled preset and the
pinned designs itself, sized to the tab: hover a point for its name and figures,
click it to load that preset or pinned design as one undoable edit. Nothing is
analysed for it beyond the table's columns, the presets (once per process) and,
with nothing pinned, the live analysis the app already has. "Save plot…" writes
the same plot with matplotlib (``write_pareto``) on the thread pool.

The plot's x axis can instead show measured latency or throughput: every design
kept in the Measure tab's cache (its newest figures per device and settings),
with its parameters on the y axis, the current, pinned and preset designs marked
as on the MACs axis. A design not measured has no point there.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from designer.core.analysis import Analysis, analyse
from designer.core.compare import Column, columns, write_pareto
from designer.core.design import Design
from designer.core.measure import MeasureCache, Measurement, MeasureSettings, fingerprint
from designer.core.presets import load_preset, preset_names
from designer.core.report import delta_text, human_bytes, human_count
from designer.qt.analysis_model import AnalysisModel
from designer.qt.document import Document
from designer.qt.insights.common import cell, hint, table
from designer.qt.insights.measure_dock import local_time, measure_dir
from designer.qt.insights.pareto_plot import MACS, Axis, ParetoPlot, Point
from designer.qt.workers import Runner

PLOT_HINT = "Hover a point for its figures; click it to load that design (undoable)."
MEASURED_HINT = "Designs measured in the Measure tab (Ctrl+Alt+6): hover a point for its figures."
NOTHING_MEASURED = (
    "Nothing measured yet: press Measure in the Measure tab (Ctrl+Alt+6), and each design"
    " measured appears here."
)
# the x axis: (choice in the combo, axis)
AXES = {
    "macs": ("MACs", MACS),
    "latency": (
        "Latency",
        Axis(
            (
                "measured latency at batch 1 (ms per image, log scale)",
                "latency (ms, log scale)",
                "ms",
            ),
            NOTHING_MEASURED,
        ),
    ),
    "throughput": (
        "Throughput",
        Axis(
            ("measured throughput (images per second, log scale)", "images/s (log scale)", "im/s"),
            NOTHING_MEASURED,
        ),
    ),
}
SAVE_TIP = "Write the plot as PNG, SVG or PDF"


@cache
def _preset_fingerprints() -> dict[str, str]:
    """Each bundled preset's network fingerprint -> its name (a measured preset is named)."""
    return {fingerprint(load_preset(name)): name for name in preset_names()}


def _measured_figure(m: Measurement, axis: str) -> tuple[float, str]:
    """The x value of measurement ``m`` on the ``axis`` ("latency", "throughput"), and its text."""
    on = f"on {m.settings.describe()}, measured {local_time(m.when)}"
    if axis == "latency":
        ms = m.latency.median_s * 1000
        return ms, f"{ms:.2f} ms at batch 1 {on}"
    batch = m.settings.batch if m.throughput else 1
    return m.best_throughput, f"{m.best_throughput:,.0f} images/s at batch {batch} {on}"


@cache
def _preset_point(name: str) -> Point:
    """A bundled preset's marker (presets never change: analysed once per process)."""
    design = load_preset(name)
    result = analyse(design)
    return Point(name, design.name, result.params, result.macs, design)


GROWS = QColor("#c2410c")  # same colours as the inspector's baseline deltas
SHRINKS = QColor("#15803d")


def _figures(col: Column) -> list[tuple[str, float | None, str]]:
    """(row label, value, format) for one column: totals, then every stage."""
    r = col.result
    rows: list[tuple[str, float | None, str]] = [
        ("Params", r.params, "count"),
        ("MACs", r.macs, "count"),
        ("Activations / sample", r.activation_bytes_per_sample, "bytes"),
        ("Depth", r.depth, "int"),
    ]
    for s in col.stages:
        rows += [
            (f"{s.name} params", s.params, "count"),
            (f"{s.name} MACs", s.macs, "count"),
            (f"{s.name} activations", s.activation_bytes, "bytes"),
            (f"{s.name} output stride", s.output_stride, "int"),
            (f"{s.name} receptive field", s.receptive_field, "int"),
        ]
    return rows


def _text(value: float, fmt: str) -> str:
    if fmt == "bytes":
        return human_bytes(value)
    if fmt == "int":
        return f"{int(value)}"
    return human_count(value)


class ComparePanel(QWidget):
    def __init__(
        self,
        document: Document,
        analyses: AnalysisModel | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.document = document
        self.pins: list[tuple[str, Design]] = []
        self._columns: list[Column] = []
        self._analyses = analyses
        self._live: Analysis | None = None  # the app's analysis of the document's design
        self._plot_dirty = True
        self.save_runner = Runner(parent=self)
        self.save_runner.failed.connect(lambda _g, m: self.status.setText(f"⚠ {m}"))
        self.save_runner.done.connect(lambda _g, path: self.status.setText(f"Saved {path}"))

        controls = QHBoxLayout()
        self.pin_button = QPushButton("Pin current")
        self.pin_button.setToolTip("Add a snapshot of the current design to the comparison")
        self.pin_button.clicked.connect(self.pin_current)
        self.preset = QComboBox()
        self.preset.addItems(preset_names())
        self.preset.setToolTip("A bundled preset to compare against")
        self.add_button = QPushButton("Add preset")
        self.add_button.clicked.connect(lambda: self.add_preset(self.preset.currentText()))
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Remove the selected column (or the last one)")
        self.remove_button.clicked.connect(self.remove_selected)
        self.clear_button = QPushButton("Clear")
        self.clear_button.clicked.connect(self.clear)
        for widget in (self.pin_button, self.preset, self.add_button):
            controls.addWidget(widget)
        controls.addStretch(1)
        controls.addWidget(self.remove_button)
        controls.addWidget(self.clear_button)

        self.table = table(["Figure"], stretch_last=False)
        self.table.setSelectionBehavior(self.table.SelectionBehavior.SelectColumns)
        self.empty = hint(
            "Pin the current design or add presets: the first column is the baseline,"
            " the others show their change against it."
        )
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addLayout(controls)
        left_layout.addWidget(self.empty)
        left_layout.addWidget(self.table, 1)

        self.plot = ParetoPlot()
        self.plot.setToolTip("")
        self.plot.pointClicked.connect(self.load_point)
        self.save_button = QPushButton("Save plot…")
        self.save_button.setToolTip(SAVE_TIP)
        self.save_button.clicked.connect(self.save_dialog)
        self.axis = QComboBox()
        for key, (text, _axis) in AXES.items():
            self.axis.addItem(text, key)
        self.axis.setToolTip(
            "The x axis: multiply-adds, or latency (ms per image at batch 1) or throughput"
            " (images per second) measured in the Measure tab, the newest figures per design,"
            " device and settings; only measured designs are plotted then"
        )
        self.axis.currentIndexChanged.connect(self._axis_changed)
        self.status = hint(PLOT_HINT)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.plot, 1)
        row = QHBoxLayout()
        row.addWidget(self.status, 1)
        row.addWidget(self.axis)
        row.addWidget(self.save_button)
        right_layout.addLayout(row)

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setChildrenCollapsible(False)
        self.split = split
        self._sized = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(split)
        if analyses is not None:
            analyses.subscribe(self._analysed)
        document.designChanged.connect(self._design_changed)
        self._refresh()

    # -- pins ------------------------------------------------------------------------------
    def pin_current(self) -> None:
        design = self.document.design
        self._add(design.name or "current", design)

    def add_preset(self, name: str) -> None:
        self._add(name, load_preset(name))

    def _add(self, label: str, design: Design) -> None:
        taken = {pinned for pinned, _ in self.pins}
        unique, n = label, 2
        while unique in taken:
            unique, n = f"{label} ({n})", n + 1
        self.pins.append((unique, design))
        self._refresh()

    def remove_selected(self) -> None:
        if not self.pins:
            return
        chosen = [i.column() - 1 for i in self.table.selectionModel().selectedColumns()]
        index = chosen[0] if chosen and 0 <= chosen[0] < len(self.pins) else len(self.pins) - 1
        del self.pins[index]
        self._refresh()

    def clear(self) -> None:
        self.pins = []
        self._refresh()

    # -- table -----------------------------------------------------------------------------
    def _refresh(self) -> None:
        self.empty.setVisible(not self.pins)
        self.remove_button.setEnabled(bool(self.pins))
        self.clear_button.setEnabled(bool(self.pins))
        self._columns = columns(self.pins) if self.pins else []
        self._fill_table(self._columns)
        self._plot_dirty = True
        if self.isVisible():
            self.update_plot()

    def _fill_table(self, cols: list[Column]) -> None:
        view = self.table
        view.clear()
        view.setColumnCount(1 + len(cols))
        view.setHorizontalHeaderLabels(["Figure", *[c.label for c in cols]])
        if not cols:
            view.setRowCount(0)
            return
        per_col = [{label: (v, f) for label, v, f in _figures(c)} for c in cols]
        labels: list[str] = []
        for col in cols:  # rows in first-seen order; a stage one design lacks shows "--"
            labels += [label for label, _, _ in _figures(col) if label not in labels]
        view.setRowCount(len(labels))
        base = per_col[0]
        for row, label in enumerate(labels):
            view.setItem(row, 0, cell(label))
            for i, figures in enumerate(per_col):
                if label not in figures:
                    view.setItem(row, i + 1, cell("--", right=True))
                    continue
                value, fmt = figures[label]
                text = _text(value, fmt)
                item = cell(text, right=True, tip=f"{int(value):,}")
                first = base.get(label)
                if i and first is not None and first[0] is not None:
                    change = delta_text(value, first[0], lambda v, f=fmt: _text(v, f))
                    item.setText(f"{text}   {change}")
                    if value != first[0]:
                        item.setForeground(QBrush(GROWS if value > first[0] else SHRINKS))
                view.setItem(row, i + 1, item)

    def cell_text(self, figure: str, column: int) -> str:
        """The text shown for ``figure`` (a row label) in pinned column ``column`` (tests)."""
        for row in range(self.table.rowCount()):
            if self.table.item(row, 0).text() == figure:
                return self.table.item(row, column + 1).text()
        raise KeyError(figure)

    # -- plot ------------------------------------------------------------------------------
    def highlight(self) -> list[tuple[str, Design]]:
        if self.pins:
            return list(self.pins)
        design = self.document.design
        return [(f"{design.name} (current)", design)]

    def points(self) -> list[Point]:
        """The plot's markers: every preset not pinned, then the pinned designs (or current)."""
        if self.pins:
            marked = [
                Point(c.label, design.name, c.result.params, c.result.macs, design, pinned=True)
                for c, (_label, design) in zip(self._columns, self.pins, strict=True)
            ]
        else:
            design, live = self.document.design, self._live
            if live is not None and live.design == design:
                result: Analysis | None = live
            else:  # the app's analysis is on its way (a huge design): marked when it comes
                result = analyse(design) if self._analyses is None else None
            label = f"{design.name} (current)"
            marked = (
                [Point(label, design.name, result.params, result.macs, design, current=True)]
                if result is not None
                else []
            )
        shown = {p.design for p in marked}
        presets = [_preset_point(name) for name in preset_names()]
        return [p for p in presets if p.design not in shown] + marked

    def axis_key(self) -> str:
        """What the x axis shows: "macs", "latency" or "throughput"."""
        return str(self.axis.currentData())

    def measured_points(self, axis: str) -> list[Point]:
        """One marker per measured design and settings (its newest figures), x the figure.

        The current, pinned and preset designs are marked and named as on the MACs
        axis; any other design (an earlier edit, say) by its name, and clicking it loads
        nothing (the cache keeps figures, not designs).
        """
        newest: dict[tuple[str, MeasureSettings], Measurement] = {}
        for m in MeasureCache(measure_dir()).all():  # newest first
            newest.setdefault((m.fingerprint, m.settings), m)
        current = self.document.design
        mine = fingerprint(current)
        pins = {fingerprint(design): (label, design) for label, design in reversed(self.pins)}
        presets = _preset_fingerprints()
        found: list[tuple[str, Measurement, dict]] = []
        for m in newest.values():
            params, macs = m.params, m.macs
            if m.fingerprint in pins:
                label, design = pins[m.fingerprint]
                marks = {"design": design, "pinned": True}
            elif m.fingerprint == mine:
                label, marks = f"{current.name} (current)", {"design": current, "current": True}
            elif m.fingerprint in presets:
                point = _preset_point(presets[m.fingerprint])
                label, marks = point.label, {"design": point.design}
                params, macs = point.params, point.macs
            else:
                label, marks = m.design_name, {"design": None}
            if params is None or macs is None:  # no figures to place it by
                continue
            found.append((label, m, {**marks, "params": params, "macs": macs}))
        labels = [label for label, _m, _marks in found]
        out: list[Point] = []
        taken: set[str] = set()
        for label, m, marks in found:
            if labels.count(label) > 1:  # the same design on several devices or settings
                label = f"{label} ({m.settings.describe()})"
            unique, n = label, 2
            while unique in taken:  # earlier edits of the same name: the newest is plain
                unique, n = f"{label} ({n})", n + 1
            taken.add(unique)
            x, detail = _measured_figure(m, axis)
            out.append(Point(unique, m.design_name, x=x, detail=detail, **marks))
        # presets under the others, as on the MACs axis
        return sorted(out, key=lambda p: p.pinned or p.current)

    def update_plot(self) -> None:
        self._plot_dirty = False
        key = self.axis_key()
        if key == "macs":
            self.plot.set_points(self.points())
        else:
            self.plot.set_points(self.measured_points(key), AXES[key][1])

    def measurements_changed(self, *_args: object) -> None:
        """A measurement was stored: replot when the x axis shows measured figures."""
        if self.axis_key() != "macs":
            self._plot_dirty = True
            if self.isVisible():
                self.update_plot()

    def _axis_changed(self, _index: int) -> None:
        measured = self.axis_key() != "macs"
        self.status.setText(MEASURED_HINT if measured else PLOT_HINT)
        self.save_button.setEnabled(not measured)
        self.save_button.setToolTip(
            "Saving writes the params-against-MACs plot: choose MACs for the x axis"
            if measured
            else SAVE_TIP
        )
        self._plot_dirty = True
        if self.isVisible():
            self.update_plot()

    def request_plot(self) -> None:  # the older name: the plot is drawn here, at once
        self.update_plot()

    def load_point(self, point: Point) -> None:
        """Load the clicked preset or pinned design into the document: one undoable edit."""
        if point.design is None or point.design == self.document.design:
            return
        design = point.design
        self.document.edit("design", lambda _d: design, f"Load {point.label} from Compare")

    def _analysed(self, analysis: Analysis) -> None:
        self._live = analysis
        if not self.pins:
            self._plot_dirty = True
            if self.isVisible():
                self.update_plot()

    def _design_changed(self, _design: Design) -> None:
        # with nothing pinned the plot marks the current design: its analysis follows
        if not self.pins:
            self._plot_dirty = True
            if self._analyses is None and self.isVisible():
                self.update_plot()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._sized:  # the splitter knows its width only once shown: halve it
            self._sized = True
            half = max(self.split.width() // 2, 1)
            self.split.setSizes([half, half])
        if self._plot_dirty:
            self.update_plot()

    def save_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save plot", "pareto.png", "PNG (*.png);;SVG (*.svg);;PDF (*.pdf)"
        )
        if path:
            self.save_plot(path)

    def save_plot(self, path: str | Path) -> None:
        target = Path(path)
        if target.suffix.lower() not in (".png", ".svg", ".pdf"):
            target = target.with_suffix(".png")
        self.status.setText("Saving…")
        self.save_runner.submit(_save, target, self.highlight())


def _save(path: Path, highlight: list[tuple[str, Design]]) -> str:
    write_pareto(path, highlight)
    return str(path)
