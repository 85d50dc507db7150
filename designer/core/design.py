"""The design: an immutable, validated description of a ResNet-family network.

A design is the single source of truth of the product: the app edits it, the
analysis reads it, the builder and the code generator turn it into torch code.
It is plain data (no torch import) so that validating and analysing it is free.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

from designer.core.blocks import (
    ACTIVATIONS as ACTIVATION_TABLE,
)
from designer.core.blocks import (
    ATTENTIONS,
    BLOCK_KINDS,
    NORMS,
    SHORTCUT_KINDS,
    STEM_KINDS,
    BlockKind,
    ShortcutKind,
    StemKind,
)
from designer.core.blocks.anti_alias import CHOICES as AA_CHOICES
from designer.core.blocks.branch import activated_conv
from designer.core.blocks.kinds import same_order_kinds
from designer.core.blocks.ops import Conv, Op, reduction
from designer.core.blocks.stems import UNALIASED, has_pool, last_conv_stride, spatial, stem_ops
from designer.core.fields import Entry, FieldError, option, rows

FORMAT = "resnet-designer/1"

# The schema's names; each is described once, in designer.core.blocks.
BlockName = Literal[
    "basic",
    "bottleneck",
    "preact_basic",
    "preact_bottleneck",
    "senet_basic",
    "resnest",
    "res2net",
    "sk_basic",
    "sk_bottleneck",
]
StemName = Literal["imagenet", "cifar", "deep", "deep_tiered", "none"]
ShortcutName = Literal["projection", "zero_pad", "avg_down"]
StrideOn = Literal["3x3", "1x1"]
NormName = Literal["batch", "group", "evonorm", "frn"]
StemPool = Literal["max", "conv", "max_ceil", "stride", "max_zero_pad"]
AttentionAt = Literal["end", "3x3"]

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


_CHANNELS = {"low": 1, "high": MAX_CHANNELS}
_PROBABILITY = {"low": 0.0, "high": 1.0, "high_open": True, "step": 0.05}


@dataclass(frozen=True)
class InputSpec:
    channels: int = option(
        3,
        label="Input channels",
        help="Channels of the input image (3 for RGB, 1 for grayscale).",
        group="Input",
        **_CHANNELS,
    )
    height: int = option(
        224,
        label="Input height",
        help="Input image height in pixels (224 for ImageNet, 32 for CIFAR).",
        group="Input",
        low=1,
        high=MAX_SPATIAL,
    )
    width: int = option(
        224,
        label="Input width",
        help="Input image width in pixels (224 for ImageNet, 32 for CIFAR).",
        group="Input",
        low=1,
        high=MAX_SPATIAL,
    )


@dataclass(frozen=True)
class StemSpec:
    kind: StemName = option(
        "imagenet",
        label="Stem",
        help="The layers before the first stage. imagenet: 7x7/2 conv + 3x3/2 max-pool (4x"
        " smaller); cifar: one 3x3/1 conv; deep: three 3x3 convs (ResNet-C); deep_tiered: three"
        " 3x3 convs of rising width, 3/8, 1/2, 1 of the stem width (timm's ResNet-T); none: no"
        " stem.",
        group="Network",
        choices=STEM_KINDS,
    )
    width: int = option(
        64,
        label="Stem width",
        help="Output channels of the stem convolution (64 in torchvision's ResNets, 16 on CIFAR).",
        group="Network",
        **_CHANNELS,
    )
    # how the stem halves the resolution at its end: a 3x3 max-pool, or a strided
    # 3x3 conv + norm + activation (ResNet-RS; timm's replace_stem_pool)
    pool: StemPool = option(
        "max",
        label="Stem pool",
        help="How the stem halves the resolution at its end. max: a 3x3 max-pool"
        " (torchvision); conv: a strided 3x3 conv + norm + activation (ResNet-RS, timm's"
        " replace_stem_pool); max_ceil: an unpadded 3x3 max-pool in ceil mode (Caffe's, kept"
        " by Cadene's SENets, timm's legacy_*); stride: no pool, the stem's last conv strides"
        " by 2 instead (timm's byobnet tiered stem without a pool, its *33ts); max_zero_pad:"
        " a zero pad, then an unpadded 3x3 max-pool (BiT's, timm's 'fixed' stem). Only stems"
        " that pool (imagenet, deep, deep_tiered).",
        group="Network",
        written="when_set",
    )
    # whether the stem's last conv is followed by its own norm and activation; a
    # pre-activation network may leave them to its first block (timm's ResNetV2)
    norm_act: bool = option(
        True,
        label="Stem norm + act",
        help="Follow the stem's last conv with its own norm and activation, as every"
        " post-activation ResNet does. Unchecked: timm's ResNetV2 leaves them to the first"
        " pre-activation block, whose BN-activation comes first anyway. Only for"
        " pre-activation (preact_*) blocks.",
        group="Network",
        written="when_set",
    )


def _stage_override(label: str) -> Any:
    """A stage's own value of a network-wide option (None: the network's)."""
    return option(None, label=label, help="", written="when_set", stage=True)


@dataclass(frozen=True)
class StageSpec:
    """One stage of residual blocks.

    ``width`` is torchvision's ``planes``: the bottleneck's inner width before
    ``width_per_group`` scaling, and the output width of a basic block. The
    stage's output width is ``out_width`` if set, else ``width * expansion``
    (expansion defaults to 1 for basic blocks and 4 for bottlenecks).
    """

    depth: int = option(
        dataclasses.MISSING,
        label="Depth",
        help="Residual blocks in this stage (ResNet-50: 3, 4, 6, 3).",
        low=1,
        high=MAX_DEPTH,
    )
    width: int = option(
        dataclasses.MISSING,
        label="Width",
        help="The stage's base width ('planes'): a basic block's output channels, a"
        " bottleneck's inner width (its output is width x expansion).",
        **_CHANNELS,
    )
    stride: int = option(
        1,
        label="Stride",
        help="Stride of the stage's first block: 2 halves height and width (and the shortcut"
        " then needs a projection or zero padding).",
        low=1,
        high=MAX_STRIDE,
    )
    expansion: int | None = option(
        None,
        label="Expansion",
        help="Output width = width x expansion. 'auto' is 4 for bottlenecks, 1 for basic blocks.",
        low=1,
        high=64,
        written="when_set",
    )
    out_width: int | None = option(
        None,
        label="Out width",
        help="The stage's output width, instead of width x expansion.",
        written="when_set",
        **_CHANNELS,
    )
    # per-stage overrides of the network-wide options (None: the network's value)
    block: BlockName | None = _stage_override("Block")
    groups: int | None = _stage_override("Groups")
    width_per_group: int | None = _stage_override("Width/group")
    se_ratio: float | None = _stage_override("SE")
    stride_on: StrideOn | None = _stage_override("Stride on")
    # torchvision's replace_stride_with_dilation: the stride becomes dilation
    dilate: bool = option(
        False,
        label="Dilate",
        help="Dilate instead of striding (torchvision's replace_stride_with_dilation,"
        " DeepLab's output stride 8 or 16): the stage keeps its input's resolution and its"
        " 3x3 convs dilate by its stride instead. Needs stride > 1 and projection shortcuts.",
        written="when_set",
        stage=True,
    )


@dataclass(frozen=True)
class HeadSpec:
    """Classifier head: optional hidden Linear-act-BN layers, then dropout (if > 0) and fc."""

    hidden: tuple[int, ...] = option(
        (),
        label="Head hidden",
        help="Hidden layers of the classifier, widths separated by commas (e.g. 512, 256);"
        " each is Linear-activation-BatchNorm. Empty: global pool straight into fc, as in"
        " ResNet.",
        group="Head",
        most=MAX_HIDDEN_LAYERS,
        **_CHANNELS,
    )
    dropout: float = option(
        0.0,
        label="Dropout",
        help="Dropout probability before the final fc layer (0 = none).",
        group="Head",
        **_PROBABILITY,
    )
    # timm byobnet's final_conv (its num_features): a 1x1 conv, norm and activation
    conv: int = option(
        0,
        label="Final conv",
        help="A 1x1 conv, norm and activation to this many channels after the last stage,"
        " before the pool (timm's byobnet num_features: 1280 in its *33ts). 0: none, the pool"
        " sees the last stage's output, as in ResNet.",
        group="Head",
        low=0,
        high=MAX_CHANNELS,
        written="when_set",
    )


@dataclass(frozen=True, kw_only=True)
class Design:
    name: str = option(
        "Untitled",
        label="Name",
        help="The design's name, shown in the title and written into exports.",
        group="Network",
        most=MAX_NAME_LENGTH,
    )
    input: InputSpec = field(default_factory=InputSpec)
    num_classes: int = option(
        1000,
        label="Classes",
        help="Outputs of the final fc layer: 1000 for ImageNet, 10 for CIFAR-10; 0 for none,"
        " a feature extractor whose output is the pooled features (timm's num_classes=0).",
        group="Head",
        low=0,
        high=MAX_CLASSES,
    )
    block: BlockName = option(
        "bottleneck",
        label="Block",
        help="Residual block type. basic: two 3x3 convs (ResNet-18/34); bottleneck:"
        " 1x1-3x3-1x1 with 4x expansion (ResNet-50+); preact_*: BN-ReLU before each conv"
        " (ResNet v2); senet_basic: basic with its second norm activated too, before the"
        " attention (the SENets' SE-ResNet-18/34); resnest: a bottleneck whose 3x3 is"
        " ResNeSt's split attention (see radix); res2net: a bottleneck whose 3x3 is Res2Net's"
        " cascade over splits (see scale); sk_basic, sk_bottleneck: a basic or bottleneck block"
        " whose 3x3 is a selective kernel (SKNet).",
        group="Network",
        choices=BLOCK_KINDS,
        stage=True,
    )
    stem: StemSpec = field(default_factory=StemSpec)
    stages: tuple[StageSpec, ...]
    groups: int = option(
        1,
        label="Groups",
        help="Groups of the bottleneck's 3x3 conv: the cardinality of ResNeXt (32 in 32x4d)."
        " Basic blocks need 1.",
        group="Blocks",
        stage=True,
        **_CHANNELS,
    )
    width_per_group: int = option(
        64,
        label="Width / group",
        help="Channels per group of the 3x3 conv, per 64 of stage width: 64 is ResNet, 128 is"
        " Wide ResNet-50-2, 4 with 32 groups is ResNeXt-50 32x4d.",
        group="Blocks",
        stage=True,
        **_CHANNELS,
    )
    # Res2Net's s: read only by the block kinds that declare it (``res2net``)
    scale: int = option(
        4,
        label="Scale",
        help="Res2Net's scale s (Gao et al. 2019): a res2net block splits its 1x1 conv's"
        " output into s groups of the 3x3 width, each but the last through a 3x3 conv that"
        " also sees the previous one's output (26w_4s: width/group 26, scale 4). Only res2net"
        " blocks read it.",
        group="Blocks",
        low=2,
        high=64,
        written="when_set",
    )
    shortcut: ShortcutName = option(
        "projection",
        label="Shortcut",
        help="How a block's skip path changes shape when its stride or width changes."
        " projection: 1x1 conv + BN (option B); zero_pad: subsample and pad channels with"
        " zeros (option A, CIFAR); avg_down: average-pool then 1x1 conv (ResNet-D).",
        group="Blocks",  # choices: the Literal's order (B, A, D), the registry's names
    )
    stride_on: StrideOn = option(
        "3x3",
        label="Stride on",
        help="Which bottleneck conv downsamples. 3x3: torchvision's ResNet v1.5 (more"
        " accurate); 1x1: the 2015 paper's v1 (fewer multiply-adds).",
        group="Blocks",
        stage=True,
    )
    # ResNeSt's split attention (Zhang et al. 2020; read by the resnest block only)
    radix: int = option(
        2,
        label="Radix",
        help="ResNeSt's splits per group: its 3x3 conv gives radix maps of each group, weighed"
        " by a softmax attention over them (a sigmoid gate at 1). 2 in resnest50d, 4 in"
        " 4s2x40d, 1 in 1s4x24d. Read by the resnest block only.",
        group="Blocks",
        low=1,
        high=4,
        written="when_set",
    )
    avd_first: bool = option(
        False,
        label="Pool first",
        help="Where a strided ResNeSt block's 3x3 average pool (avd) subsamples: before its"
        " split-attention conv (timm's avd_first, its grouped 4s2x40d and 1s4x24d; fewer"
        " multiply-adds) or after it. No weights: checkpoints cannot show it. Read by the"
        " resnest block only.",
        group="Blocks",
        written="when_set",
    )
    activation: str = option(
        "relu",
        label="Activation",
        help="The non-linearity after each BatchNorm (ReLU in every ResNet paper).",
        group="Blocks",
        choices=ACTIVATION_TABLE,
    )
    attention: str = option(
        "se",
        label="Attention",
        help="The channel attention after each block's branch, before the residual add"
        " (timm's attn_layer). se: squeeze-and-excitation (Hu et al. 2018), on where SE ratio"
        " is above 0. eca: efficient channel attention (Wang et al. 2020), a 1-D conv across"
        " the pooled channels in every block, its kernel from the channel count. gc: global context"
        " (Cao et al. 2019, timm's GlobalContext), attention-pooled context through a"
        " 1/8-wide LayerNorm bottleneck in every block; gca: the same, its context added to"
        " every pixel instead of gating (timm's fuse_add, byobnet's gcresnet*ts).",
        group="Blocks",
        choices=ATTENTIONS,
        written="when_set",
    )
    # timm byobnet's bottleneck calls its attention (``attn``) after the 3x3, before conv3
    attention_at: AttentionAt = option(
        "end",
        label="Attention at",
        help="Where a block calls its attention. end: after the branch's last norm, before the"
        " residual add (timm's resnet.py, SENet). 3x3: after the activation of the branch's"
        " last activated conv, a bottleneck's 3x3, on its inner width (timm's byobnet attn,"
        " its *33ts and *26ts).",
        group="Blocks",
        written="when_set",
    )
    anti_alias: str = option(
        "none",
        label="Anti-aliasing",
        help="Anti-aliased downsampling (Zhang 2019, timm's aa_layer): each strided conv runs at"
        " stride 1 and, after its activation, a pool subsamples. avg: a 2x2 average pool"
        " (timm's resnetaa); blur: a 3x3 binomial blur, BlurPool (timm's resnetblur). The"
        " stem's max-pool is anti-aliased too. No weights: checkpoints cannot show it.",
        group="Blocks",
        choices=AA_CHOICES,
        written="when_set",
    )
    se_ratio: float = option(
        0.0,
        label="SE ratio",
        help="Squeeze-and-Excitation: 0 turns it off; 0.0625 is SE-ResNet's reduction of 16."
        " Each block then rescales its channels by a learned gate.",
        group="Blocks",
        low=0.0,
        high=1.0,
        step=0.0625,
        stage=True,
    )
    # 0: the squeezed width is round(C * se_ratio) (Hu et al.); N: timm's
    # make_divisible(C * se_ratio, N), a multiple of N (timm's SE-ResNets use 8)
    se_divisor: int = option(
        0,
        label="SE divisor",
        help="How the squeezed width is rounded. 0: round(C x ratio), as Hu et al. and"
        " torchvision count; 8: a multiple of 8 (timm's make_divisible), as timm's SE-ResNets"
        " are built. C is the block's output width.",
        group="Blocks",
        low=0,
        high=1024,
        written="when_set",
    )
    # selective-kernel blocks (sk_*, Li et al. 2019): timm's SelectiveKernel arguments
    sk_split_input: bool = option(
        True,
        label="SK split input",
        help="Selective-kernel blocks (sk_*): each of the two 3x3 paths sees half the input"
        " channels (timm's split_input, fewer parameters); off: both see all of them, as in"
        " the paper (timm's skresnext50_32x4d).",
        group="Blocks",
        written="when_set",
    )
    sk_ratio: float = option(
        1 / 16,
        label="SK ratio",
        help="Selective-kernel blocks (sk_*): the attention's squeezed width is the block's"
        " width x this ratio, rounded to a multiple of SK divisor (timm's rd_ratio: 1/16,"
        " 1/8 in skresnet18 and 34).",
        group="Blocks",
        low=0.0,
        high=1.0,
        step=0.0625,
        written="when_set",
    )
    sk_divisor: int = option(
        8,
        label="SK divisor",
        help="Selective-kernel blocks (sk_*): the attention's squeezed width is a multiple of"
        " this, at least this (timm's rd_divisor: 8, 16 in skresnet18 and 34, 32 in"
        " skresnext50_32x4d).",
        group="Blocks",
        low=1,
        high=1024,
        written="when_set",
    )
    # every norm of the convolutional layers (the head's stay batch)
    norm: NormName = option(
        "batch",
        label="Norm",
        help="The normalisation after each conv. batch: BatchNorm (every ResNet paper); group:"
        " GroupNorm with 32 groups (timm's resnet50_gn, detection backbones, BiT), independent"
        " of the batch size; every width must then be a multiple of 32. evonorm: EvoNorm-S0"
        " (Liu et al. 2020; timm's resnetv2_50d_evos), groups of 32 too; frn: filter response"
        " norm with its TLU (Singh & Krishnan 2019; timm's resnetv2_50d_frn). evonorm and frn"
        " are their own activation, so only pre-activation (preact_*) networks, whose every"
        " norm is followed by the activation, can use them.",
        group="Blocks",
        choices=NORMS,
        written="when_set",
    )
    # stochastic depth (timm's drop_path_rate): the residual branch of block i of n is
    # dropped with probability rate * i / (n - 1) in training; nothing in eval
    drop_path_rate: float = option(
        0.0,
        label="Stochastic depth",
        help="Stochastic depth (Huang et al. 2016; timm's drop_path_rate): in training, block"
        " i of n skips its residual branch with probability rate x i / (n - 1), rising to the"
        " full rate at the last block; inference uses every block. 0 turns it off (timm's"
        " recipes use 0.05-0.2). No effect on size or cost.",
        group="Blocks",
        written="when_set",
        **_PROBABILITY,
    )
    # dropout inside each block, before its last conv (Wide ResNet's, between the 3x3s)
    block_dropout: float = option(
        0.0,
        label="Block dropout",
        help="Dropout inside each block, before its last conv: Wide ResNet's dropout between"
        " the two 3x3 convs (Zagoruyko & Komodakis use 0.3 on CIFAR). Training only; 0 turns"
        " it off. No effect on size or cost.",
        group="Blocks",
        written="when_set",
        **_PROBABILITY,
    )
    conv_bias: bool = option(
        False,
        label="Conv bias",
        help="Give every convolution a bias. ResNets have none: the BatchNorm after each conv"
        " makes it redundant.",
        group="Blocks",
    )
    # weight standardisation (timm's StdConv2d): BiT's convs, with its GroupNorm
    std_conv: bool = option(
        False,
        label="Weight standardisation",
        help="Standardise every conv's weight (zero mean, unit variance per output channel) at"
        " each call (Qiao et al. 2019; timm's StdConv2d, eps 1e-8 as BiT): BiT's convs, paired"
        " with group norm. The weights keep their shapes. Attention modules and the classifier"
        " are not standardised. No effect on size or cost.",
        group="Blocks",
        written="when_set",
    )
    zero_init_residual: bool = option(
        False,
        label="Zero-init residual",
        help="Start each block's last BatchNorm at zero so every block begins as the identity"
        " (Goyal et al.; helps large-batch training). No effect on size or cost.",
        group="Blocks",
    )
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
        return stem_ops(self.stem_kind, self.stem.pool, self.stem.norm_act, self.anti_alias)

    @property
    def shortcut_kind(self) -> ShortcutKind:
        return SHORTCUT_KINDS[self.shortcut]

    @property
    def is_preact(self) -> bool:
        return self.block_kind.preact

    @property
    def is_bottleneck(self) -> bool:
        """Whether blocks have an inner, grouped width (torchvision's ``width_per_group``)."""
        return self.block_kind.grouped

    def replace(self, **changes: Any) -> Design:
        """A validated copy with ``changes`` applied (the only way to 'edit' a design)."""
        return validate(dataclasses.replace(self, **changes))

    def with_stage(self, index: int, **changes: Any) -> Design:
        stages = list(self.stages)
        stages[index] = dataclasses.replace(stages[index], **changes)
        return self.replace(stages=tuple(stages))

    @property
    def has_stage_overrides(self) -> bool:
        return any(
            getattr(stage, name) is not None for stage in self.stages for name in STAGE_OVERRIDES
        )


def _network_rows() -> dict[str, Entry]:
    return {e.path: e for e in rows(Design) if not e.path.startswith("stages[]")}


@cache
def field_table() -> tuple[Entry, ...]:
    """Every field of a design file, in file order: the network's, then a stage's.

    A stage's override ("stages[].groups") carries its network field's row (label,
    help, bounds, choices) with the stage's own type (``X | None``) and file rule.
    """
    network = _network_rows()
    out = list(network.values())
    for e in rows(StageSpec, "stages[]."):
        if e.name in network and e.optional:
            # the network's row, under the stage table's short column title
            row = dataclasses.replace(
                network[e.name].row, written="when_set", group="", label=e.row.label
            )
            e = dataclasses.replace(e, row=row)
        out.append(e)
    return tuple(out)


@cache
def field_entry(path: str) -> Entry:
    """The row of the dotted ``path`` ("stem.width", "stages[].se_ratio")."""
    return next(e for e in field_table() if e.path == path)


STAGE_OVERRIDES: tuple[str, ...] = tuple(
    e.name for e in rows(StageSpec) if e.row.stage and e.optional
)
"""The network-wide options a stage may override (timm's byobnet per-stage block config)."""


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


def output_stride(design: Design) -> int:
    """How much the network subsamples its input by its last stage (32 for a ResNet-50)."""
    factor = reduction(stem_ops(design.stem_kind, design.stem.pool, design.stem.norm_act))
    for first_stride, _, _ in stage_dilations(design):
        factor *= first_stride
    return factor


def with_output_stride(design: Design, target: int) -> Design:
    """``design`` with its last strided stages dilated until it subsamples by ``target``
    (timm's and torchvision's output_stride: 16 dilates the last stage, 8 the last two)."""
    current = output_stride(design)
    if current < target:
        raise DesignError(
            "output_stride",
            f"the network subsamples by {current} only, less than {target}: nothing to dilate",
        )
    for index in reversed(range(len(design.stages))):
        stage = design.stages[index]
        if current <= target:
            break
        if stage.stride > 1 and not stage.dilate:
            design = design.with_stage(index, dilate=True)
            current //= stage.stride
    if current != target:
        raise DesignError(
            "output_stride",
            f"dilating stages gives output strides down to {current}, not {target}: the stem"
            " and the earlier stages subsample by more; use a larger output stride",
        )
    return design


def stem_out_width(design: Design) -> int:
    return design.stem.width if design.stem_kind.ops else design.input.channels


def get_value(obj: object, path: str) -> Any:
    """The value at the dotted ``path`` of ``obj`` ("stem.width")."""
    value: Any = obj
    for part in path.split("."):
        value = getattr(value, part)
    return value


def _check_fields(design: Design) -> None:
    """Every field against its row, the network's first, then each stage's."""
    try:
        for e in field_table():
            if not e.path.startswith("stages[]"):
                e.check(e.path, get_value(design, e.path))
        if not isinstance(design.stages, tuple) or not 1 <= len(design.stages) <= MAX_STAGES:
            raise DesignError("stages", f"must have between 1 and {MAX_STAGES} stages")
        if not all(isinstance(stage, StageSpec) for stage in design.stages):
            raise DesignError("stages", "must be a list of stage objects")
        for i, stage in enumerate(design.stages):
            for e in field_table():
                if e.path.startswith("stages[]"):
                    e.check(f"stages[{i}].{e.name}", getattr(stage, e.name))
    except FieldError as exc:
        raise DesignError(exc.path, exc.reason) from None


def validate(design: Design) -> Design:
    """Check every field and the network's feasibility; return the design unchanged.

    Everything a builder would trip over is caught here, with the field named,
    so that no torch code ever runs on a design that cannot work.
    """
    _check_fields(design)
    surrogate = next((ch for ch in design.name if "\ud800" <= ch <= "\udfff"), None)
    if surrogate is not None:
        raise DesignError(
            "name",
            f"holds a lone surrogate (U+{ord(surrogate):04X}), which no file can store: remove it",
        )
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
    if design.stem.pool == "stride":
        _check_stem_stride(design)
    multiple = design.stem_kind.width_multiple
    if design.stem.width % multiple:
        raise DesignError(
            "stem.width",
            f"the {design.stem.kind} stem divides its width in its first convs: use "
            + ("an even width" if multiple == 2 else f"a multiple of {multiple}"),
        )
    if NORMS[design.norm].activates and not design.is_preact:
        raise DesignError(
            "norm",
            f"{design.norm} is its own activation, which only a pre-activation network (each"
            " norm followed by the activation) can fold in: use a preact_ block, or norm batch"
            " or group",
        )
    _check_stem_size(design)
    _check_anti_alias(design)
    reason = ATTENTIONS[design.attention].check(design)
    if reason:
        raise DesignError("attention", reason)
    if design.attention_at == "3x3":
        _check_attention_at(design)
    for i, stage in enumerate(design.stages):
        _check_overrides(design, i, stage)
    _check_stages(design)
    _check_norm_widths(design)
    return design


def _check_stem_size(design: Design) -> None:
    """An unpadded stem pool needs a map at least as large as half its window."""
    height, width = design.input.height, design.input.width
    if min(spatial(design.stem_ops, (height, width))) < 1:
        raise DesignError(
            "input.height" if height <= width else "input.width",
            f"the stem leaves nothing of a {height:,}x{width:,} input (its {design.stem.pool}"
            " pool is unpadded): use a larger input",
        )


def _check_attention_at(design: Design) -> None:
    """Attention at the 3x3 needs a block whose branch activates a 3x3 before its last conv."""
    for i, stage in enumerate(design.stages):
        d = stage_design(design, stage)
        if activated_conv(d.block_kind.layout(d).main) is None:
            raise DesignError(
                "attention_at",
                f"a {d.block} block activates no 3x3 conv inside its branch (stage {i + 1}):"
                " use attention_at end",
            )


def _check_stem_stride(design: Design) -> None:
    """A stem that strides its last conv instead of pooling needs that conv unstrided."""
    if last_conv_stride(design.stem_kind.ops) != 1:
        raise DesignError(
            "stem.pool",
            f"the {design.stem.kind} stem's last conv strides already, so it cannot stride"
            " instead of pooling: use pool 'max'",
        )
    if design.anti_alias != "none":
        raise DesignError(
            "anti_alias",
            "a stem whose last conv strides (pool 'stride') has no anti-aliased form: set"
            " stem.pool to max, or anti_alias none",
        )


def _check_anti_alias(design: Design) -> None:
    """An anti-aliasing pool needs a map at least as large as its stride (a 2x2 average
    pool of a 1-pixel map has no output; BlurPool's reflection needs 2 pixels), and an
    average pool, which rounds down where strided convs round up, even sizes. An input as
    large as the network's whole subsampling, and for ``avg`` a multiple of it, is enough."""
    if design.anti_alias == "none":
        return
    if design.stem.pool in UNALIASED:
        raise DesignError(
            "anti_alias",
            f"the stem's {design.stem.pool} pool has no anti-aliased form: set stem.pool to"
            " max, or anti_alias none",
        )
    for stage in design.stages:
        d = stage_design(design, stage)
        main = d.block_kind.layout(d).main
        if not any(isinstance(op, Conv) and op.stride == "stride" for op in main):
            raise DesignError(
                "anti_alias",
                f"{d.block} blocks stride inside a module of their own, where no pool can"
                " follow the strided conv: set anti_alias to none",
            )
    factor = output_stride(design)
    height, width = design.input.height, design.input.width
    if min(height, width) < factor:
        raise DesignError(
            "anti_alias",
            f"the network subsamples by {factor:,}, so its pools need an input of at least"
            f" {factor:,} px (got {height:,}x{width:,}): use a larger input, or anti_alias none",
        )
    if design.anti_alias == "avg" and (height % factor or width % factor):
        raise DesignError(
            "anti_alias",
            f"a 2x2 average pool drops an odd row where the shortcut keeps it: the input's sides"
            f" must be multiples of {factor:,}, the network's subsampling (got"
            f" {height:,}x{width:,}): resize the input, or use blur",
        )


def same_order_blocks(design: Design) -> list[str]:
    """The blocks a stage of ``design`` may use: those of the network's activation order."""
    return same_order_kinds(design.is_preact)


# options the common kinds read too, which an editor keeps in view (a stage may switch kind)
_COMMON_BLOCK_OPTIONS = frozenset({"groups", "stride_on"})


def unread_block_options(design: Design) -> frozenset[str]:
    """The fields only some block kinds read (Res2Net's scale, ResNeSt's radix...) that no
    block of ``design`` reads: an editor need not show them."""
    own = frozenset().union(*(kind.options for kind in BLOCK_KINDS.values()))
    kinds = {design.block, *(s.block for s in design.stages if s.block is not None)}
    read = frozenset().union(*(BLOCK_KINDS[k].options for k in kinds))
    return own - read - _COMMON_BLOCK_OPTIONS


def _check_overrides(design: Design, i: int, stage: StageSpec) -> None:
    """A stage's overrides, each checked as its network-wide field is, plus what they imply."""
    path = f"stages[{i}]"
    if stage.block is not None and BLOCK_KINDS[stage.block].preact != design.is_preact:
        order = "pre-activation" if design.is_preact else "post-activation"
        same = same_order_blocks(design)
        raise DesignError(
            f"{path}.block",
            f"a {stage.block} block cannot sit in a {order} network (block: {design.block}):"
            f" use one of {', '.join(same)}",
        )
    d = stage_design(design, stage)
    if not d.is_bottleneck and (d.groups != 1 or d.width_per_group != 64):
        where = f"{path}.groups" if design.has_stage_overrides else "groups"
        raise DesignError(
            where,
            "basic blocks support groups=1 and width_per_group=64 only (as torchvision);"
            " use a bottleneck block for ResNeXt or wide variants",
        )
    if stage.dilate:
        if design.anti_alias != "none":
            raise DesignError(
                f"{path}.dilate",
                "a dilated stage does not subsample, so it has nothing to anti-alias: set"
                " anti_alias to none, or dilate false",
            )
        if stage.stride == 1:
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
        if stage.out_width is not None and stage.expansion is not None:
            raise DesignError(f"{path}.out_width", "set either out_width or expansion, not both")
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
        inner = bottleneck_width(design, stage) if d.is_bottleneck else out
        reason = d.block_kind.check(d, (channels, inner, out))
        if reason:
            raise DesignError(f"{path}.block" if stage.block is not None else "block", reason)
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
