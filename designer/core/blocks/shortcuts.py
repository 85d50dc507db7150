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


def _avg_down(pool: Op, norm: bool) -> Op:
    return Seq("downsample", (pool, Conv("", 1, "in", "out"), *_norm(norm)))


register(
    ShortcutKind(
        name="avg_down",
        # unstrided, timm keeps an identity where the pool goes, so the conv and norm
        # keep their keys (downsample.1, .2) and timm's resnet*d weights load strictly
        ops=lambda strided, norm: _avg_down(
            AvgPool("", "stride") if strided else Identity(""), norm
        ),
        summary="a 1x1 projection",
        comment="ResNet-D: average-pool first so that the 1x1 conv sees every pixel",
        # a dilated stage keeps its resolution, and timm its pool: 2x2 at stride 1, "same"
        dilated=lambda norm: _avg_down(Custom("", "avg_pool_same", ()), norm),
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
