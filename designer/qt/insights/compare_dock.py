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

The y axis can instead show the best val top-1 of every design trained in the
Train tab (``designer.core.run_history``: runs grouped by network, the best run
speaking for each), against MACs, parameters or a measured figure (a trained
design never measured has no point there), with the Pareto front marked
(``designer.core.pareto``). The runs are read when that axis is chosen, when the
tab shows, and when the Train tab says a run started or ended (``runs_changed``).
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache, lru_cache, partial
from pathlib import Path
from typing import Any, cast

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QShowEvent, QStandardItemModel
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from designer.core.analysis import Analysis, analyse
from designer.core.compare import Column, columns, write_pareto
from designer.core.design import Design, DesignError
from designer.core.measure import MeasureCache, Measurement, MeasureSettings, fingerprint
from designer.core.pareto import pareto_front
from designer.core.presets import load_preset, preset_names
from designer.core.report import delta_text, human_bytes, human_count
from designer.core.run_history import TrainedDesign, trained_designs
from designer.qt.analysis_model import AnalysisModel
from designer.qt.document import Document
from designer.qt.insights.common import cell, hint, table
from designer.qt.insights.measure_dock import local_time, measure_dir
from designer.qt.insights.pareto_plot import ACCURACY, MACS, PARAMS, Axis, ParetoPlot, Point
from designer.qt.insights.train_dock import runs_dir
from designer.qt.workers import Runner

PLOT_HINT = "Hover a point for its figures; click it to load that design (undoable)."
MEASURED_HINT = "Designs measured in the Measure tab (Ctrl+Alt+6): hover a point for its figures."
NOTHING_MEASURED = (
    "Nothing measured yet: press Measure in the Measure tab (Ctrl+Alt+6), and each design"
    " measured appears here."
)
NO_TRAINED = (
    "No trained designs yet: start a run in the Train tab (Ctrl+Alt+7); each design's"
    " best val top-1 appears here."
)
NONE_MEASURED = (
    "No trained design was measured yet: load one (click it with MACs on the x axis),"
    " press Measure in the Measure tab (Ctrl+Alt+6), and it appears here."
)
# short: the line shares its row with the axis combos and Save, under a short plot
ACCURACY_HINT = "The Pareto front in green. Hover a point for its figures; click it to load it."
ACCURACY_EMPTY_HINT = "Each trained design at its best val top-1 (the best of its runs)."
# the x axis: (choice in the combo, axis)
AXES = {
    "macs": ("MACs", MACS),
    "params": (
        "Parameters",
        Axis(("parameters (log scale)", "params (log scale)", "params")),
    ),
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
            minimise=False,
        ),
    ),
}
# the y axis: (choice in the combo, axis)
Y_AXES = {"params": ("Parameters", PARAMS), "accuracy": ("Best val top-1", ACCURACY)}
SAVE_TIP = "Write the plot as PNG, SVG or PDF"
# Save's tooltip where it is disabled: with parameters, with accuracy on the y axis
SAVE_ONLY = (
    "Saving writes the params-against-MACs plot: choose MACs for the x axis",
    "Saving writes the params-against-MACs plot: choose Parameters for the y axis and MACs"
    " for the x axis",
)
X_TIP = (
    "The x axis: multiply-adds, parameters (with accuracy on the y axis), or latency (ms per"
    " image at batch 1) or throughput (images per second) measured in the Measure tab, the"
    " newest figures per design, device and settings; only measured designs are plotted then"
)
Y_TIP = (
    "The y axis: parameters, or the best val top-1 of each design trained in the Train tab"
    " (its best run), with the Pareto front marked"
)
PARAMS_ITEM_TIP = "Parameters against accuracy: choose Best val top-1 for the y axis first"


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


@lru_cache(maxsize=256)
def _size(design: Design) -> tuple[int, int] | None:
    """(params, MACs) of a trained design (analysed once each); None if it cannot be."""
    try:
        result = analyse(design)
    except (DesignError, ValueError, ArithmeticError):
        return None
    return result.params, result.macs


def _runs_note(trained: TrainedDesign) -> str:
    if trained.runs == 1:
        return f"1 run: {trained.best_run}"
    return f"best of {trained.runs} runs: {trained.best_run}"


def _unique(label: str, taken: set[str]) -> str:
    """``label``, or ``label (2)``, ``(3)``... when another point already has it."""
    unique, n = label, 2
    while unique in taken:
        unique, n = f"{label} ({n})", n + 1
    taken.add(unique)
    return unique


def mark_front(points: list[Point], minimise: bool = True) -> list[Point]:
    """``points`` with ``front`` set on each one no other of its group dominates."""
    groups: dict[str, list[int]] = {}
    for i, p in enumerate(points):
        groups.setdefault(p.group, []).append(i)
    out = list(points)
    for members in groups.values():
        pairs = [(points[i].x_value, points[i].y_value) for i in members]
        for j in pareto_front(pairs, minimise_x=minimise):
            out[members[j]] = replace(points[members[j]], front=True)
    return out


@cache
def _preset_point(name: str) -> Point:
    """A bundled preset's marker (presets never change: analysed once per process)."""
    design = load_preset(name)
    result = analyse(design)
    return Point(name, design.name, result.params, result.macs, design)


GROWS = QColor("#c2410c")  # same colours as the inspector's baseline deltas
SHRINKS = QColor("#15803d")


def _figures(col: Column) -> list[tuple[str, float, str]]:
    """(row label, value, format) for one column: totals, then every stage."""
    r = col.result
    rows: list[tuple[str, float, str]] = [
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
        self._trained: list[TrainedDesign] | None = None  # the runs as last read
        self.unplaced = 0  # trained designs without a point on the x axis (never measured)
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
        self.y_axis = _combo(Y_AXES, Y_TIP, "y axis")
        self.axis = _combo(AXES, X_TIP, "x axis")
        self.y_axis.currentIndexChanged.connect(self._axis_changed)
        self.axis.currentIndexChanged.connect(self._axis_changed)
        self.status: QLabel = hint(PLOT_HINT)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.plot, 1)
        row = QHBoxLayout()
        row.addWidget(self.status, 1)
        for text, combo in (("y", self.y_axis), ("x", self.axis)):
            label = QLabel(text)
            label.setBuddy(combo)
            label.setToolTip(combo.toolTip())
            row.addWidget(label)
            row.addWidget(combo)
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
        self._axis_changed(0)
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
                    change = delta_text(value, first[0], partial(_text, fmt=fmt))
                    item.setText(f"{text}   {change}")
                    if value != first[0]:
                        item.setForeground(QBrush(GROWS if value > first[0] else SHRINKS))
                view.setItem(row, i + 1, item)

    def cell_text(self, figure: str, column: int) -> str:
        """The text shown for ``figure`` (a row label) in pinned column ``column`` (tests)."""
        for row in range(self.table.rowCount()):
            label = self.table.item(row, 0)
            assert label is not None  # _fill_table labels every row
            if label.text() == figure:
                shown = self.table.item(row, column + 1)
                assert shown is not None  # and fills every column
                return shown.text()
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
        """What the x axis shows: "macs", "params", "latency" or "throughput"."""
        return str(self.axis.currentData())

    def y_key(self) -> str:
        """What the y axis shows: "params" or "accuracy" (best val top-1)."""
        return str(self.y_axis.currentData())

    def _known(self) -> dict[str, tuple[str, dict[str, Any]]]:
        """Fingerprint -> (label, marks) of the pinned, current and preset designs.

        A pinned design wins over the current one, which wins over a preset: each is
        marked as on the MACs axis wherever its network shows up (measured, trained).
        """
        known: dict[str, tuple[str, dict[str, Any]]] = {
            fp: (name, {"design": load_preset(name)}) for fp, name in _preset_fingerprints().items()
        }
        current = self.document.design
        known[fingerprint(current)] = (
            f"{current.name} (current)",
            {"design": current, "current": True},
        )
        for label, design in reversed(self.pins):  # the first pin of a network wins
            known[fingerprint(design)] = (label, {"design": design, "pinned": True})
        return known

    def _newest_measurements(self) -> list[Measurement]:
        """The Measure tab's cache: the newest figures per design and settings."""
        newest: dict[tuple[str, MeasureSettings], Measurement] = {}
        for m in MeasureCache(measure_dir()).all():  # newest first
            newest.setdefault((m.fingerprint, m.settings), m)
        return list(newest.values())

    def measured_points(self, axis: str) -> list[Point]:
        """One marker per measured design and settings (its newest figures), x the figure.

        The current, pinned and preset designs are marked and named as on the MACs
        axis; any other design (an earlier edit, say) by its name, and clicking it loads
        nothing (the cache keeps figures, not designs).
        """
        known = self._known()
        presets = _preset_fingerprints()
        found: list[tuple[str, Measurement, dict]] = []
        for m in self._newest_measurements():
            params, macs = m.params, m.macs
            if m.fingerprint in known:
                label, marks = known[m.fingerprint]
                if m.fingerprint in presets and not set(marks) & {"pinned", "current"}:
                    point = _preset_point(presets[m.fingerprint])
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
            unique = _unique(label, taken)  # earlier edits of the same name: the newest is plain
            x, detail = _measured_figure(m, axis)
            out.append(Point(unique, m.design_name, x=x, detail=detail, **marks))
        # presets under the others, as on the MACs axis
        return sorted(out, key=lambda p: p.pinned or p.current)

    def trained(self) -> list[TrainedDesign]:
        """The trained designs under the runs folder, read once until the runs change."""
        if self._trained is None:
            self._trained = trained_designs(runs_dir())
        return self._trained

    def accuracy_points(self, axis: str) -> list[Point]:
        """One marker per trained design (per measured settings on a measured axis), y its
        best val top-1, the Pareto front marked; sets ``unplaced`` to those left out.

        Named and marked as on the other axes when the design is pinned, current or a
        preset; any other is named by its design and clicking it loads the run's copy.
        """
        known = self._known()
        measured: dict[str, list[Measurement]] = {}
        if axis in ("latency", "throughput"):
            for m in self._newest_measurements():
                measured.setdefault(m.fingerprint, []).append(m)
        found: list[tuple[str, dict[str, Any]]] = []
        self.unplaced = 0
        for t in self.trained():
            size = _size(t.design)
            label, marks = known.get(t.fingerprint, (t.name, {"design": t.design}))
            figures = self._trained_x(t, axis, measured)
            if size is None or not figures:
                self.unplaced += 1
                continue
            y, note = 100 * t.best_acc, _runs_note(t)
            base = {**marks, "title": t.name, "params": size[0], "macs": size[1]}
            for x, detail, group in figures:
                suffix = f" ({group})" if len(figures) > 1 else ""
                kept = {"x": x, "detail": detail, "y": y, "note": note, "group": group}
                found.append((label + suffix, {**base, **kept}))
        taken: set[str] = set()
        points = [Point(_unique(label, taken), **fields) for label, fields in found]
        points = mark_front(points, minimise=AXES[axis][1].minimise)
        return sorted(points, key=lambda p: (p.pinned or p.current, p.front))

    def _trained_x(
        self, t: TrainedDesign, axis: str, measured: dict[str, list[Measurement]]
    ) -> list[tuple[float | None, str, str]]:
        """(x, its tooltip text, group) of a trained design on ``axis``: one each for MACs
        (x None) and parameters, one per measured settings, none if never measured."""
        if axis == "macs":
            return [(None, "", "")]
        if axis == "params":
            size = _size(t.design)
            return [(float(size[0]), "", "")] if size else []
        out: list[tuple[float | None, str, str]] = []
        for m in measured.get(t.fingerprint, []):
            x, detail = _measured_figure(m, axis)
            out.append((x, detail, m.settings.describe()))
        return out

    def update_plot(self) -> None:
        self._plot_dirty = False
        key = self.axis_key()
        if self.y_key() == "accuracy":
            self._plot_accuracy(key)
        elif key == "macs":
            self.plot.set_points(self.points())
        else:
            self.plot.set_points(self.measured_points(key), AXES[key][1])

    def _plot_accuracy(self, key: str) -> None:
        points = self.accuracy_points(key)
        measured = key in ("latency", "throughput")
        empty = NONE_MEASURED if self.trained() and measured else NO_TRAINED
        self.plot.set_points(points, AXES[key][1], ACCURACY, empty=empty)
        text = ACCURACY_HINT if points else ACCURACY_EMPTY_HINT
        if self.unplaced and points:
            text = (
                f"{self.unplaced} trained design(s) never measured: no point here"
                " (Measure tab, Ctrl+Alt+6)."
            )
        self.status.setText(text)

    def measurements_changed(self, *_args: object) -> None:
        """A measurement was stored: replot when the x axis shows measured figures."""
        if self.axis_key() in ("latency", "throughput"):
            self._plot_dirty = True
            if self.isVisible():
                self.update_plot()

    def runs_changed(self, *_args: object) -> None:
        """A run started, ended or was stopped: read the runs again and replot when the
        y axis shows accuracy (connect the Train tab's ``runsChanged`` here)."""
        self._trained = None
        if self.y_key() == "accuracy":
            self._plot_dirty = True
            if self.isVisible():
                self.update_plot()

    def _axis_changed(self, _index: int) -> None:
        """Either axis changed: what x may show, the hint, Save, and the plot."""
        accuracy = self.y_key() == "accuracy"
        if self._allow_params_x(accuracy):
            return  # x moved back to MACs: that change did the rest
        default = self.axis_key() == "macs" and not accuracy
        if accuracy:
            self._trained = None  # read the runs afresh
            self.status.setText(ACCURACY_HINT)
        else:
            self.status.setText(PLOT_HINT if default else MEASURED_HINT)
        self.save_button.setEnabled(default)
        self.save_button.setToolTip(SAVE_TIP if default else SAVE_ONLY[accuracy])
        self._plot_dirty = True
        if self.isVisible():
            self.update_plot()

    def _allow_params_x(self, allowed: bool) -> bool:
        """Parameters on x only against accuracy (params against params says nothing);
        True when x showed them and moved back to MACs."""
        index = self.axis.findData("params")
        model = cast(QStandardItemModel, self.axis.model())  # the combo's own
        item = model.item(index)
        item.setEnabled(allowed)
        item.setToolTip("" if allowed else PARAMS_ITEM_TIP)
        if allowed or self.axis.currentIndex() != index:
            return False
        self.axis.setCurrentIndex(self.axis.findData("macs"))  # calls _axis_changed
        return True

    def request_plot(self) -> None:  # the older name: the plot is drawn here, at once
        self.update_plot()

    def load_point(self, point: Point) -> None:
        """Load the clicked preset or pinned design into the document: one undoable edit."""
        if point.design is None or point.design == self.document.design:
            return
        design = point.design
        self.document.edit("design", lambda _d: design, f"Load {point.label} from Compare")

    def _marks_current(self) -> bool:
        """Whether the plot marks the document's design: with nothing pinned, and on the
        measured and accuracy axes, which mark it wherever its network shows up."""
        return not self.pins or self.axis_key() != "macs" or self.y_key() == "accuracy"

    def _analysed(self, analysis: Analysis) -> None:
        self._live = analysis
        if self._marks_current():
            self._plot_dirty = True
            if self.isVisible():
                self.update_plot()

    def _design_changed(self, _design: Design) -> None:
        # where the plot marks the current design, its analysis follows
        if self._marks_current():
            self._plot_dirty = True
            if self._analyses is None and self.isVisible():
                self.update_plot()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._sized:  # the splitter knows its width only once shown: halve it
            self._sized = True
            half = max(self.split.width() // 2, 1)
            self.split.setSizes([half, half])
        if self.y_key() == "accuracy":
            self._trained = None  # an epoch may have ended since: read the runs again
            self._plot_dirty = True
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


def _combo(axes: dict[str, tuple[str, Axis]], tip: str, name: str) -> QComboBox:
    """An axis's combo: one item per choice, its key as the item's data."""
    combo = QComboBox()
    for key, (text, _axis) in axes.items():
        combo.addItem(text, key)
    combo.setToolTip(tip)
    combo.setAccessibleName(name)
    return combo


def _save(path: Path, highlight: list[tuple[str, Design]]) -> str:
    write_pareto(path, highlight)
    return str(path)
