"""The SENets' basic block (Hu et al. 2018 as Cadene's ``SEResNetBlock``, timm's ``legacy_*``).

torchvision's basic block with one more activation: after the second conv's norm, before
the squeeze-excite and the residual add (whose sum is activated again). It has the basic
block's tensors, so only the layout that names it tells it apart.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from designer.core.blocks.basic import LAYOUT
from designer.core.blocks.kinds import BlockKind, BlockLayout, register
from designer.core.blocks.ops import Act

if TYPE_CHECKING:
    from designer.core.design import Design

# the basic block's ops, its second norm activated too (the SENets' own: the gate sees
# activated features)
_LAYOUT = replace(LAYOUT, main=(*LAYOUT.main, Act()))


def _layout(design: Design) -> BlockLayout:
    return _LAYOUT


register(
    BlockKind(
        name="senet_basic",
        class_name="SEResNetBlock",
        label="SENet basic",
        expansion=1,
        preact=False,
        layout=_layout,
        summary=lambda design: (
            "Two 3x3 convolutions, both activated (the SENets'), plus the shortcut."
        ),
        describe=lambda design, grouping: "SENet basic (two 3x3 convs, both activated)",
    )
)
