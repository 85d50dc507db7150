"""Global context attention (GCNet, Cao et al. 2019), as timm's ``GlobalContext`` ('gc').

Squeeze-excite's average pool replaced by attention pooling: a 1x1 conv scores every
pixel, a softmax over the pixels weighs them into one context vector, and a bottleneck of
two 1x1 convs with a LayerNorm between (timm's ``ConvMlp``) turns it into a sigmoid gate
on the channels. Its reduced width is an eighth of the channels, rounded (timm's default),
so it is not a choice but follows from the block.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
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

RD_RATIO = 1 / 8  # timm's GlobalContext default


def gc_channels(channels: int) -> int:
    """The bottleneck width: timm's ``make_divisible(channels / 8, 1, round_limit=0)``."""
    return max(1, int(channels * RD_RATIO + 0.5))


# how the context fuses into the map: GCNet's scale (a sigmoid gate on the channels,
# timm's 'gc') or its add (the context added to every pixel, timm's fuse_add 'gca')
FUSES = {"scale": "mlp_scale", "add": "mlp_add"}


def _walker(fuse: str) -> Callable[[Walker, str, Shape, tuple[int, ...], Design], Shape]:
    mlp = FUSES[fuse]

    def walk(w: Walker, name: str, x: Shape, args: tuple[int, ...], design: Design) -> Shape:
        channels = args[0]
        reduced = gc_channels(channels)
        w.conv(f"{name}.conv_attn", x, 1, 1, 1, bias=True)  # one score per pixel
        y: Shape = (channels, 1, 1)  # the context: the pixels weighed by their softmax
        y = w.conv(f"{name}.{mlp}.fc1", y, reduced, 1, 1, bias=True)
        y = w.row(f"{name}.{mlp}.norm", "LayerNorm2d", y, y, 2 * reduced)
        y = w.row(f"{name}.{mlp}.act", "ReLU", y, y)
        y = w.conv(f"{name}.{mlp}.fc2", y, channels, 1, 1, bias=True)
        if fuse == "scale":
            w.row(f"{name}.gate", "Sigmoid", y, y)
        return x

    return walk


_SOURCE = '''class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an NCHW map (timm's, eps 1e-6)."""

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__(channels, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)  # channels last, where nn.LayerNorm normalises
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class ConvMlp(nn.Module):
    """Two 1x1 convs with a LayerNorm and an activation between (timm's ConvMlp)."""

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, hidden, kernel_size=1)
        self.norm = LayerNorm2d(hidden)
        self.act = nn.ReLU()
        self.fc2 = nn.Conv2d(hidden, channels, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.norm(self.fc1(x))))


class GlobalContext(nn.Module):
    """Global context attention (Cao et al. 2019): attention-pooled context, gating channels."""

    def __init__(self, channels: int, rd_ratio: float = 1 / 8) -> None:
        super().__init__()
        self.conv_attn = nn.Conv2d(channels, 1, kernel_size=1)
        # timm's make_divisible(channels * rd_ratio, 1): rounded half up, at least 1
        self.{mlp} = ConvMlp(channels, max(1, int(channels * rd_ratio + 0.5))){gate}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        # a softmax over the pixels of one score each weighs them into the context
        attn = F.softmax(self.conv_attn(x).reshape(b, 1, h * w), dim=-1).unsqueeze(3)
        context = (x.reshape(b, c, h * w).unsqueeze(1) @ attn).view(b, c, 1, 1)
        return {fused}'''

_FUSED = {
    "scale": ("\n        self.gate = nn.Sigmoid()", "x * self.gate(self.mlp_scale(context))"),
    # timm's fuse_add (byobnet's 'gca'): the context, transformed, added to every pixel
    "add": ("", "x + self.mlp_add(context)"),
}


def _source_of(fuse: str, design: Design) -> str:
    return _source(fuse)


def _summary(fuse: str, design: Design) -> str:
    return _SUMMARIES[fuse]


def _source(fuse: str) -> str:
    gate, fused = _FUSED[fuse]
    return _SOURCE.format(mlp=FUSES[fuse], gate=gate, fused=fused)


_MODULES = {"scale": "global_context", "add": "global_context_add"}  # CUSTOM_MODULES keys
_ATTENTIONS = {"scale": "gc", "add": "gca"}  # the design's attention names: timm's attn_layer
_SUMMARIES = {
    "scale": "global context attention (GCNet)",
    "add": "global context attention (GCNet), its context added (timm's gca)",
}

for _fuse in FUSES:
    register(
        CustomModule(
            key=_MODULES[_fuse],
            class_name="GlobalContext",
            source=partial(_source_of, _fuse),
            walk=_walker(_fuse),
            imports=("import torch.nn.functional as F",),
            leaf=False,
        )
    )


def _recoverer(fuse: str) -> Callable[[Sequence[Mapping[str, Shape]]], RecoveredFields | None]:
    keys = ("se.conv_attn.weight", f"se.{FUSES[fuse]}.fc1.weight")

    def recover(firsts: Sequence[Mapping[str, Shape]]) -> RecoveredFields | None:
        """Every stage's blocks score their pixels (``se.conv_attn``) and fuse this way."""
        if all(key in block for block in firsts for key in keys):
            return {}
        return None

    return recover


def _check(design: Design) -> str:
    ratios = [design.se_ratio, *(s.se_ratio or 0.0 for s in design.stages)]
    if any(ratio > 0 for ratio in ratios):
        return "global context has its own reduction (1/8): set se_ratio (and each stage's) to 0"
    return ""


for _fuse in FUSES:
    register(
        AttentionKind(
            name=_ATTENTIONS[_fuse],
            module=_MODULES[_fuse],
            present=lambda design: True,
            summary=partial(_summary, _fuse),
            recover=_recoverer(_fuse),
            check=_check,
        )
    )
