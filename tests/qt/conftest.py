"""Qt tests run offscreen, with settings in a temporary folder (never the user's)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest


@pytest.fixture(autouse=True)
def _private_settings(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    from PySide6.QtCore import QSettings

    folder = tmp_path_factory.mktemp("settings")
    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(folder))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(folder))
    monkeypatch.setenv("RESNET_DESIGNER_RECOVERY_DIR", str(folder / "recovery"))
    monkeypatch.setenv("RESNET_DESIGNER_MEASURE_DIR", str(folder / "measurements"))
    monkeypatch.setenv("RESNET_DESIGNER_RUNS_DIR", str(folder / "runs"))
    monkeypatch.setenv("RESNET_DESIGNER_CONFIRM_MS", "0")  # torch only where a test asks


@pytest.fixture(autouse=True)
def _leave_runs_running_on_close(monkeypatch: pytest.MonkeyPatch):
    """A window closing while a run trains asks what to do, in a modal box: tests leave
    the runs running (and stop them themselves) unless one tests that question."""
    from designer.qt.insights import train_dock

    monkeypatch.setattr(train_dock, "ask_about_runs", lambda *_args: train_dock.LEAVE)


@pytest.fixture
def window(qtbot):
    from designer.core.presets import load_preset
    from designer.qt.app import application
    from designer.qt.main_window import MainWindow

    application()
    win = MainWindow(load_preset("resnet50"))
    win.resize(1440, 900)  # the offscreen screen is 800x800: test the layout users have
    win.show()
    qtbot.waitUntil(lambda: win.drawing is not None and not win.is_busy(), timeout=10_000)
    yield win
    qtbot.waitUntil(lambda: not win.is_busy(), timeout=10_000)
    win.document.undo_stack.setClean()  # no "save changes?" prompt on close
    win.close()
    win.deleteLater()
