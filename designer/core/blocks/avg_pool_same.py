"""A 2x2 average pool that keeps the size: a dilated stage's ResNet-D shortcut, as timm's.

A dilated stage does not subsample, yet timm keeps the ResNet-D shortcut's average pool
there: at stride 1, zero-padded on the right and bottom ("same"), so that each output
averages a pixel with its neighbours as the strided pool would (timm's ``AvgPool2dSame``
in ``downsample_avg``). Its padding counts: the last row and column average zeros in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from designer.core.blocks.kinds import CustomModule, Shape, Walker, register

if TYPE_CHECKING:
    from designer.core.design import Design


def _walk(w: Walker, name: str, x: Shape, args: tuple[int, ...], design: Design) -> Shape:
    return w.row(name, "AvgPool2dSame", x, x, kernel=2)


_SOURCE = '''class AvgPool2dSame(nn.Module):
    """A 2x2 average pool at stride 1, zero-padded right and bottom: the size is kept."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(F.pad(x, (0, 1, 0, 1)), kernel_size=2, stride=1)'''

register(
    CustomModule(
        key="avg_pool_same",
        class_name="AvgPool2dSame",
        source=lambda design: _SOURCE,
        walk=_walk,
        imports=("import torch.nn.functional as F",),
        graph_kind="pool",
        graph_label="avgpool 2x2 same",
    )
)
