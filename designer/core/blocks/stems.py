"""The stems: what a network does to its input before the first residual stage."""

from __future__ import annotations

from designer.core.blocks.anti_alias import anti_aliased_stem
from designer.core.blocks.kinds import Channels, StemKind, register
from designer.core.blocks.ops import Act, Conv, MaxPool, Norm, Op, Seq

_POOL = MaxPool("maxpool", 3, 2, 1)
# ResNet-RS (timm's replace_stem_pool): a strided 3x3 conv, norm and activation instead
_CONV_POOL = Seq("maxpool", (Conv("", 3, "width", "width", stride=2), Norm("", "width"), Act()))


def stem_ops(
    kind: StemKind, pool: str, norm_act: bool = True, anti_alias: str = "none"
) -> tuple[Op, ...]:
    """The stem's ops as the design asks.

    ``pool``: its max-pool, or a strided conv instead (``conv``, ResNet-RS).
    ``norm_act`` false: without the norm and activation after its last conv, which a
    pre-activation network's first block then applies (timm's ResNetV2).
    ``anti_alias``: its subsampling anti-aliased (see ``blocks.anti_alias``).
    """
    ops = kind.ops
    if not norm_act:
        ops = tuple(op for op in ops if not (isinstance(op, Norm) or _is_shared_act(op)))
    if pool != "max":
        ops = tuple(_CONV_POOL if isinstance(op, MaxPool) else op for op in ops)
    return anti_aliased_stem(ops, anti_alias)


def _is_shared_act(op: Op) -> bool:
    """The stem's own activation (its top-level one; a Seq's are its own modules)."""
    return isinstance(op, Act) and not op.name


def has_pool(kind: StemKind) -> bool:
    return any(isinstance(op, MaxPool) for op in kind.ops)


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
