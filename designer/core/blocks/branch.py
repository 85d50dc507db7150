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
from designer.core.blocks.ops import Act, Conv, Custom, Op, Sym, with_dropout

if TYPE_CHECKING:
    from designer.core.design import Design

ATTENTION_SLOT = "se"  # the attention module's attribute in a block: timm's name
DROP_PATH = Custom("drop_path", "drop_path", ("drop_path",))


def attention_op(design: Design, channels: Sym = "out") -> Custom:
    """The design's attention module in its slot, on ``channels`` (the block's output's)."""
    return Custom(ATTENTION_SLOT, ATTENTIONS[design.attention].module, (channels,))


def activated_conv(ops: tuple[Op, ...]) -> tuple[int, Sym] | None:
    """Where attention "at the 3x3" goes: after the activation of the last conv of ``ops``
    wider than 1x1 that is activated before the next conv (a bottleneck's 3x3, and an
    anti-aliasing pool after it), with that conv's output channels; None: no such conv."""
    found = None
    conv: Conv | None = None
    for i, op in enumerate(ops):
        if isinstance(op, Conv):
            conv = op if op.kernel > 1 else None
        elif isinstance(op, Act) and conv is not None:
            found = (i, conv.cout)
    if found is None:
        return None
    index, channels = found
    while index + 1 < len(ops) and not isinstance(ops[index + 1], (Conv, Act)):
        index += 1  # past an anti-aliasing pool: the attention sees the subsampled map
    return index + 1, channels


def is_attention(op: Op) -> bool:
    return isinstance(op, Custom) and op.name == ATTENTION_SLOT


def branch_ops(
    layout: BlockLayout, design: Design, *, attention: bool | None = None
) -> tuple[Op, ...]:
    """The residual branch of a block of ``design`` (a stage's view of it), in call order.

    ``attention``: whether it has its attention module (default: as the design says; a
    generated class shared by stages with and without it has it, optionally).
    """
    ops = anti_aliased_branch(layout.main, design.anti_alias)
    if ATTENTIONS[design.attention].present(design) if attention is None else attention:
        place = activated_conv(ops) if design.attention_at == "3x3" else None
        if place is None:
            ops += (attention_op(design),)
        else:
            index, channels = place
            ops = (*ops[:index], attention_op(design, channels), *ops[index:])
    ops = with_dropout(ops) if design.block_dropout > 0 else ops
    # a norm that activates itself takes the activation after it (EvoNorm, FRN)
    ops = folded(ops, design.norm)
    if design.drop_path_rate > 0:
        ops += (DROP_PATH,)
    return ops
