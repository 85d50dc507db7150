"""Efficient channel attention (ECA-Net, Wang et al. 2020), as timm's ``EcaModule``.

Squeeze-excite's two 1x1 convs replaced by one 1-D conv across the pooled channels,
without a reduction: a handful of weights per block. Its kernel grows with log2 of the
channel count (odd, at least 3), so it is not a choice but follows from the block.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from designer.core.blocks.kinds import (
    AttentionKind,
    CustomModule,
    RecoveredFields,
    Shape,
    Walker,
    register,
)

if TYPE_CHECKING:
    from designer.core.design import Design


def eca_kernel(channels: int, gamma: int = 2, beta: int = 1) -> int:
    """The 1-D kernel size for ``channels``: |log2(C) + beta| / gamma, made odd, at least 3."""
    t = int(abs(math.log(channels, 2) + beta) / gamma)
    return max(t if t % 2 else t + 1, 3)


def _walk(w: Walker, name: str, x: Shape, args: tuple[int, ...], design: Design) -> Shape:
    channels = args[0]
    k = eca_kernel(channels)
    pooled = (1, channels)  # the pooled channels as a 1-channel sequence
    # torchinfo counts a 1-D conv's weights once per output position
    w.row(f"{name}.conv", "Conv1d", pooled, pooled, k, kernel=k, macs=k * channels)
    w.row(f"{name}.gate", "Sigmoid", pooled, pooled)
    return x


_SOURCE = '''class EcaModule(nn.Module):
    """Efficient channel attention (Wang et al. 2020): a 1-D conv across the pooled channels."""

    def __init__(self, channels: int, gamma: int = 2, beta: int = 1) -> None:
        super().__init__()
        # the kernel grows with log2(channels): odd, at least 3 (as timm's EcaModule)
        t = int(abs(math.log(channels, 2) + beta) / gamma)
        kernel_size = max(t if t % 2 else t + 1, 3)
        self.conv = nn.Conv1d(1, 1, kernel_size, padding=(kernel_size - 1) // 2, bias=False)
        self.gate = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x.mean((2, 3)).view(x.shape[0], 1, -1)
        y = self.gate(self.conv(y)).view(x.shape[0], -1, 1, 1)
        return x * y'''


register(
    CustomModule(
        key="eca",
        class_name="EcaModule",
        source=lambda design: _SOURCE,
        walk=_walk,
        stdlib=("import math",),
        leaf=False,
    )
)


def _recover(firsts: Sequence[Mapping[str, Shape]]) -> RecoveredFields | None:
    """Every stage's blocks hold one 1-D conv kernel ``se.conv.weight`` (1, 1, k)."""
    kernels = [b.get("se.conv.weight") for b in firsts]
    if all(shape is not None and len(shape) == 3 for shape in kernels):
        return {}
    return None


def _check(design: Design) -> str:
    ratios = [design.se_ratio, *(s.se_ratio or 0.0 for s in design.stages)]
    if any(ratio > 0 for ratio in ratios):
        return "ECA has no reduction ratio: set se_ratio (and each stage's) to 0"
    return ""


register(
    AttentionKind(
        name="eca",
        module="eca",
        present=lambda design: True,
        summary=lambda design: "efficient channel attention (ECA)",
        recover=_recover,
        check=_check,
    )
)
