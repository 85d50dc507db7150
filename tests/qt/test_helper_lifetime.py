"""Helper processes never outlive the app (kill -9 or SIGTERM).

Real processes: the app (or a stand-in that starts both helpers) runs in a child;
its descendants are found through /proc and must all be gone shortly after it ends.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")


def descendants(pid: int) -> set[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pids: set[int]) -> set[int]:
    out = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            out.add(pid)
    return out


def wait_gone(pids: set[int], seconds: float = 10.0) -> set[int]:
    deadline = time.monotonic() + seconds
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive(pids)


STARTS_HELPERS = f"""
import sys, time
sys.path.insert(0, {str(ROOT)!r})
from designer.qt import processes
processes.warm("draw"); processes.warm("torch")
print("ready", flush=True)
time.sleep(120)
"""


def test_helpers_exit_when_the_app_is_killed() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", STARTS_HELPERS], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        helpers = descendants(child.pid)
        assert len(helpers) >= 2  # a server and a worker at least
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        assert wait_gone(helpers) == set()
    finally:
        child.kill()


APP_WITH_BOTH_HELPERS = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
from PySide6.QtCore import QTimer
from designer.qt import app, processes

def helpers_then_ready():
    processes.warm("draw"); processes.warm("torch")
    print("ready", flush=True)

QTimer.singleShot(0, helpers_then_ready)
sys.exit(app.run("resnet18", ask_restore=lambda parent, recovered: False))
"""


def test_killing_the_app_prints_no_resource_tracker_warning(tmp_path: Path) -> None:
    """What the app and its helpers leave behind writes nothing on the user's terminal.

    The stderr file stands for the terminal: every process the app started shares it.
    """
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "RESNET_DESIGNER_RECOVERY_DIR": str(tmp_path / "recovery"),
    }
    terminal = tmp_path / "stderr.txt"
    with terminal.open("wb") as stderr:
        child = subprocess.Popen(
            [sys.executable, "-c", APP_WITH_BOTH_HELPERS],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=env,
        )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        started = descendants(child.pid)
        assert len(started) >= 2
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        assert wait_gone(started) == set()  # the resource tracker too, if one ran
        written = terminal.read_text(errors="replace")
        assert "resource_tracker" not in written
        assert "leaked" not in written
    finally:
        child.kill()


APP = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from designer.qt import app, processes
from designer.qt.main_window import MainWindow

def unsaved_edit_then_ready():
    window = next(w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow))
    window.document.edit("num_classes", lambda d: d.replace(num_classes=7))
    processes.warm("draw")
    print("ready", flush=True)

QTimer.singleShot(0, unsaved_edit_then_ready)
sys.exit(app.run("resnet18", ask_restore=lambda parent, recovered: False))
"""


def test_sigterm_closes_the_app_and_its_helpers(tmp_path: Path) -> None:
    """With unsaved work: no question is asked, the work is kept for the next start."""
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "RESNET_DESIGNER_RECOVERY_DIR": str(tmp_path),
    }
    child = subprocess.Popen(
        [sys.executable, "-c", APP], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        helpers = descendants(child.pid)
        assert helpers
        child.send_signal(signal.SIGTERM)
        assert child.wait(20) == 0
        assert wait_gone(helpers) == set()
        (kept,) = tmp_path.glob("*.recovery.json")
        assert '"num_classes": 7' in kept.read_text()
    finally:
        child.kill()
