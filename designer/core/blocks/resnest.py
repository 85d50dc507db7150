"""The ResNeSt block (Zhang et al. 2020, "ResNeSt: Split-Attention Networks"), as timm's
``ResNestBottleneck``: a bottleneck whose grouped 3x3 is a split-attention conv.

``SplitAttn`` (timm's names: ``conv2.conv``, ``.bn0``, ``.fc1``, ``.bn1``, ``.fc2``) runs a
3x3 conv of ``radix`` maps per group (``groups * radix`` groups), pools their sum, and
from it a small two-layer gate (fc1 with BN, fc2) weighs each group's splits with a
softmax across them (a sigmoid at radix 1); the weighted sum is the output. A strided
block subsamples with a 3x3 average pool ("avd") before or after it, and the split conv
runs at stride 1. Cardinality and base width are the design's groups and width_per_group.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from designer.core.blocks.activations import ACTIVATIONS
from designer.core.blocks.kinds import (
    BlockKind,
    BlockLayout,
    CustomModule,
    RecoveredFields,
    Shape,
    Size,
    Walker,
    register,
)
from designer.core.blocks.norms import NORMS
from designer.core.blocks.ops import Act, Conv, Custom, Norm

if TYPE_CHECKING:
    from designer.core.design import Design

ATTN_RATIO = 0.25  # timm's rd_ratio: the attention's width per input channel and split
ATTN_DIVISOR = 8
ATTN_MIN = 32


def attention_width(channels: int, radix: int) -> int:
    """timm's ``make_divisible(channels * radix / 4, 8, min_value=32)``: the nearest multiple
    of 8, at least 32, and never more than 10% below the exact value."""
    exact = channels * radix * ATTN_RATIO
    width = max(ATTN_MIN, int(exact + ATTN_DIVISOR / 2) // ATTN_DIVISOR * ATTN_DIVISOR)
    return width + ATTN_DIVISOR if width < 0.9 * exact else width


# --- the average pool that subsamples (timm's avd) ----------------------------------------------


def _avd_size(args: tuple[int, ...], size: Size) -> Size:
    """A padded 3x3 pool of stride s: rounds up, as a strided "same" conv does."""
    kernel, stride, padding = args
    return (
        (size[0] + 2 * padding - kernel) // stride + 1,
        (size[1] + 2 * padding - kernel) // stride + 1,
    )


def _avd_walk(w: Walker, name: str, x: Shape, args: tuple[int, ...], design: Design) -> Shape:
    y = (x[0], *_avd_size(args, (x[1], x[2])))
    return w.row(name, "AvgPool2d", x, y, kernel=args[0], stride=args[1])


register(
    CustomModule(
        key="avd_pool",  # torch's own class: model.py defines nothing for it
        class_name="nn.AvgPool2d",
        source=lambda design: "",
        walk=_avd_walk,
        keywords=(("padding", 0),),
        graph_kind="pool",
        resize=_avd_size,
    )
)


# --- split attention ----------------------------------------------------------------------------


def _split_walk(w: Walker, name: str, x: Shape, args: tuple[int, ...], design: Design) -> Shape:
    channels, out, groups, dilation = args
    radix, attn = design.radix, attention_width(channels, design.radix)
    norm, act = NORMS[design.norm].module, ACTIVATIONS[design.activation].module
    y = w.conv(f"{name}.conv", x, out * radix, 3, 1, groups * radix, dilation=dilation)
    w.row(f"{name}.bn0", norm, y, y, 2 * y[0])
    w.row(f"{name}.act0", act, y, y)
    pooled = w.conv(f"{name}.fc1", (out, 1, 1), attn, 1, 1, groups, bias=True)
    w.row(f"{name}.bn1", norm, pooled, pooled, 2 * attn)
    w.row(f"{name}.act1", act, pooled, pooled)
    gate = w.conv(f"{name}.fc2", pooled, out * radix, 1, 1, groups, bias=True)
    # a softmax flattens the gate; a sigmoid (radix 1) keeps its shape
    w.row(f"{name}.rsoftmax", "RadixSoftmax", gate, (out * radix,) if radix > 1 else gate)
    return (out, y[1], y[2])


_SOURCE = '''class RadixSoftmax(nn.Module):
    """Each group's attention across its radix splits: a softmax (a sigmoid gate at radix 1)."""

    def __init__(self, radix: int, groups: int) -> None:
        super().__init__()
        self.radix = radix
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch = x.size(0)
        if self.radix == 1:
            return torch.sigmoid(x)
        x = x.view(batch, self.groups, self.radix, -1).transpose(1, 2)
        return x.softmax(dim=1).reshape(batch, -1)


class SplitAttn(nn.Module):
    """Split attention (ResNeSt): a 3x3 conv gives ``radix`` maps of each group, weighed by
    an attention computed from their pooled sum, and summed (as timm's SplitAttn)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        groups: int = 1,
        dilation: int = 1,
        radix: int = {radix},
    ) -> None:
        super().__init__()
        self.radix = radix
        mid = out_channels * radix
        # timm's make_divisible(in_channels * radix / 4, 8, min_value=32)
        exact = in_channels * radix / 4
        attn = max(32, int(exact + 4) // 8 * 8)
        attn += 8 if attn < 0.9 * exact else 0
        self.conv = nn.Conv2d(
            in_channels,
            mid,
            kernel_size=3,
            padding=dilation,
            dilation=dilation,
            groups=groups * radix,
            bias={bias},
        )
        self.bn0 = {norm_mid}
        self.act0 = {act}
        self.fc1 = nn.Conv2d(out_channels, attn, kernel_size=1, groups=groups)
        self.bn1 = {norm_attn}
        self.act1 = {act}
        self.fc2 = nn.Conv2d(attn, mid, kernel_size=1, groups=groups)
        self.rsoftmax = RadixSoftmax(radix, groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act0(self.bn0(self.conv(x)))
        batch, channels, height, width = x.shape
        if self.radix > 1:
            x = x.reshape(batch, self.radix, channels // self.radix, height, width)
            pooled = x.sum(dim=1).mean((2, 3), keepdim=True)
        else:
            pooled = x.mean((2, 3), keepdim=True)
        attn = self.fc2(self.act1(self.bn1(self.fc1(pooled))))
        attn = self.rsoftmax(attn).view(batch, -1, 1, 1)
        if self.radix == 1:
            return x * attn
        attn = attn.reshape(batch, self.radix, channels // self.radix, 1, 1)
        return (x * attn).sum(dim=1)'''


def _split_source(design: Design) -> str:
    norm = NORMS[design.norm].source
    return _SOURCE.format(
        radix=design.radix,
        bias=design.conv_bias,
        norm_mid=norm.format(c="mid"),
        norm_attn=norm.format(c="attn"),
        act=ACTIVATIONS[design.activation].source,
    )


register(
    CustomModule(
        key="split_attn",
        class_name="SplitAttn",
        source=_split_source,
        walk=_split_walk,
        keywords=(("groups", 1), ("dilation", 1)),
        leaf=False,
        graph_label="split attention",
    )
)


# --- the block ----------------------------------------------------------------------------------


def _layout(design: Design) -> BlockLayout:
    # a strided block's conv runs at stride 1: the pool subsamples (timm's avd)
    pool = Custom(
        "avd_first" if design.avd_first else "avd_last",
        "avd_pool",
        (3, "stride", 1),
        identity_unless="stride",
    )
    split = Custom(
        "conv2",
        "split_attn",
        ("width", "width", "groups", "dil_first"),
    )
    middle = (pool, split) if design.avd_first else (split, pool)
    return BlockLayout(
        main=(
            Conv("conv1", 1, "in", "width"),
            Norm("bn1", "width"),
            Act("act1"),
            *middle,
            Conv("conv3", 1, "width", "out"),
            Norm("bn3", "out"),
        ),
        post=(Act("act3"),),
    )


def _check(design: Design, widths: tuple[int, int, int]) -> str:
    """What timm's ResNeSt cannot be, and the widths its grouped convs must divide."""
    width = widths[1]
    if design.anti_alias != "none":
        return "a ResNeSt block subsamples with its own average pool (avd): set anti_alias none"
    if design.norm != "batch":
        return "ResNeSt's split attention normalises with BatchNorm (timm's): set norm batch"
    splits = design.groups * design.radix
    if width % splits:
        return (
            f"the split-attention conv's {width} channels do not divide into {design.groups}"
            f" groups x radix {design.radix}: change width, width_per_group, groups or radix"
        )
    attn = attention_width(width, design.radix)
    if attn % design.groups:
        return (
            f"the split attention's {attn} channels (of {width} x radix {design.radix} / 4)"
            f" do not divide into {design.groups} groups: change groups or the width"
        )
    return ""


def _grouped_conv(block: Mapping[str, Shape]) -> Shape | None:
    """The 3x3 a plain bottleneck of this inner width and cardinality would have: the inner
    width is conv1's, and fc1 takes a group's share of it."""
    conv1, fc1 = block.get("conv1.weight"), block.get("conv2.fc1.weight")
    if conv1 is None or fc1 is None or len(conv1) != 4 or len(fc1) != 4:
        return None
    return (conv1[0], fc1[1], 3, 3)


def _recover(firsts: Sequence[Mapping[str, Shape]]) -> tuple[RecoveredFields, list[str]]:
    """The radix: the split conv's maps per inner channel, the same in every stage."""
    radices = set()
    for n, block in enumerate(firsts):
        conv1, conv = block.get("conv1.weight"), block.get("conv2.conv.weight")
        if conv1 is None or conv is None or not conv1[0] or conv[0] % conv1[0]:
            raise ValueError(f"layer{n + 1}.0's split-attention conv is not ResNeSt's")
        radices.add(conv[0] // conv1[0])
    if len(radices) != 1:
        raise ValueError(
            f"the stages' split convs have radices {sorted(radices)}: one radix per network"
        )
    (radix,) = radices
    grouped = any(_cardinality(block) > 1 for block in firsts)
    assumed = [
        f"avd_first {str(grouped).lower()}: the average pool has no weights; timm's ResNeSts"
        " pool before the split conv exactly when grouped (4s2x40d, 1s4x24d)"
    ]
    return {"radix": radix, "avd_first": grouped}, assumed


def _cardinality(block: Mapping[str, Shape]) -> int:
    shape = _grouped_conv(block)
    return shape[0] // shape[1] if shape and shape[1] else 1


def _describe(design: Design, grouping: bool) -> str:
    text = f"ResNeSt (1x1, split-attention 3x3 of radix {design.radix}, 1x1)"
    text += ", pooled before it" if design.avd_first else ""
    if grouping and (design.groups > 1 or design.width_per_group != 64):
        text += f", {design.groups} groups of width {design.width_per_group}"
    return text


register(
    BlockKind(
        name="resnest",
        class_name="ResNestBottleneck",
        label="ResNeSt",
        expansion=4,
        options=frozenset({"groups", "radix", "avd_first"}),
        preact=False,
        layout=_layout,
        describe=_describe,
        summary=lambda design: (
            f"1x1, split-attention 3x3 (radix {design.radix}), 1x1, plus the shortcut; a 3x3"
            f" average pool strides {'before' if design.avd_first else 'after'} it."
        ),
        check=_check,
        grouped_conv=_grouped_conv,
        recover=_recover,
    )
)
