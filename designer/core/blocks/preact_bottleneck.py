"""The pre-activation bottleneck (He et al. 2016): BN-activation before each of 1x1, 3x3, 1x1.

As the pre-activation basic block: the shortcut taps the pre-activated input and
has no norm; the stride sits where the design's ``stride_on`` says.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from designer.core.blocks.bottleneck import describe, strides
from designer.core.blocks.kinds import BlockKind, BlockLayout, register
from designer.core.blocks.ops import Act, Conv, Norm

if TYPE_CHECKING:
    from designer.core.design import Design


def _layout(design: Design) -> BlockLayout:
    s1, s3 = strides(design)
    return BlockLayout(
        pre=(Norm("bn1", "in"), Act()),
        main=(
            Conv("conv1", 1, "in", "width", stride=s1),
            Norm("bn2", "width"),
            Act(),
            Conv("conv2", 3, "width", "width", stride=s3, groups="groups", dilation="dil_first"),
            Norm("bn3", "width"),
            Act(),
            Conv("conv3", 1, "width", "out"),
        ),
        tap="pre",
    )


def _summary(design: Design) -> str:
    where = "first 1x1" if design.stride_on == "1x1" else "3x3"
    return f"Pre-activation 1x1, 3x3, 1x1 (He et al. 2016); stride on the {where}."


register(
    BlockKind(
        name="preact_bottleneck",
        class_name="PreActBottleneck",
        label="pre-act bottleneck",
        expansion=4,
        options=frozenset({"groups", "stride_on"}),
        preact=True,
        layout=_layout,
        summary=_summary,
        describe=lambda design, grouping: "pre-activation " + describe(design, grouping),
    )
)
