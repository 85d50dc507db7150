"""Design -> one standalone ``model.py`` that needs only torch.

Every part comes from its one description in :mod:`designer.core.blocks` (the
ops the analysis walks, written out by :mod:`designer.core.codegen.emit`), with
torchvision's attribute names, so torchvision's state-dict keys for the
torchvision-shaped presets. The app builds its network by running this very text
(:mod:`designer.core.torch.build`), so what it counts and verifies is what it
exports. It is specialised to the design: only the block class it uses, the
activation named directly (``self.silu``), every stage written out, so
``forward`` is plain straight-line code for ``torch.compile``.

Nothing from the design reaches the text except validated numbers and choice
strings (through :mod:`designer.core.codegen.naming`) and the name, which only
appears escaped inside the docstring and inside a ``repr``-quoted constant.
"""

from __future__ import annotations

import json
import re
import textwrap
from dataclasses import dataclass
from functools import cached_property

from designer.core.analysis import analyse
from designer.core.blocks import ATTENTIONS, CUSTOM_MODULES, NORMS, BlockLayout
from designer.core.blocks.anti_alias import ANTI_ALIAS
from designer.core.blocks.branch import attention_op, branch_ops, is_attention
from designer.core.blocks.norms import folded
from designer.core.blocks.ops import Act, Custom, Sym
from designer.core.blocks.stems import POOL_SUMMARIES
from designer.core.codegen.emit import Emitter, fit
from designer.core.codegen.naming import (
    Namespace,
    display_width,
    docstring_text,
    number_literal,
    string_literal,
)
from designer.core.design import (
    Design,
    stage_design,
    stage_dilations,
    validate,
)
from designer.core.io import design_to_dict
from designer.core.plan import BlockPlan, NetworkPlan
from designer.core.plan import plan as network_plan

_JSON_CHUNK = 76  # source characters per line of DESIGN_JSON


@dataclass(frozen=True)
class _Variant:
    """One block class of the text: a kind (and stride place) some stages use."""

    key: str  # "bottleneck", or "bottleneck_1x1" beside it when stages place the stride apart
    design: Design  # a stage's view of the design (its overrides applied)
    class_name: str
    stages: tuple[int, ...]  # the indices of the stages built from it

    @property
    def layout(self) -> BlockLayout:
        return self.design.block_kind.layout(self.design)

    @property
    def inner(self) -> bool:
        """Its blocks have an inner (grouped) width apart from their output width."""
        return self.design.block_kind.grouped


@dataclass
class _Plan:
    """What the emitter needs to know, worked out once from the design."""

    design: Design
    network: NetworkPlan
    layout: BlockLayout
    emitter: Emitter
    has_shortcut: bool  # some block changes width or resolution
    optional_pre: bool  # the first block skips its pre-activation (the stem ends in one)
    variants: tuple[_Variant, ...]  # the block classes, the network-wide kind's first
    per_stage: frozenset[str]  # options that differ between stages: Stage fields, not constants
    stage_designs: tuple[Design, ...]
    dilations: tuple[tuple[int, int, int], ...]

    @classmethod
    def of(cls, design: Design) -> _Plan:
        network = network_plan(design)
        layout = design.block_kind.layout(design)
        stage_designs = tuple(stage_design(design, stage) for stage in design.stages)
        return cls(
            design=design,
            network=network,
            layout=layout,
            emitter=Emitter(
                Namespace().name(design.activation), design.conv_bias, design.norm, design.std_conv
            ),
            has_shortcut=any(b.shortcut != "identity" for b in network.blocks),
            optional_pre=bool(layout.pre) and not all(b.runs_pre for b in network.blocks),
            variants=_variants(design, stage_designs),
            per_stage=_per_stage(design, stage_designs),
            stage_designs=stage_designs,
            dilations=stage_dilations(design),
        )

    @property
    def act(self) -> str:
        return self.emitter.act

    @cached_property
    def shortcut_dilates(self) -> bool:
        """Whether ``shortcut()`` takes its stage's dilation: a dilated stage's has a form of
        its own (timm's ResNet-D pool at stride 1)."""
        return "dilation" in self.per_stage and self.design.shortcut_kind.dilated is not None

    @cached_property
    def firsts(self) -> list[BlockPlan]:
        """Each stage's first block (its widths, as the plan resolves them)."""
        return [block for block in self.network.blocks if block.number == 0]

    @property
    def mixed(self) -> bool:
        """Stages use more than one block class (each then has its own stage builder)."""
        return len(self.variants) > 1

    @property
    def any_bottleneck(self) -> bool:
        return any(v.inner for v in self.variants)

    @property
    def out_field(self) -> str:
        """The Stage field holding a stage's output channels."""
        return "out_width" if self.any_bottleneck else "width"

    @property
    def attention(self) -> bool:
        """Some stage's blocks have the design's attention module."""
        kind = ATTENTIONS[self.design.attention]
        return any(kind.present(d) for d in self.stage_designs)

    @property
    def se(self) -> bool:
        """The attention is squeeze-excite, whose ratio (and rounding) are constants."""
        return self.attention and attention_op(self.design).module == "squeeze_excite"

    @property
    def groups(self) -> int:
        """The bottlenecks' groups when every stage has the same (GROUPS), else 1."""
        values = {d.groups for d in self.stage_designs if d.block_kind.grouped}
        return values.pop() if len(values) == 1 else 1

    @property
    def se_ratio(self) -> float:
        """The squeeze-excite ratio when every stage has the same (SE_RATIO)."""
        return self.stage_designs[0].se_ratio

    @property
    def drop_path(self) -> bool:
        return self.design.drop_path_rate > 0

    @property
    def bias(self) -> str:
        return "True" if self.design.conv_bias else "False"

    def variant_of(self, stage: int) -> _Variant:
        return next(v for v in self.variants if stage in v.stages)


def _variant_key(design: Design) -> str:
    kind = design.block_kind
    return f"{kind.name}_{design.stride_on}" if kind.places_stride else kind.name


def _variants(design: Design, stage_designs: tuple[Design, ...]) -> tuple[_Variant, ...]:
    """The block classes: one per (kind, stride place) that stages use, in order of use."""
    keys: dict[str, list[int]] = {}
    for i, d in enumerate(stage_designs):
        keys.setdefault(_variant_key(d), []).append(i)
    names: dict[str, str] = {}
    for key, stages in keys.items():
        d = stage_designs[stages[0]]
        name = d.block_kind.class_name
        if name in names.values():  # a second stride place of one kind
            name += "Stride" + d.stride_on
        names[key] = name
    return tuple(
        _Variant(key, stage_designs[stages[0]], names[key], tuple(stages))
        for key, stages in keys.items()
    )


def _per_stage(design: Design, stage_designs: tuple[Design, ...]) -> frozenset[str]:
    out = set()
    if len({d.groups for d in stage_designs if d.block_kind.grouped}) > 1:
        out.add("groups")
    if len({d.se_ratio for d in stage_designs}) > 1:
        out.add("se_ratio")
    if any(stage.dilate for stage in design.stages):
        out.add("dilation")
    return frozenset(out)


def render_model_py(design: Design) -> str:
    """The standalone ``model.py`` of ``design`` (deterministic: same design, same text)."""
    validate(design)
    plan = _Plan.of(design)
    # the parts first: the helpers and module classes are those their text uses
    parts = [*(_block(plan, v) for v in plan.variants), *_stage_builders(plan), _resnet(plan)]
    shortcut = [_shortcut_fn(plan)] if plan.has_shortcut else []
    sections = [
        _docstring(plan),
        _imports(plan),
        _constants(plan),
        _stage_class(plan),
        _stages(plan),
        *_helpers(plan),
        *shortcut,
        *_modules(plan),
        *parts,
        _build_model(),
        _design_json(plan),
        _main(),
    ]
    # one blank line after the docstring and the imports, two between the rest (as ruff)
    docstring, imports, *body = sections
    return docstring + "\n\n" + imports + "\n\n" + "\n\n\n".join(body) + "\n"


# --- header -----------------------------------------------------------------------------------


def _field(label: str, text: str) -> list[str]:
    """``Label:  text`` wrapped under itself, so that no docstring line passes 88 columns."""
    indent = " " * 16
    return textwrap.wrap(text, 88, initial_indent=f"{label}:".ljust(16), subsequent_indent=indent)


def _docstring(plan: _Plan) -> str:
    d = plan.design
    result = analyse(d)
    name = docstring_text(d.name) or "Untitled"
    extras = [f"{d.shortcut} shortcuts", f"{d.activation} activation"]
    if d.stem.pool in POOL_SUMMARIES:
        extras.append(POOL_SUMMARIES[d.stem.pool])
    if d.norm != "batch":
        extras.append(NORMS[d.norm].summary or f"{d.norm} norm")
    if d.std_conv:
        extras.append("weight-standardised convs (StdConv2d, Qiao et al. 2019)")
    if d.anti_alias in ANTI_ALIAS:
        extras.append(f"anti-aliased downsampling ({ANTI_ALIAS[d.anti_alias].summary}, Zhang 2019)")
    if plan.attention and "se_ratio" not in plan.per_stage:
        extras.append(ATTENTIONS[d.attention].summary(plan.stage_designs[0]))
    if d.drop_path_rate > 0:
        extras.append(f"stochastic depth {number_literal(d.drop_path_rate)}")
    if d.block_dropout > 0:
        extras.append(f"dropout {number_literal(d.block_dropout)} in each block")
    if not d.stem.norm_act:
        extras.append("the stem's norm and activation left to the first block")
    if d.conv_bias:
        extras.append("conv biases")
    if d.zero_init_residual:
        extras.append("zero-init residual")
    head = "global average pool"
    for width in d.head.hidden:
        head += f", linear {width}"
    if d.head.dropout > 0:
        head += f", dropout {number_literal(d.head.dropout)}"
    head += f", linear {d.num_classes}" if d.num_classes else " (no classifier: the features)"
    lines = [
        f'"""{name}',
        "",
        "A ResNet-family network generated by ResNet Designer. Standalone: it needs only",
        "torch. ``build_model()`` returns the network freshly initialised; run",
        "``python model.py`` to build it and check one forward pass.",
        "",
        *_field("Input", f"{d.input.channels} x {d.input.height} x {d.input.width}"),
        *_field("Stem", d.stem_kind.summary(d.stem.width)),
        *_field("Blocks", "; ".join(_describe_blocks(plan))),
        *_field("Options", ", ".join(extras)),
        *_field("Head", head),
        f"Parameters:     {result.params:,}",
        f"Multiply-adds:  {result.macs:,} (torchinfo's count, one input)",
        "",
        "Stages:",
    ]
    for s, (stage, shape) in enumerate(zip(d.stages, result.stage_shapes, strict=True)):
        out = " x ".join(str(v) for v in shape)
        sd = plan.stage_designs[s]
        width = plan.firsts[s].width
        blocks = "block" if stage.depth == 1 else "blocks"
        if plan.mixed:
            blocks = f"{sd.block_kind.label} {blocks}"
        first_stride, _, dilation = plan.dilations[s]
        text = f"    layer{s + 1}: {stage.depth} {blocks}, width {width}, stride {first_stride}"
        if dilation > 1:
            text += f", dilation {dilation}"
        if "groups" in plan.per_stage and sd.groups > 1:
            text += f", {sd.groups} groups"
        if "se_ratio" in plan.per_stage and sd.se_ratio > 0:
            text += f", squeeze-excite {number_literal(sd.se_ratio)}"
        lines += textwrap.wrap(f"{text} -> {out}", 88, subsequent_indent=" " * 8)
    lines.append('"""')
    return "\n".join(lines)


def _describe_blocks(plan: _Plan) -> list[str]:
    """What the module docstring says of each block class (per stage where they differ)."""
    # where stages differ in groups, the stage lines say each stage's
    grouping = "groups" not in plan.per_stage
    if not plan.mixed and grouping:
        return [plan.design.block_kind.describe(plan.variants[0].design, grouping)]
    out = []
    for v in plan.variants:
        stages = ", ".join(f"layer{i + 1}" for i in v.stages)
        out.append(f"{stages}: {v.design.block_kind.describe(v.design, grouping)}")
    return out


def _imports(plan: _Plan) -> str:
    used = [CUSTOM_MODULES[key] for key in plan.emitter.used & set(CUSTOM_MODULES)]
    extra = {line for module in used for line in module.imports}
    stdlib = {line for module in used for line in module.stdlib}
    stdlib.add("from typing import NamedTuple")
    if plan.drop_path:
        stdlib.add("from collections.abc import Iterator")
    # as isort orders them: plain imports first, then from-imports, each alphabetical
    lines = [
        *sorted(stdlib, key=lambda line: (line.startswith("from "), line)),
        "",
        "import torch",
        *sorted(extra),
        "from torch import nn",
    ]
    return "\n".join(lines)


def _constants(plan: _Plan) -> str:
    d = plan.design
    result = analyse(d)
    lines = [
        f"IN_CHANNELS = {d.input.channels}",
        f"INPUT_SIZE = ({d.input.height}, {d.input.width})  # height, width",
        f"NUM_CLASSES = {d.num_classes}",
    ]
    if d.stem.kind != "none":
        lines.append(f"STEM_WIDTH = {d.stem.width}")
    grouped = {"grouped", "grouped_module"} & plan.emitter.used
    if grouped and "groups" not in plan.per_stage:
        lines.append(f"GROUPS = {plan.groups}  # grouped 3x3 convs (ResNeXt cardinality)")
    kinds = (v.design.block_kind.constants(v.design) for v in plan.variants)
    lines += dict.fromkeys(line for constants in kinds for line in constants)
    if plan.se and "se_ratio" not in plan.per_stage:
        lines.append(f"SE_RATIO = {number_literal(plan.se_ratio)}  # squeeze-excite reduction")
    if plan.se and d.se_divisor:
        lines.append(f"SE_DIVISOR = {d.se_divisor}  # squeezed widths are multiples of it")
    if d.head.conv:
        lines.append(f"NUM_FEATURES = {d.head.conv}  # the final 1x1 conv's width, before the pool")
    if d.head.hidden:
        lines.append("# widths of the classifier's hidden layers")
        if len(d.head.hidden) == 1:
            lines.append(f"HIDDEN_WIDTHS = ({d.head.hidden[0]},)")
        else:
            lines += fit("", "HIDDEN_WIDTHS = (", [str(w) for w in d.head.hidden], ")")
    if d.head.dropout > 0:
        lines.append(f"DROPOUT = {number_literal(d.head.dropout)}")
    if d.block_dropout > 0:
        lines.append(
            f"BLOCK_DROPOUT = {number_literal(d.block_dropout)}  # before each block's last conv"
        )
    if plan.drop_path:
        rate = number_literal(d.drop_path_rate)
        lines.append(f"DROP_PATH_RATE = {rate}  # stochastic depth: the last block's rate")
    lines.append(f"EXPECTED_PARAMETERS = {result.params:_}")
    return "\n".join(lines)


def _stage_class(plan: _Plan) -> str:
    lines = [
        "class Stage(NamedTuple):",
        '    """``blocks`` residual blocks; the first one applies ``stride``."""',
        "",
        "    blocks: int",
    ]
    if plan.any_bottleneck:
        width = "the 3x3 convolution's channels"
        if not all(v.inner for v in plan.variants):
            width += " (a basic block's: out_width)"
        lines += [f"    width: int  # {width}", "    out_width: int  # the stage's output channels"]
    else:
        lines.append("    width: int  # the stage's channels")
    lines.append("    stride: int")
    if "groups" in plan.per_stage:
        lines.append("    groups: int  # grouped 3x3 convs (ResNeXt cardinality)")
    if "se_ratio" in plan.per_stage:
        lines.append("    se_ratio: float  # squeeze-excite reduction (0: none)")
    if "dilation" in plan.per_stage:
        lines.append(
            "    dilation: int  # of the 3x3 convs: a stride replaced by dilation keeps the size"
        )
    return "\n".join(lines)


def _stages(plan: _Plan) -> str:
    d = plan.design
    lines = ["STAGES = ("]
    for s, stage in enumerate(d.stages):
        sd = plan.stage_designs[s]
        first_stride, _, dilation = plan.dilations[s]
        fields = [f"blocks={stage.depth}"]
        first = plan.firsts[s]
        if plan.any_bottleneck:
            fields += [f"width={first.width}", f"out_width={first.out_channels}"]
        else:
            fields.append(f"width={first.out_channels}")
        fields.append(f"stride={first_stride}")
        if "groups" in plan.per_stage:
            fields.append(f"groups={sd.groups if sd.block_kind.grouped else 1}")
        if "se_ratio" in plan.per_stage:
            fields.append(f"se_ratio={number_literal(sd.se_ratio)}")
        if "dilation" in plan.per_stage:
            fields.append(f"dilation={dilation}")
        lines += fit("    ", "Stage(", fields, "),")
    lines.append(")")
    return "\n".join(lines)


def _design_json(plan: _Plan) -> str:
    """The design itself, as a string constant, so that the app can reopen a model.py."""
    text = json.dumps(design_to_dict(plan.design), ensure_ascii=False, separators=(", ", ": "))
    # break after ", " where possible, inside a (long) string only where it must
    pieces = []
    for token in re.split(r"(?<=, )", text):
        if display_width(string_literal(token)) <= _JSON_CHUNK:
            pieces.append(token)
        else:
            pieces.extend(token)
    chunks: list[str] = []
    current = ""
    for piece in pieces:
        if current and display_width(string_literal(current + piece)) > _JSON_CHUNK:
            chunks.append(current)
            current = ""
        current += piece
    chunks.append(current)
    lines = [
        "# The design this file was generated from (ResNet Designer can open it again).",
        "DESIGN_JSON = (",
        *(f"    {string_literal(chunk)}" for chunk in chunks),
        ")",
    ]
    return "\n".join(lines)


# --- helpers and small modules ----------------------------------------------------------------


def _helpers(plan: _Plan) -> list[str]:
    bias = f"bias={plan.bias}"
    used = plan.emitter.used
    conv = plan.emitter.conv_class if plan.design.std_conv else "nn.Conv2d"
    params = ["in_channels: int", "out_channels: int", "stride: int = 1"]
    out = []
    if "conv3x3" in used:
        conv_args = ["in_channels", "out_channels", "kernel_size=3", "stride=stride", "padding=1"]
        conv3_params = params
        if "grouped" in used:
            conv3_params = [*conv3_params, "groups: int = 1"]
            conv_args.append("groups=groups")
        if "dilated" in used:
            conv3_params = [*conv3_params, "dilation: int = 1"]
            conv_args[4] = "padding=dilation"
            conv_args.append("dilation=dilation")
        conv3 = [
            *fit("", "def conv3x3(", conv3_params, ") -> nn.Conv2d:"),
            '    """3x3 convolution, padded to keep the size (divided by ``stride``)."""',
            *fit("    ", f"return {conv}(", [*conv_args, bias], ")"),
        ]
        out.append("\n".join(conv3))
    if "conv1x1" in used:
        conv1_args = ["in_channels", "out_channels", "kernel_size=1", "stride=stride", bias]
        conv1 = [
            *fit("", "def conv1x1(", params, ") -> nn.Conv2d:"),
            '    """1x1 convolution: changes the number of channels."""',
            *fit("    ", f"return {conv}(", conv1_args, ")"),
        ]
        out.append("\n".join(conv1))
    return out


_SHORTCUT_NAMES: dict[str, Sym] = {
    "in": "in_channels",
    "out": "out_channels",
    "stride": "stride",
    "extra": "out_channels - in_channels",
}


def _shortcut_fn(plan: _Plan) -> str:
    """``shortcut()``: None for identity, else the design's shortcut kind, as it declares it."""
    d = plan.design
    kind = d.shortcut_kind
    norm = plan.network.shortcut_norm
    emit = plan.emitter
    params = ["in_channels: int", "out_channels: int", "stride: int"]
    if plan.shortcut_dilates:
        params.append("dilation: int = 1")
    lines = [
        *fit("", "def shortcut(", params, ") -> nn.Module | None:"),
        f'    """Identity (None) unless the block changes size: then {kind.summary}."""',
        "    if stride == 1 and in_channels == out_channels:",
        "        return None",
    ]
    if plan.shortcut_dilates and kind.dilated is not None:
        lines += [
            "    if dilation > 1:  # a dilated stage keeps its resolution",
            *emit.assign("        ", "return ", kind.dilated(norm), _SHORTCUT_NAMES),
        ]
    plain = emit.assign("        ", "return ", kind.ops(False, norm), _SHORTCUT_NAMES)
    strided = emit.assign("    ", "return ", kind.ops(True, norm), _SHORTCUT_NAMES)
    if [line.strip() for line in plain] != [line.strip() for line in strided]:
        lines += ["    if stride == 1:", *plain]
    if kind.comment:
        lines.append(f"    # {kind.comment}")
    return "\n".join([*lines, *strided])


def _modules(plan: _Plan) -> list[str]:
    """The classes of our own that the text uses (squeeze-excite, zero-pad), in registry order."""
    used = plan.emitter.used
    # a torch class (nn.ZeroPad2d) has no source of ours; a module written into its owner
    # (Res2Net's cascade) is the owner's method
    sources = (
        m.source(plan.design)
        for key, m in CUSTOM_MODULES.items()
        if key in used and m.members is None
    )
    return [source for source in sources if source]


# --- the residual block -----------------------------------------------------------------------


def _block_names(plan: _Plan, variant: _Variant) -> dict[str, Sym]:
    """What each symbol of the kind's ops is called inside its class."""
    groups: Sym = 1
    if variant.inner and "groups" in plan.per_stage:
        groups = "groups"
    elif variant.inner and plan.groups > 1:
        groups = "GROUPS"
    dilated = "dilation" in plan.per_stage
    names: dict[str, Sym] = {
        "in": "in_channels",
        "stride": "stride",
        "groups": groups,
        "drop_path": "drop_path",
        # a bottleneck has one 3x3, which takes the block's (first) dilation, as torchvision's
        # (unless its shortcut needs the stage's own: then timm's first_dilation)
        "dil_first": _first_dilation(plan, variant) if dilated else 1,
        "dil": "dilation" if dilated else 1,
    }
    if variant.inner:
        names.update({"width": "width", "out": "out_channels"})
    else:
        names["out"] = "width"
    d = variant.design
    names.update((name, inner.source) for name, inner in d.block_kind.channels(d).items())
    return names


def _first_dilation(plan: _Plan, variant: _Variant) -> str:
    """The name of the block's parameter its first dilated conv takes."""
    return "dilation" if variant.inner and not plan.shortcut_dilates else "first_dilation"


def _block_params(plan: _Plan, variant: _Variant) -> list[str]:
    """The block class's constructor parameters (a bottleneck's: torchvision's first four)."""
    params = ["self", "in_channels: int", "width: int"]
    if variant.inner:
        params.append("out_channels: int")
    params.append("stride: int = 1")
    if plan.optional_pre and 0 in variant.stages:
        params.append("preactivate: bool = True")
    return params + [declared for declared, _ in _block_options(plan, variant)]


def _block_options(plan: _Plan, variant: _Variant) -> list[tuple[str, str]]:
    """The block's per-stage keyword parameters: (declaration, what its stage builder passes)."""
    out = []
    if variant.inner and "groups" in plan.per_stage:
        out.append(("groups: int = 1", "groups=stage.groups"))
    if "se_ratio" in plan.per_stage:
        out.append(("se_ratio: float = 0.0", "se_ratio=stage.se_ratio"))
    if "dilation" in plan.per_stage and variant.inner and not plan.shortcut_dilates:
        out.append(("dilation: int = 1", "dilation=dilation"))
    elif "dilation" in plan.per_stage:
        out.append(("dilation: int = 1", "dilation=stage.dilation"))
        out.append(("first_dilation: int = 1", "first_dilation=first_dilation"))
    if plan.drop_path:
        out.append(("drop_path: float = 0.0", "drop_path=next(drop_paths)"))
    return out


def _block(plan: _Plan, variant: _Variant) -> str:
    """A block class, written from the ops its kind declares and the design's extras."""
    d = variant.design
    layout, emit = variant.layout, plan.emitter
    optional_pre = plan.optional_pre and 0 in variant.stages
    names = _block_names(plan, variant)
    out_ch = str(names["out"])
    # the class carries the attention if any of its stages does (optional where some do not)
    main = branch_ops(layout, d, attention=plan.attention)
    se_optional = "se_ratio" in plan.per_stage
    registered: set[str] = set()
    init = [
        *fit("    ", "def __init__(", _block_params(plan, variant), ") -> None:"),
        "        super().__init__()",
    ]
    if optional_pre:
        init.append("        # the first block of the network follows the stem's BN-activation")
    pre_condition = "preactivate" if optional_pre else ""
    init += emit.init("        ", layout.pre, names, registered, optional=pre_condition)
    dilation = ", dilation" if plan.shortcut_dilates else ""
    shortcut_line = f"        self.downsample = shortcut(in_channels, {out_ch}, stride{dilation})"
    if plan.has_shortcut and layout.tap == "pre":
        init.append(shortcut_line)
    for op in main:
        if is_attention(op) and se_optional:
            assert isinstance(op, Custom)
            channels = op.args[0] if isinstance(op.args[0], int) else names[op.args[0]]
            init.append(
                f"        self.se = SqueezeExcite({channels}, se_ratio) if se_ratio > 0 else None"
            )
            emit.used.add(attention_op(d).module)
        else:
            init += emit.init("        ", (op,), names, registered)
    if plan.has_shortcut and layout.tap == "input":
        init.append(shortcut_line)
    init += emit.init("        ", layout.post, names, registered)

    forward = ["    def forward(self, x: torch.Tensor) -> torch.Tensor:"]
    src = "x"
    if layout.pre:
        (pre,) = emit.statements(layout.pre, "x", "pre")
        if optional_pre:
            first = next(op.name for op in layout.pre if op.name)
            pre = f"x if self.{first} is None else {pre}"
        forward.append(f"        pre = {pre}")
        src = "pre"
    identity = f"        identity = x if self.downsample is None else self.downsample({src})"
    if plan.has_shortcut and layout.tap == "pre":
        forward.append(identity)
    preactivated = bool(layout.pre)
    for expr in emit.statements(main, src, "out", preactivated=preactivated):
        if se_optional and expr == "self.se(out)":
            expr = "out if self.se is None else self.se(out)"
        forward.append(f"        out = {expr}")
    if plan.has_shortcut and layout.tap == "input":
        forward.append(identity)
    total = "out + identity" if plan.has_shortcut else "out + x"
    (result,) = emit.statements(layout.post, total, "out") or [total]
    forward.append(f"        return {result}")
    # modules written into the block: their methods, which forward calls
    inline = [CUSTOM_MODULES[op.module] for op in main if isinstance(op, Custom)]
    methods = [part for m in inline if m.members is not None for part in ("", m.source(d))]
    lines = [
        f"class {variant.class_name}(nn.Module):",
        f'    """{d.block_kind.summary(d)}"""',
        "",
        *init,
        "",
        *forward,
        *methods,
    ]
    return "\n".join(lines)


def _stage_builder_name(plan: _Plan, variant: _Variant) -> str:
    return f"make_{variant.key.removesuffix('_3x3')}_stage" if plan.mixed else "make_stage"


def _stage_builders(plan: _Plan) -> list[str]:
    out = [_stage_builder(plan, v) for v in plan.variants]
    d = plan.design
    if d.head.hidden:
        layer = ["nn.Linear(in_features, width)", plan.emitter.act_call, "nn.BatchNorm1d(width)"]
        hidden = [
            "def make_hidden(in_features: int, widths: tuple[int, ...]) -> nn.Sequential:",
            '    """Hidden classifier layers: linear, activation, BatchNorm, for each width."""',
            "    layers: list[nn.Module] = []",
            "    for width in widths:",
            *fit("        ", "layer = nn.Sequential(", layer, ")"),
            "        layers.append(layer)",
            "        in_features = width",
            "    return nn.Sequential(*layers)",
        ]
        out.append("\n".join(hidden))
    return out


def _stage_builder(plan: _Plan, variant: _Variant) -> str:
    args = ["in_channels"]
    if variant.inner:
        args += ["stage.width", "stage.out_width"]
    else:
        args.append(f"stage.{plan.out_field}")
    args.append("stride")
    params = ["in_channels: int", "stage: Stage"]
    if plan.drop_path:
        params.append("drop_paths: Iterator[float]")
    loop = ["        stride = stage.stride if i == 0 else 1"]
    if plan.optional_pre and 0 in variant.stages:
        params.append("preactivate_first: bool = True")
        loop.append("        preactivate = i > 0 or preactivate_first")
        args.append("preactivate")
    if "dilation" in plan.per_stage:
        params.append("previous_dilation: int = 1")
        first = _first_dilation(plan, variant)
        loop.append(f"        {first} = previous_dilation if i == 0 else stage.dilation")
    args += [passed for _, passed in _block_options(plan, variant)]
    lines = [
        *fit("", f"def {_stage_builder_name(plan, variant)}(", params, ") -> nn.Sequential:"),
        '    """A stage of blocks; only the first changes the stride and the channels."""',
        "    blocks: list[nn.Module] = []",
        "    for i in range(stage.blocks):",
        *loop,
        *fit("        ", f"block = {variant.class_name}(", args, ")"),
        "        blocks.append(block)",
        f"        in_channels = stage.{plan.out_field}",
        "    return nn.Sequential(*blocks)",
    ]
    return "\n".join(lines)


# --- the network ------------------------------------------------------------------------------


def _resnet(plan: _Plan) -> str:
    d = plan.design
    act, emit = plan.act, plan.emitter
    stem = d.stem_kind
    n = len(d.stages)
    registered: set[str] = set()
    init = [
        "class ResNet(nn.Module):",
        '    """Stem, residual stages, pool and classifier, with torchvision\'s names."""',
        "",
        "    def __init__(self, num_classes: int = NUM_CLASSES) -> None:",
        "        super().__init__()",
    ]
    if stem.comment:
        init.append(f"        # {stem.comment}")
    names: dict[str, Sym] = {"in": "IN_CHANNELS", "width": "STEM_WIDTH"}
    names.update((name, inner.source) for name, inner in stem.channels.items())
    init += emit.init("        ", d.stem_ops, names, registered)
    head_ops = plan.network.head_ops
    # the head's BN-activation shares the stem's (a norm that activates itself has none)
    if any(isinstance(op, Act) for op in folded(head_ops, d.norm)) and act not in registered:
        init.append(f"        self.{act} = {emit.act_call}")
        registered.add(act)  # once: the head's own ops must not declare it again
    forward = ["    def forward(self, x: torch.Tensor) -> torch.Tensor:"]
    forward += [f"        x = {expr}" for expr in emit.statements(d.stem_ops, "x", "x")]
    previous = "STEM_WIDTH" if stem.ops else "IN_CHANNELS"
    if plan.drop_path:
        init += [
            "        # stochastic depth: block i of n drops with DROP_PATH_RATE * i / (n - 1)",
            "        n = sum(stage.blocks for stage in STAGES)",
            "        drop_paths = iter([DROP_PATH_RATE * i / max(n - 1, 1) for i in range(n)])",
        ]
    for s in range(n):
        builder = _stage_builder_name(plan, plan.variant_of(s))
        args = [previous, f"STAGES[{s}]"]
        if plan.drop_path:
            args.append("drop_paths")
        if "dilation" in plan.per_stage and s > 0:
            args.append(f"previous_dilation=STAGES[{s - 1}].dilation")
        if s == 0 and plan.optional_pre:
            init.append(
                "        # the stem ends in BN-activation: the first block need not repeat it"
            )
            args.append("preactivate_first=False")
        init += fit("        ", f"self.layer{s + 1} = {builder}(", args, ")")
        forward.append(f"        x = self.layer{s + 1}(x)")
        previous = f"STAGES[{s}].{plan.out_field}"
    features = f"STAGES[-1].{plan.out_field}"
    head_names: dict[str, Sym] = {"features": features, "num_features": "NUM_FEATURES"}
    init += emit.init("        ", head_ops, head_names, registered)
    forward += [f"        x = {expr}" for expr in emit.statements(head_ops, "x", "x")]
    if d.head.conv:
        features = "NUM_FEATURES"
    init += [
        "        self.avgpool = nn.AdaptiveAvgPool2d(1)",
        "        self.flatten = nn.Flatten(1)",
    ]
    forward.append("        x = self.flatten(self.avgpool(x))")
    if d.head.hidden:
        init.append(f"        self.hidden = make_hidden({features}, HIDDEN_WIDTHS)")
        forward.append("        x = self.hidden(x)")
        features = "HIDDEN_WIDTHS[-1]"
    if d.head.dropout > 0:
        init.append("        self.dropout = nn.Dropout(DROPOUT)")
        forward.append("        x = self.dropout(x)")
    init += [
        f"        self.fc = {_classifier(plan, features)}",
        "        self._init_weights()",
    ]
    forward.append("        return self.fc(x)")
    return "\n".join([*init, "", *_init_weights(plan), "", *forward])


def _classifier(plan: _Plan, features: str) -> str:
    """The fc layer; a design without classes has none (timm's num_classes=0), unless asked."""
    if plan.design.num_classes:
        return f"nn.Linear({features}, num_classes)"
    return f"nn.Linear({features}, num_classes) if num_classes else nn.Identity()"


def _init_weights(plan: _Plan) -> list[str]:
    d = plan.design
    classes = [NORMS[d.norm].source.split("(")[0]]
    if d.head.hidden:
        classes.append("nn.BatchNorm1d")
    norms = f"({', '.join(classes)})" if len(classes) > 1 else classes[0]
    lines = [
        "    def _init_weights(self) -> None:",
        '        """He (fan-out) init for convs, BatchNorm as identity: as torchvision."""',
        "        for m in self.modules():",
        "            if isinstance(m, nn.Conv2d):",
        '                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")',
    ]
    if d.conv_bias or plan.se:  # squeeze-excite's 1x1 convs have biases
        lines += [
            "                if m.bias is not None:",
            "                    nn.init.zeros_(m.bias)",
        ]
    lines += [
        f"            elif isinstance(m, {norms}):",
        "                nn.init.ones_(m.weight)",
        "                nn.init.zeros_(m.bias)",
    ]
    if d.zero_init_residual:
        lines += [
            "        # each residual branch starts at zero, so every block starts as the identity",
            "        for m in self.modules():",
        ]
        for i, v in enumerate(plan.variants):
            lines += [
                f"            {'el' if i else ''}if isinstance(m, {v.class_name}):",
                f"                nn.init.zeros_(m.{v.layout.zero_init_weight})",
            ]
    return lines


def _build_model() -> str:
    return "\n".join(
        [
            "def build_model() -> nn.Module:",
            '    """The network, freshly initialised (seed torch first to repeat it)."""',
            "    return ResNet()",
        ]
    )


def _main() -> str:
    return "\n".join(
        [
            'if __name__ == "__main__":',
            "    model = build_model().eval()",
            "    with torch.no_grad():",
            "        logits = model(torch.randn(1, IN_CHANNELS, *INPUT_SIZE))",
            "    count = sum(p.numel() for p in model.parameters())",
            '    print(f"output shape: {tuple(logits.shape)}")',
            '    print(f"parameters: {count:,}")',
            "    if count != EXPECTED_PARAMETERS:",
            '        raise SystemExit(f"expected {EXPECTED_PARAMETERS:,} parameters")',
        ]
    )
