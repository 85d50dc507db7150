"""Helper processes for pure-Python or torch work that would otherwise stall the UI.

A worker *thread* running ~100 ms of pure Python (a 3,000-node layout) or importing
torch (seconds, much of it in dlopen with the GIL held) starves the UI thread,
which needs the same GIL for every paint and table call. A process shares no GIL.
A worker thread submits here and waits for the answer with the GIL released.

Jobs and answers travel through a pipe, never a multiprocessing queue or lock: under
forkserver or spawn those are named semaphores, registered with multiprocessing's
resource tracker, and after a kill -9 of the app the tracker unlinks them and warns
about "leaked semaphore objects" on the user's terminal.
"""

from __future__ import annotations

import atexit
import contextlib
import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from multiprocessing.connection import Connection
from multiprocessing.reduction import ForkingPickler
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # no forkserver on Windows
    from multiprocessing.context import ForkServerContext, SpawnContext

T = TypeVar("T")

# What each kind of helper preloads: the drawing one never imports torch.
PRELOAD = {"draw": ["designer.qt.pipeline"], "torch": ["designer.core.torch.verify"]}


class HelperUnavailable(RuntimeError):
    """The helper process could not run the job; the caller may do it in its thread."""


class RemoteError(RuntimeError):
    """A job's exception or answer that could not cross the pipe (it does not pickle)."""


def _context(kind: str) -> ForkServerContext | SpawnContext:
    # never fork a process that runs Qt threads: forkserver (or spawn) starts clean
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD[kind])
    return context


class _Helper:
    """One helper process, sent one job at a time; the next waits here, still cancellable."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        context = _context(kind)
        self._conn, theirs = context.Pipe()
        # not a daemon, like a process pool's workers: torch may start its own helpers
        self.process = context.Process(
            target=serve, args=(theirs, os.getpid()), name=f"{kind} helper"
        )
        try:
            self.process.start()
        except BaseException:
            self._conn.close()
            raise
        finally:
            theirs.close()  # the helper's end lives in the helper only: its exit is our EOF
        self._guard = threading.Lock()
        self._waiting: deque[tuple[Future[Any], memoryview]] = deque()
        self._running: Future[Any] | None = None
        self.stopped: str | None = None  # why, once the process is gone
        threading.Thread(target=self._read, name=f"{kind} helper answers", daemon=True).start()

    def submit(self, fn: Callable[..., T], args: tuple[Any, ...]) -> Future[T]:
        future: Future[T] = Future()
        try:
            job = ForkingPickler.dumps((fn, args))
        except Exception as exc:  # what does not pickle fails as the job's answer
            future.set_running_or_notify_cancel()
            future.set_exception(exc)
            return future
        with self._guard:
            if self.stopped is not None:
                raise HelperUnavailable(self.stopped)
            self._waiting.append((future, job))
            self._send_next()
        return future

    def stop(self) -> None:
        """Cancel what waits, kill the process; the running job fails as unavailable."""
        with self._guard:
            waiting = [future for future, _job in self._waiting]
            self._waiting.clear()
        for future in waiting:
            future.cancel()
        with contextlib.suppress(OSError, ValueError, AttributeError):
            self.process.kill()

    def _send_next(self) -> None:
        """With the guard held: send the next job that was not cancelled, if idle."""
        while self._running is None and self._waiting and self.stopped is None:
            future, job = self._waiting.popleft()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                self._conn.send_bytes(job)
            except (OSError, ValueError):  # the process is gone: _read tells everyone
                self._waiting.appendleft((future, job))
                return
            self._running = future

    def _read(self) -> None:
        while True:
            try:
                answer = self._conn.recv_bytes()
            except (EOFError, OSError):
                self._stopped()
                return
            try:
                ok, value = ForkingPickler.loads(answer)
            except Exception as exc:  # e.g. an exception class that cannot be rebuilt
                ok, value = False, RemoteError(f"the answer could not be read: {exc}")
            with self._guard:
                future, self._running = self._running, None
            if future is not None:
                with contextlib.suppress(InvalidStateError):  # e.g. cancelled meanwhile
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)
            with self._guard:
                self._send_next()

    def _stopped(self) -> None:
        self.process.join(1.0)
        code = self.process.exitcode
        why = f"the {self.kind} helper process ended" + (f" (exit code {code})" if code else "")
        with self._guard:
            self.stopped = why
            futures = [future for future, _job in self._waiting]
            if self._running is not None:
                futures.insert(0, self._running)
            self._waiting.clear()
            self._running = None
        with contextlib.suppress(OSError):
            self._conn.close()
        for future in futures:  # the running one, then those waiting (unless cancelled)
            if future.running() or future.set_running_or_notify_cancel():
                with contextlib.suppress(InvalidStateError):
                    future.set_exception(HelperUnavailable(why))


def serve(conn: Connection, app_pid: int) -> None:
    """The helper's loop: run each job it is sent and send back the answer or exception."""
    watch_app(app_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the app, which stops us
    while True:
        try:
            job = conn.recv_bytes()
        except (EOFError, OSError):  # the app closed its end: nothing more will come
            return
        try:
            fn, args = ForkingPickler.loads(job)
            answer: tuple[bool, Any] = (True, fn(*args))
        except Exception as exc:
            answer = (False, exc)
        try:
            sent = ForkingPickler.dumps(answer)
        except Exception as exc:
            what = "answer" if answer[0] else f"exception ({answer[1]!r})"
            failed = RemoteError(f"the helper could not send its {what} back: {exc}")
            sent = ForkingPickler.dumps((False, failed))
        try:
            conn.send_bytes(sent)
        except OSError:
            return


def watch_app(app_pid: int) -> None:
    """In each helper: exit as soon as the app is gone, however it ended (even kill -9).

    Linux's parent-death signal covers the helper's own parent; a polling thread
    covers the app itself (with forkserver, the helper's parent is the server).
    """
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    threading.Thread(target=_exit_without, args=(app_pid,), daemon=True).start()


def _exit_without(app_pid: int, interval_s: float = 0.5) -> None:
    while True:
        time.sleep(interval_s)
        try:
            os.kill(app_pid, 0)
        except ProcessLookupError:
            os._exit(0)
        except OSError:
            pass  # alive but not ours to signal


_helpers: dict[str, _Helper] = {}
_lock = threading.Lock()


def _helper(kind: str) -> _Helper:
    with _lock:
        helper = _helpers.get(kind)
        if helper is None or helper.stopped is not None:  # a fresh process after a crash
            helper = _helpers[kind] = _Helper(kind)
        return helper


def shutdown() -> None:
    """Stop every helper now (the app is quitting): no process outlives it."""
    with _lock:
        helpers = list(_helpers.values())
        _helpers.clear()
    for helper in helpers:
        helper.stop()


# after multiprocessing's own exit hook is registered (multiprocessing.connection imports
# it), so it runs first: that hook would wait for helpers that wait for their next job
atexit.register(shutdown)


def run_in_helper(kind: str, fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` in the ``kind`` helper process (started on first use)."""
    return result_of(kind, submit(kind, fn, *args))


def submit(kind: str, fn: Callable[..., T], *args: Any) -> Future[T]:
    """Start ``fn(*args)`` in the ``kind`` helper; the caller polls (e.g. for progress)."""
    try:
        return _helper(kind).submit(fn, args)
    except HelperUnavailable:
        raise
    except (OSError, RuntimeError) as exc:
        raise HelperUnavailable(str(exc)) from exc


def result_of(kind: str, future: Future[T], timeout: float | None = None) -> T:
    """The answer of ``submit``; TimeoutError while it is still running after ``timeout``."""
    try:
        return future.result(timeout)
    except TimeoutError:  # an OSError since 3.11: still running, not broken
        raise
    except HelperUnavailable:
        raise
    except (OSError, RuntimeError) as exc:  # e.g. started from an unguarded __main__
        raise HelperUnavailable(str(exc)) from exc


def warm(kind: str) -> None:
    """Start a helper ahead of need (call from a worker thread)."""
    with contextlib.suppress(HelperUnavailable):
        run_in_helper(kind, int)
