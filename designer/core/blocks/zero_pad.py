"""Option A of He et al. 2015: a parameter-free shortcut that subsamples and zero-pads."""

from __future__ import annotations

from typing import TYPE_CHECKING

from designer.core.blocks.kinds import CustomModule, Shape, Walker, register

if TYPE_CHECKING:
    from designer.core.design import Design


def _walk(w: Walker, name: str, x: Shape, args: tuple[int, ...], design: Design) -> Shape:
    extra, stride = args
    y = (x[0] + extra, -(-x[1] // stride), -(-x[2] // stride))
    return w.row(name, "ZeroPadShortcut", x, y, stride=stride)


_SOURCE = '''class ZeroPadShortcut(nn.Module):
    """Option A of He et al. 2015: subsample by striding, append zero channels. No parameters."""

    def __init__(self, extra_channels: int, stride: int) -> None:
        super().__init__()
        self.extra_channels = extra_channels
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.extra_channels))'''

register(
    CustomModule(
        key="zero_pad",
        class_name="ZeroPadShortcut",
        source=lambda design: _SOURCE,
        walk=_walk,
        imports=("import torch.nn.functional as F",),
        graph_kind="pad",
    )
)
