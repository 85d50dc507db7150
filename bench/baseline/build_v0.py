"""Frozen baseline (see bench/baseline/__init__.py).

Design -> ``torch.nn.Module``.

Attribute names are torchvision's (``conv1``, ``bn1``, ``layer1.0.downsample.0``,
``fc``...) because they *are* the state-dict keys: with them, torchvision's
weights load into a torchvision-shaped design with ``strict=True``. The call
order inside each block is the one ``designer.core.analysis`` walks.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from bench.baseline.analysis_v0 import analyse, first_block_preactivates, se_channels
from designer.core.design import (
    MAX_BUILD_BYTES,
    Design,
    DesignError,
    StageSpec,
    bottleneck_width,
    stage_out_width,
)

_ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": lambda: nn.ReLU(inplace=True),
    "relu6": lambda: nn.ReLU6(inplace=True),
    "leaky_relu": lambda: nn.LeakyReLU(0.01, inplace=True),
    "elu": lambda: nn.ELU(inplace=True),
    "silu": lambda: nn.SiLU(inplace=True),
    "gelu": lambda: nn.GELU(),
    "mish": lambda: nn.Mish(inplace=True),
    "hardswish": lambda: nn.Hardswish(inplace=True),
}


def make_activation(name: str) -> nn.Module:
    return _ACTIVATIONS[name]()


def _act_attr(design: Design) -> str:
    return "relu" if design.activation == "relu" else design.activation


def _add_activation(module: nn.Module, design: Design) -> None:
    """One activation module per block, reused at each use, named as torchvision does."""
    setattr(module, _act_attr(design), make_activation(design.activation))
    module.act_name = _act_attr(design)


class SqueezeExcite(nn.Module):
    """Channel attention (Hu et al. 2018): pool, reduce, expand, sigmoid gate."""

    def __init__(self, channels: int, reduced: int) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, reduced, 1, bias=True)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(reduced, channels, 1, bias=True)
        self.gate = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(self.fc2(self.relu(self.fc1(self.pool(x)))))


class ZeroPadShortcut(nn.Module):
    """Option A of He et al. 2015: subsample by striding, append zero channels. No parameters."""

    def __init__(self, extra_channels: int, stride: int) -> None:
        super().__init__()
        self.extra_channels = extra_channels
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.extra_channels))


def _shortcut(design: Design, in_ch: int, out_ch: int, stride: int) -> nn.Module | None:
    if stride == 1 and in_ch == out_ch:
        return None
    if design.shortcut == "zero_pad":
        return ZeroPadShortcut(out_ch - in_ch, stride)
    layers: list[nn.Module] = []
    if design.shortcut == "avg_down" and stride > 1:
        # ResNet-D: average-pool first so the 1x1 conv sees every pixel
        layers.append(nn.AvgPool2d(stride, stride, ceil_mode=True, count_include_pad=False))
        stride = 1
    layers.append(nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=design.conv_bias))
    if not design.is_preact:
        layers.append(nn.BatchNorm2d(out_ch))
    return nn.Sequential(*layers)


def _se(design: Design, channels: int) -> SqueezeExcite | None:
    if design.se_ratio <= 0:
        return None
    return SqueezeExcite(channels, se_channels(channels, design.se_ratio))


def _conv(
    design: Design, cin: int, cout: int, k: int, stride: int = 1, groups: int = 1
) -> nn.Conv2d:
    return nn.Conv2d(
        cin, cout, k, stride=stride, padding=k // 2, groups=groups, bias=design.conv_bias
    )


class BasicBlock(nn.Module):
    def __init__(self, design: Design, in_ch: int, stage: StageSpec, stride: int) -> None:
        super().__init__()
        out = stage_out_width(design, stage)
        self.conv1 = _conv(design, in_ch, out, 3, stride)
        self.bn1 = nn.BatchNorm2d(out)
        _add_activation(self, design)
        self.conv2 = _conv(design, out, out, 3)
        self.bn2 = nn.BatchNorm2d(out)
        self.se = _se(design, out)
        self.downsample = _shortcut(design, in_ch, out, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        act = getattr(self, self.act_name)
        out = act(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.se is not None:
            out = self.se(out)
        identity = x if self.downsample is None else self.downsample(x)
        return act(out + identity)


class Bottleneck(nn.Module):
    def __init__(self, design: Design, in_ch: int, stage: StageSpec, stride: int) -> None:
        super().__init__()
        out = stage_out_width(design, stage)
        inner = bottleneck_width(design, stage)
        # v1.5 (torchvision): the stride sits on the 3x3 conv; "1x1" is the 2015 paper's v1
        s1, s2 = (stride, 1) if design.stride_on == "1x1" else (1, stride)
        self.conv1 = _conv(design, in_ch, inner, 1, s1)
        self.bn1 = nn.BatchNorm2d(inner)
        self.conv2 = _conv(design, inner, inner, 3, s2, groups=design.groups)
        self.bn2 = nn.BatchNorm2d(inner)
        self.conv3 = _conv(design, inner, out, 1)
        self.bn3 = nn.BatchNorm2d(out)
        _add_activation(self, design)
        self.se = _se(design, out)
        self.downsample = _shortcut(design, in_ch, out, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        act = getattr(self, self.act_name)
        out = act(self.bn1(self.conv1(x)))
        out = act(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.se is not None:
            out = self.se(out)
        identity = x if self.downsample is None else self.downsample(x)
        return act(out + identity)


class _PreActBlock(nn.Module):
    """What both v2 blocks share: the pre-activation and the shortcut taken from it."""

    def __init__(self, design: Design, in_ch: int, out: int, stride: int, preact: bool) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_ch) if preact else None
        _add_activation(self, design)
        self.downsample = _shortcut(design, in_ch, out, stride)

    def _preactivate(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        act = getattr(self, self.act_name)
        pre = x if self.bn1 is None else act(self.bn1(x))
        return pre, x if self.downsample is None else self.downsample(pre)

    def _finish(self, out: torch.Tensor, shortcut: torch.Tensor) -> torch.Tensor:
        se: SqueezeExcite | None = self.se
        return (out if se is None else se(out)) + shortcut


class PreActBasicBlock(_PreActBlock):
    def __init__(
        self, design: Design, in_ch: int, stage: StageSpec, stride: int, preact: bool
    ) -> None:
        out = stage_out_width(design, stage)
        super().__init__(design, in_ch, out, stride, preact)
        self.conv1 = _conv(design, in_ch, out, 3, stride)
        self.bn2 = nn.BatchNorm2d(out)
        self.conv2 = _conv(design, out, out, 3)
        self.se = _se(design, out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        act = getattr(self, self.act_name)
        pre, shortcut = self._preactivate(x)
        out = self.conv2(act(self.bn2(self.conv1(pre))))
        return self._finish(out, shortcut)


class PreActBottleneck(_PreActBlock):
    def __init__(
        self, design: Design, in_ch: int, stage: StageSpec, stride: int, preact: bool
    ) -> None:
        out = stage_out_width(design, stage)
        super().__init__(design, in_ch, out, stride, preact)
        inner = bottleneck_width(design, stage)
        s1, s2 = (stride, 1) if design.stride_on == "1x1" else (1, stride)
        self.conv1 = _conv(design, in_ch, inner, 1, s1)
        self.bn2 = nn.BatchNorm2d(inner)
        self.conv2 = _conv(design, inner, inner, 3, s2, groups=design.groups)
        self.bn3 = nn.BatchNorm2d(inner)
        self.conv3 = _conv(design, inner, out, 1)
        self.se = _se(design, out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        act = getattr(self, self.act_name)
        pre, shortcut = self._preactivate(x)
        out = self.conv2(act(self.bn2(self.conv1(pre))))
        out = self.conv3(act(self.bn3(out)))
        return self._finish(out, shortcut)


class ResNet(nn.Module):
    """The network of a design, with torchvision's module names."""

    def __init__(self, design: Design) -> None:
        super().__init__()
        self.preact = design.is_preact
        act = _act_attr(design)
        self.act_name = act
        in_ch = design.input.channels
        stem = design.stem
        if stem.kind == "none":
            self.has_stem = False
        else:
            self.has_stem = True
            if stem.kind == "imagenet":
                self.conv1 = _conv(design, in_ch, stem.width, 7, 2)
            elif stem.kind == "cifar":
                self.conv1 = _conv(design, in_ch, stem.width, 3, 1)
            else:
                half = stem.width // 2
                self.conv1 = nn.Sequential(
                    _conv(design, in_ch, half, 3, 2),
                    nn.BatchNorm2d(half),
                    make_activation(design.activation),
                    _conv(design, half, half, 3),
                    nn.BatchNorm2d(half),
                    make_activation(design.activation),
                    _conv(design, half, stem.width, 3),
                )
            self.bn1 = nn.BatchNorm2d(stem.width)
            in_ch = stem.width
        setattr(self, act, make_activation(design.activation))
        self.maxpool = (
            nn.MaxPool2d(3, stride=2, padding=1) if stem.kind in ("imagenet", "deep") else None
        )
        first = True
        self.num_stages = len(design.stages)
        for s, stage in enumerate(design.stages):
            blocks: list[nn.Module] = []
            for b in range(stage.depth):
                stride = stage.stride if b == 0 else 1
                if design.is_preact:
                    preact = not first or first_block_preactivates(design)
                    cls = PreActBottleneck if design.is_bottleneck else PreActBasicBlock
                    blocks.append(cls(design, in_ch, stage, stride, preact))
                else:
                    cls = Bottleneck if design.is_bottleneck else BasicBlock
                    blocks.append(cls(design, in_ch, stage, stride))
                in_ch = stage_out_width(design, stage)
                first = False
            setattr(self, f"layer{s + 1}", nn.Sequential(*blocks))
        self.bn_final = nn.BatchNorm2d(in_ch) if design.is_preact else None
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten(1)
        hidden: list[nn.Module] = []
        for width in design.head.hidden:
            hidden.append(
                nn.Sequential(
                    nn.Linear(in_ch, width),
                    make_activation(design.activation),
                    nn.BatchNorm1d(width),
                )
            )
            in_ch = width
        self.hidden = nn.Sequential(*hidden) if hidden else None
        self.dropout = nn.Dropout(design.head.dropout) if design.head.dropout > 0 else None
        self.fc = nn.Linear(in_ch, design.num_classes)
        self._init_weights(design.zero_init_residual)

    def _init_weights(self, zero_init_residual: bool) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if zero_init_residual:
            # each residual branch starts as zero, so every block starts as the identity
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    nn.init.zeros_(m.bn3.weight)
                elif isinstance(m, BasicBlock):
                    nn.init.zeros_(m.bn2.weight)
                elif isinstance(m, (PreActBottleneck, PreActBasicBlock)):
                    last = m.conv3 if isinstance(m, PreActBottleneck) else m.conv2
                    nn.init.zeros_(last.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        act = getattr(self, self.act_name)
        if self.has_stem:
            x = act(self.bn1(self.conv1(x)))
            if self.maxpool is not None:
                x = self.maxpool(x)
        for s in range(self.num_stages):
            x = getattr(self, f"layer{s + 1}")(x)
        if self.bn_final is not None:
            x = act(self.bn_final(x))
        x = self.flatten(self.avgpool(x))
        if self.hidden is not None:
            x = self.hidden(x)
        if self.dropout is not None:
            x = self.dropout(x)
        return self.fc(x)


def build(design: Design, *, device: str | torch.device = "cpu") -> ResNet:
    """Instantiate the design's network (on ``meta`` to count without allocating)."""
    if torch.device(device).type != "meta":
        size = analyse(design).param_bytes
        if size > MAX_BUILD_BYTES:
            raise DesignError(
                "stages",
                f"the weights would take {size / 1024**3:,.1f} GiB (over"
                f" {MAX_BUILD_BYTES // 1024**3} GiB): shrink widths or depths to build it",
            )
    with torch.device(device):
        return ResNet(design)
