"""Anti-aliased downsampling (Zhang 2019, "Making convolutional networks shift-invariant
again"), as timm's ``aa_layer``: low-pass, then subsample.

Each strided conv runs at stride 1 and, after its activation, a pool subsamples instead:
``avg`` a 2x2 average pool (timm's ``resnetaa*``), ``blur`` a 3x3 binomial filter
(``BlurPool2d``, timm's ``resnetblur*``). The stem's max-pool becomes a 2x2 average pool
(``avg``) or a stride-1 max-pool and a blur (``blur``). Neither pool has weights, so a
checkpoint cannot show it; both change the FLOPs and the outputs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from designer.core.blocks.kinds import CUSTOM_MODULES, CustomModule, Shape, Size, Walker, register
from designer.core.blocks.ops import Act, Conv, Custom, MaxPool, Op, Seq, Sym

if TYPE_CHECKING:
    from designer.core.design import Design

NONE = "none"
SLOT = "aa"  # the pool's attribute in a block: timm's name


def _blur_size(args: tuple[int, ...], size: Size) -> Size:
    """Reflect-padded by 1, a 3x3 filter: rounds up, as a strided "same" conv does."""
    stride = args[1]
    return (size[0] - 1) // stride + 1, (size[1] - 1) // stride + 1


def _blur_walk(w: Walker, name: str, x: Shape, args: tuple[int, ...], design: Design) -> Shape:
    y = (x[0], *_blur_size(args, (x[1], x[2])))  # a fixed 3x3 depthwise filter: no weights
    return w.row(name, "BlurPool2d", x, y, kernel=3, stride=args[1])


_BLUR_SOURCE = '''class BlurPool2d(nn.Module):
    """Anti-aliased downsampling (Zhang 2019): a 3x3 binomial blur, then subsample."""

    def __init__(self, channels: int, stride: int = 2) -> None:
        super().__init__()
        self.channels = channels
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # the [1, 2, 1] / 4 filter in both directions, made where x lives (it has no weights)
        taps = torch.tensor([1.0, 2.0, 1.0], device=x.device, dtype=x.dtype) / 4
        kernel = (taps[:, None] * taps[None, :]).expand(self.channels, 1, 3, 3)
        x = F.pad(x, (1, 1, 1, 1), mode="reflect")
        return F.conv2d(x, kernel, stride=self.stride, groups=self.channels)'''

register(
    CustomModule(
        key="blur_pool",
        class_name="BlurPool2d",
        source=lambda design: _BLUR_SOURCE,
        walk=_blur_walk,
        imports=("import torch.nn.functional as F",),
        graph_kind="pool",
        graph_label="blur pool",
        resize=_blur_size,
    )
)


def _avg_size(args: tuple[int, ...], size: Size) -> Size:
    """torch's default: rounds down, where a strided conv rounds up."""
    stride = args[0]
    return size[0] // stride, size[1] // stride


def _avg_walk(w: Walker, name: str, x: Shape, args: tuple[int, ...], design: Design) -> Shape:
    y = (x[0], *_avg_size(args, (x[1], x[2])))
    return w.row(name, "AvgPool2d", x, y, kernel=args[0], stride=args[0])


register(
    CustomModule(
        key="avg_pool",  # torch's own class: model.py defines nothing for it
        class_name="nn.AvgPool2d",
        source=lambda design: "",
        walk=_avg_walk,
        graph_kind="pool",
        resize=_avg_size,
    )
)


def subsampled(size: Size, stride: int, kind: str) -> Size:
    """A strided block's output size: its anti-aliasing pool's, else its strided conv's."""
    if kind != NONE and stride > 1:
        pool = ANTI_ALIAS[kind].pool(SLOT, 1, stride)
        assert isinstance(pool, Custom)
        resize = CUSTOM_MODULES[pool.module].resize
        assert resize is not None
        return resize(tuple(int(arg) for arg in pool.args), size)
    return -(-size[0] // stride), -(-size[1] // stride)


@dataclass(frozen=True)
class AntiAlias:
    """One kind of anti-aliasing: the pool that subsamples by ``stride`` over ``channels``."""

    name: str
    summary: str  # what model.py's docstring calls its pools
    pool: Callable[[str, Sym, Sym], Op]  # (name, channels, stride) -> the pool
    stem_pool: Callable[[Sym], Op]  # the stem's max-pool replaced, over its width


ANTI_ALIAS: dict[str, AntiAlias] = {
    "avg": AntiAlias(
        "avg",
        "2x2 average pools",
        pool=lambda name, channels, stride: Custom(name, "avg_pool", (stride,)),
        stem_pool=lambda width: Custom("maxpool", "avg_pool", (2,)),
    ),
    "blur": AntiAlias(
        "blur",
        "BlurPool",
        pool=lambda name, channels, stride: Custom(name, "blur_pool", (channels, stride)),
        stem_pool=lambda width: Seq(
            "maxpool", (MaxPool("", 3, 1, 1), Custom("", "blur_pool", (width, 2)))
        ),
    ),
}
CHOICES = (NONE, *ANTI_ALIAS)


def anti_aliased_branch(ops: tuple[Op, ...], kind: str) -> tuple[Op, ...]:
    """A block's branch whose strided conv runs at stride 1, subsampled after its activation.

    In a block that does not stride the pool is the identity (one class serves a stage).
    """
    if kind == NONE:
        return ops
    at = next((i for i, op in enumerate(ops) if isinstance(op, Conv) and op.stride != 1), None)
    if at is None:
        return ops
    conv = ops[at]
    assert isinstance(conv, Conv)
    after = next(i for i in range(at + 1, len(ops)) if isinstance(ops[i], Act))
    pool = ANTI_ALIAS[kind].pool(SLOT, conv.cout, conv.stride)
    assert isinstance(pool, Custom)
    pool = replace(pool, identity_unless=conv.stride)
    return (*ops[:at], replace(conv, stride=1), *ops[at + 1 : after + 1], pool, *ops[after + 1 :])


def anti_aliased_stem(ops: tuple[Op, ...], kind: str) -> tuple[Op, ...]:
    """The stem's ops with its subsampling anti-aliased (its max-pool, or ResNet-RS's conv)."""
    if kind == NONE:
        return ops
    out: list[Op] = []
    for op in ops:
        if isinstance(op, MaxPool):
            out.append(ANTI_ALIAS[kind].stem_pool("width"))
        # ResNet-RS's conv, norm, act (a pool without an anti-aliased form is left to validation)
        elif isinstance(op, Seq) and op.name == "maxpool" and isinstance(op.ops[0], Conv):
            conv, *rest = op.ops
            assert isinstance(conv, Conv)
            pool = ANTI_ALIAS[kind].pool("", conv.cout, 2)
            out.append(Seq(op.name, (replace(conv, stride=1), pool, *rest)))
        else:
            out.append(op)
    return tuple(out)
