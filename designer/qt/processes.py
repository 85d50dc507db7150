"""Helper processes for pure-Python or torch work that would otherwise stall the UI.

A worker *thread* running ~100 ms of pure Python (a 3,000-node layout) or importing
torch (seconds, much of it in dlopen with the GIL held) starves the UI thread,
which needs the same GIL for every paint and table call. A process shares no GIL.
A worker thread submits here and waits for the answer with the GIL released.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

T = TypeVar("T")

# What each kind of helper preloads: the drawing one never imports torch.
PRELOAD = {"draw": ["designer.qt.pipeline"], "torch": ["designer.core.torch.verify"]}

_pools: dict[str, ProcessPoolExecutor] = {}
_lock = threading.Lock()


class HelperUnavailable(RuntimeError):
    """The helper process could not run the job; the caller may do it in its thread."""


def _pool(kind: str) -> ProcessPoolExecutor:
    with _lock:
        if kind not in _pools:
            methods = multiprocessing.get_all_start_methods()
            # never fork a process that runs Qt threads: forkserver (or spawn) starts clean
            method = "forkserver" if "forkserver" in methods else "spawn"
            context = multiprocessing.get_context(method)
            if method == "forkserver":
                context.set_forkserver_preload(PRELOAD[kind])
            _pools[kind] = ProcessPoolExecutor(
                max_workers=1,
                mp_context=context,
                initializer=watch_app,
                initargs=(os.getpid(),),
            )
        return _pools[kind]


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


def shutdown() -> None:
    """Stop every helper now (the app is quitting): no process outlives it."""
    with _lock:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        processes = list(getattr(pool, "_processes", {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            with contextlib.suppress(OSError, ValueError):
                process.kill()


def run_in_helper(kind: str, fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` in the ``kind`` helper process (started on first use)."""
    return result_of(kind, submit(kind, fn, *args))


def submit(kind: str, fn: Callable[..., T], *args: Any) -> Future[T]:
    """Start ``fn(*args)`` in the ``kind`` helper; the caller polls (e.g. for progress)."""
    try:
        return _pool(kind).submit(fn, *args)
    except (BrokenProcessPool, OSError, RuntimeError) as exc:
        with _lock:
            _pools.pop(kind, None)
        raise HelperUnavailable(str(exc)) from exc


def result_of(kind: str, future: Future[T], timeout: float | None = None) -> T:
    """The answer of ``submit``; TimeoutError while it is still running after ``timeout``."""
    try:
        return future.result(timeout)
    except TimeoutError:  # an OSError since 3.11: still running, not broken
        raise
    except (BrokenProcessPool, OSError) as exc:
        with _lock:
            _pools.pop(kind, None)  # a fresh process next time
        raise HelperUnavailable(str(exc)) from exc
    except RuntimeError as exc:  # e.g. started from an unguarded __main__
        raise HelperUnavailable(str(exc)) from exc


def warm(kind: str) -> None:
    """Start a helper ahead of need (call from a worker thread)."""
    with contextlib.suppress(HelperUnavailable):
        run_in_helper(kind, int)
