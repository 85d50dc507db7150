"""The network resolved once: every block's channels, stride, dilation, shortcut and drop path.

A design says what each stage is; the plan says what each block of it is, the way timm's
byobnet resolves its stage configs into block configs before anything is built. The
rules that turn one into the other live here and nowhere else: the first block of a stage
strides (or, in a dilated stage, dilates), a block whose width or resolution changes gets
its design's shortcut, the very first pre-activation block may leave its pre-activation to
the stem, and the drop-path rate rises linearly over all blocks.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from designer.core.blocks.anti_alias import subsampled
from designer.core.blocks.drop_path import drop_path_rates
from designer.core.blocks.kinds import ShortcutKind
from designer.core.blocks.ops import Act, Conv, Norm, Op, Seq
from designer.core.blocks.stems import spatial
from designer.core.design import (
    Design,
    bottleneck_width,
    stage_design,
    stage_dilations,
    stage_out_width,
    stem_out_width,
)

Size = tuple[int, int]  # height, width

# timm byobnet's final_conv: its last stage widened to "num_features" before the pool
FINAL_CONV = Seq(
    "final_conv", (Conv("", 1, "features", "num_features"), Norm("", "num_features"), Act())
)


class BlockPlan(NamedTuple):
    """One residual block as it is built: what it takes, what it gives, and how.

    A named tuple, not a frozen dataclass: a ResNet-1001 has 333 of them, made on every
    edit, and a tuple is built several times faster.
    """

    stage: int  # 0-based
    number: int  # within its stage (0: the first); not "index", which tuples have
    path: str  # its module path: "layer1.0"
    design: Design  # the design as the block's stage sees it (its overrides applied)
    in_channels: int
    width: int  # the inner (grouped 3x3) width of a bottleneck; else the output width
    out_channels: int
    stride: int
    first_dilation: int  # of its first 3x3 (the previous stage's, in a stage that dilates)
    dilation: int  # of its other dilated convs
    runs_pre: bool  # whether it runs its kind's pre ops (a pre-activation block's BN-act)
    shortcut: str  # "identity", or the design's kind: "projection", "zero_pad", "avg_down"
    downsample: Op | None  # the shortcut's module (None: identity)
    drop_path: float  # the probability its residual branch is dropped in training
    in_size: Size
    out_size: Size


@dataclass(frozen=True, slots=True)
class NetworkPlan:
    design: Design
    stem_channels: int
    stem_size: Size
    blocks: tuple[BlockPlan, ...]
    # a post-activation network's shortcuts end in a norm; a pre-activation one's do not
    # (the next block normalises the sum), which instead ends in BN-activation before the
    # pool: ``head_ops`` over the symbols "features" (the last stage's width) and
    # "num_features" (the head's final conv's)
    shortcut_norm: bool
    head_ops: tuple[Op, ...]

    def stage_blocks(self, stage: int) -> tuple[BlockPlan, ...]:
        return tuple(b for b in self.blocks if b.stage == stage)


def first_block_preactivates(design: Design) -> bool:
    """Whether the very first block starts with its own pre-activation.

    A stem that ends in BN-activation makes the first pre-activation block skip
    its own (He et al. 2016; the seed's Keras ResNetV2); without a stem, or with a
    stem that leaves them out (timm's ResNetV2), the first block applies them.
    """
    return not design.stem_kind.ops or not design.stem.norm_act


def ceil_div(size: int, stride: int) -> int:
    return -(-size // stride)


def _downsample(shortcut: ShortcutKind, stride: int, dilation: int, norm: bool) -> Op:
    """The shortcut module of a stage's first block (a dilated stage's has a form of its own)."""
    if dilation > 1 and shortcut.dilated is not None:
        return shortcut.dilated(norm)
    return shortcut.ops(stride > 1, norm)


@lru_cache(maxsize=64)
def plan(design: Design) -> NetworkPlan:
    """Every block of ``design``, resolved (cached: a design is immutable)."""
    channels = stem_out_width(design)
    size = spatial(design.stem_ops, (design.input.height, design.input.width))
    stem_channels, stem_size = channels, size
    rates = drop_path_rates(design.drop_path_rate, sum(s.depth for s in design.stages))
    preact = first_block_preactivates(design)
    shortcut_norm = not design.is_preact
    shortcut = design.shortcut_kind
    blocks: list[BlockPlan] = []
    for s, (stage, (first_stride, first_dilation, dilation)) in enumerate(
        zip(design.stages, stage_dilations(design), strict=True)
    ):
        sd = stage_design(design, stage)
        out = stage_out_width(design, stage)
        width = bottleneck_width(design, stage) if sd.block_kind.grouped else out
        # the first block strides and may change the width; the others repeat it
        out_size = subsampled(size, first_stride, design.anti_alias)
        same = first_stride == 1 and channels == out
        name = f"layer{s + 1}."
        n = len(blocks)
        blocks.append(
            BlockPlan(
                s,
                0,
                name + "0",
                sd,
                channels,
                width,
                out,
                first_stride,
                first_dilation,
                dilation,
                preact,
                "identity" if same else design.shortcut,
                None if same else _downsample(shortcut, first_stride, dilation, shortcut_norm),
                rates[n],
                size,
                out_size,
            )
        )
        blocks.extend(
            BlockPlan(
                s,
                b,
                name + str(b),
                sd,
                out,
                width,
                out,
                1,
                dilation,
                dilation,
                True,
                "identity",
                None,
                rates[n + b],
                out_size,
                out_size,
            )
            for b in range(1, stage.depth)
        )
        channels, size, preact = out, out_size, True
    head: tuple[Op, ...] = (Norm("bn_final", "features"), Act()) if design.is_preact else ()
    if design.head.conv:
        head += (FINAL_CONV,)
    return NetworkPlan(design, stem_channels, stem_size, tuple(blocks), shortcut_norm, head)
