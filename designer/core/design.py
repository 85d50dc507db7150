"""The design: an immutable, validated description of a ResNet-family network.

A design is the single source of truth of the product: the app edits it, the
analysis reads it, the builder and the code generator turn it into torch code.
It is plain data (no torch import) so that validating and analysing it is free.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Literal

from designer.core.blocks import (
    ACTIVATIONS as ACTIVATION_TABLE,
)
from designer.core.blocks import (
    BLOCK_KINDS,
    NORMS,
    SHORTCUT_KINDS,
    STEM_KINDS,
    BlockKind,
    ShortcutKind,
    StemKind,
)
from designer.core.blocks.ops import Op
from designer.core.blocks.stems import has_pool, stem_ops

FORMAT = "resnet-designer/1"

# The schema's names; each is described once, in designer.core.blocks.
BlockName = Literal["basic", "bottleneck", "preact_basic", "preact_bottleneck"]
StemName = Literal["imagenet", "cifar", "deep", "deep_tiered", "none"]
ShortcutName = Literal["projection", "zero_pad", "avg_down"]
StrideOn = Literal["3x3", "1x1"]
NormName = Literal["batch", "group"]
StemPool = Literal["max", "conv"]

BLOCKS: tuple[str, ...] = tuple(BLOCK_KINDS)
STEMS: tuple[str, ...] = tuple(STEM_KINDS)
SHORTCUTS: tuple[str, ...] = tuple(SHORTCUT_KINDS)
STRIDE_ON: tuple[str, ...] = ("3x3", "1x1")
ACTIVATIONS: tuple[str, ...] = tuple(ACTIVATION_TABLE)

# Generous ceilings: big enough for any real network, small enough that no
# arithmetic on them can overflow into nonsense or take visible time.
MAX_CHANNELS = 1 << 24
MAX_SPATIAL = 1 << 16
MAX_DEPTH = 10_000
MAX_TOTAL_BLOCKS = 20_000
MAX_STAGES = 64
MAX_STRIDE = 64
MAX_CLASSES = 10**9
MAX_HIDDEN_LAYERS = 16
MAX_NAME_LENGTH = 200
# Building (or exporting) a network whose weights exceed this is refused before
# anything is allocated; the closed-form analysis still answers for any size.
MAX_BUILD_BYTES = 16 * 1024**3


class DesignError(ValueError):
    """An invalid design; ``field`` is the dotted path of the offending value."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.reason = message


@dataclass(frozen=True)
class InputSpec:
    channels: int = 3
    height: int = 224
    width: int = 224


@dataclass(frozen=True)
class StemSpec:
    kind: StemName = "imagenet"
    width: int = 64
    # how the stem halves the resolution at its end: a 3x3 max-pool, or a strided
    # 3x3 conv + norm + activation (ResNet-RS; timm's replace_stem_pool)
    pool: StemPool = "max"
    # whether the stem's last conv is followed by its own norm and activation; a
    # pre-activation network may leave them to its first block (timm's ResNetV2)
    norm_act: bool = True


@dataclass(frozen=True)
class StageSpec:
    """One stage of residual blocks.

    ``width`` is torchvision's ``planes``: the bottleneck's inner width before
    ``width_per_group`` scaling, and the output width of a basic block. The
    stage's output width is ``out_width`` if set, else ``width * expansion``
    (expansion defaults to 1 for basic blocks and 4 for bottlenecks).
    """

    depth: int
    width: int
    stride: int = 1
    expansion: int | None = None
    out_width: int | None = None
    # per-stage overrides of the network-wide options (None: the network's value)
    block: BlockName | None = None
    groups: int | None = None
    width_per_group: int | None = None
    se_ratio: float | None = None
    stride_on: StrideOn | None = None
    # torchvision's replace_stride_with_dilation: the stride becomes dilation
    dilate: bool = False


STAGE_OVERRIDES = ("block", "groups", "width_per_group", "se_ratio", "stride_on")
"""The network-wide options a stage may override (timm's byobnet per-stage block config)."""


@dataclass(frozen=True)
class HeadSpec:
    """Classifier head: optional hidden Linear-act-BN layers, then dropout (if > 0) and fc."""

    hidden: tuple[int, ...] = ()
    dropout: float = 0.0


@dataclass(frozen=True)
class Design:
    stages: tuple[StageSpec, ...]
    name: str = "Untitled"
    input: InputSpec = field(default_factory=InputSpec)
    num_classes: int = 1000
    block: BlockName = "bottleneck"
    stem: StemSpec = field(default_factory=StemSpec)
    groups: int = 1
    width_per_group: int = 64
    shortcut: ShortcutName = "projection"
    stride_on: StrideOn = "3x3"
    activation: str = "relu"
    se_ratio: float = 0.0
    # 0: the squeezed width is round(C * se_ratio) (Hu et al.); N: timm's
    # make_divisible(C * se_ratio, N), a multiple of N (timm's SE-ResNets use 8)
    se_divisor: int = 0
    norm: NormName = "batch"  # every norm of the convolutional layers (the head's stay batch)
    # stochastic depth (timm's drop_path_rate): the residual branch of block i of n is
    # dropped with probability rate * i / (n - 1) in training; nothing in eval
    drop_path_rate: float = 0.0
    # dropout inside each block, before its last conv (Wide ResNet's, between the 3x3s)
    block_dropout: float = 0.0
    conv_bias: bool = False
    zero_init_residual: bool = False
    head: HeadSpec = field(default_factory=HeadSpec)

    @property
    def block_kind(self) -> BlockKind:
        return BLOCK_KINDS[self.block]

    @property
    def stem_kind(self) -> StemKind:
        return STEM_KINDS[self.stem.kind]

    @property
    def stem_ops(self) -> tuple[Op, ...]:
        """The stem's ops, its pool as the design asks (see ``blocks.stems.stem_ops``)."""
        return stem_ops(self.stem_kind, self.stem.pool, self.stem.norm_act)

    @property
    def shortcut_kind(self) -> ShortcutKind:
        return SHORTCUT_KINDS[self.shortcut]

    @property
    def is_preact(self) -> bool:
        return self.block_kind.preact

    @property
    def is_bottleneck(self) -> bool:
        """Whether blocks have an inner, grouped width (torchvision's ``width_per_group``)."""
        return self.block_kind.bottleneck

    def replace(self, **changes: object) -> Design:
        """A validated copy with ``changes`` applied (the only way to 'edit' a design)."""
        return validate(dataclasses.replace(self, **changes))

    def with_stage(self, index: int, **changes: object) -> Design:
        stages = list(self.stages)
        stages[index] = dataclasses.replace(stages[index], **changes)
        return self.replace(stages=tuple(stages))

    @property
    def has_stage_overrides(self) -> bool:
        return any(
            getattr(stage, name) is not None for stage in self.stages for name in STAGE_OVERRIDES
        )


def stage_design(design: Design, stage: StageSpec) -> Design:
    """The design as ``stage`` sees it: the network's options with the stage's overrides.

    Unvalidated on purpose (the caller validates the whole design): it is what the
    block kinds, the analysis and the code generator read for that stage's blocks.
    """
    changes = {
        name: value for name in STAGE_OVERRIDES if (value := getattr(stage, name)) is not None
    }
    return dataclasses.replace(design, **changes) if changes else design


def stage_expansion(design: Design, stage: StageSpec) -> int:
    if stage.expansion is not None:
        return stage.expansion
    return stage_design(design, stage).block_kind.expansion


def stage_out_width(design: Design, stage: StageSpec) -> int:
    if stage.out_width is not None:
        return stage.out_width
    return stage.width * stage_expansion(design, stage)


def bottleneck_width(design: Design, stage: StageSpec) -> int:
    """The 3x3 conv's width, with torchvision's ``width_per_group`` meaning."""
    d = stage_design(design, stage)
    return int(stage.width * (d.width_per_group / 64.0)) * d.groups


def stage_dilations(design: Design) -> tuple[tuple[int, int, int], ...]:
    """Per stage: (stride of its first block, dilation before it, dilation within it).

    torchvision's ``replace_stride_with_dilation``: a dilated stage keeps the
    resolution and multiplies the dilation by its stride instead; its first block's
    3x3 conv still uses the previous dilation (as torchvision and timm build it).
    """
    out, dilation = [], 1
    for stage in design.stages:
        previous = dilation
        if stage.dilate:
            dilation *= stage.stride
        out.append((1 if stage.dilate else stage.stride, previous, dilation))
    return tuple(out)


def stem_out_width(design: Design) -> int:
    return design.stem.width if design.stem_kind.ops else design.input.channels


def show(value: object, limit: int = 40) -> str:
    """A short, single-line rendering of a user's value for an error message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_int(path: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise DesignError(path, f"must be a whole number (got {show(value)})")
    if not low <= value <= high:
        raise DesignError(path, f"must be between {low:,} and {high:,} (got {value:,})")
    return value


def _check_float(path: str, value: object, low: float, high: float, *, high_open: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DesignError(path, f"must be a number (got {show(value)})")
    number = float(value)
    if math.isnan(number) or number < low or number > high or (high_open and number == high):
        bound = f"below {high}" if high_open else f"at most {high}"
        raise DesignError(path, f"must be at least {low} and {bound} (got {show(value)})")
    return number


def _check_choice(path: str, value: object, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise DesignError(path, f"must be one of {', '.join(choices)} (got {show(value)})")
    return str(value)


def _check_bool(path: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise DesignError(path, f"must be true or false (got {show(value)})")
    return value


def validate(design: Design) -> Design:
    """Check every field and the network's feasibility; return the design unchanged.

    Everything a builder would trip over is caught here, with the field named,
    so that no torch code ever runs on a design that cannot work.
    """
    if not isinstance(design.name, str) or len(design.name) > MAX_NAME_LENGTH:
        raise DesignError("name", f"must be text of at most {MAX_NAME_LENGTH} characters")
    surrogate = next((ch for ch in design.name if "\ud800" <= ch <= "\udfff"), None)
    if surrogate is not None:
        raise DesignError(
            "name",
            f"holds a lone surrogate (U+{ord(surrogate):04X}), which no file can store: remove it",
        )
    _check_int("input.channels", design.input.channels, 1, MAX_CHANNELS)
    _check_int("input.height", design.input.height, 1, MAX_SPATIAL)
    _check_int("input.width", design.input.width, 1, MAX_SPATIAL)
    _check_int("num_classes", design.num_classes, 1, MAX_CLASSES)
    _check_choice("block", design.block, BLOCKS)
    _check_choice("stem.kind", design.stem.kind, STEMS)
    _check_int("stem.width", design.stem.width, 1, MAX_CHANNELS)
    _check_choice("stem.pool", design.stem.pool, ("max", "conv"))
    _check_bool("stem.norm_act", design.stem.norm_act)
    if not design.stem.norm_act and not design.is_preact:
        raise DesignError(
            "stem.norm_act",
            "only a pre-activation network can leave the stem's norm and activation to its"
            " first block: set it true, or use a preact_ block",
        )
    if not design.stem.norm_act and not design.stem_kind.ops:
        raise DesignError("stem.norm_act", "the stem 'none' has no norm to leave out: set it true")
    if design.stem.pool != "max" and not has_pool(design.stem_kind):
        raise DesignError(
            "stem.pool",
            f"the {design.stem.kind} stem has no max-pool to replace: use pool 'max'",
        )
    _check_int("groups", design.groups, 1, MAX_CHANNELS)
    _check_int("width_per_group", design.width_per_group, 1, MAX_CHANNELS)
    _check_choice("shortcut", design.shortcut, SHORTCUTS)
    _check_choice("stride_on", design.stride_on, STRIDE_ON)
    _check_choice("activation", design.activation, ACTIVATIONS)
    _check_float("se_ratio", design.se_ratio, 0.0, 1.0, high_open=False)
    _check_int("se_divisor", design.se_divisor, 0, 1024)
    _check_choice("norm", design.norm, tuple(NORMS))
    _check_float("drop_path_rate", design.drop_path_rate, 0.0, 1.0, high_open=True)
    _check_float("block_dropout", design.block_dropout, 0.0, 1.0, high_open=True)
    _check_bool("conv_bias", design.conv_bias)
    _check_bool("zero_init_residual", design.zero_init_residual)
    _check_float("head.dropout", design.head.dropout, 0.0, 1.0, high_open=True)
    if len(design.head.hidden) > MAX_HIDDEN_LAYERS:
        raise DesignError("head.hidden", f"at most {MAX_HIDDEN_LAYERS} hidden layers")
    for i, width in enumerate(design.head.hidden):
        _check_int(f"head.hidden[{i}]", width, 1, MAX_CHANNELS)
    multiple = design.stem_kind.width_multiple
    if design.stem.width % multiple:
        raise DesignError(
            "stem.width",
            f"the {design.stem.kind} stem divides its width in its first convs: use "
            + ("an even width" if multiple == 2 else f"a multiple of {multiple}"),
        )
    if not 1 <= len(design.stages) <= MAX_STAGES:
        raise DesignError("stages", f"must have between 1 and {MAX_STAGES} stages")
    if not all(isinstance(stage, StageSpec) for stage in design.stages):
        raise DesignError("stages", "must be a list of stage objects")
    for i, stage in enumerate(design.stages):
        _check_overrides(design, i, stage)
    _check_stages(design)
    _check_norm_widths(design)
    return design


def _check_overrides(design: Design, i: int, stage: StageSpec) -> None:
    """A stage's overrides, each checked as its network-wide field is, plus what they imply."""
    path = f"stages[{i}]"
    if stage.block is not None:
        _check_choice(f"{path}.block", stage.block, BLOCKS)
        if BLOCK_KINDS[stage.block].preact != design.is_preact:
            order = "pre-activation" if design.is_preact else "post-activation"
            same = [n for n, k in BLOCK_KINDS.items() if k.preact == design.is_preact]
            raise DesignError(
                f"{path}.block",
                f"a {stage.block} block cannot sit in a {order} network (block: {design.block}):"
                f" use one of {', '.join(same)}",
            )
    if stage.groups is not None:
        _check_int(f"{path}.groups", stage.groups, 1, MAX_CHANNELS)
    if stage.width_per_group is not None:
        _check_int(f"{path}.width_per_group", stage.width_per_group, 1, MAX_CHANNELS)
    if stage.se_ratio is not None:
        _check_float(f"{path}.se_ratio", stage.se_ratio, 0.0, 1.0, high_open=False)
    if stage.stride_on is not None:
        _check_choice(f"{path}.stride_on", stage.stride_on, STRIDE_ON)
    _check_bool(f"{path}.dilate", stage.dilate)
    d = stage_design(design, stage)
    if not d.is_bottleneck and (d.groups != 1 or d.width_per_group != 64):
        where = f"{path}.groups" if design.has_stage_overrides else "groups"
        raise DesignError(
            where,
            "basic blocks support groups=1 and width_per_group=64 only (as torchvision);"
            " use a bottleneck block for ResNeXt or wide variants",
        )
    if stage.dilate:
        if design.shortcut != "projection":
            raise DesignError(
                f"{path}.dilate",
                f"a dilated stage needs projection shortcuts (a {design.shortcut} shortcut"
                " would subsample): set shortcut to projection, or dilate false",
            )
        if isinstance(stage.stride, int) and stage.stride == 1:
            raise DesignError(
                f"{path}.dilate",
                "the stage has stride 1, so there is no stride to turn into dilation:"
                " set its stride to 2, or dilate false",
            )


def _check_norm_widths(design: Design) -> None:
    """GroupNorm divides every normalised width into groups: each must be a multiple."""
    divides = NORMS[design.norm].divides
    if divides == 1:
        return
    why = f"must be a multiple of {divides} for {design.norm} norm ({divides} groups)"
    stem = design.stem_kind
    if stem.ops:
        widths = [design.stem.width, *(c.value(design.stem.width) for c in stem.channels.values())]
        if any(w % divides for w in widths):
            raise DesignError("stem.width", f"the stem's widths {widths} {why}")
    for i, stage in enumerate(design.stages):
        widths = [stage_out_width(design, stage)]
        if stage_design(design, stage).is_bottleneck:
            widths.append(bottleneck_width(design, stage))
        if any(w % divides for w in widths):
            raise DesignError(f"stages[{i}].width", f"the stage's widths {widths} {why}")
    if design.is_preact and not stem.ops and design.input.channels % divides:
        raise DesignError("input.channels", f"the first block normalises the input: it {why}")


def _check_stages(design: Design) -> None:
    channels = stem_out_width(design)
    for i, stage in enumerate(design.stages):
        path = f"stages[{i}]"
        _check_int(f"{path}.depth", stage.depth, 1, MAX_DEPTH)
        _check_int(f"{path}.width", stage.width, 1, MAX_CHANNELS)
        _check_int(f"{path}.stride", stage.stride, 1, MAX_STRIDE)
        if stage.expansion is not None:
            _check_int(f"{path}.expansion", stage.expansion, 1, 64)
        if stage.out_width is not None:
            _check_int(f"{path}.out_width", stage.out_width, 1, MAX_CHANNELS)
            if stage.expansion is not None:
                raise DesignError(
                    f"{path}.out_width", "set either out_width or expansion, not both"
                )
        out = stage_out_width(design, stage)
        if out > MAX_CHANNELS:
            raise DesignError(f"{path}.width", f"the stage's output width {out:,} is too large")
        d = stage_design(design, stage)
        if d.is_bottleneck:
            inner = bottleneck_width(design, stage)
            if inner > MAX_CHANNELS:
                raise DesignError(
                    f"{path}.width",
                    f"the 3x3 conv would have {inner:,} channels: lower width or width_per_group",
                )
            if inner < d.groups:
                raise DesignError(
                    f"{path}.width",
                    f"the grouped 3x3 conv would have {inner} channels for {d.groups} groups:"
                    " raise width or width_per_group",
                )
        if not design.shortcut_kind.can_shrink and out < channels:
            raise DesignError(
                f"{path}.width",
                f"a {design.shortcut} shortcut cannot shrink {channels} channels to {out}:"
                " widen the stage or use a projection shortcut",
            )
        channels = out
    total = sum(stage.depth for stage in design.stages)
    if total > MAX_TOTAL_BLOCKS:
        raise DesignError(
            "stages", f"{total:,} blocks in all is more than the {MAX_TOTAL_BLOCKS:,} supported"
        )
