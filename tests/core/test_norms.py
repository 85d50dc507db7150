"""timm's ResNetV2 with other norms and weight-standardised convs, as checkpoints to open.

BiT (``resnetv2_50x1_bit``: StdConv2d, GroupNorm, the zero-padded stem pool), timm's
``resnetv2_50d_gn`` (GroupNorm, plain convs), ``resnetv2_50d_evos`` (EvoNorm-S0) and
``resnetv2_50d_frn`` (FRN with its TLU), randomly initialised with every norm vector drawn
at random, go through the CLI as a user's checkpoint would: ``open`` recovers the design,
``export`` writes model.py and, ``--init-from`` the checkpoint, its weights; model.py loads
timm's state dict strictly through the recovery's key map and has timm's parameter count,
FLOPs (torch's FlopCounterMode) and outputs; the closed-form counts are torchinfo's for
timm's own network, and every row of ours is torchinfo's.
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
from safetensors.torch import load_file
from torch import nn

from designer.core.analysis import analyse
from designer.core.design import DesignError, StemSpec
from designer.core.io import design_to_dict, load
from designer.core.presets import load_preset
from designer.core.recover import recover
from designer.core.torch.build import build
from tests.reference import forward_flops, torchinfo_leaf_rows

SIDE = 64
CLI = [sys.executable, "-m", "designer.cli"]
# each model, what its model.py shows of it, and what its design says
MODELS = {
    "resnetv2_50x1_bit": (
        ("class StdConv2d(nn.Conv2d):", "nn.ZeroPad2d(1)", "nn.GroupNorm(32, "),
        {"norm": "group", "std_conv": True, "pool": "max_zero_pad"},
    ),
    "resnetv2_50d_gn": (("nn.GroupNorm(32, ",), {"norm": "group", "std_conv": False}),
    "resnetv2_50d_evos": (("class EvoNorm2dS0(nn.Module):",), {"norm": "evonorm"}),
    "resnetv2_50d_frn": (
        ("class FilterResponseNormTlu2d(nn.Module):",),
        {"norm": "frn"},
    ),
}


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, encoding="utf-8", timeout=300
    )


def _ok(*args: str) -> subprocess.CompletedProcess[str]:
    done = _cli(*args)
    assert done.returncode == 0, done.stderr
    return done


def _import(path: Path) -> object:
    spec = importlib.util.spec_from_file_location(f"norms_{path.parent.name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _randomised(model: nn.Module) -> nn.Module:
    """Every norm vector (GroupNorm's, EvoNorm's v, FRN's tau too) drawn at random, in eval
    mode, so that only a right mapping of each tensor gives timm's outputs."""
    torch.manual_seed(0)
    with torch.no_grad():
        for name, tensor in model.named_parameters():
            if tensor.ndim == 1:
                low, high = (0.8, 1.2) if name.endswith(("weight", ".v")) else (-0.1, 0.1)
                tensor.uniform_(low, high)
    return model.eval()


def _shapes(model: nn.Module) -> dict[str, tuple[int, ...]]:
    return {key: tuple(value.shape) for key, value in model.state_dict().items()}


@pytest.mark.parametrize("name", list(MODELS))
def test_a_timm_checkpoint_becomes_an_exact_model_py(name: str, tmp_path: Path) -> None:
    texts, fields = MODELS[name]
    theirs = _randomised(timm.create_model(name, pretrained=False))
    checkpoint = tmp_path / f"{name}.pth"
    torch.save(theirs.state_dict(), checkpoint)
    design_file = tmp_path / "d.resnet.json"
    opened = _ok("open", str(checkpoint), "-o", str(design_file))
    assert "timm-resnetv2 names" in opened.stderr
    data = json.loads(design_file.read_text(encoding="utf-8"))
    assert data["norm"] == fields["norm"]
    assert data.get("std_conv", False) == fields.get("std_conv", False)
    assert data["stem"].get("pool", "max") == fields.get("pool", "max")
    if "std_conv" in fields:  # what no weight shows is said, with the field to change
        assert f"assumed  std_conv {str(fields['std_conv']).lower()}" in opened.stderr
    data["input"] = {"channels": 3, "height": SIDE, "width": SIDE}
    design_file.write_text(json.dumps(data), encoding="utf-8")
    model_py = tmp_path / "model.py"
    _ok("export", str(design_file), "-o", str(model_py))
    text = model_py.read_text(encoding="utf-8")
    for expected in texts:
        assert expected in text
    if fields["norm"] in ("evonorm", "frn"):  # their own activation: none besides
        assert "nn.ReLU" not in text
    weights = tmp_path / "w.safetensors"
    _ok("export", str(design_file), "-o", str(weights), "--init-from", str(checkpoint))

    ours = _import(model_py).build_model().eval()  # type: ignore[attr-defined]
    ours.load_state_dict(load_file(weights), strict=True)
    mapped = recover(_shapes(theirs)).key_map.translate(theirs.state_dict(), lambda t: t.flatten(1))
    ours.load_state_dict(mapped, strict=True)
    count = sum(p.numel() for p in theirs.parameters())
    assert sum(p.numel() for p in ours.parameters()) == count
    assert forward_flops(ours, SIDE) == forward_flops(theirs, SIDE)
    x = torch.randn(2, 3, SIDE, SIDE)
    with torch.no_grad():
        assert torch.allclose(ours(x), theirs(x), atol=1e-4, rtol=1e-4)

    # the closed-form counts are torchinfo's, for timm's network itself; torchinfo sums
    # leaves only, and timm's GroupNormAct holds its activation (not a leaf): its weight and
    # bias count, which ours (nn.GroupNorm, then nn.ReLU) has as a leaf, is added back
    design = load(design_file).replace(input=load_preset("resnet50").input)
    stats, _ = torchinfo_leaf_rows(theirs, (3, 224, 224))
    assert analyse(design).params == stats.total_params == count
    fused = sum(i.macs for i in stats.summary_list if i.class_name == "GroupNormAct")
    assert analyse(design).macs == stats.total_mult_adds + fused


@pytest.mark.parametrize("name", ["resnetv2_101x1_bit"])
def test_the_deeper_bit_opens_as_bit(name: str) -> None:
    with torch.device("meta"):
        theirs = timm.create_model(name, pretrained=False)
    recovery = recover(_shapes(theirs), name=name)
    design = recovery.design
    assert (design.norm, design.std_conv, design.stem.pool) == ("group", True, "max_zero_pad")
    assert analyse(design).params == sum(p.numel() for p in theirs.parameters())


@pytest.mark.parametrize(
    ("norm", "std_conv", "stem"),
    [
        ("evonorm", True, StemSpec("deep", 64, norm_act=False)),
        ("frn", False, StemSpec("imagenet", 64, pool="max_zero_pad")),
        ("group", True, StemSpec("imagenet", 64, pool="max_zero_pad", norm_act=False)),
    ],
)
def test_every_row_is_torchinfos(norm: str, std_conv: bool, stem: StemSpec) -> None:
    design = load_preset("resnetv2_50").replace(norm=norm, std_conv=std_conv, stem=stem)
    shape = (3, design.input.height, design.input.width)
    stats, rows = torchinfo_leaf_rows(build(design), shape)
    result = analyse(design)
    assert [(r.name, r.kind, r.output_shape, r.params, r.macs) for r in result.layers] == rows
    assert result.params == stats.total_params
    assert result.macs == stats.total_mult_adds


def test_the_zero_padded_pool_keeps_the_padded_pools_size() -> None:
    design = load_preset("resnetv2_50").replace(
        stem=StemSpec("imagenet", 64, pool="max_zero_pad", norm_act=False)
    )
    rows = {r.name: r for r in analyse(design).layers}
    assert rows["maxpool.0"].kind == "ZeroPad2d" and rows["maxpool.0"].output_shape[1:] == (
        114,
        114,
    )
    assert rows["maxpool.1"].output_shape[1:] == (56, 56)


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"block": "bottleneck", "norm": "evonorm"}, "norm", "pre-activation"),
        ({"block": "bottleneck", "norm": "frn"}, "norm", "pre-activation"),
        (
            {"anti_alias": "blur", "stem": {"kind": "imagenet", "pool": "max_zero_pad"}},
            "anti_alias",
            "max_zero_pad",
        ),
    ],
)
def test_what_cannot_be_built_is_refused_in_one_line(
    changes: dict[str, object], field: str, words: str, tmp_path: Path
) -> None:
    data = design_to_dict(load_preset("resnet50"))
    data.update(changes)
    path = tmp_path / "bad.resnet.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    result = _cli("validate", str(path))
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert field in line and words in line, line
    with pytest.raises(DesignError):
        load(path)
