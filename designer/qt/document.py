"""The document: the one place the app's current design lives.

Widgets never hold state of their own: an edit becomes a new immutable
``Design`` pushed through the undo stack, and every view redraws from
``designChanged``. A failed edit (``DesignError``) is announced, and the last
valid design stays current, so the views keep showing something that works.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from designer.core import io
from designer.core.design import Design, DesignError

Edit = Callable[[Design], Design]


class _SwapDesign(QUndoCommand):
    """Undo/redo by swapping whole designs: old <-> new (both immutable)."""

    def __init__(self, document: Document, old: Design, new: Design, text: str) -> None:
        super().__init__(text)
        self._document = document
        self._old = old
        self._new = new

    def redo(self) -> None:
        self._document._set_design(self._new)

    def undo(self) -> None:
        self._document._set_design(self._old)


class Document(QObject):
    designChanged = Signal(object)  # Design
    editFailed = Signal(str, str, str)  # edited key, offending field, one-line reason
    errorCleared = Signal()
    pathChanged = Signal(str)  # "" when untitled
    cleanChanged = Signal(bool)

    def __init__(self, design: Design, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._design = design
        self._path: Path | None = None
        self._error: tuple[str, str, str] | None = None
        self.undo_stack = QUndoStack(self)
        self.undo_stack.cleanChanged.connect(self.cleanChanged)

    # -- state -----------------------------------------------------------------
    @property
    def design(self) -> Design:
        return self._design

    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def error(self) -> tuple[str, str, str] | None:
        """(edited key, field, reason) of the last failed edit, until a valid one."""
        return self._error

    def is_clean(self) -> bool:
        return self.undo_stack.isClean()

    # -- edits -----------------------------------------------------------------
    def edit(self, key: str, change: Edit, text: str | None = None) -> bool:
        """Apply ``change`` to the design as one undoable step; False if it was invalid."""
        try:
            new = change(self._design)
        except DesignError as exc:
            self._error = (key, exc.field or key, str(exc))
            self.editFailed.emit(key, exc.field or key, str(exc))
            return False
        if new == self._design:
            self._clear_error()
            return True
        self.undo_stack.push(_SwapDesign(self, self._design, new, text or f"Change {key}"))
        return True

    def _set_design(self, design: Design) -> None:
        self._design = design
        self._clear_error()
        self.designChanged.emit(design)

    def _clear_error(self) -> None:
        if self._error is not None:
            self._error = None
            self.errorCleared.emit()

    # -- files -----------------------------------------------------------------
    def reset(self, design: Design, path: Path | None = None) -> None:
        """Start over with ``design`` (New, Open): no undo history, clean."""
        self.undo_stack.clear()
        self._path = path
        self._set_design(design)
        self.undo_stack.setClean()
        self.pathChanged.emit(str(path) if path else "")
        self.cleanChanged.emit(True)

    def open(self, path: str | Path) -> None:
        """Load ``path``; raises DesignError/OSError and leaves the document as it was.

        An exported model.py opens too (its embedded design, read without running it);
        it is not bound as the file to save to, since saving writes a design file.
        """
        if Path(path).suffix == ".py":
            from designer.core.embedded import design_from_model_py

            self.reset(design_from_model_py(path), None)
            return
        design = io.load(path)
        self.reset(design, Path(path))

    def save(self, path: str | Path | None = None) -> None:
        target = Path(path) if path is not None else self._path
        if target is None:
            raise ValueError("no file name: use Save As")
        io.save(self._design, target)
        changed = target != self._path
        self._path = target
        self.undo_stack.setClean()
        if changed:
            self.pathChanged.emit(str(target))

    def display_name(self) -> str:
        return self._path.name if self._path else f"{self._design.name} (unsaved)"
