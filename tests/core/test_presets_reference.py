"""Presets against numbers nobody here wrote: torchvision's models, torchinfo, the papers, timm."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from designer.core.analysis import analyse
from designer.core.design import Design, InputSpec
from designer.core.presets import PRESET_SOURCE, SOURCES, load_preset, preset_names
from designer.core.torch.build import build
from tests.reference import timm_resnetv2_to_ours, torchvision_models
from tests.reference_figures import (
    PAPER_MILLIONS,
    PREACT_RESNET1001_CONV_MILLIONS,
    RESNET50_STATE_DICT_KEYS,
    TORCHVISION_COUNTS,
)

TORCHVISION = [
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "wide_resnet50_2",
    "resnext50_32x4d",
]

DEPTH_IN_NAME = {
    "resnet18": 18,
    "resnet50": 50,
    "resnet152": 152,
    "resnet20_cifar": 20,
    "resnet1202_cifar": 1202,
    "preact_resnet164_cifar": 164,
    "preact_resnet1001_cifar": 1001,
    "resnetv2_builder": 56,
    # the zoos' 50-layer variants: a deep stem or a conv pool counts as the one stem layer
    "resnet50_os8": 50,
    "resnet50d": 50,
    "resnet50t": 50,
    "resnet50_gn": 50,
    "seresnet50": 50,
    "resnetrs50": 50,
    "resnetv2_50": 50,
}


def test_all_required_presets_ship() -> None:
    required = (
        set(TORCHVISION)
        | set(PAPER_MILLIONS)
        | set(ZOO_VARIANTS)
        | {"preact_resnet1001_cifar", "resnetv2_builder"}
    )
    assert required <= set(preset_names())


def test_every_preset_has_a_known_source() -> None:
    assert set(PRESET_SOURCE) == set(preset_names())
    assert set(PRESET_SOURCE.values()) <= set(SOURCES)


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


@pytest.mark.parametrize("name", sorted(TORCHVISION_COUNTS))
def test_closed_form_matches_anchor_counts(name: str) -> None:
    result = analyse(load_preset(name))
    assert (result.params, result.macs) == TORCHVISION_COUNTS[name]


def test_resnet50_state_dict_has_320_keys() -> None:
    keys = list(build(load_preset("resnet50"), device="meta").state_dict())
    assert len(keys) == RESNET50_STATE_DICT_KEYS
    assert keys[0] == "conv1.weight" and keys[-2:] == ["fc.weight", "fc.bias"]


@pytest.mark.parametrize("name", sorted(PAPER_MILLIONS))
def test_papers_parameter_counts(name: str) -> None:
    params = analyse(load_preset(name)).params
    digits = 2 if PAPER_MILLIONS[name] < 1 else 1
    assert round(params / 1e6, digits) == PAPER_MILLIONS[name]


def test_preact_resnet1001_conv_weights_match_paper() -> None:
    # He et al. 2016's figure for ResNet-1001 counts conv weights only
    result = analyse(load_preset("preact_resnet1001_cifar"))
    conv_weights = sum(layer.params for layer in result.layers if layer.kind == "Conv2d")
    assert round(conv_weights / 1e6, 1) == PREACT_RESNET1001_CONV_MILLIONS
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


# --- other zoos' variants: the reference network itself, its weights, its FLOPs --------------


def _timm(name: str) -> Callable[[], nn.Module]:
    def make() -> nn.Module:
        import timm

        return timm.create_model(name, pretrained=False)

    return make


def _resnet50_os8() -> nn.Module:
    """DeepLabV3's backbone: output stride 8, stages 3 and 4 dilated instead of strided."""
    return torchvision_models().resnet50(replace_stride_with_dilation=[False, True, True])


ZOO_VARIANTS: dict[str, Callable[[], nn.Module]] = {
    "resnet50_os8": _resnet50_os8,
    "resnet50d": _timm("resnet50d"),
    "resnet50t": _timm("resnet50t"),
    "resnet50_gn": _timm("resnet50_gn"),
    "seresnet50": _timm("seresnet50"),
    "resnetrs50": _timm("resnetrs50"),
    "resnetv2_50": _timm("resnetv2_50"),
}
"""Each preset's reference network, under the source ``PRESET_SOURCE`` gives it."""

ZOO_SOURCE = {name: "torchvision" if name == "resnet50_os8" else "timm" for name in ZOO_VARIANTS}


def _randomise(model: nn.Module) -> None:
    """Seeded random values in every float tensor, norms' statistics included.

    Fresh models make a weak comparison: timm zero-initialises each block's last norm
    (or conv), and every norm starts as the identity, so a swapped norm would pass.
    Convs and linears get He-scaled weights so 50 layers stay finite.
    """
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if not tensor.is_floating_point():
                continue
            if tensor.dim() > 1:
                tensor.normal_(0.0, (2.0 / tensor[0].numel()) ** 0.5, generator=generator)
            elif name.endswith(("weight", "running_var")):
                tensor.uniform_(0.5, 1.5, generator=generator)
            else:
                tensor.normal_(0.0, 0.1, generator=generator)


def _run_counting_flops(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, int]:
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        y = model(x)
    return y, counter.get_total_flops()


def _weight_mult_adds(design: Design) -> int:
    """The analysis' Conv2d and Linear mult-adds (batch 1), less what their biases add.

    torchinfo's convention, which the analysis keeps, counts a bias as one mult-add per
    output value; FlopCounterMode counts 2 FLOPs per weight mult-add and none for a bias.
    """
    total = 0
    for row in analyse(design).layers:
        if row.kind == "Conv2d":
            c, h, w = row.output_shape
            total += row.macs - (c * h * w if row.bias else 0)
        elif row.kind == "Linear":
            total += row.input_shape[0] * row.output_shape[0]
    return total


def test_zoo_variants_are_listed_under_their_source() -> None:
    assert {name: PRESET_SOURCE[name] for name in ZOO_VARIANTS} == ZOO_SOURCE


@pytest.mark.parametrize("name", sorted(ZOO_VARIANTS))
def test_zoo_variant_is_its_reference(name: str) -> None:
    """Same parameters, same FLOPs, same outputs on the reference's own (random) weights."""
    design = load_preset(name)
    theirs = ZOO_VARIANTS[name]().eval()
    _randomise(theirs)
    state = theirs.state_dict()
    ours = build(design, device="meta").eval()  # no init: every tensor comes from theirs
    if name == "resnetv2_50":
        state = timm_resnetv2_to_ours(state, set(ours.state_dict()))
    else:  # the same names, in the same order
        assert list(ours.state_dict()) == list(state)
    count = sum(p.numel() for p in theirs.parameters())
    assert sum(p.numel() for p in ours.parameters()) == count == analyse(design).params
    ours.load_state_dict(state, strict=True, assign=True)

    head_inputs: list[torch.Tensor] = []
    ours.fc.register_forward_pre_hook(lambda _module, args: head_inputs.append(args[0]))
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    y_ours, flops_ours = _run_counting_flops(ours, x)
    y_theirs, flops_theirs = _run_counting_flops(theirs, x)
    assert flops_ours == flops_theirs
    small = design.replace(input=InputSpec(3, 64, 64))
    assert flops_ours == 2 * x.shape[0] * _weight_mult_adds(small)

    assert torch.isfinite(y_ours).all() and y_ours.std() > 0.1
    if name == "resnetv2_50":
        # timm's head is a 1x1 conv, ours a Linear: the same sums in another order, so
        # the logits agree to rounding, and what enters the head (the pooled features)
        # exactly
        with torch.no_grad():
            features = theirs.forward_head(theirs.forward_features(x), pre_logits=True)
        torch.testing.assert_close(head_inputs[0], features.flatten(1), rtol=0, atol=0)
        scale = y_theirs.abs().max().item()
        torch.testing.assert_close(y_ours, y_theirs, rtol=1e-5, atol=1e-6 * scale)
    else:
        torch.testing.assert_close(y_ours, y_theirs, rtol=0, atol=0)
