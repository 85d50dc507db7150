"""Presets against numbers nobody here wrote: torchvision's models, torchinfo, the papers."""

from __future__ import annotations

import pytest
import torch

from designer.core.analysis import analyse
from designer.core.presets import load_preset, preset_names
from designer.core.torch.build import build
from tests.reference import torchvision_models

TORCHVISION = [
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "wide_resnet50_2",
    "resnext50_32x4d",
]

# ANCHORS.md: torchvision 0.29.1, weights=None, torchinfo mult-adds at 1x3x224x224.
ANCHOR_COUNTS = {
    "resnet18": (11_689_512, 1_814_083_944),
    "resnet34": (21_797_672, 3_663_779_432),
    "resnet50": (25_557_032, 4_089_238_376),
    "resnet101": (44_549_160, 7_801_511_784),
    "resnet152": (60_192_808, 11_513_779_048),
    "wide_resnet50_2": (68_883_240, 11_398_090_344),
    "resnext50_32x4d": (25_028_904, 4_230_549_096),
}

# Papers' parameter counts in millions, as printed (rounded).
PAPER_MILLIONS = {
    "resnet20_cifar": 0.27,  # He et al. 2015, Table 6
    "resnet32_cifar": 0.46,
    "resnet44_cifar": 0.66,
    "resnet56_cifar": 0.85,
    "resnet110_cifar": 1.7,
    "resnet1202_cifar": 19.4,
    "preact_resnet164_cifar": 1.7,  # He et al. 2016
    "wrn28_10_cifar": 36.5,  # Zagoruyko and Komodakis 2016
}

DEPTH_IN_NAME = {
    "resnet18": 18,
    "resnet50": 50,
    "resnet152": 152,
    "resnet20_cifar": 20,
    "resnet1202_cifar": 1202,
    "preact_resnet164_cifar": 164,
    "preact_resnet1001_cifar": 1001,
    "resnetv2_builder": 56,
}


def test_all_required_presets_ship() -> None:
    required = (
        set(TORCHVISION) | set(PAPER_MILLIONS) | {"preact_resnet1001_cifar", "resnetv2_builder"}
    )
    assert required <= set(preset_names())


@pytest.mark.parametrize("name", TORCHVISION)
def test_torchvision_identity(name: str) -> None:
    reference = getattr(torchvision_models(), name)()
    ours = build(load_preset(name))
    ref_sd, our_sd = reference.state_dict(), ours.state_dict()
    assert list(our_sd) == list(ref_sd)
    assert all(our_sd[k].shape == ref_sd[k].shape for k in ref_sd)
    assert sum(p.numel() for p in ours.parameters()) == sum(
        p.numel() for p in reference.parameters()
    )
    ours.load_state_dict(ref_sd, strict=True)
    reference.eval()
    ours.eval()
    x = torch.randn(2, 3, 96, 96, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(ours(x), reference(x), rtol=0, atol=0)


@pytest.mark.parametrize("name", sorted(ANCHOR_COUNTS))
def test_closed_form_matches_anchor_counts(name: str) -> None:
    result = analyse(load_preset(name))
    assert (result.params, result.macs) == ANCHOR_COUNTS[name]


def test_resnet50_state_dict_has_320_keys() -> None:
    keys = list(build(load_preset("resnet50"), device="meta").state_dict())
    assert len(keys) == 320
    assert keys[0] == "conv1.weight" and keys[-2:] == ["fc.weight", "fc.bias"]


@pytest.mark.parametrize("name", sorted(PAPER_MILLIONS))
def test_papers_parameter_counts(name: str) -> None:
    params = analyse(load_preset(name)).params
    digits = 2 if PAPER_MILLIONS[name] < 1 else 1
    assert round(params / 1e6, digits) == PAPER_MILLIONS[name]


def test_preact_resnet1001_conv_weights_match_paper() -> None:
    # He et al. 2016 quote 10.2M for ResNet-1001: that figure counts conv weights only.
    result = analyse(load_preset("preact_resnet1001_cifar"))
    conv_weights = sum(layer.params for layer in result.layers if layer.kind == "Conv2d")
    assert round(conv_weights / 1e6, 1) == 10.2
    assert result.params > conv_weights


@pytest.mark.parametrize("name", sorted(DEPTH_IN_NAME))
def test_depth_is_the_number_in_the_name(name: str) -> None:
    assert analyse(load_preset(name)).depth == DEPTH_IN_NAME[name]


def _keras_resnet_v2_trainable_params(depth: int, classes: int) -> int:
    """Trainable parameters of the seed's Keras builder, tallied the way Keras would.

    An independent transcription of the seed's loop (convs with bias, BN gamma/beta,
    the Dense(512)-BN head), so the preset is checked against the article, not itself.
    """

    def conv(cin: int, cout: int, k: int) -> int:
        return cin * cout * k * k + cout

    def bn(c: int) -> int:
        return 2 * c

    total = conv(3, 32, 3) + bn(32)
    n_in = 32
    for stage in range(3):
        n_out = n_in * 4 if stage == 0 else n_in * 2
        for unit in range(int((depth - 2) / 9)):
            skip_bn = stage == 0 and unit == 0
            c_in = n_in if unit == 0 else n_out
            total += (0 if skip_bn else bn(c_in)) + conv(c_in, n_in, 1)
            total += bn(n_in) + conv(n_in, n_in, 3)
            total += bn(n_in) + conv(n_in, n_out, 1)
            if unit == 0:
                total += conv(c_in, n_out, 1)
        n_in = n_out
    total += bn(n_in)
    total += n_in * 512 + 512 + bn(512) + 512 * classes + classes
    return total


def test_resnetv2_builder_matches_the_seed_article() -> None:
    assert analyse(load_preset("resnetv2_builder")).params == _keras_resnet_v2_trainable_params(
        56, 10
    )
