"""The budget-fit dock: limits in, scaled candidates out, one applied as an undoable edit.

``fit`` analyses a few hundred scalings (0.3 s for ResNet-50, seconds for a
1001-layer net), so it runs on the thread pool. A result computed for a design
the user has since changed is dropped, never offered.

The applied design is named after the budget it fits ("ResNet-50 (fit 2G MACs)"),
so the Compare columns of the original and the fitted design differ; applying
again replaces the earlier "(fit ...)" suffix. The memory limit's batch size is
the app's one training batch size (the inspector's and the Numbers tab's): the
limit means training memory at that batch, the figure they show, so a change
typed here is announced (``batchChanged``) and ``set_batch`` shows theirs.
"""

from __future__ import annotations

import dataclasses
import re

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from designer.core.design import MAX_NAME_LENGTH, Design, DesignError
from designer.core.explain import training_bytes
from designer.core.fit import Budget, Candidate, fit, parse_bytes, parse_count
from designer.core.report import human_bytes, human_count
from designer.qt.document import Document
from designer.qt.insights.common import cell, error_label, fill_row, hint, show_error, table
from designer.qt.workers import Runner

TOP = 8
HEADERS = ["Depth ×", "Width ×", "Params", "MACs", "Train memory", "Binds", "Uses"]


FIT_SUFFIX = re.compile(r"\s*\(fit [^()]*\)\s*$")


def _short(n: float, units: tuple[tuple[str, float], ...]) -> str:
    """2e9 -> '2G', 1.5e9 -> '1.5G', 4 << 30 -> '4 GiB': a limit as the user would type it."""
    for unit, scale in units:
        if n >= scale:
            return f"{n / scale:.3g}{unit}"
    return f"{n:.3g}"


COUNT_UNITS = (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3))
BYTE_UNITS = (
    (" TiB", float(1 << 40)),
    (" GiB", float(1 << 30)),
    (" MiB", float(1 << 20)),
    (" KiB", float(1 << 10)),
)


def budget_text(budget: Budget) -> str:
    """The stated limits, short: '2G MACs, 10M params, 4 GiB at batch 32'."""
    parts = []
    if budget.max_macs:
        parts.append(f"{_short(budget.max_macs, COUNT_UNITS)} MACs")
    if budget.max_params:
        parts.append(f"{_short(budget.max_params, COUNT_UNITS)} params")
    if budget.max_memory_bytes:
        memory = _short(budget.max_memory_bytes, BYTE_UNITS)
        parts.append(f"{memory} at batch {budget.batch_size}")
    return ", ".join(parts)


def fitted_name(name: str, budget: Budget) -> str:
    """``name`` with "(fit <limits>)", replacing the suffix of an earlier fit."""
    base = FIT_SUFFIX.sub("", name) or name
    suffix = f" (fit {budget_text(budget)})"
    return base[: MAX_NAME_LENGTH - len(suffix)].rstrip() + suffix


def _fit_job(design: Design, budget: Budget) -> tuple[Design, list[Candidate]]:
    return design, fit(design, budget, top=TOP)


class FitPanel(QWidget):
    batchChanged = Signal(int)  # the user changed the batch size here (not set_batch)

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.candidates: list[Candidate] = []
        self.budget_used: Budget | None = None
        self.runner = Runner(parent=self)
        self.runner.done.connect(self._fitted)
        self.runner.failed.connect(lambda _g, message: self._failed(message))
        self.runner.busyChanged.connect(self._busy)

        form = QFormLayout()
        self.max_macs = self._line("e.g. 2G", "At most this many multiply-adds per image.")
        self.max_params = self._line("e.g. 10M", "At most this many parameters.")
        self.max_memory = self._line(
            "e.g. 4GiB",
            "At most this much training memory at the batch size (fp32 weights, gradients,"
            " SGD momentum and activations).",
        )
        self.batch = QSpinBox()
        self.batch.setRange(1, 1 << 16)
        self.batch.setValue(32)
        self.batch.setToolTip(
            "Batch size for the training-memory limit: the same batch size as the"
            " inspector's and the Numbers tab's."
        )
        self._quiet = False  # set_batch is changing the batch: do not announce it
        self.batch.valueChanged.connect(self._batch_changed)
        form.addRow("Max MACs", self.max_macs)
        form.addRow("Max params", self.max_params)
        form.addRow("Max train memory", self.max_memory)
        form.addRow("at batch size", self.batch)
        self.fit_button = QPushButton("Fit")
        self.fit_button.setToolTip("Propose scalings of the depths and widths that meet the limits")
        self.fit_button.setDefault(True)
        self.fit_button.clicked.connect(self.run_fit)
        self.apply_button = QPushButton("Apply")
        self.apply_button.setToolTip("Replace the design with the selected candidate (undoable)")
        self.apply_button.setEnabled(False)
        self.apply_button.clicked.connect(self.apply)
        buttons = QHBoxLayout()
        buttons.addWidget(self.fit_button)
        buttons.addWidget(self.apply_button)
        self.error = error_label()
        left = QWidget()
        left.setMaximumWidth(self.fontMetrics().horizontalAdvance("M") * 24)
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addLayout(form)
        left_layout.addLayout(buttons)
        left_layout.addWidget(self.error)
        left_layout.addStretch(1)

        self.table = table(HEADERS)
        self.table.itemSelectionChanged.connect(self._selected)
        self.table.doubleClicked.connect(lambda _i: self.apply())
        self.explanation = hint(
            "State one or more limits and press Fit: every stage's depth is scaled by one"
            " factor and every width by another, keeping the design's proportions."
        )
        right = QVBoxLayout()
        right.addWidget(self.table, 1)
        right.addWidget(self.explanation)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(left)
        layout.addLayout(right, 1)
        document.designChanged.connect(self._design_changed)

    def _line(self, placeholder: str, tip: str) -> QLineEdit:
        line = QLineEdit()
        line.setPlaceholderText(placeholder)
        line.setToolTip(tip)
        line.setClearButtonEnabled(True)
        line.returnPressed.connect(self.run_fit)
        line.textChanged.connect(lambda _t: show_error(self.error, ""))
        return line

    def set_batch(self, n: int) -> None:
        """Show batch size ``n`` (chosen elsewhere) without emitting ``batchChanged``."""
        self._quiet = True
        try:
            self.batch.setValue(n)
        finally:
            self._quiet = False

    def _batch_changed(self, value: int) -> None:
        used = self.budget_used
        if self.candidates and used and used.max_memory_bytes and used.batch_size != value:
            self.explanation.setText(
                f"These candidates meet the memory limit at batch {used.batch_size}:"
                f" press Fit again for batch {value}."
            )
        if not self._quiet:
            self.batchChanged.emit(value)

    def budget(self) -> Budget:
        """The limits typed so far; DesignError names the field that does not parse."""
        macs, params, memory = (
            w.text().strip() for w in (self.max_macs, self.max_params, self.max_memory)
        )
        return Budget(
            max_macs=parse_count(macs, "max MACs") if macs else None,
            max_params=parse_count(params, "max params") if params else None,
            max_memory_bytes=parse_bytes(memory, "max train memory") if memory else None,
            batch_size=self.batch.value(),
        )

    def run_fit(self) -> None:
        try:
            budget = self.budget()
            if not (budget.max_macs or budget.max_params or budget.max_memory_bytes):
                raise DesignError("budget", "state at least one limit: MACs, params or memory")
        except DesignError as exc:
            show_error(self.error, f"{exc.field}: {exc}")
            return
        show_error(self.error, "")
        self.budget_used = budget
        self.explanation.setText("Fitting…")
        self.runner.submit(_fit_job, self.document.design, budget)

    def _fitted(self, _generation: int, result: tuple[Design, list[Candidate]]) -> None:
        design, candidates = result
        if design != self.document.design:  # the user edited meanwhile: not for this design
            self.explanation.setText("The design changed while fitting: press Fit again.")
            return
        self._show(candidates)

    def _failed(self, message: str) -> None:
        show_error(self.error, message)
        self.explanation.setText("")

    def _busy(self, busy: bool) -> None:
        self.fit_button.setEnabled(not busy)
        self.fit_button.setText("Fitting…" if busy else "Fit")

    def _show(self, candidates: list[Candidate]) -> None:
        self.candidates = candidates
        view = self.table
        view.setRowCount(len(candidates))
        batch = self.budget_used.batch_size if self.budget_used else self.batch.value()
        for row, c in enumerate(candidates):
            uses = ", ".join(f"{k} {v:.0%}" for k, v in sorted(c.usage.items()))
            memory = training_bytes(c.result, batch)
            fill_row(
                view,
                row,
                [
                    cell(f"{c.depth_factor:g}", right=True),
                    cell(f"{c.width_factor:g}", right=True),
                    cell(human_count(c.result.params), right=True, tip=f"{c.result.params:,}"),
                    cell(human_count(c.result.macs), right=True, tip=f"{c.result.macs:,}"),
                    cell(human_bytes(memory), right=True, tip=f"{memory:,} bytes at batch {batch}"),
                    cell(c.binding),
                    cell(uses, tip=c.explain()),
                ],
            )
        if candidates:
            view.selectRow(0)
        else:
            self.apply_button.setEnabled(False)
            self.explanation.setText(
                "No scaling between ×0.25 and ×3 meets these limits: loosen them, or start"
                " from a smaller design (fewer stages, a smaller input)."
            )

    def _selected(self) -> None:
        row = self.selected_row()
        self.apply_button.setEnabled(row >= 0)
        if row >= 0:
            c = self.candidates[row]
            depths = "/".join(str(s.depth) for s in c.design.stages)
            widths = "/".join(str(s.width) for s in c.design.stages)
            self.explanation.setText(
                f"{c.explain()}. Depths {depths}, widths {widths}, stem {c.design.stem.width}."
            )

    def selected_row(self) -> int:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].row() if rows and rows[0].row() < len(self.candidates) else -1

    def apply(self) -> None:
        row = self.selected_row()
        if row < 0:
            return
        chosen = self.candidates[row].design
        if self.budget_used is not None:
            chosen = chosen.replace(name=fitted_name(chosen.name, self.budget_used))
        self.document.edit(
            "fit",
            lambda _design: chosen,
            f"Fit to budget (depth ×{self.candidates[row].depth_factor:g},"
            f" width ×{self.candidates[row].width_factor:g})",
        )

    def _design_changed(self, design: Design) -> None:
        # candidates are scalings of the design they were fitted to: stale once it changes
        # (an applied candidate is named after the budget: compare it without the name)
        if self.candidates and not any(
            dataclasses.replace(c.design, name=design.name) == design for c in self.candidates
        ):
            self.candidates = []
            self.table.setRowCount(0)
            self.apply_button.setEnabled(False)
            self.explanation.setText("The design changed: press Fit again for new candidates.")
