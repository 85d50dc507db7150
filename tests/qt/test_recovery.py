"""No lost work: autosave after edits, a killed app's work offered back, clean exits forget it."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
from pathlib import Path

from PySide6.QtWidgets import QMessageBox

from designer.core.io import design_to_dict, load, save
from designer.core.presets import load_preset
from designer.qt import recovery

ROOT = Path(__file__).resolve().parents[2]

DRIVER = r"""
import json, os, sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from designer.core.io import design_to_dict
from designer.qt.app import application, run
from designer.qt.main_window import MainWindow

phase, spec = sys.argv[1], sys.argv[2]
application()  # timers need the app's event dispatcher

def window():
    return next(w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow))

def edit():
    w = window()
    w.panel.stages.spin(1, "depth").setValue(7)
    w.panel.widgets["num_classes"].setValue(37)
    w.panel.widgets["stem.kind"].setCurrentText("deep")
    def check():
        if w.files.autosaver.saves:
            print("AUTOSAVED", flush=True)
        else:
            QTimer.singleShot(20, check)
    QTimer.singleShot(20, check)

def report():
    w = window()
    print("DESIGN " + json.dumps(design_to_dict(w.document.design)), flush=True)
    print("CLEAN", w.document.is_clean(), "PATH", w.document.path, flush=True)
    w.files.autosaver.discard()
    os._exit(0)

def ask(_parent, found):
    print("OFFERED", found.path, flush=True)
    return phase == "restore"

if phase == "edit":
    QTimer.singleShot(200, edit)
else:
    QTimer.singleShot(400, report)
run(spec, ask_restore=ask)
"""


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        QT_QPA_PLATFORM="offscreen",
        RESNET_DESIGNER_RECOVERY_DIR=str(tmp_path / "recovery"),
        RESNET_DESIGNER_AUTOSAVE_MS="300",
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        PYTHONPATH=str(ROOT),
    )
    return env


def _phase(tmp_path: Path, phase: str, spec: Path) -> str:
    out = subprocess.run(
        [sys.executable, "-c", DRIVER, phase, str(spec)],
        env=_env(tmp_path),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_killed_app_offers_back_exactly_the_edited_design(tmp_path):
    original = load_preset("resnet18")
    path = tmp_path / "mine.resnet.json"
    save(original, path)
    child = subprocess.Popen(
        [sys.executable, "-c", DRIVER, "edit", str(path)],
        env=_env(tmp_path),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        ready, _, _ = select.select([child.stdout], [], [], 30)  # never hang the suite
        line = child.stdout.readline() if ready else "(no autosave within 30 s)"
        assert line.strip() == "AUTOSAVED", child.stderr.read() if child.stderr else ""
    finally:
        child.send_signal(signal.SIGKILL)  # no chance to clean up: a crash
        child.wait(timeout=10)
    expected = original.with_stage(1, depth=7).replace(num_classes=37)
    expected = expected.replace(stem=expected.stem.__class__("deep", expected.stem.width))
    assert load(path) == original  # the file itself was never touched

    out = _phase(tmp_path, "restore", path)
    assert f"OFFERED {path}" in out
    restored = json.loads(out.split("DESIGN ", 1)[1].splitlines()[0])
    assert restored == design_to_dict(expected)
    assert f"CLEAN False PATH {path}" in out  # restored work is unsaved, bound to its file
    assert not list((tmp_path / "recovery").glob("*.json"))  # answered: offered only once


def test_declined_offer_keeps_the_file_and_forgets_the_session(tmp_path, qtbot):
    folder = tmp_path / "recovery"
    folder.mkdir()
    design = load_preset("resnet34").replace(num_classes=5)
    (folder / f"dead{recovery.SUFFIX}").write_bytes(recovery.encode(design, None))
    out = _phase(tmp_path, "decline", Path("resnet50"))
    assert "OFFERED None" in out
    assert '"num_classes": 5' not in out
    assert not list(folder.glob("*.json"))


def test_autosave_waits_for_a_pause_and_clean_save_removes_it(window, qtbot, tmp_path):
    saver = window.files.autosaver
    saver._timer.setInterval(150)
    for depth in (4, 5, 6, 7, 8):  # a burst of edits is one write, not five
        window.panel.stages.spin(0, "depth").setValue(depth)
    assert saver.saves == 0 and not saver.file.exists()
    qtbot.waitUntil(lambda: saver.saves == 1, timeout=3000)
    design, origin = recovery.decode(saver.file.read_bytes())
    assert design == window.document.design and origin is None
    assert not recovery.orphans(saver.folder)  # our own, live session is never offered
    assert window.files.save_to(tmp_path / "saved.resnet.json")
    assert not saver.file.exists()
    window.panel.stages.spin(0, "depth").setValue(3)
    window.document.undo_stack.undo()  # back to the saved state: nothing to recover
    qtbot.wait(300)
    assert not saver.file.exists()


def test_garbage_in_the_recovery_folder_is_dropped(tmp_path):
    folder = tmp_path / "rec"
    folder.mkdir()
    for i, junk in enumerate([b"\x00\xff" * 50, b'{"recovery": 1, "design": {"stages": 3}}', b"["]):
        (folder / f"j{i}{recovery.SUFFIX}").write_bytes(junk)
    assert recovery.orphans(folder) == []
    assert not list(folder.iterdir())


def test_closing_with_unsaved_changes_asks(window, qtbot, monkeypatch):
    window.panel.stages.spin(0, "depth").setValue(5)
    window.files.autosaver.save_now()
    answers = [QMessageBox.StandardButton.Cancel]
    asked: list[str] = []

    def question(_parent, _title, text, *_args):
        asked.append(text)
        return answers[0]

    monkeypatch.setattr(QMessageBox, "question", question)
    window.close()
    assert asked and "Save the changes" in asked[0]
    assert window.isVisible() and window.files.autosaver.file.exists()
    answers[0] = QMessageBox.StandardButton.Discard
    window.close()
    assert not window.isVisible()
    assert not window.files.autosaver.file.exists()  # a clean exit leaves nothing to recover
    window.document.undo_stack.setClean()


def test_restore_dialog_names_the_file(qtbot, tmp_path):
    found = recovery.Recovered(
        load_preset("resnet50"), tmp_path / "x.resnet.json", tmp_path, tmp_path
    )
    box = recovery.restore_box(None, found)
    qtbot.addWidget(box)
    assert "x.resnet.json" in box.informativeText()
    assert box.button(QMessageBox.StandardButton.Yes).text() == "Restore"


# --- every orphan offered, only what is discarded deleted, names as text ---------


def _orphan(folder: Path, name: str, when: float) -> Path:
    import os

    file = folder / f"{name}{recovery.SUFFIX}"
    design = load_preset("resnet18").replace(name=name)
    file.write_bytes(recovery.encode(design, None))
    os.utime(file, (when, when))
    return file


def test_every_orphan_is_offered_and_only_discarded_ones_go(tmp_path):
    folder = tmp_path / "rec"
    folder.mkdir()
    old, new = _orphan(folder, "older", 1_000_000), _orphan(folder, "newer", 2_000_000)
    seen: list[tuple[str, int, int]] = []

    def later_then_discard(_parent, found):
        seen.append((found.design.name, found.index, found.count))
        return None if found.design.name == "newer" else False

    restored: list[str] = []
    assert (
        recovery.offer(folder, None, lambda d, _p: restored.append(d.name), later_then_discard)
        is None
    )
    assert seen == [("newer", 1, 2), ("older", 2, 2)] and restored == []
    assert new.exists() and not old.exists()  # "Later" kept it, "Discard" deleted it
    found = recovery.offer(folder, None, lambda d, _p: restored.append(d.name), lambda *_: True)
    assert found is not None and restored == ["newer"] and not new.exists()


def test_the_restore_dialog_shows_names_as_plain_text(qtbot, tmp_path):
    name = '<h1 style="color:red">Big</h1>\u202e\x1b[2J'
    found = recovery.Recovered(
        load_preset("resnet50").replace(name=name), None, tmp_path, tmp_path, 0.0, 2, 3
    )
    box = recovery.restore_box(None, found)
    qtbot.addWidget(box)
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QLabel

    label = box.findChild(QLabel, "qt_msgbox_informativelabel")
    assert label.textFormat() == Qt.TextFormat.PlainText
    assert '<h1 style="color:red">Big</h1>' in label.text()
    assert "\u202e" not in label.text() and "\x1b" not in label.text()
    assert "2 of 3" in box.windowTitle()


def test_a_failed_autosave_is_shown_in_the_status_bar(window, qtbot, tmp_path):
    saver = window.files.autosaver
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the recovery folder should be")
    saver.folder = blocker / "recovery"
    saver.file = saver.folder / "x.recovery.json"
    window.panel.stages.spin(0, "depth").setValue(5)
    assert saver.save_now() is False
    assert "autosave failed" in window.statusBar().currentMessage()
    window.document.undo_stack.setClean()
