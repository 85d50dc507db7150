"""Checkpoints in other libraries' names, and backbones without their classifier.

HuggingFace transformers' ResNet (``ResNetForImageClassification``, and ``ResNetModel``
without a classifier), torchvision's detection backbone (``backbone.body``, alone or
inside the whole Faster R-CNN), timm's ``num_classes=0``, a Lightning checkpoint (its
``model.`` prefix) and mmpretrain's layout (``backbone.`` and ``head.fc``): each is
opened through the real CLI, exported as model.py and as weights ``--init-from`` the
checkpoint; model.py loads those strictly and gives the reference's outputs and FLOPs.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import timm
import torch
import torchvision
from safetensors.torch import load_file
from torch import nn
from transformers import ResNetConfig, ResNetForImageClassification, ResNetModel

from tests.reference import forward_flops, randomised_norms

SIDE = 64


_randomised = randomised_norms


def _hf(config: ResNetConfig, head: bool = True) -> Callable[[torch.Tensor], torch.Tensor]:
    model = _randomised(ResNetForImageClassification(config) if head else ResNetModel(config))
    if head:
        return model, lambda x: model(x).logits
    return model, lambda x: model(x).pooler_output.flatten(1)


def _plain(model: nn.Module, features: bool = False):
    model = _randomised(model)
    if features:  # a backbone's feature map, pooled as our feature extractor pools it
        return model, lambda x: model(x)["3"].mean((2, 3))
    return model, model


def _detector_backbone():
    return _plain(
        torchvision.models.detection.fasterrcnn_resnet50_fpn(
            weights=None, weights_backbone=None
        ).backbone.body,
        features=True,
    )


CASES = {
    "hf_bottleneck": lambda: _hf(ResNetConfig()),
    "hf_basic": lambda: _hf(
        ResNetConfig(layer_type="basic", hidden_sizes=[64, 128, 256, 512], depths=[2, 2, 2, 2])
    ),
    "hf_model_headless": lambda: _hf(ResNetConfig(depths=[2, 2, 2, 2]), head=False),
    "tv_detector_body": _detector_backbone,
    "timm_resnet50_headless": lambda: _plain(timm.create_model("resnet50", num_classes=0)),
}


def _import(path: Path) -> object:
    spec = importlib.util.spec_from_file_location(f"layout_{path.parent.name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "designer.cli", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done


def _flops(model: Callable[[torch.Tensor], torch.Tensor]) -> int:
    return forward_flops(model, SIDE)


def _check(
    state: dict[str, torch.Tensor],
    reference: Callable[[torch.Tensor], torch.Tensor],
    tmp_path: Path,
    checkpoint: object = None,
) -> str:
    """Open ``checkpoint`` (default: ``state``), export model.py, load ``state`` into it."""
    path = tmp_path / "ck.pth"
    torch.save(state if checkpoint is None else checkpoint, path)
    opened = _cli("open", str(path), "-o", str(tmp_path / "d.resnet.json"))
    data = json.loads((tmp_path / "d.resnet.json").read_text(encoding="utf-8"))
    data["input"] = {"channels": 3, "height": SIDE, "width": SIDE}
    (tmp_path / "d.resnet.json").write_text(json.dumps(data), encoding="utf-8")
    _cli("export", str(tmp_path / "d.resnet.json"), "-o", str(tmp_path / "model.py"))
    weights = tmp_path / "w.safetensors"
    _cli("export", str(tmp_path / "d.resnet.json"), "-o", str(weights), "--init-from", str(path))
    ours = _import(tmp_path / "model.py").build_model().eval()  # type: ignore[attr-defined]
    ours.load_state_dict(load_file(weights), strict=True)
    x = torch.randn(2, 3, SIDE, SIDE)
    with torch.no_grad():
        assert torch.allclose(ours(x), reference(x), atol=1e-4, rtol=1e-4)
    assert _flops(ours) == _flops(reference)
    return opened.stderr


@pytest.mark.parametrize("name", sorted(CASES))
def test_other_layouts_open_exact(name: str, tmp_path: Path) -> None:
    model, reference = CASES[name]()
    notes = _check(model.state_dict(), reference, tmp_path)
    headless = name.endswith("headless") or name == "tv_detector_body"
    assert ("no classifier: a feature extractor" in notes) == headless
    if name.startswith("hf_"):
        assert "from transformers names" in notes


def test_a_whole_detector_opens_as_its_backbone(tmp_path: Path) -> None:
    detector = torchvision.models.detection.fasterrcnn_resnet50_fpn(
        weights=None, weights_backbone=None
    )
    body, reference = _plain(detector.backbone.body, features=True)
    notes = _check(body.state_dict(), reference, tmp_path, checkpoint=detector.state_dict())
    assert "under 'backbone.body.'" in notes
    assert "only the ResNet is read" in notes and "rpn" in notes


def test_frozen_norms_without_a_counter_open(tmp_path: Path) -> None:
    """A pretrained detector's FrozenBatchNorm2d has no num_batches_tracked."""
    from torchvision.ops import FrozenBatchNorm2d

    model = torchvision.models.resnet50(norm_layer=FrozenBatchNorm2d).eval()
    _check(model.state_dict(), model, tmp_path)


def test_a_lightning_checkpoint_opens(tmp_path: Path) -> None:
    model, reference = _plain(torchvision.models.resnet18())
    wrapped = {f"model.{k}": v for k, v in model.state_dict().items()}
    checkpoint = {"state_dict": wrapped, "epoch": 3, "optimizer_states": []}
    notes = _check(model.state_dict(), reference, tmp_path, checkpoint=checkpoint)
    assert "under 'model.'" in notes


def test_mmpretrain_names_open_with_their_classifier(tmp_path: Path) -> None:
    model, reference = _plain(torchvision.models.resnet34())
    renamed = {
        ("head." if k.startswith("fc.") else "backbone.") + k: v
        for k, v in model.state_dict().items()
    }
    notes = _check(model.state_dict(), reference, tmp_path, checkpoint={"state_dict": renamed})
    assert "under 'backbone.'" in notes and "head and num_classes" in notes


_MM_STEM = {"conv1.0": "stem.0.conv", "conv1.1": "stem.0.bn", "conv1.3": "stem.1.conv"}
_MM_STEM |= {"conv1.4": "stem.1.bn", "conv1.6": "stem.2.conv", "bn1": "stem.2.bn"}


@pytest.mark.parametrize(("name", "timm_name"), [("V1c", "resnet50c"), ("V1d", "resnet50d")])
def test_mmpretrain_v1c_and_v1d_open(name: str, timm_name: str, tmp_path: Path) -> None:
    """mmpretrain's ResNetV1c is timm's resnet50c (a deep stem), its V1d resnet50d (and an
    average-pool shortcut, whose ``downsample.1`` conv and ``.2`` norm are timm's names)."""
    model, reference = _plain(timm.create_model(timm_name))

    def renamed(key: str) -> str:
        if key.startswith("fc."):
            return "head." + key
        module, _, tensor = key.rpartition(".")
        return f"backbone.{_MM_STEM.get(module, module)}.{tensor}"

    mm = {renamed(k): v for k, v in model.state_dict().items()}
    assert "backbone.stem.2.bn.running_var" in mm
    notes = _check(model.state_dict(), reference, tmp_path, checkpoint={"state_dict": mm})
    assert "stem kind and width" in notes and "under 'backbone.'" in notes, name


def test_a_feature_extractor_is_summarised_and_not_bundled(tmp_path: Path) -> None:
    data = {"format": "resnet-designer/1", "stages": [{"depth": 2, "width": 64, "stride": 1}]}
    data["block"] = "basic"
    data["num_classes"] = 0
    (tmp_path / "f.resnet.json").write_text(json.dumps(data), encoding="utf-8")
    summary = _cli("summary", str(tmp_path / "f.resnet.json"), "--format", "json")
    result = json.loads(summary.stdout)
    assert result["output_shape"] == [64]  # the pooled features
    assert "fc" not in [row["name"] for row in result["layers"]]
    drawing = _cli("render", str(tmp_path / "f.resnet.json"), "-o", "-", "--format", "svg")
    assert "head: avgpool (features, 64)" in drawing.stdout and "fc 64" not in drawing.stdout
    design, out = str(tmp_path / "f.resnet.json"), str(tmp_path / "b")
    done = subprocess.run(
        [sys.executable, "-m", "designer.cli", "bundle", design, "-o", out],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=300,
    )
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert "num_classes" in line and "class count" in line
    assert not (tmp_path / "b").exists()


DILATIONS = {16: [False, False, True], 8: [False, True, True]}
DILATED = {
    "torchvision resnet50": lambda stride: torchvision.models.resnet50(
        replace_stride_with_dilation=DILATIONS[stride]
    ),
    # ResNet-D: its shortcut keeps a 2x2 average pool at stride 1 in a dilated stage
    "timm resnet50d": lambda stride: timm.create_model("resnet50d", output_stride=stride),
}


@pytest.mark.parametrize("stride", sorted(DILATIONS))
@pytest.mark.parametrize("source", sorted(DILATED))
def test_output_stride_dilates_as_torchvision_and_timm(
    source: str, stride: int, tmp_path: Path
) -> None:
    """Dilation has no weights: --output-stride sets it, with torchvision's and timm's meaning."""
    reference = _randomised(DILATED[source](stride))
    path = tmp_path / "r50.pth"
    torch.save(reference.state_dict(), path)
    design = tmp_path / "d.resnet.json"
    opened = _cli("open", str(path), "--output-stride", str(stride), "-o", str(design))
    assert f"output stride {stride}" in opened.stderr
    _cli("export", str(design), "-o", str(tmp_path / "model.py"))
    ours = _import(tmp_path / "model.py").build_model().eval()  # type: ignore[attr-defined]
    ours.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(1, 3, SIDE, SIDE)
    with torch.no_grad():
        assert torch.allclose(ours(x), reference(x), atol=1e-4, rtol=1e-4)
    assert _flops(ours) == _flops(reference)


def test_an_output_stride_the_network_cannot_reach_is_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "designer.cli", "open", "resnet20_cifar", "--output-stride", "8"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr == (
        "error: output_stride: the network subsamples by 4 only, less than 8: nothing to dilate\n"
    )
