"""Efficient channel attention (ECA-Net) against timm's ``EcaModule`` and its ECA-ResNets.

timm's ``ecaresnet50d``, ``ecaresnet26t`` and ``ecaresnetlight``, randomly initialised,
go through the CLI as a user's checkpoint would: ``open`` recovers the design,
``export`` writes model.py, and that file's network takes timm's state dict strictly and
gives timm's outputs; the counts are torchinfo's and torch's FLOP counter's.
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
from timm.layers import EcaModule
from torch import nn

from designer.core.analysis import analyse
from designer.core.blocks.eca import eca_kernel
from designer.core.io import design_to_dict, load
from designer.core.presets import load_preset
from designer.core.torch.build import build
from tests.reference import forward_flops, randomised_norms, torchinfo_leaf_rows

SIDE = 64
CLI = [sys.executable, "-m", "designer.cli"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, encoding="utf-8", timeout=300
    )


def _randomised(name: str) -> nn.Module:
    model = randomised_norms(timm.create_model(name, pretrained=False))
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv1d):  # ECA's kernels too: a wrong place shows
                m.weight.normal_(0.0, 1.0)
    return model


def _flops(model: nn.Module) -> int:
    return forward_flops(model, SIDE)


def _import(path: Path) -> object:
    spec = importlib.util.spec_from_file_location(f"eca_model_{path.parent.name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("channels", [1, 2, 3, 7, 64, 100, 256, 512, 1000, 2048, 4096])
def test_the_kernel_grows_as_timms(channels: int) -> None:
    assert (eca_kernel(channels),) == EcaModule(channels).conv.kernel_size


@pytest.mark.parametrize("name", ["ecaresnet50d", "ecaresnet26t", "ecaresnetlight"])
def test_a_timm_checkpoint_becomes_an_exact_model_py(name: str, tmp_path: Path) -> None:
    theirs = _randomised(name)
    checkpoint = tmp_path / f"{name}.pth"
    torch.save(theirs.state_dict(), checkpoint)
    design_file = tmp_path / f"{name}.resnet.json"
    opened = _run("open", str(checkpoint), "-o", str(design_file))
    assert opened.returncode == 0, opened.stderr
    assert "attention eca" in opened.stderr
    assert json.loads(design_file.read_text(encoding="utf-8"))["attention"] == "eca"
    model_py = tmp_path / "model.py"
    exported = _run("export", str(design_file), "-o", str(model_py))
    assert exported.returncode == 0, exported.stderr
    assert "class EcaModule(nn.Module):" in model_py.read_text(encoding="utf-8")

    ours = _import(model_py).build_model().eval()  # type: ignore[attr-defined]
    ours.load_state_dict(theirs.state_dict(), strict=True)
    count = sum(p.numel() for p in theirs.parameters())
    assert sum(p.numel() for p in ours.parameters()) == count
    assert _flops(ours) == _flops(theirs)
    x = torch.randn(2, 3, SIDE, SIDE)
    with torch.no_grad():
        assert torch.allclose(ours(x), theirs(x), atol=1e-4, rtol=1e-4)

    # the closed-form counts are torchinfo's, for timm's network itself
    design = load(design_file).replace(input=load_preset("resnet50").input)
    stats, _ = torchinfo_leaf_rows(theirs, (3, 224, 224))
    assert analyse(design).params == stats.total_params == count
    assert analyse(design).macs == stats.total_mult_adds


def test_every_eca_row_is_torchinfos() -> None:
    design = load_preset("resnet18").replace(attention="eca")
    result = analyse(design)
    shape = (3, design.input.height, design.input.width)
    _, rows = torchinfo_leaf_rows(build(design), shape)
    assert [(r.name, r.kind, r.output_shape, r.params, r.macs) for r in result.layers] == rows
    assert ("layer4.1.se.conv", "Conv1d", (1, 512), 5, 5 * 512) in rows  # k = 5 at 512


def test_a_squeeze_ratio_with_eca_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.resnet.json"
    data = design_to_dict(load_preset("resnet50"))
    data.update(attention="eca", se_ratio=0.25)
    path.write_text(json.dumps(data), encoding="utf-8")
    result = _run("validate", str(path))
    assert result.returncode == 2
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert "attention" in line and "se_ratio" in line, line
