"""File handling for the window: New, Open, Open Checkpoint, Save, Save As, Open Recent, recovery.

The controller works on the document and a parent widget for its dialogs; it
tells the user through the ``say`` and ``warn`` callables it is given, and
announces a whole new design (New, Open, Open Checkpoint, a restore) with
``replaced`` so views can refit. It owns the autosaver, since what counts as
"saved" is its business.

Open Checkpoint recovers a design from a checkpoint's tensor names and shapes in
the background (it imports torch; see ``designer.qt.checkpoints``); a newer
request, or a New or Open meanwhile, supersedes it. The design then replaces the
document's as Open's does, and ``checkpointOpened`` hands the file on so the
window can attach its weights.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox, QWidget

from designer.core.design import Design, DesignError
from designer.core.io import FILE_SUFFIX
from designer.core.io import load as io_load
from designer.core.presets import load_preset
from designer.core.recover import CHECKPOINT_FILTER, is_checkpoint
from designer.qt import checkpoints, recovery
from designer.qt.checkpoints import Refusal
from designer.qt.document import Document
from designer.qt.recovery import AskRestore, Autosaver, Recovered
from designer.qt.workers import Runner

if TYPE_CHECKING:
    from designer.core.recover import Recovery

APP_NAME = "ResNet Designer"
MAX_RECENT = 8
FILE_FILTER = f"ResNet designs (*{FILE_SUFFIX} *.json);;All files (*)"
OPEN_FILTER = (
    f"ResNet designs (*{FILE_SUFFIX} *.json);;Exported model.py (*.py);;" + CHECKPOINT_FILTER
)
OPEN_ERRORS = (DesignError, OSError, ValueError, RecursionError)

Say = Callable[[str, int], None]  # a status-bar line and how long to show it (ms)


def settings() -> QSettings:
    return QSettings("resnet-designer", "ResNet Designer")


def slug(name: str) -> str:
    """A file-name stem for a design name ('ResNet 50!' -> 'resnet_50')."""
    keep = "".join(c if c.isalnum() or c in "-_" else "_" for c in name.strip().lower())
    return keep.strip("_") or "design"


class FileController(QObject):
    """The File menu's actions over one document; dialogs are parented to ``parent``."""

    replaced = Signal()  # a whole new design: New, Open, Open Checkpoint, restore
    # the design just put in the document was recovered from this checkpoint (path, Recovery)
    checkpointOpened = Signal(str, object)

    def __init__(
        self,
        document: Document,
        parent: QWidget,
        say: Say,
        warn: Callable[[str], None],
    ) -> None:
        super().__init__(parent)
        self.document = document
        self._parent = parent
        self._say = say
        self._warn = warn
        self.autosaver = Autosaver(document, self)
        # a full or read-only disk must not stop editing, but the user must know
        self.autosaver.failed.connect(lambda message: say(f"{message}: save your work", 0))
        self.recoveries = Runner(parent=self)  # Open Checkpoint's readings; the newest wins
        self.recoveries.done.connect(self._recovered)
        self.recoveries.failed.connect(lambda _g, m: self._checkpoint_refused(m))
        self._reading = ""  # the checkpoint being read, "" when none
        self._agreed: tuple[Design, int] | None = None  # the document when the user let it go
        self.last_error = ""  # the last one-line refusal of a checkpoint (tests read it)

    # -- asking ----------------------------------------------------------------------
    def maybe_save(self) -> bool:
        """True if it is fine to drop the current design (saved, discarded or clean)."""
        if self.document.is_clean():
            return True
        answer = QMessageBox.question(
            self._parent,
            APP_NAME,
            f"Save the changes to {self.document.display_name()}?",
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save,
        )
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    def close(self) -> bool:
        """Ask about unsaved work; True (and no recovery file left) if the app may close."""
        if not self.maybe_save():
            return False
        self.autosaver.discard()  # a clean exit: nothing to recover next time
        return True

    # -- the File menu ---------------------------------------------------------------
    def new(self) -> None:
        if self.maybe_save():
            self._stop_reading()
            self.document.reset(load_preset("resnet50").replace(name="Untitled"))
            self.replaced.emit()

    def open_dialog(self) -> None:
        if not self.maybe_save():
            return
        path, _ = QFileDialog.getOpenFileName(
            self._parent, "Open design", self.last_dir(), OPEN_FILTER
        )
        if path:
            self.open_any(path)

    def open_checkpoint_dialog(self) -> None:
        if not self.maybe_save():
            return
        path, _ = QFileDialog.getOpenFileName(
            self._parent, "Open checkpoint", self.last_dir(), checkpoints.FILTER
        )
        if path:
            self.open_checkpoint(path)

    def open_checkpoint(self, path: str | Path) -> int:
        """Recover ``path``'s design in the background, then replace the document's.

        The caller has asked about unsaved work; if the user edits while the file is
        read, the answer no longer holds and they are asked again. Returns the job's
        generation: a newer call drops this one's result.
        """
        self._reading = str(path)
        self._agreed = (self.document.design, self.document.undo_stack.index())
        name = checkpoints.short_name(path)
        self._say(f"Reading {name}: recovering its design from names and shapes…", 0)
        return self.recoveries.submit(checkpoints.recover, str(path))

    def open_any(self, path: str) -> None:
        """Open a design file, or recover a checkpoint's design (the caller has asked)."""
        if is_checkpoint(path):
            self.open_checkpoint(path)
        else:
            self.open_path(path)

    def is_reading(self) -> bool:
        """A checkpoint is being read for Open Checkpoint."""
        return self.recoveries.is_busy()

    def _stop_reading(self) -> None:
        """A New or Open supersedes a checkpoint still being read."""
        if self._reading:
            self.recoveries.drop_running()
            self._say(f"Stopped reading {checkpoints.short_name(self._reading)}", 4000)
            self._reading = ""

    def _recovered(self, _generation: int, result: Recovery | Refusal) -> None:
        path, self._reading = self._reading, ""
        if isinstance(result, Refusal):
            self._checkpoint_refused(result.message, path)
            return
        agreed, self._agreed = self._agreed, None
        edited = agreed is None or (
            self.document.design is not agreed[0] or self.document.undo_stack.index() != agreed[1]
        )
        if edited and not self.maybe_save():  # work done while it was read: ask again
            self._say(f"Kept the design; {checkpoints.short_name(path)} was not opened", 6000)
            return
        self.document.reset(result.design, None)
        self.replaced.emit()
        self.checkpointOpened.emit(path, result)
        design = result.design
        blocks = sum(stage.depth for stage in design.stages)
        self._say(
            f"Opened {checkpoints.short_name(path)}: {blocks} {design.block} blocks in"
            f" {len(design.stages)} stages ({result.key_map.scheme} names), weights attached;"
            " what was inferred and assumed: Pretrained weights",
            15000,
        )

    def _checkpoint_refused(self, message: str, path: str = "") -> None:
        path = path or self._reading
        self._reading = ""
        self.last_error = f"Cannot open {checkpoints.short_name(path)}: {message}"
        self._say(self.last_error, 15000)

    def open_path(self, path: str | Path) -> bool:
        """Open ``path``; a one-line warning and the design kept if it cannot be read."""
        try:
            self.document.open(path)
        except OPEN_ERRORS as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self._report(f"Cannot open {Path(path).name}: {reason}")
            return False
        self._stop_reading()
        self.replaced.emit()
        self.add_recent(str(path))
        self._say(f"Opened {path}", 4000)
        return True

    def open_asking(self, path: str) -> bool:
        """Open ``path`` (a dropped file, a recent one) after asking to save the current work."""
        return self.maybe_save() and self.open_path(path)

    def save(self) -> bool:
        if self.document.path is None:
            return self.save_as()
        return self.save_to(self.document.path)

    def save_as(self) -> bool:
        suggested = str(Path(self.last_dir()) / f"{slug(self.document.design.name)}{FILE_SUFFIX}")
        path, _ = QFileDialog.getSaveFileName(
            self._parent, "Save design as", suggested, FILE_FILTER
        )
        if not path:
            return False
        if not path.endswith((FILE_SUFFIX, ".json")):
            path += FILE_SUFFIX
        return self.save_to(Path(path))

    def save_to(self, path: Path) -> bool:
        try:
            self.document.save(path)
        except OSError as exc:
            self._report(f"Cannot save {path.name}: {exc.strerror or exc}")
            return False
        self.add_recent(str(path))
        self._say(f"Saved {path}", 4000)
        return True

    def _report(self, message: str) -> None:
        self._say(message, 10000)
        self._warn(message)

    # -- recovery --------------------------------------------------------------------
    def offer_recovery(self, ask: AskRestore = recovery.ask_with_box) -> Recovered | None:
        """Offer back the work of a run that died; restore it if the user says so."""
        restored = recovery.offer(self.autosaver.folder, self._parent, self.restore, ask)
        if restored is not None:
            self.autosaver.save_now()  # the orphan's file is gone: protect the work at once
        return restored

    def restore(self, design: Design, path: Path | None) -> None:
        """Bring back recovered work: the file it came from, then the changes as one edit.

        The document stays unsaved (and undoable back to the file on disk).
        """
        base = None
        if path is not None:
            try:
                base = io_load(path)
            except (DesignError, OSError, ValueError):
                path = None
        self._stop_reading()
        self.document.reset(base or design, path)
        self.document.edit("recovery", lambda _d: design, "Restore unsaved changes")
        if base is None:  # nothing on disk to compare with: mark it unsaved all the same
            self.document.undo_stack.resetClean()
        self.replaced.emit()
        self._say("Restored the unsaved changes of the last session", 8000)

    # -- recent files ----------------------------------------------------------------
    def recent_files(self) -> list[str]:
        value = settings().value("recent", [])
        if isinstance(value, str):  # one path (a list of one, in some formats)
            return [value]
        return [str(v) for v in value] if isinstance(value, list) else []

    def add_recent(self, path: str) -> None:
        path = str(Path(path).resolve())
        recent = [p for p in self.recent_files() if p != path]
        settings().setValue("recent", [path, *recent][:MAX_RECENT])

    def fill_recent(self, menu: QMenu) -> None:
        """Refill Open Recent (connected to the menu's aboutToShow)."""
        menu.clear()
        recent = self.recent_files()
        if not recent:
            menu.addAction("(none)").setEnabled(False)
        for path in recent:
            action = menu.addAction(path)
            action.triggered.connect(lambda _c=False, p=path: self.open_asking(p))

    def last_dir(self) -> str:
        if self.document.path is not None:
            return str(self.document.path.parent)
        recent = self.recent_files()
        return str(Path(recent[0]).parent) if recent else str(Path.cwd())
