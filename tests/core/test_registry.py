"""The parts registry: each kind described once, and everything derived from that description.

The analysis, the generated model.py (which build() runs), the graph and the
receptive fields all read the ops a kind declares; these tests add and alter
kinds in place to show that nothing else names them.
"""

from __future__ import annotations

import traceback
import typing
from pathlib import Path

import pytest
import torch

from designer.core import design as design_module
from designer.core.analysis import analyse
from designer.core.blocks import ACTIVATIONS, BLOCK_KINDS, SHORTCUT_KINDS, STEM_KINDS
from designer.core.blocks.kinds import BlockKind, BlockLayout, symbols
from designer.core.blocks.ops import Act, Conv, Norm
from designer.core.codegen import render_model_py
from designer.core.design import Design, StageSpec, StemSpec
from designer.core.graph import build_graph
from designer.core.presets import load_preset
from designer.core.torch.build import build
from tests.reference import torchinfo_leaf_rows
from tests.reference_figures import TIMM_COUNTS


def test_the_schema_names_exactly_the_registered_kinds() -> None:
    assert set(typing.get_args(design_module.BlockName)) == set(BLOCK_KINDS)
    assert set(typing.get_args(design_module.StemName)) == set(STEM_KINDS)
    assert set(typing.get_args(design_module.ShortcutName)) == set(SHORTCUT_KINDS)
    assert tuple(ACTIVATIONS) == design_module.ACTIVATIONS


def _rows(design: Design) -> list[tuple]:
    return [(r.name, r.kind, r.output_shape, r.params, r.macs) for r in analyse(design).layers]


def _torchinfo(design: Design) -> list[tuple]:
    shape = (design.input.channels, design.input.height, design.input.width)
    return torchinfo_leaf_rows(build(design), shape)[1]


def test_a_block_kind_added_as_one_entry_is_analysed_built_and_exported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A new kind (three 3x3 convs) needs its entry and its schema name, nothing more."""
    layout = BlockLayout(
        main=(
            Conv("conv1", 3, "in", "out", stride="stride"),
            Norm("bn1", "out"),
            Act(),
            Conv("conv2", 3, "out", "out"),
            Norm("bn2", "out"),
            Act(),
            Conv("conv3", 3, "out", "out"),
            Norm("bn3", "out"),
        ),
        post=(Act(),),
    )
    kind = BlockKind(
        name="triple",
        class_name="TripleBlock",
        label="triple",
        expansion=1,
        preact=False,
        layout=lambda design: layout,
        summary=lambda design: "Three 3x3 convolutions, plus the shortcut.",
        describe=lambda design, grouping: "triple (three 3x3 convs)",
    )
    monkeypatch.setitem(BLOCK_KINDS, "triple", kind)
    monkeypatch.setattr(design_module, "BLOCKS", (*design_module.BLOCKS, "triple"))
    design = load_preset("resnet20_cifar").replace(block="triple", se_ratio=0.25)
    assert _rows(design) == _torchinfo(design)
    assert analyse(design).depth == 1 + 3 * 9 + 1
    assert "class TripleBlock(nn.Module):" in render_model_py(design)
    torch.manual_seed(0)
    model = build(design)
    assert list(model.state_dict())[:3] == ["conv1.weight", "bn1.weight", "bn1.bias"]
    assert "layer1.0.conv3.weight" in model.state_dict()


def test_an_added_activation_reaches_the_analysis_and_the_network(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from designer.core.blocks.activations import Activation

    monkeypatch.setitem(ACTIVATIONS, "tanh", Activation("Tanh", "nn.Tanh()"))
    monkeypatch.setattr(design_module, "ACTIVATIONS", tuple(ACTIVATIONS))
    design = load_preset("resnet20_cifar").replace(activation="tanh")
    assert _rows(design) == _torchinfo(design)
    assert isinstance(build(design).layer1[0].tanh, torch.nn.Tanh)


def test_the_graph_follows_declared_roles_not_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """Renamed modules leave the residual structure (main, shortcut, add) unchanged."""
    base = load_preset("resnet18")
    reference = build_graph(analyse(base), "layer")
    original = BLOCK_KINDS["basic"]
    renamed = BlockLayout(
        main=(
            Conv("first", 3, "in", "out", stride="stride"),
            Norm("norm_a", "out"),
            Act(),
            Conv("second", 3, "out", "out"),
            Norm("norm_b", "out"),
        ),
        post=(Act(),),
    )
    monkeypatch.setitem(
        BLOCK_KINDS, "basic", BlockKind(**{**original.__dict__, "layout": lambda d: renamed})
    )
    graph = build_graph(analyse(base), "layer")
    assert graph.number_of_nodes() == reference.number_of_nodes()
    assert sorted(d["kind"] for _, d in graph.nodes(data=True)) == sorted(
        d["kind"] for _, d in reference.nodes(data=True)
    )
    add = "layer2.0.add"
    feeding = {graph.nodes[u]["name"]: d["skip"] for u, _, d in graph.in_edges(add, data=True)}
    assert feeding == {"layer2.0.norm_b": False, "layer2.0.downsample.1": True}
    assert [graph.nodes[v]["name"] for v in graph.successors(add)] == ["layer2.0.relu"]


def test_a_preactivated_shortcut_taps_the_preactivation() -> None:
    graph = build_graph(analyse(load_preset("preact_resnet164_cifar")), "layer")
    projection = "layer2.0.downsample.0"
    (source,) = graph.predecessors(projection)
    assert graph.nodes[source]["name"] == "layer2.0.relu"  # after bn1, not the block's input
    roles = {r.role for r in analyse(load_preset("preact_resnet164_cifar")).layers}
    assert roles == {"pre", "main", "shortcut"}


def test_tracebacks_show_the_generated_lines() -> None:
    """build() runs model.py's text under a registered name: errors point into it."""
    model = build(load_preset("resnet20_cifar"))
    with pytest.raises(RuntimeError) as caught:
        model(torch.randn(1, 5, 32, 32))  # five channels for a three-channel stem
    frames = traceback.extract_tb(caught.value.__traceback__)
    ours = [f for f in frames if f.filename.startswith("<resnet-designer model.py")]
    assert ours and all(f.line for f in ours)
    assert any("self.conv1(x)" in f.line for f in ours)


@pytest.mark.parametrize(
    "name", ['"""; open("MARKER", "w") #', "'''\nopen('MARKER', 'w')\n'''", "\\\n\x00\u2028"]
)
def test_building_a_hostile_name_runs_none_of_it(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    design = load_preset("resnet20_cifar").replace(name=name)
    torch.manual_seed(0)
    ours = build(design).state_dict()
    torch.manual_seed(0)
    plain = build(load_preset("resnet20_cifar")).state_dict()
    assert list(tmp_path.iterdir()) == []
    assert all(torch.equal(ours[k], plain[k]) for k in plain)


def test_tiered_stem_equals_timms_resnet50t() -> None:
    """ResNet-T (timm's ``stem_type='deep_tiered'``), added as one stem entry."""
    import timm
    import torchinfo

    design = load_preset("resnet50").replace(stem=StemSpec("deep_tiered", 64), shortcut="avg_down")
    theirs = timm.create_model("resnet50t", pretrained=False)
    stats = torchinfo.summary(theirs, input_size=(1, 3, 224, 224), verbose=0, device="meta")
    result = analyse(design)
    assert (result.params, result.macs) == (stats.total_params, stats.total_mult_adds)
    assert (result.params, result.macs) == TIMM_COUNTS["resnet50t"]
    stem = ("conv1.", "bn1.")
    ours = {k: v.shape for k, v in build(design, device="meta").state_dict().items()}
    reference = {k: v.shape for k, v in theirs.state_dict().items()}
    assert {k: v for k, v in ours.items() if k.startswith(stem)} == {
        k: v for k, v in reference.items() if k.startswith(stem)
    }


def test_stems_check_the_width_they_divide() -> None:
    base = load_preset("resnet50")
    with pytest.raises(design_module.DesignError, match="multiple of 8"):
        base.replace(stem=StemSpec("deep_tiered", 60))
    assert base.replace(stem=StemSpec("deep_tiered", 64)).stem.width == 64


def test_stage_expansion_defaults_come_from_the_kind() -> None:
    base = load_preset("resnet18")
    assert design_module.stage_out_width(base, StageSpec(2, 64)) == 64
    assert design_module.stage_out_width(load_preset("resnet50"), StageSpec(2, 64)) == 256


@pytest.mark.parametrize("name", sorted(BLOCK_KINDS))
def test_a_kind_declares_the_options_its_ops_read(name: str) -> None:
    """``grouped`` and ``places_stride`` are what the kind's ops do, not a separate claim."""
    kind = BLOCK_KINDS[name]
    design = load_preset("resnet50").replace(block=name)
    ops = (*kind.layout(design).pre, *kind.layout(design).main)
    assert kind.grouped == ("groups" in symbols(ops) and "width" in symbols(ops))
    on_1x1 = kind.layout(design.replace(stride_on="1x1"))
    assert kind.places_stride == (on_1x1 != kind.layout(design))
