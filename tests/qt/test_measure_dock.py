"""The Measure tab times the design in the torch helper process.

Driven with real clicks and keys on a small CIFAR design at batch 1 (latency only),
so each measurement takes a few seconds on a CPU. The figures shown are checked
against the cached JSON the tab wrote, and for plausibility; never against the code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractSpinBox, QWidget

from designer.core.analysis import analyse
from designer.core.measure import fingerprint
from designer.core.presets import load_preset

CTRL = Qt.KeyboardModifier.ControlModifier
CTRL_ALT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
LEFT = Qt.MouseButton.LeftButton
SMALL = "resnet20_cifar"  # 0.27M params at 32x32: milliseconds per image on a CPU
RUN_MS = 90_000  # a generous ceiling for one measurement on a busy machine


def _press(qtbot, window, key, modifiers=CTRL_ALT) -> None:
    window.activateWindow()
    qtbot.keyClick(window, key, modifiers)


def _type_into(qtbot, widget: QWidget, text: str) -> None:
    """Click into a field, select what it holds, type ``text`` and Tab out (applied)."""
    target = widget.lineEdit() if isinstance(widget, QAbstractSpinBox) else widget
    qtbot.mouseClick(target, LEFT)
    qtbot.keyClick(target, Qt.Key.Key_A, CTRL)
    qtbot.keyClicks(target, text)
    qtbot.keyClick(target, Qt.Key.Key_Tab)


def _kept() -> list[dict]:
    folder = Path(os.environ["RESNET_DESIGNER_MEASURE_DIR"])
    if not folder.is_dir():
        return []
    return [json.loads(p.read_text()) for p in folder.glob("*.json")]


def _timing(qtbot, panel) -> None:
    """Wait until the helper is timing (started, torch imported, the network built)."""
    qtbot.waitUntil(lambda: "timing" in panel.progress.format(), timeout=RUN_MS)


@pytest.fixture
def panel(qtbot, window):
    """The window on a small design, the Measure tab opened with Ctrl+Alt+6, batch 1."""
    window.document.reset(load_preset(SMALL))
    qtbot.waitUntil(lambda: not window.is_busy(), timeout=10_000)
    _press(qtbot, window, Qt.Key.Key_6)
    measure = window.insights.measure
    qtbot.waitUntil(measure.isVisible)
    assert window.insights.current() == "measure"
    _type_into(qtbot, measure.batch, "1")
    assert measure.settings().batch == 1
    return measure


def test_measure_shows_and_keeps_the_figures_and_compare_plots_them(qtbot, window, panel):
    torch_before = "torch" in sys.modules
    design = window.document.design
    assert panel.shown is None and not panel.shown_text()  # the empty state
    assert "Not measured yet" in panel.result.placeholderText()

    qtbot.mouseClick(panel.button, LEFT)
    assert panel.button.text() == "Cancel" and panel.progress.isVisible()
    assert not panel.device.isEnabled()  # the settings are those of the run
    qtbot.waitUntil(lambda: not panel.is_busy(), timeout=RUN_MS)
    assert not panel.error.isVisible(), panel.error.text()
    assert panel.button.text() == "Measure" and not panel.progress.isVisible()

    [data] = _kept()
    assert data["fingerprint"] == fingerprint(design)
    assert data["asked"]["batch"] == 1 and data["settings"]["device"] == "cpu"
    latency = data["latency"]
    assert 0 < latency["median_s"] < 10 and latency["runs"] >= 3
    assert data["throughput"] is None and data["train"] is None  # batch 1, no training
    assert data["params"] == analyse(design).params
    text = panel.shown_text()
    assert text.splitlines()[0].startswith(f"{design.name} on ")
    assert f"{latency['median_s'] * 1000:.2f} ms per image" in text
    assert not panel.stale and "this design" in panel.note.text()
    if not torch_before:  # the UI process never imports torch, even to read the answer
        assert "torch" not in sys.modules

    # other settings have no figures; choosing the measured ones again shows them
    qtbot.mouseClick(panel.train, LEFT)
    assert panel.train.isChecked() and panel.shown is None and not panel.shown_text()
    qtbot.mouseClick(panel.train, LEFT)
    assert f"{latency['median_s'] * 1000:.2f} ms" in panel.shown_text()
    _press(qtbot, window, Qt.Key.Key_1)  # another tab, and back
    _press(qtbot, window, Qt.Key.Key_6)
    qtbot.waitUntil(panel.isVisible)
    assert panel.shown is not None and not panel.stale

    # the Compare plot's latency axis has the measured design, at its measured figure
    _press(qtbot, window, Qt.Key.Key_3)
    compare = window.insights.compare
    qtbot.waitUntil(compare.plot.isVisible)
    assert compare.axis_key() == "macs"
    qtbot.keyClick(compare.axis, Qt.Key.Key_Down)
    assert compare.axis_key() == "latency"
    [point] = compare.plot.points  # nothing else was measured
    assert point.current and point.x == pytest.approx(latency["median_s"] * 1000)
    assert point.params == data["params"]
    assert "ms at batch 1" in point.describe()
    qtbot.keyClick(compare.axis, Qt.Key.Key_Down)
    assert compare.axis_key() == "throughput"
    assert compare.plot.points[0].x == pytest.approx(1 / latency["median_s"])
    qtbot.keyClick(compare.axis, Qt.Key.Key_Home)
    assert compare.axis_key() == "macs" and len(compare.plot.points) > 1  # presets again

    # an edit: the earlier figures, greyed, with their date
    _press(qtbot, window, Qt.Key.Key_6)
    qtbot.waitUntil(panel.isVisible)
    _type_into(qtbot, window.panel.stages.spin(0, "width"), "24")
    assert window.document.design != design
    assert panel.stale and panel.shown is not None
    assert "earlier edit" in panel.note.text() and panel.shown.when[:4] in panel.note.text()
    assert "placeholder-text" in panel.result.styleSheet()
    qtbot.keyClick(window.panel.stages.spin(0, "width"), Qt.Key.Key_Z, CTRL)  # undo
    assert window.document.design == design
    assert not panel.stale and not panel.result.styleSheet()


def test_cancel_leaves_cancelled_and_keeps_nothing(qtbot, panel):
    qtbot.mouseClick(panel.button, LEFT)
    _timing(qtbot, panel)
    qtbot.mouseClick(panel.button, LEFT)  # Cancel
    qtbot.waitUntil(lambda: not panel.is_busy(), timeout=RUN_MS)
    assert panel.status.text() == "Measurement cancelled."
    assert not panel.error.isVisible() and not panel.shown_text()
    assert panel.button.text() == "Measure" and panel.device.isEnabled()
    assert _kept() == []


def test_an_edit_cancels_a_running_measurement(qtbot, window, panel):
    qtbot.mouseClick(panel.button, LEFT)
    _timing(qtbot, panel)
    job = panel.job
    _type_into(qtbot, window.panel.stages.spin(0, "width"), "24")
    assert not panel.is_busy() and panel.button.text() == "Measure"
    assert "cancelled" in panel.status.text().lower()
    qtbot.waitUntil(lambda: not Path(job.folder).exists(), timeout=RUN_MS)  # the run ended
    assert _kept() == [] and not panel.error.isVisible()


def test_a_missing_device_is_one_line_in_the_tab(qtbot, panel):
    qtbot.keyClick(panel.device, Qt.Key.Key_Down)  # Auto -> CPU -> CUDA
    qtbot.keyClick(panel.device, Qt.Key.Key_Down)
    assert panel.settings().device == "cuda"
    qtbot.mouseClick(panel.button, LEFT)
    qtbot.waitUntil(lambda: not panel.is_busy(), timeout=RUN_MS)
    if not panel.error.isVisible():
        pytest.skip("this machine has a CUDA device")
    message = panel.error.text()
    assert "no CUDA device" in message and "\n" not in message
    assert "--device" not in message  # worded for the tab, not the command line
    assert _kept() == []


def test_no_helper_process_is_one_line_in_the_tab(qtbot, panel, monkeypatch):
    from designer.qt import processes

    def refuse(*_args):
        raise processes.HelperUnavailable("no processes may start here")

    monkeypatch.setattr(processes, "submit", refuse)
    qtbot.mouseClick(panel.button, LEFT)
    qtbot.waitUntil(lambda: not panel.is_busy(), timeout=10_000)
    message = panel.error.text()
    assert "torch helper process could not start: no processes may start here" in message
    assert panel.button.text() == "Measure" and _kept() == []


def test_closing_the_window_while_measuring_cancels_without_waiting(qtbot, window, panel, capfd):
    qtbot.mouseClick(panel.button, LEFT)
    _timing(qtbot, panel)
    job = panel.job
    window.document.undo_stack.setClean()
    window.close()
    assert job.abandoned.is_set() and not panel.is_busy()
    qtbot.waitUntil(lambda: not Path(job.folder).exists(), timeout=5_000)  # the thread ended
    assert "Traceback" not in capfd.readouterr().err
    assert _kept() == []


def test_the_app_never_imports_torch_to_measure():
    """Sending the job to the helper names its function without importing its module."""
    code = (
        "import pickle, sys\n"
        "import designer.qt.main_window\n"
        "from designer.qt.insights.measure_dock import MEASURE\n"
        "pickle.dumps(MEASURE)\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
        "assert pickle.loads(pickle.dumps(MEASURE)).__name__ == 'measure_in_helper'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_a_memory_refusal_names_the_tabs_controls():
    from designer.qt.insights.measure_dock import in_app_words

    line = (
        "input: needs about 1.7 TiB for training at batch 1; cpu has 20 GiB free: lower the"
        " input size (input.height, input.width), or measure inference only (without --train)"
    )
    assert in_app_words(line).endswith(
        ": lower the input size (Input height and width), or measure inference only"
        " (untick Training step)"
    )
