"""timm's ResNet variants, a zoo no one here wrote: our designs load their weights strictly.

For each variant the design below is written in our design language; timm's
``state_dict`` must load with ``strict=True`` and both networks must give the same
outputs, with the same parameter count.
"""

from __future__ import annotations

import pytest
import torch

from designer.core.analysis import analyse
from designer.core.design import Design, StemSpec
from designer.core.presets import load_preset
from designer.core.torch.build import build


def _resnet50(**changes: object) -> Design:
    return load_preset("resnet50").replace(**changes)


VARIANTS = {
    "resnet50d": lambda: _resnet50(stem=StemSpec("deep", 64), shortcut="avg_down"),
    "resnet50t": lambda: _resnet50(stem=StemSpec("deep_tiered", 64), shortcut="avg_down"),
    "resnet50_gn": lambda: _resnet50(norm="group"),
    "resnetrs50": lambda: _resnet50(
        stem=StemSpec("deep", 64, pool="conv"), shortcut="avg_down", se_ratio=0.25, se_divisor=8
    ),
    "seresnet50": lambda: _resnet50(se_ratio=1 / 16, se_divisor=8),
    # basic blocks: 64 channels / 16 = 4, which timm rounds up to a multiple of 8
    "seresnet18": lambda: load_preset("resnet18").replace(se_ratio=1 / 16, se_divisor=8),
    "seresnet34": lambda: load_preset("resnet34").replace(se_ratio=1 / 16, se_divisor=8),
    "resnet26d": lambda: _resnet50(
        stem=StemSpec("deep", 64),
        shortcut="avg_down",
        stages=tuple(s.__class__(2, s.width, s.stride) for s in load_preset("resnet50").stages),
    ),
}


@pytest.fixture(scope="module")
def timm():
    import timm

    return timm


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_timm_weights_load_strictly_and_give_the_same_outputs(timm, name: str) -> None:
    design = VARIANTS[name]()
    theirs = timm.create_model(name, pretrained=False).eval()
    ours = build(design).eval()
    assert analyse(design).params == sum(p.numel() for p in theirs.parameters())
    ours.load_state_dict(theirs.state_dict(), strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(ours(x), theirs(x), rtol=1e-5, atol=1e-5)
