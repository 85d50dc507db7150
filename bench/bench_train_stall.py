"""The UI's longest stall while a run trains and logs every step (issue 17).

The app's real window (offscreen) with the Train tab showing. Two phases of the same
length, side by side, each with a stage-depth edit every half second as a user would
make: first with no run (the baseline), then while the Train tab's own run trains a
CIFAR ResNet-20 on synthetic data on the CPU with ``--print-freq 1``, so train.log
gains a line each step and the tab replots on every poll. Reported: the longest and
99th-percentile gaps of a 5 ms heartbeat in each phase, their ratio, and the ratio of
the training phase's longest gap to the app's stall target (33 ms, issue 14).

The run shares this machine's cores with the window, as it does for a user training
on a laptop's CPU: the stall there is the operating system's scheduling as much as
the app's; the tab's own work per poll is reported on its own (``longest_poll_s``).

Run: QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_train_stall.py [--seconds S]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
_TMP = tempfile.mkdtemp(prefix="bench-train-stall-")
for _name in ("RUNS", "MEASURE", "RECOVERY"):
    os.environ[f"RESNET_DESIGNER_{_name}_DIR"] = os.path.join(_TMP, _name.lower())
os.environ["XDG_CONFIG_HOME"] = os.path.join(_TMP, "config")
os.environ["RESNET_DESIGNER_CONFIRM_MS"] = "0"

import itertools  # noqa: E402

from designer.core import runs  # noqa: E402
from designer.core.presets import load_preset  # noqa: E402

TARGET_MS = 33.0  # the app's stall target (issue 14)
START_TIMEOUT_S = 180.0  # the torch helper and train.py each import torch first


def _spin(app: object, seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()  # type: ignore[attr-defined]
        time.sleep(0.001)


def _phase(app: object, window: object, seconds: float) -> tuple[list[float], int]:
    """Heartbeat gaps (ms) over ``seconds`` with a depth edit every 0.5 s; and the edits."""
    from PySide6.QtCore import QTimer

    beats: list[float] = []
    heart = QTimer()
    heart.setInterval(5)
    heart.timeout.connect(lambda: beats.append(time.perf_counter()))
    edits = 0

    def edit() -> None:
        nonlocal edits
        spin = window.panel.stages.spin(1, "depth")  # type: ignore[attr-defined]
        spin.setValue(3 + edits % 2)
        edits += 1

    editor = QTimer()
    editor.setInterval(500)
    editor.timeout.connect(edit)
    heart.start()
    editor.start()
    _spin(app, seconds)
    heart.stop()
    editor.stop()
    gaps = [(b - a) * 1e3 for a, b in itertools.pairwise(beats)]
    return gaps, edits


def _p99(gaps: list[float]) -> float:
    return statistics.quantiles(gaps, n=100)[98] if len(gaps) > 100 else max(gaps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    seconds = parser.parse_args().seconds

    from designer.qt.app import application
    from designer.qt.main_window import MainWindow

    app = application()
    window = MainWindow(load_preset("resnet20_cifar"))
    window.resize(1440, 900)
    window.show()
    window.insights.show("train")
    panel = window.insights.train
    while window.is_busy():
        app.processEvents()
    _spin(app, 2.0)  # the helper processes start about a second after the window
    panel.device.setCurrentIndex(panel.device.findData("cpu"))
    panel.synthetic.setValue(4096)
    panel.batch.setValue(16)
    panel.epochs.setValue(50)
    panel.print_freq.setValue(1)

    idle, idle_edits = _phase(app, window, seconds)

    panel.start_button.click()
    began = time.perf_counter()
    while not (panel.reader and len(panel.reader.curves.points) >= 3):
        if time.perf_counter() - began > START_TIMEOUT_S or panel.error.text():
            sys.exit(f"the run did not start: {panel.error.text() or 'timed out'}")
        _spin(app, 0.05)
    panel.longest_poll_s = 0.0
    points_before = len(panel.reader.curves.points)
    training, training_edits = _phase(app, window, seconds)
    points = len(panel.reader.curves.points) - points_before
    folder = panel.watched.folder
    runs.stop(folder)
    end = time.perf_counter() + 30
    while runs.Run.read(folder).alive and time.perf_counter() < end:
        _spin(app, 0.1)
    window.document.undo_stack.setClean()
    window.close()

    print(f"{seconds:.0f} s per phase, a depth edit every 0.5 s, 5 ms heartbeat")
    print(f"{'phase':<34}{'longest gap':>14}{'p99 gap':>10}{'edits':>7}")
    print(f"{'no run (baseline)':<34}{max(idle):>11.1f} ms{_p99(idle):>7.1f} ms{idle_edits:>7}")
    print(
        f"{'a run logging every step':<34}{max(training):>11.1f} ms"
        f"{_p99(training):>7.1f} ms{training_edits:>7}"
    )
    print(f"progress lines plotted while measured: {points} ({points / seconds:.1f}/s)")
    print(f"the tab's longest look at the run's files: {panel.longest_poll_s * 1e3:.1f} ms")
    print(f"longest gap, run / baseline: {max(training) / max(idle):.2f}x")
    print(f"longest gap with a run / target {TARGET_MS:.0f} ms: {max(training) / TARGET_MS:.2f}x")


if __name__ == "__main__":
    main()
