"""Background work: a function run on the thread pool, its result posted back by signal.

Workers never touch widgets. Each job carries a generation number; the owner
keeps the latest number it asked for and drops any result that is older, so a
slow layout of a design the user has already changed is never shown. A job that
ends by raising after its cancel event was set reports ``cancelled``, not
``failed``: no message to parse, no traceback for what the user asked for.
"""

from __future__ import annotations

import contextlib
import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal


class WorkerSignals(QObject):
    done = Signal(int, object)  # generation, result
    failed = Signal(int, str)  # generation, one-line message
    progress = Signal(int, float)  # generation, fraction in [0, 1]
    cancelled = Signal(int)  # generation: it stopped because its cancel event was set


class Job(QRunnable):
    """Runs ``fn(*args, progress=..., cancel=...)`` when ``report`` is set, else ``fn(*args)``."""

    def __init__(
        self, generation: int, fn: Callable[..., Any], *args: Any, report: bool = False
    ) -> None:
        super().__init__()
        self.generation = generation
        self.signals = WorkerSignals()
        self.cancel_event = threading.Event()
        self._fn = fn
        self._args = args
        self._report = report
        self.setAutoDelete(False)  # the owner keeps it alive until its signal arrived

    def run(self) -> None:
        try:
            if self._report:
                result = self._fn(
                    *self._args, progress=self._progress, cancel=self.cancel_event.is_set
                )
            else:
                result = self._fn(*self._args)
        except Exception as exc:  # reported as one line; the traceback goes to stderr
            if self.cancel_event.is_set():  # it stopped as asked (ExportCancelled...): no bug
                with contextlib.suppress(RuntimeError):
                    self.signals.cancelled.emit(self.generation)
                return
            traceback.print_exc()
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self._emit(self.signals.failed, f"{type(exc).__name__}: {message}")
            return
        self._emit(self.signals.done, result)

    def _emit(self, signal: Any, payload: object) -> None:
        # the receiver's window may have closed while we worked: then nobody is told
        with contextlib.suppress(RuntimeError):
            signal.emit(self.generation, payload)

    def _progress(self, fraction: float, *_rest: Any) -> None:
        self.signals.progress.emit(self.generation, float(fraction))


class Runner(QObject):
    """Starts jobs on a pool and forwards only the newest generation's result."""

    busyChanged = Signal(bool)
    done = Signal(int, object)
    failed = Signal(int, str)

    def __init__(self, pool: QThreadPool | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = pool or QThreadPool.globalInstance()
        self.generation = 0
        self._running: dict[int, Job] = {}
        self.dropped = 0  # stale results seen (tests read it)

    def submit(self, fn: Callable[..., Any], *args: Any) -> int:
        self.generation += 1
        job = Job(self.generation, fn, *args)
        job.signals.done.connect(self._done)
        job.signals.failed.connect(self._failed)
        self._running[job.generation] = job
        if len(self._running) == 1:
            self.busyChanged.emit(True)
        self._pool.start(job)
        return job.generation

    def is_busy(self) -> bool:
        return bool(self._running)

    def drop_running(self) -> None:
        """Drop the results of the jobs already started: the caller has a newer answer."""
        self.generation += 1

    def _finish(self, generation: int) -> bool:
        self._running.pop(generation, None)
        if not self._running:
            self.busyChanged.emit(False)
        if generation != self.generation:
            self.dropped += 1
            return False
        return True

    def _done(self, generation: int, result: object) -> None:
        if self._finish(generation):
            self.done.emit(generation, result)

    def _failed(self, generation: int, message: str) -> None:
        if self._finish(generation):
            self.failed.emit(generation, message)
