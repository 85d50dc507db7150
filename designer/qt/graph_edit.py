"""Editing on the graph: the menus, the Delete key and the inline editor of its nodes.

The graph view only says *what* was right-clicked, deleted or double-clicked (a
``Target``); this module turns that into the same undoable document edits as the
form, made by the pure functions of ``designer.core.edits``. An impossible action
(merging the last stage) is one line in the status bar and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from PySide6.QtCore import QObject, QPoint, Qt, Signal
from PySide6.QtGui import QAction, QKeyEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QLabel,
    QLineEdit,
    QMenu,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from designer.core import design as d
from designer.core import edits
from designer.core.design import Design, DesignError
from designer.qt.document import Document
from designer.qt.fields import (
    FIELD_BY_PATH,
    STAGE_OPTIONS,
    format_ints,
    get_value,
    parse_ints,
    set_value,
)

NETWORK = "network's"
DILATE_TIP = next(o.tooltip for o in STAGE_OPTIONS if o.key == "dilate")
# the per-stage options typed as text in the inline editor, and how each is read
OVERRIDE_KINDS: dict[str, type] = {
    o.key: (int if o.kind == "int" else float) for o in STAGE_OPTIONS if o.kind in ("int", "float")
}


@dataclass(frozen=True)
class Target:
    """What an action applies to: a stage, a block of a stage, the stem or the head."""

    kind: str  # "stage", "block", "stem" or "head"
    stage: int = -1
    block: int = -1  # the block's index within its stage

    def title(self) -> str:
        if self.kind == "block":
            return f"Block layer{self.stage + 1}.{self.block}"
        return f"Stage layer{self.stage + 1}" if self.kind == "stage" else self.kind.title()


def target_of(attrs: Mapping[str, Any], n_stages: int) -> Target | None:
    """The target a graph node stands for (see ``designer.core.graph.network``)."""
    stage = attrs.get("stage")
    if stage is None:
        return None  # the input
    stage = int(stage)
    if stage < 0:
        return Target("stem")
    if stage >= n_stages:
        return Target("head", n_stages)
    kind = attrs.get("kind")
    if kind == "stage" and attrs.get("op") == "Stage":
        return Target("stage", stage)
    index = attrs.get("index")
    if index is None:  # a layer-level node: its block's name ends in the block's index
        tail = str(attrs.get("block", "")).rsplit(".", 1)[-1]
        index = int(tail) if tail.isdigit() else None
    return Target("stage", stage) if index is None else Target("block", stage, int(index))


class GraphEditor(QObject):
    """Applies the graph's actions to the document; ``say`` reports a refused one."""

    collapseRequested = Signal(int)  # stage index: the menu's collapse/expand item

    def __init__(self, document: Document, say: Callable[[str], None], parent: QWidget) -> None:
        super().__init__(parent)
        self._document = document
        self._say = say
        self._parent = parent
        self.editor: InlineEditor | None = None

    # -- applying ----------------------------------------------------------------------
    def apply(self, text: str, change: Callable[[Design], Design]) -> bool:
        """One undoable edit; a refused one changes nothing and says why in one line."""
        try:
            new = change(self._document.design)
        except DesignError as exc:
            self._say(f"{text}: {exc}")
            return False
        return self._document.edit("stages", lambda _design: new, text)

    def delete(self, target: Target) -> None:
        """Delete: a block leaves its stage (the stage goes with its last one); a stage goes."""
        if target.kind == "block":
            self.apply(
                f"Remove a block from layer{target.stage + 1}",
                lambda x: edits.remove_block(x, target.stage),
            )
        elif target.kind == "stage":
            self.apply(
                f"Remove stage layer{target.stage + 1}",
                lambda x: edits.remove_stage(x, target.stage),
            )
        else:
            self._say(f"The {target.kind} cannot be removed: change its kind instead")

    # -- menus ---------------------------------------------------------------------------
    def menu(self, target: Target) -> QMenu:
        menu = QMenu(self._parent)
        menu.setToolTipsVisible(True)
        title = menu.addAction(target.title())
        title.setEnabled(False)
        if target.kind == "block":
            self._block_items(menu, target)
            menu.addSeparator()
            stage_menu = menu.addMenu(f"Stage layer{target.stage + 1}")
            self._stage_items(stage_menu, target.stage)
        elif target.kind == "stage":
            self._stage_items(menu, target.stage)
        elif target.kind == "stem":
            self._choice_items(menu, "stem.kind", "Kind")
            self._choice_items(menu, "stem.pool", "Downsampling")
        menu.addSeparator()
        edit = menu.addAction("Edit…", lambda: self.open_editor(target, None))
        edit.setToolTip("A small form for this part (also: double-click it)")
        return menu

    def popup(self, target: Target, at: QPoint) -> None:
        self.menu(target).popup(at)

    def _add(
        self, menu: QMenu, text: str, change: Callable[[Design], Design], tip: str = ""
    ) -> QAction:
        action = menu.addAction(text, lambda: self.apply(text, change))
        if tip:
            action.setToolTip(tip)
        return action

    def _block_items(self, menu: QMenu, t: Target) -> None:
        s, b = t.stage, t.block
        stage = self._document.design.stages[s]
        if b == 0:
            strides = menu.addMenu("Stride")
            for value in (1, 2):
                action = self._add(
                    strides,
                    f"Stride {value}",
                    partial(edits.set_block_stride, stage=s, block=0, stride=value),
                )
                action.setCheckable(True)
                action.setChecked(stage.stride == value)
        else:
            self._add(
                menu,
                "Downsample Here (stride 2)",
                lambda x: edits.set_block_stride(x, s, b, 2),
                "Split the stage before this block; the new stage starts with stride 2",
            )
            self._add(
                menu,
                "Split the Stage Here",
                lambda x: edits.split_stage(x, s, b),
                "Blocks from this one on become a stage of their own (the network is unchanged)",
            )
        self._add(menu, "Merge with the Next Stage", lambda x: edits.merge_with_next(x, s))
        menu.addSeparator()
        self._add(menu, "Add a Block", lambda x: edits.add_blocks(x, s))
        self._add(menu, "Remove This Block\tDel", lambda x: edits.remove_block(x, s))

    def _stage_items(self, menu: QMenu, s: int) -> None:
        design = self._document.design
        stage = design.stages[s]
        self._add(menu, "Add a Block", lambda x: edits.add_blocks(x, s))
        self._add(menu, "Remove a Block", lambda x: edits.remove_block(x, s))
        strides = menu.addMenu("Stride")
        for value in (1, 2):
            action = self._add(
                strides, f"Stride {value}", partial(edits.set_stage, stage=s, stride=value)
            )
            action.setCheckable(True)
            action.setChecked(stage.stride == value)
        widths = menu.addMenu("Width")
        self._add(widths, f"Double ({stage.width * 2})", lambda x: _scale_width(x, s, 2.0))
        self._add(widths, f"Halve ({max(stage.width // 2, 1)})", lambda x: _scale_width(x, s, 0.5))
        blocks = menu.addMenu("Block")
        for name in (None, *FIELD_BY_PATH["block"].options):
            label = f"The Network's ({design.block})" if name is None else name
            action = self._add(blocks, label, partial(edits.set_stage, stage=s, block=name))
            action.setCheckable(True)
            action.setChecked(stage.block == name)
        dilate = self._add(
            menu,
            "Dilate Instead of Striding",
            lambda x: edits.set_stage(x, s, dilate=not stage.dilate),
            DILATE_TIP,
        )
        dilate.setCheckable(True)
        dilate.setChecked(stage.dilate)
        menu.addSeparator()
        self._add(menu, "Insert a Stage Before", lambda x: edits.insert_stage(x, s, s))
        self._add(menu, "Insert a Stage After", lambda x: edits.insert_stage(x, s + 1, s))
        self._add(menu, "Move Up", lambda x: edits.move_stage(x, s, -1))
        self._add(menu, "Move Down", lambda x: edits.move_stage(x, s, 1))
        self._add(menu, "Merge with the Next Stage", lambda x: edits.merge_with_next(x, s))
        self._add(menu, "Remove the Stage", lambda x: edits.remove_stage(x, s))
        menu.addSeparator()
        menu.addAction("Collapse or Expand", lambda: self.collapseRequested.emit(s))

    def _choice_items(self, menu: QMenu, path: str, title: str) -> None:
        field = FIELD_BY_PATH[path]
        current = get_value(self._document.design, path)
        sub = menu.addMenu(title)
        sub.setToolTipsVisible(True)
        for value in field.options:
            action = self._add(
                sub, value, partial(set_value, path=path, value=value), field.tooltip
            )
            action.setCheckable(True)
            action.setChecked(value == current)

    # -- the inline editor -------------------------------------------------------------------
    def open_editor(self, target: Target, at: QPoint | None) -> InlineEditor:
        if self.editor is not None:
            self.editor.close()
        editor = InlineEditor(target, self._document.design, self.apply, self._parent)
        if at is None:
            at = self._parent.mapToGlobal(self._parent.rect().center())
        editor.move(at)
        editor.show()
        editor.first_field().setFocus(Qt.FocusReason.PopupFocusReason)
        self.editor = editor
        return editor


def _scale_width(design: Design, s: int, factor: float) -> Design:
    width = max(1, round(design.stages[s].width * factor))
    return edits.set_stage(design, s, width=width)


class InlineEditor(QFrame):
    """A small form beside a node: the part's main numbers, applied as one edit on Enter.

    A popup: a click elsewhere or Escape closes it without changing anything; a value
    the design refuses keeps it open with the reason in one line.
    """

    applied = Signal()

    def __init__(
        self,
        target: Target,
        design: Design,
        apply: Callable[[str, Callable[[Design], Design]], bool],
        parent: QWidget,
    ) -> None:
        super().__init__(parent, Qt.WindowType.Popup)
        self.setObjectName("inlineEditor")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.target = target
        self._apply = apply
        self._design = design
        self.fields: dict[str, QWidget] = {}
        layout = QVBoxLayout(self)
        heading = QLabel(f"<b>{target.title()}</b>")
        layout.addWidget(heading)
        form = QFormLayout()
        layout.addLayout(form)
        for key, label, widget in self._rows(target, design):
            form.addRow(label, widget)
            self.fields[key] = widget
        self.error = QLabel()
        self.error.setObjectName("statusError")
        self.error.setWordWrap(True)
        self.error.hide()
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Apply | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Apply).clicked.connect(self.accept)
        buttons.rejected.connect(self.close)
        layout.addWidget(buttons)

    def first_field(self) -> QWidget:
        return next(iter(self.fields.values()))

    @staticmethod
    def _rows(target: Target, design: Design) -> list[tuple[str, str, QWidget]]:
        if target.kind in ("stage", "block"):
            stage = design.stages[target.stage]
            block = QComboBox()
            block.addItems([f"{NETWORK} ({design.block})", *FIELD_BY_PATH["block"].options])
            block.setCurrentIndex(0 if stage.block is None else block.findText(stage.block))
            dilate = QCheckBox()
            dilate.setChecked(stage.dilate)
            rows: list[tuple[str, str, QWidget]] = [
                ("depth", "Depth", _int_box(stage.depth, 1, d.MAX_DEPTH)),
                ("width", "Width", _int_box(stage.width, 1, d.MAX_CHANNELS)),
                ("stride", "Stride", _int_box(stage.stride, 1, d.MAX_STRIDE)),
                ("block", "Block", block),
            ]
            # the other per-stage options: blank (or "network's") is the network's value
            for option in STAGE_OPTIONS:
                if option.key in ("block", "dilate"):
                    continue
                value = getattr(stage, option.key)
                network = getattr(design, option.key)
                if option.kind == "choice":
                    box = QComboBox()
                    box.addItems([f"{NETWORK} ({network})", *option.options])
                    box.setCurrentIndex(0 if value is None else box.findText(str(value)))
                    rows.append((option.key, option.label, box))
                else:
                    line = QLineEdit("" if value is None else f"{value:g}")
                    line.setPlaceholderText(f"{NETWORK}: {network:g}")
                    rows.append((option.key, option.label, line))
            rows.append(("dilate", "Dilate", dilate))
            return rows
        if target.kind == "stem":
            return [
                ("stem.kind", "Kind", _choice(design, "stem.kind")),
                ("stem.width", "Width", _int_box(design.stem.width, 1, d.MAX_CHANNELS)),
                ("stem.pool", "Downsampling", _choice(design, "stem.pool")),
            ]
        hidden = QLineEdit(format_ints(design.head.hidden))
        hidden.setPlaceholderText("none (e.g. 512, 256)")
        dropout = QDoubleSpinBox()
        dropout.setRange(0.0, 0.99)
        dropout.setSingleStep(0.1)
        dropout.setValue(design.head.dropout)
        return [
            ("num_classes", "Classes", _int_box(design.num_classes, 0, d.MAX_CLASSES)),
            ("head.hidden", "Hidden widths", hidden),
            ("head.dropout", "Dropout", dropout),
        ]

    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, widget in self.fields.items():
            if isinstance(widget, QSpinBox | QDoubleSpinBox):
                widget.interpretText()
                out[key] = widget.value()
            elif isinstance(widget, QCheckBox):
                out[key] = widget.isChecked()
            elif isinstance(widget, QComboBox):
                text = widget.currentText()
                out[key] = None if text.startswith(NETWORK) else text
            elif isinstance(widget, QLineEdit):
                out[key] = widget.text()
        return out

    def change(self, design: Design) -> Design:
        values = self.values()
        t = self.target
        if t.kind in ("stage", "block"):
            for key, kind in OVERRIDE_KINDS.items():
                text = str(values.get(key) or "").strip()
                try:
                    values[key] = kind(text) if text else None
                except ValueError:
                    number = "a whole number" if kind is int else "a number"
                    raise DesignError(
                        f"stages[{t.stage}].{key}",
                        f"write {number}, or leave it blank for the network's (got {text!r})",
                    ) from None
            return edits.set_stage(design, t.stage, **values)
        for path, value in values.items():
            design = set_value(design, path, parse_ints(value) if path == "head.hidden" else value)
        return design

    def accept(self) -> None:
        try:
            self.change(self._design)
        except (DesignError, ValueError) as exc:
            self.error.setText(f"⚠ {exc}")
            self.error.show()
            self.adjustSize()
            return
        if self._apply(f"Edit {self.target.title()}", self.change):
            self.applied.emit()
            self.close()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.accept()
            return
        super().keyPressEvent(event)


def _int_box(value: int, low: int, high: int) -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    box.setValue(value)
    box.setGroupSeparatorShown(True)
    return box


def _choice(design: Design, path: str) -> QComboBox:
    box = QComboBox()
    box.addItems(list(FIELD_BY_PATH[path].options))
    box.setCurrentText(str(get_value(design, path)))
    return box
