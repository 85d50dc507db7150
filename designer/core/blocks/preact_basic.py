"""The pre-activation basic block (He et al. 2016): BN-activation before each 3x3 conv.

The shortcut taps the pre-activated input, has no norm of its own, and nothing
follows the addition; the network ends in one more BN-activation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from designer.core.blocks.kinds import BlockKind, BlockLayout, register
from designer.core.blocks.ops import Act, Conv, Norm

if TYPE_CHECKING:
    from designer.core.design import Design

_LAYOUT = BlockLayout(
    pre=(Norm("bn1", "in"), Act()),
    main=(
        Conv("conv1", 3, "in", "out", stride="stride", dilation="dil_first"),
        Norm("bn2", "out"),
        Act(),
        Conv("conv2", 3, "out", "out", dilation="dil"),
    ),
    tap="pre",
)


def _layout(design: Design) -> BlockLayout:
    return _LAYOUT


register(
    BlockKind(
        name="preact_basic",
        class_name="PreActBasicBlock",
        label="pre-act basic",
        expansion=1,
        preact=True,
        layout=_layout,
        summary=lambda design: (
            "Pre-activation: BN-activation before each of two 3x3 convs (He et al. 2016)."
        ),
        describe=lambda design, grouping: "pre-activation basic (two 3x3 convs)",
    )
)
