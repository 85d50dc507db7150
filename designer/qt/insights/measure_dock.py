"""The Measure tab: the design's latency, throughput and training step on this machine.

Timing needs torch, which the UI process never imports. A worker thread hands the
design to the torch helper process (``designer.qt.processes``) and polls it; the
helper reports progress, and looks for a cancel request, through a ``FileChannel``
folder made for the run. Cancel, an edit of the design, and closing the window all
drop that request, and the helper stops between two timed runs.

Figures are cached per (design fingerprint, settings) in the app's data folder
(``$RESNET_DESIGNER_MEASURE_DIR`` overrides it): the tab shows the current design's
figures for the chosen settings when they exist, else an earlier edit's, greyed and
dated, else a hint. Each stored measurement is announced (``measured``): the Compare
tab plots measured latency and throughput from the same cache.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import pkgutil
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import CancelledError
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, Signal
from PySide6.QtGui import QFontDatabase, QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QHBoxLayout,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from designer.core.analysis import analyse
from designer.core.design import Design, DesignError
from designer.core.io import dumps
from designer.core.measure import (
    DEFAULT_BATCH,
    MAX_BATCH,
    FileChannel,
    MeasureCache,
    Measurement,
    MeasureSettings,
    fingerprint,
)
from designer.core.text import one_line
from designer.qt import processes
from designer.qt.app_data import app_data_dir
from designer.qt.document import Document
from designer.qt.insights.common import choices, error_label, hint, show_error

DIR_ENV = "RESNET_DESIGNER_MEASURE_DIR"
POLL_S = 0.1  # how often the worker thread looks at the helper's answer and progress
NOT_MEASURED = "Not measured yet: press Measure (about 10 s on a CPU)."
# (label, MeasureSettings.device); MPS exists only on a Mac, which Python knows without torch
DEVICES = [("Auto", "auto"), ("CPU", "cpu"), ("CUDA", "cuda")] + (
    [("MPS", "mps")] if sys.platform == "darwin" else []
)
# the figures of an earlier edit are greyed like the app's hints (follows the appearance)
STALE_STYLE = "QPlainTextEdit { color: palette(placeholder-text); }"
PRECISIONS = [("fp32", "none"), ("bf16 autocast", "bf16"), ("fp16 autocast", "fp16")]


def measure_dir() -> Path:
    """Where measurements are kept: $RESNET_DESIGNER_MEASURE_DIR, else the app-data folder."""
    return app_data_dir(DIR_ENV, "measurements")


def local_time(when: str) -> str:
    """An ISO 8601 UTC stamp as this machine's local date and time, to the minute."""
    try:
        stamp = datetime.datetime.fromisoformat(when)
    except ValueError:
        return when
    return stamp.astimezone().strftime("%Y-%m-%d %H:%M")


# the measuring code words its refusals for the command line: the tab names its controls
_CLI_WORDS = (
    ("--device: ", "Device: "),
    ("--batch: ", "Batch: "),
    ("use --device cpu", "choose CPU"),
    ("lower --batch", "lower the batch"),
    ("(input.height, input.width)", "(Input height and width)"),
    ("(without --train)", "(untick Training step)"),
)


def in_app_words(line: str) -> str:
    """A refusal of the measuring code, worded for this tab rather than the command line."""
    for cli, app in _CLI_WORDS:
        line = line.replace(cli, app)
    return line


class HelperFunction:
    """A function of the helper process, named by its import path.

    Pickling a function object (to send it to the helper) needs its module imported
    here, and ``designer.core.torch.measure`` imports torch: seconds with the GIL
    held, in the process that must keep painting. This object pickles as
    ``pkgutil.resolve_name(path)``, which the helper calls when it unpickles the job,
    so only the helper ever imports the module.
    """

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return pkgutil.resolve_name, (self.path,)

    def __call__(self, *args: Any) -> Any:  # in this process: imports the module here
        return pkgutil.resolve_name(self.path)(*args)


MEASURE = HelperFunction("designer.core.torch.measure:measure_in_helper")


@dataclasses.dataclass
class MeasureJob:
    """One measurement: what is measured, its channel folder, and whether anyone still waits."""

    generation: int
    design: Design
    settings: MeasureSettings
    folder: str
    abandoned: threading.Event = dataclasses.field(default_factory=threading.Event)
    reason: str = ""  # why it was cancelled ("" when the user pressed Cancel)

    @property
    def channel(self) -> FileChannel:
        return FileChannel(self.folder)

    def cancel(self, reason: str = "") -> None:
        self.reason = self.reason or reason
        with contextlib.suppress(OSError):  # the folder is gone: the run has ended
            self.channel.cancel()


class _Signals(QObject):
    progress = Signal(int, float, str)  # generation, fraction, what the helper is doing
    finished = Signal(int, object)  # generation, the helper's answer (a dict)


def run_job(job: MeasureJob, signals: _Signals) -> None:
    """The worker thread: submit to the torch helper, relay progress, post the answer."""
    try:
        outcome = _measure(job, signals)
    except Exception as exc:  # never a traceback from a worker thread: one line in the tab
        outcome = {"error": one_line(str(exc)) or type(exc).__name__}
    finally:
        shutil.rmtree(job.folder, ignore_errors=True)
    if job.abandoned.is_set():  # the window closed: nobody is there to tell
        return
    with contextlib.suppress(RuntimeError):  # the panel is gone
        signals.finished.emit(job.generation, outcome)


def _measure(job: MeasureJob, signals: _Signals) -> dict[str, Any]:
    result = analyse(job.design)  # params and MACs, kept with the figures for Compare
    try:
        future = processes.submit(
            "torch", MEASURE, dumps(job.design), dataclasses.asdict(job.settings), job.folder
        )
    except processes.HelperUnavailable as exc:
        return {"error": f"the torch helper process could not start: {one_line(str(exc))}"}
    channel = job.channel
    seen: tuple[float, str] | None = None
    while True:
        try:
            outcome = processes.result_of("torch", future, timeout=POLL_S)
            break
        except TimeoutError:
            if job.abandoned.is_set():
                future.cancel()  # still queued behind other helper work: never started
                return {"cancelled": True}
            now = channel.progress()
            if now != seen and now[1]:
                seen = now
                try:
                    signals.progress.emit(job.generation, now[0], now[1])
                except RuntimeError:
                    return {"cancelled": True}
        except CancelledError:
            return {"cancelled": True}
        except processes.HelperUnavailable as exc:
            if channel.cancelled() or job.abandoned.is_set():  # the app is shutting down
                return {"cancelled": True}
            return {"error": f"the torch helper process stopped: {one_line(str(exc))}"}
    if not isinstance(outcome, dict):
        return {"error": f"the torch helper answered {type(outcome).__name__}"}
    if "latency" in outcome:
        outcome = {**outcome, "params": result.params, "macs": result.macs}
    return outcome


class MeasurePanel(QWidget):
    """Settings, a Measure/Cancel button with progress, and the figures for the live design."""

    measured = Signal(object)  # a Measurement just stored in the cache (Compare replots)

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.job: MeasureJob | None = None
        self.generation = 0
        self.shown: Measurement | None = None  # the figures the tab shows now
        self.stale = False  # ...and whether they belong to an earlier edit
        self._kept: tuple[str, MeasureSettings, Measurement] | None = None  # when put failed
        self._dirty = True
        self._started = 0.0
        self._signals = _Signals(self)
        self._signals.progress.connect(self._progress)
        self._signals.finished.connect(self._finished)

        self.device = choices(
            DEVICES,
            "Where to measure. Auto: a CUDA GPU when there is one, else the Mac's GPU (MPS),"
            " else the CPU; the figures name the device",
        )
        self.batch = QSpinBox()
        self.batch.setRange(0, MAX_BATCH)
        self.batch.setSpecialValueText("device default")
        self.batch.setToolTip(
            "Images per call for the throughput figure and the training step. Device default:"
            f" {DEFAULT_BATCH['cpu']} on a CPU, {DEFAULT_BATCH['cuda']} on CUDA,"
            f" {DEFAULT_BATCH['mps']} on MPS; 1 times batch-1 latency only"
        )
        self.precision = choices(
            PRECISIONS, "fp32, or autocast to bf16 or fp16 (weights stay fp32)"
        )
        self.train = QCheckBox("Training step")
        self.train.setToolTip("Also time forward, backward and an SGD step at the batch size")
        self.channels_last = QCheckBox("channels_last")
        self.channels_last.setToolTip("Lay inputs and weights out NHWC (often faster on GPUs)")
        self.compile = QCheckBox("torch.compile")
        self.compile.setToolTip(
            "Compile the network first (its compile time is reported; can take a minute)"
        )
        self._controls: list[QWidget] = [
            self.device,
            self.batch,
            self.precision,
            self.train,
            self.channels_last,
            self.compile,
        ]
        self.device.currentIndexChanged.connect(self._settings_changed)
        self.precision.currentIndexChanged.connect(self._settings_changed)
        self.batch.valueChanged.connect(self._settings_changed)
        for box in (self.train, self.channels_last, self.compile):
            box.toggled.connect(self._settings_changed)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Device", self.device)
        form.addRow("Batch", self.batch)
        form.addRow("Precision", self.precision)
        form.addRow(self.train)
        form.addRow(self.channels_last)
        form.addRow(self.compile)
        left = QWidget()
        left.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Preferred)
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addLayout(form)
        left_layout.addStretch(1)

        self.button = QPushButton("Measure")
        self.button.setToolTip(
            "Time the design on this machine, in the torch helper process: latency at batch 1,"
            " throughput at the batch, and the training step when asked"
        )
        self.button.clicked.connect(self._clicked)
        self.button.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.button.setMinimumWidth(self.fontMetrics().horizontalAdvance("Cancelling…") + 32)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.status = hint()  # "Measurement cancelled.", "Measured in 12 s."
        self.error = error_label()
        top = QHBoxLayout()
        top.addWidget(self.button)
        top.addWidget(self.progress, 1)
        top.addWidget(self.status, 1)
        self.note = hint()  # whose figures these are, and when they were measured
        self.result = QPlainTextEdit()
        self.result.setReadOnly(True)
        self.result.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.result.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.result.setPlaceholderText(NOT_MEASURED)
        self.result.setMinimumHeight(self.fontMetrics().height() * 4)
        right = QVBoxLayout()
        right.addLayout(top)
        right.addWidget(self.error)
        right.addWidget(self.note)
        right.addWidget(self.result, 1)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(left)
        layout.addLayout(right, 1)
        document.designChanged.connect(self._design_changed)

    # -- what and where ----------------------------------------------------------------
    @property
    def cache(self) -> MeasureCache:
        return MeasureCache(measure_dir())

    def settings(self) -> MeasureSettings:
        """The settings the controls show (unresolved: "auto", batch 0 for the default)."""
        return MeasureSettings(
            device=self.device.currentData(),
            batch=self.batch.value(),
            train=self.train.isChecked(),
            amp=self.precision.currentData(),
            channels_last=self.channels_last.isChecked(),
            compile=self.compile.isChecked(),
        )

    def is_busy(self) -> bool:
        """A measurement is running (tests wait on it)."""
        return self.job is not None

    # -- running -------------------------------------------------------------------------
    def _clicked(self) -> None:
        if self.job is None:
            self.start()
        else:
            self.cancel()

    def start(self) -> None:
        """Measure the live design with the chosen settings, in the torch helper."""
        if self.job is not None:
            return
        try:
            settings = self.settings()
        except DesignError as exc:  # the controls allow nothing else; kept for safety
            show_error(self.error, f"{exc.field}: {exc}")
            return
        self.generation += 1
        folder = tempfile.mkdtemp(prefix="resnet-designer-measure-")
        self.job = MeasureJob(self.generation, self.document.design, settings, folder)
        show_error(self.error, "")
        self.progress.setValue(0)
        self.progress.setFormat("starting the torch helper…")
        self._set_running(True)
        self._started = time.monotonic()
        threading.Thread(
            target=run_job, args=(self.job, self._signals), name="measure", daemon=True
        ).start()

    def cancel(self, reason: str = "") -> None:
        """Ask the running measurement to stop; the helper stops between two timed runs."""
        if self.job is None:
            return
        self.job.cancel(reason)
        self.button.setEnabled(False)
        self.button.setText("Cancelling…")
        self.progress.setFormat("cancelling…")

    def stop(self) -> None:
        """The window is closing: cancel, and expect no answer (the thread just ends)."""
        if self.job is not None:
            self.job.cancel("the window closed")
            self.job.abandoned.set()
            self.job = None

    def _set_running(self, running: bool) -> None:
        self.progress.setVisible(running)  # the progress, or what became of the last run
        self.status.setVisible(not running)
        for widget in self._controls:
            widget.setEnabled(not running)
        self.button.setEnabled(True)
        self.button.setText("Cancel" if running else "Measure")
        self.button.setToolTip(
            "Stop the measurement (it stops between two timed runs)"
            if running
            else "Time the design on this machine, in the torch helper process: latency at"
            " batch 1, throughput at the batch, and the training step when asked"
        )

    def _progress(self, generation: int, fraction: float, text: str) -> None:
        if self.job is None or generation != self.job.generation or self.button.text() != "Cancel":
            return
        self.progress.setValue(round(max(0.0, min(1.0, fraction)) * 1000))
        self.progress.setFormat(f"{text} · %p%")

    def _finished(self, generation: int, outcome: dict[str, Any]) -> None:
        job = self.job
        if job is None or generation != job.generation:
            return  # a run that was cancelled for an edit, or abandoned
        self.job = None
        self._say("")
        self._set_running(False)
        if outcome.get("cancelled"):
            self._say("Measurement cancelled" + (f": {job.reason}." if job.reason else "."))
        elif "error" in outcome:
            show_error(self.error, in_app_words(str(outcome["error"])))
        else:
            self._keep(job, outcome)
        self.refresh()

    def _keep(self, job: MeasureJob, outcome: dict[str, Any]) -> None:
        try:
            measurement = Measurement.from_dict(outcome)
        except ValueError as exc:
            show_error(self.error, f"the helper's answer could not be read: {exc}")
            return
        seconds = time.monotonic() - self._started
        try:
            self.cache.put(job.design, job.settings, measurement)
            self._kept = None
            self._say(f"Measured in {seconds:.0f} s.")
        except OSError as exc:
            self._kept = (fingerprint(job.design), job.settings, measurement)
            self._say(f"Measured in {seconds:.0f} s; not kept: {one_line(str(exc))}")
        self.measured.emit(measurement)

    def _say(self, text: str) -> None:
        self.status.setText(text)
        self.status.setToolTip(text)

    # -- showing -------------------------------------------------------------------------
    def refresh(self) -> None:
        """Show the figures the cache holds for the live design and the chosen settings."""
        self._dirty = False
        design = self.document.design
        try:
            settings = self.settings()
        except DesignError:
            return
        found = self.cache.get(design, settings)
        if found is None and self._kept and self._kept[:2] == (fingerprint(design), settings):
            found = self._kept[2]
        stale = False
        if found is None:
            found = self.cache.earlier(design, settings)
            stale = found is not None
        self._show(found, stale)

    def _show(self, found: Measurement | None, stale: bool) -> None:
        self.shown, self.stale = found, stale
        if found is None:
            self.note.setText(
                "Figures are timed in a separate process and kept for each design and settings."
            )
            self.result.clear()
        elif stale:
            self.note.setText(
                f"Measured on {local_time(found.when)} for an earlier edit of"
                f" {found.design_name}: press Measure for the design as it is now."
            )
            self.result.setPlainText("\n".join(found.lines()))
        else:
            self.note.setText(f"Measured on {local_time(found.when)}, this design and settings.")
            self.result.setPlainText("\n".join(found.lines()))
        self.result.setToolTip(
            "The figures of an earlier edit of the design: the design has changed since"
            if stale
            else ""
        )
        self.result.setStyleSheet(STALE_STYLE if stale else "")

    def shown_text(self) -> str:
        return self.result.toPlainText()

    def _settings_changed(self, *_args: object) -> None:
        if self.job is None:
            self._say("")  # shown, empty: it keeps the room beside the button
            show_error(self.error, "")
        self._later()

    def _design_changed(self, design: Design) -> None:
        job = self.job
        if job is not None and fingerprint(design) != fingerprint(job.design):
            # the figures would be for a design that no longer exists: stop now, and let
            # the next Measure start at once (a late answer of this run is dropped)
            job.cancel("the design changed")
            self.job = None
            self._set_running(False)
            self._say("Measurement cancelled: the design changed.")
        elif job is None:
            self._say("")  # "Measured in 8 s." was about the design before the edit
            show_error(self.error, "")
        self._later()

    def _later(self) -> None:
        """Refresh now while shown, else when next shown (the cache is read from disk)."""
        self._dirty = True
        if self.isVisible():
            self.refresh()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._dirty:
            self.refresh()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and self.stale:
            self.result.setStyleSheet("")  # re-resolve palette(placeholder-text)
            self.result.setStyleSheet(STALE_STYLE)
