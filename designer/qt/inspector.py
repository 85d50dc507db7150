"""The inspector: totals of the current analysis, deltas against a pinned baseline,
and the sortable, filterable per-layer table (which folds away, leaving the totals)."""

from __future__ import annotations

from functools import lru_cache
from operator import itemgetter
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSettings,
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
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from designer.core.analysis import Analysis, Layer, numel
from designer.core.explain import training_bytes
from designer.core.lint import size_warning
from designer.core.report import delta_text, human_bytes, human_count, shape_text
from designer.qt.shortcuts import guard

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
Index = QModelIndex | QPersistentModelIndex

COLUMNS = ("Layer", "Kind", "Input", "Output", "Params", "MACs")
# each column's field of a Layer (a named tuple): read by index, the fastest way in C
LAYER_FIELD = tuple(
    Layer._fields.index(f)
    for f in ("name", "kind", "input_shape", "output_shape", "params", "macs")
)
COLUMN_TIPS = (
    "The module's path in the built network (torchvision's attribute names).",
    "The torch.nn module class.",
    "Input tensor shape (channels x height x width), batch of 1.",
    "Output tensor shape (channels x height x width), batch of 1.",
    "Learnable parameters of this module.",
    "Multiply-adds of this module, torchinfo's convention (FLOPs = 2 x MACs).",
)


# the order columns get room in when the inspector is narrow (Layer, MACs, Params,
# Output, Kind, Input): the figures matter most, a layer's input is the row above's output
PRIORITY = (0, 5, 4, 3, 1, 2)
LAYERS_COLLAPSED = "inspector/layers_collapsed"  # QSettings key: the layer table folded away


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
        """The widest-looking text of ``column`` (its longest), exact, for sizing it
        without Qt's scan of every cell. Loops run in C: names and kinds by ``max`` over
        the column, shapes over the few distinct shapes only (a ResNet-152 has about 30
        among its 1,200 rows), so a 90,000-layer design still takes a few milliseconds."""
        values = map(itemgetter(LAYER_FIELD[column]), self._layers)  # a Layer is a tuple
        if column >= 4:
            return f"{max(values, default=0):,}"
        if column < 2:
            return max(values, key=len, default="")
        return max(map(compact_shape, set(values)), key=len, default="")


@lru_cache(maxsize=4096)
def compact_shape(shape: tuple[int, ...]) -> str:
    """'512×28×28': a few dozen distinct shapes fill thousands of cells, so remembered."""
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
        self.batch.setKeyboardTracking(False)  # one change on Enter, not one per keystroke
        self.batch.setToolTip("Batch size for the training-memory estimate.")
        self.batch.setMaximumWidth(self.fontMetrics().horizontalAdvance("M") * 8)
        self.batch.valueChanged.connect(self._batch_changed)
        guard(self.batch, window_keys=False)  # the wheel steps it only once clicked
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
        self.size_note = QLabel("")
        self.size_note.setObjectName("inlineError")
        self.size_note.setWordWrap(True)
        self.size_note.setToolTip(
            "The design is valid, but its size is beyond any real network (the linter"
            " says why and which field is to blame): the numbers above are not checked"
            " by torchinfo."
        )
        self.size_note.hide()
        form.addRow(self.size_note)
        layout.addWidget(totals)

        self.layers_toggle = QToolButton()
        self.layers_toggle.setObjectName("layersToggle")
        self.layers_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.layers_toggle.setAutoRaise(True)
        self.layers_toggle.setToolTip(
            "Show or hide the layer table: hidden, the inspector is only the totals."
        )
        self.layers_toggle.clicked.connect(
            lambda: self.set_layers_collapsed(not self.layers_collapsed())
        )
        layout.addWidget(self.layers_toggle)

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
        self.table.setTabKeyNavigation(False)  # Tab leaves the table, not its next cell
        # the Layer column gives way when room is short; each row's tooltip names it whole
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        self.table.selectionModel().currentRowChanged.connect(self._row_changed)
        self.table.viewport().installEventFilter(self)  # its width: refit the columns
        layout.addWidget(self.table, 1)
        layout.addStretch(0)  # takes the room the table leaves when folded away
        self._longest: tuple[str, ...] = ()  # each column's longest text, as last sized
        self._widths: list[int] = []
        collapsed = QSettings().value(LAYERS_COLLAPSED, False, type=bool)
        self._show_layers(not bool(collapsed))

    # -- view ------------------------------------------------------------------------
    def set_analysis(self, analysis: Analysis) -> None:
        self._analysis = analysis
        selected = self.selected_layer()
        self.model.set_analysis(analysis)
        self._size_columns()
        self._label_toggle()
        self._show_totals()
        if selected:
            self.select_layer(selected, emit=False)

    def _size_columns(self) -> None:
        """Each column as wide as its longest text, measured only when those change (an
        edit mostly changes none); then fit them to the table (``_fit_columns``)."""
        longest = tuple(
            max(self.model.longest(col), name, key=len) for col, name in enumerate(COLUMNS)
        )
        if longest != self._longest:
            self._longest = longest
            metrics = self.table.fontMetrics()
            pad = metrics.height() * 2 // 3
            arrow = metrics.height()  # the sort indicator beside a title
            self._widths = [
                max(metrics.horizontalAdvance(text), metrics.horizontalAdvance(title) + arrow) + pad
                for text, title in zip(longest, COLUMNS, strict=True)
            ]
        self._fit_columns()

    def _fit_columns(self) -> None:
        """Fit the columns to the table's width, the figures first: the Layer column and
        then, in ``PRIORITY`` order, every column that fits whole (at its longest text);
        those that do not are hidden, the rest follow as the table widens. The Layer
        column gives way down to a short name (eliding in the middle; the row's tooltip
        names it whole), and the MACs, last, stretch over what is left: never cut off."""
        if not self._widths:
            return
        header = self.table.horizontalHeader()
        widths = self._widths
        room = self.table.viewport().width()
        shortest = self.table.fontMetrics().horizontalAdvance("layer4.0.conv1")
        used = min(shortest, widths[0])
        shown = {0}
        for col in PRIORITY[1:]:
            if used + widths[col] > room:
                break  # this and every later one wait for more room
            shown.add(col)
            used += widths[col]
        others = sum(widths[c] for c in shown if c != 0)
        name = max(min(widths[0], room - others), min(shortest, widths[0]))
        for col in range(len(COLUMNS)):
            if self.table.isColumnHidden(col) == (col in shown):
                self.table.setColumnHidden(col, col not in shown)
        last = len(COLUMNS) - 1  # the MACs: what is left (Qt's stretch keeps a minimum)
        sizes = {0: name, last: max(widths[last], room - name - others + widths[last])}
        for col in shown:
            width = sizes.get(col, widths[col])
            if header.sectionSize(col) != width:
                header.resizeSection(col, width)
        hidden = [COLUMNS[c] for c in range(len(COLUMNS)) if c not in shown]
        self.layers_toggle.setToolTip(
            "Show or hide the layer table: hidden, the inspector is only the totals."
            + (f" Widen the inspector to see {' and '.join(hidden)} too." if hidden else "")
        )

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize and watched is self.table.viewport():
            self._fit_columns()
        return False

    # -- the layer table folded away ------------------------------------------------------
    def layers_collapsed(self) -> bool:
        return self.table.isHidden()

    def set_layers_collapsed(self, collapsed: bool) -> None:
        """Fold the layer table (and its filter) away, leaving the totals; remembered
        across runs (``LAYERS_COLLAPSED`` in QSettings)."""
        self._show_layers(not collapsed)
        QSettings().setValue(LAYERS_COLLAPSED, bool(collapsed))

    def _show_layers(self, shown: bool) -> None:
        self.table.setVisible(shown)
        self.filter.setVisible(shown)
        self.layers_toggle.setArrowType(
            Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow
        )
        self._label_toggle()

    def _label_toggle(self) -> None:
        rows = self.model.rowCount()
        count = f" ({rows:,})" if rows else ""
        hint = "" if not self.table.isHidden() else ": click to show"
        self.layers_toggle.setText(f"Layers{count}{hint}")

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

    def set_batch(self, n: int) -> None:
        """Show batch size ``n`` (chosen elsewhere, e.g. the Numbers dock) without emitting
        ``batchChanged``; the memory total follows. Clamped to the box's range."""
        n = max(self.batch.minimum(), min(int(n), self.batch.maximum()))
        if n == self.batch.value():
            return
        self.batch.blockSignals(True)
        self.batch.setValue(n)
        self.batch.blockSignals(False)
        self._show_totals()

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
        note = size_warning(a)
        self.size_note.setText(f"⚠ {note}" if note else "")
        self.size_note.setVisible(bool(note))
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
