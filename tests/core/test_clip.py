"""timm's CLIP ResNets (byobnet's ``resnet*_clip*``) against timm, through the CLI.

CLIP's ResNet is a ResNet-D with anti-aliasing by 2x2 average pools: a deep stem
(three 3x3 convs) whose max-pool is a 2x2 average pool, each strided 3x3 run at stride 1
and followed by a 2x2 average pool after its activation, and average-pooled shortcuts
(byobnet's DownsampleAvg). Its ``_gap`` variants pool globally into one linear layer,
which is our head. Randomly initialised, resnet50_clip_gap goes through the CLI as a
user's checkpoint would: ``open``, ``export`` of model.py and, ``--init-from`` the
checkpoint, its weights; model.py loads them and timm's state dict (through the
recovery's key map) strictly, and has timm's parameters, FLOPs and outputs. The
attention-pool head of the plain ``_clip`` models and resnet50_mlp's
NormMlpClassifierHead are no head of ours: each is refused in one line naming it.
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

from designer.core.analysis import analyse
from designer.core.design import DesignError
from designer.core.io import load
from designer.core.recover import recover
from designer.core.torch.build import build
from tests.reference import forward_flops, randomised_norms, torchinfo_leaf_rows

SIDE = 64
CLI = [sys.executable, "-m", "designer.cli"]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [*CLI, *args], capture_output=True, text=True, encoding="utf-8", timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done


def _import(path: Path) -> object:
    spec = importlib.util.spec_from_file_location(f"clip_model_{path.parent.name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _shapes(model: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {key: tuple(value.shape) for key, value in model.state_dict().items()}


def test_resnet50_clip_gap_becomes_an_exact_model_py(tmp_path: Path) -> None:
    theirs = randomised_norms(timm.create_model("resnet50_clip_gap", num_classes=10))
    checkpoint = tmp_path / "resnet50_clip_gap.pth"
    torch.save(theirs.state_dict(), checkpoint)
    design_file = tmp_path / "d.resnet.json"
    opened = _cli("open", str(checkpoint), "-o", str(design_file))
    assert "timm-byobnet names" in opened.stderr
    assert "assumed  anti_alias avg and activation relu" in opened.stderr
    assert "no anti-aliased downsampling" not in opened.stderr
    data = json.loads(design_file.read_text(encoding="utf-8"))
    assert (data["anti_alias"], data["activation"], data["shortcut"]) == ("avg", "relu", "avg_down")
    assert data["stem"] == {"kind": "deep", "width": 64}
    data["input"] = {"channels": 3, "height": SIDE, "width": SIDE}
    design_file.write_text(json.dumps(data), encoding="utf-8")
    model_py = tmp_path / "model.py"
    _cli("export", str(design_file), "-o", str(model_py))
    text = model_py.read_text(encoding="utf-8")
    assert "self.aa = nn.AvgPool2d(stride) if stride > 1 else nn.Identity()" in text
    assert "self.maxpool = nn.AvgPool2d(2)" in text
    assert "nn.AvgPool2d(stride, stride, ceil_mode=True, count_include_pad=False)" in text
    weights = tmp_path / "w.safetensors"
    _cli("export", str(design_file), "-o", str(weights), "--init-from", str(checkpoint))

    ours = _import(model_py).build_model().eval()  # type: ignore[attr-defined]
    ours.load_state_dict(load_file(weights), strict=True)
    mapped = recover(_shapes(theirs)).key_map.translate(theirs.state_dict())
    ours.load_state_dict(mapped, strict=True)
    count = sum(p.numel() for p in theirs.parameters())
    assert sum(p.numel() for p in ours.parameters()) == count
    assert forward_flops(ours, SIDE) == forward_flops(theirs, SIDE)
    x = torch.randn(2, 3, SIDE, SIDE)
    with torch.no_grad():
        assert torch.allclose(ours(x), theirs(x), atol=1e-4, rtol=1e-4)

    design = load(design_file)
    assert analyse(design).params == count
    stats, rows = torchinfo_leaf_rows(build(design), (3, SIDE, SIDE))
    result = analyse(design)
    assert [(r.name, r.kind, r.output_shape, r.params, r.macs) for r in result.layers] == rows
    assert result.macs == stats.total_mult_adds


@pytest.mark.parametrize(
    ("name", "missing"),
    [
        ("resnet50_clip", "an attention-pool head"),
        ("resnet101_clip", "an attention-pool head"),
        ("resnet50_mlp", "NormMlpClassifierHead"),
    ],
)
def test_a_head_we_lack_is_refused_in_one_line(name: str, missing: str) -> None:
    with torch.device("meta"):
        theirs = timm.create_model(name)
    with pytest.raises(DesignError, match=missing) as caught:
        recover(_shapes(theirs), name=name)
    assert "\n" not in str(caught.value)
