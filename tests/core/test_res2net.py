"""Res2Net (Gao et al. 2019) against timm's ``Bottle2neck`` networks and torchinfo.

Each of timm's Res2Net and Res2NeXt models, randomly initialised with randomised norms,
goes through the CLI as a user's checkpoint would: ``open`` recovers the design (its
scale and base width from the shapes), ``export`` writes model.py and ``export
--init-from`` the weights; that file's network takes timm's state dict strictly and has
timm's parameters, FLOPs and outputs. The analysis's rows are torchinfo's.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import timm
import torch

from designer.core.analysis import analyse
from designer.core.codegen import render_model_py
from designer.core.design import DesignError, InputSpec, StemSpec
from designer.core.graph import build_graph
from designer.core.io import design_to_dict, load
from designer.core.presets import load_preset
from designer.core.stages import stage_figures
from designer.core.torch.build import build
from tests.reference import forward_flops, randomised_norms, torchinfo_leaf_rows

SIDE = 64
CLI = [sys.executable, "-m", "designer.cli"]
# timm's name: (scale, width_per_group, groups, stem)
MODELS = {
    "res2net50_26w_4s": (4, 26, 1, "imagenet"),
    "res2net50_26w_6s": (6, 26, 1, "imagenet"),
    "res2net50_26w_8s": (8, 26, 1, "imagenet"),
    "res2net50_48w_2s": (2, 48, 1, "imagenet"),
    "res2net50_14w_8s": (8, 14, 1, "imagenet"),
    "res2net101_26w_4s": (4, 26, 1, "imagenet"),
    "res2next50": (4, 4, 8, "imagenet"),
    "res2net50d": (4, 26, 1, "deep"),
    "res2net101d": (4, 26, 1, "deep"),
}


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, encoding="utf-8", timeout=300
    )


def _import(path: Path) -> object:
    spec = importlib.util.spec_from_file_location(f"res2net_model_{path.parent.name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rows(design: object) -> list[tuple[object, ...]]:
    return [(r.name, r.kind, r.output_shape, r.params, r.macs) for r in analyse(design).layers]  # type: ignore[arg-type]


def test_timm_lists_exactly_these_models() -> None:
    assert sorted(timm.list_models("res2ne*")) == sorted(MODELS)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_a_timm_checkpoint_becomes_an_exact_model_py(name: str, tmp_path: Path) -> None:
    theirs = randomised_norms(timm.create_model(name, pretrained=False))
    checkpoint = tmp_path / f"{name}.pth"
    torch.save(theirs.state_dict(), checkpoint)
    design_file = tmp_path / f"{name}.resnet.json"
    opened = _run("open", str(checkpoint), "-o", str(design_file))
    assert opened.returncode == 0, opened.stderr
    assert "res2net blocks" in opened.stderr and "scale" in opened.stderr
    scale, base_width, groups, stem = MODELS[name]
    data = json.loads(design_file.read_text(encoding="utf-8"))
    assert (data["block"], data.get("scale", 4)) == ("res2net", scale)
    assert (data["width_per_group"], data["groups"], data["stem"]["kind"]) == (
        base_width,
        groups,
        stem,
    )
    model_py = tmp_path / "model.py"
    exported = _run("export", str(design_file), "-o", str(model_py))
    assert exported.returncode == 0, exported.stderr
    text = model_py.read_text(encoding="utf-8")
    assert "class Bottle2neck(nn.Module):" in text
    assert f"SCALE = {scale}" in text
    weights = tmp_path / "weights.pt"
    initialised = _run(
        "export", str(design_file), "-o", str(weights), "--init-from", str(checkpoint)
    )
    assert initialised.returncode == 0, initialised.stderr

    ours = _import(model_py).build_model().eval()  # type: ignore[attr-defined]
    ours.load_state_dict(theirs.state_dict(), strict=True)
    count = sum(p.numel() for p in theirs.parameters())
    assert sum(p.numel() for p in ours.parameters()) == count
    assert forward_flops(ours, SIDE) == forward_flops(theirs, SIDE)
    x = torch.randn(2, 3, SIDE, SIDE)
    with torch.no_grad():
        reference = theirs(x)
        assert torch.allclose(ours(x), reference, atol=1e-4, rtol=1e-4)
        exported_state = torch.load(weights, weights_only=True)
        exported_state = exported_state.get("state_dict", exported_state)
        ours.load_state_dict(exported_state, strict=True)
        assert torch.allclose(ours(x), reference, atol=1e-4, rtol=1e-4)
    assert analyse(load(design_file)).params == count


@pytest.mark.parametrize(
    "changes",
    [
        {"scale": 4, "width_per_group": 26},
        {"scale": 2, "width_per_group": 48},
        {"scale": 4, "width_per_group": 4, "groups": 8},  # Res2NeXt
        {"scale": 3, "width_per_group": 26, "shortcut": "avg_down", "stem": StemSpec("deep", 32)},
        {"scale": 5, "width_per_group": 26, "se_ratio": 0.25},
    ],
)
def test_every_row_is_torchinfos(changes: dict[str, object]) -> None:
    design = load_preset("resnet50").replace(
        block="res2net", input=InputSpec(3, SIDE, SIDE), **changes
    )
    stats, rows = torchinfo_leaf_rows(build(design), (3, SIDE, SIDE))
    assert _rows(design) == rows
    assert ("layer2.0.pool", "AvgPool2d") in [r[:2] for r in rows]
    assert analyse(design).macs == stats.total_mult_adds
    assert analyse(design).params == stats.total_params


def test_a_dilated_stage_is_timms() -> None:
    """timm's output_stride 16: the last stage's convs dilate, its first block pools at 1."""
    theirs = randomised_norms(timm.create_model("res2net50_26w_4s", output_stride=16))
    design = load_preset("resnet50").replace(
        block="res2net", width_per_group=26, input=InputSpec(3, SIDE, SIDE)
    )
    design = design.with_stage(3, dilate=True)
    ours = build(design).eval()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    x = torch.randn(1, 3, SIDE, SIDE)
    with torch.no_grad():
        assert torch.allclose(ours(x), theirs(x), atol=1e-4, rtol=1e-4)
    assert forward_flops(ours, SIDE) == forward_flops(theirs, SIDE)


def test_model_py_reads_as_timms() -> None:
    text = render_model_py(load_preset("resnet50").replace(block="res2net", groups=8))
    for line in (
        "class Bottle2neck(nn.Module):",
        "self.conv1 = conv1x1(in_channels, width * SCALE)",
        "self.convs = nn.ModuleList()",
        "self.bns = nn.ModuleList()",
        "self.convs.append(conv3x3(width, width, stride=stride, groups=GROUPS))",
        "self.pool = nn.AvgPool2d(3, stride, padding=1) if is_first else None",
        "out = self.multi_scale(out)",
        "splits = torch.split(x, self.width, 1)",
        "return torch.cat(outs, 1)",
    ):
        assert line in text, line


def test_the_graph_draws_the_splits_beside_each_other() -> None:
    """A first block's convs each see their own split; later blocks' form a chain."""
    design = load_preset("resnet50").replace(block="res2net", scale=4)
    graph = build_graph(analyse(design), "layer")
    first = "layer2.0"
    for i in range(3):
        assert graph.has_edge(f"{first}.split", f"{first}.convs.{i}")
    assert graph.has_edge(f"{first}.split", f"{first}.pool")
    assert graph.has_edge(f"{first}.pool", f"{first}.cat")
    later = "layer2.1"
    assert not graph.has_edge(f"{later}.split", f"{later}.convs.1")
    assert (
        graph.nodes[f"{first}.cat"]["output_shape"][0]
        == graph.nodes[f"{first}.conv3"]["input_shape"][0]
    )


def test_res2net_50_is_50_layers_deep() -> None:
    """The paper's count: the hierarchy of 3x3s is one layer, as the 3x3 it replaces."""
    assert analyse(load_preset("resnet50").replace(block="res2net", scale=8)).depth == 50


def test_a_first_block_strides_once_in_the_geometry() -> None:
    """Its splits are convolved side by side: the output stride is the plain ResNet's."""
    res2 = load_preset("resnet50").replace(block="res2net")
    plain = load_preset("resnet50")
    assert [f.output_stride for f in stage_figures(analyse(res2))] == [
        f.output_stride for f in stage_figures(analyse(plain))
    ]


def test_anti_aliasing_is_refused_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(DesignError, match="res2net blocks stride inside a module of their own"):
        load_preset("resnet50").replace(block="res2net", anti_alias="blur")
    path = tmp_path / "bad.resnet.json"
    data = design_to_dict(load_preset("resnet50"))
    data.update(block="res2net", anti_alias="avg")
    path.write_text(json.dumps(data), encoding="utf-8")
    result = _run("validate", str(path))
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith("anti_alias") or "anti_alias" in line, line


def test_a_scale_of_one_is_refused() -> None:
    with pytest.raises(DesignError, match="scale"):
        load_preset("resnet50").replace(block="res2net", scale=1)


def test_the_scale_is_only_read_by_res2net() -> None:
    base = load_preset("resnet50")
    assert _rows(base.replace(scale=8)) == _rows(base)
    assert _rows(base.replace(block="res2net", scale=8)) != _rows(base.replace(block="res2net"))
