"""A zoo of timm's and torchvision's ResNets, each written as a design and checked three ways.

Every variant below is a design in our language (from a preset or a ``Design``
directly) and a reference model built by timm or torchvision without pretrained
weights. Three checks per variant, each its own test so that a failure names both:

* ``params``: the closed-form analysis counts the reference's parameters exactly;
* ``flops``: torch's ``FlopCounterMode`` counts the same FLOPs for our built network
  and the reference on one 64x64 image, and the analysis predicts them: twice the
  multiply-adds of its Conv2d and Linear rows, less their bias adds (torchinfo counts
  a bias add as a multiply-add, the FLOP counter counts no bias);
* ``outputs``: the reference's state (its norms and biases randomised first, so that a
  wrong mapping cannot pass on default init) loads into ours, strictly, and both give
  the same outputs in eval mode.

Names are timm's model names; ``tv_`` ones are torchvision's. timm's ResNetV2 names
its modules its own way: ``tests.reference.timm_resnetv2_to_ours`` maps them onto
ours. Each variant's pair of networks is built once, the cases running variant by variant.
A variant whose architecture the design language cannot express would have its failing
checks marked ``xfail(strict=True)``, the reason naming what the core lacks (none now).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from designer.core.analysis import analyse
from designer.core.design import Design, InputSpec, StageSpec, StemSpec
from designer.core.presets import load_preset
from designer.core.torch.build import build
from tests.reference import timm_resnetv2_to_ours, torchvision_models

SIZE = 64  # small inputs keep the big networks fast on CI's two cores
SE = {"se_ratio": 1 / 16, "se_divisor": 8}  # timm's attn_layer='se': make_divisible(C / 16, 8)


def _preset(name: str, depths: tuple[int, ...] | None = None, **changes: object) -> Design:
    """A preset, its stages' depths replaced (if given), then ``changes`` applied."""
    design = load_preset(name)
    if depths is not None:
        stages = tuple(
            dataclasses.replace(s, depth=d) for s, d in zip(design.stages, depths, strict=True)
        )
        design = design.replace(stages=stages)
    return design.replace(**changes) if changes else design


def _dilated(*flags: bool) -> Design:
    """torchvision's resnet50(replace_stride_with_dilation=flags), stages 2 to 4."""
    design = load_preset("resnet50")
    for i, flag in enumerate(flags, start=1):
        design = design.with_stage(i, dilate=flag)
    return design


D = {"stem": StemSpec("deep", 64), "shortcut": "avg_down"}  # timm's stem_width=32 'deep'
T = {"stem": StemSpec("deep_tiered", 64), "shortcut": "avg_down"}  # timm's 'deep_tiered'
V2 = {"block": "preact_bottleneck", "stem": StemSpec("imagenet", 64, norm_act=False)}
V2D = {"block": "preact_bottleneck", "stem": StemSpec("deep", 64, norm_act=False)}
V2_BASIC = {"block": "preact_basic", "stem": StemSpec("imagenet", 64, norm_act=False)}
V2D_BASIC = {"block": "preact_basic", "stem": StemSpec("deep", 64, norm_act=False)}
B2222 = (2, 2, 2, 2)
B1111 = (1, 1, 1, 1)
CHECKS = ("params", "flops", "outputs")


@dataclass(frozen=True)
class Variant:
    design: Callable[[], Design]
    library: str = "timm"  # or "torchvision"
    kwargs: dict = field(default_factory=dict)  # for the reference's constructor
    resnetv2: bool = False  # timm's ResNetV2 names: map them onto ours
    gaps: dict[str, str] = field(default_factory=dict)  # check -> what the core lacks


ECA = {"attention": "eca"}  # timm's attn_layer='eca'

VARIANTS: dict[str, Variant] = {
    # plain (torchvision's layout, as timm builds it)
    "resnet10t": Variant(lambda: _preset("resnet18", B1111, **T)),
    "resnet14t": Variant(lambda: _preset("resnet50", B1111, **T)),
    "resnet18": Variant(lambda: _preset("resnet18")),
    "resnet26": Variant(lambda: _preset("resnet50", B2222)),
    "resnet34": Variant(lambda: _preset("resnet34")),
    "resnet101": Variant(lambda: _preset("resnet101")),
    "resnet152": Variant(lambda: _preset("resnet152")),
    # D: deep stem and avg-pool downsampling; T: the tiered deep stem
    "resnet18d": Variant(lambda: _preset("resnet18", **D)),
    "resnet34d": Variant(lambda: _preset("resnet34", **D)),
    "resnet101d": Variant(lambda: _preset("resnet101", **D)),
    "resnet26t": Variant(lambda: _preset("resnet50", B2222, **T)),
    # C and S: the deep stem alone (S: timm's stem_width 64, so 64/64/128 channels)
    "resnet50c": Variant(lambda: _preset("resnet50", stem=StemSpec("deep", 64))),
    "resnet50s": Variant(lambda: _preset("resnet50", stem=StemSpec("deep", 128))),
    # squeeze-excitation
    "seresnext26d_32x4d": Variant(lambda: _preset("resnext50_32x4d", B2222, **D, **SE)),
    "seresnext26t_32x4d": Variant(lambda: _preset("resnext50_32x4d", B2222, **T, **SE)),
    "seresnext50_32x4d": Variant(lambda: _preset("resnext50_32x4d", **SE)),
    # anti-aliased downsampling: 2x2 average pools (aa) or BlurPool (blur)
    "resnetblur18": Variant(lambda: _preset("resnet18", anti_alias="blur")),
    "resnetaa34d": Variant(lambda: _preset("resnet34", **D, anti_alias="avg")),
    "resnetaa50": Variant(lambda: _preset("resnet50", anti_alias="avg")),
    "resnetblur50": Variant(lambda: _preset("resnet50", anti_alias="blur")),
    "resnetaa50d": Variant(lambda: _preset("resnet50", **D, anti_alias="avg")),
    "resnetblur50d": Variant(lambda: _preset("resnet50", **D, anti_alias="blur")),
    # efficient channel attention
    "ecaresnet26t": Variant(lambda: _preset("resnet50", B2222, **T, **ECA)),
    "ecaresnet50d": Variant(lambda: _preset("resnet50", **D, **ECA)),
    "ecaresnetlight": Variant(
        lambda: _preset("resnet50", (1, 1, 11, 3), shortcut="avg_down", **ECA)
    ),
    # ResNeXt and wide
    "resnext50_32x4d": Variant(lambda: _preset("resnext50_32x4d")),
    "resnext50d_32x4d": Variant(lambda: _preset("resnext50_32x4d", **D)),
    "resnext101_32x8d": Variant(lambda: _preset("resnet101", groups=32, width_per_group=8)),
    "wide_resnet50_2": Variant(lambda: _preset("wide_resnet50_2")),
    "wide_resnet101_2": Variant(lambda: _preset("resnet101", width_per_group=128)),
    # ResNet-RS: deep stem whose pool is a strided conv, avg_down, SE at 1/4
    "resnetrs101": Variant(
        lambda: _preset(
            "resnet101",
            stem=StemSpec("deep", 64, pool="conv"),
            shortcut="avg_down",
            se_ratio=0.25,
            se_divisor=8,
        )
    ),
    "resnet50_gn": Variant(lambda: _preset("resnet50", norm="group")),
    # timm's tiny test network: a bottleneck stage between basic ones, its own widths
    "test_resnet": Variant(
        lambda: Design(
            stages=(
                StageSpec(1, 32, 1, block="basic"),
                StageSpec(1, 48, 2, block="basic"),
                StageSpec(1, 48, 2),
                StageSpec(1, 96, 2, block="basic"),
            ),
            name="timm test_resnet",
            stem=StemSpec("deep", 32),
            shortcut="avg_down",
        ).replace()
    ),
    # ResNetV2 (pre-activation; the stem's norm is the first block's)
    "resnetv2_18": Variant(lambda: _preset("resnet18", **V2_BASIC), resnetv2=True),
    "resnetv2_34d": Variant(
        lambda: _preset("resnet34", **V2D_BASIC, shortcut="avg_down"), resnetv2=True
    ),
    "resnetv2_50": Variant(lambda: _preset("resnet50", **V2), resnetv2=True),
    "resnetv2_50d": Variant(lambda: _preset("resnet50", **V2D, shortcut="avg_down"), resnetv2=True),
    "resnetv2_50t": Variant(
        lambda: _preset(
            "resnet50",
            block="preact_bottleneck",
            stem=StemSpec("deep_tiered", 64, norm_act=False),
            shortcut="avg_down",
        ),
        resnetv2=True,
    ),
    "resnetv2_50d_gn": Variant(
        lambda: _preset("resnet50", **V2D, shortcut="avg_down", norm="group"), resnetv2=True
    ),
    "resnetv2_101": Variant(lambda: _preset("resnet101", **V2), resnetv2=True),
    # torchvision: dilation (replace_stride_with_dilation) and the 64x4d ResNeXt
    "tv_resnet50_os16": Variant(
        lambda: _dilated(False, False, True),
        "torchvision",
        {"name": "resnet50", "replace_stride_with_dilation": [False, False, True]},
    ),
    "tv_resnet50_os8": Variant(
        lambda: _dilated(False, True, True),
        "torchvision",
        {"name": "resnet50", "replace_stride_with_dilation": [False, True, True]},
    ),
    "tv_resnext101_64x4d": Variant(
        lambda: _preset("resnet101", groups=64, width_per_group=4),
        "torchvision",
        {"name": "resnext101_64x4d"},
    ),
    # ResNetV2's other norms and BiT's weight-standardised convs with its zero-padded pool
    "resnetv2_50d_frn": Variant(
        lambda: _preset("resnet50", **V2D, shortcut="avg_down", norm="frn"), resnetv2=True
    ),
    "resnetv2_50d_evos": Variant(
        lambda: _preset("resnet50", **V2D, shortcut="avg_down", norm="evonorm"), resnetv2=True
    ),
    "resnetv2_50x1_bit": Variant(
        lambda: _preset(
            "resnet50",
            block="preact_bottleneck",
            stem=StemSpec("imagenet", 64, pool="max_zero_pad", norm_act=False),
            norm="group",
            std_conv=True,
        ),
        resnetv2=True,
    ),
}


def _cases() -> list:
    cases = []
    for name in sorted(VARIANTS):
        for check in CHECKS:
            reason = VARIANTS[name].gaps.get(check)
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            cases.append(pytest.param(name, check, id=f"{name}-{check}", marks=marks))
    return cases


def _reference(variant: Variant, name: str) -> nn.Module:
    models = torchvision_models()
    if variant.library == "torchvision":
        kwargs = dict(variant.kwargs)
        return getattr(models, kwargs.pop("name"))(weights=None, **kwargs)
    timm = pytest.importorskip("timm")
    return timm.create_model(name, pretrained=False, **variant.kwargs)


def _design(name: str) -> Design:
    return VARIANTS[name].design().replace(input=InputSpec(3, SIZE, SIZE))


_built: dict[str, tuple[nn.Module, nn.Module]] = {}


def _pair(name: str) -> tuple[nn.Module, nn.Module]:
    """(ours, theirs), built once per variant, one variant held at a time.

    Theirs is randomised (see ``_randomise``) and in eval mode; ours is built on the
    meta device, in eval mode, to take their tensors (``load_state_dict(assign=True)``).
    """
    if name not in _built:
        _built.clear()  # the cases run variant by variant: free the last one's networks
        torch.manual_seed(0)
        theirs = _reference(VARIANTS[name], name)
        _randomise(theirs)
        _built[name] = (build(_design(name), device="meta").eval(), theirs)
    return _built[name]


def _flops(model: nn.Module) -> int:
    """torch's FLOPs for one 1x3xSIZExSIZE image in eval mode (a bias add counts none).

    On the meta device: the count depends on the shapes alone, and costs no arithmetic.
    """
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model.eval()(torch.zeros(1, 3, SIZE, SIZE, device="meta"))
    return counter.get_total_flops()


def _predicted_flops(design: Design) -> int:
    """Twice the weights' multiply-adds of the analysis's conv and Linear rows."""
    total = 0
    for row in analyse(design).layers:
        if row.kind in ("Conv2d", "StdConv2d"):  # a standardised weight costs no counted FLOPs
            channels, height, width = row.output_shape
            total += row.macs - (channels * height * width if row.bias else 0)
        elif row.kind == "Conv1d":  # ECA's, bias-free
            total += row.macs
        elif row.kind == "BlurPool2d":  # a fixed 3x3 depthwise filter: no weights, yet FLOPs
            channels, height, width = row.output_shape
            total += 9 * channels * height * width
        elif row.kind == "Linear":  # every Linear of a design has a bias
            total += row.macs - row.output_shape[0]
    return 2 * total


def _randomise(model: nn.Module) -> None:
    """Random norms and biases, so that only a right mapping of every tensor can agree.

    Every 1-D parameter (norm scales and shifts, conv and linear biases) is drawn at
    random; the batch norms' running statistics are then those of a random batch
    (momentum 1 for one pass in training mode), each perturbed at random. Not torch's
    defaults, yet they keep the outputs finite and moderate at any depth (random
    statistics alone take a pre-activation ResNet-101's logits to 1e5, where float32
    cannot resolve atol=1e-5; timm's ResNetV2 head, a 1x1 conv where ours is a Linear,
    rounds differently from ours by a few ULPs of the logits).
    """
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for module in model.modules():
            for name, param in module.named_parameters(recurse=False):
                if param.dim() == 1:
                    if name == "weight":
                        param.uniform_(0.5, 1.5, generator=generator)
                    else:
                        param.normal_(0.0, 0.1, generator=generator)
        norms = [m for m in model.modules() if getattr(m, "running_var", None) is not None]
        momenta = [m.momentum for m in norms]
        for m in norms:
            m.momentum = 1.0
        model.train()(torch.randn(4, 3, SIZE, SIZE, generator=generator))
        model.eval()
        for m, momentum in zip(norms, momenta, strict=True):
            m.momentum = momentum
            noise = torch.randn(m.running_var.shape, generator=generator)
            m.running_mean.add_(0.1 * noise * m.running_var.sqrt())
            m.running_var.mul_(torch.exp(0.2 * torch.randn(noise.shape, generator=generator)))
    zero = [n for n, p in model.named_parameters() if not p.count_nonzero()]
    assert not zero, f"parameters still all zero: {zero[:5]}"


@pytest.mark.parametrize(("name", "check"), _cases())
def test_zoo_variant(name: str, check: str) -> None:
    design = _design(name)
    if check == "params":
        _, theirs = _pair(name)
        assert analyse(design).params == sum(p.numel() for p in theirs.parameters())
    elif check == "flops":
        with torch.device("meta"):
            theirs = _reference(VARIANTS[name], name)
        flops = _flops(build(design, device="meta"))
        assert flops == _flops(theirs)
        assert flops == _predicted_flops(design)
    else:
        ours, theirs = _pair(name)
        state = theirs.state_dict()
        if VARIANTS[name].resnetv2:
            state = timm_resnetv2_to_ours(state, set(ours.state_dict()))
        ours.load_state_dict(state, strict=True, assign=True)  # meta -> their tensors
        x = torch.randn(2, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(2))
        with torch.no_grad():
            mine, reference = ours(x), theirs(x)
        assert torch.allclose(mine, reference, atol=1e-5), (
            f"largest difference {(mine - reference).abs().max():.3g}"
            f" in outputs up to {reference.abs().max():.3g}"
        )
