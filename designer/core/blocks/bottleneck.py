"""The bottleneck block (torchvision's ``Bottleneck``): 1x1 reduce, 3x3 (grouped), 1x1 expand.

Where the stride sits is the design's ``stride_on``: on the 3x3 is torchvision's
"v1.5" (more accurate), on the first 1x1 the 2015 paper's v1 (and Keras').
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from designer.core.blocks.kinds import BlockKind, BlockLayout, register
from designer.core.blocks.ops import Act, Conv, Norm, Sym

if TYPE_CHECKING:
    from designer.core.design import Design


def strides(design: Design) -> tuple[Sym, Sym]:
    """The strides of the first 1x1 and of the 3x3 conv."""
    return ("stride", 1) if design.stride_on == "1x1" else (1, "stride")


def stride_place(design: Design) -> str:
    return "first 1x1 (v1, 2015)" if design.stride_on == "1x1" else "3x3 (torchvision's v1.5)"


def describe(design: Design, grouping: bool) -> str:
    """``grouping``: say the groups (not where each stage has its own, said per stage)."""
    text = f"bottleneck (1x1, 3x3, 1x1), stride on the {design.stride_on} conv"
    if grouping and (design.groups > 1 or design.width_per_group != 64):
        text += f", {design.groups} groups of width {design.width_per_group}"
    return text


def _layout(design: Design) -> BlockLayout:
    s1, s3 = strides(design)
    return BlockLayout(
        main=(
            Conv("conv1", 1, "in", "width", stride=s1),
            Norm("bn1", "width"),
            Act(),
            Conv("conv2", 3, "width", "width", stride=s3, groups="groups", dilation="dil_first"),
            Norm("bn2", "width"),
            Act(),
            Conv("conv3", 1, "width", "out"),
            Norm("bn3", "out"),
        ),
        post=(Act(),),
    )


register(
    BlockKind(
        name="bottleneck",
        class_name="Bottleneck",
        label="bottleneck",
        expansion=4,
        options=frozenset({"groups", "stride_on"}),
        preact=False,
        layout=_layout,
        describe=describe,
        summary=lambda design: (
            f"1x1 reduce, 3x3, 1x1 expand, plus the shortcut; stride on the {stride_place(design)}."
        ),
    )
)
