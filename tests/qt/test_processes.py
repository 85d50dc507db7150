"""Big drawings and torch work run in helper processes and give what the thread would."""

from __future__ import annotations

from designer.core.analysis import analyse
from designer.core.presets import load_preset
from designer.core.verify import torchinfo_totals
from designer.qt.pipeline import PROCESS_LAYERS, draw, lay_out
from designer.qt.processes import run_in_helper


def test_big_layer_graph_is_drawn_in_the_helper_process_identically():
    analysis = analyse(load_preset("preact_resnet1001_cifar"))
    assert len(analysis.layers) > PROCESS_LAYERS
    remote = draw(analysis, "layer", frozenset())
    local = lay_out(analysis, "layer", frozenset())
    assert remote.analysis is analysis
    assert list(remote.graph.nodes) == list(local.graph.nodes)
    assert remote.layout.nodes == local.layout.nodes
    assert remote.layout.edges == local.layout.edges


def test_torch_helper_answers_with_torchinfos_counts():
    design = load_preset("resnet20_cifar").replace(num_classes=7)
    assert run_in_helper("torch", torchinfo_totals, design) == torchinfo_totals(design)
