"""Selective Kernel networks (Li et al. 2019), as timm's ``sknet.py`` builds them.

A selective-kernel conv runs two 3x3 paths over the same input, at dilation 1 and 2 (the
second reaches as far as a 5x5), each conv, norm and activation; an attention pools their
sum, squeezes it and, per channel, a softmax over the paths weighs their outputs. timm
optionally splits the input channels between the paths (``split_input``: fewer
parameters). It takes the place of the basic block's first conv
(``SelectiveKernelBasic``) or the bottleneck's 3x3 (``SelectiveKernelBottleneck``).

The blocks keep timm's modules and names: their plain convs are ``ConvNormAct``
(``conv2.conv``, ``conv2.bn``), so a timm checkpoint loads into model.py as it is and the
code reads as timm's to whoever knows it; the modules are written out here once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from designer.core.blocks.activations import ACTIVATIONS
from designer.core.blocks.kinds import (
    BlockKind,
    BlockLayout,
    CustomModule,
    RecoveredBlocks,
    Shape,
    Walker,
    register,
)
from designer.core.blocks.norms import NORMS
from designer.core.blocks.ops import Act, Custom

if TYPE_CHECKING:
    from designer.core.design import Design

PATHS = 2  # timm's default kernels [3, 5]: 3x3 convs at dilation 1 and 2


def sk_channels(channels: int, ratio: float, divisor: int) -> int:
    """The attention's squeezed width: timm's ``make_divisible(channels * ratio, divisor)``,
    the nearest multiple of ``divisor``, at least ``divisor``, never 10% under."""
    value = channels * ratio
    width = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return width + divisor if width < 0.9 * value else width


def _size(stride: int, size: tuple[int, int]) -> tuple[int, int]:
    """A "same"-padded odd kernel, dilated or not: the size divided by the stride, rounded up."""
    stride = max(stride, 1)  # a symbol's stride (in a block) reads 0 here: blocks are planned
    return -(-size[0] // stride), -(-size[1] // stride)


# --- ConvNormAct: timm's conv, norm and activation under one name -----------------------------


def _conv_norm_act(w: Walker, name: str, x: Shape, args: tuple[int, ...], design: Design) -> Shape:
    _, out, kernel, stride, dilation, groups, act = args
    y = w.conv(f"{name}.conv", x, out, kernel, stride, groups, dilation=dilation)
    y = w.row(f"{name}.bn", NORMS[design.norm].module, y, y, 2 * out)
    if act:
        y = w.row(f"{name}.act", ACTIVATIONS[design.activation].module, y, y)
    return y


_CONV_NORM_ACT = '''class ConvNormAct(nn.Module):
    """A conv, its norm and (unless ``apply_act`` is False) its activation: timm's ConvNormAct,
    whose attribute names a timm checkpoint has (``conv``, ``bn``)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 1,
        stride: int = 1,
        dilation: int = 1,
        groups: int = 1,
        apply_act: bool = True,
    ) -> None:
        super().__init__()
        padding = dilation * (kernel_size // 2)  # "same": only the stride changes the size
        self.conv = nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias={bias},
        )
        self.bn = {norm}
        self.act = {act} if apply_act else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.conv(x))
        return x if self.act is None else self.act(x)'''


def _conv_norm_act_source(design: Design) -> str:
    return _CONV_NORM_ACT.format(
        bias=design.conv_bias,
        norm=NORMS[design.norm].source.format(c="out_channels"),
        act=ACTIVATIONS[design.activation].source,
    )


register(
    CustomModule(
        key="conv_norm_act",
        class_name="ConvNormAct",
        source=_conv_norm_act_source,
        walk=_conv_norm_act,
        leaf=False,
        graph_kind="conv",
        # kernel_size always written (timm's blocks do); the rest only where not the default
        keywords=(
            ("kernel_size", ""),
            ("stride", 1),
            ("dilation", 1),
            ("groups", 1),
            ("apply_act", True),
        ),
        depth=1,
        zero_init="bn.weight",
        resize=lambda args, size: _size(args[3], size),
    )
)


# --- SelectiveKernel and its attention --------------------------------------------------------


def _selective_kernel(
    w: Walker, name: str, x: Shape, args: tuple[int, ...], design: Design
) -> Shape:
    cin, out, stride, dilation, groups = args
    groups = min(out, groups)
    part = (cin // PATHS if design.sk_split_input else cin, x[1], x[2])
    y = x
    for i in range(PATHS):
        path = (part[0], out, 3, stride, dilation * (i + 1), groups, True)
        y = _conv_norm_act(w, f"{name}.paths.{i}", part, path, design)
    squeezed = sk_channels(out, design.sk_ratio, design.sk_divisor)
    z = w.conv(f"{name}.attn.fc_reduce", (out, 1, 1), squeezed, 1, 1, bias=False)
    z = w.row(f"{name}.attn.bn", "BatchNorm2d", z, z, 2 * squeezed)
    z = w.row(f"{name}.attn.act", "ReLU", z, z)
    w.conv(f"{name}.attn.fc_select", z, out * PATHS, 1, 1, bias=False)
    return y


_SELECTIVE_KERNEL = '''class SelectiveKernelAttn(nn.Module):
    """Per channel, a softmax over the paths, from their pooled sum squeezed (timm's names;
    its norm and activation are always BatchNorm and ReLU, as timm's)."""

    def __init__(self, channels: int, num_paths: int = 2, attn_channels: int = 32) -> None:
        super().__init__()
        self.num_paths = num_paths
        self.fc_reduce = nn.Conv2d(channels, attn_channels, kernel_size=1, bias=False)
        self.bn = nn.BatchNorm2d(attn_channels)
        self.act = nn.ReLU(inplace=True)
        self.fc_select = nn.Conv2d(attn_channels, channels * num_paths, kernel_size=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.sum(1).mean((2, 3), keepdim=True)  # the paths' sum, pooled
        x = self.fc_select(self.act(self.bn(self.fc_reduce(x))))
        b, c, h, w = x.shape
        return torch.softmax(x.view(b, self.num_paths, c // self.num_paths, h, w), dim=1)


class SelectiveKernel(nn.Module):
    """Selective kernel conv (Li et al. 2019; timm's SelectiveKernel): 3x3 paths at dilation
    1 and 2 (a 5x5's reach, cheaper), mixed per channel by a softmax attention."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        dilation: int = 1,
        groups: int = 1,
        rd_ratio: float = {ratio},
        rd_divisor: int = {divisor},
        split_input: bool = {split},
    ) -> None:
        super().__init__()
        self.num_paths = 2
        self.in_channels = in_channels
        # each path sees half the input channels: fewer parameters (timm's split_input)
        self.split_input = split_input
        if split_input:
            in_channels //= self.num_paths
        groups = min(out_channels, groups)
        self.paths = nn.ModuleList(
            ConvNormAct(in_channels, out_channels, 3, stride, dilation * (i + 1), groups)
            for i in range(self.num_paths)
        )
        # timm's make_divisible: the nearest multiple of rd_divisor, at least it, not 10% under
        wanted = out_channels * rd_ratio
        attn_channels = max(rd_divisor, int(wanted + rd_divisor / 2) // rd_divisor * rd_divisor)
        if attn_channels < 0.9 * wanted:
            attn_channels += rd_divisor
        self.attn = SelectiveKernelAttn(out_channels, self.num_paths, attn_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.split_input:
            parts = torch.split(x, self.in_channels // self.num_paths, 1)
            paths = [path(part) for path, part in zip(self.paths, parts)]
        else:
            paths = [path(x) for path in self.paths]
        x = torch.stack(paths, dim=1)
        return torch.sum(x * self.attn(x), dim=1)'''


def _selective_kernel_source(design: Design) -> str:
    return _SELECTIVE_KERNEL.format(
        ratio=repr(float(design.sk_ratio)),
        divisor=design.sk_divisor,
        split=design.sk_split_input,
    )


register(
    CustomModule(
        key="selective_kernel",
        class_name="SelectiveKernel",
        source=_selective_kernel_source,
        walk=_selective_kernel,
        leaf=False,
        graph_kind="conv",
        keywords=(("stride", 1), ("dilation", 1), ("groups", 1)),
        needs=("conv_norm_act",),
        depth=1,
        resize=lambda args, size: _size(args[2], size),
    )
)


# --- the two block kinds ----------------------------------------------------------------------

_OPTIONS = frozenset({"sk_split_input", "sk_ratio", "sk_divisor"})
_BASIC = BlockLayout(
    main=(
        Custom("conv1", "selective_kernel", ("in", "out", "stride", "dil_first", 1)),
        Custom("conv2", "conv_norm_act", ("out", "out", 3, 1, "dil", 1, False)),
    ),
    post=(Act("act"),),
)
_BOTTLENECK = BlockLayout(
    main=(
        Custom("conv1", "conv_norm_act", ("in", "width", 1, 1, 1, 1, True)),
        Custom("conv2", "selective_kernel", ("width", "width", "stride", "dil_first", "groups")),
        Custom("conv3", "conv_norm_act", ("width", "out", 1, 1, 1, 1, False)),
    ),
    post=(Act("act"),),
)


def _check(design: Design, widths: tuple[int, int, int], bottleneck: bool) -> str:
    """What timm's SK blocks cannot be: anti-aliased or dropped out here, or split oddly."""
    if design.anti_alias != "none":
        return (
            "selective-kernel blocks would anti-alias inside each path (timm's aa_layer in"
            " SelectiveKernel), which the design language does not express: set anti_alias"
            " to none"
        )
    if design.block_dropout > 0:
        return "selective-kernel blocks have no place for block dropout: set block_dropout to 0"
    split = [widths[1]] if bottleneck else [widths[0], widths[2]]
    odd = next((w for w in split if w % PATHS), None)
    if design.sk_split_input and odd is not None:
        return (
            f"sk_split_input halves a selective-kernel conv's input, which has {odd} channels:"
            " use even widths, or set sk_split_input false"
        )
    groups = min(widths[1], design.groups) if bottleneck else 1
    if design.sk_split_input and (widths[1] // PATHS) % groups:
        return (
            f"sk_split_input gives each selective-kernel path {widths[1] // PATHS} channels,"
            f" which {groups} groups do not divide: set sk_split_input false, or change groups"
        )
    return ""


def _sk(design: Design) -> str:
    """The SK options, for model.py's docstring."""
    split = "half the input each" if design.sk_split_input else "the whole input"
    return (
        f"SK paths on {split}, attention width x{design.sk_ratio:g} in multiples of"
        f" {design.sk_divisor}"
    )


# the (ratio, divisor) pairs timm's SK-ResNets use first, then the common ones
_RULES = [(1 / 16, 8), (1 / 8, 16), (1 / 16, 32)] + [
    (r, d) for d in (8, 16, 32, 1) for r in (1 / 16, 1 / 8, 1 / 4, 1 / 32, 1 / 2)
]


def _attention_rule(found: list[tuple[int, int]]) -> tuple[float, int] | None:
    """The (ratio, divisor) that gives every (channels, squeezed width) pair."""
    for ratio, divisor in [*_RULES, *((rd / c, 1) for c, rd in found)]:
        if all(sk_channels(c, ratio, divisor) == rd for c, rd in found):
            return ratio, divisor
    return None


def _recover(
    firsts: Sequence[Mapping[str, Shape]], in_channels: int, bottleneck: bool
) -> RecoveredBlocks:
    """The widths, split input and attention rule from each stage's first block."""
    sk = "conv2" if bottleneck else "conv1"
    plain: list[dict[str, Shape]] = []
    splits: set[bool] = set()
    assumed: tuple[str, ...] = ()
    found = []
    for n, block in enumerate(firsts):
        path = block.get(f"{sk}.paths.0.conv.weight")
        reduce = block.get(f"{sk}.attn.fc_reduce.weight")
        if path is None or reduce is None or len(path) != 4 or len(reduce) != 4:
            return RecoveredBlocks([], problem=f"layer{n + 1}.0 has no selective-kernel conv")
        out, part = path[0], path[1]
        found.append((out, reduce[0]))
        if bottleneck:
            width = out
            # a split input and twice the groups give the same shapes: timm's split ungrouped
            split = part * PATHS == width
            groups = 1 if split else width // max(part, 1)
            if split:
                assumed = (
                    "sk_split_input true: a split input and 2 groups have the same shapes"
                    " (timm's SK-ResNets split, its SK-ResNeXt groups)",
                )
            plain.append(
                {
                    "conv1.weight": block.get("conv1.conv.weight", ()),
                    "conv2.weight": (width, width // groups, 3, 3),
                    "conv3.weight": block.get("conv3.conv.weight", ()),
                }
            )
        else:
            cin = in_channels if n == 0 else plain[-1]["conv2.weight"][0]
            split = part * PATHS == cin
            if not split and part != cin:
                return RecoveredBlocks(
                    [],
                    problem=f"layer{n + 1}.0's selective-kernel paths take {part} of {cin}"
                    " channels: neither all nor half",
                )
            conv2 = block.get("conv2.conv.weight", ())
            plain.append({"conv1.weight": (out, cin, 3, 3), "conv2.weight": conv2})
        splits.add(split)
    if len(splits) > 1:
        return RecoveredBlocks([], problem="some stages split the SK conv's input, others not")
    rule = _attention_rule(found)
    if rule is None:
        widths = ", ".join(str(rd) for _, rd in found)
        return RecoveredBlocks(
            [], problem=f"the SK attention widths ({widths}) follow no ratio and divisor"
        )
    fields = {"sk_split_input": splits.pop(), "sk_ratio": rule[0], "sk_divisor": rule[1]}
    return RecoveredBlocks(plain, fields, assumed)


register(
    BlockKind(
        name="sk_basic",
        class_name="SelectiveKernelBasic",
        label="SK basic",
        expansion=1,
        preact=False,
        layout=lambda design: _BASIC,
        options=_OPTIONS,
        summary=lambda design: (
            "A selective-kernel 3x3 (two paths, attention-mixed), a 3x3, plus the shortcut."
        ),
        describe=lambda design, grouping: f"selective-kernel basic (SK conv, 3x3), {_sk(design)}",
        check=lambda design, widths: _check(design, widths, bottleneck=False),
        read_blocks=lambda firsts, cin: _recover(firsts, cin, bottleneck=False),
    )
)


def _describe_bottleneck(design: Design, grouping: bool) -> str:
    text = "selective-kernel bottleneck (1x1, SK conv, 1x1)"
    if grouping and (design.groups > 1 or design.width_per_group != 64):
        text += f", {design.groups} groups of width {design.width_per_group}"
    return f"{text}, {_sk(design)}"


register(
    BlockKind(
        name="sk_bottleneck",
        class_name="SelectiveKernelBottleneck",
        label="SK bottleneck",
        expansion=4,
        preact=False,
        layout=lambda design: _BOTTLENECK,
        options=_OPTIONS | {"groups"},
        summary=lambda design: (
            "1x1 reduce, a selective-kernel 3x3 (two paths, attention-mixed), 1x1 expand,"
            " plus the shortcut."
        ),
        describe=_describe_bottleneck,
        check=lambda design, widths: _check(design, widths, bottleneck=True),
        read_blocks=lambda firsts, cin: _recover(firsts, cin, bottleneck=True),
    )
)
