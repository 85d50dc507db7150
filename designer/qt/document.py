"""The document: the one place the app's current design lives.

Widgets never hold state of their own: an edit becomes a new immutable
``Design`` pushed through the undo stack, and every view redraws from
``designChanged``. A failed edit (``DesignError``) is announced, and the last
valid design stays current, so the views keep showing something that works.

Undo and Redo go through ``undo()`` and ``redo()`` (the window's actions come from
``create_undo_action`` / ``create_redo_action``), never straight to the stack: they
first apply what the user typed but has not applied yet, and a value the design
refused is discarded before any step is undone. See ``undo``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import shiboken6
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QUndoCommand, QUndoStack

from designer.core import io
from designer.core.design import Design, DesignError

Edit = Callable[[Design], Design]
Commit = Callable[[], object]  # a view's "apply what was typed" (see Document.add_pending)
Holds = Callable[[], bool]  # whether a view holds typed text not applied yet


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
    # a refused value was discarded (Undo/Redo): views show the design's values again
    pendingDiscarded = Signal()
    pendingChanged = Signal()  # a view's typed, unapplied text may have changed (note_typing)

    def __init__(self, design: Design, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._design = design
        self._path: Path | None = None
        self._error: tuple[str, str, str] | None = None
        self._pending: list[tuple[Commit, Holds]] = []
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

    # -- undo and redo, from anywhere --------------------------------------------
    def add_pending(self, commit: Commit, holds: Holds | None = None) -> None:
        """Register a view's ``commit``: it applies, as an ordinary edit, a value the
        user typed into one of its fields but has not applied yet (no Enter, no Tab).
        Undo and Redo call every one first. ``holds`` says whether there is such a
        value (Undo is then enabled even with nothing on the stack); the view calls
        ``note_typing`` when that may have changed."""
        self._pending.append((commit, holds or (lambda: False)))

    def commit_pending(self) -> None:
        for commit, _holds in self._pending:
            commit()

    def has_pending(self) -> bool:
        return any(holds() for _commit, holds in self._pending)

    def note_typing(self) -> None:
        """A view's typed text changed: Undo/Redo's enabled state may follow."""
        self.pendingChanged.emit()

    def undo(self) -> None:
        """Undo, wherever the focus is. In order:

        1. A value typed into a field but not applied yet is applied first, as the
           edit it would have become on Enter: it is then the step this undoes, and
           Redo brings it back. (Nothing typed is silently lost.)
        2. If the design refused the value a field holds (the error line shows, the
           field is red), that value is discarded and the views show the design's
           values again. The design is not touched: the valid edit before it stays,
           and the next Undo undoes it.
        3. Otherwise the newest step is undone.
        """
        self.commit_pending()
        if not self.discard_error():
            self.undo_stack.undo()

    def redo(self) -> None:
        """Redo, wherever the focus is: a typed value is applied first (a new edit, which
        ends the redo history as any edit does); a refused value is discarded instead of
        redoing (as ``undo``); otherwise the next step is redone."""
        self.commit_pending()
        if not self.discard_error():
            self.undo_stack.redo()

    def discard_error(self) -> bool:
        """Forget the refused edit, if any (True): the views show the design again."""
        if self._error is None:
            return False
        self._clear_error()
        self.pendingDiscarded.emit()
        return True

    def can_undo(self) -> bool:
        return self.undo_stack.canUndo() or self._error is not None or self.has_pending()

    def can_redo(self) -> bool:
        return self.undo_stack.canRedo() or self._error is not None or self.has_pending()

    def create_undo_action(self, parent: QObject, prefix: str = "&Undo") -> QAction:
        """QUndoStack.createUndoAction's twin that runs ``undo()``: its text names the step
        ("&Undo Stage 3 depth = 23", or "... Discard the invalid value"), and it is
        enabled while there is a step or a refused value to undo."""
        return HistoryAction(self, parent, prefix, redo=False)

    def create_redo_action(self, parent: QObject, prefix: str = "&Redo") -> QAction:
        """The redo twin of ``create_undo_action``."""
        return HistoryAction(self, parent, prefix, redo=True)

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


DISCARD_TEXT = "Discard the invalid value"


class HistoryAction(QAction):
    """Undo or Redo through the document's policy; text and enabled state follow it."""

    def __init__(self, document: Document, parent: QObject, prefix: str, *, redo: bool) -> None:
        super().__init__(parent)
        self._document = document
        self._prefix = prefix
        self._redo = redo
        stack = document.undo_stack
        self.triggered.connect(document.redo if redo else document.undo)
        for signal in (
            stack.canRedoChanged if redo else stack.canUndoChanged,
            stack.redoTextChanged if redo else stack.undoTextChanged,
            document.editFailed,
            document.errorCleared,
            document.pendingChanged,
            document.designChanged,
        ):
            signal.connect(self.refresh)
        self.refresh()

    def refresh(self, *_args: object) -> None:
        document = self._document
        if not (shiboken6.isValid(document) and shiboken6.isValid(document.undo_stack)):
            return  # the window is being torn down
        stack = document.undo_stack
        if document.error is not None:
            step = DISCARD_TEXT
        else:
            step = stack.redoText() if self._redo else stack.undoText()
        self.setText(f"{self._prefix} {step}" if step else self._prefix)
        self.setEnabled(document.can_redo() if self._redo else document.can_undo())
