"""Res2Net's bottleneck (Gao et al. 2019, timm's ``Bottle2neck``): 1x1, a hierarchy of 3x3s, 1x1.

``conv1`` widens to ``scale`` splits of the 3x3 width (the design's ``width_per_group``
is timm's ``base_width``: 26w is 26, and Res2NeXt's 8 groups of 4 are groups 8, width 4).
Each split but the last goes through a 3x3 conv of its own (``convs.N``, ``bns.N``), which
in a block that keeps its shape first adds the previous split's output, so that later splits
see ever larger receptive fields; the last split is passed on as it is. A stage's first
block (strided, or with a shortcut) convolves each split alone and average-pools the last
one (``pool``: 3x3, padding 1) to the new size. The splits are concatenated, and ``conv3``
gives the output width.

Why the hierarchy is one module of our own written into its block (``CustomModule.members``)
rather than more ops: it splits, adds and concatenates, which a chain of ops cannot say, and
its convs must be the block's own children (``layer1.0.convs.0.weight``, timm's names) for
timm's state dict to load as it is. So ``conv1``, ``bn1``, ``conv3`` and ``bn3`` stay
ordinary ops (the shortcut, attention, dropout and stochastic depth apply as to any block),
and the hierarchy is the block's ``multi_scale`` method, as timm's ``forward`` has it inline.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from designer.core.blocks.activations import ACTIVATIONS
from designer.core.blocks.kinds import (
    BlockKind,
    BlockLayout,
    Channels,
    CustomModule,
    RecoveredFields,
    Shape,
    Walker,
    register,
)
from designer.core.blocks.norms import NORMS
from designer.core.blocks.ops import Act, Conv, Custom, Norm, Op, Sym

if TYPE_CHECKING:
    from designer.core.design import Design

METHOD = "multi_scale"  # the block's method that runs the hierarchy
_ARGS: tuple[Sym, ...] = ("width", "stride", "groups", "dil_first", "in", "out")


def _walk(w: Walker, name: str, x: Shape, args: tuple[int, ...], design: Design) -> Shape:
    """The rows in timm's call order: each split's conv, norm and activation, then the pool."""
    width, stride, groups, dilation, cin, cout = args
    first = stride > 1 or cin != cout  # timm's is_first: the block has a shortcut
    act = ACTIVATIONS[design.activation].module
    norm = NORMS[design.norm].module
    split: Shape = (width, x[1], x[2])
    y = split
    scale = x[0] // width
    for i in range(scale - 1):
        w.branch = f"cascade.{i}" if i and not first else f"split.{i}"
        y = w.conv(f"{name}.convs.{i}", split, width, 3, stride, groups, dilation=dilation)
        w.row(f"{name}.bns.{i}", norm, y, y, 2 * width)
        w.row(f"{name}.{design.activation}", act, y, y)
    if first:
        w.branch = f"split.{scale - 1}"
        w.row(f"{name}.pool", "AvgPool2d", split, y, kernel=3, stride=stride)
    w.branch = "main"
    return (x[0], y[1], y[2])


def _members(name: Callable[[Sym], str], write: Callable[[Op], str]) -> list[str]:
    conv = Conv("", 3, "width", "width", stride="stride", groups="groups", dilation="dil_first")
    first = f"{name('stride')} > 1 or {name('in')} != {name('out')}"
    return [
        f"self.width = {name('width')}",
        "self.convs = nn.ModuleList()",
        "self.bns = nn.ModuleList()",
        "for _ in range(SCALE - 1):  # the last split has no conv",
        f"    self.convs.append({write(conv)})",
        f"    self.bns.append({write(Norm('', 'width'))})",
        "# a stage's first block changes the size: it pools its last split (timm's is_first)",
        f"is_first = {first}",
        f"self.pool = nn.AvgPool2d(3, {name('stride')}, padding=1) if is_first else None",
    ]


_SOURCE = '''    def {method}(self, x: torch.Tensor) -> torch.Tensor:
        """The splits' hierarchy: each 3x3 also sees the previous one's output, except in a
        stage's first block, whose splits each go through their conv alone."""
        splits = torch.split(x, self.width, 1)
        outs: list[torch.Tensor] = []
        out = splits[0]
        for i, (conv, bn) in enumerate(zip(self.convs, self.bns, strict=True)):
            out = splits[i] if i == 0 or self.pool is not None else out + splits[i]
            out = self.{act}(bn(conv(out)))
            outs.append(out)
        # the last split is passed on as it is (pooled to the new size in a first block)
        outs.append(splits[-1] if self.pool is None else self.pool(splits[-1]))
        return torch.cat(outs, 1)'''


register(
    CustomModule(
        key="res2net_splits",
        class_name=METHOD,  # a method of the block, not a class
        source=lambda design: _SOURCE.format(method=METHOD, act=design.activation),
        walk=_walk,
        leaf=False,
        members=_members,
        depth=1,  # Res2Net-50 counts it as the 3x3 it replaces
    )
)


def _layout(design: Design) -> BlockLayout:
    return BlockLayout(
        main=(
            Conv("conv1", 1, "in", "splits"),
            Norm("bn1", "splits"),
            Act(),
            Custom(METHOD, "res2net_splits", _ARGS),
            Conv("conv3", 1, "splits", "out"),
            Norm("bn3", "out"),
        ),
        post=(Act(),),
    )


def _describe(design: Design, grouping: bool) -> str:
    text = f"Res2Net bottleneck (1x1, a hierarchy of 3x3s over {design.scale} splits, 1x1)"
    if grouping:
        text += f", base width {design.width_per_group}"
        text += f", {design.groups} groups" if design.groups > 1 else ""
    return text


def _stage_widths(first: Mapping[str, Shape], where: str) -> tuple[int, int, RecoveredFields]:
    """The split width and groups from ``convs.0``, the scale from how much wider conv1 is
    (the state-dict check after recovery refuses anything these do not give exactly)."""
    conv, conv1 = first.get("convs.0.weight", ()), first.get("conv1.weight", ())
    if len(conv) != 4 or len(conv1) != 4 or not conv[1]:
        return 0, 1, {}
    return conv[0], conv[0] // conv[1], {"scale": conv1[0] // conv[0]}


register(
    BlockKind(
        name="res2net",
        class_name="Bottle2neck",
        label="res2net",
        expansion=4,
        preact=False,
        layout=_layout,
        describe=_describe,
        summary=lambda design: (
            "Res2Net (Gao et al. 2019): 1x1, a hierarchy of 3x3s over its splits, 1x1."
        ),
        options=frozenset({"groups", "scale"}),
        channels=lambda design: {
            "splits": Channels(lambda width: width * design.scale, "width * SCALE")
        },
        constants=lambda design: (
            f"SCALE = {design.scale}  # Res2Net's s: each block's 1x1 output in SCALE splits",
        ),
        stage_widths=_stage_widths,
    )
)
