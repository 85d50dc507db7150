"""Huge designs keep the window answering: a 5 ms heartbeat never stops for long."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import QTimer

from designer.core.analysis import analyse
from designer.core.design import InputSpec

# a freeze guard, not a speed figure (bench/bench_gui.py measures the stalls): it catches a
# huge design's work done in the UI thread, and sits far above what a slow machine adds
MAX_GAP_MS = 400

CASES = {
    "width 1,000,000": lambda d: d.with_stage(3, width=1_000_000),
    "depth 10,000": lambda d: d.with_stage(2, depth=10_000),
    "8192x8192 input": lambda d: d.replace(input=InputSpec(3, 8192, 8192)),
    "10^9 classes": lambda d: d.replace(num_classes=10**9),
}


@pytest.mark.parametrize("case", list(CASES))
def test_huge_design_keeps_the_ui_answering(window, qtbot, case):
    beats: list[float] = []
    heart = QTimer()
    heart.setInterval(5)
    heart.timeout.connect(lambda: beats.append(time.perf_counter()))
    heart.start()
    start = time.perf_counter()
    assert window.document.edit("test", CASES[case])
    qtbot.waitUntil(lambda: not window.is_busy(), timeout=30_000)
    qtbot.wait(30)
    heart.stop()
    gaps = [b - a for a, b in zip([start, *beats], beats, strict=False)]
    assert max(gaps) * 1e3 < MAX_GAP_MS, f"{case}: the UI stalled {max(gaps) * 1e3:.0f} ms"
    expected = analyse(window.document.design)
    assert window.analyses.analysis.params == expected.params
    assert window.inspector.values["params"].text().startswith(f"{expected.params:,}")
    blocks = sum(s.depth for s in window.document.design.stages)
    assert len(window.graph.nodes) >= blocks  # the whole graph is drawn, one node per block


def test_a_newer_drawing_drops_an_unfinished_build(window, qtbot):
    from designer.core.presets import load_preset

    window.document.edit("test", lambda _d: load_preset("preact_resnet1001_cifar"))
    window.set_level("layer")  # 3,340 nodes: built over many event-loop turns
    qtbot.waitUntil(lambda: window.graph.building, timeout=30_000)
    window.set_level("block")
    qtbot.waitUntil(lambda: not window.is_busy(), timeout=30_000)
    assert window.graph.builds_dropped >= 1
    assert "layer1.0" in window.graph.nodes and "layer1.0.conv1" not in window.graph.nodes
