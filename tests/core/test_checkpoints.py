"""A checkpoint's design, recovered from names and shapes, against the zoos' models.

Each reference model is built by torchvision or timm (randomly initialised, BN
statistics randomised so that a misplaced tensor shows), saved as users save it,
and recovered: the design must have the model's parameters, FLOPs and output shape,
and with ``--init-from`` its outputs must equal the model's.
"""

from __future__ import annotations

import dataclasses
import pickle
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from torch import nn

from designer.core.analysis import analyse
from designer.core.design import InputSpec
from designer.core.presets import load_preset
from designer.core.torch.build import build
from designer.core.torch.checkpoint import recover_checkpoint
from designer.core.torch.transfer import build_initialised
from tests.core.test_cli_hostile_inputs import ROOT, refused
from tests.reference import forward_flops, randomised_norms, torchvision_models

SIDE = 64


def _timm(name: str) -> Callable[[], nn.Module]:
    def make() -> nn.Module:
        torchvision_models()
        timm = pytest.importorskip("timm")
        return timm.create_model(name, pretrained=False)

    return make


def _tv(name: str, **kwargs: object) -> Callable[[], nn.Module]:
    return lambda: getattr(torchvision_models(), name)(**kwargs)


MODELS: dict[str, Callable[[], nn.Module]] = {
    "tv-resnet18": _tv("resnet18"),
    "tv-resnet50": _tv("resnet50"),
    "tv-resnext50_32x4d": _tv("resnext50_32x4d"),
    "tv-wide_resnet50_2": _tv("wide_resnet50_2"),
    "resnet26d": _timm("resnet26d"),
    "resnet26t": _timm("resnet26t"),
    "resnet50s": _timm("resnet50s"),
    "seresnet18": _timm("seresnet18"),
    "seresnext26d_32x4d": _timm("seresnext26d_32x4d"),
    "resnetrs50": _timm("resnetrs50"),
    "resnet50_gn": _timm("resnet50_gn"),
    "resnetv2_50": _timm("resnetv2_50"),
    "resnetv2_50d": _timm("resnetv2_50d"),
    "ecaresnet50d": _timm("ecaresnet50d"),
    "ecaresnet26t": _timm("ecaresnet26t"),
    "ecaresnetlight": _timm("ecaresnetlight"),
}


def _randomise(model: nn.Module) -> nn.Module:
    return randomised_norms(model)


def _flops(model: nn.Module) -> int:
    return forward_flops(model, SIDE)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_recovered_design_is_the_model(name: str, tmp_path: Path) -> None:
    theirs = _randomise(MODELS[name]())
    path = tmp_path / f"{name}.pth"
    # as training code saves it: nested, with DistributedDataParallel's prefix
    state = {f"module.{k}": v for k, v in theirs.state_dict().items()}
    torch.save({"model": state, "epoch": 7}, path)
    recovery = recover_checkpoint(path)
    design = recovery.design.replace(input=InputSpec(3, SIDE, SIDE))
    assert analyse(design).params == sum(p.numel() for p in theirs.parameters())
    ours, report = build_initialised(design, path)
    assert not report.missing and not report.unexpected and not report.shape_mismatch
    ours.eval()
    assert _flops(ours) == _flops(theirs)
    x = torch.randn(2, 3, SIDE, SIDE)
    with torch.no_grad():
        mine, reference = ours(x), theirs(x)
    assert mine.shape == reference.shape == (2, design.num_classes)
    assert torch.allclose(mine, reference, atol=1e-4, rtol=1e-4)


def test_safetensors_and_what_was_assumed(tmp_path: Path) -> None:
    safetensors = pytest.importorskip("safetensors.torch")
    theirs = _timm("seresnet18")()
    path = tmp_path / "seresnet18.safetensors"
    safetensors.save_file(theirs.state_dict(), str(path))
    recovery = recover_checkpoint(path)
    d = recovery.design
    # timm's SE width: 64 channels / 16 rounded up to a multiple of 8
    assert (d.block, d.se_ratio, d.se_divisor) == ("basic", 1 / 16, 8)
    assert any("strides" in line for line in recovery.assumed)
    assert "block" in recovery.inferred


def test_a_dilated_backbone_recovers_with_its_dilation_assumed(tmp_path: Path) -> None:
    """The weights of torchvision's dilated resnet50 are those of resnet50: dilation is assumed."""
    theirs = _randomise(_tv("resnet50", replace_stride_with_dilation=[False, True, True])())
    path = tmp_path / "deeplab_backbone.pth"
    torch.save(theirs.state_dict(), path)
    recovery = recover_checkpoint(path)
    assert any("no dilation" in line for line in recovery.assumed)
    stages = tuple(
        dataclasses.replace(s, dilate=i >= 2) for i, s in enumerate(recovery.design.stages)
    )
    design = recovery.design.replace(stages=stages, input=InputSpec(3, SIDE, SIDE))
    assert design.replace(name="x") == load_preset("resnet50").replace(
        name="x", stages=stages, input=InputSpec(3, SIDE, SIDE)
    )
    ours, _ = build_initialised(design, path)
    x = torch.randn(1, 3, SIDE, SIDE)
    with torch.no_grad():
        assert torch.allclose(ours.eval()(x), theirs(x), atol=1e-4, rtol=1e-4)
    assert _flops(ours) == _flops(theirs)


@pytest.mark.parametrize("preset", ["resnet20_cifar", "preact_resnet164_cifar", "resnetv2_builder"])
def test_our_own_presets_come_back(preset: str, tmp_path: Path) -> None:
    design = load_preset(preset)
    path = tmp_path / "weights.pt"
    torch.save(build(design).state_dict(), path)
    recovery = recover_checkpoint(path)
    recovered = recovery.design
    assert analyse(recovered).params == analyse(design).params
    if design.stride_on != recovered.stride_on:  # the Keras builder strides its 1x1
        assert any(line.startswith("stride_on") for line in recovery.assumed)
        recovered = recovered.replace(stride_on=design.stride_on)
    assert analyse(recovered).macs == analyse(design).macs


def _cli_open(path: Path, tmp_path: Path, says: str) -> None:
    out = tmp_path / "out.resnet.json"
    refused("open", str(path), "-o", str(out), cwd=tmp_path, says=says)
    assert not out.exists()


class _Evil:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (print, ("pwned",))


def test_hostile_checkpoints_are_one_line_and_write_nothing(tmp_path: Path) -> None:
    evil = tmp_path / "evil.pth"
    evil.write_bytes(pickle.dumps({"conv1.weight": _Evil()}))
    _cli_open(evil, tmp_path, "would run code")

    good = tmp_path / "good.pth"
    torch.save(_tv("resnet18")().state_dict(), good)
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(good.read_bytes()[:5000])
    _cli_open(truncated, tmp_path, "truncated")

    huge = tmp_path / "huge.safetensors"
    huge.write_bytes((10**15).to_bytes(8, "little") + b"{}")
    _cli_open(huge, tmp_path, "header claims")

    state = _tv("resnet18")().state_dict()
    state["layer2.1.conv1.weight"] = torch.zeros(128, 100, 3, 3)
    altered = tmp_path / "altered.pth"
    torch.save(state, altered)
    _cli_open(altered, tmp_path, "layer2.1.conv1.weight")


def test_not_a_resnet_says_what_it_looks_like(tmp_path: Path) -> None:
    path = tmp_path / "vit.pth"
    torch.save({"blocks.0.attn.qkv.weight": torch.zeros(2, 2), "head.weight": torch.zeros(2)}, path)
    _cli_open(path, tmp_path, "no residual stages found: keys look like a ViT")


def test_cli_open_writes_the_design_and_says_what_it_assumed(tmp_path: Path) -> None:
    path = tmp_path / "r18.pth"
    torch.save(_tv("resnet18")().state_dict(), path)
    out = tmp_path / "r18.resnet.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "open", str(path), "-o", str(out)],
        capture_output=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr.decode("utf-8")
    err = done.stderr.decode("utf-8")
    assert "assumed" in err and "inferred" in err
    from designer.core.io import load

    assert load(out).replace(name="x") == load_preset("resnet18").replace(name="x")


def test_a_bundle_starts_from_the_checkpoint(tmp_path: Path) -> None:
    """`bundle CKPT --init-from CKPT`: the recovered design, starting from those weights."""
    theirs = _randomise(_timm("resnetv2_50")())
    path = tmp_path / "v2.pth"
    torch.save(theirs.state_dict(), path)
    out = tmp_path / "bundle"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "main.py"),
            "bundle",
            str(path),
            "-o",
            str(out),
            "--init-from",
            str(path),
        ],
        capture_output=True,
        timeout=180,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr.decode("utf-8")
    weights = next(out.glob("weights.*"))
    if weights.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(weights))
    else:
        state = torch.load(weights, weights_only=True)
    assert torch.equal(state["layer2.0.conv2.weight"], theirs.stages[1].blocks[0].conv2.weight)
    assert torch.equal(state["fc.weight"], theirs.head.fc.weight.flatten(1))


def test_a_text_file_named_pth_is_named_as_such(tmp_path: Path) -> None:
    path = tmp_path / "notes.pth"
    path.write_text("hello\n", encoding="utf-8")
    _cli_open(path, tmp_path, "not a torch checkpoint")
