"""The pretrained-weights dock: which tensors of a checkpoint fit the live design, and why not.

Loading a checkpoint imports torch (seconds) and reads the file, so it runs on
the thread pool; the loaded tensors are cached per file so an edit re-matches
quickly. A report for a design the user has since changed is dropped.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from designer.core.design import Design
from designer.qt.document import Document
from designer.qt.insights.common import hint
from designer.qt.throttle import Throttle
from designer.qt.workers import Runner

if TYPE_CHECKING:
    from designer.core.torch.transfer import TransferReport

FILTER = "Checkpoints (*.pt *.pth *.bin *.ckpt *.safetensors);;All files (*)"
_cache_lock = threading.Lock()
_cache: dict[tuple[str, int, int], Any] = {}  # (path, mtime_ns, size) -> tensors; one entry


def _check(path: str, design: Design) -> tuple[Design, TransferReport]:
    from designer.core.torch.transfer import load_checkpoint, match

    stat = Path(path).stat()
    key = (path, stat.st_mtime_ns, stat.st_size)
    with _cache_lock:
        tensors = _cache.get(key)
    if tensors is None:
        tensors = load_checkpoint(path)
        with _cache_lock:
            _cache.clear()
            _cache[key] = tensors
    return design, match(design, tensors)


def _shape(shape: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


class TransferPanel(QWidget):
    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.path = ""
        self.report: TransferReport | None = None
        self.runner = Runner(parent=self)
        self.runner.done.connect(self._matched)
        self.runner.failed.connect(self._failed)
        self._recheck = Throttle(150, self._submit, self)

        self.choose = QPushButton("Choose checkpoint…")
        self.choose.setToolTip(
            "A torchvision state dict, a training checkpoint or a .safetensors file;"
            " read as data (weights_only), never executed"
        )
        self.choose.clicked.connect(self.choose_dialog)
        self.file_label = QLabel("No checkpoint chosen")
        self.file_label.setObjectName("hint")
        top = QHBoxLayout()
        top.addWidget(self.choose)
        top.addWidget(self.file_label, 1)
        self.summary = hint(
            "Choose a checkpoint to see which of its tensors fit this design by name and shape."
        )
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
        layout.addWidget(self.summary)
        layout.addWidget(self.tree, 1)
        document.designChanged.connect(self._design_changed)

    def choose_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a checkpoint", "", FILTER)
        if path:
            self.load(path)

    def load(self, path: str | Path) -> None:
        self.path = str(path)
        self.file_label.setText(Path(path).name)
        self.file_label.setToolTip(self.path)
        self._submit()

    def _submit(self) -> None:
        if not self.path:
            return
        self.summary.setText("Reading the checkpoint and matching it…")
        self.runner.submit(_check, self.path, self.document.design)

    def _design_changed(self, _design: Design) -> None:
        if self.path:
            self._recheck()

    def _matched(self, _generation: int, result: tuple[Design, TransferReport]) -> None:
        design, report = result
        if design != self.document.design:  # an edit arrived meanwhile; its check is queued
            return
        self.report = report
        self.summary.setText(report.lines()[0])
        self.summary.setToolTip(report.lines()[0])
        self._fill(report)

    def _failed(self, _generation: int, message: str) -> None:
        self.report = None
        self.tree.clear()
        self.summary.setText(f"⚠ {message}")

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
            out[item.text(0).split(":")[0].split(" (")[0]] = item.childCount()
        return out
