"""Squeeze-and-excitation (Hu et al. 2018): channel attention after a block's branch."""

from __future__ import annotations

from typing import TYPE_CHECKING

from designer.core.blocks.kinds import CustomModule, Shape, Walker, register

if TYPE_CHECKING:
    from designer.core.design import Design


def se_channels(channels: int, ratio: float) -> int:
    """The squeezed width: ``round`` as the generated code's, never below one channel."""
    return max(1, int(round(channels * ratio)))


def _walk(w: Walker, name: str, x: Shape, args: tuple[int, ...], design: Design) -> Shape:
    channels = args[0]
    reduced = se_channels(channels, design.se_ratio)
    y = w.row(f"{name}.pool", "AdaptiveAvgPool2d", x, (channels, 1, 1))
    y = w.conv(f"{name}.fc1", y, reduced, 1, 1, bias=True)
    y = w.row(f"{name}.relu", "ReLU", y, y)
    y = w.conv(f"{name}.fc2", y, channels, 1, 1, bias=True)
    w.row(f"{name}.gate", "Sigmoid", y, y)
    return x


_SOURCE = '''class SqueezeExcite(nn.Module):
    """Channel attention (Hu et al. 2018): pool, reduce, expand, sigmoid gate."""

    def __init__(self, channels: int, ratio: float = SE_RATIO) -> None:
        super().__init__()
        reduced = max(1, round(channels * ratio))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, reduced, kernel_size=1)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(reduced, channels, kernel_size=1)
        self.gate = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(self.fc2(self.relu(self.fc1(self.pool(x)))))'''

register(
    CustomModule(
        key="squeeze_excite",
        class_name="SqueezeExcite",
        source=_SOURCE,
        walk=_walk,
        leaf=False,
    )
)
