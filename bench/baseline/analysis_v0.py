"""Frozen baseline (see bench/baseline/__init__.py).

Closed-form analysis: every layer's shapes, parameters and multiply-adds, without torch.

It walks the design in the exact order in which the built network calls its
modules, so each row corresponds to one row of ``torchinfo.summary`` and the
totals follow torchinfo's conventions:

- a conv's mult-adds are its weight and bias counts times the output's H x W;
- any other layer with parameters (BatchNorm, Linear) adds its parameter count;
- layers without parameters (activations, pools, the residual add) add nothing.

This costs microseconds per layer and allocates nothing, so it runs on every
edit in the app; torchinfo stays the reference that tests compare it against.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from designer.core.design import (
    Design,
    StageSpec,
    bottleneck_width,
    stage_out_width,
)

Shape = tuple[int, ...]
BYTES_PER_FLOAT = 4


@dataclass(frozen=True, slots=True)
class Layer:
    """One module call, as torchinfo lists it (``name`` is the module's path)."""

    name: str
    kind: str
    input_shape: Shape
    output_shape: Shape
    params: int
    macs: int
    block: str
    branch: str = "main"  # "main", "shortcut" or "se"
    kernel: int = 0  # convs only: kernel side, stride, groups, whether a bias is added
    stride: int = 1
    groups: int = 1
    bias: bool = False


@dataclass(frozen=True, slots=True)
class Block:
    """A residual block (or the stem or head), with its totals and shortcut kind."""

    name: str
    stage: int  # -1 for the stem, len(stages) for the head
    index: int
    input_shape: Shape
    output_shape: Shape
    params: int
    macs: int
    shortcut: str  # "identity", "projection", "zero_pad", "avg_down" or "" (stem/head)
    first_layer: int
    end_layer: int


@dataclass(frozen=True)
class Analysis:
    design: Design
    layers: tuple[Layer, ...]
    blocks: tuple[Block, ...]
    params: int
    trainable_params: int
    macs: int
    output_shape: Shape
    depth: int
    stage_shapes: tuple[Shape, ...] = field(default=())

    @property
    def param_bytes(self) -> int:
        return self.params * BYTES_PER_FLOAT

    @cached_property
    def activation_elements(self) -> int:
        """Elements of every layer output kept for the backward pass, per sample."""
        return sum(numel(layer.output_shape) for layer in self.layers)

    @property
    def activation_bytes_per_sample(self) -> int:
        return self.activation_elements * BYTES_PER_FLOAT

    def training_bytes(self, batch_size: int) -> int:
        """Weights + gradients + SGD momentum + activations at ``batch_size`` (fp32).

        The default of ``designer.core.explain.training_memory``, which itemises it.
        """
        from designer.core.explain import training_memory

        return training_memory(self, batch_size).total


def numel(shape: Shape) -> int:
    """Elements of a tensor of ``shape`` (one sample)."""
    n = 1
    for d in shape:
        n *= d
    return n


def conv_out(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def ceil_div(size: int, stride: int) -> int:
    return -(-size // stride)


class _Walker:
    """Appends one Layer per module call and tracks the current tensor shape."""

    def __init__(self, design: Design) -> None:
        self.design = design
        self.layers: list[Layer] = []
        self.blocks: list[Block] = []
        self.block = "stem"
        self.branch = "main"
        self.act = "ReLU" if design.activation == "relu" else _ACT_KINDS[design.activation]
        self.act_name = "relu" if design.activation == "relu" else design.activation

    def emit(self, name: str, kind: str, shape_in: Shape, shape_out: Shape, params: int) -> Shape:
        # torchinfo: a layer with parameters (norm, linear) counts them once;
        # convs, which count them at every output pixel, go through conv()
        self.layers.append(
            Layer(name, kind, shape_in, shape_out, params, params, self.block, self.branch)
        )
        return shape_out

    def conv(
        self,
        name: str,
        x: Shape,
        out: int,
        k: int,
        s: int,
        p: int,
        groups: int = 1,
        bias: bool | None = None,
    ) -> Shape:
        use_bias = self.design.conv_bias if bias is None else bias
        c = x[0]
        params = out * (c // groups) * k * k + (out if use_bias else 0)
        shape = (out, conv_out(x[1], k, s, p), conv_out(x[2], k, s, p))
        macs = params * shape[1] * shape[2]
        self.layers.append(
            Layer(
                name,
                "Conv2d",
                x,
                shape,
                params,
                macs,
                self.block,
                self.branch,
                k,
                s,
                groups,
                use_bias,
            )
        )
        return shape

    def bn(self, name: str, x: Shape) -> Shape:
        kind = "BatchNorm2d" if len(x) == 3 else "BatchNorm1d"
        return self.emit(name, kind, x, x, 2 * x[0])

    def relu(self, prefix: str, x: Shape) -> Shape:
        return self.emit(prefix + self.act_name, self.act, x, x, 0)

    def se(self, prefix: str, x: Shape) -> Shape:
        ratio = self.design.se_ratio
        if ratio <= 0:
            return x
        c = x[0]
        r = se_channels(c, ratio)
        self.branch = "se"
        pooled = self.emit(prefix + "se.pool", "AdaptiveAvgPool2d", x, (c, 1, 1), 0)
        y = self.conv(prefix + "se.fc1", pooled, r, 1, 1, 0, bias=True)
        y = self.emit(prefix + "se.relu", "ReLU", y, y, 0)
        y = self.conv(prefix + "se.fc2", y, c, 1, 1, 0, bias=True)
        self.emit(prefix + "se.gate", "Sigmoid", y, y, 0)
        self.branch = "main"
        return x


def se_channels(channels: int, ratio: float) -> int:
    return max(1, round(channels * ratio))


_ACT_KINDS = {
    "relu": "ReLU",
    "relu6": "ReLU6",
    "leaky_relu": "LeakyReLU",
    "elu": "ELU",
    "silu": "SiLU",
    "gelu": "GELU",
    "mish": "Mish",
    "hardswish": "Hardswish",
}


def _stem(w: _Walker, x: Shape) -> Shape:
    d = w.design
    kind = d.stem.kind
    if kind == "none":
        return x
    width = d.stem.width
    if kind == "imagenet":
        x = w.conv("conv1", x, width, 7, 2, 3)
    elif kind == "cifar":
        x = w.conv("conv1", x, width, 3, 1, 1)
    else:  # deep (ResNet-C): three 3x3 convs, the first strided
        half = width // 2
        x = w.conv("conv1.0", x, half, 3, 2, 1)
        x = w.bn("conv1.1", x)
        x = w.emit("conv1.2", w.act, x, x, 0)
        x = w.conv("conv1.3", x, half, 3, 1, 1)
        x = w.bn("conv1.4", x)
        x = w.emit("conv1.5", w.act, x, x, 0)
        x = w.conv("conv1.6", x, width, 3, 1, 1)
    x = w.bn("bn1", x)
    x = w.relu("", x)
    if kind in ("imagenet", "deep"):
        x = w.emit(
            "maxpool", "MaxPool2d", x, (x[0], conv_out(x[1], 3, 2, 1), conv_out(x[2], 3, 2, 1)), 0
        )
    return x


def _shortcut(w: _Walker, prefix: str, x: Shape, out: int, stride: int) -> tuple[Shape, str]:
    """The shortcut of one block: its output shape and its kind."""
    d = w.design
    if stride == 1 and x[0] == out:
        return x, "identity"
    w.branch = "shortcut"
    kind = d.shortcut
    if kind == "zero_pad":
        y = (out, ceil_div(x[1], stride), ceil_div(x[2], stride))
        w.emit(prefix + "downsample", "ZeroPadShortcut", x, y, 0)
    else:
        y = x
        index = 0
        if kind == "avg_down" and stride > 1:
            y = (x[0], ceil_div(x[1], stride), ceil_div(x[2], stride))
            w.emit(prefix + "downsample.0", "AvgPool2d", x, y, 0)
            index = 1
            stride = 1
        y = w.conv(f"{prefix}downsample.{index}", y, out, 1, stride, 0)
        if not d.is_preact:
            y = w.bn(f"{prefix}downsample.{index + 1}", y)
    w.branch = "main"
    return y, kind


def _block_v1(
    w: _Walker, prefix: str, x: Shape, stage: StageSpec, stride: int
) -> tuple[Shape, str]:
    d = w.design
    out = stage_out_width(d, stage)
    if d.is_bottleneck:
        inner = bottleneck_width(d, stage)
        s1, s3 = (stride, 1) if d.stride_on == "1x1" else (1, stride)
        y = w.conv(prefix + "conv1", x, inner, 1, s1, 0)
        y = w.bn(prefix + "bn1", y)
        y = w.relu(prefix, y)
        y = w.conv(prefix + "conv2", y, inner, 3, s3, 1, groups=d.groups)
        y = w.bn(prefix + "bn2", y)
        y = w.relu(prefix, y)
        y = w.conv(prefix + "conv3", y, out, 1, 1, 0)
        y = w.bn(prefix + "bn3", y)
    else:
        y = w.conv(prefix + "conv1", x, out, 3, stride, 1)
        y = w.bn(prefix + "bn1", y)
        y = w.relu(prefix, y)
        y = w.conv(prefix + "conv2", y, out, 3, 1, 1)
        y = w.bn(prefix + "bn2", y)
    w.se(prefix, y)
    _, kind = _shortcut(w, prefix, x, out, stride)
    y = w.relu(prefix, y)
    return y, kind


def _block_v2(
    w: _Walker, prefix: str, x: Shape, stage: StageSpec, stride: int, preact: bool
) -> tuple[Shape, str]:
    d = w.design
    out = stage_out_width(d, stage)
    if preact:
        w.bn(prefix + "bn1", x)
        w.relu(prefix, x)
    _, kind = _shortcut(w, prefix, x, out, stride)
    if d.is_bottleneck:
        inner = bottleneck_width(d, stage)
        s1, s2 = (stride, 1) if d.stride_on == "1x1" else (1, stride)
        y = w.conv(prefix + "conv1", x, inner, 1, s1, 0)
        y = w.bn(prefix + "bn2", y)
        y = w.relu(prefix, y)
        y = w.conv(prefix + "conv2", y, inner, 3, s2, 1, groups=d.groups)
        y = w.bn(prefix + "bn3", y)
        y = w.relu(prefix, y)
        y = w.conv(prefix + "conv3", y, out, 1, 1, 0)
    else:
        y = w.conv(prefix + "conv1", x, out, 3, stride, 1)
        y = w.bn(prefix + "bn2", y)
        y = w.relu(prefix, y)
        y = w.conv(prefix + "conv2", y, out, 3, 1, 1)
    w.se(prefix, y)
    return y, kind


def first_block_preactivates(design: Design) -> bool:
    """Whether the very first block starts with its own BN-activation.

    A stem already ends in BN-activation, so the first pre-activation block
    skips its own (He et al. 2016; the seed's Keras ResNetV2 does the same).
    """
    return design.stem.kind == "none"


def _head(w: _Walker, x: Shape) -> Shape:
    d = w.design
    w.block = "head"
    if d.is_preact:
        x = w.bn("bn_final", x)
        x = w.relu("", x)
    x = w.emit("avgpool", "AdaptiveAvgPool2d", x, (x[0], 1, 1), 0)
    v: Shape = (x[0],)
    x = w.emit("flatten", "Flatten", x, v, 0)
    for i, width in enumerate(d.head.hidden):
        base = f"hidden.{i}."
        x = w.emit(base + "0", "Linear", x, (width,), x[0] * width + width)
        x = w.emit(base + "1", w.act, x, x, 0)
        x = w.bn(base + "2", x)
    if d.head.dropout > 0:
        x = w.emit("dropout", "Dropout", x, x, 0)
    return w.emit("fc", "Linear", x, (d.num_classes,), x[0] * d.num_classes + d.num_classes)


def _close_block(
    w: _Walker, name: str, stage: int, index: int, x: Shape, y: Shape, start: int, kind: str
) -> None:
    rows = w.layers[start:]
    w.blocks.append(
        Block(
            name=name,
            stage=stage,
            index=index,
            input_shape=x,
            output_shape=y,
            params=sum(r.params for r in rows),
            macs=sum(r.macs for r in rows),
            shortcut=kind,
            first_layer=start,
            end_layer=len(w.layers),
        )
    )


def analyse(design: Design) -> Analysis:
    """Shapes, parameters and multiply-adds of every layer, in closed form (batch 1)."""
    w = _Walker(design)
    x: Shape = (design.input.channels, design.input.height, design.input.width)
    start = 0
    y = _stem(w, x)
    if design.stem.kind != "none":
        _close_block(w, "stem", -1, 0, x, y, start, "")
    x = y
    stage_shapes = []
    first = True
    for s, stage in enumerate(design.stages):
        for b in range(stage.depth):
            prefix = f"layer{s + 1}.{b}."
            w.block = prefix[:-1]
            start = len(w.layers)
            stride = stage.stride if b == 0 else 1
            if design.is_preact:
                preact = not first or first_block_preactivates(design)
                y, kind = _block_v2(w, prefix, x, stage, stride, preact)
            else:
                y, kind = _block_v1(w, prefix, x, stage, stride)
            _close_block(w, prefix[:-1], s, b, x, y, start, kind)
            x = y
            first = False
        stage_shapes.append(x)
    start = len(w.layers)
    y = _head(w, x)
    _close_block(w, "head", len(design.stages), 0, x, y, start, "")
    params = sum(layer.params for layer in w.layers)
    return Analysis(
        design=design,
        layers=tuple(w.layers),
        blocks=tuple(w.blocks),
        params=params,
        trainable_params=params,
        macs=sum(layer.macs for layer in w.layers),
        output_shape=(design.num_classes,),
        depth=conventional_depth(design),
        stage_shapes=tuple(stage_shapes),
    )


def conventional_depth(design: Design) -> int:
    """The depth in a ResNet's name: stem + main-path convs of every block + classifier.

    Shortcut projections and hidden head layers are not counted, as in the
    papers (ResNet-50 says 50, the CIFAR ResNet-56 says 56).
    """
    per_block = 3 if design.is_bottleneck else 2
    stem = 0 if design.stem.kind == "none" else 1
    return stem + per_block * sum(s.depth for s in design.stages) + 1
