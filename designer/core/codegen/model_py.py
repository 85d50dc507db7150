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

from designer.core.analysis import analyse, first_block_preactivates
from designer.core.blocks import CUSTOM_MODULES, NORMS, BlockLayout
from designer.core.blocks.ops import Custom, Sym
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
    bottleneck_width,
    stage_out_width,
    stem_out_width,
    validate,
)
from designer.core.io import design_to_dict

_JSON_CHUNK = 76  # source characters per line of DESIGN_JSON


@dataclass
class _Plan:
    """What the emitter needs to know, worked out once from the design."""

    design: Design
    layout: BlockLayout
    emitter: Emitter
    has_shortcut: bool  # some block changes width or resolution
    optional_pre: bool  # the first block skips its pre-activation (the stem ends in one)

    @classmethod
    def of(cls, design: Design) -> _Plan:
        in_ch = stem_out_width(design)
        needs = []
        for stage in design.stages:
            out = stage_out_width(design, stage)
            for b in range(stage.depth):
                stride = stage.stride if b == 0 else 1
                needs.append(stride != 1 or in_ch != out)
                in_ch = out
        layout = design.block_kind.layout(design)
        return cls(
            design=design,
            layout=layout,
            emitter=Emitter(Namespace().name(design.activation), design.conv_bias, design.norm),
            has_shortcut=any(needs),
            optional_pre=bool(layout.pre) and not first_block_preactivates(design),
        )

    @property
    def act(self) -> str:
        return self.emitter.act

    @property
    def block_class(self) -> str:
        return self.design.block_kind.class_name

    @property
    def out_field(self) -> str:
        """The Stage field holding a stage's output channels."""
        return "out_width" if self.design.is_bottleneck else "width"

    @property
    def se(self) -> bool:
        return self.design.se_ratio > 0

    @property
    def bias(self) -> str:
        return "True" if self.design.conv_bias else "False"


def render_model_py(design: Design) -> str:
    """The standalone ``model.py`` of ``design`` (deterministic: same design, same text)."""
    validate(design)
    plan = _Plan.of(design)
    # the parts first: the helpers and module classes are those their text uses
    parts = [_block(plan), *_stage_builders(plan), _resnet(plan)]
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
    if d.stem.pool == "conv":
        extras.append("the stem's max-pool replaced by a strided 3x3 conv (ResNet-RS)")
    if d.norm != "batch":
        extras.append(f"{d.norm} norm")
    if d.se_ratio > 0:
        extras.append(f"squeeze-excite {number_literal(d.se_ratio)}")
    if d.conv_bias:
        extras.append("conv biases")
    if d.zero_init_residual:
        extras.append("zero-init residual")
    head = "global average pool"
    for width in d.head.hidden:
        head += f", linear {width}"
    if d.head.dropout > 0:
        head += f", dropout {number_literal(d.head.dropout)}"
    head += f", linear {d.num_classes}"
    lines = [
        f'"""{name}',
        "",
        "A ResNet-family network generated by ResNet Designer. Standalone: it needs only",
        "torch. ``build_model()`` returns the network freshly initialised; run",
        "``python model.py`` to build it and check one forward pass.",
        "",
        *_field("Input", f"{d.input.channels} x {d.input.height} x {d.input.width}"),
        *_field("Stem", d.stem_kind.summary(d.stem.width)),
        *_field("Blocks", d.block_kind.describe(d)),
        *_field("Options", ", ".join(extras)),
        *_field("Head", head),
        f"Parameters:     {result.params:,}",
        f"Multiply-adds:  {result.macs:,} (torchinfo's count, one input)",
        "",
        "Stages:",
    ]
    for s, (stage, shape) in enumerate(zip(d.stages, result.stage_shapes, strict=True)):
        out = " x ".join(str(v) for v in shape)
        width = bottleneck_width(d, stage) if d.is_bottleneck else stage_out_width(d, stage)
        blocks = "block" if stage.depth == 1 else "blocks"
        lines.append(
            f"    layer{s + 1}: {stage.depth} {blocks}, width {width}, stride {stage.stride}"
            f" -> {out}"
        )
    lines.append('"""')
    return "\n".join(lines)


def _imports(plan: _Plan) -> str:
    extra = {
        line
        for key in plan.emitter.used & set(CUSTOM_MODULES)
        for line in CUSTOM_MODULES[key].imports
    }
    lines = [
        "from typing import NamedTuple",
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
    if "grouped" in plan.emitter.used:
        lines.append(f"GROUPS = {d.groups}  # grouped 3x3 convs (ResNeXt cardinality)")
    if plan.se:
        lines.append(f"SE_RATIO = {number_literal(d.se_ratio)}  # squeeze-excite reduction")
        if d.se_divisor:
            lines.append(f"SE_DIVISOR = {d.se_divisor}  # squeezed widths are multiples of it")
    if d.head.hidden:
        lines.append("# widths of the classifier's hidden layers")
        if len(d.head.hidden) == 1:
            lines.append(f"HIDDEN_WIDTHS = ({d.head.hidden[0]},)")
        else:
            lines += fit("", "HIDDEN_WIDTHS = (", [str(w) for w in d.head.hidden], ")")
    if d.head.dropout > 0:
        lines.append(f"DROPOUT = {number_literal(d.head.dropout)}")
    lines.append(f"EXPECTED_PARAMETERS = {result.params:_}")
    return "\n".join(lines)


def _stage_class(plan: _Plan) -> str:
    lines = [
        "class Stage(NamedTuple):",
        '    """``blocks`` residual blocks; the first one applies ``stride``."""',
        "",
        "    blocks: int",
    ]
    if plan.design.is_bottleneck:
        lines += [
            "    width: int  # the 3x3 convolution's channels",
            "    out_width: int  # the stage's output channels",
        ]
    else:
        lines.append("    width: int  # the stage's channels")
    lines.append("    stride: int")
    return "\n".join(lines)


def _stages(plan: _Plan) -> str:
    d = plan.design
    lines = ["STAGES = ("]
    for stage in d.stages:
        fields = [f"blocks={stage.depth}"]
        if d.is_bottleneck:
            fields += [
                f"width={bottleneck_width(d, stage)}",
                f"out_width={stage_out_width(d, stage)}",
            ]
        else:
            fields.append(f"width={stage_out_width(d, stage)}")
        fields.append(f"stride={stage.stride}")
        lines.append(f"    Stage({', '.join(fields)}),")
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
    params = ["in_channels: int", "out_channels: int", "stride: int = 1"]
    out = []
    if "conv3x3" in used:
        conv_args = ["in_channels", "out_channels", "kernel_size=3", "stride=stride", "padding=1"]
        conv3_params = params
        if "grouped" in used:
            conv3_params = [*params, "groups: int = 1"]
            conv_args.append("groups=groups")
        conv3 = [
            *fit("", "def conv3x3(", conv3_params, ") -> nn.Conv2d:"),
            '    """3x3 convolution, padded to keep the size (divided by ``stride``)."""',
            *fit("    ", "return nn.Conv2d(", [*conv_args, bias], ")"),
        ]
        out.append("\n".join(conv3))
    if "conv1x1" in used:
        conv1_args = ["in_channels", "out_channels", "kernel_size=1", "stride=stride", bias]
        conv1 = [
            *fit("", "def conv1x1(", params, ") -> nn.Conv2d:"),
            '    """1x1 convolution: changes the number of channels."""',
            *fit("    ", "return nn.Conv2d(", conv1_args, ")"),
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
    norm = not d.is_preact
    emit = plan.emitter
    lines = [
        "def shortcut(in_channels: int, out_channels: int, stride: int) -> nn.Module | None:",
        f'    """Identity (None) unless the block changes size: then {kind.summary}."""',
        "    if stride == 1 and in_channels == out_channels:",
        "        return None",
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
    return [m.source(plan.design) for key, m in CUSTOM_MODULES.items() if key in used]


# --- the residual block -----------------------------------------------------------------------


def _block_names(plan: _Plan) -> dict[str, Sym]:
    groups: Sym = "GROUPS" if plan.design.groups > 1 else 1
    if plan.design.is_bottleneck:
        return {
            "in": "in_channels",
            "width": "width",
            "out": "out_channels",
            "stride": "stride",
            "groups": groups,
        }
    return {"in": "in_channels", "out": "width", "stride": "stride", "groups": 1}


_SE = Custom("se", "squeeze_excite", ("out",))


def _block(plan: _Plan) -> str:
    """The design's block class, written from the ops its kind declares."""
    d = plan.design
    layout, emit = plan.layout, plan.emitter
    names = _block_names(plan)
    out_ch = str(names["out"])
    params = ["self", "in_channels: int", "width: int"]
    params += ["out_channels: int", "stride: int = 1"] if d.is_bottleneck else ["stride: int = 1"]
    if plan.optional_pre:
        params.append("preactivate: bool = True")
    registered: set[str] = set()
    init = [
        *fit("    ", "def __init__(", params, ") -> None:"),
        "        super().__init__()",
    ]
    if plan.optional_pre:
        init.append("        # the first block of the network follows the stem's BN-activation")
    init += emit.init("        ", layout.pre, names, registered, optional=plan.optional_pre)
    shortcut_line = f"        self.downsample = shortcut(in_channels, {out_ch}, stride)"
    if plan.has_shortcut and layout.tap == "pre":
        init.append(shortcut_line)
    main = layout.main + ((_SE,) if plan.se else ())
    init += emit.init("        ", main, names, registered)
    if plan.has_shortcut and layout.tap == "input":
        init.append(shortcut_line)
    init += emit.init("        ", layout.post, names, registered)

    forward = ["    def forward(self, x: torch.Tensor) -> torch.Tensor:"]
    src = "x"
    if layout.pre:
        (pre,) = emit.statements(layout.pre, "x", "pre")
        if plan.optional_pre:
            first = next(op.name for op in layout.pre if op.name)
            pre = f"x if self.{first} is None else {pre}"
        forward.append(f"        pre = {pre}")
        src = "pre"
    identity = f"        identity = x if self.downsample is None else self.downsample({src})"
    if plan.has_shortcut and layout.tap == "pre":
        forward.append(identity)
    preactivated = bool(layout.pre)
    statements = emit.statements(main, src, "out", preactivated=preactivated)
    forward += [f"        out = {expr}" for expr in statements]
    if plan.has_shortcut and layout.tap == "input":
        forward.append(identity)
    total = "out + identity" if plan.has_shortcut else "out + x"
    (result,) = emit.statements(layout.post, total, "out") or [total]
    forward.append(f"        return {result}")
    lines = [
        f"class {plan.block_class}(nn.Module):",
        f'    """{d.block_kind.summary(d)}"""',
        "",
        *init,
        "",
        *forward,
    ]
    return "\n".join(lines)


def _stage_builders(plan: _Plan) -> list[str]:
    d = plan.design
    args = ["in_channels", "stage.width"]
    if d.is_bottleneck:
        args.append("stage.out_width")
    args.append("stride")
    params = ["in_channels: int", "stage: Stage"]
    loop = ["        stride = stage.stride if i == 0 else 1"]
    if plan.optional_pre:
        params.append("preactivate_first: bool = True")
        loop.append("        preactivate = i > 0 or preactivate_first")
        args.append("preactivate")
    stage = [
        *fit("", "def make_stage(", params, ") -> nn.Sequential:"),
        '    """A stage of blocks; only the first changes the stride and the channels."""',
        "    blocks: list[nn.Module] = []",
        "    for i in range(stage.blocks):",
        *loop,
        *fit("        ", f"block = {plan.block_class}(", args, ")"),
        "        blocks.append(block)",
        f"        in_channels = stage.{plan.out_field}",
        "    return nn.Sequential(*blocks)",
    ]
    out = ["\n".join(stage)]
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
    if d.is_preact and act not in registered:
        init.append(f"        self.{act} = {emit.act_call}")
    forward = ["    def forward(self, x: torch.Tensor) -> torch.Tensor:"]
    forward += [f"        x = {expr}" for expr in emit.statements(d.stem_ops, "x", "x")]
    previous = "STEM_WIDTH" if stem.ops else "IN_CHANNELS"
    for s in range(n):
        call = f"make_stage({previous}, STAGES[{s}])"
        if s == 0 and plan.optional_pre:
            init.append(
                "        # the stem ends in BN-activation: the first block need not repeat it"
            )
            call = f"make_stage({previous}, STAGES[0], preactivate_first=False)"
        init.append(f"        self.layer{s + 1} = {call}")
        forward.append(f"        x = self.layer{s + 1}(x)")
        previous = f"STAGES[{s}].{plan.out_field}"
    features = f"STAGES[-1].{plan.out_field}"
    if d.is_preact:
        init.append(f"        self.bn_final = {emit.norm_call(features)}")
        forward.append(f"        x = self.{act}(self.bn_final(x))")
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
        f"        self.fc = nn.Linear({features}, num_classes)",
        "        self._init_weights()",
    ]
    forward.append("        return self.fc(x)")
    return "\n".join([*init, "", *_init_weights(plan), "", *forward])


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
    if d.conv_bias or plan.se:
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
            f"            if isinstance(m, {plan.block_class}):",
            f"                nn.init.zeros_(m.{plan.layout.zero_init_weight})",
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
