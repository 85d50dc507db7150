"""The Train tab: train the design with its own bundle's train.py and watch the curves.

Start writes a training bundle for the live design into a new run folder under the
runs root (``$RESNET_DESIGNER_RUNS_DIR``, else the app-data folder's ``runs``;
layout in ``designer.core.runs``). Writing a bundle imports torch, which the UI
process never does: a worker thread checks the data and hands the bundle to the
torch helper process, then starts the bundle's ``train.py`` under a supervisor in
its own session, so the run outlives the window. The tab never waits on the run:
a timer reads what train.log and metrics.csv gained since the last look and
replots. Stop sends SIGTERM (the last checkpoint stays), Resume continues from
``last.pt``; the Runs table lists this design's runs, alive ones first noticed
on start (the tab reattaches to them and keeps polling).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from PySide6.QtCore import QFile, QObject, QPointF, QRectF, QSize, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (
    QAction,
    QColor,
    QDesktopServices,
    QFontMetrics,
    QKeySequence,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPalette,
    QPen,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from designer.core import runs
from designer.core.design import Design
from designer.core.measure import MeasureCache
from designer.core.report import human_bytes
from designer.core.runs import Curves, Run, RunError, RunReader, RunSettings
from designer.core.text import one_line
from designer.qt import processes
from designer.qt.app_data import app_data_dir
from designer.qt.document import Document
from designer.qt.files import APP_NAME
from designer.qt.files import settings as app_settings
from designer.qt.insights.common import (
    cell,
    choices,
    error_label,
    fill_row,
    hint,
    show_error,
    table,
)
from designer.qt.insights.measure_dock import HelperFunction, measure_dir

DIR_ENV = "RESNET_DESIGNER_RUNS_DIR"
SETTINGS_KEY = "train/settings"  # the last started run's settings, as JSON
POLL_MS = 500  # how often an alive run's files are read
WRITE_BUNDLE = HelperFunction("designer.core.torch.bundle_writer:write_bundle")
DATA = [
    ("Synthetic", "synthetic"),
    ("ImageFolder", "imagefolder"),
    ("CIFAR-10 (local copy)", "cifar10"),
    ("CIFAR-100 (local copy)", "cifar100"),
]
# MPS exists only on a Mac, which Python knows without torch
DEVICES = [("Auto", "auto"), ("CPU", "cpu"), ("CUDA", "cuda")] + (
    [("MPS", "mps")] if sys.platform == "darwin" else []
)
PRECISIONS = [("fp32", "none"), ("bf16 autocast", "bf16"), ("fp16 autocast", "fp16")]
RECIPES = [("Auto (by input size)", "auto"), ("ImageNet", "imagenet"), ("CIFAR", "cifar")]
# the short figures first; the run's long folder name last, where the table stretches it
COLUMNS = ["Status", "Best val top-1", "Epochs", "Last train loss", "Started", "Run"]
# the series: train in the palette's highlight, val in a colour that reads on both themes
VAL_COLOUR = "#e09f1f"


def runs_dir() -> Path:
    """Where runs are kept: $RESNET_DESIGNER_RUNS_DIR, else the app-data folder's runs/."""
    return app_data_dir(DIR_ENV, "runs")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.2f}%"


# ---------------------------------------------------------------------------
# The plot


def _loss_top(train: list[float], val: list[float]) -> float:
    """The loss axis's top: every train point, and every val point but an outlier.

    A fresh network's first validation loss can be a hundred times the rest (its BN
    statistics are not settled yet); scaling to it flattens every later point. Train
    losses are running means over an epoch and never spike so: the axis covers them
    all (the first steps included, however fast the loss falls later), and a val point
    over 3x both the largest train loss and the val losses' 90th percentile is drawn
    clipped at the top edge.
    """
    top = max(train, default=0.0)
    if val:
        ordered = sorted(val)
        typical = ordered[int(0.9 * (len(ordered) - 1))]
        bound = 3 * max(top, typical)
        top = max(top, max((v for v in val if v <= bound), default=1.5 * typical))
    return (top or 1.0) * 1.05


def _tick(value: float) -> str:
    """A loss tick: whole numbers from 10, two significant digits below (never 2e+02)."""
    return f"{value:.0f}" if value >= 10 else f"{value:.2g}"


class CurvePlot(QWidget):
    """Loss, and top-1 (train, val) and val top-5 accuracy against the step, side by side."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.curves = Curves()
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(240, 110)

    def sizeHint(self) -> QSize:
        return QSize(520, 180)

    def set_curves(self, curves: Curves) -> None:
        self.curves = curves
        self.update()

    def series(self) -> dict[str, list[tuple[float, float]]]:
        """What is plotted: (step, value) per series (tests read it)."""
        c = self.curves
        rows = [r for r in c.epochs if "step" in r]
        return {
            "train loss": [(p.step, p.loss) for p in c.points]
            or [(r["step"], r["train_loss"]) for r in rows if "train_loss" in r],
            "val loss": [(r["step"], r["val_loss"]) for r in rows if "val_loss" in r],
            "train top-1": [(p.step, p.acc) for p in c.points]
            or [(r["step"], r["train_acc"]) for r in rows if "train_acc" in r],
            "val top-1": [(r["step"], r["val_acc"]) for r in rows if "val_acc" in r],
            "val top-5": [(r["step"], r["val_acc5"]) for r in rows if "val_acc5" in r],
        }

    def paintEvent(self, _event: QPaintEvent) -> None:
        palette = self.palette()
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), palette.color(QPalette.ColorRole.Base))
        muted = palette.color(QPalette.ColorRole.PlaceholderText)
        series = self.series()
        fm = QFontMetrics(self.font())
        if not any(series.values()):
            painter.setPen(muted)
            painter.drawText(
                QRectF(self.rect()).adjusted(8, 8, -8, -8),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                "Curves appear here as the run logs its steps.",
            )
            painter.end()
            return
        half = self.width() / 2
        train = palette.color(QPalette.ColorRole.Highlight)
        val = QColor(VAL_COLOUR)
        loss = [
            ("train", series["train loss"], train, False),
            ("val", series["val loss"], val, False),
        ]
        accuracy = [
            ("train", series["train top-1"], train, False),
            ("val", series["val top-1"], val, False),
            ("val top-5", series["val top-5"], val, True),
        ]
        self._panel(painter, fm, QRectF(0, 0, half, self.height()), "loss", loss, False)
        box = QRectF(half, 0, half, self.height())
        self._panel(painter, fm, box, "top-1", accuracy, True)
        painter.end()

    def _panel(
        self,
        painter: QPainter,
        fm: QFontMetrics,
        box: QRectF,
        title: str,
        lines: list[tuple[str, list[tuple[float, float]], QColor, bool]],
        fraction: bool,
    ) -> None:
        """One framed plot: (legend name, points, colour, dashed) per line."""
        palette = self.palette()
        muted = palette.color(QPalette.ColorRole.PlaceholderText)
        text = palette.color(QPalette.ColorRole.Text)
        points = [p for _, line, _, _ in lines for p in line]
        x1 = max((p[0] for p in points), default=1) or 1
        if fraction:
            y0, y1 = 0.0, 1.0
        else:  # lines: train's, then val's
            y0 = 0.0
            train, val = ([v for _, v in line if v == v] for _, line, _, _ in lines)
            y1 = _loss_top(train, val)
        values = [y0 + (y1 - y0) * i / 4 for i in range(5)]
        labels = [f"{100 * v:.0f}%" if fraction else _tick(v) for v in values]
        left = max(fm.horizontalAdvance(label) for label in labels) + 10  # never clipped
        r = box.adjusted(left, fm.height() + 6, -10, -(fm.height() + 6))
        if r.width() < 20 or r.height() < 20:
            return
        painter.setPen(QPen(muted, 1))
        painter.drawRect(r)
        for i, label in enumerate(labels):
            y = r.bottom() - i / 4 * r.height()
            painter.drawText(QPointF(r.left() - fm.horizontalAdvance(label) - 4, y + 4), label)
        steps = f"step {int(x1)}"
        below = r.bottom() + fm.ascent() + 3
        painter.drawText(QPointF(r.right() - fm.horizontalAdvance(steps), below), steps)
        painter.drawText(QPointF(r.left(), r.bottom() + fm.ascent() + 3), "0")
        painter.setPen(text)
        painter.drawText(QPointF(r.left(), r.top() - 4), title)
        legend_x = r.left() + fm.horizontalAdvance(title) + 12
        for name, _, colour, dashed in lines:
            if legend_x + 18 + fm.horizontalAdvance(name) > r.right():
                break  # a narrow plot: the legend says what fits
            pen = QPen(colour, 2)
            pen.setStyle(Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine)
            painter.setPen(pen)
            painter.drawLine(QPointF(legend_x, r.top() - 8), QPointF(legend_x + 14, r.top() - 8))
            painter.setPen(text)
            painter.drawText(QPointF(legend_x + 18, r.top() - 4), name)
            legend_x += 18 + fm.horizontalAdvance(name) + 12

        def at(step: float, value: float) -> QPointF:
            v = min(max(value, y0), y1) if value == value else y0
            return QPointF(
                r.left() + step / x1 * r.width(),
                r.bottom() - (v - y0) / (y1 - y0) * r.height(),
            )

        for _, line, colour, dashed in lines:
            if not line:
                continue
            pen = QPen(colour, 2)
            pen.setStyle(Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine)
            painter.setPen(pen)
            path = QPainterPath(at(*line[0]))
            for p in line[1:]:
                path.lineTo(at(*p))
            painter.drawPath(path)
            painter.setBrush(colour)
            for p in line if len(line) < 60 else line[-1:]:
                painter.drawEllipse(at(*p), 2.5, 2.5)
            painter.setBrush(Qt.BrushStyle.NoBrush)


# ---------------------------------------------------------------------------
# Closing the window with runs training

LEAVE, STOP, CANCEL = "leave", "stop", "cancel"


def ask_about_runs(parent: QWidget, alive: list[Run]) -> str:
    """Closing with runs training: LEAVE them running, STOP them, or CANCEL the close.

    Leaving is the default: a run of hours must not end because a window closed.
    """
    names = ", ".join(run.name for run in alive[:3]) + (" …" if len(alive) > 3 else "")
    count = "A training run is" if len(alive) == 1 else f"{len(alive)} training runs are"
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle(APP_NAME)
    box.setText(f"{count} still going: {names}")
    kept = "it keeps" if len(alive) == 1 else "each keeps"
    box.setInformativeText(
        "Left running, training goes on and the Train tab reattaches next time. Stopped,"
        f" {kept} a checkpoint of the step it reached, and Resume continues it."
    )
    leave = box.addButton("Leave Running", QMessageBox.ButtonRole.AcceptRole)
    stop = box.addButton("Stop Training", QMessageBox.ButtonRole.DestructiveRole)
    cancel = box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(leave)
    box.setEscapeButton(cancel)
    box.exec()
    clicked = box.clickedButton()
    return LEAVE if clicked is leave else STOP if clicked is stop else CANCEL


# ---------------------------------------------------------------------------
# Starting a run off the UI thread


class _Signals(QObject):
    started = Signal(int, object)  # generation, (folder, supervisor process)
    failed = Signal(int, str, int)  # generation, one line, the data's classes (0: not that)


def prepare_and_launch(
    root: Path, design: Design, settings: RunSettings
) -> tuple[Path, subprocess.Popen]:
    """The worker thread: check the data, make the run folder, bundle (helper), launch."""
    runs.check_data(settings, design)
    folder = runs.new_run_folder(root, design)
    try:
        runs.prepare_run(folder, design, settings)
        try:
            processes.run_in_helper("torch", WRITE_BUNDLE, design, str(runs.bundle_dir(folder)))
        except processes.HelperUnavailable as exc:
            raise RunError(f"the torch helper could not write the bundle: {exc}") from exc
        return folder, runs.launch(folder, settings)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)  # never started: no half run in the table
        raise


def _start_job(generation: int, root: Path, design: Design, settings: RunSettings, signals):
    try:
        result = prepare_and_launch(root, design, settings)
    except Exception as exc:  # one line in the tab, never a traceback
        found = exc.found if isinstance(exc, runs.ClassMismatch) else 0
        with contextlib.suppress(RuntimeError):
            signals.failed.emit(generation, one_line(str(exc)) or type(exc).__name__, found)
        return
    with contextlib.suppress(RuntimeError):
        signals.started.emit(generation, result)


# ---------------------------------------------------------------------------
# The panel


class TrainPanel(QWidget):
    """Settings, Start/Stop/Resume/Open Folder, live figures and curves, and the Runs table."""

    runsChanged = Signal()  # a run started, ended, stopped or finished an epoch (row redrawn)

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.generation = 0
        self.starting = False
        self.watched: Run | None = None  # the run whose curves show
        self.reader: RunReader | None = None
        self.supervisors: dict[Path, subprocess.Popen] = {}  # launched here: reaped on polls
        self._listed: list[Run] = []
        self._last_status: dict[Path, str] = {}
        self._row_epochs: dict[Path, int] = {}  # epochs each row last showed
        self._oom_lines: dict[Path, str] = {}  # a failed run's line, read from disk once
        self._signals = _Signals(self)
        self._signals.started.connect(self._started)
        self._signals.failed.connect(self._start_failed)
        self.longest_poll_s = 0.0  # the UI thread's longest look at the run's files
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)

        self.data = choices(
            DATA,
            "Synthetic: random images of the design's shape (always runs). ImageFolder: a"
            " folder with train/ and val/, one subfolder per class. CIFAR: a local copy",
        )
        self.path = QLineEdit()
        self.path.setPlaceholderText("data folder")
        self.browse = QPushButton("…")
        self.browse.setToolTip("Choose the data folder")
        self.browse.clicked.connect(self._browse)
        self.synthetic = QSpinBox()
        self.synthetic.setRange(16, 1_000_000)
        self.synthetic.setValue(1024)
        self.synthetic.setToolTip("Training images of the synthetic data set")
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 10_000)
        self.epochs.setValue(10)
        self.max_steps = QSpinBox()
        self.max_steps.setRange(0, 100_000_000)
        self.max_steps.setSpecialValueText("no limit")
        self.max_steps.setToolTip("Stop after this many steps (a checkpoint stays)")
        self.batch = QSpinBox()
        self.batch.setRange(1, 65_536)
        self.batch.setValue(64)
        self.lr = QDoubleSpinBox()
        self.lr.setDecimals(4)
        self.lr.setRange(0.0, 10.0)
        self.lr.setSingleStep(0.01)
        self.lr.setSpecialValueText("recipe default")
        self.lr.setToolTip("0: train.py's default for the recipe (0.1 x batch / 256 by default)")
        self.workers = QSpinBox()
        self.workers.setRange(0, 64)
        self.workers.setToolTip("Data-loading processes (0: in the training process)")
        self.print_freq = QSpinBox()
        self.print_freq.setRange(1, 100_000)
        self.print_freq.setValue(5)
        self.print_freq.setSuffix(" steps")
        self.print_freq.setToolTip(
            "train.py's progress line, a point of the live curve, every N steps"
        )
        self.processes = QSpinBox()
        self.processes.setRange(1, 64)
        self.processes.setToolTip(
            "Above 1: train.py under torchrun, one process per GPU (each takes its local GPU;"
            " on a CPU, Gloo processes); the batch is per process"
        )
        self.device = choices(DEVICES)
        self.precision = choices(PRECISIONS)
        self.recipe = choices(
            RECIPES,
            "train.py's augmentation and defaults: CIFAR's (pad-and-crop, flip, lr 0.1, wd"
            " 5e-4) up to 64 px a side, ImageNet's above; the first log line says which",
        )
        self.flags = QLineEdit()
        self.flags.setPlaceholderText("more train.py flags")
        self.flags.setToolTip(
            "Any other train.py flag, as in a shell: --label-smoothing 0.1 --auto-augment"
            " ta_wide --mixup-alpha 0.2 --model-ema (see the bundle's README)"
        )
        self._controls: list[QWidget] = [
            self.data,
            self.path,
            self.browse,
            self.synthetic,
            self.epochs,
            self.max_steps,
            self.batch,
            self.lr,
            self.workers,
            self.print_freq,
            self.processes,
            self.device,
            self.precision,
            self.recipe,
            self.flags,
        ]
        self.data.currentIndexChanged.connect(self._data_changed)

        path_row = QHBoxLayout()
        path_row.addWidget(self.path, 1)
        path_row.addWidget(self.browse)
        # two columns of fields: five rows fit the Insights strip's default height
        form = QGridLayout()
        form.setVerticalSpacing(2)
        pairs: list[tuple[str, QWidget | QLayout, str, QWidget | QLayout | None]] = [
            ("Data", self.data, "Folder", path_row),
            ("Images", self.synthetic, "Epochs", self.epochs),
            ("Max steps", self.max_steps, "Batch", self.batch),
            ("Learning rate", self.lr, "Workers", self.workers),
            ("Device", self.device, "Precision", self.precision),
            ("Log every", self.print_freq, "Processes", self.processes),
            ("Recipe", self.recipe, "Flags", self.flags),
        ]
        for row, (a, field_a, b, field_b) in enumerate(pairs):
            for column, (label, field) in enumerate(((a, field_a), (b, field_b))):
                if field is None:
                    continue
                form.addWidget(QLabel(label), row, 2 * column)
                if isinstance(field, QWidget):
                    form.addWidget(field, row, 2 * column + 1)
                else:
                    form.addLayout(field, row, 2 * column + 1)
        left = QWidget()
        left.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Preferred)
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addLayout(form)
        left_layout.addStretch(1)

        self.start_button = QPushButton("Start")
        self.start_button.setToolTip(
            "Write a training bundle for this design into a new run folder and run its train.py"
        )
        self.start_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop the run (the last checkpoint stays; Resume continues)")
        self.stop_button.clicked.connect(self.stop)
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Continue the selected run from its last checkpoint")
        self.resume_button.clicked.connect(self.resume)
        self.open_button = QPushButton("Open Folder")
        self.open_button.setToolTip("Show the run's folder: bundle, log, metrics, checkpoints")
        self.open_button.clicked.connect(self.open_folder)
        buttons = QHBoxLayout()
        for button in (self.start_button, self.stop_button, self.resume_button, self.open_button):
            buttons.addWidget(button)
        self.status = hint()  # "Running: epoch 3/10 ...", "Finished."
        buttons.addWidget(self.status, 1)
        self.error = error_label()
        self._classes = 0
        self.set_classes = QPushButton()
        self.set_classes.setToolTip(
            "Change the design's number of classes to the data's (undoable)"
        )
        self.set_classes.clicked.connect(self._apply_classes)
        self.set_classes.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.set_classes.hide()
        self.figures = QLabel()  # images/s, epoch time, ETA
        self.figures.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.plot = CurvePlot()
        self.runs_table = table(COLUMNS)
        self.runs_table.setMinimumHeight(self.fontMetrics().height() * 4)
        self.runs_table.itemSelectionChanged.connect(self._selected)
        self.runs_table.setToolTip(
            "Delete, or the context menu: move a run that ended to the Trash"
        )
        self.trash_action = QAction("Move Run to Trash…", self.runs_table)
        self.trash_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Delete))
        self.trash_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.trash_action.triggered.connect(self.trash_run)
        self.runs_table.addAction(self.trash_action)
        self.runs_table.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        middle = QVBoxLayout()
        middle.addLayout(buttons)
        middle.addWidget(self.error)
        middle.addWidget(self.set_classes)
        middle.addWidget(self.figures)
        middle.addWidget(self.plot, 1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(left)
        layout.addLayout(middle, 2)
        layout.addWidget(self.runs_table, 1)
        document.designChanged.connect(self._design_changed)
        self._restore()
        self._data_changed()
        self._name = document.design.name
        self.refresh_runs(select_alive=True)

    # -- settings ----------------------------------------------------------------------
    def settings(self) -> RunSettings:
        """The settings the controls show; RunError when they cannot train."""
        data = self.data.currentData()
        return RunSettings(
            data=data,
            data_path=self.path.text().strip() if data != "synthetic" else "",
            epochs=self.epochs.value(),
            max_steps=self.max_steps.value(),
            batch=self.batch.value(),
            lr=round(self.lr.value(), 6),
            workers=self.workers.value(),
            device=self.device.currentData(),
            amp=self.precision.currentData(),
            synthetic_size=self.synthetic.value() if data == "synthetic" else 0,
            print_freq=self.print_freq.value(),
            processes=self.processes.value(),
            recipe=self.recipe.currentData(),
            flags=self.flags.text().strip(),
        )

    def show_settings(self, settings: RunSettings) -> None:
        """Set the controls to ``settings``."""
        self.data.setCurrentIndex(max(0, self.data.findData(settings.data)))
        self.path.setText(settings.data_path)
        if settings.synthetic_size:
            self.synthetic.setValue(settings.synthetic_size)
        self.epochs.setValue(settings.epochs)
        self.max_steps.setValue(settings.max_steps)
        self.batch.setValue(settings.batch)
        self.lr.setValue(settings.lr)
        self.workers.setValue(settings.workers)
        self.print_freq.setValue(settings.print_freq)
        self.processes.setValue(settings.processes)
        self.device.setCurrentIndex(max(0, self.device.findData(settings.device)))
        self.precision.setCurrentIndex(max(0, self.precision.findData(settings.amp)))
        self.recipe.setCurrentIndex(max(0, self.recipe.findData(settings.recipe)))
        self.flags.setText(settings.flags)

    def _remember(self, settings: RunSettings) -> None:
        app_settings().setValue(SETTINGS_KEY, json.dumps(settings.to_dict()))

    def _restore(self) -> None:
        """The settings of the last run started here (the data folder above all)."""
        text = app_settings().value(SETTINGS_KEY, "")
        with contextlib.suppress(ValueError, TypeError, RunError, AttributeError):
            self.show_settings(RunSettings.from_dict(json.loads(str(text))))

    def _data_changed(self, *_args: object) -> None:
        synthetic = self.data.currentData() == "synthetic"
        self.path.setEnabled(not synthetic and not self.starting)
        self.browse.setEnabled(not synthetic and not self.starting)
        self.synthetic.setEnabled(synthetic and not self.starting)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Data folder", self.path.text())
        if folder:
            self.path.setText(folder)

    # -- running -----------------------------------------------------------------------
    def start(self) -> None:
        """Bundle the live design into a new run folder and start its train.py (off-thread)."""
        if self.starting:
            return
        try:
            settings = self.settings()
        except RunError as exc:
            show_error(self.error, str(exc))
            return
        busy = runs.alive_runs(runs_dir())
        if busy:  # two runs would share the cores or the GPU, each at half speed or worse
            show_error(
                self.error,
                f"{busy[0].name} is still training: stop it first (two runs would share"
                " the device, and on a GPU may run out of memory together)",
            )
            return
        show_error(self.error, "")
        self._offer_classes(0)
        self._remember(settings)
        self.generation += 1
        self.starting = True
        self._enable()
        self._say("Writing the training bundle (in the torch helper)…")
        threading.Thread(
            target=_start_job,
            args=(self.generation, runs_dir(), self.document.design, settings, self._signals),
            name="train-start",
            daemon=True,
        ).start()

    def _started(self, generation: int, result: tuple[Path, subprocess.Popen]) -> None:
        if generation != self.generation:
            return
        folder, process = result
        self.starting = False
        self.supervisors[folder] = process
        self._say("Started: train.py is loading…")
        self.refresh_runs(select=folder)
        self.runsChanged.emit()

    def _start_failed(self, generation: int, message: str, classes: int = 0) -> None:
        if generation != self.generation:
            return
        self.starting = False
        self._say("")
        show_error(self.error, message)
        self._offer_classes(classes)
        self._enable()

    def _offer_classes(self, classes: int) -> None:
        self._classes = classes
        self.set_classes.setText(f"Set the design's classes to {classes}")
        self.set_classes.setVisible(bool(classes))

    def _apply_classes(self) -> None:
        """The data's class count into the design: one undoable edit."""
        classes = self._classes
        if classes and self.document.edit(
            "num_classes",
            lambda design: design.replace(num_classes=classes),
            f"Set classes to {classes} (the training data's)",
        ):
            show_error(self.error, "")
            self._offer_classes(0)

    def stop(self) -> None:
        """Stop the watched run; its last checkpoint stays."""
        run = self.watched
        if run is None or not run.alive:
            return
        runs.stop(run.folder)  # a second press sends a second SIGTERM: train.py ends at once
        self.poll()

    def resume(self) -> None:
        """Continue the watched run from its last.pt, with the settings it started with."""
        run = self.watched
        if run is None or not run.can_resume() or run.settings is None:
            return
        show_error(self.error, "")
        try:
            process = runs.launch(run.folder, run.settings, resume=True)
        except (RunError, OSError) as exc:
            show_error(self.error, one_line(str(exc)))
            return
        self.supervisors[run.folder] = process
        self._say("Resuming from last.pt…")
        self.refresh_runs(select=run.folder)
        self.runsChanged.emit()

    def trash_run(self) -> None:
        """Move the selected run's folder to the Trash, asked first; never deleted outright."""
        run = self.watched
        if run is None:
            return
        run.refresh()
        if run.alive:
            show_error(self.error, f"{run.name} is still training: stop it first")
            return
        answer = QMessageBox.question(
            self,
            APP_NAME,
            f"Move the run {run.name} to the Trash?\n\nIts checkpoints, log, metrics and"
            " bundle go with it; the Trash can give them back.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        if not QFile.moveToTrash(str(run.folder)):
            show_error(
                self.error,
                f"{run.name}: this system has no Trash for it, so it stays; delete"
                f" {run.folder} by hand if you mean to",
            )
            return
        show_error(self.error, "")
        self._watch(None)
        self.refresh_runs()
        self.runsChanged.emit()

    def open_folder(self) -> None:
        if self.watched is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.watched.folder)))

    def alive_runs(self) -> list[Run]:
        for run in self._listed:
            run.refresh()
        return [run for run in self._listed if run.alive]

    def before_closing(self) -> str:
        """Whether the window may close, and what becomes of runs still training: LEAVE
        (also when none is), STOP or CANCEL, asked only when a run is alive."""
        alive = runs.alive_runs(runs_dir())
        return ask_about_runs(self.window(), alive) if alive else LEAVE

    def detach(self, stop: bool = False) -> int:
        """The window is closing: stop watching, and ``stop`` the runs or let them go on.
        How many were still alive."""
        self.timer.stop()
        self.generation += 1  # a start still writing its bundle: its answer is dropped
        alive = runs.alive_runs(runs_dir())
        for run in alive if stop else ():
            runs.stop(run.folder)
        self.supervisors.clear()  # never waited on: each runs in its own session
        return len(alive)

    def is_busy(self) -> bool:
        return self.starting

    # -- the table and the watched run --------------------------------------------------
    def refresh_runs(self, select: Path | None = None, select_alive: bool = False) -> None:
        """Redraw the Runs table from disk (this design's runs, newest first)."""
        keep = select or (self.watched.folder if self.watched else None)
        self._oom_lines.clear()  # a measurement since may offer a batch now
        self._listed = runs.list_runs(runs_dir(), self.document.design.name)
        if select_alive and keep is None:
            alive = [r for r in self._listed if r.alive]  # reattach; else the newest
            keep = (alive or self._listed)[0].folder if self._listed else None
        view = self.runs_table
        view.blockSignals(True)
        view.setRowCount(len(self._listed))
        row_to_select = -1
        for row, run in enumerate(self._listed):
            fill_row(view, row, self._row(run))
            self._last_status[run.folder] = run.status
            if run.folder == keep:
                row_to_select = row
        view.blockSignals(False)
        if row_to_select >= 0:
            view.selectRow(row_to_select)
            self._watch(self._listed[row_to_select])
        elif self.watched is not None and self.watched.folder not in [
            r.folder for r in self._listed
        ]:
            self._watch(None)
        self._enable()
        self._timer()

    def _row(self, run: Run) -> list:
        figures = run.figures(log=False)  # metrics.csv only: a long log is read when watched
        settings = run.settings
        epochs = (
            f"{len(figures.epochs)}/{settings.epochs}" if settings else str(len(figures.epochs))
        )
        last = figures.final().get("train_loss")
        started = (
            datetime.datetime.fromtimestamp(run.started).strftime("%Y-%m-%d %H:%M")
            if run.started
            else "–"
        )
        status = run.status
        return [
            cell(status, tip=" | ".join(run.log_tail(3)) if status == "failed" else ""),
            cell(percent(figures.best_val_acc()), right=True),
            cell(epochs, right=True),
            cell("–" if last is None else f"{last:.4f}", right=True),
            cell(started),
            cell(run.name, tip=str(run.folder)),
        ]

    def statuses(self) -> dict[str, str]:
        """Run name -> status, as the table shows them (tests read it)."""
        view = self.runs_table
        name, status = COLUMNS.index("Run"), COLUMNS.index("Status")
        out = {}
        for r in range(view.rowCount()):
            run, state = view.item(r, name), view.item(r, status)
            assert run is not None and state is not None  # fill_row fills every cell
            out[run.text()] = state.text()
        return out

    def _selected(self) -> None:
        rows = {index.row() for index in self.runs_table.selectedIndexes()}
        if rows:
            self._watch(self._listed[min(rows)])

    def _watch(self, run: Run | None) -> None:
        if run is not None and self.watched is not None and run.folder == self.watched.folder:
            self.watched = run
            self.poll()
            return
        self.watched = run
        self.reader = RunReader(run.folder) if run else None
        self.plot.set_curves(self.reader.curves if self.reader else Curves())
        self.figures.setText("")
        if run is not None:
            self.poll()
        self._enable()

    def _timer(self) -> None:
        alive = any(s in ("starting", "running") for s in self._last_status.values())
        if alive or self.supervisors:
            if not self.timer.isActive():
                self.timer.start()
        else:
            self.timer.stop()

    def poll(self) -> None:
        """Read what the watched run logged since the last look; notice runs that ended."""
        began = time.perf_counter()
        try:
            self._poll()
        finally:
            self.longest_poll_s = max(self.longest_poll_s, time.perf_counter() - began)

    def _poll(self) -> None:
        for folder, process in list(self.supervisors.items()):
            if process.poll() is not None:  # reaped: no zombie, and the exit is in status.json
                del self.supervisors[folder]
        changed = False
        for run in self._listed:
            before = self._last_status.get(run.folder)
            if before in ("starting", "running") or run.folder in self.supervisors:
                run.refresh()
                if run.status != before:
                    changed = True
        watched = self.watched
        if watched is not None and self.reader is not None:
            watched.refresh()
            if self.reader.update():
                self.plot.set_curves(self.reader.curves)
                self._refresh_row(watched, len(self.reader.curves.epochs))
            self._describe(watched, self.reader.curves)
        if changed:
            self.refresh_runs()
            self.runsChanged.emit()
        self._timer()

    def _refresh_row(self, run: Run, epochs: int) -> None:
        """Redraw the watched run's row when an epoch ended (its epochs and best figures)."""
        if self._row_epochs.get(run.folder) == epochs:
            return
        self._row_epochs[run.folder] = epochs
        for row, listed in enumerate(self._listed):
            if listed.folder == run.folder:
                fill_row(self.runs_table, row, self._row(run))
                self.runsChanged.emit()  # a new best val top-1, maybe: Compare replots
                return

    def _describe(self, run: Run, curves: Curves) -> None:
        status = run.status
        settings = run.settings or RunSettings()
        rate = curves.images_per_s()
        parts = [
            f"{rate:,.0f} images/s" if rate else "– images/s",
            f"epoch {duration(curves.epoch_seconds())}",
        ]
        memory = curves.memory_bytes()
        if memory:
            parts.append(f"peak memory {human_bytes(memory)}")
        if status in ("starting", "running"):
            parts.append(f"ETA {duration(curves.eta_seconds(settings))}")
        best = curves.best_val_acc()
        if best is not None:
            parts.append(f"best val top-1 {percent(best)}")
        self.figures.setText("  ·  ".join(parts))
        epoch = curves.points[-1].epoch if curves.points else len(curves.epochs)
        where = f"step {curves.step}, epoch {epoch}/{settings.epochs}"
        if status == "failed":
            tail = [line for line in run.log_tail(3) if not line.startswith("$ ")]
            code = run.info.get("exit_code", "unknown")
            if runs.out_of_memory(run.log_tail(12)):
                show_error(self.error, self._out_of_memory(run, settings))
            elif "started" not in run.info:  # killed between making the folder and launching
                show_error(self.error, f"{run.name} never started: start a new run")
            else:
                show_error(
                    self.error,
                    f"{run.name} failed (exit {code}): "
                    + (" | ".join(tail) if tail else "no output"),
                )
            self._say(f"Failed at {where}.")
        elif status == "stopped":
            self._say(f"Stopped at {where}; Resume continues from its last checkpoint.")
        elif status == "finished":
            self._say(f"Finished at {where}.")
        elif status == "starting":
            self._say("Starting…")
        elif run.stop_asked:
            self._say(
                f"Stopping at {where}: saving a checkpoint of this step. Stop again ends it at"
                " once, without one."
            )
        else:
            self._say(f"Running: {where}.")
        self._enable()

    def _out_of_memory(self, run: Run, settings: RunSettings) -> str:
        """The out-of-memory line, with the batch the Measure tab saw fit, when it did.

        Asked on every poll while the run is watched: the measurement cache (hundreds of
        small files) and the design copy are read once per run, not twice a second.
        """
        if run.folder not in self._oom_lines:
            self._oom_lines[run.folder] = self._read_out_of_memory(run, settings)
        return self._oom_lines[run.folder]

    def _read_out_of_memory(self, run: Run, settings: RunSettings) -> str:
        said = f"{run.name}: the device ran out of memory at batch {settings.batch}"
        design = run.design()
        fitted = (
            runs.fitted_batch(MeasureCache(measure_dir()).all(), design, settings)
            if design is not None
            else None
        )
        if fitted is not None and fitted.settings.batch < settings.batch:
            where = fitted.settings.describe()
            return (
                f"{said}; a training step at batch {fitted.settings.batch} fitted in the"
                f" Measure tab ({where}): use that or less"
            )
        return f"{said}; try a smaller batch (the Measure tab's training step shows what fits)"

    def _enable(self) -> None:
        run = self.watched
        alive = run is not None and run.alive
        for widget in self._controls:
            widget.setEnabled(not self.starting)
        if not self.starting:
            self._data_changed()
        self.start_button.setEnabled(not self.starting)
        self.stop_button.setEnabled(alive)
        self.resume_button.setEnabled(run is not None and run.can_resume() and not self.starting)
        self.open_button.setEnabled(run is not None)

    def _say(self, text: str) -> None:
        self.status.setText(text)
        self.status.setToolTip(text)

    def _design_changed(self, design: Design) -> None:
        if design.name != self._name:  # another design: its own runs
            self._name = design.name
            self.refresh_runs(select_alive=True)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.refresh_runs()
