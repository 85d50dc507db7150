"""The lint dock: what the linter flags in the live design, and the per-stage figures.

Clicking a finding names the control that fixes it (``fieldRequested``); the
window focuses that control. Both tables redraw from the analysis model's
``analysisChanged`` (the same analysis the inspector shows), so they are never stale.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHeaderView, QLabel, QSplitter, QStyle, QVBoxLayout, QWidget

from designer.core.lint import Finding, lint
from designer.core.report import human_bytes, human_count, shape_text
from designer.core.stages import StageFigures, stage_figures
from designer.qt.analysis_model import AnalysisModel
from designer.qt.insights.common import LazyAnalysisPanel, cell, fill_row, hint, table

STAGE_HEADERS = ["Stage", "Blocks", "Output", "Stride", "RF", "Params", "MACs", "Act./image"]


class LintPanel(LazyAnalysisPanel):
    fieldRequested = Signal(str)  # the design field a finding points at, e.g. "stages[2].stride"

    def __init__(self, analyses: AnalysisModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.findings: list[Finding] = []
        self.stages: list[StageFigures] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.summary = QLabel()
        layout.addWidget(self.summary)
        self.table = table(["", "Where", "Problem", "Suggested fix"])
        self.table.setWordWrap(True)
        header = self.table.horizontalHeader()
        for column in (2, 3):  # the sentences wrap; the icon and field stay compact
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Stretch)
        self.table.setToolTip("Click a finding to go to the control that fixes it.")
        self.table.itemSelectionChanged.connect(self._finding_clicked)
        self.table.cellClicked.connect(lambda _r, _c: self._finding_clicked())
        self.target = hint("Click a finding to go to the control that fixes it.")
        self.stage_table = table(STAGE_HEADERS)
        self.stage_table.setToolTip(
            "Receptive field: input pixels one output pixel sees along a side (main path)."
            " Output stride: input pixels per output pixel. Activations: fp32 outputs of"
            " every layer in the stage, per image. MACs: torchinfo's convention."
        )
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self.table, 1)
        top_layout.addWidget(self.target)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(top)
        split.addWidget(self.stage_table)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setChildrenCollapsible(False)
        layout.addWidget(split, 1)
        self.follow(analyses)

    def refresh(self) -> None:
        self._dirty = False
        result = self.analysis
        if result is None:
            return
        self.findings = lint(result.design, result)
        self.stages = stage_figures(result)
        self._show_findings()
        self._show_stages()

    def _show_findings(self) -> None:
        warnings = sum(f.severity == "warning" for f in self.findings)
        infos = len(self.findings) - warnings
        if not self.findings:
            self.summary.setText("✔ Nothing to flag: no findings for this design.")
        else:
            self.summary.setText(f"{warnings} warning(s), {infos} note(s)")
        style = self.style()
        icons = {
            "warning": style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning),
            "info": style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxInformation),
        }
        view = self.table
        view.setRowCount(len(self.findings))
        for row, finding in enumerate(self.findings):
            severity = cell("", tip=f"{finding.severity} ({finding.code})")
            severity.setIcon(icons[finding.severity])
            fill_row(
                view,
                row,
                [
                    severity,
                    cell(finding.field, tip=f"The control for {finding.field}"),
                    cell(finding.message, tip=finding.message),
                    cell(finding.fix, tip=finding.fix),
                ],
            )
        view.resizeRowsToContents()
        self.target.setText("Click a finding to go to the control that fixes it.")

    def _show_stages(self) -> None:
        view = self.stage_table
        view.setRowCount(len(self.stages))
        for row, s in enumerate(self.stages):
            fill_row(
                view,
                row,
                [
                    cell(s.name),
                    cell(str(s.blocks), right=True),
                    cell(shape_text(s.output_shape), right=True),
                    cell(str(s.output_stride), right=True),
                    cell(f"{s.receptive_field} px", right=True),
                    cell(human_count(s.params), right=True, tip=f"{s.params:,}"),
                    cell(human_count(s.macs), right=True, tip=f"{s.macs:,}"),
                    cell(human_bytes(s.activation_bytes), right=True),
                ],
            )

    def _finding_clicked(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if not rows or rows[0].row() >= len(self.findings):
            return
        finding = self.findings[rows[0].row()]
        self.target.setText(f"→ fix it at <b>{finding.field}</b>: {finding.fix}")
        self.fieldRequested.emit(finding.field)
