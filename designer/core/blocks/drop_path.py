"""Stochastic depth (Huang et al. 2016), as timm's ``DropPath``: drop a block's branch per sample.

A block's rate grows linearly with its index over the whole network (timm's
``drop_path_rate`` rule): the first block keeps its branch, the last drops it with
the design's ``drop_path_rate``. In eval it is the identity, so it has no
parameters and changes no count; only training sees it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from designer.core.blocks.kinds import CustomModule, Shape, Walker, register

if TYPE_CHECKING:
    from designer.core.design import Design


def drop_path_rates(rate: float, blocks: int) -> list[float]:
    """Each block's rate: ``rate * i / (blocks - 1)`` for block i (timm's linear rule)."""
    return [rate * i / max(blocks - 1, 1) for i in range(blocks)]


def _walk(w: Walker, name: str, x: Shape, args: tuple[int, ...], design: Design) -> Shape:
    return w.row(name, "DropPath", x, x)


_SOURCE = '''class DropPath(nn.Module):
    """Stochastic depth (Huang et al. 2016): drop the whole branch of some samples in training."""

    def __init__(self, rate: float) -> None:
        super().__init__()
        self.rate = rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.rate == 0.0 or not self.training:
            return x
        keep = 1.0 - self.rate
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask / keep'''


register(
    CustomModule(
        key="drop_path",
        class_name="DropPath",
        source=lambda design: _SOURCE,
        walk=_walk,
        graph_kind="dropout",
        graph_label="drop path",
    )
)
