"""Workers: a job stopped by its cancel event says so by signal, never by a parsed message."""

from __future__ import annotations

import time

from PySide6.QtCore import QThreadPool

from designer.qt.workers import Job


def _until_cancelled(progress, cancel) -> None:
    while not cancel():
        time.sleep(0.001)
    raise RuntimeError("stopped as asked")  # what ExportCancelled / BundleCancelled do


def test_a_cancelled_job_reports_cancelled_not_failed(qtbot):
    job = Job(7, _until_cancelled, report=True)
    failed: list[str] = []
    job.signals.failed.connect(lambda _g, message: failed.append(message))
    with qtbot.waitSignal(job.signals.cancelled, timeout=5000) as blocker:
        QThreadPool.globalInstance().start(job)
        job.cancel_event.set()
    assert blocker.args == [7]
    assert not failed


def test_an_error_without_cancel_is_a_failure(qtbot):
    def broken(progress, cancel):
        raise ValueError("bad input\nsecond line")

    job = Job(3, broken, report=True)
    with qtbot.waitSignal(job.signals.failed, timeout=5000) as blocker:
        QThreadPool.globalInstance().start(job)
    assert blocker.args == [3, "ValueError: bad input"]
