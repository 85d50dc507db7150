"""The stems: what a network does to its input before the first residual stage."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from designer.core.blocks.anti_alias import anti_aliased_stem
from designer.core.blocks.kinds import (
    CUSTOM_MODULES,
    Channels,
    CustomModule,
    Shape,
    Size,
    StemKind,
    Walker,
    register,
)
from designer.core.blocks.ops import Act, Conv, Custom, MaxPool, Norm, Op, Seq

if TYPE_CHECKING:
    from designer.core.design import Design

_POOL = MaxPool("maxpool", 3, 2, 1)
POOLS: dict[str, Op] = {
    # ResNet-RS (timm's replace_stem_pool): a strided 3x3 conv, norm and activation instead
    "conv": Seq("maxpool", (Conv("", 3, "width", "width", stride=2), Norm("", "width"), Act())),
    # Caffe's pool, kept by Cadene's SENets (timm's legacy_*) to load Caffe weights: unpadded,
    # its last window overhanging the edge; it shifts every window by a pixel
    "max_ceil": MaxPool("maxpool", 3, 2, 0, ceil=True),
    # BiT's (timm's 'fixed' stem, a TF "SAME" approximation): padded with zeros, not -inf,
    # then an unpadded pool; the sizes are the padded pool's, the values not (the stem
    # conv's output, not yet normed, is negative too)
    "max_zero_pad": Seq("maxpool", (Custom("", "zero_pad2d", (1,)), MaxPool("", 3, 2, 0))),
}
UNALIASED = ("max_ceil", "max_zero_pad")  # the pools that have no anti-aliased form
POOL_SUMMARIES = {  # what model.py's docstring says of a pool other than torchvision's
    "conv": "the stem's max-pool replaced by a strided 3x3 conv (ResNet-RS)",
    "max_ceil": "the stem's max-pool unpadded, in ceil mode (Caffe's, as Cadene's SENets)",
    "stride": "no max-pool: the stem's last conv strides instead (timm's byobnet tiered stem)",
    "max_zero_pad": "the stem's max-pool after a zero pad (BiT's)",
}
STRIDE = "stride"  # the pool that is no pool: the stem's last conv strides by 2 instead


def _pad_walk(w: Walker, name: str, x: Shape, args: tuple[int, ...], design: Design) -> Shape:
    (pad,) = args
    return w.row(name, "ZeroPad2d", x, (x[0], x[1] + 2 * pad, x[2] + 2 * pad))


register(
    CustomModule(
        key="zero_pad2d",
        class_name="nn.ZeroPad2d",  # torch's own: model.py needs no class for it
        source=lambda design: "",
        walk=_pad_walk,
        graph_kind="pad",
        resize=lambda args, size: (size[0] + 2 * args[0], size[1] + 2 * args[0]),
    )
)


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
    if pool in POOLS:
        ops = tuple(POOLS[pool] if isinstance(op, MaxPool) else op for op in ops)
    if pool == STRIDE and has_pool(kind):
        ops = _last_conv_strided(tuple(op for op in ops if not isinstance(op, MaxPool)))
    return anti_aliased_stem(ops, anti_alias)


def last_conv_stride(ops: tuple[Op, ...]) -> int:
    """The stride of the last conv of ``ops`` (inside sequences too; 0: no conv)."""
    for op in reversed(ops):
        if isinstance(op, Seq) and (inner := last_conv_stride(op.ops)):
            return inner
        if isinstance(op, Conv):
            return op.stride if isinstance(op.stride, int) else 0
    return 0


def _last_conv_strided(ops: tuple[Op, ...]) -> tuple[Op, ...]:
    """``ops`` with their last conv striding by 2 (a stem that subsamples without a pool)."""
    out = list(ops)
    for i in reversed(range(len(out))):
        op = out[i]
        if isinstance(op, Seq) and last_conv_stride(op.ops):
            out[i] = Seq(op.name, _last_conv_strided(op.ops))
            break
        if isinstance(op, Conv):
            out[i] = replace(op, stride=2)
            break
    return tuple(out)


def _literal(arg: int | str) -> int:
    """A stem module's argument as a number: strides are literal (2); a channel count is a
    symbol ("width"), which no size depends on."""
    return arg if isinstance(arg, int) else 0


def spatial(ops: tuple[Op, ...], size: Size) -> Size:
    """The height and width after ``ops`` ("same"-padded convs, pools as they say)."""
    height, width = size
    for op in ops:
        if isinstance(op, Seq):
            height, width = spatial(op.ops, (height, width))
        elif isinstance(op, Custom) and (resize := CUSTOM_MODULES[op.module].resize):
            height, width = resize(tuple(_literal(arg) for arg in op.args), (height, width))
        elif isinstance(op, MaxPool):
            height, width = op.out(height), op.out(width)
        elif isinstance(op, Conv) and isinstance(op.stride, int):
            k, s = op.kernel, op.stride
            height = (height + 2 * (k // 2) - k) // s + 1
            width = (width + 2 * (k // 2) - k) // s + 1
    return height, width


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
