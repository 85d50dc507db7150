"""Global context attention (GCNet) against timm's ``GlobalContext`` in its ResNets.

timm's ``resnet.py`` puts ``attn_layer='gc'`` where squeeze-excite sits; its registered
``gcresnet*`` models are byobnet networks (checked with the whole family in
``test_timm_family_exact``), so these are resnet.py's own networks with that attention:
a ResNet-50-T (ResNet-T's tiered stem and average-pool shortcuts) and a ResNet-18.
Randomly initialised, each goes through the CLI as a user's checkpoint would: ``open``,
``export`` of model.py and, ``--init-from`` the checkpoint, its weights; model.py loads
them strictly and gives timm's outputs and FLOPs; the closed-form counts are torchinfo's.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from timm.layers import GlobalContext
from timm.models.resnet import BasicBlock, Bottleneck, ResNet
from torch import nn

from designer.core.analysis import analyse
from designer.core.blocks.global_context import gc_channels
from designer.core.design import DesignError, HeadSpec, InputSpec, StemSpec
from designer.core.io import load
from designer.core.presets import load_preset
from designer.core.torch.build import build
from tests.reference import forward_flops, randomised_norms, torchinfo_leaf_rows

SIDE = 64
CLI = [sys.executable, "-m", "designer.cli"]
GC = {"attn_layer": "gc"}
NETWORKS = {
    "resnet50t_gc": lambda: ResNet(
        Bottleneck, [3, 4, 6, 3], stem_width=32, stem_type="deep_tiered", avg_down=True,
        block_args=GC,
    ),
    "resnet18_gc": lambda: ResNet(BasicBlock, [2, 2, 2, 2], block_args=GC),
}  # fmt: skip


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [*CLI, *args], capture_output=True, text=True, encoding="utf-8", timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done


def _randomised(model: nn.Module) -> nn.Module:
    model = randomised_norms(model)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.LayerNorm):  # a LayerNorm left out or misplaced shows
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    return model


def _import(path: Path) -> object:
    spec = importlib.util.spec_from_file_location(f"gc_model_{path.parent.name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("channels", [1, 3, 4, 12, 64, 100, 256, 2048])
def test_the_reduced_width_is_timms(channels: int) -> None:
    assert gc_channels(channels) == GlobalContext(channels).mlp_scale.fc1.out_channels


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_a_timm_gc_checkpoint_becomes_an_exact_model_py(name: str, tmp_path: Path) -> None:
    theirs = _randomised(NETWORKS[name]())
    checkpoint = tmp_path / f"{name}.pth"
    torch.save(theirs.state_dict(), checkpoint)
    design_file = tmp_path / "d.resnet.json"
    opened = _cli("open", str(checkpoint), "-o", str(design_file))
    assert "attention gc" in opened.stderr
    data = json.loads(design_file.read_text(encoding="utf-8"))
    assert data["attention"] == "gc"
    data["input"] = {"channels": 3, "height": SIDE, "width": SIDE}
    design_file.write_text(json.dumps(data), encoding="utf-8")
    model_py = tmp_path / "model.py"
    _cli("export", str(design_file), "-o", str(model_py))
    text = model_py.read_text(encoding="utf-8")
    assert "class GlobalContext(nn.Module):" in text
    assert "self.se = GlobalContext(" in text
    weights = tmp_path / "w.safetensors"
    _cli("export", str(design_file), "-o", str(weights), "--init-from", str(checkpoint))

    ours = _import(model_py).build_model().eval()  # type: ignore[attr-defined]
    ours.load_state_dict(load_file(weights), strict=True)
    ours.load_state_dict(theirs.state_dict(), strict=True)  # timm's names are ours here
    count = sum(p.numel() for p in theirs.parameters())
    assert sum(p.numel() for p in ours.parameters()) == count
    assert forward_flops(ours, SIDE) == forward_flops(theirs, SIDE)
    x = torch.randn(2, 3, SIDE, SIDE)
    with torch.no_grad():
        assert torch.allclose(ours(x), theirs(x), atol=1e-4, rtol=1e-4)

    stats, _ = torchinfo_leaf_rows(theirs, (3, SIDE, SIDE))
    assert analyse(load(design_file)).params == stats.total_params == count
    assert analyse(load(design_file)).macs == stats.total_mult_adds


@pytest.mark.parametrize("preset", ["resnet18", "resnet50"])
def test_every_gc_row_is_torchinfos(preset: str) -> None:
    design = load_preset(preset).replace(attention="gc", input=InputSpec(3, SIDE, SIDE))
    result = analyse(design)
    _, rows = torchinfo_leaf_rows(build(design), (3, SIDE, SIDE))
    assert [(r.name, r.kind, r.output_shape, r.params, r.macs) for r in result.layers] == rows
    reduced = {"resnet18": 8, "resnet50": 32}[preset]  # an eighth of 64 or 256 channels
    norm = ("layer1.0.se.mlp_scale.norm", "LayerNorm2d", (reduced, 1, 1), 2 * reduced)
    assert (*norm, 2 * reduced) in rows


def test_every_row_of_a_byobnet_style_network_is_torchinfos() -> None:
    """byobnet's parts on a small network: gca (its context added to every pixel) at the
    3x3, SiLU, the tiered stem that strides instead of pooling, and the final 1x1 conv."""
    resnet50d = load_preset("resnet50d")
    stages = tuple(dataclasses.replace(s, depth=2) for s in resnet50d.stages)  # a ResNet-26-D
    design = resnet50d.replace(
        stages=stages,
        attention="gca",
        attention_at="3x3",
        activation="silu",
        stem=StemSpec("deep_tiered", 64, pool="stride"),
        head=HeadSpec(conv=256),
        input=InputSpec(3, SIDE, SIDE),
    )
    result = analyse(design)
    _, rows = torchinfo_leaf_rows(build(design), (3, SIDE, SIDE))
    assert [(r.name, r.kind, r.output_shape, r.params, r.macs) for r in result.layers] == rows
    names = {row[0] for row in rows}
    assert {"layer1.0.se.mlp_add.fc1", "final_conv.0"} <= names, sorted(names)[-8:]


def test_a_squeeze_ratio_with_gc_is_refused_in_one_line() -> None:
    with pytest.raises(DesignError, match="se_ratio") as caught:
        load_preset("resnet50").replace(attention="gc", se_ratio=0.25)
    assert "\n" not in str(caught.value)
