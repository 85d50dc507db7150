"""The Export menu: one table of exports, each run by a worker behind a cancellable dialog.

Every export module is imported when used (torch, onnx and Graphviz stay off
the startup path); a module that is missing makes its action say so in one line.

With a checkpoint attached (the Pretrained-weights dock, or File > Open Checkpoint)
every export that writes weights (weights, program, ONNX, bundle) starts from its
tensors that fit by name and shape (the core's ``init_from``), and says how many it
took: "Exported model.pt: 65 of 65 tensors from resnet50.pth". model.py is code and
carries no weights, and it says so rather than writing a weights file beside it:
that would be a second file the user did not name, possibly over one of theirs,
where Export > Weights… and the Training Bundle already write them; the CLI's
``export --init-from`` refuses model.py for the same reason.

The file dialogs start in the design's folder when it has been saved, else in the
folder of the last export, else in the user's home: never in the folder the
program was started from.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QThreadPool
from PySide6.QtWidgets import QFileDialog, QProgressDialog, QWidget

from designer.core.analysis import Analysis
from designer.core.design import MAX_BUILD_BYTES, Design
from designer.core.io import atomic_write_bytes
from designer.core.report import human_bytes
from designer.core.stages import heaviest_field, shrink_weights
from designer.qt import checkpoints
from designer.qt.analysis_model import AnalysisModel
from designer.qt.checkpoints import Refusal
from designer.qt.document import Document
from designer.qt.files import settings
from designer.qt.workers import Job

LAST_EXPORT_KEY = "last_export_dir"  # QSettings: the folder the last export went to


def _call(fn: Callable[..., Any], *args: Any, **extra: Any) -> Any:
    """Call ``fn`` with the keyword arguments (progress, cancel, fmt...) it accepts."""
    params = inspect.signature(fn).parameters
    accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    return fn(*args, **{k: v for k, v in extra.items() if accepts_any or k in params})


def export_model_py(design: Design, path: Path, **_: Any) -> Path:
    from designer.core.codegen import render_model_py

    atomic_write_bytes(path, render_model_py(design).encode("utf-8"), backup=False)
    return path


def export_weights(design: Design, path: Path, **extra: Any) -> Path:
    from designer.core.torch import export

    fmt = "safetensors" if path.suffix == ".safetensors" else "pt"
    _call(export.export_weights, design, path, fmt=fmt, seed=0, overwrite=True, **extra)
    return path


def export_program(design: Design, path: Path, **extra: Any) -> Path:
    from designer.core.torch import export

    _call(export.export_program, design, path, overwrite=True, **extra)
    return path


def export_onnx(design: Design, path: Path, **extra: Any) -> Path:
    from designer.core.torch import export

    _call(export.export_onnx, design, path, overwrite=True, **extra)
    return path


def export_bundle(design: Design, path: Path, **extra: Any) -> Path:
    from designer.core.torch.bundle_writer import write_bundle

    _call(write_bundle, design, path, seed=0, force=False, **extra)
    return path


def export_diagram(
    design: Design, path: Path, level: str = "block", direction: str = "TB", **_: Any
) -> Path:
    from designer.core.graph.diagram import FORMATS, render_design

    suffix = path.suffix.lower() if path.suffix.lower() in FORMATS else ".svg"
    diagram = render_design(design, level, suffix, direction=direction)  # type: ignore[arg-type]
    atomic_write_bytes(path, diagram.data, backup=False)
    return path


@dataclass(frozen=True)
class ExportSpec:
    key: str
    menu_text: str
    tip: str
    file_filter: str
    default_name: str
    fn: Callable[..., Path]
    module: str  # imported when used; its absence disables the export with a message
    builds: bool = False  # instantiates the network: size-checked, and takes attached weights
    folder: bool = False  # asks for a folder, not a file


EXPORTS: tuple[ExportSpec, ...] = (
    ExportSpec(
        "model_py",
        "&model.py…",
        "A standalone PyTorch model.py (no dependency on this app)",
        "Python (*.py)",
        "model.py",
        export_model_py,
        "designer.core.codegen",
    ),
    ExportSpec(
        "weights",
        "&Weights…",
        "Initialised weights (safetensors or torch .pt)",
        "safetensors (*.safetensors);;PyTorch (*.pt)",
        "weights.safetensors",
        export_weights,
        "designer.core.torch.export",
        builds=True,
    ),
    ExportSpec(
        "program",
        "Exported &Program…",
        "A torch.export program (.pt2)",
        "Exported program (*.pt2)",
        "model.pt2",
        export_program,
        "designer.core.torch.export",
        builds=True,
    ),
    ExportSpec(
        "onnx",
        "&ONNX…",
        "An ONNX graph (.onnx)",
        "ONNX (*.onnx)",
        "model.onnx",
        export_onnx,
        "designer.core.torch.export",
        builds=True,
    ),
    ExportSpec(
        "diagram",
        "&Diagram…",
        "A print-ready diagram of the graph (SVG, PNG or PDF)",
        "SVG (*.svg);;PNG (*.png);;PDF (*.pdf)",
        "diagram.svg",
        export_diagram,
        "designer.core.graph.diagram",
    ),
    ExportSpec(
        "bundle",
        "&Training Bundle…",
        "A folder with model.py, weights, the design, train.py and a README",
        "",
        "bundle",
        export_bundle,
        "designer.core.torch.bundle_writer",
        builds=True,
        folder=True,
    ),
)

# Exports bigger than this ask first, stating the size; anything over MAX_BUILD_BYTES
# is refused (the builder refuses it too).
CONFIRM_BYTES = 1024**3


def size_check(analysis: Analysis) -> tuple[str, str]:
    """("refuse" | "ask" | "", one line) for the weights an export would write."""
    design = analysis.design
    size = analysis.param_bytes
    if size > MAX_BUILD_BYTES:
        field = heaviest_field(analysis)
        return "refuse", (
            f"Cannot export {design.name}: its weights would take {human_bytes(size)}"
            f" (over {human_bytes(MAX_BUILD_BYTES)}); {shrink_weights(field)} to build it"
        )
    if size > CONFIRM_BYTES:
        return "ask", (
            f"The weights of {design.name} take {human_bytes(size)}: exporting builds the"
            " whole network in memory and writes that much to disk. Continue?"
        )
    return "", ""


class CheckpointRefused(ValueError):
    """The attached checkpoint cannot be read: the export stops before writing anything."""


def export_job(
    spec: ExportSpec,
    design: Design,
    target: Path,
    level: str,
    init_from: str,
    direction: str = "TB",
) -> Callable[..., tuple[Path, str]]:
    """The worker's function: the export, from ``init_from``'s weights when one is given
    (a diagram is drawn at ``level``, flowing ``direction``: "TB" or "LR").

    Returns the file written and, with a checkpoint, "N of M tensors from NAME"; the
    count comes from the torch helper, which has the file's tensors at hand already.
    """

    def work(progress: Callable[..., None], cancel: Callable[[], bool]) -> tuple[Path, str]:
        fit = ""
        extra: dict[str, Any] = {}
        if init_from:
            matched = checkpoints.match(init_from, design)
            if isinstance(matched, Refusal):
                raise CheckpointRefused(f"{checkpoints.short_name(init_from)}: {matched.message}")
            fit = checkpoints.fit_line(matched[1], init_from)
            extra["init_from"] = init_from
        if spec.key == "diagram":
            extra["direction"] = direction
        written = spec.fn(design, target, level=level, progress=progress, cancel=cancel, **extra)
        return Path(written), fit

    return work


def start_folder(document: Document) -> Path:
    """Where an export's file dialog opens: the design's folder if it has been saved,
    else the folder of the last export (if it is still there), else the home folder."""
    if document.path is not None:
        return Path(document.path).resolve().parent
    last = settings().value(LAST_EXPORT_KEY, "")
    if isinstance(last, str) and last and Path(last).is_dir():
        return Path(last)
    return Path.home()


def remember_export(target: str | Path) -> None:
    """Keep the folder an export went to (a bundle's parent folder) for the next dialog."""
    settings().setValue(LAST_EXPORT_KEY, str(Path(target).resolve().parent))


def module_available(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


class Exporter(QObject):
    """Asks for a file name, runs the export in a worker, shows progress; one at a time.

    It exports the document's design, checks sizes against the live analysis, parents
    its dialogs to ``parent`` and reports through ``say`` (status line) and ``warn``
    (a refusal the user must see); ``level`` is the graph level a diagram is drawn at,
    ``direction`` the way it flows ("TB" or "LR") and ``weights`` the attached
    checkpoint's path ("" when none).
    """

    def __init__(
        self,
        document: Document,
        analyses: AnalysisModel,
        parent: QWidget,
        *,
        level: Callable[[], str],
        say: Callable[[str], None],
        warn: Callable[[str], None],
        weights: Callable[[], str] = lambda: "",
        direction: Callable[[], str] = lambda: "TB",
    ) -> None:
        super().__init__(parent)
        self._document = document
        self._analyses = analyses
        self._parent = parent
        self._level = level
        self._status = say
        self._warn = warn
        self._weights = weights
        self._direction = direction
        self._job: Job | None = None
        self._dialog: QProgressDialog | None = None
        self.last_result: str = ""  # the last message shown (tests read it)
        # big exports ask first; tests swap in an answer
        self.confirm: Callable[[str], bool] = self._confirm_box

    def _say(self, message: str) -> None:
        self.last_result = message
        self._status(message)

    def start(self, spec: ExportSpec, path: str | Path | None = None) -> Job | None:
        if self._job is not None:
            self._say("An export is already running")
            return None
        if not module_available(spec.module):
            self._say(
                f"{spec.menu_text.replace('&', '').rstrip('…')} export is not available"
                f" in this build ({spec.module} is missing)"
            )
            return None
        design = self._document.design
        attached = self._weights()
        init_from = attached if spec.builds else ""
        source = f" (weights from {checkpoints.short_name(init_from)})" if init_from else ""
        if spec.builds:
            analysis = self._analyses.analysis
            if analysis is None or not self._analyses.is_current():
                self._say("Still analysing the design: export again in a moment")
                return None
            verdict, line = size_check(analysis)
            if verdict == "refuse":
                self._say(line)
                self._warn(line)
                return None
            if verdict == "ask" and not self.confirm(line):
                self._say("Export cancelled")
                return None
        if path is None and spec.folder:
            chosen = QFileDialog.getExistingDirectory(
                self._parent,
                f"Export {spec.menu_text.replace('&', '').rstrip('…')}{source}",
                str(start_folder(self._document)),
            )
            if not chosen:
                return None
            path = chosen
        if path is None:
            folder = start_folder(self._document)
            chosen, _ = QFileDialog.getSaveFileName(
                self._parent,
                f"Export {spec.default_name}{source}",
                str(folder / spec.default_name),
                spec.file_filter,
            )
            if not chosen:
                return None
            path = chosen
        target = Path(path)
        level = self._level()
        work = export_job(spec, design, target, level, init_from, self._direction())
        job = Job(0, work, report=True)
        self._job = job
        label = f"Exporting {target.name}{source}…"
        dialog = QProgressDialog(label, "Cancel", 0, 100, self._parent)
        dialog.setWindowTitle("Export")
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(300)  # quick exports never flash a dialog
        dialog.setValue(0)
        dialog.canceled.connect(job.cancel_event.set)
        self._dialog = dialog
        job.signals.progress.connect(lambda _g, f: dialog.setValue(int(f * 100)))
        no_weights = (
            f": code only, no weights (Export > Weights… or a Training Bundle writes those"
            f" from {checkpoints.short_name(attached)})"
            if attached and spec.key == "model_py"
            else ""
        )
        job.signals.done.connect(lambda _g, r: remember_export(r[0]))
        job.signals.done.connect(
            lambda _g, r: self._finished(
                f"Exported {r[0]}: {r[1]}" if r[1] else f"Exported {r[0]}{no_weights}"
            )
        )
        job.signals.failed.connect(lambda _g, m: self._finished(f"Export failed: {m}"))
        job.signals.cancelled.connect(lambda _g: self._finished("Export cancelled"))
        QThreadPool.globalInstance().start(job)
        return job

    def _confirm_box(self, line: str) -> bool:
        from PySide6.QtWidgets import QMessageBox

        answer = QMessageBox.question(
            self._parent,
            "Large export",
            line,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        return answer == QMessageBox.StandardButton.Yes

    def is_running(self) -> bool:
        return self._job is not None

    def _finished(self, message: str) -> None:
        if self._dialog is not None:
            self._dialog.reset()
            self._dialog.deleteLater()
        self._dialog = None
        self._job = None
        self._say(message)
