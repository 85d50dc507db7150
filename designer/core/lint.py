"""A ResNet linter: what a careful reviewer would flag in a design, with a fix for each.

Rules only fire on real problems: torchvision's presets are silent (a test holds
us to that). Warnings are likely mistakes; infos are deliberate-but-notable choices.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

from designer.core.analysis import Analysis, analyse
from designer.core.design import (
    MAX_BUILD_BYTES,
    Design,
    stage_dilations,
    stage_out_width,
    stem_out_width,
)
from designer.core.explain import training_bytes
from designer.core.plan import BlockPlan, plan
from designer.core.report import human_bytes, human_count
from designer.core.stages import StageFigures, part_field, stage_figures

Severity = Literal["warning", "info"]

RF_FAR_LARGER = 16  # receptive field this many times the input side: mostly padding
MIN_GROUP_CHANNELS = 4  # ResNeXt's narrowest groups (32x4d) have 4 channels each
MAX_BOTTLENECK_RATIO = 8  # output width over 3x3 width; torchvision uses 4
LARGE_FINAL_MAP = 16  # final map side above which the head pools a lot of pixels

# Sizes beyond any real network: the design is valid, but its numbers are not worth
# confirming or trusting as a plan. Weights: the builder's own limit (MAX_BUILD_BYTES,
# 16 GiB of fp32 = 4.3 B parameters): such a network cannot be built or exported here.
# The biggest published ResNet, BiT-L's ResNet-152x4, has 0.94 B.
ABSURD_MACS = 10**13  # per image: 10x BiT-L R152x4 at 480 px (~0.85 T), 2,400x ResNet-50
# training memory at batch 1 (weights, gradients, momentum, activations): several times
# what the largest single accelerators hold (under 300 GB)
ABSURD_MEMORY = 1 << 40  # 1 TiB
LARGE_INPUT_SIDE = 1024  # an input side from which the input is the likelier culprit


@dataclass(frozen=True)
class Finding:
    code: str
    severity: Severity
    field: str  # where in the design: "stages[2].stride", "input.height", ...
    message: str
    fix: str

    def __str__(self) -> str:
        return f"{self.field}: {self.severity}: {self.message} (fix: {self.fix})"


@dataclass(frozen=True)
class _Context:
    design: Design
    result: Analysis
    stages: list[StageFigures]  # stem?, layer1.., head

    @property
    def firsts(self) -> list[BlockPlan]:
        """Each stage's first block, as the plan resolves it."""
        return [block for block in plan(self.design).blocks if block.number == 0]

    def stage(self, index: int) -> StageFigures:
        return next(s for s in self.stages if s.name == f"layer{index + 1}")


Rule = Callable[[_Context], Iterator[Finding]]


def _collapse_early(ctx: _Context) -> Iterator[Finding]:
    stages = ctx.design.stages
    strides = [first for first, _, _ in stage_dilations(ctx.design)]
    for i in range(len(stages) - 1):
        _, h, w = ctx.stage(i).output_shape
        later = [j for j in range(i + 1, len(stages)) if strides[j] > 1]
        if h == 1 and w == 1 and later:
            yield Finding(
                "collapse-early",
                "warning",
                f"stages[{later[0]}].stride",
                f"the feature map is already 1x1 after layer{i + 1}; later strides do nothing"
                " and later stages see no spatial context",
                f"set stages[{later[0]}].stride to 1 or use a larger input",
            )
            return


def _receptive_field(ctx: _Context) -> Iterator[Finding]:
    side = min(ctx.design.input.height, ctx.design.input.width)
    last = ctx.stage(len(ctx.design.stages) - 1)
    rf = last.receptive_field
    if rf < side:
        yield Finding(
            "rf-too-small",
            "warning",
            "stages",
            f"the receptive field is {rf} px, smaller than the {side} px input: no unit sees"
            " the whole image",
            "add blocks or strides to the later stages, or lower the input size",
        )
    elif rf > RF_FAR_LARGER * side:
        yield Finding(
            "rf-far-larger",
            "info",
            "stages",
            f"the receptive field is {rf} px, over {RF_FAR_LARGER}x the {side} px input:"
            " most of it covers padding",
            "fewer blocks in the late stages would cost less for the same view",
        )


def _shrinking_widths(ctx: _Context) -> Iterator[Finding]:
    widths = [stage_out_width(ctx.design, s) for s in ctx.design.stages]
    for i in range(1, len(widths)):
        if widths[i] < widths[i - 1]:
            yield Finding(
                "shrinking-width",
                "warning",
                f"stages[{i}].width",
                f"layer{i + 1} narrows from {widths[i - 1]} to {widths[i]} channels; ResNets"
                " widen as they downsample",
                f"make stages[{i}] at least as wide as stages[{i - 1}]",
            )


def _narrow_bottleneck(ctx: _Context) -> Iterator[Finding]:
    """A block's inner width against its output (a basic block's are one: never flagged)."""
    for first in ctx.firsts:
        i, sd, stage = first.stage, first.design, ctx.design.stages[first.stage]
        inner, out = first.width, first.out_channels
        if out > MAX_BOTTLENECK_RATIO * inner:
            yield Finding(
                "narrow-bottleneck",
                "warning",
                f"stages[{i}].width",
                f"the 3x3 conv has {inner} channels for a {out}-wide output"
                f" ({out // inner}x; torchvision uses 4x)",
                f"raise stages[{i}].width or lower its expansion",
            )
        per_group = inner // sd.groups
        if sd.groups > 1 and per_group < MIN_GROUP_CHANNELS:
            yield Finding(
                "nearly-depthwise",
                "warning",
                f"stages[{i}].groups" if stage.groups is not None else "groups",
                f"layer{i + 1}'s grouped 3x3 conv has {per_group} channel(s) per group:"
                " nearly depthwise, cheap but weak",
                f"use fewer groups or raise width_per_group to at least {MIN_GROUP_CHANNELS}",
            )
            return


def _downsampling(ctx: _Context) -> Iterator[Finding]:
    design = ctx.design
    for i, stage in enumerate(design.stages):
        if stage.stride > 3:
            yield Finding(
                "stride-skips-pixels",
                "warning",
                f"stages[{i}].stride",
                f"stride {stage.stride} on a 3x3 conv skips input pixels entirely",
                "use stride 2 (or 3) and add a stage for more downsampling",
            )
    strided = [f"layer{i + 1}" for i, s in enumerate(design.stages) if s.stride > 1]
    if strided and design.shortcut == "zero_pad":
        yield Finding(
            "downsample-without-projection",
            "info",
            "shortcut",
            f"{', '.join(strided)} downsample through parameter-free zero-pad shortcuts"
            " (option A); He et al. found projections (option B) slightly better",
            "set shortcut to projection or avg_down",
        )
    on_1x1 = [
        first.stage
        for first in ctx.firsts
        if first.stride > 1
        and first.design.block_kind.places_stride
        and first.design.stride_on == "1x1"
    ]
    if on_1x1:
        overridden = all(design.stages[i].stride_on is not None for i in on_1x1)
        yield Finding(
            "stride-on-1x1",
            "info",
            f"stages[{on_1x1[0]}].stride_on" if overridden else "stride_on",
            f"in {', '.join(f'layer{i + 1}' for i in on_1x1)} a strided 1x1 conv discards 3/4"
            " of its input activations",
            "set stride_on to 3x3 (torchvision's v1.5)",
        )


def _resolution(ctx: _Context) -> Iterator[Finding]:
    design = ctx.design
    _, h, w = ctx.stage(len(design.stages) - 1).output_shape
    dilated = [f"layer{i + 1}" for i, s in enumerate(design.stages) if s.dilate]
    if max(h, w) > LARGE_FINAL_MAP and dilated:
        yield Finding(
            "dilated-final-map",
            "info",
            "stages",
            f"{', '.join(dilated)} trade stride for dilation: the last stage works on a {h}x{w}"
            f" map (output stride {ctx.stages[-1].output_stride}), as dense-prediction"
            " backbones (DeepLabV3) want; a classifier pools most of it away",
            "set dilate false on those stages for classification",
        )
    elif max(h, w) > LARGE_FINAL_MAP:
        yield Finding(
            "large-final-map",
            "warning",
            "stages",
            f"the last stage still works on a {h}x{w} map: the global pool throws most of"
            " that compute away",
            "add stride to a stage (ResNets end at about 7x7 for 224 inputs)",
        )
    side = min(design.input.height, design.input.width)
    if design.stem.kind in ("none", "cifar") and side >= 128:
        yield Finding(
            "no-early-downsampling",
            "warning",
            "stem.kind",
            f"the first stage runs at the full {side} px resolution: very costly",
            "use the imagenet or deep stem for large inputs",
        )


def _classifier(ctx: _Context) -> Iterator[Finding]:
    design = ctx.design
    features = (
        design.head.hidden[-1] if design.head.hidden else ctx.result.blocks[-1].input_shape[0]
    )
    if design.num_classes > 4 * features:
        yield Finding(
            "narrow-classifier",
            "info",
            "num_classes",
            f"{design.num_classes} classes from {features} features: the classifier is a"
            " bottleneck",
            "widen the last stage or the last hidden layer",
        )
    if stem_out_width(design) > stage_out_width(design, design.stages[0]) * 4:
        yield Finding(
            "wide-stem",
            "info",
            "stem.width",
            "the stem is more than 4x wider than the first stage's output",
            "narrow the stem",
        )


def size_limits(result: Analysis) -> list[str]:
    """What makes ``result``'s network absurdly large, one phrase each ([] if nothing):
    weights the builder refuses, multiply-adds or batch-1 training memory beyond any
    real network (the thresholds above)."""
    reasons = []
    weights = 4 * result.params
    if weights > MAX_BUILD_BYTES:
        reasons.append(
            f"{human_count(result.params)} parameters ({human_bytes(weights)} of fp32 weights;"
            f" nothing over {human_bytes(MAX_BUILD_BYTES)} can be built)"
        )
    if result.macs > ABSURD_MACS:
        reasons.append(
            f"{human_count(result.macs)} multiply-adds per image (over {ABSURD_MACS // 10**12:,} T)"
        )
    memory = training_bytes(result, 1)
    if memory > ABSURD_MEMORY:
        reasons.append(
            f"{human_bytes(memory)} to train at batch 1 (over {ABSURD_MEMORY >> 40:,} TiB)"
        )
    return reasons


def size_warning(result: Analysis) -> str:
    """One line for a network beyond any real one ("" if it is not): what the inspector
    notes under its totals and why no torchinfo check runs."""
    reasons = size_limits(result)
    return f"Beyond any real network: {'; '.join(reasons)}" if reasons else ""


def _size_culprit(ctx: _Context, by_params: bool) -> str:
    """The field most to blame for the size: the part with the most parameters (or
    multiply-adds), or the input when it is huge and the parameters are not the problem."""
    design = ctx.design
    if not by_params and max(design.input.height, design.input.width) >= LARGE_INPUT_SIDE:
        return "input.height" if design.input.height >= design.input.width else "input.width"
    part = max(ctx.stages, key=lambda s: s.params if by_params else s.macs)
    return part_field(design, part.name)


def _absurd_size(ctx: _Context) -> Iterator[Finding]:
    reasons = size_limits(ctx.result)
    if not reasons:
        return
    by_params = 4 * ctx.result.params > MAX_BUILD_BYTES
    field = _size_culprit(ctx, by_params)
    fix = (
        "use a smaller input"
        if field.startswith("input.")
        else f"lower {field}, or the depths and widths of the largest stages"
    )
    yield Finding(
        "absurd-size",
        "warning",
        field,
        f"{'; '.join(reasons)}: beyond any real network (a width or the input size mistyped?)",
        fix,
    )


RULES: tuple[Rule, ...] = (
    _collapse_early,
    _receptive_field,
    _shrinking_widths,
    _narrow_bottleneck,
    _downsampling,
    _resolution,
    _classifier,
    _absurd_size,
)


def lint(design: Design, result: Analysis | None = None) -> list[Finding]:
    result = result or analyse(design)
    ctx = _Context(design, result, stage_figures(result))
    return [finding for rule in RULES for finding in rule(ctx)]
