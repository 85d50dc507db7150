"""The design graph against the network torch actually runs (hooks on every leaf call)."""

from __future__ import annotations

import networkx as nx
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from torch import nn

from designer.core.analysis import analyse
from designer.core.design import Design
from designer.core.graph import build_graph, collapse_stages
from designer.core.presets import load_preset
from designer.core.torch.build import build
from tests.reference import torchvision_models
from tests.reference_figures import PREACT_RESNET1001_PARAMS
from tests.strategies import small_designs

OPS = {"input", "add", "mul"}  # nodes that are not module calls


def leaf_calls(model: nn.Module, shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
    """Every leaf module call of a forward pass, "#k" on the k-th call of a reused module."""
    calls: dict[str, tuple[int, ...]] = {}
    seen: dict[str, int] = {}
    handles = []
    for name, module in model.named_modules():
        if name and not list(module.children()):

            def hook(_m: nn.Module, _i: object, out: torch.Tensor, name: str = name) -> None:
                seen[name] = seen.get(name, 0) + 1
                key = name if seen[name] == 1 else f"{name}#{seen[name]}"
                calls[key] = tuple(out.shape[1:])

            handles.append(module.register_forward_hook(hook))
    model.eval()
    with torch.no_grad():  # on meta: shapes only, no arithmetic
        model(torch.zeros(1, *shape, device="meta"))
    for h in handles:
        h.remove()
    return calls


def module_nodes(graph: nx.DiGraph) -> dict[str, tuple[int, ...]]:
    return {n: d["output_shape"] for n, d in graph.nodes(data=True) if d["kind"] not in OPS}


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_layer_nodes_are_torchvision_leaf_calls_with_their_shapes(name: str) -> None:
    with torch.device("meta"):
        model = getattr(torchvision_models(), name)(weights=None)
    reference = leaf_calls(model, (3, 224, 224))
    graph = build_graph(analyse(load_preset(name)), "layer")
    ours = module_nodes(graph)
    assert ours.pop("flatten") == (ours["avgpool"][0],)  # torchvision calls torch.flatten
    assert ours == reference
    blocks = [b for b in analyse(load_preset(name)).blocks if b.shortcut]
    # + flatten + one add per block + the input
    assert graph.number_of_nodes() == len(reference) + 1 + len(blocks) + 1


def _se_design() -> Design:
    return load_preset("resnet50").replace(name="se", se_ratio=0.25, shortcut="avg_down")


@pytest.mark.parametrize(
    "design",
    [
        load_preset("resnet20_cifar"),  # zero-pad shortcuts
        load_preset("preact_resnet164_cifar"),  # pre-activation, shortcut from the pre-act
        load_preset("resnetv2_builder"),
        _se_design(),  # squeeze-excite branch and avg-pool shortcut
    ],
    ids=lambda d: d.name,
)
def test_layer_nodes_match_the_built_network(design: Design) -> None:
    model = build(design, device="meta")
    reference = leaf_calls(model, (3, design.input.height, design.input.width))
    graph = build_graph(analyse(design), "layer")
    assert module_nodes(graph) == reference


def check_graph(graph: nx.DiGraph, design: Design) -> None:
    """The invariants every graph keeps, at either level."""
    result = analyse(design)
    assert nx.is_directed_acyclic_graph(graph)
    assert [n for n in graph if graph.in_degree(n) == 0] == ["input"]
    sinks = [n for n in graph if graph.out_degree(n) == 0]
    assert len(sinks) == 1 and graph.nodes[sinks[0]]["output_shape"] == result.output_shape
    for u, _v, d in graph.edges(data=True):
        assert d["shape"] == graph.nodes[u]["output_shape"]
    clusters = graph.graph["stages"]
    members = [n for ids in clusters.values() for n in ids]
    assert len(members) == len(set(members)) == graph.number_of_nodes() - 1
    for stage, ids in clusters.items():
        assert all(graph.nodes[n]["stage"] == stage for n in ids)
        assert stage in graph.graph["stage_labels"]
    assert sum(d["params"] for _, d in graph.nodes(data=True)) == result.params
    assert sum(d["macs"] for _, d in graph.nodes(data=True)) == result.macs


def check_residuals(graph: nx.DiGraph, design: Design) -> None:
    """One add per residual block, entered by the main path and exactly one skip edge."""
    blocks = [b for b in analyse(design).blocks if b.shortcut]
    # the residual adds (a Res2Net hierarchy's adds lie on its paths)
    adds = [n for n, d in graph.nodes(data=True) if d["kind"] == "add" and d["branch"] == "main"]
    assert sorted(graph.nodes[a]["block"] for a in adds) == sorted(b.name for b in blocks)
    for add in adds:
        skips = [d["skip"] for _, _, d in graph.in_edges(add, data=True)]
        assert sorted(skips) == [False, True]
    for block in blocks:
        add = f"{block.name}.add"
        assert graph.nodes[add]["output_shape"] == block.output_shape
        skip_path = [u for u, _, d in graph.in_edges(add, data=True) if d["skip"]]
        if block.shortcut == "identity":  # the skip edge comes straight from the block input
            assert graph.nodes[skip_path[0]]["block"] != block.name
        else:
            assert graph.nodes[skip_path[0]]["branch"] == "shortcut"


@pytest.mark.parametrize(
    "name", ["resnet18", "resnet50", "resnet20_cifar", "preact_resnet164_cifar", "resnetv2_builder"]
)
def test_preset_graphs_keep_their_invariants(name: str) -> None:
    design = load_preset(name)
    for level in ("block", "layer"):
        check_graph(build_graph(analyse(design), level), design)
    check_residuals(build_graph(analyse(design), "layer"), design)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_designs())
def test_random_designs_keep_the_invariants(design: Design) -> None:
    graph = build_graph(analyse(design), "layer")
    check_graph(graph, design)
    check_residuals(graph, design)
    check_graph(build_graph(analyse(design), "block"), design)


def test_block_level_is_the_chain_of_blocks() -> None:
    result = analyse(load_preset("resnet50"))
    graph = build_graph(result, "block")
    assert list(nx.topological_sort(graph)) == ["input"] + [b.name for b in result.blocks]
    assert len(graph.graph["stages"][2]) == 6  # ResNet-50's third stage has 6 blocks
    assert graph.graph["stage_labels"][1] == "layer2 · 4 blocks · 512x28x28"


def test_labels_name_kernel_stride_and_width() -> None:
    graph = build_graph(analyse(load_preset("resnext50_32x4d")), "layer")
    assert graph.nodes["conv1"]["label"] == "conv 7x7/2, 64"
    assert graph.nodes["layer2.0.conv2"]["label"] == "conv 3x3/2, 256, g32"  # v1.5 stride
    assert graph.nodes["layer2.0.downsample.0"]["label"] == "conv 1x1/2, 512"
    assert graph.nodes["layer1.0.relu#3"]["kind"] == "act"


def test_collapse_stages_keeps_the_outside_edges_and_totals() -> None:
    graph = build_graph(analyse(load_preset("resnet50")), "layer")
    small = collapse_stages(graph, {1, 2})
    inside = len(graph.graph["stages"][1]) + len(graph.graph["stages"][2])
    assert small.number_of_nodes() == graph.number_of_nodes() - inside + 2
    assert nx.is_directed_acyclic_graph(small)
    assert small.graph["stages"][1] == ["layer2"] and small.nodes["layer3"]["kind"] == "stage"
    assert small.edges["layer2", "layer3"]["shape"] == (512, 28, 28)
    assert small.nodes["layer3"]["output_shape"] == (1024, 14, 14)
    total = sum(d["params"] for _, d in small.nodes(data=True))
    assert total == analyse(load_preset("resnet50")).params
    assert graph.number_of_nodes() == 176  # the original is untouched


def test_bad_level_is_an_error_naming_the_choices() -> None:
    with pytest.raises(ValueError, match="level: 'net' is not one of block, layer"):
        build_graph(analyse(load_preset("resnet18")), "net")  # type: ignore[arg-type]


# --- huge diagrams stay bounded ----------------------------------------------------------


@pytest.mark.parametrize("level", ["block", "layer"])
def test_eliding_keeps_the_totals_and_a_connected_picture(level: str) -> None:
    from designer.core.graph.network import elide_repeats, needs_eliding

    full = build_graph(analyse(load_preset("preact_resnet1001_cifar")), level)
    assert needs_eliding(full)
    small, hidden = elide_repeats(full)
    assert hidden == 3 * 108
    assert not needs_eliding(small) and nx.is_directed_acyclic_graph(small)
    total = lambda g, key: sum(d[key] for _, d in g.nodes(data=True))  # noqa: E731
    assert total(small, "params") == total(full, "params") == PREACT_RESNET1001_PARAMS
    assert total(small, "macs") == total(full, "macs")
    assert nx.descendants(small, "input") == set(small) - {"input"}
    blocks = {d["block"] for _, d in small.nodes(data=True)}
    assert {"layer1.0", "layer1.1", "layer1.110", "layer3.110"} <= blocks
    assert "layer1.2..layer1.109" in small and "layer1.55" not in blocks
    assert set(small.graph["stages"][0]) <= set(small)


def test_small_designs_are_never_elided() -> None:
    from designer.core.graph.network import needs_eliding

    for name, level in (("resnet50", "layer"), ("resnet152", "block")):
        assert not needs_eliding(build_graph(analyse(load_preset(name)), level))


def test_our_own_modules_are_drawn_as_they_declare():
    """Drop path is a regulariser beside the branch, not an activation; a zero-pad
    shortcut is a pad: each module says so itself, the graph keeps no list of names."""
    design = load_preset("resnet20_cifar").replace(drop_path_rate=0.1)
    graph = build_graph(analyse(design), "layer")
    nodes = graph.nodes.values()
    drops = [n for n in nodes if n.get("label") == "drop path"]
    assert len(drops) == 9 and {n["kind"] for n in drops} == {"dropout"}
    pads = [n for n in nodes if str(n.get("label", "")).startswith("zero-pad")]
    assert pads and {n["kind"] for n in pads} == {"pad"}
