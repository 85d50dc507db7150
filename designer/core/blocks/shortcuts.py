"""The shortcuts a block takes when it changes shape (identity otherwise)."""

from __future__ import annotations

from designer.core.blocks.kinds import ShortcutKind, register
from designer.core.blocks.ops import AvgPool, Conv, Custom, Identity, Norm, Op, Seq


def _norm(norm: bool) -> tuple[Op, ...]:
    return (Norm("", "out"),) if norm else ()


register(
    ShortcutKind(
        name="projection",
        ops=lambda strided, norm: Seq(
            "downsample", (Conv("", 1, "in", "out", stride="stride"), *_norm(norm))
        ),
        summary="a 1x1 projection",
    )
)
register(
    ShortcutKind(
        name="avg_down",
        # unstrided, timm keeps an identity where the pool goes, so the conv and norm
        # keep their keys (downsample.1, .2) and timm's resnet*d weights load strictly
        ops=lambda strided, norm: Seq(
            "downsample",
            (
                AvgPool("", "stride") if strided else Identity(""),
                Conv("", 1, "in", "out"),
                *_norm(norm),
            ),
        ),
        summary="a 1x1 projection",
        comment="ResNet-D: average-pool first so that the 1x1 conv sees every pixel",
    )
)
register(
    ShortcutKind(
        name="zero_pad",
        ops=lambda strided, norm: Custom("downsample", "zero_pad", ("extra", "stride")),
        summary="subsample and zero-pad",
        can_shrink=False,
    )
)
