"""The stems: what a network does to its input before the first residual stage."""

from __future__ import annotations

from designer.core.blocks.kinds import Channels, StemKind, register
from designer.core.blocks.ops import Act, Conv, MaxPool, Norm, Op, Seq

_POOL = MaxPool("maxpool", 3, 2, 1)


def _three_convs(first: str, second: str) -> tuple[Op, ...]:
    """ResNet-C's stem (and its variants): three 3x3 convs, the first strided, then a max-pool."""
    convs = (
        Conv("", 3, "in", first, stride=2),
        Norm("", first),
        Act(),
        Conv("", 3, first, second),
        Norm("", second),
        Act(),
        Conv("", 3, second, "width"),
    )
    return (Seq("conv1", convs), Norm("bn1", "width"), Act(), _POOL)


register(
    StemKind(
        name="imagenet",
        ops=(Conv("conv1", 7, "in", "width", stride=2), Norm("bn1", "width"), Act(), _POOL),
        summary=lambda w: f"7x7 conv, stride 2, {w} channels; 3x3 max-pool, stride 2",
    )
)
register(
    StemKind(
        name="cifar",
        ops=(Conv("conv1", 3, "in", "width"), Norm("bn1", "width"), Act()),
        summary=lambda w: f"3x3 conv, {w} channels",
    )
)
register(
    StemKind(
        name="deep",
        ops=_three_convs("half", "half"),
        summary=lambda w: f"three 3x3 convs (ResNet-C), {w} channels; 3x3 max-pool, stride 2",
        comment="ResNet-C: three 3x3 convs instead of one 7x7",
        channels={"half": Channels(lambda w: w // 2, "STEM_WIDTH // 2")},
        width_multiple=2,
    )
)
register(
    StemKind(
        name="deep_tiered",
        ops=_three_convs("tier", "half"),
        summary=lambda w: (
            f"three 3x3 convs of {3 * (w // 8)}, {w // 2} and {w} channels (timm's ResNet-T);"
            " 3x3 max-pool, stride 2"
        ),
        comment="ResNet-T (timm): three 3x3 convs of rising width instead of one 7x7",
        channels={
            "tier": Channels(lambda w: 3 * (w // 8), "3 * (STEM_WIDTH // 8)"),
            "half": Channels(lambda w: w // 2, "STEM_WIDTH // 2"),
        },
        width_multiple=8,
    )
)
register(StemKind(name="none", ops=(), summary=lambda w: "none (the first block sees the input)"))
