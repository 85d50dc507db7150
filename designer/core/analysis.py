"""Closed-form analysis: every layer's shapes, parameters and multiply-adds, without torch.

It walks the design in the exact order in which the built network calls its
modules, so each row corresponds to one row of ``torchinfo.summary`` and the
totals follow torchinfo's conventions:

- a conv's mult-adds are its weight and bias counts times the output's H x W;
- any other layer with parameters (BatchNorm, Linear) adds its weight and bias counts
  (EvoNorm's ``v`` and FRN's ``tau`` add nothing);
- layers without parameters (activations, pools, the residual add) add nothing.

This costs microseconds per layer and allocates nothing, so it runs on every
edit in the app; torchinfo stays the reference that tests compare it against.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple

from designer.core.blocks import ACTIVATIONS, CUSTOM_MODULES, NORMS, BlockLayout
from designer.core.blocks.branch import branch_ops, is_attention
from designer.core.blocks.norms import folded
from designer.core.blocks.ops import (
    Act,
    AvgPool,
    Conv,
    Dropout,
    Identity,
    MaxPool,
    Norm,
    Op,
    Seq,
    Sym,
)
from designer.core.blocks.std_conv import conv_kind
from designer.core.design import Design, stage_design
from designer.core.plan import BlockPlan, ceil_div, plan

Shape = tuple[int, ...]
BYTES_PER_FLOAT = 4


class Layer(NamedTuple):
    """One module call, as torchinfo lists it (``name`` is the module's path).

    A named tuple, not a frozen dataclass: an edit creates thousands of rows and a
    tuple is built five times faster.
    """

    name: str
    kind: str
    input_shape: Shape
    output_shape: Shape
    params: int
    macs: int
    block: str
    branch: str = "main"  # "main", "shortcut" or "se"
    kernel: int = 0  # convs and pools: kernel side, stride; convs: groups, whether biased
    stride: int = 1
    groups: int = 1
    bias: bool = False
    # where in its block the call sits, as the block declares it: "pre" (before the
    # shortcut taps it), "main", "se", "shortcut" or "post" (after the residual add)
    role: str = "main"
    dilation: int = 1  # convs: the kernel's dilation (its reach is dilation * (kernel - 1) + 1)


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

    @cached_property
    def memo(self) -> dict[object, Any]:
        """Figures other modules derive from this analysis, kept with it (keyed by them)."""
        return {}

    @property
    def activation_bytes_per_sample(self) -> int:
        return self.activation_elements * BYTES_PER_FLOAT


def numel(shape: Shape) -> int:
    """Elements of a tensor of ``shape`` (one sample)."""
    n = 1
    for d in shape:
        n *= d
    return n


def conv_out(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


class _Walker:
    """Appends one Layer per module call and tracks the current tensor shape.

    It reads parts as the registry describes them (:mod:`designer.core.blocks`):
    tuples of ops over symbols, resolved here to numbers through ``env``.
    """

    def __init__(self, design: Design) -> None:
        self.design = design
        self.layers: list[Layer] = []
        self.blocks: list[Block] = []
        self.block = "stem"
        self.branch = "main"
        self.role = "main"
        self.act = ACTIVATIONS[design.activation].module
        self.act_name = design.activation

    def row(
        self,
        name: str,
        kind: str,
        x: Shape,
        y: Shape,
        params: int = 0,
        *,
        kernel: int = 0,
        stride: int = 1,
        macs: int | None = None,
    ) -> Shape:
        # torchinfo: a layer with parameters (norm, linear) counts them once; 2-D convs,
        # which count them at every output pixel, go through conv(); a module of our own
        # with another conv (ECA's 1-D one) gives its own count

        self.layers.append(
            Layer(
                name,
                kind,
                x,
                y,
                params,
                params if macs is None else macs,
                self.block,
                self.branch,
                kernel,
                stride,
                role=self.role,
            )
        )
        return y

    def conv(
        self,
        name: str,
        x: Shape,
        out: int,
        k: int,
        s: int,
        groups: int = 1,
        *,
        bias: bool | None = None,
        dilation: int = 1,
        kind: str = "Conv2d",
    ) -> Shape:
        use_bias = self.design.conv_bias if bias is None else bias
        params = out * (x[0] // groups) * k * k + (out if use_bias else 0)
        reach = dilation * (k - 1) + 1
        p = dilation * (k // 2)
        shape = (out, conv_out(x[1], reach, s, p), conv_out(x[2], reach, s, p))
        self.layers.append(
            Layer(
                name,
                kind,
                x,
                shape,
                params,
                params * shape[1] * shape[2],
                self.block,
                self.branch,
                k,
                s,
                groups,
                use_bias,
                self.role,
                dilation,
            )
        )
        return shape

    def bn(self, name: str, x: Shape) -> Shape:
        """A norm: the design's over feature maps, BatchNorm1d in the head's hidden layers."""
        if len(x) != 3:
            return self.row(name, "BatchNorm1d", x, x, 2 * x[0])
        norm = NORMS[self.design.norm]
        if norm.custom:  # a class of our own, which says its own row
            return CUSTOM_MODULES[norm.custom].walk(self, name, x, (), self.design)
        return self.row(name, norm.module, x, x, len(norm.vectors) * x[0])

    def ops(self, prefix: str, ops: tuple[Op, ...], x: Shape, env: dict[str, int]) -> Shape:
        """``ops``' rows, an activation the design's norm applies itself folded into it."""
        for op in folded(ops, self.design.norm):
            x = self.op(prefix, op, x, env)
        return x

    def op(self, prefix: str, op: Op, x: Shape, env: dict[str, int], shared: bool = True) -> Shape:
        """One op's rows; ``shared``: an unnamed Act is the owner's one activation module."""
        if isinstance(op, Conv):
            return self.conv(
                prefix + op.name,
                x,
                _value(op.cout, env),
                op.kernel,
                _value(op.stride, env),
                _value(op.groups, env),
                dilation=_value(op.dilation, env),
                kind=conv_kind(self.design),
            )
        if isinstance(op, Norm):
            return self.bn(prefix + op.name, x)
        if isinstance(op, Act):
            name = op.name or (self.act_name if shared else "")
            return self.row(prefix + name, self.act, x, x)
        if isinstance(op, MaxPool):
            y = (x[0], op.out(x[1]), op.out(x[2]))
            self.row(prefix + op.name, "MaxPool2d", x, y, kernel=op.kernel, stride=op.stride)
            self._spatial(op.kernel, op.stride)
            return y
        if isinstance(op, AvgPool):
            s = _value(op.stride, env)
            y = (x[0], ceil_div(x[1], s), ceil_div(x[2], s))
            self.row(prefix + op.name, "AvgPool2d", x, y, kernel=s, stride=s)
            self._spatial(s, s)
            return y
        if isinstance(op, Identity):
            return self.row(prefix + op.name, "Identity", x, x)
        if isinstance(op, Dropout):
            return self.row(prefix + op.name, "Dropout", x, x)
        if isinstance(op, Seq):
            inner = f"{prefix}{op.name}."
            (op,) = folded((op,), self.design.norm)
            assert isinstance(op, Seq)
            for i, child in enumerate(op.ops):
                x = self.op(inner, _renamed(child, str(i)), x, env, shared=False)
            return x
        module = CUSTOM_MODULES[op.module]
        if op.identity_unless is not None and _value(op.identity_unless, env) == 1:
            return self.row(prefix + op.name, "Identity", x, x)
        args = tuple(_value(a, env) for a in op.args)
        # a module written into its owner names its rows under the owner's
        name = prefix.removesuffix(".") if module.members else prefix + op.name
        return module.walk(self, name, x, args, self.design)

    def _spatial(self, kernel: int, stride: int) -> None:
        """Record a pool's kernel and stride on its row (for receptive fields)."""
        last = self.layers[-1]
        self.layers[-1] = last._replace(kernel=kernel, stride=stride)


def _value(sym: Sym, env: dict[str, int]) -> int:
    return sym if isinstance(sym, int) else env[sym]


def _renamed(op: Op, name: str) -> Op:
    return op if op.name == name else dataclasses.replace(op, name=name)


def _stem(w: _Walker, x: Shape) -> Shape:
    d = w.design
    width, kind = d.stem.width, d.stem_kind
    env = {"in": x[0], "width": width}
    env.update((name, inner.value(width)) for name, inner in kind.channels.items())
    return w.ops("", d.stem_ops, x, env)


def _shortcut(
    w: _Walker, prefix: str, x: Shape, env: dict[str, int], bp: BlockPlan
) -> tuple[Shape, str]:
    """The shortcut of one block: its output shape and its kind ("identity" if none)."""
    if bp.downsample is None:
        return x, "identity"
    w.branch = w.role = "shortcut"
    y = w.op(prefix, bp.downsample, x, env)
    w.branch = w.role = "main"
    return y, bp.shortcut


def _block(
    w: _Walker, prefix: str, x: Shape, layout: BlockLayout, env: dict[str, int], bp: BlockPlan
) -> tuple[Shape, str]:
    """One residual block, in the order its forward() calls its modules."""
    tap = x
    if layout.pre and bp.runs_pre:
        w.role = "pre"
        tap = w.ops(prefix, layout.pre, x, env)
    kind = ""
    if layout.tap == "pre":
        _, kind = _shortcut(w, prefix, tap, env, bp)
    y = tap
    for op in branch_ops(layout, w.design):
        w.branch = w.role = "se" if is_attention(op) else "main"
        y = w.op(prefix, op, y, env)
    w.branch = w.role = "main"
    if layout.tap == "input":
        _, kind = _shortcut(w, prefix, x, env, bp)
    w.role = "post"
    y = w.ops(prefix, layout.post, y, env)
    w.role = "main"
    return y, kind


def _head(w: _Walker, x: Shape, head_ops: tuple[Op, ...]) -> Shape:
    d = w.design
    w.block = "head"
    x = w.ops("", head_ops, x, {"features": x[0], "num_features": d.head.conv})
    x = w.row("avgpool", "AdaptiveAvgPool2d", x, (x[0], 1, 1))
    v: Shape = (x[0],)
    x = w.row("flatten", "Flatten", x, v)
    for i, width in enumerate(d.head.hidden):
        base = f"hidden.{i}."
        x = w.row(base + "0", "Linear", x, (width,), x[0] * width + width)
        x = w.row(base + "1", w.act, x, x)
        x = w.bn(base + "2", x)
    if d.head.dropout > 0:
        x = w.row("dropout", "Dropout", x, x)
    if d.num_classes == 0:  # a feature extractor: the pooled features are the output
        return x
    return w.row("fc", "Linear", x, (d.num_classes,), x[0] * d.num_classes + d.num_classes)


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


@dataclass(frozen=True, slots=True)
class _Replay:
    """A walked block's rows and totals, with names relative to the block."""

    rows: tuple[tuple[Any, ...], ...]  # Layer fields, ``name`` relative and ``block`` left out
    block: Block

    @classmethod
    def of(cls, w: _Walker, prefix: str) -> _Replay:
        block = w.blocks[-1]
        n = len(prefix)
        rows = tuple(
            (r.name[n:], *r[1:6], *r[7:])  # all but ``block``
            for r in w.layers[block.first_layer : block.end_layer]
        )
        return cls(rows, block)

    def append(self, w: _Walker, prefix: str, stage: int, index: int) -> None:
        name = prefix[:-1]
        start = len(w.layers)
        w.layers.extend(Layer._make((prefix + r[0], *r[1:6], name, *r[6:])) for r in self.rows)
        b = self.block
        w.blocks.append(
            Block(
                name,
                stage,
                index,
                b.input_shape,
                b.output_shape,
                b.params,
                b.macs,
                b.shortcut,
                start,
                len(w.layers),
            )
        )


def analyse(design: Design) -> Analysis:
    """Shapes, parameters and multiply-adds of every layer, in closed form (batch 1)."""
    w = _Walker(design)
    x: Shape = (design.input.channels, design.input.height, design.input.width)
    y = _stem(w, x)
    if w.layers:
        _close_block(w, "stem", -1, 0, x, y, 0, "")
    x = y
    stage_shapes: list[Shape] = []
    # blocks after a stage's first repeat its rows under other names: walk each
    # distinct block once and replay it (a ResNet-1001 has 6 distinct blocks of 333)
    replays: dict[tuple[Any, ...], _Replay] = {}
    layout: BlockLayout  # each stage's, made at its first block
    last_stage = -1
    network = plan(design)
    for bp in network.blocks:
        s, b, path, sd, _, width, out, stride, dil_first, dilation, preact = bp[:11]
        w.design = sd
        if s != last_stage:  # a stage's blocks share its layout
            if last_stage >= 0:
                stage_shapes.append(x)
            layout, last_stage = sd.block_kind.layout(sd), s
        prefix = path + "."
        variant = -1 if sd is design else s  # stages with overrides differ
        key = (x, stride, preact, out, width, variant, dil_first, dilation)
        replay = replays.get(key)
        if replay is None:
            w.block = path
            start = len(w.layers)
            env = {
                "in": x[0],
                "width": width,
                "out": out,
                "stride": stride,
                "groups": sd.groups,
                "extra": out - x[0],
                "dil_first": dil_first,
                "dil": dilation,
                "drop_path": 1,
            }
            env.update((k, c.value(width)) for k, c in sd.block_kind.channels(sd).items())
            y, kind = _block(w, prefix, x, layout, env, bp)
            _close_block(w, path, s, b, x, y, start, kind)
            replays[key] = _Replay.of(w, prefix)
        else:
            replay.append(w, prefix, s, b)
        x = w.blocks[-1].output_shape
    if last_stage >= 0:
        stage_shapes.append(x)
    w.design = design
    start = len(w.layers)
    y = _head(w, x, network.head_ops)
    _close_block(w, "head", len(design.stages), 0, x, y, start, "")
    params = sum(layer.params for layer in w.layers)
    return Analysis(
        design=design,
        layers=tuple(w.layers),
        blocks=tuple(w.blocks),
        params=params,
        trainable_params=params,
        macs=sum(layer.macs for layer in w.layers),
        output_shape=y,
        depth=conventional_depth(design),
        stage_shapes=tuple(stage_shapes),
    )


def conventional_depth(design: Design) -> int:
    """The depth in a ResNet's name: stem + main-path convs of every block + classifier.

    Shortcut projections and hidden head layers are not counted, as in the
    papers (ResNet-50 says 50, the CIFAR ResNet-56 says 56).
    """
    blocks = 0
    for stage in design.stages:
        sd = stage_design(design, stage)
        blocks += sd.block_kind.layout(sd).convs * stage.depth
    stem = 1 if design.stem_kind.ops else 0
    return stem + blocks + 1
