"""The network plan against the networks torchvision and timm build: every block's
channels, stride, dilation, shortcut and drop-path rate, read off their modules."""

from __future__ import annotations

import pytest
from torch import nn

from designer.core.analysis import analyse
from designer.core.plan import plan
from designer.core.presets import load_preset
from tests.reference import torchvision_models

TORCHVISION = (
    ("resnet18", "resnet18", {}),
    ("resnet50", "resnet50", {}),
    ("resnext50_32x4d", "resnext50_32x4d", {}),
    ("wide_resnet50_2", "wide_resnet50_2", {}),
    ("resnet50_os8", "resnet50", {"replace_stride_with_dilation": [False, True, True]}),
)


def _blocks(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return [
        (f"{name}.{i}", block)
        for name in ("layer1", "layer2", "layer3", "layer4")
        for i, block in enumerate(getattr(model, name))
    ]


@pytest.mark.parametrize(("preset", "builder", "kwargs"), TORCHVISION)
def test_every_block_is_the_one_torchvision_builds(preset, builder, kwargs):
    theirs = getattr(torchvision_models(), builder)(weights=None, **kwargs)
    ours = plan(load_preset(preset))
    blocks = _blocks(theirs)
    assert [b.path for b in ours.blocks] == [name for name, _ in blocks]
    for bp, (_, block) in zip(ours.blocks, blocks, strict=True):
        bottleneck = hasattr(block, "conv3")
        # the 3x3 that strides (the second in torchvision's v1.5 bottleneck) or dilates
        inner = block.conv2 if bottleneck else block.conv1
        last = block.conv3 if bottleneck else block.conv2
        assert (bp.in_channels, bp.out_channels) == (block.conv1.in_channels, last.out_channels)
        assert bp.width == inner.out_channels
        assert (bp.stride, bp.first_dilation) == (inner.stride[0], inner.dilation[0])
        assert (bp.shortcut == "identity") == (block.downsample is None)


def test_spatial_sizes_follow_the_strides_and_dilations():
    resnet50 = plan(load_preset("resnet50"))
    assert resnet50.stem_size == (56, 56)
    ends = [resnet50.stage_blocks(s)[-1].out_size for s in range(4)]
    assert ends == [(56, 56), (28, 28), (14, 14), (7, 7)]
    os8 = plan(load_preset("resnet50_os8"))  # the last two stages dilate instead
    ends = [os8.stage_blocks(s)[-1].out_size for s in range(4)]
    assert ends == [(56, 56), (28, 28), (28, 28), (28, 28)]
    analysis = analyse(load_preset("resnet50_os8"))
    assert [shape[1:] for shape in analysis.stage_shapes] == ends


def test_drop_path_rates_are_timms():
    import timm

    design = load_preset("resnet50").replace(drop_path_rate=0.2)
    theirs = timm.create_model("resnet50", pretrained=False, drop_path_rate=0.2)
    rates = [
        block.drop_path.drop_prob if block.drop_path is not None else 0.0
        for _, block in _blocks(theirs)
    ]
    assert [b.drop_path for b in plan(design).blocks] == pytest.approx(rates)


def test_only_the_first_preactivation_block_may_leave_it_to_the_stem():
    """He et al. 2016: a stem ending in BN-ReLU feeds the first block, which skips its own."""
    blocks = plan(load_preset("preact_resnet164_cifar")).blocks
    assert [b.runs_pre for b in blocks[:2]] == [blocks[0].runs_pre, True]
    assert all(b.runs_pre for b in blocks[1:])


def test_a_plan_is_made_once_per_design():
    design = load_preset("resnet152")
    assert plan(design) is plan(design)
    assert plan(design.replace(num_classes=10)) is not plan(design)
