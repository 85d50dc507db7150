"""One table of the design's scalar fields, each edited by the widget its type calls for.

Each row names a dotted path into the design, its range or choices and a tooltip
in ResNet terms. The kind of editor is not written down: as magicgui maps types
to widgets, ``kind_of`` reads the design's own type annotation for the path (a
Literal is a choice, bool a check box, int a spin box, tuple[int, ...] a list of
widths...). ``designer.qt.design_panel`` maps each kind to a widget and binds it
both ways; adding a field is one row here.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from designer.core import design as d
from designer.core.design import Design, DesignError

Kind = Literal["choice", "int", "float", "bool", "ints", "text"]


# exact types, looked up by identity: a bool field is a check box, not an int spin box
SCALAR_KINDS: dict[Any, Kind] = {bool: "bool", int: "int", float: "float", str: "text"}


@cache
def field_type(path: str) -> Any:
    """The annotated type of the dotted ``path`` in ``Design`` (e.g. "stem.kind": StemKind)."""
    owner: Any = Design
    hint: Any = None
    for part in path.split("."):
        hint = typing.get_type_hints(owner)[part]
        owner = hint
    return hint


def kind_of(hint: Any, choices: tuple[str, ...] = ()) -> Kind:
    """The editor a type calls for; a str with a list of choices is a choice too."""
    origin = typing.get_origin(hint)
    if origin is Literal or (hint is str and choices):
        return "choice"
    if origin is tuple and typing.get_args(hint) == (int, ...):
        return "ints"
    if hint in SCALAR_KINDS:
        return SCALAR_KINDS[hint]
    raise TypeError(f"no editor for {hint!r}")


@dataclass(frozen=True)
class Field:
    path: str  # dotted path into the design, e.g. "stem.width"
    label: str
    tooltip: str
    group: str
    choices: tuple[str, ...] = ()  # for a str field; a Literal field's come from its type
    low: float = 0
    high: float = 0
    step: float = 1

    @property
    def kind(self) -> Kind:
        return kind_of(field_type(self.path), self.choices)

    @property
    def options(self) -> tuple[str, ...]:
        """A choice field's values: the given ones, else the Literal's."""
        hint = field_type(self.path)
        if self.choices or typing.get_origin(hint) is not Literal:
            return self.choices
        return tuple(str(v) for v in typing.get_args(hint))


FIELDS: tuple[Field, ...] = (
    Field(
        "name",
        "Name",
        "The design's name, shown in the title and written into exports.",
        "Network",
    ),
    Field(
        "block",
        "Block",
        "Residual block type. basic: two 3x3 convs (ResNet-18/34); bottleneck: 1x1-3x3-1x1"
        " with 4x expansion (ResNet-50+); preact_*: BN-ReLU before each conv (ResNet v2).",
        "Network",
    ),
    Field(
        "stem.kind",
        "Stem",
        "The layers before the first stage. imagenet: 7x7/2 conv + 3x3/2 max-pool (4x smaller);"
        " cifar: one 3x3/1 conv; deep: three 3x3 convs (ResNet-C); deep_tiered: three 3x3"
        " convs of rising width, 3/8, 1/2, 1 of the stem width (timm's ResNet-T); none: no stem.",
        "Network",
    ),
    Field(
        "stem.width",
        "Stem width",
        "Output channels of the stem convolution (64 in torchvision's ResNets, 16 on CIFAR).",
        "Network",
        low=0,
        high=d.MAX_CHANNELS,
    ),
    Field(
        "groups",
        "Groups",
        "Groups of the bottleneck's 3x3 conv: the cardinality of ResNeXt (32 in 32x4d)."
        " Basic blocks need 1.",
        "Blocks",
        low=0,
        high=d.MAX_CHANNELS,
    ),
    Field(
        "width_per_group",
        "Width / group",
        "Channels per group of the 3x3 conv, per 64 of stage width: 64 is ResNet, 128 is"
        " Wide ResNet-50-2, 4 with 32 groups is ResNeXt-50 32x4d.",
        "Blocks",
        low=0,
        high=d.MAX_CHANNELS,
    ),
    Field(
        "shortcut",
        "Shortcut",
        "How a block's skip path changes shape when its stride or width changes. projection:"
        " 1x1 conv + BN (option B); zero_pad: subsample and pad channels with zeros (option A,"
        " CIFAR); avg_down: average-pool then 1x1 conv (ResNet-D).",
        "Blocks",
    ),
    Field(
        "stride_on",
        "Stride on",
        "Which bottleneck conv downsamples. 3x3: torchvision's ResNet v1.5 (more accurate);"
        " 1x1: the 2015 paper's v1 (fewer multiply-adds).",
        "Blocks",
    ),
    Field(
        "activation",
        "Activation",
        "The non-linearity after each BatchNorm (ReLU in every ResNet paper).",
        "Blocks",
        choices=d.ACTIVATIONS,
    ),
    Field(
        "se_ratio",
        "SE ratio",
        "Squeeze-and-Excitation: 0 turns it off; 0.0625 is SE-ResNet's reduction of 16. Each"
        " block then rescales its channels by a learned gate.",
        "Blocks",
        low=0.0,
        high=1.0,  # the design refuses more (the box offered 2.0, then the design said no)
        step=0.0625,
    ),
    Field(
        "stem.pool",
        "Stem pool",
        "How the stem halves the resolution at its end. max: a 3x3 max-pool (torchvision);"
        " conv: a strided 3x3 conv + norm + activation (ResNet-RS, timm's replace_stem_pool)."
        " Only stems that pool (imagenet, deep, deep_tiered).",
        "Network",
    ),
    Field(
        "stem.norm_act",
        "Stem norm + act",
        "Follow the stem's last conv with its own norm and activation, as every"
        " post-activation ResNet does. Unchecked: timm's ResNetV2 leaves them to the first"
        " pre-activation block, whose BN-activation comes first anyway. Only for"
        " pre-activation (preact_*) blocks.",
        "Network",
    ),
    Field(
        "norm",
        "Norm",
        "The normalisation after each conv. batch: BatchNorm (every ResNet paper); group:"
        " GroupNorm with 32 groups (timm's resnet50_gn, detection backbones), independent of"
        " the batch size; every width must then be a multiple of 32.",
        "Blocks",
    ),
    Field(
        "se_divisor",
        "SE divisor",
        "How the squeezed width is rounded. 0: round(C x ratio), as Hu et al. and torchvision"
        " count; 8: a multiple of 8 (timm's make_divisible), as timm's SE-ResNets are built."
        " C is the block's output width.",
        "Blocks",
        low=0,
        high=1024,
    ),
    Field(
        "drop_path_rate",
        "Stochastic depth",
        "Stochastic depth (Huang et al. 2016; timm's drop_path_rate): in training, block i of"
        " n skips its residual branch with probability rate x i / (n - 1), rising to the full"
        " rate at the last block; inference uses every block. 0 turns it off (timm's recipes"
        " use 0.05-0.2). No effect on size or cost.",
        "Blocks",
        low=0.0,
        high=1.0,
        step=0.05,
    ),
    Field(
        "block_dropout",
        "Block dropout",
        "Dropout inside each block, before its last conv: Wide ResNet's dropout between the"
        " two 3x3 convs (Zagoruyko & Komodakis use 0.3 on CIFAR). Training only; 0 turns it"
        " off. No effect on size or cost.",
        "Blocks",
        low=0.0,
        high=1.0,
        step=0.05,
    ),
    Field(
        "conv_bias",
        "Conv bias",
        "Give every convolution a bias. ResNets have none: the BatchNorm after each conv"
        " makes it redundant.",
        "Blocks",
    ),
    Field(
        "zero_init_residual",
        "Zero-init residual",
        "Start each block's last BatchNorm at zero so every block begins as the identity"
        " (Goyal et al.; helps large-batch training). No effect on size or cost.",
        "Blocks",
    ),
    Field(
        "head.hidden",
        "Head hidden",
        "Hidden layers of the classifier, widths separated by commas (e.g. 512, 256); each is"
        " Linear-activation-BatchNorm. Empty: global pool straight into fc, as in ResNet.",
        "Head",
    ),
    Field(
        "head.dropout",
        "Dropout",
        "Dropout probability before the final fc layer (0 = none).",
        "Head",
        low=0.0,
        high=1.0,
        step=0.05,
    ),
    Field(
        "num_classes",
        "Classes",
        "Outputs of the final fc layer: 1000 for ImageNet, 10 for CIFAR-10.",
        "Head",
        low=0,
        high=d.MAX_CLASSES,
    ),
    Field(
        "input.channels",
        "Input channels",
        "Channels of the input image (3 for RGB, 1 for grayscale).",
        "Input",
        low=0,
        high=d.MAX_CHANNELS,
    ),
    Field(
        "input.height",
        "Input height",
        "Input image height in pixels (224 for ImageNet, 32 for CIFAR).",
        "Input",
        low=0,
        high=d.MAX_SPATIAL,
    ),
    Field(
        "input.width",
        "Input width",
        "Input image width in pixels (224 for ImageNet, 32 for CIFAR).",
        "Input",
        low=0,
        high=d.MAX_SPATIAL,
    ),
)

FIELD_BY_PATH = {f.path: f for f in FIELDS}


@dataclass(frozen=True)
class StageOption:
    """A per-stage column of the stage table: a ``StageSpec`` field that overrides a
    network-wide one (None: the network's value), described by that field's row above."""

    key: str  # the StageSpec field, and the Design field it overrides
    label: str
    own_tooltip: str = ""  # only for an option with no network-wide field

    @property
    def title(self) -> str:
        """The column's title, on two lines where it has two words: narrow columns."""
        return self.label.replace("/", "/\n").replace(" ", "\n")

    @property
    def network(self) -> Field | None:
        return FIELD_BY_PATH.get(self.key)

    @property
    def kind(self) -> Kind:
        return self.network.kind if self.network else kind_of(stage_field_type(self.key))

    @property
    def options(self) -> tuple[str, ...]:
        """A choice option's values: the network-wide field's."""
        return self.network.options if self.network else ()

    @property
    def tooltip(self) -> str:
        if self.network is None:
            return self.own_tooltip
        return (
            f"{self.network.tooltip} Blank: the stage uses the network's {self.network.label}"
            " (shown in grey); clear the cell to return to it."
        )


STAGE_OPTIONS: tuple[StageOption, ...] = (
    StageOption("block", "Block"),
    StageOption("groups", "Groups"),
    StageOption("width_per_group", "Width/group"),
    StageOption("se_ratio", "SE"),
    StageOption("stride_on", "Stride on"),
    StageOption(
        "dilate",
        "Dilate",
        "Dilate instead of striding (torchvision's replace_stride_with_dilation, DeepLab's"
        " output stride 8 or 16): the stage keeps its input's resolution and its 3x3 convs"
        " dilate by its stride instead. Needs stride > 1 and projection shortcuts.",
    ),
)
"""The stage table's per-stage options, in column order (timm's byobnet per-stage config)."""


def stage_field_type(key: str) -> Any:
    """The annotated type of a ``StageSpec`` field, without its ``| None``."""
    hint = typing.get_type_hints(d.StageSpec)[key]
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if typing.get_origin(hint) in (typing.Union, types.UnionType) else hint


def get_value(design: Design, path: str) -> Any:
    value: Any = design
    for part in path.split("."):
        value = getattr(value, part)
    return value


def set_value(design: Design, path: str, value: Any) -> Design:
    """A validated copy of ``design`` with the dotted ``path`` set to ``value``."""
    head, _, rest = path.partition(".")
    if not rest:
        return design.replace(**{head: value})
    inner = dataclasses.replace(getattr(design, head), **{rest: value})
    return design.replace(**{head: inner})


def parse_ints(text: str) -> tuple[int, ...]:
    """'512, 256' -> (512, 256); a one-line DesignError naming the field otherwise."""
    parts = [p.strip() for p in text.replace(";", ",").split(",")]
    parts = [p for p in parts if p]
    try:
        return tuple(int(p.replace("_", "")) for p in parts)
    except ValueError:
        raise DesignError(
            "head.hidden", f"write whole numbers separated by commas, e.g. 512, 256 (got {text!r})"
        ) from None


def format_ints(values: tuple[int, ...]) -> str:
    return ", ".join(str(v) for v in values)
