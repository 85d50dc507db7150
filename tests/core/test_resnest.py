"""ResNeSt (Zhang et al. 2020) against timm's ``ResNestBottleneck``, ``SplitAttn`` and models.

Every timm ResNeSt, randomly initialised with randomised norms, goes through the CLI as a
user's checkpoint would: ``open`` recovers the design (radix, groups and base width from
the shapes; where the average pool sits, which has no weights, by timm's convention, said
as assumed), ``export`` writes model.py and, ``--init-from`` the checkpoint, its weights;
model.py's network takes timm's state dict strictly through the recovery's key map and
gives timm's outputs, parameter count and FLOPs. The closed-form rows are torchinfo's.
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
from timm.layers import SplitAttn
from torch import nn

from designer.core.analysis import analyse
from designer.core.blocks.resnest import attention_width
from designer.core.codegen import render_model_py
from designer.core.design import Design, DesignError, InputSpec, StageSpec, StemSpec
from designer.core.graph import build_graph
from designer.core.io import design_to_dict
from designer.core.recover import recover
from designer.core.torch.build import build
from tests.core.test_graph import leaf_calls, module_nodes
from tests.reference import forward_flops, randomised_norms, torchinfo_leaf_rows

SIDE = 64
CLI = [sys.executable, "-m", "designer.cli"]
MODELS = [
    "resnest14d",
    "resnest26d",
    "resnest50d",
    "resnest101e",
    "resnest200e",
    "resnest50d_1s4x24d",
    "resnest50d_4s2x40d",
]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, encoding="utf-8", timeout=600
    )


def _import(path: Path) -> object:
    spec = importlib.util.spec_from_file_location(f"resnest_model_{path.parent.name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _resnest(
    radix: int = 2, groups: int = 1, wpg: int = 64, avd_first: bool = False, **changes: object
) -> Design:
    """A small ResNeSt-14d-like design (one block a stage) at 64 x 64."""
    return Design(
        name="small",
        stages=(StageSpec(1, 64), StageSpec(2, 128, stride=2), StageSpec(1, 256, stride=2)),
        input=InputSpec(3, SIDE, SIDE),
        block="resnest",
        stem=StemSpec("deep", 64),
        shortcut="avg_down",
        radix=radix,
        groups=groups,
        width_per_group=wpg,
        avd_first=avd_first,
        num_classes=10,
    ).replace(**changes)


@pytest.mark.parametrize("radix", [1, 2, 4])
@pytest.mark.parametrize("channels", [8, 24, 64, 96, 100, 128, 160, 200, 256, 512, 1000])
def test_the_attention_width_is_timms(channels: int, radix: int) -> None:
    theirs = SplitAttn(channels, radix=radix, norm_layer=nn.BatchNorm2d)
    assert attention_width(channels, radix) == theirs.fc1.out_channels


@pytest.mark.parametrize("name", MODELS)
def test_a_timm_checkpoint_becomes_an_exact_model_py(name: str, tmp_path: Path) -> None:
    theirs = randomised_norms(timm.create_model(name, pretrained=False))
    checkpoint = tmp_path / f"{name}.pth"
    torch.save(theirs.state_dict(), checkpoint)
    design_file = tmp_path / f"{name}.resnet.json"
    opened = _run("open", str(checkpoint), "-o", str(design_file))
    assert opened.returncode == 0, opened.stderr
    data = json.loads(design_file.read_text(encoding="utf-8"))
    config = theirs.layer1[0]
    assert data["block"] == "resnest"
    assert data.get("radix", 2) == config.radix
    pooled_first = config.avd_first is not None or theirs.layer2[0].avd_first is not None
    assert data.get("avd_first", False) == pooled_first
    assert "assumed  avd_first" in opened.stderr
    model_py = tmp_path / "model.py"
    exported = _run("export", str(design_file), "-o", str(model_py))
    assert exported.returncode == 0, exported.stderr
    weights = tmp_path / "weights.pt"
    initialised = _run(
        "export", str(design_file), "--init-from", str(checkpoint), "-o", str(weights)
    )
    assert initialised.returncode == 0, initialised.stderr
    assert "100.0%" in initialised.stdout + initialised.stderr

    ours = _import(model_py).build_model().eval()  # type: ignore[attr-defined]
    shapes = {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    key_map = recover(shapes).key_map
    ours.load_state_dict(key_map.translate(theirs.state_dict()), strict=True)
    count = sum(p.numel() for p in theirs.parameters())
    assert sum(p.numel() for p in ours.parameters()) == count
    assert forward_flops(ours, SIDE) == forward_flops(theirs, SIDE)
    x = torch.randn(2, 3, SIDE, SIDE)
    with torch.no_grad():
        expected = theirs(x)
        assert torch.allclose(ours(x), expected, atol=1e-4, rtol=1e-4)
        ours.load_state_dict(torch.load(weights, weights_only=True), strict=True)
        assert torch.allclose(ours(x), expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize(
    ("radix", "groups", "wpg", "avd_first"),
    [(2, 1, 64, False), (4, 2, 40, True), (1, 4, 24, True), (2, 1, 64, True)],
)
def test_every_resnest_row_is_torchinfos(
    radix: int, groups: int, wpg: int, avd_first: bool
) -> None:
    design = _resnest(radix, groups, wpg, avd_first)
    stats, rows = torchinfo_leaf_rows(build(design), (3, SIDE, SIDE))
    result = analyse(design)
    assert [(r.name, r.kind, r.output_shape, r.params, r.macs) for r in result.layers] == rows
    assert (result.params, result.macs) == (stats.total_params, stats.total_mult_adds)
    pool = "layer2.0.avd_first" if avd_first else "layer2.0.avd_last"
    assert (pool, "AvgPool2d", (groups * int(128 * wpg / 64), SIDE // 8, SIDE // 8), 0, 0) in rows


def test_the_counts_are_timms_own() -> None:
    """timm's resnest14d itself, at 64 x 64, counted by torchinfo: the analysis's totals."""
    theirs = timm.create_model("resnest14d", pretrained=False)
    shapes = {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    design = recover(shapes).design.replace(input=InputSpec(3, SIDE, SIDE))
    stats, _ = torchinfo_leaf_rows(theirs, (3, SIDE, SIDE))
    assert (analyse(design).params, analyse(design).macs) == (
        stats.total_params,
        stats.total_mult_adds,
    )


def test_where_the_pool_sits_shows_in_the_outputs_only() -> None:
    """The convention matters: the other placement has the same tensors, other outputs."""
    first = build(_resnest(4, 2, 40, avd_first=True)).eval()
    last = build(_resnest(4, 2, 40, avd_first=False)).eval()
    last.load_state_dict(randomised_norms(first).state_dict(), strict=True)
    x = torch.randn(1, 3, SIDE, SIDE)
    with torch.no_grad():
        assert not torch.allclose(first(x), last(x), atol=1e-3)


def test_model_py_reads_as_timms() -> None:
    text = render_model_py(_resnest(4, 2, 40, avd_first=True))
    assert "class SplitAttn(nn.Module):" in text
    assert "class RadixSoftmax(nn.Module):" in text
    assert "class ResNestBottleneck(nn.Module):" in text
    assert "GROUPS = 2" in text
    assert "self.conv2 = SplitAttn(width, width, groups=GROUPS)" in text
    assert "self.avd_first = nn.AvgPool2d(3, stride, padding=1) if stride > 1 else" in text
    assert "radix: int = 4," in text
    assert "avd_last" not in text


def test_the_graph_draws_every_call() -> None:
    design = _resnest(2, 1, 64)
    reference = leaf_calls(build(design, device="meta"), (3, SIDE, SIDE))
    graph = build_graph(analyse(design), "layer")
    assert module_nodes(graph) == reference
    blocks = build_graph(analyse(design), "block")
    assert blocks.nodes["layer2.0"]["label"].startswith("layer2.0: ResNeSt, 512, stride 2")


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"anti_alias": "blur"}, "set anti_alias to none"),
        ({"norm": "group"}, "norm batch"),
        ({"radix": 3}, "radix 3"),
    ],
)
def test_what_timm_cannot_be_is_refused_in_one_line(
    changes: dict[str, object], words: str, tmp_path: Path
) -> None:
    with pytest.raises(DesignError, match=words):
        _resnest().replace(**changes)
    data = {**design_to_dict(_resnest()), **changes}
    path = tmp_path / "bad.resnet.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    result = _run("validate", str(path))
    assert result.returncode == 2
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert words in line, line


def test_a_bottleneck_is_still_a_bottleneck() -> None:
    """Both kinds hold conv1, conv2 and conv3: ResNeSt's conv2 is a module of its own."""
    with torch.device("meta"):
        model = timm.create_model("resnet50d", pretrained=False)
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert recover(shapes).design.block == "bottleneck"
