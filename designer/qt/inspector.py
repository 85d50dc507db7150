"""The inspector: totals of the current analysis, deltas against a pinned baseline,
and the sortable, filterable per-layer table."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from designer.core.analysis import Analysis, Layer, numel
from designer.core.explain import training_bytes
from designer.core.report import delta_text, human_bytes, human_count, shape_text

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
Index = QModelIndex | QPersistentModelIndex

COLUMNS = ("Layer", "Kind", "Input", "Output", "Params", "MACs")
COLUMN_TIPS = (
    "The module's path in the built network (torchvision's attribute names).",
    "The torch.nn module class.",
    "Input tensor shape (channels x height x width), batch of 1.",
    "Output tensor shape (channels x height x width), batch of 1.",
    "Learnable parameters of this module.",
    "Multiply-adds of this module, torchinfo's convention (FLOPs = 2 x MACs).",
)


SAMPLE_ROWS = 1000


class LayerTableModel(QAbstractTableModel):
    """The analysis's layers, one row per module call (as torchinfo lists them)."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._layers: tuple[Layer, ...] = ()

    def set_analysis(self, analysis: Analysis) -> None:
        self.beginResetModel()
        self._layers = analysis.layers
        self.endResetModel()

    def layer(self, row: int) -> Layer:
        return self._layers[row]

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._layers)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            return COLUMN_TIPS[section]
        return None

    def data(self, index: Index, role: int = 0) -> Any:
        if not index.isValid():
            return None
        layer = self._layers[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return layer.name
            if col == 1:
                return layer.kind
            if col == 2:
                return compact_shape(layer.input_shape)
            if col == 3:
                return compact_shape(layer.output_shape)
            value = layer.params if col == 4 else layer.macs
            return f"{value:,}" if value else "–"
        if role == SORT_ROLE:
            if col in (2, 3):
                shape = layer.input_shape if col == 2 else layer.output_shape
                return numel(shape)
            if col == 4:
                return layer.params
            if col == 5:
                return layer.macs
            return index.row() if col == 0 else layer.kind
        if role == Qt.ItemDataRole.TextAlignmentRole and col >= 4:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            return (
                f"{layer.name} ({layer.kind}, {layer.branch} path of {layer.block})\n"
                f"in  {shape_text(layer.input_shape)}\nout {shape_text(layer.output_shape)}"
            )
        return None

    def longest(self, column: int) -> str:
        """The widest-looking text of ``column`` (for sizing it without a full scan by Qt).

        Numbers: the largest value is the longest. Shapes: a sample (the ends and every
        n-th row) so a 90,000-layer design still sizes its columns in a millisecond.
        """
        layers = self._layers
        if column == 4:
            return f"{max((x.params for x in layers), default=0):,}"
        if column == 5:
            return f"{max((x.macs for x in layers), default=0):,}"
        if len(layers) > SAMPLE_ROWS:
            step = len(layers) // SAMPLE_ROWS
            layers = [*layers[:200], *layers[::step], *layers[-200:]]
        texts = {
            0: (x.name for x in self._layers),
            1: (x.kind for x in layers),
            2: (compact_shape(x.input_shape) for x in layers),
            3: (compact_shape(x.output_shape) for x in layers),
        }[column]
        return max(texts, key=len, default="")


def compact_shape(shape: tuple[int, ...]) -> str:
    return shape_text(shape, "×")


class Inspector(QWidget):
    """Totals, baseline deltas and the layer table; emits the layer the user selects."""

    layerSelected = Signal(str)  # layer name, "" when nothing selected
    pinRequested = Signal()
    batchChanged = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._analysis: Analysis | None = None
        self._baseline: Analysis | None = None
        layout = QVBoxLayout(self)

        totals = QGroupBox("Totals")
        form = QFormLayout(totals)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
        self.values: dict[str, QLabel] = {}
        self.deltas: dict[str, QLabel] = {}
        rows = (
            ("params", "Parameters", "Learnable parameters (weights and biases)."),
            ("trainable", "Trainable", "Parameters updated by training."),
            (
                "macs",
                "Multiply-adds",
                "Multiply-accumulates of one forward pass at batch 1, torchinfo's convention"
                " (convs, BatchNorm and Linear). FLOPs = 2 x MACs.",
            ),
            ("flops", "FLOPs", "2 x multiply-adds: the figure most papers quote."),
            (
                "depth",
                "Depth",
                "The depth in the network's name: weighted layers on the main path.",
            ),
            ("output", "Output", "Shape of the network's output for one image."),
            (
                "memory",
                "Training memory",
                "fp32 weights + gradients + SGD momentum + the activations kept for the backward"
                " pass, at the batch size below (a lower bound: no workspace, no allocator slack).",
            ),
        )
        for key, label, tip in rows:
            value = QLabel("–")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setToolTip(tip)
            delta = QLabel("")
            delta.setObjectName("delta")
            delta.setToolTip("Change against the pinned baseline design.")
            cell = QHBoxLayout()
            cell.addWidget(value, 1)
            cell.addWidget(delta)
            name = QLabel(label)
            name.setToolTip(tip)
            form.addRow(name, cell)
            self.values[key] = value
            self.deltas[key] = delta
        self.batch = QSpinBox()
        self.batch.setRange(1, 1 << 16)
        self.batch.setValue(32)
        self.batch.setToolTip("Batch size for the training-memory estimate.")
        self.batch.setMaximumWidth(self.fontMetrics().horizontalAdvance("M") * 8)
        self.batch.valueChanged.connect(self._batch_changed)
        form.addRow("Batch size", self.batch)
        pin_row = QHBoxLayout()
        self.pin_button = QPushButton("Pin as baseline")
        self.pin_button.setToolTip(
            "Remember the current design; the totals then show how later edits change it."
        )
        self.pin_button.clicked.connect(self.pinRequested)
        self.baseline_label = QLabel("")
        self.baseline_label.setObjectName("hint")
        pin_row.addWidget(self.pin_button)
        pin_row.addWidget(self.baseline_label, 1)
        form.addRow(pin_row)
        self.confirm_label = QLabel("")
        self.confirm_label.setObjectName("hint")
        self.confirm_label.setToolTip(
            "After a pause, a background check builds the design on PyTorch's meta device"
            " and counts it with torchinfo."
        )
        form.addRow(self.confirm_label)
        layout.addWidget(totals)

        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter layers (name or kind, e.g. layer3 or Conv2d)")
        self.filter.setClearButtonEnabled(True)
        self.filter.setToolTip("Show only layers whose name or kind contains this text.")
        layout.addWidget(self.filter)

        self.model = LayerTableModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.proxy.setFilterKeyColumn(-1)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.filter.textChanged.connect(self.proxy.setFilterFixedString)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        self.table.selectionModel().currentRowChanged.connect(self._row_changed)
        layout.addWidget(self.table, 1)

    # -- view ------------------------------------------------------------------------
    def set_analysis(self, analysis: Analysis) -> None:
        self._analysis = analysis
        selected = self.selected_layer()
        self.model.set_analysis(analysis)
        self._size_columns()
        self._show_totals()
        if selected:
            self.select_layer(selected, emit=False)

    def _size_columns(self) -> None:
        metrics = self.table.fontMetrics()
        header = self.table.horizontalHeader()
        for col in range(len(COLUMNS) - 1):
            text = max(self.model.longest(col), COLUMNS[col], key=len)
            header.resizeSection(col, metrics.horizontalAdvance(text) + metrics.height() * 2 // 3)

    def set_confirmation(self, text: str, *, ok: bool | None = None) -> None:
        """The torchinfo check's one line ("" while there is nothing to say)."""
        self.confirm_label.setText(text)
        self.confirm_label.setProperty("ok", "" if ok is None else str(ok).lower())
        self.confirm_label.style().unpolish(self.confirm_label)
        self.confirm_label.style().polish(self.confirm_label)

    def set_baseline(self, baseline: Analysis | None) -> None:
        self._baseline = baseline
        self.baseline_label.setText(f"vs {baseline.design.name}" if baseline else "")
        self.pin_button.setText("Re-pin baseline" if baseline else "Pin as baseline")
        self._show_totals()

    def set_stale(self, stale: bool) -> None:
        """Grey the totals while the design on screen is not the one being edited."""
        for label in self.values.values():
            label.setEnabled(not stale)

    def _batch_changed(self, value: int) -> None:
        self._show_totals()
        self.batchChanged.emit(value)

    def totals(self, a: Analysis) -> dict[str, int]:
        return {
            "params": a.params,
            "trainable": a.trainable_params,
            "macs": a.macs,
            "flops": 2 * a.macs,
            "depth": a.depth,
            "memory": training_bytes(a, self.batch.value()),
        }

    def _show_totals(self) -> None:
        a = self._analysis
        if a is None:
            return
        now = self.totals(a)
        self.values["params"].setText(f"{a.params:,}  ({human_count(a.params)})")
        self.values["trainable"].setText(f"{a.trainable_params:,}")
        self.values["macs"].setText(f"{a.macs:,}  ({human_count(a.macs)})")
        self.values["flops"].setText(human_count(2 * a.macs))
        self.values["depth"].setText(str(a.depth))
        self.values["output"].setText(shape_text(a.output_shape))
        self.values["memory"].setText(human_bytes(now["memory"]))
        base = self.totals(self._baseline) if self._baseline else None
        for key, label in self.deltas.items():
            if base is None or key not in now:
                label.setText("")
                continue
            fmt = human_bytes if key == "memory" else human_count
            label.setText(delta_text(now[key], base[key], fmt, places=1, same="±0"))
            sign = (now[key] > base[key]) - (now[key] < base[key])
            label.setProperty("sign", sign)
            label.style().unpolish(label)
            label.style().polish(label)

    # -- selection -------------------------------------------------------------------
    def selected_layer(self) -> str:
        index = self.table.selectionModel().currentIndex()
        if not index.isValid():
            return ""
        return self.model.layer(self.proxy.mapToSource(index).row()).name

    def select_layer(self, name: str, *, emit: bool = True) -> bool:
        """Select the first row of layer ``name`` (a module may be called more than once)."""
        for row in range(self.model.rowCount()):
            if self.model.layer(row).name == name:
                index = self.proxy.mapFromSource(self.model.index(row, 0))
                if not index.isValid():
                    return False
                self.table.blockSignals(emit is False)
                self.table.selectionModel().blockSignals(not emit)
                self.table.selectRow(index.row())
                self.table.selectionModel().setCurrentIndex(
                    index,
                    self.table.selectionModel().SelectionFlag.ClearAndSelect
                    | self.table.selectionModel().SelectionFlag.Rows,
                )
                self.table.selectionModel().blockSignals(False)
                self.table.blockSignals(False)
                self.table.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)
                return True
        return False

    def _row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not current.isValid():
            self.layerSelected.emit("")
            return
        self.layerSelected.emit(self.model.layer(self.proxy.mapToSource(current).row()).name)
