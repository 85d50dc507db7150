"""Keys and gestures: what the form's editors leave to the window, and the page listing them.

A QLineEdit or a spin box claims Ctrl+Z and Ctrl+Shift+Z for its own text
(through ``ShortcutOverride``), so with the cursor in a field, and after typing a
value and pressing Tab it always is, the window's Undo never ran. ``EditorGuard``
lets those keys through to the window's actions; when the window has nothing to
undo (its action is disabled) the key reaches the editor, which undoes its own
typing as before. The guard also keeps the wheel from changing an editor the user
is only scrolling past: an unfocused spin box or combo box passes the wheel on to
the scroll area around the form.

``shortcuts_dialog`` is Help > Keyboard Shortcuts: every action of the window that
has a shortcut, by menu, read from the window itself (so it cannot go stale), and
the mouse gestures nothing else lists.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QAbstractSpinBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QMainWindow,
    QMenu,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

WINDOW_KEYS = (QKeySequence.StandardKey.Undo, QKeySequence.StandardKey.Redo)
EXTRA_WINDOW_KEYS = (QKeySequence("Ctrl+Shift+Z"),)  # Redo's second key on every platform


def is_window_key(event: QKeyEvent) -> bool:
    """Whether ``event`` is Undo or Redo, which belong to the window, not to a field."""
    if any(event.matches(key) for key in WINDOW_KEYS):
        return True
    combo = event.keyCombination()
    # QKeySequence has [] (operator[]) at run time; PySide6's stubs omit __getitem__
    return any(seq.count() == 1 and seq[0] == combo for seq in EXTRA_WINDOW_KEYS)  # type: ignore[index]


class EditorGuard(QObject):
    """Event filter for a form's editors: Undo/Redo go to the window (unless
    ``window_keys`` is off), and the wheel only changes an editor that has the focus
    (``guard`` installs it and sets StrongFocus)."""

    def __init__(self, window_keys: bool = True) -> None:
        super().__init__()
        self.window_keys = window_keys

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if (
            kind == QEvent.Type.ShortcutOverride
            and self.window_keys
            and isinstance(event, QKeyEvent)
        ):
            if is_window_key(event):
                event.ignore()  # not claimed: the window's shortcut runs
                return True  # and the editor never gets to claim it
        elif kind == QEvent.Type.Wheel and isinstance(watched, QWidget) and not watched.hasFocus():
            event.ignore()  # Qt offers the wheel to the parents: the form scrolls
            return True
        return False


_guards: dict[bool, EditorGuard] = {}


def guard(*widgets: QWidget, window_keys: bool = True) -> None:
    """Install a shared ``EditorGuard`` on ``widgets`` (spin boxes, combo boxes, line
    edits); a spin box's or combo box's wheel then needs the focus first. Without
    ``window_keys`` the editors keep Undo/Redo for their own text (a value that is not
    part of the design, such as a filter or a batch size, is no step of the window's)."""
    if window_keys not in _guards:
        # lives as long as the module: no parent to outlive
        _guards[window_keys] = EditorGuard(window_keys)
    for widget in widgets:
        widget.installEventFilter(_guards[window_keys])
        if isinstance(widget, (QAbstractSpinBox, QComboBox)):
            widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)


GESTURES: tuple[tuple[str, str, str], ...] = (
    ("Graph", "Wheel", "Zoom in and out"),
    ("Graph", "Drag the background", "Pan"),
    ("Graph", "Double-click a stage's frame", "Collapse the stage into one node"),
    ("Graph", "Double-click a collapsed stage", "Expand it again"),
    ("Graph", "Double-click a node", "Edit it in the design panel"),
    ("Graph", "Right-click a stage or a block", "Its edit menu"),
    ("Graph", "Delete", "Remove the selected block or stage"),
    ("Graph", "Hover a node or an edge", "Its shapes, parameters and multiply-adds"),
    ("Design panel", "Tab, Shift+Tab", "Next, previous control (the stage table's too)"),
    ("Design panel", "Enter or Tab", "Apply a typed value"),
    (
        "Design panel",
        "Undo in a field",
        "Applies what was typed, then undoes it; an invalid value is discarded first",
    ),
    ("Design panel", "Delete in a per-stage cell", "Back to the network's value"),
    ("Design panel", "Wheel over a field", "Scrolls the form (click the field to step it)"),
    ("Inspector", "Click a column's title", "Sort by it"),
    ("Inspector", "Type in the filter", "Show only the matching layers"),
    ("Inspector", "Click a layer", "Select its node in the graph"),
)
"""What the mouse and the keys do that no menu shows: (where, gesture, effect)."""


def plain(text: str) -> str:
    """A menu text without its mnemonic ampersand and trailing ellipsis."""
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&").rstrip("…").strip()


def _menu_of(action: QAction) -> str:
    """The title of the first menu that holds ``action`` ("Other" if none)."""
    for owner in action.associatedObjects():
        if isinstance(owner, QMenu) and owner.title():
            return plain(owner.title())
    return "Other"


def shortcut_rows(window: QMainWindow) -> list[tuple[str, str, str]]:
    """(menu, action, its shortcuts) for every action of ``window`` that has a shortcut,
    in menu-bar order, then any action no menu holds."""
    order = [plain(a.text()) for a in window.menuBar().actions()] if window.menuBar() else []
    rows: list[tuple[str, str, str]] = []
    seen: set[int] = set()
    for action in window.findChildren(QAction):
        keys = [k for k in action.shortcuts() if not k.isEmpty()]
        if not keys or id(action) in seen:
            continue
        seen.add(id(action))
        text = plain(action.text()) or action.toolTip()
        shown = ", ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in keys)
        rows.append((_menu_of(action), text, shown))

    def rank(row: tuple[str, str, str]) -> int:
        return order.index(row[0]) if row[0] in order else len(order)

    return sorted(rows, key=rank)  # stable: each menu keeps the window's action order


def shortcuts_dialog(window: QMainWindow) -> QDialog:
    """Help > Keyboard Shortcuts: the window's shortcuts by menu, then the mouse gestures."""
    dialog = QDialog(window)
    dialog.setWindowTitle("Keyboard Shortcuts")
    tree = QTreeWidget()
    tree.setObjectName("shortcuts")
    tree.setColumnCount(2)
    tree.setHeaderLabels(["Action", "Keys"])
    tree.setRootIsDecorated(False)
    tree.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
    tree.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    groups: dict[str, QTreeWidgetItem] = {}

    def group(title: str) -> QTreeWidgetItem:
        if title not in groups:
            item = QTreeWidgetItem([title])
            font = item.font(0)
            font.setBold(True)
            item.setFont(0, font)
            tree.addTopLevelItem(item)
            groups[title] = item
        return groups[title]

    for menu, text, keys in shortcut_rows(window):
        group(menu).addChild(QTreeWidgetItem([text, keys]))
    for where, gesture, effect in GESTURES:
        group(f"Mouse and keys: {where}").addChild(QTreeWidgetItem([effect, gesture]))
    tree.expandAll()
    header = tree.header()
    header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
    header.setStretchLastSection(True)

    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
    buttons.rejected.connect(dialog.reject)
    layout = QVBoxLayout(dialog)
    note = QLabel("Every action's keys, read from the menus, and what the mouse does.")
    note.setObjectName("hint")
    layout.addWidget(note)
    layout.addWidget(tree, 1)
    layout.addWidget(buttons)
    width = tree.sizeHintForColumn(0) + tree.sizeHintForColumn(1) + 80
    dialog.resize(max(width, 520), 560)
    return dialog
