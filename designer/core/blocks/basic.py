"""The basic block (He et al. 2015; torchvision's ``BasicBlock``): two 3x3 convs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from designer.core.blocks.kinds import BlockKind, BlockLayout, register
from designer.core.blocks.ops import Act, Conv, Norm

if TYPE_CHECKING:
    from designer.core.design import Design

LAYOUT = BlockLayout(
    main=(
        Conv("conv1", 3, "in", "out", stride="stride", dilation="dil_first"),
        Norm("bn1", "out"),
        Act(),
        Conv("conv2", 3, "out", "out", dilation="dil"),
        Norm("bn2", "out"),
    ),
    post=(Act(),),
)


def _layout(design: Design) -> BlockLayout:
    return LAYOUT


register(
    BlockKind(
        name="basic",
        class_name="BasicBlock",
        label="basic",
        expansion=1,
        preact=False,
        layout=_layout,
        summary=lambda design: "Two 3x3 convolutions, plus the shortcut.",
        describe=lambda design, grouping: "basic (two 3x3 convs)",
    )
)
