"""The Train tab trains the design with its own bundle's train.py.

Driven with real clicks on a CIFAR ResNet-20 and synthetic data (32 images at batch
16: two steps an epoch, a fraction of a second each on a CPU); the runs write under
$RESNET_DESIGNER_RUNS_DIR (a temporary folder, set in conftest). Every test stops
the runs it started, whatever happens.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer

from designer.core import runs
from designer.core.presets import load_preset
from designer.qt.insights import train_dock
from tests.image_folder import make_image_folder

CTRL_ALT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
LEFT = Qt.MouseButton.LeftButton
SMALL = "resnet20_cifar"
RUN_MS = 90_000  # a generous ceiling: the torch helper and train.py each import torch


def _root() -> Path:
    return Path(os.environ["RESNET_DESIGNER_RUNS_DIR"])


@pytest.fixture(autouse=True)
def _stop_every_run():
    yield
    for run in runs.list_runs(_root()):
        if run.alive:
            runs.stop(run.folder)


def _open(qtbot, window):
    """The Train tab opened with Ctrl+Alt+7 on a small design, tiny synthetic settings."""
    if window.document.design.name != load_preset(SMALL).name:
        window.document.reset(load_preset(SMALL))
        qtbot.waitUntil(lambda: not window.is_busy(), timeout=10_000)
    window.activateWindow()
    qtbot.keyClick(window, Qt.Key.Key_7, CTRL_ALT)
    panel = window.insights.train
    qtbot.waitUntil(panel.isVisible)
    assert window.insights.current() == "train"
    _type(qtbot, panel.device, "CPU")
    assert panel.device.currentData() == "cpu"
    _type(qtbot, panel.synthetic, "32")
    _type(qtbot, panel.batch, "16")
    _type(qtbot, panel.epochs, "200")  # stopped by the test long before
    assert (panel.synthetic.value(), panel.batch.value(), panel.epochs.value()) == (32, 16, 200)
    return panel


def _type(qtbot, field, text: str) -> None:
    """Focus ``field``, select what it holds and type ``text`` (a combo box: its item's name)."""
    field.setFocus()
    if hasattr(field, "lineEdit") and field.lineEdit() is not None:
        qtbot.keyClick(field.lineEdit(), Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
        qtbot.keyClicks(field.lineEdit(), text)
        qtbot.keyClick(field.lineEdit(), Qt.Key.Key_Tab)
    else:  # a combo box picks the item whose text starts with what is typed
        qtbot.keyClicks(field, text)


def _new_window(qtbot):
    from designer.qt.app import application
    from designer.qt.main_window import MainWindow

    application()
    win = MainWindow(load_preset(SMALL))
    win.resize(1440, 900)
    win.show()
    qtbot.waitUntil(lambda: win.drawing is not None and not win.is_busy(), timeout=10_000)
    return win


def _close(qtbot, win, delete: bool = True) -> None:
    qtbot.waitUntil(lambda: not win.is_busy(), timeout=10_000)
    win.document.undo_stack.setClean()
    win.close()
    if delete:  # not the fixture's window: the fixture closes and deletes that one
        win.deleteLater()


def _epochs(panel) -> int:
    return len(panel.reader.curves.epochs) if panel.reader else 0


def test_start_plots_the_curves_stop_keeps_the_checkpoint_and_resume_continues(qtbot, window):
    torch_before = "torch" in sys.modules
    panel = _open(qtbot, window)
    _type(qtbot, panel.print_freq, "1")  # a progress line, and a point, every step
    assert panel.statuses() == {} and not panel.stop_button.isEnabled()
    qtbot.mouseClick(panel.start_button, LEFT)
    assert not panel.start_button.isEnabled() and not panel.batch.isEnabled()
    qtbot.waitUntil(lambda: panel.watched is not None, timeout=RUN_MS)
    assert not panel.error.isVisible(), panel.error.text()
    folder = panel.watched.folder
    assert folder.parent == _root() and (folder / "bundle" / "train.py").is_file()
    assert (folder / "design.resnet.json").is_file()
    qtbot.waitUntil(lambda: len(panel.plot.series()["train loss"]) >= 2, timeout=RUN_MS)
    assert panel.statuses().get(folder.name) == "running" and panel.stop_button.isEnabled()
    assert "images/s" in panel.figures.text() and "ETA" in panel.figures.text()
    qtbot.waitUntil(lambda: (folder / "last.pt").is_file() and _epochs(panel) >= 1, timeout=RUN_MS)
    assert panel.plot.series()["val top-1"]  # one point per epoch
    # the running run's row counts its epochs as they end, not only when its status changes
    epochs_cell = train_dock.COLUMNS.index("Epochs")

    def row_epochs() -> int:
        return int(panel.runs_table.item(0, epochs_cell).text().split("/")[0])

    qtbot.waitUntil(lambda: row_epochs() >= 1, timeout=5_000)

    qtbot.mouseClick(panel.stop_button, LEFT)
    qtbot.waitUntil(lambda: panel.statuses().get(folder.name) == "stopped", timeout=30_000)
    assert (folder / "last.pt").is_file() and "Stopped" in panel.status.text()
    assert panel.resume_button.isEnabled() and not panel.stop_button.isEnabled()
    done = _epochs(panel)

    qtbot.mouseClick(panel.resume_button, LEFT)
    qtbot.waitUntil(lambda: panel.statuses().get(folder.name) == "running", timeout=RUN_MS)
    qtbot.waitUntil(lambda: _epochs(panel) > done, timeout=RUN_MS)
    log = (folder / "train.log").read_text()
    assert f"--resume {folder.resolve() / 'last.pt'}" in log
    steps = [int(r["step"]) for r in panel.reader.curves.epochs]
    assert steps == sorted(steps) and steps[-1] == 2 * len(steps)  # continued, not restarted
    qtbot.mouseClick(panel.stop_button, LEFT)
    qtbot.waitUntil(lambda: panel.statuses().get(folder.name) == "stopped", timeout=30_000)
    assert not panel.error.isVisible(), panel.error.text()
    if not torch_before:  # the bundle was written in the helper: torch never loads here
        assert "torch" not in sys.modules


def test_a_killed_run_fails_with_its_log_and_a_new_window_reattaches(qtbot, window):
    panel = _open(qtbot, window)
    qtbot.mouseClick(panel.start_button, LEFT)
    qtbot.waitUntil(lambda: bool(panel.plot.series()["train loss"]), timeout=RUN_MS)
    killed = panel.watched.folder
    os.kill(runs.Run.read(killed).info["train_pid"], signal.SIGKILL)
    qtbot.waitUntil(lambda: panel.statuses().get(killed.name) == "failed", timeout=30_000)
    assert panel.error.isVisible()
    text = panel.error.text()
    assert "failed (exit -9)" in text and "loss" in text, text  # its log's last lines

    # a second run, left running when the window closes
    qtbot.mouseClick(panel.start_button, LEFT)
    qtbot.waitUntil(
        lambda: panel.watched is not None and panel.watched.folder != killed, timeout=RUN_MS
    )
    alive = panel.watched.folder
    qtbot.waitUntil(lambda: bool(panel.plot.series()["train loss"]), timeout=RUN_MS)
    _close(qtbot, window, delete=False)
    assert "left running" in window.statusBar().currentMessage()
    assert runs.Run.read(alive).status == "running"

    again = _new_window(qtbot)
    try:
        panel = _open(qtbot, again)
        assert panel.statuses() == {killed.name: "failed", alive.name: "running"}
        assert panel.watched is not None and panel.watched.folder == alive  # reattached
        seen = len(panel.plot.series()["train loss"])
        qtbot.waitUntil(lambda: len(panel.plot.series()["train loss"]) > seen, timeout=RUN_MS)
        qtbot.mouseClick(panel.stop_button, LEFT)
        qtbot.waitUntil(lambda: panel.statuses().get(alive.name) == "stopped", timeout=30_000)
    finally:
        _close(qtbot, again)


def test_a_bad_data_folder_is_one_line_in_the_tab(qtbot, window, tmp_path):
    panel = _open(qtbot, window)
    _type(qtbot, panel.data, "ImageFolder")
    assert panel.path.isEnabled() and not panel.synthetic.isEnabled()
    (tmp_path / "train" / "a").mkdir(parents=True)
    panel.path.clear()
    qtbot.keyClicks(panel.path, str(tmp_path))
    qtbot.mouseClick(panel.start_button, LEFT)
    qtbot.waitUntil(panel.error.isVisible, timeout=10_000)
    assert "lacks val/" in panel.error.text() and panel.start_button.isEnabled()
    assert runs.list_runs(_root()) == []  # nothing written
    assert not _root().exists() or not any(_root().iterdir())  # not even a folder

    # the next window starts from the last settings tried, the data folder included
    again = _new_window(qtbot)
    try:
        restored = again.insights.train.settings()
        assert restored.data == "imagefolder" and restored.data_path == str(tmp_path)
        assert restored.batch == 16 and restored.device == "cpu"
    finally:
        _close(qtbot, again)


def test_a_class_mismatch_offers_to_set_the_designs_classes(qtbot, window, tmp_path):
    panel = _open(qtbot, window)
    for part in ("train", "val"):
        for c in range(3):
            (tmp_path / part / f"c{c}").mkdir(parents=True)
            (tmp_path / part / f"c{c}" / "0.png").write_bytes(b"")
    _type(qtbot, panel.data, "ImageFolder")
    panel.path.clear()
    qtbot.keyClicks(panel.path, str(tmp_path))
    qtbot.mouseClick(panel.start_button, LEFT)
    qtbot.waitUntil(panel.error.isVisible, timeout=10_000)
    assert "3 classes, the design 10" in panel.error.text()
    assert panel.set_classes.isVisible() and "3" in panel.set_classes.text()
    qtbot.mouseClick(panel.set_classes, LEFT)
    assert window.document.design.num_classes == 3
    assert not panel.error.isVisible() and not panel.set_classes.isVisible()
    window.document.undo()  # one undoable edit
    assert window.document.design.num_classes == 10


def test_the_loss_axis_ignores_an_early_outlier_and_reads_as_plain_numbers():
    from designer.qt.insights.train_dock import _loss_top, _tick

    train = [2.3, 2.1, 1.9, 1.7, 1.6, 1.5, 1.4, 1.3, 1.2, 1.1]
    val = [150.0, 1.8, 1.5, 1.3]  # the first val loss of a fresh network: an outlier
    assert _loss_top(train, val) == 2.3 * 1.05
    assert _loss_top(train, [2.9, 1.8]) == 2.9 * 1.05  # a val loss above train's: shown
    assert _loss_top([], [150.0, 1.8, 1.5, 1.3]) == 1.8 * 1.05  # val alone: the outlier too
    assert _loss_top([], [150.0]) == 150.0 * 1.05  # one point: nothing to compare it with
    # a loss that falls to nearly 0 within an epoch: the first steps still fit
    falling = [2.3, 0.9, 0.1] + [0.01] * 40
    assert _loss_top(falling, [0.02] * 10) == 2.3 * 1.05
    assert _loss_top([], []) == 1.05  # nothing yet: an axis to 1
    assert [_tick(v) for v in (200.0, 87.4, 2.345, 0.05)] == ["200", "87", "2.3", "0.05"]


# -- runs that need no torch: a stand-in train.py, so the tab's decisions are quick to test

REAL_ASK = train_dock.ask_about_runs  # conftest answers "leave" for every other test


def _stand_in_run(design, settings: runs.RunSettings, script: str) -> Path:
    """A run folder whose bundle's train.py is ``script``, launched as the app launches."""
    folder = runs.new_run_folder(_root(), design)
    runs.prepare_run(folder, design, settings)
    (folder / "bundle").mkdir()
    (folder / "bundle" / "train.py").write_text(script)
    runs.launch(folder, settings)
    return folder


SLEEPS = (
    "import time\nprint('epoch 1/9 [#.......] 1/8  loss 2.3026  acc 10.00%  64 img/s')\n"
    "time.sleep(120)\n"
)


def _wait_alive(qtbot, folder: Path) -> None:
    qtbot.waitUntil(lambda: runs.Run.read(folder).status == "running", timeout=20_000)


def test_closing_with_a_run_asks_cancel_keeps_the_window_stop_stops_it(qtbot, window, monkeypatch):
    monkeypatch.setattr(train_dock, "ask_about_runs", REAL_ASK)
    design = load_preset(SMALL)
    folder = _stand_in_run(design, runs.RunSettings(device="cpu"), SLEEPS)
    _wait_alive(qtbot, folder)
    asked: list[str] = []

    def answer(button_text: str) -> None:
        """Click ``button_text`` in the question once it shows (a real mouse click)."""
        from PySide6.QtWidgets import QApplication, QMessageBox

        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(50, lambda: answer(button_text))
            return
        asked.append(box.text())
        button = next(b for b in box.buttons() if b.text().replace("&", "") == button_text)
        qtbot.mouseClick(button, LEFT)

    window.document.undo_stack.setClean()
    QTimer.singleShot(0, lambda: answer("Cancel"))
    window.close()
    assert asked and "still going" in asked[0] and folder.name in asked[0]
    assert window.isVisible() and runs.Run.read(folder).status == "running"

    QTimer.singleShot(0, lambda: answer("Stop Training"))
    window.close()
    assert len(asked) == 2 and not window.isVisible()
    assert "asked to stop" in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: runs.Run.read(folder).status == "stopped", timeout=20_000)


def test_start_is_refused_in_one_line_while_another_run_trains(qtbot, window):
    other = load_preset("resnet18")  # another design's run counts too: it holds the device
    folder = _stand_in_run(other, runs.RunSettings(device="cpu"), SLEEPS)
    _wait_alive(qtbot, folder)
    panel = _open(qtbot, window)
    qtbot.mouseClick(panel.start_button, LEFT)
    assert panel.error.isVisible()
    assert f"{folder.name} is still training: stop it first" in panel.error.text()
    assert [r.folder for r in runs.list_runs(_root())] == [folder]  # nothing new written


def test_out_of_memory_names_the_batch_that_fitted_in_the_measure_tab(qtbot, window):
    from designer.core.measure import (
        MeasureCache,
        Measurement,
        MeasureSettings,
        Timing,
        fingerprint,
    )
    from designer.qt.insights.measure_dock import measure_dir

    design = load_preset(SMALL)
    measured = MeasureSettings(device="cuda:0", batch=96, train=True)
    step = Timing(0.05, 0.001, 5, 96)
    MeasureCache(measure_dir()).put(
        design,
        measured,
        Measurement(
            design.name, fingerprint(design), measured, "GPU", "2", "2026", step, train=step
        ),
    )
    crash = (
        "import sys\nprint('torch.OutOfMemoryError: CUDA out of memory. Tried to allocate "
        "2.00 GiB', file=sys.stderr)\nsys.exit(1)\n"
    )
    folder = _stand_in_run(design, runs.RunSettings(device="cuda", batch=512), crash)
    qtbot.waitUntil(lambda: runs.Run.read(folder).status == "failed", timeout=20_000)
    panel = _open(qtbot, window)
    panel.refresh_runs()
    qtbot.mouseClick(
        panel.runs_table.viewport(),
        LEFT,
        pos=panel.runs_table.visualRect(panel.runs_table.model().index(0, 0)).center(),
    )
    qtbot.waitUntil(panel.error.isVisible, timeout=5_000)
    text = panel.error.text()
    assert "ran out of memory at batch 512" in text, text
    assert "a training step at batch 96 fitted in the Measure tab (cuda:0, fp32)" in text, text


SAME_WEIGHTS = """
import sys, torch
a, b = (torch.load(p, map_location="cpu", weights_only=False) for p in sys.argv[1:3])
same = a["model"].keys() == b["model"].keys() and all(
    torch.equal(a["model"][k], b["model"][k]) for k in a["model"]
)
print("same" if same else "different", a["step"], b["step"])
"""


def test_stopped_in_the_app_and_resumed_it_ends_with_the_weights_of_a_run_never_stopped(
    qtbot, window
):
    """Stop lands in the middle of an epoch (4 steps each); Resume finishes the run; a second
    run of the same settings, never stopped, ends with the same weights (checked in a
    separate process: torch never loads in the app's)."""
    panel = _open(qtbot, window)
    _type(qtbot, panel.synthetic, "64")
    _type(qtbot, panel.epochs, "4")
    _type(qtbot, panel.print_freq, "1")
    _type(qtbot, panel.recipe, "CIFAR")
    qtbot.keyClicks(panel.flags, "--label-smoothing 0.1 --weight-decay=1e-4")
    qtbot.mouseClick(panel.start_button, LEFT)
    qtbot.waitUntil(lambda: panel.watched is not None, timeout=RUN_MS)
    stopped = panel.watched.folder
    first = (stopped / "train.log").read_text().splitlines()[0]
    assert first.endswith("--recipe cifar --label-smoothing 0.1 --weight-decay=1e-4"), first
    qtbot.waitUntil(lambda: panel.reader.curves.step >= 5, timeout=RUN_MS)
    qtbot.mouseClick(panel.stop_button, LEFT)
    qtbot.waitUntil(lambda: panel.statuses().get(stopped.name) == "stopped", timeout=30_000)
    log = (stopped / "train.log").read_text()
    assert "for --recipe cifar" in log and "label smoothing 0.1" in log, log[:2000]
    assert "stopped at step" in log and "Traceback" not in log, log[-2000:]
    assert "Stopped at step" in panel.status.text()
    qtbot.mouseClick(panel.resume_button, LEFT)
    qtbot.waitUntil(lambda: panel.statuses().get(stopped.name) == "finished", timeout=RUN_MS)

    qtbot.mouseClick(panel.start_button, LEFT)
    qtbot.waitUntil(lambda: panel.watched.folder != stopped, timeout=RUN_MS)
    whole = panel.watched.folder
    qtbot.waitUntil(lambda: panel.statuses().get(whole.name) == "finished", timeout=RUN_MS)
    compared = subprocess.run(
        [sys.executable, "-c", SAME_WEIGHTS, str(stopped / "last.pt"), str(whole / "last.pt")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert compared.stdout.split() == ["same", "16", "16"], compared.stdout + compared.stderr


def test_a_flag_the_fields_set_is_refused_in_one_line(qtbot, window):
    panel = _open(qtbot, window)
    qtbot.keyClicks(panel.flags, "--label-smoothing 0.1 --epochs=3")
    qtbot.mouseClick(panel.start_button, LEFT)
    assert panel.error.isVisible()
    assert panel.error.text().endswith("more flags: --epochs is the Epochs field; remove it here")
    panel.flags.clear()
    qtbot.keyClicks(panel.flags, "--label-smoothing '0.1")
    qtbot.mouseClick(panel.start_button, LEFT)
    assert "more flags: No closing quotation" in panel.error.text()
    assert runs.list_runs(_root()) == []


def _open_on_images(qtbot, window, data: Path, epochs: int):
    """The Train tab on the ImageFolder ``data``, typed in, at batch 12."""
    panel = _open(qtbot, window)
    _type(qtbot, panel.data, "ImageFolder")
    panel.path.clear()
    qtbot.keyClicks(panel.path, str(data))
    _type(qtbot, panel.batch, "12")
    _type(qtbot, panel.epochs, str(epochs))
    return panel


def test_a_tiny_image_folder_trains_after_setting_the_designs_classes(qtbot, window, tmp_path):
    """The user's path through the tab with real images: the folder's 3 classes are not
    the design's 10, said in train.py's own words; one click sets them, Start trains the
    CIFAR ResNet-20 with this venv's interpreter, the curves fill, the run finishes."""
    data = make_image_folder(tmp_path / "data", classes=3)  # 36 training PNGs, 12 for val
    panel = _open_on_images(qtbot, window, data, epochs=2)
    _type(qtbot, panel.print_freq, "1")
    qtbot.mouseClick(panel.start_button, LEFT)
    qtbot.waitUntil(panel.set_classes.isVisible, timeout=10_000)
    assert panel.error.text().endswith(
        f"{data / 'train'} has 3 classes, the design 10: add --num-classes 3 "
        "(a new classifier, the other weights kept) or use a design with 3 classes"
    )
    assert runs.list_runs(_root()) == []  # refused before a run folder was made
    qtbot.mouseClick(panel.set_classes, LEFT)
    assert window.document.design.num_classes == 3
    qtbot.mouseClick(panel.start_button, LEFT)
    qtbot.waitUntil(lambda: panel.watched is not None, timeout=RUN_MS)
    folder = panel.watched.folder
    qtbot.waitUntil(lambda: panel.statuses().get(folder.name) == "finished", timeout=RUN_MS)
    assert len(panel.plot.series()["train loss"]) == 6 and len(panel.reader.curves.epochs) == 2
    assert not panel.error.isVisible(), panel.error.text()
    launched = (folder / "train.log").read_text(encoding="utf-8").splitlines()[0]
    assert launched.startswith(f"$ {sys.executable} "), launched
    assert Path(sys.executable).parent.parent.name == ".venv" or not os.environ.get("CI")


def test_more_flags_num_classes_trains_a_new_classifier_on_the_data(qtbot, window, tmp_path):
    """The other fix: --num-classes 2 typed into Flags; the design keeps its 10 classes."""
    import torch

    data = make_image_folder(tmp_path / "data", classes=2)  # 24 training PNGs, 8 for val
    panel = _open_on_images(qtbot, window, data, epochs=1)
    qtbot.keyClicks(panel.flags, "--num-classes 2")
    qtbot.mouseClick(panel.start_button, LEFT)
    qtbot.waitUntil(lambda: panel.watched is not None, timeout=RUN_MS)
    folder = panel.watched.folder
    qtbot.waitUntil(lambda: panel.statuses().get(folder.name) == "finished", timeout=RUN_MS)
    assert window.document.design.num_classes == 10
    assert len(panel.reader.curves.epochs) == 1 and panel.plot.series()["train loss"]
    state = torch.load(folder / "last.pt", map_location="cpu", weights_only=True)["model"]
    assert state["fc.weight"].shape == (2, 64)


def test_delete_moves_an_ended_run_to_the_trash_after_asking(qtbot, window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    (tmp_path / "data").mkdir()
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # never the user's Trash
    design = load_preset(SMALL)
    ended = _stand_in_run(design, runs.RunSettings(device="cpu"), "print('done')\n")
    qtbot.waitUntil(lambda: runs.Run.read(ended).status == "finished", timeout=20_000)
    alive = _stand_in_run(design, runs.RunSettings(device="cpu"), SLEEPS)
    _wait_alive(qtbot, alive)
    panel = _open(qtbot, window)
    panel.refresh_runs()
    view = panel.runs_table
    names = [view.item(r, train_dock.COLUMNS.index("Run")).text() for r in range(2)]

    def press_delete_on(folder: Path) -> None:
        row = names.index(folder.name)
        rect = view.visualRect(view.model().index(row, 0))
        qtbot.mouseClick(view.viewport(), LEFT, pos=rect.center())
        assert panel.watched.folder == folder
        qtbot.keyClick(view, Qt.Key.Key_Delete)

    asked: list[str] = []
    answer = [QMessageBox.StandardButton.Cancel]
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **_k: asked.append(a[2]) or answer[0])
    press_delete_on(alive)
    assert not asked and "is still training: stop it first" in panel.error.text()
    press_delete_on(ended)
    assert asked and "Move the run" in asked[0] and ended.is_dir()  # cancelled: kept
    answer[0] = QMessageBox.StandardButton.Yes
    press_delete_on(ended)
    assert not ended.exists()
    assert (tmp_path / "data" / "Trash" / "files" / ended.name / "settings.json").is_file()
    assert panel.statuses() == {alive.name: "running"}


def test_without_a_trash_the_run_stays_and_the_tab_says_so(qtbot, window, monkeypatch):
    from PySide6.QtCore import QFile
    from PySide6.QtWidgets import QMessageBox

    monkeypatch.setattr(QFile, "moveToTrash", lambda *_a: False)  # a system with no Trash
    monkeypatch.setattr(QMessageBox, "question", lambda *_a: QMessageBox.StandardButton.Yes)
    ended = _stand_in_run(load_preset(SMALL), runs.RunSettings(device="cpu"), "pass\n")
    qtbot.waitUntil(lambda: runs.Run.read(ended).status == "finished", timeout=20_000)
    panel = _open(qtbot, window)
    panel.refresh_runs()
    view = panel.runs_table
    qtbot.mouseClick(view.viewport(), LEFT, pos=view.visualRect(view.model().index(0, 0)).center())
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    assert "has no Trash for it, so it stays" in panel.error.text()
    assert (ended / "settings.json").is_file()


def test_a_run_folder_that_never_launched_says_so(qtbot, window):
    """The app killed between making a run's folder and launching it: no status.json."""
    design = load_preset(SMALL)
    folder = runs.new_run_folder(_root(), design)
    runs.prepare_run(folder, design, runs.RunSettings(device="cpu"))
    panel = _open(qtbot, window)
    panel.refresh_runs(select=folder)
    assert panel.statuses() == {folder.name: "failed"}
    assert panel.error.text().endswith(f"{folder.name} never started: start a new run")
