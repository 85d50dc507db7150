"""The design panel: a form over the document's design (left of the window).

Widgets are views: ``sync`` writes the design into them with signals blocked,
and a user change becomes ``document.edit(...)``. No widget value is state.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from designer.core import design as d
from designer.core.design import Design, DesignError, StageSpec
from designer.core.presets import load_preset, preset_names
from designer.qt.document import Document
from designer.qt.fields import (
    FIELDS,
    Field,
    Kind,
    format_ints,
    get_value,
    parse_ints,
    set_value,
)

INVALID = "invalid"  # dynamic property the style sheet paints red
CUSTOM = "Custom design"

STAGE_COLUMNS: tuple[tuple[str, str, int, int, str], ...] = (
    ("depth", "Depth", 0, d.MAX_DEPTH, "Residual blocks in this stage (ResNet-50: 3, 4, 6, 3)."),
    (
        "width",
        "Width",
        0,
        d.MAX_CHANNELS,
        "The stage's base width ('planes'): a basic block's output channels, a bottleneck's"
        " inner width (its output is width x expansion).",
    ),
    (
        "stride",
        "Stride",
        0,
        d.MAX_STRIDE,
        "Stride of the stage's first block: 2 halves height and width (and the shortcut"
        " then needs a projection or zero padding).",
    ),
    (
        "expansion",
        "Expansion",
        0,
        64,
        "Output width = width x expansion. 'auto' is 4 for bottlenecks, 1 for basic blocks.",
    ),
)


def _spin(low: int, high: int, tooltip: str) -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    box.setKeyboardTracking(False)  # one edit on Enter, not one per keystroke
    box.setToolTip(tooltip)
    box.setAccelerated(True)
    return box


def mark_invalid(widget: QWidget, invalid: bool) -> None:
    if bool(widget.property(INVALID)) == invalid:
        return
    widget.setProperty(INVALID, invalid)
    widget.style().unpolish(widget)
    widget.style().polish(widget)


class StageTable(QWidget):
    """One row per stage; spin boxes per cell; add / remove / move up / move down."""

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._document = document
        self.table = QTableWidget(0, len(STAGE_COLUMNS))
        self.table.setHorizontalHeaderLabels([c[1] for c in STAGE_COLUMNS])
        for i, column in enumerate(STAGE_COLUMNS):
            self.table.horizontalHeaderItem(i).setToolTip(column[4])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setToolTip("The stages of residual blocks, from input to output.")
        self.spins: list[list[QSpinBox]] = []

        buttons = QHBoxLayout()
        buttons.setSpacing(4)
        self.add_button = self._button("Add", "Append a stage (a copy of the last, stride 2).")
        self.remove_button = self._button("Remove", "Delete the selected stage.")
        self.up_button = self._button("Up", "Move the selected stage one place earlier.")
        self.down_button = self._button("Down", "Move the selected stage one place later.")
        for b in (self.add_button, self.remove_button, self.up_button, self.down_button):
            buttons.addWidget(b)
        self.add_button.clicked.connect(self._add)
        self.remove_button.clicked.connect(self._remove)
        self.up_button.clicked.connect(lambda: self._move(-1))
        self.down_button.clicked.connect(lambda: self._move(1))

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        layout.addLayout(buttons)

    @staticmethod
    def _button(text: str, tooltip: str) -> QPushButton:
        button = QPushButton(text)
        button.setToolTip(tooltip)
        return button

    def selected_row(self) -> int:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].row() if rows else self.table.currentRow()

    def sync(self, design: Design) -> None:
        stages = design.stages
        if len(stages) != len(self.spins):
            self._rebuild(len(stages))
        for row, stage in enumerate(stages):
            for col, (key, *_rest) in enumerate(STAGE_COLUMNS):
                box = self.spins[row][col]
                value = getattr(stage, key)
                box.blockSignals(True)
                box.setValue(0 if value is None else value)
                box.blockSignals(False)
                mark_invalid(box, False)
        self.remove_button.setEnabled(len(stages) > 1)
        height = self.table.horizontalHeader().height() + 2 * self.table.frameWidth()
        for row in range(self.table.rowCount()):
            height += self.table.rowHeight(row)
        self.table.setFixedHeight(height)

    def _rebuild(self, rows: int) -> None:
        self.table.setRowCount(rows)
        self.spins = []
        for row in range(rows):
            boxes = []
            for col, (key, label, low, high, tooltip) in enumerate(STAGE_COLUMNS):
                box = _spin(low, high, f"Stage {row + 1} {label.lower()}: {tooltip}")
                box.setFrame(False)
                if key == "expansion":
                    box.setSpecialValueText("auto")
                box.valueChanged.connect(self._make_slot(row, key))
                self.table.setCellWidget(row, col, box)
                boxes.append(box)
            self.spins.append(boxes)
        self.table.setVerticalHeaderLabels([f"Stage {i + 1}" for i in range(rows)])

    def _make_slot(self, row: int, key: str) -> Callable[[int], None]:
        def slot(value: int) -> None:
            stored: int | None = None if key == "expansion" and value == 0 else value
            self._document.edit(
                f"stages[{row}].{key}",
                lambda design: design.with_stage(row, **{key: stored}),
                f"Stage {row + 1} {key} = {value}",
            )

        return slot

    def spin(self, row: int, key: str) -> QSpinBox:
        return self.spins[row][[c[0] for c in STAGE_COLUMNS].index(key)]

    def _add(self) -> None:
        def change(design: Design) -> Design:
            last = design.stages[-1]
            return design.replace(stages=(*design.stages, dataclasses.replace(last, stride=2)))

        self._document.edit("stages", change, "Add stage")

    def _remove(self) -> None:
        row = self.selected_row()
        if row < 0:
            row = len(self._document.design.stages) - 1

        def change(design: Design) -> Design:
            stages = list(design.stages)
            del stages[row]
            return design.replace(stages=tuple(stages))

        self._document.edit("stages", change, f"Remove stage {row + 1}")

    def _move(self, step: int) -> None:
        row = self.selected_row()
        target = row + step
        count = len(self._document.design.stages)
        if row < 0 or not 0 <= target < count:
            return

        def change(design: Design) -> Design:
            stages: list[StageSpec] = list(design.stages)
            stages[row], stages[target] = stages[target], stages[row]
            return design.replace(stages=tuple(stages))

        if self._document.edit("stages", change, f"Move stage {row + 1}"):
            self.table.selectRow(target)


Commit = Callable[[Any], None]


@dataclass(frozen=True)
class Editor:
    """How one kind of field is edited: ``make`` a widget that calls ``commit`` with the
    user's value, and ``show`` a design's value in it (signals are blocked by the caller)."""

    make: Callable[[Field, Commit], QWidget]
    show: Callable[[Any, Any], None]


def _combo(f: Field, commit: Commit) -> QComboBox:
    combo = QComboBox()
    combo.addItems(list(f.options))
    combo.currentTextChanged.connect(commit)
    return combo


def _int_box(f: Field, commit: Commit) -> QSpinBox:
    box = _spin(int(f.low), int(f.high), f.tooltip)
    box.setGroupSeparatorShown(True)
    box.valueChanged.connect(commit)
    return box


def _float_box(f: Field, commit: Commit) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(f.low, f.high)
    box.setSingleStep(f.step)
    box.setDecimals(4)
    box.setKeyboardTracking(False)
    box.valueChanged.connect(commit)
    return box


def _check(_f: Field, commit: Commit) -> QCheckBox:
    check = QCheckBox()
    check.toggled.connect(commit)
    return check


def _ints_line(_f: Field, commit: Commit) -> QLineEdit:
    line = QLineEdit()
    line.setPlaceholderText("none (e.g. 512, 256)")
    line.editingFinished.connect(lambda: commit(parse_ints_or_text(line.text())))
    return line


def _text_line(_f: Field, commit: Commit) -> QLineEdit:
    line = QLineEdit()
    line.editingFinished.connect(lambda: commit(line.text()))
    return line


def _show_text(line: QLineEdit, text: str) -> None:
    if line.text() != text:  # keeps the cursor where the user left it
        line.setText(text)


# the field kind (read from the design's types by fields.kind_of) -> its editor
EDITORS: dict[Kind, Editor] = {
    "choice": Editor(_combo, lambda w, v: w.setCurrentText(str(v))),
    "int": Editor(_int_box, lambda w, v: w.setValue(v)),
    "float": Editor(_float_box, lambda w, v: w.setValue(v)),
    "bool": Editor(_check, lambda w, v: w.setChecked(bool(v))),
    "ints": Editor(_ints_line, lambda w, v: _show_text(w, format_ints(v))),
    "text": Editor(_text_line, lambda w, v: _show_text(w, str(v))),
}


class DesignPanel(QWidget):
    """Preset picker, the field table's widgets, and the stage table."""

    presetChosen = Signal(str)

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._document = document
        self.widgets: dict[str, QWidget] = {}
        self._editors: dict[str, Editor] = {}
        layout = QVBoxLayout(self)

        self.preset = QComboBox()
        self.preset.addItem(CUSTOM)
        self.preset.addItems(preset_names())
        self.preset.setToolTip(
            "Start from a published ResNet: torchvision's ImageNet models or the CIFAR"
            " networks of the papers. Loading one is a single undoable edit."
        )
        self.preset.activated.connect(self._preset_activated)
        preset_row = QFormLayout()
        preset_row.addRow("Preset", self.preset)
        layout.addLayout(preset_row)

        self.error_label = QLabel()
        self.error_label.setObjectName("inlineError")
        self.error_label.setWordWrap(True)
        self.error_label.hide()
        layout.addWidget(self.error_label)

        forms: dict[str, QFormLayout] = {}
        for group in ("Network", "Stages", "Blocks", "Head", "Input"):
            box = QGroupBox(group)
            if group == "Stages":
                self.stages = StageTable(document)
                QVBoxLayout(box).addWidget(self.stages)
            else:
                form = QFormLayout(box)
                form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
                forms[group] = form
            layout.addWidget(box)
        for f in FIELDS:
            widget = self._make_widget(f)
            widget.setToolTip(f.tooltip)
            label = QLabel(f.label)
            label.setToolTip(f.tooltip)
            label.setBuddy(widget)
            forms[f.group].addRow(label, widget)
            self.widgets[f.path] = widget
        layout.addStretch(1)

        document.designChanged.connect(self.sync)
        document.editFailed.connect(self._show_error)
        document.errorCleared.connect(self._clear_error)
        self.sync(document.design)

    # -- widgets from the table -------------------------------------------------
    def _make_widget(self, f: Field) -> QWidget:
        widget = EDITORS[f.kind].make(f, self._committer(f))
        self._editors[f.path] = EDITORS[f.kind]
        return widget

    def _committer(self, f: Field) -> Callable[[Any], None]:
        def commit(value: Any) -> None:
            def change(design: Design) -> Design:
                v = value
                if f.kind == "ints":
                    v = parse_ints(value) if isinstance(value, str) else value
                return set_value(design, f.path, v)

            shown = format_ints(value) if isinstance(value, tuple) else value
            self._document.edit(f.path, change, f"{f.label} = {shown}")

        return commit

    def _preset_activated(self, index: int) -> None:
        name = self.preset.itemText(index)
        if name == CUSTOM:
            return
        self._document.edit("preset", lambda _design: load_preset(name), f"Load preset {name}")

    # -- view of the document ----------------------------------------------------
    def sync(self, design: Design) -> None:
        """Show ``design`` in every widget without emitting edits."""
        for path, widget in self.widgets.items():
            widget.blockSignals(True)
            self._editors[path].show(widget, get_value(design, path))
            widget.blockSignals(False)
            mark_invalid(widget, False)
        self.stages.sync(design)
        self.preset.blockSignals(True)
        self.preset.setCurrentText(_preset_of(design))
        self.preset.blockSignals(False)

    def widget_for(self, field: str) -> QWidget | None:
        """The control that edits ``field`` (a DesignError path like 'stages[1].depth')."""
        if field in self.widgets:
            return self.widgets[field]
        if field.startswith("stages[") and "]." in field:
            index = int(field[len("stages[") : field.index("]")])
            key = field.split("].", 1)[1]
            if index < len(self.stages.spins) and key in [c[0] for c in STAGE_COLUMNS]:
                return self.stages.spin(index, key)
        if field.startswith("head.hidden"):
            return self.widgets["head.hidden"]
        if field.startswith("stages"):
            return self.stages.table
        return None

    def _show_error(self, key: str, field: str, message: str) -> None:
        self._clear_marks()
        for name in {key, field}:
            widget = self.widget_for(name)
            if widget is not None:
                mark_invalid(widget, True)
        self.error_label.setText(message)
        self.error_label.setToolTip(message)
        self.error_label.show()

    def _clear_error(self) -> None:
        self._clear_marks()
        self.error_label.hide()

    def _clear_marks(self) -> None:
        for widget in self.widgets.values():
            mark_invalid(widget, False)
        for row in self.stages.spins:
            for box in row:
                mark_invalid(box, False)
        mark_invalid(self.stages.table, False)


def parse_ints_or_text(text: str) -> Any:
    """Keep the raw text when it does not parse, so the edit reports the error."""
    try:
        return parse_ints(text)
    except DesignError:
        return text


def _preset_of(design: Design) -> str:
    """The preset this design is, or CUSTOM (compares everything but the name).

    ``load_preset`` caches each preset, so this is one comparison per preset.
    """
    for name in preset_names():
        try:
            preset = load_preset(name)
        except (DesignError, KeyError, OSError):
            continue
        if preset == design:
            return name
    return CUSTOM
