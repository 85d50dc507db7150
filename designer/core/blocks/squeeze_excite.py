"""Squeeze-and-excitation (Hu et al. 2018): channel attention after a block's branch."""

from __future__ import annotations

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


def se_channels(channels: int, ratio: float, divisor: int = 0) -> int:
    """The squeezed width, as the generated code computes it.

    ``divisor`` 0: ``round`` (Hu et al.), never below one channel. ``divisor`` N:
    timm's ``make_divisible(channels * ratio, N)``: the nearest multiple of N,
    halves rounded up, never below N.
    """
    if divisor == 0:
        return max(1, round(channels * ratio))
    return max(divisor, int(channels * ratio + divisor / 2) // divisor * divisor)


def _walk(w: Walker, name: str, x: Shape, args: tuple[int, ...], design: Design) -> Shape:
    channels = args[0]
    reduced = se_channels(channels, design.se_ratio, design.se_divisor)
    y = w.row(f"{name}.pool", "AdaptiveAvgPool2d", x, (channels, 1, 1))
    y = w.conv(f"{name}.fc1", y, reduced, 1, 1, bias=True)
    y = w.row(f"{name}.relu", "ReLU", y, y)
    y = w.conv(f"{name}.fc2", y, channels, 1, 1, bias=True)
    w.row(f"{name}.gate", "Sigmoid", y, y)
    return x


_SOURCE = '''class SqueezeExcite(nn.Module):
    """Channel attention (Hu et al. 2018): pool, reduce, expand, sigmoid gate."""

    def __init__(self, channels: int, {ratio}) -> None:
        super().__init__()
        {reduced}
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, reduced, kernel_size=1)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(reduced, channels, kernel_size=1)
        self.gate = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(self.fc2(self.relu(self.fc1(self.pool(x)))))'''

_REDUCED = {
    "round": "reduced = max(1, round(channels * ratio))",
    "divisible": (
        "# timm's make_divisible: the nearest multiple of SE_DIVISOR, at least SE_DIVISOR\n"
        "        reduced = max(SE_DIVISOR, int(channels * ratio + SE_DIVISOR / 2)"
        " // SE_DIVISOR * SE_DIVISOR)"
    ),
}


def _source(design: Design) -> str:
    ratios = {design.se_ratio if s.se_ratio is None else s.se_ratio for s in design.stages}
    # where each stage passes its own ratio there is no SE_RATIO to default to
    ratio = "ratio: float" if len(ratios) > 1 else "ratio: float = SE_RATIO"
    reduced = _REDUCED["divisible" if design.se_divisor else "round"]
    return _SOURCE.format(ratio=ratio, reduced=reduced)


register(
    CustomModule(
        key="squeeze_excite",
        class_name="SqueezeExcite",
        source=_source,
        walk=_walk,
        leaf=False,
    )
)


SE_RATIOS = (1 / 16, 1 / 4, 1 / 8, 1 / 32, 1 / 2)  # the ratios the zoos use, in preference order


def _recover(firsts: Sequence[Mapping[str, Shape]]) -> RecoveredFields | None:
    """The ratio (and rounding) that gives every stage's squeezed width, else per stage."""
    found = [(fc1[1], fc1[0]) if (fc1 := b.get("se.fc1.weight")) else None for b in firsts]
    present = [f for f in found if f]
    if not present:
        return None
    if all(found):
        for divisor in (0, 8):
            for ratio in (*SE_RATIOS, *(rd / c for c, rd in present)):
                if all(se_channels(c, ratio, divisor) == rd for c, rd in present):
                    return {"se_ratio": ratio, "se_divisor": divisor}
    return {"stages": [{"se_ratio": (f[1] / f[0]) if f else 0.0} for f in found]}


def _summary(design: Design) -> str:
    return f"squeeze-excite {design.se_ratio!r}"


register(
    AttentionKind(
        name="se",
        module="squeeze_excite",
        present=lambda design: design.se_ratio > 0,
        summary=_summary,
        recover=_recover,
    )
)
