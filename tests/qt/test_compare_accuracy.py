"""The Compare plot's accuracy axis, driven as a user would: keys on the axis combos, the
mouse over the points.

The runs are written as the Train tab writes them (``runs.prepare_run``) under the
test's runs folder ($RESNET_DESIGNER_RUNS_DIR, set by conftest), each metrics.csv in
train.py's columns; nothing trains.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt

from designer.core.measure import MeasureCache, Measurement, MeasureSettings, Timing, fingerprint
from designer.core.presets import load_preset
from designer.qt.insights.compare_dock import NO_TRAINED, NONE_MEASURED
from designer.qt.insights.measure_dock import measure_dir
from designer.qt.insights.pareto_plot import FRONT
from tests.core.test_pareto import write_run
from tests.qt.waiting import settled

CTRL_ALT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
LEFT = Qt.MouseButton.LeftButton
DOWN, HOME = Qt.Key.Key_Down, Qt.Key.Key_Home


def _root() -> Path:
    return Path(os.environ["RESNET_DESIGNER_RUNS_DIR"])


def _open(qtbot, window):
    """The Compare tab, opened with its shortcut (Ctrl+Alt+3)."""
    window.activateWindow()
    qtbot.keyClick(window, Qt.Key.Key_3, CTRL_ALT)
    compare = window.insights.compare
    qtbot.waitUntil(compare.plot.isVisible)
    settled(qtbot, compare.plot)
    return compare


def _accuracy(qtbot, compare) -> None:
    """Best val top-1 on the y axis, chosen with the keyboard."""
    qtbot.keyClick(compare.y_axis, DOWN)
    assert compare.y_key() == "accuracy"


def _by_label(compare) -> dict:
    return {p.label: p for p in compare.plot.points}


def _hover(qtbot, plot, label: str) -> str:
    qtbot.mouseMove(plot, QPoint(2, 2))
    qtbot.waitUntil(lambda: plot.hover_text() == "")
    qtbot.mouseMove(plot, plot.position_of(label))
    qtbot.waitUntil(lambda: plot.hover_text() != "")
    return plot.hover_text()


@pytest.fixture
def trained():
    """Four CIFAR presets trained (ResNet-20 twice), a network of no preset, a broken run."""
    cifar = load_preset("resnet20_cifar")
    folders = {
        "20 first": write_run(_root(), cifar, [0.41, 0.55]),
        "20 best": write_run(_root(), cifar, [0.52, 0.70, 0.69]),
        "32": write_run(_root(), load_preset("resnet32_cifar"), [0.65]),
        "56": write_run(_root(), load_preset("resnet56_cifar"), [0.60, 0.80]),
        "110": write_run(_root(), load_preset("resnet110_cifar"), [0.79]),
        # 100 classes: another network (another fingerprint), more accurate than ResNet-20
        "mine": write_run(_root(), _mine(), [0.72]),
    }
    broken = write_run(_root(), load_preset("resnet44_cifar"), [0.99])
    (broken / "design.resnet.json").write_text("{ damaged")
    return folders


def _mine():
    return dataclasses.replace(load_preset("resnet20_cifar"), name="mine", num_classes=100)


def test_with_nothing_trained_the_plot_says_how_to_start_a_run(qtbot, window):
    compare = _open(qtbot, window)
    assert compare.y_axis.toolTip() and compare.axis.toolTip()
    assert compare.y_axis.focusPolicy() & Qt.FocusPolicy.TabFocus
    assert compare.save_button.isEnabled()
    _accuracy(qtbot, compare)
    assert compare.plot.points == []
    assert compare.plot.empty == NO_TRAINED
    shortcut = window.insights.tab_actions["train"].shortcut().toString()
    assert f"Train tab ({shortcut})" in NO_TRAINED  # the hint names the real shortcut
    compare.plot.grab()  # paints the hint without raising
    assert not compare.save_button.isEnabled()
    assert "Parameters for the y axis" in compare.save_button.toolTip()

    qtbot.keyClick(compare.y_axis, HOME)  # back to parameters: presets, Save again
    assert compare.y_key() == "params" and len(compare.plot.points) > 1
    assert compare.save_button.isEnabled()


def test_parameters_on_x_only_against_accuracy(qtbot, window):
    compare = _open(qtbot, window)
    qtbot.keyClick(compare.axis, DOWN)  # MACs -> Latency: Parameters is skipped
    assert compare.axis_key() == "latency"
    qtbot.keyClick(compare.axis, HOME)
    _accuracy(qtbot, compare)
    qtbot.keyClick(compare.axis, DOWN)  # now MACs -> Parameters
    assert compare.axis_key() == "params"
    qtbot.keyClick(compare.y_axis, HOME)  # params against params: x goes back to MACs
    assert compare.y_key() == "params" and compare.axis_key() == "macs"
    assert compare.save_button.isEnabled()


def test_each_trained_design_is_a_point_at_its_best_val_top1_with_the_front(qtbot, window, trained):
    compare = _open(qtbot, window)
    compare.add_preset("resnet56_cifar")  # pinned: marked as on the MACs axis
    _accuracy(qtbot, compare)
    points = _by_label(compare)
    assert set(points) == {"resnet20_cifar", "resnet32_cifar", "resnet56_cifar"} | {
        "resnet110_cifar",
        "mine",
    }  # one per network; the damaged run is left out
    twenty = points["resnet20_cifar"]
    assert twenty.y == pytest.approx(70.0)  # the best epoch of the best of its two runs
    assert twenty.note == f"best of 2 runs: {trained['20 best'].name}"
    assert points["mine"].y == pytest.approx(72.0) and points["mine"].note.startswith("1 run")
    assert points["resnet56_cifar"].pinned
    # by MACs: ResNet-20 is the cheapest; "mine" (a wider head) a little dearer and more
    # accurate; ResNet-56 the most accurate; ResNet-32 and -110 are dominated
    front = {label for label, p in points.items() if p.front}
    assert front == {"resnet20_cifar", "mine", "resnet56_cifar"}
    assert compare.plot.front_lines() and len(compare.plot.front_lines()[0]) == 5

    plot = compare.plot
    text = _hover(qtbot, plot, "resnet20_cifar")
    assert "70.00% best val top-1" in text and FRONT in text
    assert f"best of 2 runs: {trained['20 best'].name}" in text
    assert FRONT not in _hover(qtbot, plot, "resnet110_cifar")
    plot.grab()

    qtbot.keyClick(compare.axis, DOWN)  # Parameters on x
    assert compare.axis_key() == "params"
    points = _by_label(compare)
    assert points["resnet20_cifar"].x == points["resnet20_cifar"].params
    assert points["resnet56_cifar"].front

    # a trained network of no preset loads its run's copy on a click
    qtbot.mouseClick(plot, LEFT, pos=plot.position_of("mine"))
    assert window.document.design == _mine()
    assert window.document.undo_stack.undoText() == "Load mine from Compare"
    qtbot.waitUntil(lambda: "mine (current)" in _by_label(compare))


def test_a_run_that_ends_shows_when_the_train_tab_says_so(qtbot, window):
    compare = _open(qtbot, window)
    _accuracy(qtbot, compare)
    assert compare.plot.points == []
    write_run(_root(), load_preset("resnet20_cifar"), [0.33])
    compare.runs_changed()  # what the Train tab's runsChanged calls
    [point] = compare.plot.points
    assert point.y == pytest.approx(33.0) and point.front


def test_a_trained_design_never_measured_has_no_point_on_latency(qtbot, window, trained):
    compare = _open(qtbot, window)
    _accuracy(qtbot, compare)
    for _ in range(2):  # MACs -> Parameters -> Latency
        qtbot.keyClick(compare.axis, DOWN)
    assert compare.axis_key() == "latency"
    assert compare.plot.points == [] and compare.plot.empty == NONE_MEASURED

    design = load_preset("resnet56_cifar")
    settings = MeasureSettings(device="cpu", batch=1)
    timing = Timing(0.004, 0.0001, 20, 1)
    result = Measurement(
        design.name, fingerprint(design), settings, "CPU", "2", "2026-01-01T00:00:00", timing
    )
    MeasureCache(measure_dir()).put(design, settings, result)
    compare.measurements_changed()  # what the Measure tab's measured calls
    [point] = compare.plot.points
    assert point.label == "resnet56_cifar" and point.x == pytest.approx(4.0) and point.front
    assert "4 trained design(s) never measured" in compare.status.text()
    assert "4.00 ms" in _hover(qtbot, compare.plot, "resnet56_cifar")
