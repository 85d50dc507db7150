"""The pretrained-weights dock: which tensors of a checkpoint fit the live design, and why not.

The checkpoint chosen here (or by File > Open Checkpoint) is *attached*: every
export that writes weights starts from its tensors that fit, and the window's
title names it. Matching reads the file and imports torch, so it runs in the torch
helper process (``designer.qt.checkpoints``), which keeps the tensors so an edit
re-matches quickly. A report for a design the user has since changed is dropped.

"Choose checkpoint…" opens in the design's folder when the design has a file, else
in the folder a checkpoint was last chosen from (remembered in the settings), else
in the home folder: never in the program's working directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from designer.core.design import Design
from designer.qt import checkpoints
from designer.qt.checkpoints import Refusal
from designer.qt.document import Document
from designer.qt.files import settings
from designer.qt.insights.common import hint
from designer.qt.throttle import Throttle
from designer.qt.workers import Runner

if TYPE_CHECKING:
    from designer.core.recover import Recovery
    from designer.core.torch.transfer import TransferReport

FILTER = checkpoints.FILTER
LAST_FOLDER_KEY = "insights/checkpointFolder"  # where a checkpoint was last chosen from
NO_CHECKPOINT = "Choose a checkpoint to see which of its tensors fit this design by name and shape."


def _shape(shape: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


class TransferPanel(QWidget):
    """The attached checkpoint (``path``, "" when none) and how it fits the live design."""

    attachedChanged = Signal(str)  # the attached checkpoint's path; "" when detached

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.path = ""
        self.report: TransferReport | None = None
        self.report_design: Design | None = None  # the design ``report`` was matched against
        self.recovery: Recovery | None = None  # set when the design came from this file
        self.runner = Runner(parent=self)
        self.runner.done.connect(self._matched)
        self.runner.failed.connect(self._failed)
        self._recheck = Throttle(150, self._submit, self)
        # an edit's check waits a turn of the event loop: a whole new design (New, Open,
        # Open Checkpoint) detaches or attaches in the same turn, and the old file
        # must not be read for it
        self._edited = QTimer(self)
        self._edited.setSingleShot(True)
        self._edited.setInterval(0)
        self._edited.timeout.connect(self._recheck_attached)

        self.choose = QPushButton("Choose checkpoint…")
        self.choose.setToolTip(
            "A torchvision state dict, a training checkpoint or a .safetensors file;"
            " read as data (weights_only), never executed. Exports of weights, programs,"
            " ONNX and bundles then start from its tensors that fit"
        )
        self.choose.clicked.connect(self.choose_dialog)
        self.detach_button = QPushButton("Detach")
        self.detach_button.setToolTip(
            "Stop using this checkpoint: exports go back to freshly initialised weights"
        )
        self.detach_button.clicked.connect(self.detach)
        self.detach_button.setEnabled(False)
        self.file_label = hint("No checkpoint chosen")  # wraps: a long file name never
        # widens the dock past the window (docked on the right, say)
        top = QHBoxLayout()
        top.addWidget(self.choose)
        top.addWidget(self.detach_button)
        top.addWidget(self.file_label, 1)
        self.summary = hint(NO_CHECKPOINT)
        # what the design's recovery inferred and assumed, when it came from this file
        self.origin = hint()
        self.origin.hide()
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Tensor", "Checkpoint", "Design"])
        self.tree.setAlternatingRowColors(True)
        self.tree.setUniformRowHeights(True)
        header = self.tree.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setStretchLastSection(False)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.origin)
        layout.addWidget(self.summary)
        layout.addWidget(self.tree, 1)
        document.designChanged.connect(self._design_changed)

    def start_folder(self) -> str:
        """Where the checkpoint dialog opens: the design's folder, the last one, or home."""
        if self.document.path is not None:
            return str(self.document.path.parent)
        last = str(settings().value(LAST_FOLDER_KEY, "") or "")
        if last and Path(last).is_dir():
            return last
        return str(Path.home())

    def choose_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Choose a checkpoint", self.start_folder(), FILTER
        )
        if path:
            settings().setValue(LAST_FOLDER_KEY, str(Path(path).parent))
            self.load(path)

    def load(self, path: str | Path, recovery: Recovery | None = None) -> None:
        """Attach ``path`` and match it; ``recovery`` says the design was read from it."""
        self.path = str(path)
        self.report = self.report_design = None
        self.recovery = recovery
        name = checkpoints.short_name(path)
        self.file_label.setText(f"Attached: {name} (exports start from its tensors that fit)")
        self.file_label.setToolTip(self.path)
        self.detach_button.setEnabled(True)
        self._show_origin(recovery, name)
        self._submit()
        self.attachedChanged.emit(self.path)

    def detach(self) -> None:
        """Forget the checkpoint: exports write freshly initialised weights again."""
        if not self.path:
            return
        self.path = ""
        self.report = self.report_design = None
        self.recovery = None
        self.runner.drop_running()
        self.tree.clear()
        self.file_label.setText("No checkpoint chosen")
        self.file_label.setToolTip("")
        self.detach_button.setEnabled(False)
        self.summary.setText(NO_CHECKPOINT)
        self.summary.setToolTip("")
        self._show_origin(None, "")
        self.attachedChanged.emit("")

    def is_busy(self) -> bool:
        """A match is running or waiting for the next turn or interval (tests wait on it)."""
        return self._edited.isActive() or self._recheck.is_pending() or self.runner.is_busy()

    def _show_origin(self, recovery: Recovery | None, name: str) -> None:
        if recovery is None:
            self.origin.clear()
            self.origin.setToolTip("")
            self.origin.hide()
            return
        assumed = "; ".join(line.split(": ")[0] for line in recovery.assumed)
        self.origin.setText(
            f"The design was read from {name}'s names and shapes."
            f" Inferred: {', '.join(recovery.inferred)}."
            + (f" Assumed (no weight records it): {assumed}." if assumed else "")
        )
        self.origin.setToolTip("\n".join(recovery.lines()))
        self.origin.show()

    def _recheck_attached(self) -> None:
        """An edit's check, one turn of the event loop later: if a checkpoint is still attached."""
        if self.path:
            self._recheck()

    def _submit(self) -> None:
        if not self.path:
            return
        self.summary.setText("Reading the checkpoint and matching it…")
        self.runner.submit(checkpoints.match, self.path, self.document.design)

    def _design_changed(self, _design: Design) -> None:
        if self.path:
            self._edited.start()

    def _matched(self, _generation: int, result: tuple[Design, TransferReport] | Refusal) -> None:
        if isinstance(result, Refusal):
            self._failed(_generation, f"{checkpoints.short_name(self.path)}: {result.message}")
            return
        design, report = result
        if design != self.document.design:  # an edit arrived meanwhile; its check is queued
            return
        self.report, self.report_design = report, design
        line = report.lines()[0]
        self.summary.setText(line)
        self.summary.setToolTip(
            f"{checkpoints.fit_line(report, self.path)}: exports of weights, programs, ONNX"
            " and bundles take these; the rest is initialised as usual"
        )
        self._fill(report)

    def _failed(self, _generation: int, message: str) -> None:
        self.report = self.report_design = None
        self.tree.clear()
        self.summary.setText(f"⚠ {message}")
        self.summary.setToolTip(message)

    def _fill(self, report: TransferReport) -> None:
        self.tree.clear()
        groups = (
            ("Fit: loaded", [(k, "same", "same") for k in report.matched], False),
            (
                "Shape differs: initialised as usual",
                [(k, _shape(a), _shape(b)) for k, a, b in report.shape_mismatch],
                True,
            ),
            (
                "New in the design: initialised as usual",
                [(k, "–", "") for k in report.missing],
                True,
            ),
            ("Unused from the checkpoint", [(k, "", "–") for k in report.unexpected], True),
        )
        for title, rows, expand in groups:
            parent = QTreeWidgetItem([f"{title} ({len(rows)})", "", ""])
            font = parent.font(0)
            font.setBold(True)
            parent.setFont(0, font)
            parent.addChildren([QTreeWidgetItem(list(row)) for row in rows])
            self.tree.addTopLevelItem(parent)
            parent.setExpanded(expand and bool(rows))

    def group_counts(self) -> dict[str, int]:
        """Children per group title prefix, e.g. {"Fit": 100, ...} (tests read it)."""
        out = {}
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            assert item is not None  # i is within the count
            out[item.text(0).split(":")[0].split(" (")[0]] = item.childCount()
        return out
