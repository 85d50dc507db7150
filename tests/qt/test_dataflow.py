"""One owner for the analysis: an edit is analysed once, and every view gets that object."""

from __future__ import annotations

import sys
import threading

import pytest
from PySide6.QtCore import Qt

from designer.core import analysis as core_analysis
from designer.core.presets import load_preset
from designer.qt import confirm


@pytest.fixture
def analyse_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[object, bool]]:
    """Every ``analyse`` call made through any app module: (design, on the UI thread)."""
    calls: list[tuple[object, bool]] = []
    real = core_analysis.analyse

    def counting(design):
        calls.append((design, threading.current_thread() is threading.main_thread()))
        return real(design)

    for name, module in list(sys.modules.items()):
        if name.startswith("designer.qt") and getattr(module, "analyse", None) is real:
            monkeypatch.setattr(module, "analyse", counting)
    monkeypatch.setattr(core_analysis, "analyse", counting)
    return calls


def _type_depth(qtbot, window, stage: int, depth: int) -> None:
    """Type a depth into a stage's spin box and press Enter, as a user would."""
    spin = window.panel.stages.spin(stage, "depth")
    spin.setFocus()
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin, str(depth))
    qtbot.keyClick(spin, Qt.Key.Key_Return)


def test_an_edit_is_analysed_once_with_every_view_open(qtbot, window, analyse_calls):
    for name in ("lint", "numbers"):
        window.insights.show(name)
    analyse_calls.clear()
    _type_depth(qtbot, window, 2, 23)  # ResNet-50 -> ResNet-101
    qtbot.waitUntil(lambda: not window.is_busy(), timeout=10_000)
    assert window.document.design == load_preset("resnet101").replace(
        name=window.document.design.name
    )
    assert [design for design, _ui in analyse_calls] == [window.document.design]
    assert window.analyses.runs == 2  # the first design, then this edit


def test_every_view_gets_the_same_analysis_object(qtbot, window, monkeypatch):
    window.insights.show("lint")
    window.insights.show("numbers")
    published = []
    window.analyses.analysisChanged.connect(published.append)
    window.panel.stages.spin(0, "depth").setValue(5)
    qtbot.waitUntil(lambda: not window.is_busy(), timeout=10_000)
    assert len(published) == 1
    analysis = published[0]
    assert analysis is window.analyses.analysis
    assert analysis.design == window.document.design
    assert window.inspector._analysis is analysis
    assert window.insights.numbers.analysis is analysis
    assert window.insights.lint.analysis is analysis
    assert window.drawing is not None and window.drawing.analysis is analysis

    # the confirmer checks exactly the published object (torchinfo stubbed: no torch here)
    monkeypatch.setattr(confirm, "totals_in_helper", lambda d: (analysis.params, analysis.macs))
    window.confirmer.start_now()
    assert window.confirmer._pending is analysis
    qtbot.waitUntil(lambda: window.confirmer.last is not None, timeout=10_000)
    assert window.confirmer.last == (True, "✓ confirmed by torchinfo")


def test_undoing_a_huge_edit_before_its_analysis_reuses_the_held_one(qtbot, window, analyse_calls):
    from designer.qt.analysis_model import SYNC_ANALYSIS_BLOCKS

    before = window.analyses.analysis
    published = []
    window.analyses.analysisChanged.connect(published.append)
    window.document.edit("test", lambda d: d.with_stage(2, depth=SYNC_ANALYSIS_BLOCKS + 1))
    assert not window.analyses.is_current()
    window.document.undo_stack.undo()  # back before the huge analysis came
    assert published == [before] and window.analyses.is_current()  # at once, not recomputed
    qtbot.waitUntil(lambda: not window.is_busy(), timeout=30_000)
    assert published == [before]  # the huge design's answer came too late and was dropped
    assert not any(on_ui for _design, on_ui in analyse_calls)
    assert window.inspector._analysis is before


def test_a_huge_design_is_analysed_off_the_ui_thread_newest_first(qtbot, window, analyse_calls):
    from designer.qt.analysis_model import SYNC_ANALYSIS_BLOCKS

    published = []
    window.analyses.analysisChanged.connect(published.append)
    outdated = []
    window.analyses.outdated.connect(lambda: outdated.append(True))
    base = window.document.design
    first = base.with_stage(2, depth=SYNC_ANALYSIS_BLOCKS + 1)
    second = base.with_stage(2, depth=SYNC_ANALYSIS_BLOCKS + 2)
    window.document.edit("test", lambda _d: first)
    assert window.analyses.analysis.design == base  # still the old numbers, marked outdated
    assert outdated and not window.analyses.is_current()
    window.document.edit("test", lambda _d: second)  # while the first one is analysed
    qtbot.waitUntil(lambda: not window.is_busy(), timeout=30_000)
    assert [a.design for a in published] == [second]  # the stale one was never shown
    assert window.inspector._analysis is published[0]
    assert not any(on_ui for _design, on_ui in analyse_calls)
    assert len(window.graph.nodes) >= SYNC_ANALYSIS_BLOCKS


def test_docks_never_analyse_while_closed(qtbot, window, analyse_calls):
    analyse_calls.clear()
    for depth in (2, 3, 4):
        window.panel.stages.spin(1, "depth").setValue(depth)
    assert len(analyse_calls) == 3  # one per edit: the model's
    window.insights.show("lint")  # catches up from the model, without analysing
    assert len(analyse_calls) == 3
    assert window.insights.lint.analysis is window.analyses.analysis
