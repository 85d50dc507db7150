"""The design panel: a form over the document's design (left of the window).

Widgets are views: ``sync`` writes the design into them with signals blocked,
and a user change becomes ``document.edit(...)``. No widget value is state.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import shiboken6
from PySide6.QtCore import QPoint, QRect, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QKeyEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QStandardItem,
    QStandardItemModel,
    QValidator,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QAbstractSpinBox,
    QApplication,
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
    QScrollArea,
    QSpinBox,
    QStyle,
    QStyleOptionComboBox,
    QStylePainter,
    QTableWidget,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from designer.core import design as d
from designer.core.design import (
    Design,
    DesignError,
    StageSpec,
    same_order_blocks,
    unread_block_options,
)
from designer.core.fields import show
from designer.core.presets import SOURCES, load_preset, preset_groups, preset_names
from designer.qt.document import Document
from designer.qt.fields import (
    FIELDS,
    STAGE_OPTIONS,
    Field,
    Kind,
    StageOption,
    format_ints,
    get_value,
    parse_ints,
    set_value,
)
from designer.qt.shortcuts import guard
from designer.qt.tooltips import wrapped

INVALID = "invalid"  # dynamic property the style sheet paints red
POINTED = "pointed"  # dynamic property: the control a lint finding points at (for a while)
POINT_MS = 2500  # how long a pointed-at control stays highlighted
NOTE_MS = 6000  # how long a refused keystroke's note stays in the error line
SHOWN_TEXT = "shownText"  # a line edit's property: the design's text as last shown in it
INHERITED = "inherited"  # a per-stage choice shows the network's value (drawn grey)
CUSTOM = "Custom design"
PRESET_ROLE = Qt.ItemDataRole.UserRole  # a preset's name, CUSTOM, or None on a source's title

# the stage table's first columns, from the field table: (field, title, low, high, help);
# the boxes start at 0 so that a typed 0 is answered by the design's own message
STAGE_COLUMNS: tuple[tuple[str, str, int, int, str], ...] = tuple(
    (e.name, e.row.label, 0, int(e.row.high or 0), e.row.help)
    for e in (d.field_entry(f"stages[].{key}") for key in ("depth", "width", "stride", "expansion"))
)
OPTIONS_FROM = len(STAGE_COLUMNS)  # the per-stage options' first column


def limit_message(box: QAbstractSpinBox, label: str, text: str) -> str:
    """What to say when ``text`` typed into ``box`` is outside its range ("" if it is not:
    the text is not a number, or it is a number the box takes)."""
    if not isinstance(box, (QSpinBox, QDoubleSpinBox)):
        return ""
    body = text
    if box.prefix() and body.startswith(box.prefix()):
        body = body[len(box.prefix()) :]
    if box.suffix() and body.endswith(box.suffix()):
        body = body[: -len(box.suffix())]
    for separator in {box.locale().groupSeparator(), ",", "_", " "}:
        body = body.replace(separator, "")
    body = body.replace(box.locale().decimalPoint(), ".")
    try:
        value = float(body)
    except ValueError:
        return ""
    low, high = box.minimum(), box.maximum()

    def shown(x: float) -> str:
        return f"{x:,.0f}" if isinstance(box, QSpinBox) else f"{x:g}"

    if value > high:
        return f"{label} is at most {shown(high)} ({body} was not taken)"
    if value < low:
        if low == 0:
            return f"{label} cannot be negative ({body} was not taken)"
        return f"{label} is at least {shown(low)} ({body} was not taken)"
    return ""


class _LimitNotes:
    """A spin box that says when a keystroke is refused for leaving its range: Qt drops
    the key silently (typing 99 into a box of at most 64 leaves 9), so ``limitHit``
    carries one line naming the limit, which the panel shows."""

    limit_label = ""

    def validate(self, text: str, pos: int) -> object:
        result = super().validate(text, pos)  # type: ignore[misc]
        state = result[0] if isinstance(result, tuple) else result
        if state == QValidator.State.Invalid:
            message = limit_message(self, self.limit_label, text)  # type: ignore[arg-type]
            if message:
                self.limitHit.emit(message)  # type: ignore[attr-defined]
        return result


class LimitSpinBox(_LimitNotes, QSpinBox):
    limitHit = Signal(str)


class LimitDoubleSpinBox(_LimitNotes, QDoubleSpinBox):
    limitHit = Signal(str)


def _spin(low: int, high: int, tooltip: str, label: str = "") -> QSpinBox:
    box = LimitSpinBox()
    box.limit_label = label
    box.setRange(low, high)
    box.setKeyboardTracking(False)  # one edit on Enter, not one per keystroke
    box.setToolTip(wrapped(tooltip))
    box.setAccelerated(True)
    return box


def _set_flag(widget: QWidget, name: str, on: bool) -> None:
    """Set a dynamic property the style sheet reads, and repaint only when it changes."""
    if bool(widget.property(name)) == on:
        return
    widget.setProperty(name, on)
    widget.style().unpolish(widget)
    widget.style().polish(widget)


def mark_invalid(widget: QWidget, invalid: bool) -> None:
    _set_flag(widget, INVALID, invalid)


def show_number(value: float) -> str:
    """A cell's text for a number: floats as Python writes them, so the text reads back exact."""
    return repr(float(value)) if isinstance(value, float) else str(value)


def parse_option(row: int, option: StageOption, text: str) -> int | float | None:
    """A per-stage number cell's text: blank is None (the network's value)."""
    text = text.strip().replace("_", "")
    if not text:
        return None
    try:
        return int(text) if option.kind == "int" else float(text)
    except ValueError:
        what = "a whole number" if option.kind == "int" else "a number"
        raise DesignError(
            f"stages[{row}].{option.key}",
            f"write {what}, or clear the cell to use the network's value (got {show(text)})",
        ) from None


class OptionCombo(QComboBox):
    """A per-stage choice whose first item is the network's value; Delete returns to it.

    Showing that first item, the label is drawn in the placeholder colour, as a blank
    line edit shows its placeholder (a style sheet colour would grey the list too).
    """

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and self.currentIndex() > 0:
            self.setCurrentIndex(0)
            return
        super().keyPressEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        if not self.property(INHERITED):
            super().paintEvent(event)
            return
        painter = QStylePainter(self)
        option = QStyleOptionComboBox()
        self.initStyleOption(option)
        grey = option.palette.color(QPalette.ColorRole.PlaceholderText)
        for role in (QPalette.ColorRole.ButtonText, QPalette.ColorRole.Text):
            option.palette.setColor(role, grey)
        painter.drawComplexControl(QStyle.ComplexControl.CC_ComboBox, option)
        painter.drawControl(QStyle.ControlElement.CE_ComboBoxLabel, option)


class StageTable(QWidget):
    """One row per stage; add / remove / move up / move down.

    Two sets of columns, one shown at a time: the stage's shape (depth, width,
    stride, expansion: spin boxes) and, behind the "Per-stage options" toggle, the
    options a stage may take from the network or override (block, groups, width
    per group, SE, stride on, dilate). Both at once do not fit the panel at
    1280x800 without squeezing the graph and the layer table, and most designs
    never override a stage; the toggle counts the overrides set.
    """

    optionsShown = Signal(bool)
    limitHit = Signal(str)  # a cell refused a keystroke: the limit it hit, in one line
    rebuilt = Signal()  # the rows' editors were made anew (the Tab order must follow)
    typed = Signal()  # a cell's text was typed (not applied yet)

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._document = document
        self.table = QTableWidget(0, len(STAGE_COLUMNS) + len(STAGE_OPTIONS))
        # Tab goes from cell to cell through the editors in the panel's Tab order (and out
        # to the buttons after the last), not round the table's cells forever; a row is
        # selected by focusing one of its editors (the view makes it current) or its header
        self.table.setTabKeyNavigation(False)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.setHorizontalHeaderLabels(
            [c[1] for c in STAGE_COLUMNS] + [o.title for o in STAGE_OPTIONS]
        )
        for i, column in enumerate(STAGE_COLUMNS):
            self.table.horizontalHeaderItem(i).setToolTip(wrapped(column[4]))
        for i, option in enumerate(STAGE_OPTIONS):
            self.table.horizontalHeaderItem(OPTIONS_FROM + i).setToolTip(wrapped(option.tooltip))
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setToolTip("The stages of residual blocks, from input to output.")
        self.spins: list[list[QSpinBox]] = []
        self.options: list[dict[str, QWidget]] = []

        self.options_toggle = QCheckBox("Per-stage options")
        self.options_toggle.setToolTip(
            "Show each stage's block, groups, width per group, SE ratio, stride position and"
            " dilation instead of its depth and widths. A blank cell takes the network's value"
            " (shown in grey); clearing a cell returns the stage to it."
        )
        self.options_toggle.toggled.connect(self.show_options)

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
        layout.addWidget(self.options_toggle)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        self._option_widths = self._measure_options()
        self.show_options(False)

    @staticmethod
    def _button(text: str, tooltip: str) -> QPushButton:
        button = QPushButton(text)
        button.setToolTip(tooltip)
        return button

    def selected_row(self) -> int:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].row() if rows else self.table.currentRow()

    def editors(self) -> list[QWidget]:
        """Every cell's editor, row by row: the shape's spin boxes, then the options'."""
        return [
            widget
            for boxes, options in zip(self.spins, self.options, strict=True)
            for widget in (*boxes, *options.values())
        ]

    def focus_chain(self) -> list[QWidget]:
        """The stage controls in Tab order: the toggle, the cells row by row, the buttons."""
        buttons = [self.add_button, self.remove_button, self.up_button, self.down_button]
        return [self.options_toggle, *self.editors(), *buttons]

    # -- the two sets of columns --------------------------------------------------
    def options_visible(self) -> bool:
        return self.options_toggle.isChecked()

    def show_options(self, on: bool) -> None:
        """Show the per-stage options (True) or the stage's shape (False)."""
        if self.options_toggle.isChecked() != on:
            self.options_toggle.setChecked(on)  # comes back here through toggled
            return
        header = self.table.horizontalHeader()
        for col in range(len(STAGE_COLUMNS)):
            self.table.setColumnHidden(col, on)
        for i, width in enumerate(self._option_widths):
            col = OPTIONS_FROM + i
            self.table.setColumnHidden(col, not on)
            # fixed widths that fit every value; the block column takes what is left
            if STAGE_OPTIONS[i].key != "block":
                header.setSectionResizeMode(col, QHeaderView.ResizeMode.Fixed)
                header.resizeSection(col, width)
        if on:
            self.table.setMinimumWidth(
                sum(self._option_widths)
                + self.table.verticalHeader().sizeHint().width()
                + 2 * self.table.frameWidth()
            )
        else:
            self.table.setMinimumWidth(0)
        self._fit_height()  # the options' two-line titles make a taller header
        self.optionsShown.emit(on)

    def _measure_options(self) -> list[int]:
        """Each option column's width: its header or its widest possible value, if wider."""
        header = self.table.horizontalHeader()
        margin = 2 * self.style().pixelMetric(QStyle.PixelMetric.PM_HeaderMargin)
        grid = 1 if self.table.showGrid() else 0  # a cell's widget leaves the grid line
        widths = []
        for option in STAGE_OPTIONS:
            lines = option.title.splitlines()
            head = max(header.fontMetrics().horizontalAdvance(t) for t in lines) + margin + 8
            if option.kind == "choice":
                combo = QComboBox()
                combo.addItems([f"({v})" for v in option.options])
                content = combo.sizeHint().width()
            elif option.kind == "bool":
                content = QCheckBox().sizeHint().width() + margin
            else:
                sample = "0.0625" if option.kind == "float" else "1024"
                content = self.fontMetrics().horizontalAdvance(sample) + 12
            widths.append(max(head, content + grid))
        return widths

    # -- view of the design -----------------------------------------------------------
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
            for option in STAGE_OPTIONS:
                self._show_option(row, option, design, getattr(stage, option.key))
        self.remove_button.setEnabled(len(stages) > 1)
        overrides = sum(
            getattr(stage, o.key) not in (None, False) for stage in stages for o in STAGE_OPTIONS
        )
        self.options_toggle.setText(
            f"Per-stage options ({overrides} set)" if overrides else "Per-stage options"
        )
        self._fit_height()

    def _fit_height(self) -> None:
        """Every row shown: the table is exactly as tall as its header and rows."""
        self.table.verticalHeader().resizeSections()  # now, not at the next layout pass
        height = self.table.horizontalHeader().sizeHint().height() + 2 * self.table.frameWidth()
        for row in range(self.table.rowCount()):
            height += self.table.rowHeight(row)
        self.table.setFixedHeight(height)

    def _show_option(self, row: int, option: StageOption, design: Design, value: Any) -> None:
        widget = self.options[row][option.key]
        network = getattr(design, option.key, None)
        widget.blockSignals(True)
        if isinstance(widget, QComboBox):
            values = same_order_blocks(design) if option.key == "block" else option.options
            labels = [f"({network})", *values]
            if [widget.itemText(i) for i in range(widget.count())] != labels:
                widget.clear()
                widget.addItem(labels[0], None)
                for v in values:
                    widget.addItem(v, v)
            widget.setCurrentIndex(max(widget.findData(value), 0) if value is not None else 0)
            _set_flag(widget, INHERITED, value is None)
        elif isinstance(widget, QLineEdit):
            widget.setPlaceholderText(show_number(network))
            _show_text(widget, "" if value is None else show_number(value))
        elif isinstance(widget, QCheckBox):
            widget.setChecked(bool(value))
        widget.blockSignals(False)
        mark_invalid(widget, False)

    def _rebuild(self, rows: int) -> None:
        """``rows`` rows of editors: the rows kept keep their widgets (a preset with one
        stage fewer must not rebuild the other 60 editors), new rows get theirs."""
        kept = min(rows, len(self.spins))
        self.table.setRowCount(rows)  # deletes the cell widgets of the rows cut off
        del self.spins[kept:]
        del self.options[kept:]
        for row in range(kept, rows):
            self._build_row(row)
        self.table.setVerticalHeaderLabels([f"Stage {i + 1}" for i in range(rows)])
        self.rebuilt.emit()

    def _build_row(self, row: int) -> None:
        boxes = []
        for col, (key, label, low, high, tooltip) in enumerate(STAGE_COLUMNS):
            name = f"Stage {row + 1} {label.lower()}"
            box = _spin(low, high, f"{name}: {tooltip}", name)
            box.limitHit.connect(self.limitHit)
            box.setFrame(False)
            if key == "expansion":
                box.setSpecialValueText("auto")
            box.valueChanged.connect(self._make_slot(row, key))
            self.table.setCellWidget(row, col, box)
            boxes.append(box)
        self.spins.append(boxes)
        editors: dict[str, QWidget] = {}
        for i, option in enumerate(STAGE_OPTIONS):
            editor, cell = self._make_option(row, option)
            tip = f"Stage {row + 1} {option.label.lower()}: {option.tooltip}"
            editor.setToolTip(wrapped(tip))
            self.table.setCellWidget(row, OPTIONS_FROM + i, cell)
            editors[option.key] = editor
        self.options.append(editors)
        for editor in (*boxes, *editors.values()):
            line = editor.lineEdit() if isinstance(editor, QAbstractSpinBox) else editor
            if isinstance(line, QLineEdit):
                line.textEdited.connect(self.typed)
            guard(editor)

    def _make_option(self, row: int, option: StageOption) -> tuple[QWidget, QWidget]:
        """The editor of one per-stage option cell, and the widget the cell holds."""
        key = option.key
        if option.kind == "choice":
            combo = OptionCombo()
            combo.setFrame(False)
            combo.currentIndexChanged.connect(
                lambda index: self._set_option(row, option, combo.itemData(index))
            )
            return combo, combo
        if option.kind == "bool":
            check = QCheckBox()
            check.toggled.connect(lambda on: self._set_option(row, option, on))
            cell = QWidget()
            # on the button colour, as the choice cells: a check box's box is drawn in the
            # base colour, which a dark palette's table base would swallow
            cell.setBackgroundRole(QPalette.ColorRole.Button)
            cell.setAutoFillBackground(True)
            box = QHBoxLayout(cell)
            box.setContentsMargins(0, 0, 0, 0)
            box.setAlignment(Qt.AlignmentFlag.AlignCenter)
            box.addWidget(check)
            return check, cell
        line = QLineEdit()
        line.setFrame(False)
        line.setObjectName(f"stage{row}_{key}")
        line.editingFinished.connect(lambda: self._set_option(row, option, line.text()))
        return line, line

    def _set_option(self, row: int, option: StageOption, value: Any) -> None:
        def change(design: Design) -> Design:
            typed = option.kind in ("int", "float")  # a line edit's text
            v = parse_option(row, option, value) if typed else value
            return design.with_stage(row, **{option.key: v})

        shown = "the network's" if value in (None, "") else value
        self._document.edit(
            f"stages[{row}].{option.key}",
            change,
            f"Stage {row + 1} {option.label.lower()} = {shown}",
        )

    def option(self, row: int, key: str) -> QWidget:
        """The editor of a per-stage option: a QComboBox, a QLineEdit or a QCheckBox."""
        return self.options[row][key]

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
    box = _spin(int(f.low), int(f.high), f.tooltip, f.label)
    box.setGroupSeparatorShown(True)
    box.valueChanged.connect(commit)
    return box


def _float_box(f: Field, commit: Commit) -> QDoubleSpinBox:
    box = LimitDoubleSpinBox()
    box.limit_label = f.label
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
    line.setProperty(SHOWN_TEXT, text)  # any other text was typed and not applied yet


# the field kind (read from the design's types by fields.kind_of) -> its editor
EDITORS: dict[Kind, Editor] = {
    "choice": Editor(_combo, lambda w, v: w.setCurrentText(str(v))),
    "int": Editor(_int_box, lambda w, v: w.setValue(v)),
    "float": Editor(_float_box, lambda w, v: w.setValue(v)),
    "bool": Editor(_check, lambda w, v: w.setChecked(bool(v))),
    "ints": Editor(_ints_line, lambda w, v: _show_text(w, format_ints(v))),
    "text": Editor(_text_line, lambda w, v: _show_text(w, str(v))),
}


class Halo(QWidget):
    """A coloured frame drawn over a control for a while, fading out: where a lint
    finding points. It follows the control if the form moves, and takes no clicks."""

    COLOUR = QColor("#f59e0b")  # amber: reads on light and dark palettes, unlike red errors
    TICK_MS = 40
    FADE_MS = 800

    def __init__(self, target: QWidget, host: QWidget, duration_ms: int) -> None:
        super().__init__(host)
        self.target = target
        self._host = host
        self._left = duration_ms
        self._duration = duration_ms
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self._timer = QTimer(self)
        self._timer.setInterval(self.TICK_MS)
        self._timer.timeout.connect(self._tick)
        self._timer.start()
        self.follow()
        self.show()
        self.raise_()

    def follow(self) -> None:
        if not shiboken6.isValid(self.target) or not self._host.isAncestorOf(self.target):
            return
        at = self.target.mapTo(self._host, QPoint(0, 0))
        self.setGeometry(QRect(at, self.target.size()).adjusted(-3, -3, 3, 3))

    def alpha(self) -> float:
        return min(1.0, self._left / self.FADE_MS)

    def _tick(self) -> None:
        self._left -= self.TICK_MS
        if self._left <= 0 or not shiboken6.isValid(self.target):
            self.finish()  # done, or the control went (the stage rows were rebuilt)
            return
        self.follow()
        self.update()

    def finish(self) -> None:
        self._timer.stop()
        if shiboken6.isValid(self.target):
            _set_flag(self.target, POINTED, False)
        self.hide()
        self.deleteLater()

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        colour = QColor(self.COLOUR)
        colour.setAlphaF(self.alpha())
        painter.setPen(QPen(colour, 3))
        fill = QColor(self.COLOUR)
        fill.setAlphaF(0.18 * self.alpha())
        painter.setBrush(fill)
        painter.drawRoundedRect(self.rect().adjusted(1, 1, -2, -2), 4, 4)


class DesignPanel(QWidget):
    """Preset picker, the field table's widgets, and the stage table."""

    presetChosen = Signal(str)
    limitHit = Signal(str)  # a field refused a keystroke: "Stride is at most 64 (99 ...)"

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._document = document
        self.widgets: dict[str, QWidget] = {}
        self._editors: dict[str, Editor] = {}
        self._forms: dict[str, QFormLayout] = {}  # each field's form, to hide its row
        layout = QVBoxLayout(self)

        self.preset = preset_combo()
        self.preset.setToolTip(
            "Start from a published ResNet, listed by where it comes from: torchvision's"
            " ImageNet models, timm's variants, the CIFAR networks of the papers. Loading one"
            " is a single undoable edit."
        )
        self.preset.activated.connect(self._preset_activated)
        guard(self.preset)
        preset_row = QFormLayout()
        preset_row.addRow("Preset", self.preset)
        layout.addLayout(preset_row)

        self.error_label = QLabel()
        self.error_label.setObjectName("inlineError")
        self.error_label.setWordWrap(True)
        self.error_label.hide()
        layout.addWidget(self.error_label)
        self._note_timer = QTimer(self)
        self._note_timer.setSingleShot(True)
        self._note_timer.setInterval(NOTE_MS)
        self._note_timer.timeout.connect(self._hide_note)
        self._noting = False  # the error line shows a refused keystroke's note
        self.halo: Halo | None = None

        forms: dict[str, QFormLayout] = {}
        for group in ("Network", "Stages", "Blocks", "Head", "Input"):
            box = QGroupBox(group)
            if group == "Stages":
                self.stages = StageTable(document)
                self.stages.limitHit.connect(self._note_limit)
                self.stages.rebuilt.connect(self._order_tabs)
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
            self._forms[f.path] = forms[f.group]
            self.widgets[f.path] = widget
            self._watch_typing(widget)
            guard(widget)
            if isinstance(widget, (LimitSpinBox, LimitDoubleSpinBox)):
                widget.limitHit.connect(self._note_limit)
        layout.addStretch(1)

        document.designChanged.connect(self.sync)
        document.editFailed.connect(self._show_error)
        document.errorCleared.connect(self._clear_error)
        document.pendingDiscarded.connect(lambda: self.sync(self._document.design))
        document.add_pending(self.commit_pending, self.holds_pending)
        self.stages.typed.connect(document.note_typing)
        self.sync(document.design)
        self._order_tabs()

    def _watch_typing(self, widget: QWidget) -> None:
        line = widget.lineEdit() if isinstance(widget, QAbstractSpinBox) else widget
        if isinstance(line, QLineEdit):
            line.textEdited.connect(lambda _text: self._document.note_typing())

    def focus_chain(self) -> list[QWidget]:
        """Every control in Tab order: as the form reads, top to bottom, the stage table's
        cells and buttons in their place between the network's fields and the blocks'."""
        chain: list[QWidget] = [self.preset]
        for group in ("Network", "Stages", "Blocks", "Head", "Input"):
            if group == "Stages":
                chain += self.stages.focus_chain()
            chain += [self.widgets[f.path] for f in FIELDS if f.group == group]
        return chain

    def _order_tabs(self) -> None:
        chain = self.focus_chain()
        for first, second in itertools.pairwise(chain):
            QWidget.setTabOrder(first, second)

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
        name = self.preset.itemData(index, PRESET_ROLE)
        if name in (None, CUSTOM):  # nothing to load; a source's title (a script may pick one)
            self._show_preset(self._document.design)
            return
        self._document.edit("preset", lambda _design: load_preset(name), f"Load preset {name}")

    # -- input typed but not applied yet -------------------------------------------
    def commit_pending(self) -> bool:
        """Apply what was typed into the focused control but not applied yet, as the edit
        Enter would have made; True if there was such text (the edit may be refused).

        Only the focused control can hold such text: leaving a field applies it. A spin
        box's text is pending while it differs from its value (typing does not change the
        value: ``keyboardTracking`` is off); a line edit's while it differs from the text
        the design last showed in it. A refused value still shown is not pending (it was
        applied, and refused): ``Document.undo`` discards it. Document.undo and redo call
        this first (``Document.add_pending``), so Undo never loses typed text.
        """
        widget = self._typed_into()
        if isinstance(widget, QAbstractSpinBox):
            widget.interpretText()  # emits valueChanged: the box's commit
            return True
        if isinstance(widget, QLineEdit):
            widget.editingFinished.emit()  # the line's commit, as Enter or Tab runs it
            return True
        return False

    def holds_pending(self) -> bool:
        """Whether the focused control holds typed text not applied yet."""
        return self._typed_into() is not None

    def _typed_into(self) -> QWidget | None:
        """The focused control of this panel, if its text is typed and not applied yet."""
        widget = QApplication.focusWidget()
        if widget is None or not self.isAncestorOf(widget):
            return None
        if isinstance(widget, (QSpinBox, QDoubleSpinBox)):
            special = widget.specialValueText()
            at_special = special and widget.value() == widget.minimum()
            shown = special if at_special else widget.textFromValue(widget.value())
            return widget if widget.text() != shown else None
        if isinstance(widget, QLineEdit):
            shown = widget.property(SHOWN_TEXT)
            return widget if shown is not None and widget.text() != shown else None
        return None

    # -- limits a keystroke hit ------------------------------------------------------
    def _note_limit(self, message: str) -> None:
        """A spin box refused a keystroke for leaving its range: say which limit, in the
        error line, beside the box (a tooltip) and to ``limitHit``'s listeners."""
        self.error_label.setText(message)
        self.error_label.setToolTip(message)
        self.error_label.show()
        self._noting = True
        self._note_timer.start()
        box = self.sender()  # a field's box, or the stage table passing a cell's note on
        widget = box if isinstance(box, QAbstractSpinBox) else QApplication.focusWidget()
        if isinstance(widget, QWidget) and widget.isVisible():
            QToolTip.showText(widget.mapToGlobal(QPoint(0, widget.height())), message, widget)
        self.limitHit.emit(message)

    def _hide_note(self) -> None:
        if not self._noting:
            return
        self._noting = False
        self._note_timer.stop()
        error = self._document.error
        if error is not None:  # the design's own refusal shows again
            self.error_label.setText(error[2])
            self.error_label.setToolTip(error[2])
        else:
            self.error_label.hide()

    # -- view of the document ----------------------------------------------------
    def sync(self, design: Design) -> None:
        """Show ``design`` in every widget without emitting edits."""
        for path, widget in self.widgets.items():
            widget.blockSignals(True)
            self._editors[path].show(widget, get_value(design, path))
            widget.blockSignals(False)
            mark_invalid(widget, False)
        # the options of block kinds the design does not use (Res2Net's scale for a ResNet)
        unread = unread_block_options(design)
        for path, form in self._forms.items():
            form.setRowVisible(self.widgets[path], path not in unread)
        self.stages.sync(design)
        self._show_preset(design)
        self._hide_note()

    def _show_preset(self, design: Design) -> None:
        self.preset.blockSignals(True)
        self.preset.setCurrentIndex(self.preset.findData(_preset_of(design), PRESET_ROLE))
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
            if index < len(self.stages.options) and key in self.stages.options[index]:
                return self.stages.option(index, key)
        if field.startswith("head.hidden"):
            return self.widgets["head.hidden"]
        if field.startswith("stages"):
            return self.stages.table
        return None

    def reveal(self, field: str) -> None:
        """Show the stage table's columns that hold ``field``'s control, if it has one."""
        if field.startswith("stages[") and "]." in field:
            key = field.split("].", 1)[1]
            if key in [o.key for o in STAGE_OPTIONS]:
                self.stages.show_options(True)
            elif key in [c[0] for c in STAGE_COLUMNS]:
                self.stages.show_options(False)

    def point_at(self, field: str) -> bool:
        """Show the user the control that edits ``field`` (a lint finding's or an error's
        design path): reveal it (the per-stage options if it is one), scroll the form to
        it, focus it and highlight it for a while (``POINTED``, drawn by a ``Halo``).
        False if no control shows that field."""
        self.reveal(field)
        widget = self.widget_for(field)
        if widget is None:
            return False
        self._settle_layouts(widget)
        self._scroll_to(widget)
        # the options' columns just shown are laid out at the next turn: scroll again then
        QTimer.singleShot(0, lambda: self._scroll_to(widget))
        widget.setFocus(Qt.FocusReason.OtherFocusReason)
        if self.halo is not None:
            self.halo.finish()
        _set_flag(widget, POINTED, True)
        self.halo = Halo(widget, self, POINT_MS)
        self.halo.destroyed.connect(lambda: setattr(self, "halo", None))
        return True

    def _settle_layouts(self, widget: QWidget) -> None:
        """Lay out now what changed (columns shown, the panel widened), innermost first."""
        node: QWidget | None = widget
        while node is not None:
            if node.layout() is not None:
                node.layout().activate()
            if isinstance(node, QAbstractItemView):
                node.updateGeometries()
                node.doItemsLayout()
            node = node.parentWidget()

    def _scroll_to(self, widget: QWidget) -> None:
        if not shiboken6.isValid(widget):  # deleted meanwhile (the stage rows were rebuilt)
            return
        node = widget.parentWidget()
        while node is not None and not isinstance(node, QScrollArea):
            node = node.parentWidget()
        if node is not None and node.widget() is not None and node.widget().isAncestorOf(widget):
            node.ensureWidgetVisible(widget, 24, 24)
        if self.halo is not None and self.halo.target is widget:
            self.halo.follow()

    def _show_error(self, key: str, field: str, message: str) -> None:
        self._noting = False
        self._note_timer.stop()
        self._clear_marks()
        for name in {key, field}:
            widget = self.widget_for(name)
            if widget is not None:
                mark_invalid(widget, True)
        if not key.startswith("stages["):  # a network-wide edit a stage refuses: show the stage
            self.reveal(field)
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
        for editors in self.stages.options:
            for editor in editors.values():
                mark_invalid(editor, False)
        mark_invalid(self.stages.table, False)


def parse_ints_or_text(text: str) -> Any:
    """Keep the raw text when it does not parse, so the edit reports the error."""
    try:
        return parse_ints(text)
    except DesignError:
        return text


def preset_combo() -> QComboBox:
    """The presets grouped by source under titles that cannot be chosen (nor reached by
    the arrow keys, which skip disabled items); each preset's name is its PRESET_ROLE."""
    combo = QComboBox()
    model = QStandardItemModel(combo)
    custom = QStandardItem(CUSTOM)
    custom.setData(CUSTOM, PRESET_ROLE)
    model.appendRow(custom)
    for source, names in preset_groups():
        title = QStandardItem(SOURCES.get(source, "Other presets"))
        title.setFlags(Qt.ItemFlag.NoItemFlags)
        font = title.font()
        font.setBold(True)
        title.setFont(font)
        title.setToolTip(f"Presets from {title.text()}")
        model.appendRow(title)
        for name in names:
            item = QStandardItem(name)
            item.setData(name, PRESET_ROLE)
            model.appendRow(item)
    combo.setModel(model)
    # the combo as wide as the longest name; the list as wide as the longest title
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(max(len(n) for n in [CUSTOM, *preset_names()]))
    combo.view().setMinimumWidth(combo.view().sizeHintForColumn(0) + 24)
    return combo


def canonical(design: Design) -> Design:
    """``design`` as presets are compared: without its name, and with what restates the
    network's own value written as unset (an expansion equal to the block's, a stage's
    override equal to the network-wide option). Two designs with the same canonical
    form build the same network. Not validated: only compared."""
    stages = []
    for stage in design.stages:
        changes: dict[str, Any] = {
            key: None
            for key in d.STAGE_OVERRIDES
            if getattr(stage, key) is not None and getattr(stage, key) == getattr(design, key)
        }
        resolved = dataclasses.replace(stage, **changes)
        if stage.expansion is not None:
            auto = dataclasses.replace(resolved, expansion=None)
            if d.stage_expansion(design, auto) == stage.expansion:
                changes["expansion"] = None
        stages.append(dataclasses.replace(stage, **changes) if changes else stage)
    return dataclasses.replace(design, name="", stages=tuple(stages))


_PRESET_FORMS: dict[str, Design] = {}


def _preset_forms() -> dict[str, Design]:
    """Each preset's canonical form, read once (the preset files do not change)."""
    if not _PRESET_FORMS:
        for name in preset_names():
            try:
                _PRESET_FORMS[name] = canonical(load_preset(name))
            except (DesignError, KeyError, OSError):
                continue
    return _PRESET_FORMS


def _preset_of(design: Design) -> str:
    """The preset this design builds, or CUSTOM: the name is ignored (New's "Untitled"
    and a renamed ResNet-50 are still resnet50), and so are values that restate the
    network's own (see ``canonical``)."""
    form = canonical(design)
    for name, preset in _preset_forms().items():
        if preset == form:
            return name
    return CUSTOM
