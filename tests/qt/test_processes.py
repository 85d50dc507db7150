"""Big drawings and torch work run in helper processes and give what the thread would."""

from __future__ import annotations

from designer.core.analysis import analyse
from designer.core.presets import load_preset
from designer.core.torch.verify import torchinfo_totals
from designer.qt.pipeline import PROCESS_NODES, draw, graph_size, lay_out
from designer.qt.processes import run_in_helper


def test_big_layer_graph_is_drawn_in_the_helper_process_identically():
    analysis = analyse(load_preset("preact_resnet1001_cifar"))
    assert graph_size(analysis, "layer") > PROCESS_NODES
    remote = draw(analysis, "layer", frozenset())
    local = lay_out(analysis, "layer", frozenset())
    assert remote.analysis is analysis
    assert list(remote.graph.nodes) == list(local.graph.nodes)
    assert remote.layout.nodes == local.layout.nodes
    assert remote.layout.edges == local.layout.edges


def test_torch_helper_answers_with_torchinfos_counts():
    design = load_preset("resnet20_cifar").replace(num_classes=7)
    assert run_in_helper("torch", torchinfo_totals, design) == torchinfo_totals(design)


def test_collector_freezes_after_a_drawing_and_collects_when_idle(window, qtbot):
    import gc

    from designer.core.presets import load_preset as preset

    gc.unfreeze()
    window.document.edit("bigger", lambda _d: preset("resnet152"))
    qtbot.waitUntil(lambda: not window.is_busy(), timeout=20_000)
    assert gc.get_freeze_count() > 0  # the drawing's survivors are out of full passes
    assert window.collector._idle.isActive()
    import weakref

    class Node:
        pass

    cycle = Node()
    cycle.self = cycle  # garbage only the collector can free
    alive = weakref.ref(cycle)
    window.collector.settle()  # frozen with the drawing's survivors...
    del cycle
    gc.collect()
    assert alive() is not None  # ...so ordinary passes skip it
    window.collector.collect_now()
    assert alive() is None  # the idle collection reclaims it


def test_a_jobs_exception_comes_back_as_itself():
    import pytest

    with pytest.raises(ValueError, match="invalid literal"):
        run_in_helper("draw", int, "not a number")


def test_a_helper_that_dies_mid_job_is_unavailable_then_replaced():
    import os

    import pytest

    from designer.qt.processes import HelperUnavailable

    first = run_in_helper("draw", os.getpid)
    with pytest.raises(HelperUnavailable, match="exit code 3"):
        run_in_helper("draw", os._exit, 3)
    second = run_in_helper("draw", os.getpid)
    assert second not in (first, os.getpid())
