"""What a block's residual branch runs, beyond its kind's main path: described once.

The block kinds declare their convs, norms and activations; the design adds the
same extras to every kind: anti-aliased downsampling (after the strided conv's
activation), the block dropout (before the branch's last conv, as Wide ResNet),
channel attention and stochastic depth (after it, in timm's order). The analysis
walks these ops and the code generator writes them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from designer.core.blocks.anti_alias import anti_aliased_branch
from designer.core.blocks.kinds import ATTENTIONS, BlockLayout
from designer.core.blocks.norms import folded
from designer.core.blocks.ops import Custom, Op, with_dropout

if TYPE_CHECKING:
    from designer.core.design import Design

ATTENTION_SLOT = "se"  # the attention module's attribute in a block: timm's name
DROP_PATH = Custom("drop_path", "drop_path", ("drop_path",))


def attention_op(design: Design) -> Custom:
    """The design's attention module in its slot, on the block's output channels."""
    return Custom(ATTENTION_SLOT, ATTENTIONS[design.attention].module, ("out",))


def is_attention(op: Op) -> bool:
    return isinstance(op, Custom) and op.name == ATTENTION_SLOT


def branch_ops(
    layout: BlockLayout, design: Design, *, attention: bool | None = None
) -> tuple[Op, ...]:
    """The residual branch of a block of ``design`` (a stage's view of it), in call order.

    ``attention``: whether it has its attention module (default: as the design says; a
    generated class shared by stages with and without it has it, optionally).
    """
    # a norm that activates itself takes the activation after it (EvoNorm, FRN)
    ops = folded(anti_aliased_branch(layout.main, design.anti_alias), design.norm)
    ops = with_dropout(ops) if design.block_dropout > 0 else ops
    if ATTENTIONS[design.attention].present(design) if attention is None else attention:
        ops += (attention_op(design),)
    if design.drop_path_rate > 0:
        ops += (DROP_PATH,)
    return ops
