"""timm's legacy SE-ResNets and SE-ResNeXts (Cadene's SENets, timm's ``senet.py``) as checkpoints.

Randomly initialised, each goes through the CLI as a user's checkpoint would: ``open``
recovers the design from ``layer0``, ``se_module`` and ``last_linear``, ``export`` writes
model.py and, ``--init-from`` the checkpoint, its weights; model.py loads timm's state dict
strictly through the recovery's key map and gives timm's outputs and FLOPs. The stem's
Caffe pool (unpadded, ceil mode) differs from torchvision's at the border and, at odd
sizes, in size: 65 x 65 shows it. The largest networks are checked by names and shapes.
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
from designer.core.design import DesignError, InputSpec, StemSpec
from designer.core.io import load
from designer.core.presets import load_preset
from designer.core.recover import recover
from designer.core.state import expected_state
from designer.core.torch.build import build
from tests.reference import forward_flops, randomised_norms, torchinfo_leaf_rows

CLI = [sys.executable, "-m", "designer.cli"]
EXACT = ["legacy_seresnet18", "legacy_seresnet50", "legacy_seresnext26_32x4d"]  # at 64 x 64
ALL = [
    "legacy_seresnet18",
    "legacy_seresnet34",
    "legacy_seresnet50",
    "legacy_seresnet101",
    "legacy_seresnet152",
    "legacy_seresnext26_32x4d",
    "legacy_seresnext50_32x4d",
    "legacy_seresnext101_32x4d",
]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [*CLI, *args], capture_output=True, text=True, encoding="utf-8", timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done


def _import(path: Path) -> object:
    spec = importlib.util.spec_from_file_location(f"legacy_{path.parent.name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _shapes(model: nn.Module) -> dict[str, tuple[int, ...]]:
    return {key: tuple(value.shape) for key, value in model.state_dict().items()}


@pytest.mark.parametrize(("name", "side"), [(name, 64) for name in EXACT] + [(EXACT[0], 65)])
def test_a_legacy_checkpoint_becomes_an_exact_model_py(
    name: str, side: int, tmp_path: Path
) -> None:
    theirs = randomised_norms(timm.create_model(name, pretrained=False))
    checkpoint = tmp_path / f"{name}.pth"
    torch.save(theirs.state_dict(), checkpoint)
    design_file = tmp_path / "d.resnet.json"
    opened = _cli("open", str(checkpoint), "-o", str(design_file))
    assert "timm-legacy-senet names" in opened.stderr
    assert "stem pool max_ceil" in opened.stderr
    stride_on = "3x3" if "seresnext" in name else "1x1"
    bottleneck = name != "legacy_seresnet18"
    # where the stride sits follows from the layout: said as inferred, not assumed
    assert (f"stride_on {stride_on} (the layout's" in opened.stderr) == bottleneck
    assert "assumed  stride_on" not in opened.stderr
    data = json.loads(design_file.read_text(encoding="utf-8"))
    assert data["stem"]["pool"] == "max_ceil"
    data["input"] = {"channels": 3, "height": side, "width": side}
    design_file.write_text(json.dumps(data), encoding="utf-8")
    model_py = tmp_path / "model.py"
    _cli("export", str(design_file), "-o", str(model_py))
    text = model_py.read_text(encoding="utf-8")
    assert "nn.MaxPool2d(kernel_size=3, stride=2, padding=0, ceil_mode=True)" in text
    weights = tmp_path / "w.safetensors"
    _cli("export", str(design_file), "-o", str(weights), "--init-from", str(checkpoint))

    ours = _import(model_py).build_model().eval()  # type: ignore[attr-defined]
    ours.load_state_dict(load_file(weights), strict=True)
    mapped = recover(_shapes(theirs)).key_map.translate(theirs.state_dict())
    ours.load_state_dict(mapped, strict=True)
    count = sum(p.numel() for p in theirs.parameters())
    assert sum(p.numel() for p in ours.parameters()) == count
    assert forward_flops(ours, side) == forward_flops(theirs, side)
    x = torch.randn(2, 3, side, side)
    with torch.no_grad():
        assert torch.allclose(ours(x), theirs(x), atol=1e-4, rtol=1e-4)
    assert analyse(load(design_file)).params == count


@pytest.mark.parametrize("name", ALL)
def test_every_legacy_model_opens_with_timms_tensors(name: str) -> None:
    with torch.device("meta"):
        theirs = timm.create_model(name, pretrained=False)
    shapes = _shapes(theirs)
    recovery = recover(shapes, name=name)
    assert expected_state(recovery.design) == recovery.key_map.translate(shapes)
    assert len(recovery.key_map.ours) == len(shapes)
    count = sum(p.numel() for p in theirs.parameters())
    assert analyse(recovery.design).params == count
    design = recovery.design
    assert design.stem.pool == "max_ceil" and design.se_ratio == 1 / 16
    if design.is_bottleneck:
        assert design.stride_on == ("1x1" if design.groups == 1 else "3x3")
    else:  # its basic block activates the second norm too, before the squeeze-excite
        assert design.block == "senet_basic"


def test_the_stem_pool_and_block_rows_are_torchinfos() -> None:
    """The unpadded ceil-mode pool: 33 -> 16 where torchvision's padded pool gives 17."""
    design = load_preset("resnet18").replace(
        block="senet_basic",
        se_ratio=1 / 16,
        stem=StemSpec("imagenet", 64, pool="max_ceil"),
        input=InputSpec(3, 65, 65),
    )
    stats, rows = torchinfo_leaf_rows(build(design), (3, 65, 65))
    ours = [(r.name, r.kind, r.output_shape, r.params, r.macs) for r in analyse(design).layers]
    assert ours == rows
    assert ("maxpool", "MaxPool2d", (64, 16, 16), 0, 0) in rows
    assert [r[1] for r in rows[4:9]] == ["Conv2d", "BatchNorm2d", "ReLU", "Conv2d", "BatchNorm2d"]
    assert rows[9][:2] == ("layer1.0.relu", "ReLU")  # the SENets' activation before the gate
    assert analyse(design).macs == stats.total_mult_adds


def test_senet154_and_tiny_inputs_are_refused_in_one_line() -> None:
    with torch.device("meta"):
        senet = timm.create_model("legacy_senet154", pretrained=False)
    with pytest.raises(DesignError, match="SENet-154") as caught:
        recover(_shapes(senet))
    assert "\n" not in str(caught.value)
    design = load_preset("resnet18")
    with pytest.raises(DesignError, match="the stem leaves nothing of a 2x2 input"):
        design.replace(stem=StemSpec("imagenet", 64, pool="max_ceil"), input=InputSpec(3, 2, 2))
    with pytest.raises(DesignError, match="no anti-aliased form"):
        design.replace(stem=StemSpec("imagenet", 64, pool="max_ceil"), anti_alias="blur")
