"""No lost work: autosave the open design to a recovery file, offer it back after a crash.

Each running window owns one session in the recovery folder: ``<id>.lock`` (a
QLockFile held while the app runs) and ``<id>.recovery.json`` (the unsaved
design and the file it came from). A clean save or close removes both. At the
next start, a session whose lock is stale (its process died: killed, crashed,
power cut) is offered back; one whose process still runs is left alone.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QLockFile, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from designer.core.design import Design, DesignError
from designer.core.io import atomic_write_bytes, design_from_dict, design_to_dict
from designer.core.text import one_line
from designer.qt.app_data import app_data_dir
from designer.qt.document import Document

DIR_ENV = "RESNET_DESIGNER_RECOVERY_DIR"
INTERVAL_ENV = "RESNET_DESIGNER_AUTOSAVE_MS"
AUTOSAVE_MS = 3000
SUFFIX = ".recovery.json"
FORMAT = 1


def recovery_dir() -> Path:
    """Where sessions live: $RESNET_DESIGNER_RECOVERY_DIR, else the app-data folder."""
    return app_data_dir(DIR_ENV, "recovery")


def autosave_interval_ms() -> int:
    try:
        return max(50, int(os.environ.get(INTERVAL_ENV, AUTOSAVE_MS)))
    except ValueError:
        return AUTOSAVE_MS


@dataclass(frozen=True)
class Recovered:
    """A session left behind by a run that did not exit cleanly."""

    design: Design
    path: Path | None  # the file the design was opened from, if any
    file: Path  # the recovery file itself
    lock: Path
    saved_at: float = 0.0  # when it was last written (seconds since the epoch)
    index: int = 1  # its place among the orphans offered together (newest is 1)
    count: int = 1


def encode(design: Design, path: Path | None) -> bytes:
    data: dict[str, object] = {"recovery": FORMAT, "path": str(path) if path else None}
    data["design"] = design_to_dict(design)
    return (json.dumps(data, indent=1) + "\n").encode("utf-8")


def decode(raw: bytes) -> tuple[Design, Path | None]:
    """The design and origin in a recovery file; DesignError if it is not one."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise DesignError("recovery", f"not a recovery file ({exc})") from None
    if not isinstance(data, dict) or data.get("recovery") != FORMAT:
        raise DesignError("recovery", "not a recovery file of this version")
    path = data.get("path")
    return design_from_dict(data.get("design")), Path(path) if isinstance(path, str) else None


def orphans(folder: Path | None = None) -> list[Recovered]:
    """Sessions whose process is gone, newest first; unreadable leftovers are removed."""
    folder = folder or recovery_dir()
    if not folder.is_dir():
        return []
    found: list[tuple[float, Recovered]] = []
    for file in folder.glob(f"*{SUFFIX}"):
        lock_path = file.with_name(file.name[: -len(SUFFIX)] + ".lock")
        lock = QLockFile(str(lock_path))
        lock.setStaleLockTime(0)  # stale only when its process is gone, never by age
        if not lock.tryLock(0):
            continue  # a running app owns it
        lock.unlock()  # removes the stale lock; we hold nothing
        try:
            design, origin = decode(file.read_bytes()[: 4 * 1024 * 1024])
            mtime = file.stat().st_mtime
        except (OSError, DesignError):
            _remove(file, lock_path)
            continue
        found.append((mtime, Recovered(design, origin, file, lock_path, mtime)))
    ordered = [r for _m, r in sorted(found, key=lambda x: -x[0])]
    return [dataclasses.replace(r, index=i, count=len(ordered)) for i, r in enumerate(ordered, 1)]


def discard(recovered: Recovered) -> None:
    _remove(recovered.file, recovered.lock)


def _remove(*paths: Path) -> None:
    for p in paths:
        try:
            p.unlink()
        except FileNotFoundError:
            pass
        except OSError:
            pass


class Autosaver(QObject):
    """Writes the document's unsaved design a few seconds after it changes.

    The timer starts on the first change and is not restarted by later ones, so a
    user who keeps editing is still saved at least once per interval.
    """

    failed = Signal(str)  # one line: why the last autosave could not be written

    def __init__(self, document: Document, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._document = document
        self.folder = recovery_dir()
        self.session = uuid.uuid4().hex
        self.file = self.folder / f"{self.session}{SUFFIX}"
        self._lock: QLockFile | None = None
        self.saves = 0  # tests read it
        self.last_error = ""
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(autosave_interval_ms())
        self._timer.timeout.connect(self.save_now)
        document.designChanged.connect(lambda _d: self._changed())
        document.cleanChanged.connect(lambda clean: self.discard() if clean else self._changed())

    def _changed(self) -> None:
        if self._document.is_clean():
            self.discard()
        elif not self._timer.isActive():
            self._timer.start()

    def _take_lock(self) -> bool:
        if self._lock is not None:
            return True
        self.folder.mkdir(parents=True, exist_ok=True)
        lock = QLockFile(str(self.folder / f"{self.session}.lock"))
        lock.setStaleLockTime(0)
        if not lock.tryLock(0):
            return False
        self._lock = lock
        return True

    def save_now(self) -> bool:
        """Write the recovery file now (atomic); False and a note if the disk refuses."""
        self._timer.stop()
        if self._document.is_clean():
            self.discard()
            return False
        try:
            if not self._take_lock():
                return self._fail(f"autosave failed: cannot lock {self.folder}")
            data = encode(self._document.design, self._document.path)
            atomic_write_bytes(self.file, data, backup=False)
        except OSError as exc:  # a full or read-only disk must never break editing
            return self._fail(f"autosave failed: {exc.strerror or exc} ({self.folder})")
        self.saves += 1
        self.last_error = ""
        return True

    def _fail(self, message: str) -> bool:
        self.last_error = message
        self.failed.emit(message)
        return False

    def discard(self) -> None:
        """The work is safe (saved, or knowingly dropped): forget the recovery file."""
        self._timer.stop()
        _remove(self.file)
        if self._lock is not None:
            self._lock.unlock()
            self._lock = None


def restore_box(parent: QWidget | None, recovered: Recovered) -> QMessageBox:
    origin = str(recovered.path) if recovered.path else "an untitled design"
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(recovered.saved_at))
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Question)
    of = f" ({recovered.index} of {recovered.count})" if recovered.count > 1 else ""
    box.setWindowTitle(f"Restore unsaved work?{of}")
    # names and paths are text, never markup (Qt applies this to the informative text too)
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.setText("ResNet Designer was not closed cleanly. Unsaved changes were kept.")
    box.setInformativeText(
        f"{one_line(recovered.design.name)}\nfrom {one_line(origin)}\nsaved {when}\n\n"
        "Restore them? Discard deletes them; Later keeps them for the next start."
    )
    box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
    box.button(QMessageBox.StandardButton.Yes).setText("Restore")
    box.button(QMessageBox.StandardButton.No).setText("Discard")
    box.setDefaultButton(QMessageBox.StandardButton.Yes)
    box.setEscapeButton(QMessageBox.StandardButton.Cancel)
    return box


Answer = bool | None  # True: restore; False: discard (delete); None: keep for next time
AskRestore = Callable[[QWidget | None, Recovered], Answer]


def ask_with_box(parent: QWidget | None, recovered: Recovered) -> Answer:
    box = restore_box(parent, recovered)
    box.addButton(QMessageBox.StandardButton.Cancel).setText("Later")
    answer = box.exec()
    if answer == QMessageBox.StandardButton.Yes:
        return True
    return False if answer == QMessageBox.StandardButton.No else None


def offer(
    folder: Path,
    parent: QWidget | None,
    restore: Callable[[Design, Path | None], None],
    ask: AskRestore = ask_with_box,
) -> Recovered | None:
    """Offer each orphaned session in ``folder``, newest first, until one is restored.

    Only what the user discards is deleted: one the user restores is taken over by
    this window (whose own autosave then holds it), and those not yet offered, or
    answered with "Later", stay for the next start.
    """
    for found in orphans(folder):
        answer = ask(parent, found)
        if answer is None:
            continue
        if answer:
            restore(found.design, found.path)
        discard(found)
        if answer:
            return found
    return None
