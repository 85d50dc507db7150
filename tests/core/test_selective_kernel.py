"""Selective Kernel networks (Li et al. 2019) against timm's ``sknet.py`` and torchinfo.

Every timm SK-ResNet, randomly initialised with random norms, goes through the CLI as a
user's checkpoint would: ``open`` recovers the design, ``export`` writes model.py and,
``--init-from`` the checkpoint, its weights; model.py's network takes both timm's state
dict and the exported weights strictly, has timm's parameters and FLOPs (torch's counter)
and gives timm's outputs. The closed-form rows are torchinfo's, module by module.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import timm
import torch
from timm.layers import BatchNormAct2d
from timm.layers.helpers import make_divisible

from designer.core.analysis import analyse
from designer.core.blocks.selective_kernel import sk_channels
from designer.core.codegen import render_model_py
from designer.core.design import Design, DesignError, InputSpec, StageSpec, StemSpec
from designer.core.graph import build_graph
from designer.core.io import design_to_dict, load
from designer.core.presets import load_preset
from designer.core.torch.build import build
from tests.core.test_graph import leaf_calls, module_nodes
from tests.reference import forward_flops, randomised_norms, torchinfo_leaf_rows

SIDE = 64
ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "designer"]
MODELS = ["skresnet18", "skresnet34", "skresnet50", "skresnet50d", "skresnext50_32x4d"]


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The CLI in ``cwd``, importing this checkout's designer (as the tests do)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=300,
        cwd=cwd,
        env=env,
    )


def _import(path: Path) -> object:
    spec = importlib.util.spec_from_file_location(f"sk_model_{path.parent.name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("channels", "ratio", "divisor"),
    [
        (c, r, d)
        for c in (8, 64, 100, 256, 512, 2048)
        for r, d in ((1 / 16, 8), (1 / 8, 16), (1 / 16, 32), (0.3, 7))
    ],
)
def test_the_attention_width_is_timms(channels: int, ratio: float, divisor: int) -> None:
    assert sk_channels(channels, ratio, divisor) == make_divisible(channels * ratio, divisor)


@pytest.mark.parametrize("name", MODELS)
def test_a_timm_checkpoint_becomes_an_exact_model_py(name: str, tmp_path: Path) -> None:
    theirs = randomised_norms(timm.create_model(name, pretrained=False))
    torch.save(theirs.state_dict(), tmp_path / "ckpt.pth")
    opened = _run("open", "ckpt.pth", "-o", "x.resnet.json", cwd=tmp_path)
    assert opened.returncode == 0, opened.stderr
    data = json.loads((tmp_path / "x.resnet.json").read_text(encoding="utf-8"))
    assert data["block"] in ("sk_basic", "sk_bottleneck")
    for args in (["-o", "model.py"], ["--init-from", "ckpt.pth", "-o", "weights.pt"]):
        exported = _run("export", "x.resnet.json", *args, cwd=tmp_path)
        assert exported.returncode == 0, exported.stderr
    text = (tmp_path / "model.py").read_text(encoding="utf-8")
    assert f"class {type(theirs.layer1[0]).__name__}(nn.Module):" in text
    assert "class SelectiveKernel(nn.Module):" in text

    ours = _import(tmp_path / "model.py").build_model().eval()  # type: ignore[attr-defined]
    ours.load_state_dict(torch.load(tmp_path / "weights.pt", weights_only=True), strict=True)
    count = sum(p.numel() for p in theirs.parameters())
    assert sum(p.numel() for p in ours.parameters()) == count
    assert forward_flops(ours, SIDE) == forward_flops(theirs, SIDE)
    x = torch.randn(2, 3, SIDE, SIDE)
    with torch.no_grad():
        assert torch.allclose(ours(x), theirs(x), atol=1e-4, rtol=1e-4)
    # timm's own state dict loads as it is: timm's names are model.py's
    ours.load_state_dict(theirs.state_dict(), strict=True)

    # the closed-form counts are torchinfo's, for timm's network itself; torchinfo counts
    # a norm's parameters as its multiply-adds, but none for timm's BatchNormAct2d, a norm
    # with modules inside (its activation), which model.py's ConvNormAct calls apart
    design = load(tmp_path / "x.resnet.json").replace(input=InputSpec(3, SIDE, SIDE))
    stats, _ = torchinfo_leaf_rows(theirs, (3, SIDE, SIDE))
    assert analyse(design).params == stats.total_params == count
    uncounted = sum(
        p.numel() for m in theirs.modules() if isinstance(m, BatchNormAct2d) for p in m.parameters()
    )
    assert analyse(design).macs == stats.total_mult_adds + uncounted


def _small(block: str, **changes: object) -> Design:
    stages = (StageSpec(1, 16), StageSpec(2, 32, stride=2), StageSpec(1, 32, stride=2))
    design = Design(
        stages=stages, block=block, stem=StemSpec("cifar", 16), input=InputSpec(3, 33, 31)
    )
    return design.replace(num_classes=10, **changes)


SMALL = {
    "basic split": _small("sk_basic"),
    "basic whole, ratio 1/8 by 16": _small(
        "sk_basic", sk_split_input=False, sk_ratio=1 / 8, sk_divisor=16
    ),
    "bottleneck split": _small("sk_bottleneck"),
    "bottleneck grouped": _small(
        "sk_bottleneck", sk_split_input=False, groups=4, width_per_group=8
    ),
    "bottleneck dilated, group norm, silu": _small(
        "sk_bottleneck",
        activation="silu",
        norm="group",
        width_per_group=128,
        stem=StemSpec("cifar", 32),
    ).with_stage(2, dilate=True),
    "basic dilated, deep stem": _small("sk_basic", stem=StemSpec("deep", 32)).with_stage(
        2, dilate=True
    ),
    "bottleneck deep stem, avg_down": _small(
        "sk_bottleneck", stem=StemSpec("deep", 32), shortcut="avg_down"
    ),
}


@pytest.mark.parametrize("design", SMALL.values(), ids=SMALL.keys())
def test_every_row_is_torchinfos(design: Design) -> None:
    shape = (3, design.input.height, design.input.width)
    stats, rows = torchinfo_leaf_rows(build(design), shape)
    result = analyse(design)
    assert [(r.name, r.kind, r.output_shape, r.params, r.macs) for r in result.layers] == rows
    assert result.macs == stats.total_mult_adds


@pytest.mark.parametrize("design", SMALL.values(), ids=SMALL.keys())
def test_the_graph_draws_every_module_call(design: Design) -> None:
    model = build(design, device="meta")
    reference = leaf_calls(model, (3, design.input.height, design.input.width))
    graph = build_graph(analyse(design), "layer")
    ours = module_nodes(graph)
    assert ours == reference
    labels = {data["label"] for _, data in graph.nodes(data=True)}
    assert any("dil 2" in label for label in labels)  # the second path: a 5x5's reach


def test_a_block_is_not_called_dilated_for_its_dilated_path() -> None:
    """The block graph names a block's dilation only where its stage dilates."""
    design = _small("sk_basic")
    labels = [data["label"] for _, data in build_graph(analyse(design), "block").nodes(data=True)]
    assert labels and not any("dilation" in label for label in labels)
    dilated = design.with_stage(len(design.stages) - 1, dilate=True)
    labels = [data["label"] for _, data in build_graph(analyse(dilated), "block").nodes(data=True)]
    assert any("dilation 2" in label for label in labels)


def test_model_py_reads_as_timms() -> None:
    text = render_model_py(_small("sk_bottleneck", groups=4, width_per_group=8))
    assert "self.conv1 = ConvNormAct(in_channels, width, kernel_size=1)" in text
    assert "self.conv2 = SelectiveKernel(width, width, stride=stride, groups=GROUPS)" in text
    assert "self.conv3 = ConvNormAct(width, out_channels, kernel_size=1, apply_act=False)" in text
    text = render_model_py(_small("sk_basic"))
    assert "self.conv1 = SelectiveKernel(in_channels, width, stride=stride)" in text
    assert "self.conv2 = ConvNormAct(width, width, kernel_size=3, apply_act=False)" in text
    assert "return self.act(out + identity)" in text


def test_the_depth_counts_the_sk_conv_as_one() -> None:
    design = load_preset("resnet50").replace(block="sk_bottleneck")
    assert analyse(design).depth == 50


def test_zero_init_residual_zeroes_the_last_norm() -> None:
    torch.manual_seed(0)
    model = build(_small("sk_bottleneck", zero_init_residual=True))
    assert all(not b.conv3.bn.weight.any() for b in model.layer2)


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"anti_alias": "blur"}, "anti_alias"),
        ({"block_dropout": 0.2}, "block_dropout"),
        ({"stem": {"kind": "cifar", "width": 15}}, "sk_split_input"),
    ],
)
def test_what_the_blocks_cannot_be_is_refused_in_one_line(
    changes: dict[str, object], words: str, tmp_path: Path
) -> None:
    data = design_to_dict(_small("sk_basic").replace(input=InputSpec(3, 64, 64)))
    data.update(changes)
    (tmp_path / "bad.resnet.json").write_text(json.dumps(data), encoding="utf-8")
    result = _run("validate", "bad.resnet.json", cwd=tmp_path)
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert words in line, line
    if "stem" in changes:
        changes = {"stem": StemSpec("cifar", 15)}
    with pytest.raises(DesignError, match=words):
        _small("sk_basic").replace(**changes)
