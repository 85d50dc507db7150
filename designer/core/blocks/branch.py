"""What a block's residual branch runs, beyond its kind's main path: described once.

The block kinds declare their convs, norms and activations; the design adds the
same extras to every kind: the block dropout (before the branch's last conv, as
Wide ResNet), squeeze-excitation and stochastic depth (after it, in timm's
order). The analysis walks these ops and the code generator writes them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from designer.core.blocks.kinds import BlockLayout
from designer.core.blocks.ops import Custom, Op, with_dropout

if TYPE_CHECKING:
    from designer.core.design import Design

SE = Custom("se", "squeeze_excite", ("out",))
DROP_PATH = Custom("drop_path", "drop_path", ("drop_path",))


def branch_ops(layout: BlockLayout, design: Design) -> tuple[Op, ...]:
    """The residual branch of a block of ``design`` (a stage's view of it), in call order."""
    ops = with_dropout(layout.main) if design.block_dropout > 0 else layout.main
    if design.se_ratio > 0:
        ops += (SE,)
    if design.drop_path_rate > 0:
        ops += (DROP_PATH,)
    return ops
