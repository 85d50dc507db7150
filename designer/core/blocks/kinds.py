"""What a block, stem, shortcut or custom module kind is, and the registries that hold them.

Each kind lives in a module of its own (``bottleneck.py``, ``stems.py``...) that
registers it here on import; :mod:`designer.core.blocks` imports them all. timm's
``register_block`` and byobnet's per-kind configs are the model: a kind is data
plus a function of the design, never a branch on its name elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Literal, Protocol

from designer.core.blocks.ops import Conv, Custom, Norm, Op, Seq, Sym, last_weight

if TYPE_CHECKING:
    from designer.core.design import Design

Shape = tuple[int, ...]
Size = tuple[int, int]  # height, width
# design fields and their values, network-wide ("se_ratio") or per stage ("stages": [...])
RecoveredFields = dict[str, Any]


@dataclass(frozen=True)
class BlockLayout:
    """One residual block's ops, in call order, split where the shortcut joins.

    ``pre`` runs first and may be skipped by the network's first block (a
    pre-activation after a stem that already ended in BN-activation); the
    shortcut taps the block's input or ``pre``'s output; ``main`` is the residual
    branch (squeeze-excite is appended after it when the design asks); the
    branch and the shortcut are added; ``post`` runs on the sum.
    """

    main: tuple[Op, ...]
    pre: tuple[Op, ...] = ()
    post: tuple[Op, ...] = ()
    tap: Literal["input", "pre"] = "input"

    @property
    def zero_init_weight(self) -> str:
        """The last conv's or norm's weight, or that a module of our own names in it."""
        for op in reversed(self.main):
            if isinstance(op, Custom) and CUSTOM_MODULES[op.module].zero_init:
                return f"{op.name}.{CUSTOM_MODULES[op.module].zero_init}"
            if isinstance(op, (Conv, Norm)):
                break
        return last_weight(self.main)

    @property
    def convs(self) -> int:
        """Main-path convs: what the papers count in a network's depth (a module of our own
        counts as the convs it says it stands for: Res2Net's hierarchy of 3x3s as the one
        3x3 it replaces, a conv block as one)."""
        return sum(
            1 if isinstance(op, Conv) else CUSTOM_MODULES[op.module].depth
            for op in self.main
            if isinstance(op, (Conv, Custom))
        )


@dataclass(frozen=True)
class BlockKind:
    """A residual block type: its ops as a function of the design, and what they imply.

    Symbols its ops may use: ``in`` (input channels), ``width`` (the inner width,
    bottlenecks only), ``out`` (output channels), ``stride`` (the block's stride),
    ``groups`` (the design's groups), ``dil_first`` and ``dil`` (the dilation of the
    block's first 3x3 conv and of the rest: a dilated stage's first block still
    uses the previous dilation in its first 3x3, as torchvision and timm do).
    """

    name: str  # the design's ``block`` value
    class_name: str  # the generated module class
    label: str  # short, for the graph ("pre-act bottleneck")
    expansion: int  # a stage's default output width / width
    preact: bool  # pre-activation (He et al. 2016): un-normed shortcut, a final BN-act
    layout: Callable[[Design], BlockLayout]
    summary: Callable[[Design], str]  # model.py's docstring line for the class
    # what model.py's module docstring says of the blocks; ``grouping``: with the groups
    describe: Callable[[Design, bool], str]
    # the design's block options its ops read: "groups" (an inner width, torchvision's
    # width_per_group, in a grouped conv), "stride_on" (where the stride sits) and options
    # only the kind reads ("scale")
    options: frozenset[str] = frozenset()
    # why a stage cannot use the kind ("" when it can), given its view of the design and
    # its widths: (its input, its inner width, its output)
    check: Callable[[Design, tuple[int, int, int]], str] = lambda design, widths: ""
    # a grouped kind's first block's tensors (names relative to it) -> the weight shape of
    # its grouped 3x3, (inner width, inner width // groups, 3, 3); None when it has none
    grouped_conv: Callable[[Mapping[str, Shape]], Shape | None] = lambda block: block.get(
        "conv2.weight"
    )
    # from each stage's first block's tensors, the values of its own options and what the
    # tensors cannot show ("field: why"); ValueError when they fit no design of the kind
    recover: Callable[[Sequence[Mapping[str, Shape]]], tuple[RecoveredFields, list[str]]] = (
        lambda firsts: ({}, [])
    )
    # symbols its ops use beyond the standard ones, derived from the inner width (Res2Net's
    # conv1 gives width x scale channels): numbers for the analysis, source for model.py
    channels: Callable[[Design], Mapping[str, Channels]] = lambda design: {}
    # model.py's constants its source names ("SCALE = 4  # ..."), one line each
    constants: Callable[[Design], tuple[str, ...]] = lambda design: ()
    # (inner width, groups, design fields) from a stage's first block's tensors (named
    # relative to it, and where it is), for a kind whose grouped 3x3 is not ``conv2`` fed by
    # ``conv1``
    stage_widths: Callable[[Mapping[str, Shape], str], tuple[int, int, RecoveredFields]] | None = (
        None
    )
    # a kind whose convs sit in modules of its own reads its first blocks' tensors itself,
    # given the first block's input width (the Selective Kernel blocks)
    read_blocks: Callable[[Sequence[Mapping[str, Shape]], int], RecoveredBlocks] | None = None

    @property
    def grouped(self) -> bool:
        """Whether its blocks have an inner width of their own, in a grouped conv."""
        return "groups" in self.options

    @property
    def places_stride(self) -> bool:
        """Whether the design's ``stride_on`` says which of its convs strides."""
        return "stride_on" in self.options


@dataclass(frozen=True)
class RecoveredBlocks:
    """What a block kind reads from each stage's first block (``recover(firsts, in_channels)``,
    ``in_channels`` the first block's input width).

    ``plain``: each block's convs as the plain kind of its expansion names them
    (``conv1.weight``... with the shapes a plain block of the same widths and groups has),
    which recovery reads the widths and groups from; ``fields``: the design fields the
    shapes show; ``assumed``: "field: why" for what they cannot; ``problem``: why no
    design gives these tensors ("" when one does).
    """

    plain: list[dict[str, Shape]]
    fields: RecoveredFields = field(default_factory=dict)
    assumed: tuple[str, ...] = ()
    problem: str = ""


@dataclass(frozen=True)
class Channels:
    """A stem's inner width, derived from its output width: a number and its source text."""

    value: Callable[[int], int]
    source: str  # the same, over model.py's STEM_WIDTH


@dataclass(frozen=True)
class StemKind:
    """A stem: ops over symbols ``in`` (input channels), ``width`` (the stem's output
    width) and the inner widths it names in ``channels``."""

    name: str
    ops: tuple[Op, ...]
    summary: Callable[[int], str]  # text for model.py's docstring, given the width
    comment: str = ""  # a line above the stem in model.py
    channels: dict[str, Channels] = field(default_factory=dict)
    width_multiple: int = 1  # the width must be a multiple of this (it is divided)


@dataclass(frozen=True)
class ShortcutKind:
    """How a block that changes shape maps its input to the branch's output shape.

    ``ops(strided, norm)`` is the ``downsample`` module for a strided or unstrided
    block, with or without a trailing norm; symbols ``in``, ``out``, ``stride`` and
    ``extra`` (``out - in``). Identity when the block keeps its shape. ``dilated(norm)``:
    the module where a dilated stage's first block changes the width at stride 1.
    """

    name: str
    ops: Callable[[bool, bool], Op]
    summary: str  # "a 1x1 projection"
    comment: str = ""  # why, above the strided case in model.py
    can_shrink: bool = True  # whether it can map to fewer channels
    # the ``downsample`` of a dilated stage's first block, which keeps the resolution where
    # its stride was (None: the unstrided one, ``ops(False, norm)``)
    dilated: Callable[[bool], Op] | None = None


PATH_BRANCHES = ("split.", "cascade.")
"""A row's ``branch`` on one of a module's parallel paths over splits of its input, which are
concatenated after: ``split.N`` takes split N alone, ``cascade.N`` split N plus path N-1's
output (Res2Net's hierarchy). The graph draws them side by side; the receptive field
follows the longest."""


class Walker(Protocol):
    """What a custom module's closed-form walk may call (the analysis implements it).

    ``branch``: the branch its next rows are on (see :data:`PATH_BRANCHES`); the block's
    walk sets it back after the module.
    """

    branch: str

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
    ) -> Shape: ...
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
    ) -> Shape: ...


@dataclass(frozen=True)
class CustomModule:
    """A module class of our own: its source for model.py and its closed-form walk.

    ``walk(walker, prefix, x, args, design)`` appends its rows and returns its output
    shape; ``source`` is the class, referring to model.py's constants.
    """

    key: str
    class_name: str
    source: Callable[[Design], str]  # the class's text for this design
    walk: Callable[[Walker, str, Shape, tuple[int, ...], Design], Shape]
    imports: tuple[str, ...] = ()  # extra import lines model.py needs for it (third-party)
    stdlib: tuple[str, ...] = ()  # extra standard-library import lines ("import math")
    leaf: bool = True  # one row (its own class) rather than rows of its children
    graph_kind: str = "act"  # how the graph draws its row: "act", "pad", "dropout", ...
    graph_label: str = ""  # the row's node label in the graph ("" : the class name)
    # the height and width it gives, from its arguments (None: it keeps the size)
    resize: Callable[[tuple[int, ...], Size], Size] | None = None
    # written into its owner rather than as a class of its own, so that its children are
    # the owner's (timm's Bottle2neck holds its ``convs`` itself): ``members(name, write)``
    # are the owner's ``__init__`` lines (``name`` gives a symbol's source, ``write`` an
    # op's constructor), ``source`` the owner's method that ``forward`` calls by the op's
    # name, and ``walk`` names its rows under the owner
    members: Callable[[Callable[[Sym], str], Callable[[Op], str]], list[str]] | None = None
    # its trailing parameters and their defaults: model.py passes these by keyword, and
    # leaves out those at their default (``ConvNormAct(width, out, 1, apply_act=False)``)
    keywords: tuple[tuple[str, Sym], ...] = ()
    needs: tuple[str, ...] = ()  # the keys of the modules of our own its class builds
    depth: int = 0  # the convs it counts for in a network's depth (a conv block: 1)
    zero_init: str = ""  # its weight zero-init-residual zeroes, as the block's last ("bn.weight")


@dataclass(frozen=True)
class AttentionKind:
    """Channel attention in a block's ``se`` slot: after the branch's last norm, before the
    residual add (timm's ``attn_layer``; the slot keeps timm's attribute name, ``se``).

    ``present(design)``: whether a block of that (stage's view of the) design has it.
    ``check(design)``: why the design cannot use it ("" when it can). ``recover(firsts)``:
    from each stage's first block's tensors (names relative to the block, ``se.fc1.weight``),
    the design fields that give them, or None when these are not its tensors.
    """

    name: str  # the design's ``attention`` value
    module: str  # the key of its module in CUSTOM_MODULES
    present: Callable[[Design], bool]
    summary: Callable[[Design], str]  # model.py's docstring words for it
    recover: Callable[[Sequence[Mapping[str, Shape]]], RecoveredFields | None]
    check: Callable[[Design], str] = lambda design: ""


def same_order_kinds(preact: bool) -> list[str]:
    """The block kinds of one activation order: those a network of that order may mix."""
    return [name for name, kind in BLOCK_KINDS.items() if kind.preact == preact]


def symbols(ops: Sequence[Op]) -> frozenset[str]:
    """Every symbol ``ops`` read ("in", "width", "groups"...), inside sequences too."""
    found: set[str] = set()
    for op in ops:
        if isinstance(op, Seq):
            found |= symbols(op.ops)
        elif isinstance(op, Custom):
            found.update(arg for arg in op.args if isinstance(arg, str))
        else:
            values = (getattr(op, f.name) for f in fields(op) if f.name != "name")
            found.update(value for value in values if isinstance(value, str))
    return frozenset(found)


BLOCK_KINDS: dict[str, BlockKind] = {}
STEM_KINDS: dict[str, StemKind] = {}
SHORTCUT_KINDS: dict[str, ShortcutKind] = {}
CUSTOM_MODULES: dict[str, CustomModule] = {}
ATTENTIONS: dict[str, AttentionKind] = {}


def register(kind: BlockKind | StemKind | ShortcutKind | CustomModule | AttentionKind) -> None:
    """Add a kind to its registry; a second kind of the same name is a programming error."""
    registries: dict[type, dict[str, Any]] = {
        BlockKind: BLOCK_KINDS,
        StemKind: STEM_KINDS,
        ShortcutKind: SHORTCUT_KINDS,
        CustomModule: CUSTOM_MODULES,
        AttentionKind: ATTENTIONS,
    }
    table = registries[type(kind)]
    name = kind.key if isinstance(kind, CustomModule) else kind.name
    if name in table:
        raise ValueError(f"{type(kind).__name__} {name!r} is registered twice")
    table[name] = kind
