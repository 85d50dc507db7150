"""The numbers dock: where a selected layer's figures come from, and training memory by part.

MACs follow torchinfo's convention and FLOPs are 2 × MACs; both are shown and
labelled. Memory toggles (mixed precision, checkpointing, optimiser, batch) only
change the estimate shown here, never the design. The batch size is the app's one
training batch size: a change typed here is announced (``batchChanged``) for the
inspector and the budget fit to follow, and ``set_batch`` shows theirs without echoing.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QWidget,
)

from designer.core.analysis import Layer
from designer.core.explain import MemoryBreakdown, explain_layer, training_memory
from designer.core.report import human_bytes, human_count, shape_text
from designer.qt.analysis_model import AnalysisModel
from designer.qt.insights.common import LazyAnalysisPanel, hint

OPTIMISERS = (
    ("SGD with momentum", "sgd_momentum", "one fp32 momentum buffer per parameter"),
    ("AdamW", "adamw", "two fp32 moment buffers per parameter"),
    ("Plain SGD", "sgd", "no optimiser state"),
)
MEMORY_PARTS = (
    ("weights", "Weights", "fp32 master weights: 4 bytes per parameter."),
    ("gradients", "Gradients", "fp32 gradients: 4 bytes per parameter."),
    ("optimiser", "Optimiser state", "What the optimiser keeps per parameter."),
    (
        "activations",
        "Activations",
        "Layer outputs kept for the backward pass, times the batch (2 bytes each with mixed"
        " precision; with checkpointing only block inputs plus the largest block's internals).",
    ),
    ("total", "Total", "A lower bound: no workspace, no allocator slack."),
)


def _selectable(text: str = "–") -> QLabel:
    label = QLabel(text)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class NumbersPanel(LazyAnalysisPanel):
    """A layer's formula and the training-memory breakdown, from the live analysis."""

    batchChanged = Signal(int)  # the user changed the batch size here (not set_batch)

    def __init__(self, analyses: AnalysisModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.layer_name = ""

        layer_box = QGroupBox("Selected layer")
        form = QFormLayout(layer_box)
        form.setVerticalSpacing(2)  # seven rows in the Insights area's modest height
        self.layer_title = _selectable("Select a layer in the inspector's table")
        self.formula = _selectable("")
        self.formula.setWordWrap(True)
        self.formula.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.layer_params = _selectable()
        self.layer_macs = _selectable()
        self.layer_flops = _selectable()
        form.addRow("Layer", self.layer_title)
        form.addRow("Formula", self.formula)
        form.addRow("Parameters", self.layer_params)
        form.addRow("MACs (multiply-adds)", self.layer_macs)
        form.addRow("FLOPs (2 × MACs)", self.layer_flops)
        self.model_macs = _selectable()
        self.model_macs.setToolTip("The whole network, one image, torchinfo's convention.")
        form.addRow("Network MACs / FLOPs", self.model_macs)
        form.addRow(hint("MACs follow torchinfo: convs, BatchNorm and Linear; FLOPs = 2 × MACs."))

        memory_box = QGroupBox("Training memory")
        memory = QFormLayout(memory_box)
        memory.setVerticalSpacing(2)
        toggles = QHBoxLayout()
        self.batch = QSpinBox()
        self.batch.setRange(1, 1 << 16)
        self.batch.setValue(32)
        self.batch.setToolTip("Images per training step.")
        self.optimiser = QComboBox()
        for text, key, tip in OPTIMISERS:
            self.optimiser.addItem(text, key)
            self.optimiser.setItemData(self.optimiser.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        self.mixed = QCheckBox("Mixed precision")
        self.mixed.setToolTip("16-bit activations; fp32 master weights, gradients and state.")
        self.checkpointing = QCheckBox("Activation checkpointing")
        self.checkpointing.setToolTip(
            "Keep only block inputs and recompute the rest in the backward pass."
        )
        toggles.addWidget(QLabel("Batch"))
        toggles.addWidget(self.batch)
        toggles.addWidget(self.optimiser)
        toggles.addStretch(1)
        memory.addRow(toggles)
        switches = QHBoxLayout()
        switches.addWidget(self.mixed)
        switches.addWidget(self.checkpointing)
        switches.addStretch(1)
        memory.addRow(switches)
        self.memory: dict[str, QLabel] = {}
        for key, text, tip in MEMORY_PARTS:
            value = _selectable()
            value.setToolTip(tip)
            name = QLabel(f"<b>{text}</b>" if key == "total" else text)
            name.setToolTip(tip)
            memory.addRow(name, value)
            self.memory[key] = value
        self._quiet = False  # set_batch is changing the batch: do not announce it
        self.batch.valueChanged.connect(self._batch_changed)
        self.optimiser.currentIndexChanged.connect(lambda _v: self._show_memory())
        self.mixed.toggled.connect(lambda _v: self._show_memory())
        self.checkpointing.toggled.connect(lambda _v: self._show_memory())

        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(layer_box, 3)
        layout.addWidget(memory_box, 2)
        self.follow(analyses)
        self.refresh()  # hidden panels draw lazily, but breakdown() must answer from the start

    def set_batch(self, n: int) -> None:
        """Show batch size ``n`` (chosen elsewhere) without emitting ``batchChanged``."""
        self._quiet = True
        try:
            self.batch.setValue(n)
        finally:
            self._quiet = False

    def _batch_changed(self, value: int) -> None:
        self._show_memory()
        if not self._quiet:
            self.batchChanged.emit(value)

    def refresh(self) -> None:
        self._dirty = False
        if self.analysis is None:
            return
        m = self.analysis.macs
        self.model_macs.setText(f"{human_count(m)} MACs · {human_count(2 * m)} FLOPs")
        self.model_macs.setToolTip(f"{m:,} multiply-adds; {2 * m:,} FLOPs")
        self.select_layer(self.layer_name)
        self._show_memory()

    def layer(self) -> Layer | None:
        if self.analysis is None:
            return None
        return next((x for x in self.analysis.layers if x.name == self.layer_name), None)

    def select_layer(self, name: str) -> None:
        self.layer_name = name
        if self._dirty:  # shown once the dock opens, against the then-current design
            return
        layer = self.layer()
        if layer is None:
            self.layer_title.setText(
                "Select a layer in the inspector's table" if not name else f"{name}: not in design"
            )
            for label in (self.formula, self.layer_params, self.layer_macs, self.layer_flops):
                label.setText("–" if label is not self.formula else "")
            return
        self.layer_title.setText(
            f"{layer.name} ({layer.kind}): {shape_text(layer.input_shape)} →"
            f" {shape_text(layer.output_shape)}"
        )
        self.formula.setText(explain_layer(layer))
        self.layer_params.setText(f"{layer.params:,}")
        self.layer_macs.setText(f"{layer.macs:,}")
        self.layer_flops.setText(f"{2 * layer.macs:,}")

    def breakdown(self) -> MemoryBreakdown:
        assert self.analysis is not None  # refresh() asks only once there is one
        return training_memory(
            self.analysis,
            self.batch.value(),
            optimiser=str(self.optimiser.currentData()),
            mixed_precision=self.mixed.isChecked(),
            checkpointing=self.checkpointing.isChecked(),
        )

    def _show_memory(self) -> None:
        if self.analysis is None:  # the first analysis of a huge design is on its way
            return
        parts = self.breakdown()
        for key, label in self.memory.items():
            value = getattr(parts, key)
            label.setText(human_bytes(value))
            label.setToolTip(f"{value:,} bytes")
