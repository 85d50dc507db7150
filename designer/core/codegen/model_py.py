"""Design -> one standalone ``model.py`` that needs only torch.

The emitted file mirrors ``designer.core.torch.build`` module for module: the same
attribute names (so the same state-dict keys, torchvision's for the
torchvision-shaped presets), the same construction order (so the same random
numbers are drawn: a seeded ``build_model()`` equals a seeded ``build()``) and
the same initialisation. It is specialised to the design, though: only the
block class it uses, the activation named directly (``self.silu``), every
stage written out, so ``forward`` is plain straight-line code for
``torch.compile``.

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

_ACTIVATION_CALLS = {
    "relu": "nn.ReLU(inplace=True)",
    "relu6": "nn.ReLU6(inplace=True)",
    "leaky_relu": "nn.LeakyReLU(0.01, inplace=True)",
    "elu": "nn.ELU(inplace=True)",
    "silu": "nn.SiLU(inplace=True)",
    "gelu": "nn.GELU()",
    "mish": "nn.Mish(inplace=True)",
    "hardswish": "nn.Hardswish(inplace=True)",
}

_BLOCK_CLASSES = {
    "basic": "BasicBlock",
    "bottleneck": "Bottleneck",
    "preact_basic": "PreActBasicBlock",
    "preact_bottleneck": "PreActBottleneck",
}

_JSON_CHUNK = 76  # source characters per line of DESIGN_JSON
LINE_LENGTH = 100  # the generated file's, as in the project's ruff config


def _fit(indent: str, head: str, items: list[str], tail: str) -> list[str]:
    """``head + items + tail`` on as few lines as ``ruff format`` would put them.

    ``head`` ends with an opening bracket and ``tail`` starts with the closing one:
    one line if it fits, else the items on one indented line, else one per line.
    """
    one = f"{indent}{head}{', '.join(items)}{tail}"
    if len(one) <= LINE_LENGTH:
        return [one]
    inner = indent + "    "
    middle = inner + ", ".join(items)
    if len(middle) <= LINE_LENGTH:
        return [indent + head, middle, indent + tail]
    return [indent + head, *(f"{inner}{item}," for item in items), indent + tail]


@dataclass(frozen=True)
class _Plan:
    """What the emitter needs to know, worked out once from the design."""

    design: Design
    act: str  # attribute name of the activation module (build.py's, e.g. "relu", "silu")
    act_call: str
    block_class: str
    out_field: str  # "out_width" (bottleneck) or "width" (basic): a stage's output channels
    has_shortcut: bool  # some block changes width or resolution
    has_projection: bool  # ... through a 1x1 conv (not a zero-pad shortcut)
    first_preactivates: bool
    conv_bias: bool

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
        has_shortcut = any(needs)
        return cls(
            design=design,
            act=Namespace().name(design.activation),
            act_call=_ACTIVATION_CALLS[design.activation],
            block_class=_BLOCK_CLASSES[design.block],
            out_field="out_width" if design.is_bottleneck else "width",
            has_shortcut=has_shortcut,
            has_projection=has_shortcut and design.shortcut != "zero_pad",
            first_preactivates=first_block_preactivates(design),
            conv_bias=design.conv_bias,
        )

    @property
    def se(self) -> bool:
        return self.design.se_ratio > 0

    @property
    def uses_conv1x1(self) -> bool:
        return self.design.is_bottleneck or self.has_projection

    @property
    def bias(self) -> str:
        return "True" if self.conv_bias else "False"


def render_model_py(design: Design) -> str:
    """The standalone ``model.py`` of ``design`` (deterministic: same design, same text)."""
    validate(design)
    plan = _Plan.of(design)
    sections = [
        _docstring(plan),
        _imports(plan),
        _constants(plan),
        _stage_class(plan),
        _stages(plan),
        *_helpers(plan),
        *_modules(plan),
        _block(plan),
        *_stage_builders(plan),
        _resnet(plan),
        _build_model(),
        _design_json(plan),
        _main(),
    ]
    # one blank line after the docstring and the imports, two between the rest (as ruff)
    docstring, imports, *body = sections
    return docstring + "\n\n" + imports + "\n\n" + "\n\n\n".join(body) + "\n"


# --- header -----------------------------------------------------------------------------------


def _stem_text(design: Design) -> str:
    w = design.stem.width
    return {
        "imagenet": f"7x7 conv, stride 2, {w} channels; 3x3 max-pool, stride 2",
        "cifar": f"3x3 conv, {w} channels",
        "deep": f"three 3x3 convs (ResNet-C), {w} channels; 3x3 max-pool, stride 2",
        "none": "none (the first block sees the input)",
    }[design.stem.kind]


def _block_text(design: Design) -> str:
    if design.is_bottleneck:
        text = f"bottleneck (1x1, 3x3, 1x1), stride on the {design.stride_on} conv"
        if design.groups > 1 or design.width_per_group != 64:
            text += f", {design.groups} groups of width {design.width_per_group}"
    else:
        text = "basic (two 3x3 convs)"
    return ("pre-activation " + text) if design.is_preact else text


def _field(label: str, text: str) -> list[str]:
    """``Label:  text`` wrapped under itself, so that no docstring line passes 88 columns."""
    indent = " " * 16
    return textwrap.wrap(text, 88, initial_indent=f"{label}:".ljust(16), subsequent_indent=indent)


def _docstring(plan: _Plan) -> str:
    d = plan.design
    result = analyse(d)
    name = docstring_text(d.name) or "Untitled"
    extras = [f"{d.shortcut} shortcuts", f"{d.activation} activation"]
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
        *_field("Stem", _stem_text(d)),
        *_field("Blocks", _block_text(d)),
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
    lines = ["from typing import NamedTuple", "", "import torch"]
    if plan.has_shortcut and plan.design.shortcut == "zero_pad":
        lines.append("import torch.nn.functional as F")
    lines.append("from torch import nn")
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
    if d.is_bottleneck and d.groups > 1:
        lines.append(f"GROUPS = {d.groups}  # grouped 3x3 convs (ResNeXt cardinality)")
    if plan.se:
        lines.append(f"SE_RATIO = {number_literal(d.se_ratio)}  # squeeze-excite reduction")
    if d.head.hidden:
        lines.append("# widths of the classifier's hidden layers")
        if len(d.head.hidden) == 1:
            lines.append(f"HIDDEN_WIDTHS = ({d.head.hidden[0]},)")
        else:
            lines += _fit("", "HIDDEN_WIDTHS = (", [str(w) for w in d.head.hidden], ")")
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
    params = ["in_channels: int", "out_channels: int", "stride: int = 1"]
    conv_args = ["in_channels", "out_channels", "kernel_size=3", "stride=stride", "padding=1"]
    if plan.design.is_bottleneck and plan.design.groups > 1:
        conv3_params = [*params, "groups: int = 1"]
        conv_args.append("groups=groups")
    else:
        conv3_params = params
    conv3 = [
        *_fit("", "def conv3x3(", conv3_params, ") -> nn.Conv2d:"),
        '    """3x3 convolution, padded to keep the size (divided by ``stride``)."""',
        *_fit("    ", "return nn.Conv2d(", [*conv_args, bias], ")"),
    ]
    out = ["\n".join(conv3)]
    if plan.uses_conv1x1:
        conv1_args = ["in_channels", "out_channels", "kernel_size=1", "stride=stride", bias]
        conv1 = [
            *_fit("", "def conv1x1(", params, ") -> nn.Conv2d:"),
            '    """1x1 convolution: changes the number of channels."""',
            *_fit("    ", "return nn.Conv2d(", conv1_args, ")"),
        ]
        out.append("\n".join(conv1))
    if plan.has_shortcut:
        out.append(_shortcut_fn(plan))
    return out


def _shortcut_fn(plan: _Plan) -> str:
    d = plan.design
    then = "subsample and zero-pad" if d.shortcut == "zero_pad" else "a 1x1 projection"
    lines = [
        "def shortcut(in_channels: int, out_channels: int, stride: int) -> nn.Module | None:",
        f'    """Identity (None) unless the block changes size: then {then}."""',
        "    if stride == 1 and in_channels == out_channels:",
        "        return None",
    ]
    norm = [] if d.is_preact else ["nn.BatchNorm2d(out_channels)"]
    if d.shortcut == "zero_pad":
        lines.append("    return ZeroPadShortcut(out_channels - in_channels, stride)")
    elif d.shortcut == "avg_down":
        pool = "nn.AvgPool2d(stride, stride, ceil_mode=True, count_include_pad=False)"
        conv = "conv1x1(in_channels, out_channels)"
        lines += [
            "    if stride == 1:",
            *_fit("        ", "return nn.Sequential(", [conv, *norm], ")"),
            "    # ResNet-D: average-pool first so that the 1x1 conv sees every pixel",
            "    return nn.Sequential(",
            *(f"        {item}," for item in (pool, conv, *norm)),
            "    )",
        ]
    else:
        conv = "conv1x1(in_channels, out_channels, stride)"
        lines += _fit("    ", "return nn.Sequential(", [conv, *norm], ")")
    return "\n".join(lines)


_SQUEEZE_EXCITE = '''class SqueezeExcite(nn.Module):
    """Channel attention (Hu et al. 2018): pool, reduce, expand, sigmoid gate."""

    def __init__(self, channels: int, ratio: float = SE_RATIO) -> None:
        super().__init__()
        reduced = max(1, round(channels * ratio))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, reduced, kernel_size=1)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(reduced, channels, kernel_size=1)
        self.gate = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(self.fc2(self.relu(self.fc1(self.pool(x)))))'''

_ZERO_PAD = '''class ZeroPadShortcut(nn.Module):
    """Option A of He et al. 2015: subsample by striding, append zero channels. No parameters."""

    def __init__(self, extra_channels: int, stride: int) -> None:
        super().__init__()
        self.extra_channels = extra_channels
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.extra_channels))'''


def _modules(plan: _Plan) -> list[str]:
    out = []
    if plan.se:
        out.append(_SQUEEZE_EXCITE)
    if plan.has_shortcut and plan.design.shortcut == "zero_pad":
        out.append(_ZERO_PAD)
    return out


# --- the residual block -----------------------------------------------------------------------


def _bottleneck_convs(plan: _Plan) -> tuple[str, str]:
    """The argument lists of a bottleneck's conv1 (1x1) and conv2 (3x3)."""
    d = plan.design
    on_1x1 = d.stride_on == "1x1"
    conv1 = ["in_channels", "width", *(["stride=stride"] if on_1x1 else [])]
    conv2 = ["width", "width", *([] if on_1x1 else ["stride=stride"])]
    if d.groups > 1:
        conv2.append("groups=GROUPS")
    return ", ".join(conv1), ", ".join(conv2)


def _block(plan: _Plan) -> str:
    d = plan.design
    if d.is_preact:
        return _preact_block(plan)
    act, cls = plan.act, plan.block_class
    out_ch = "out_channels" if d.is_bottleneck else "width"
    if d.is_bottleneck:
        conv1, conv2 = _bottleneck_convs(plan)
        where = "first 1x1 (v1, 2015)" if d.stride_on == "1x1" else "3x3 (torchvision's v1.5)"
        params = ["self", "in_channels: int", "width: int", "out_channels: int", "stride: int = 1"]
        lines = [
            f"class {cls}(nn.Module):",
            f'    """1x1 reduce, 3x3, 1x1 expand, plus the shortcut; stride on the {where}."""',
            "",
            *_fit("    ", "def __init__(", params, ") -> None:"),
            "        super().__init__()",
            f"        self.conv1 = conv1x1({conv1})",
            "        self.bn1 = nn.BatchNorm2d(width)",
            f"        self.conv2 = conv3x3({conv2})",
            "        self.bn2 = nn.BatchNorm2d(width)",
            "        self.conv3 = conv1x1(width, out_channels)",
            "        self.bn3 = nn.BatchNorm2d(out_channels)",
            f"        self.{act} = {plan.act_call}",
        ]
        body = [
            f"        out = self.{act}(self.bn1(self.conv1(x)))",
            f"        out = self.{act}(self.bn2(self.conv2(out)))",
            "        out = self.bn3(self.conv3(out))",
        ]
    else:
        lines = [
            f"class {cls}(nn.Module):",
            '    """Two 3x3 convolutions, plus the shortcut."""',
            "",
            "    def __init__(self, in_channels: int, width: int, stride: int = 1) -> None:",
            "        super().__init__()",
            "        self.conv1 = conv3x3(in_channels, width, stride=stride)",
            "        self.bn1 = nn.BatchNorm2d(width)",
            f"        self.{act} = {plan.act_call}",
            "        self.conv2 = conv3x3(width, width)",
            "        self.bn2 = nn.BatchNorm2d(width)",
        ]
        body = [
            f"        out = self.{act}(self.bn1(self.conv1(x)))",
            "        out = self.bn2(self.conv2(out))",
        ]
    if plan.se:
        lines.append(f"        self.se = SqueezeExcite({out_ch})")
        body.append("        out = self.se(out)")
    if plan.has_shortcut:
        lines.append(f"        self.downsample = shortcut(in_channels, {out_ch}, stride)")
        body += [
            "        identity = x if self.downsample is None else self.downsample(x)",
            f"        return self.{act}(out + identity)",
        ]
    else:
        body.append(f"        return self.{act}(out + x)")
    lines += ["", "    def forward(self, x: torch.Tensor) -> torch.Tensor:", *body]
    return "\n".join(lines)


def _preact_block(plan: _Plan) -> str:
    d = plan.design
    act, cls = plan.act, plan.block_class
    out_ch = "out_channels" if d.is_bottleneck else "width"
    optional_bn1 = not plan.first_preactivates
    if d.is_bottleneck:
        params = ["self", "in_channels: int", "width: int", "out_channels: int", "stride: int = 1"]
        conv1, conv2 = _bottleneck_convs(plan)
        where = "first 1x1" if d.stride_on == "1x1" else "3x3"
        doc = f'    """Pre-activation 1x1, 3x3, 1x1 (He et al. 2016); stride on the {where}."""'
        convs = [
            f"        self.conv1 = conv1x1({conv1})",
            "        self.bn2 = nn.BatchNorm2d(width)",
            f"        self.conv2 = conv3x3({conv2})",
            "        self.bn3 = nn.BatchNorm2d(width)",
            "        self.conv3 = conv1x1(width, out_channels)",
        ]
        body = [
            "        out = self.conv1(pre)",
            f"        out = self.conv2(self.{act}(self.bn2(out)))",
            f"        out = self.conv3(self.{act}(self.bn3(out)))",
        ]
    else:
        params = ["self", "in_channels: int", "width: int", "stride: int = 1"]
        doc = (
            '    """Pre-activation: BN-activation before each of two 3x3 convs (He et al. 2016)."""'
        )
        convs = [
            "        self.conv1 = conv3x3(in_channels, width, stride=stride)",
            "        self.bn2 = nn.BatchNorm2d(width)",
            "        self.conv2 = conv3x3(width, width)",
        ]
        body = [
            "        out = self.conv1(pre)",
            f"        out = self.conv2(self.{act}(self.bn2(out)))",
        ]
    if optional_bn1:
        params.append("preactivate: bool = True")
    lines = [
        f"class {cls}(nn.Module):",
        doc,
        "",
        *_fit("    ", "def __init__(", params, ") -> None:"),
        "        super().__init__()",
    ]
    if optional_bn1:
        lines += [
            "        # the first block of the network follows the stem's BN-activation",
            "        self.bn1 = nn.BatchNorm2d(in_channels) if preactivate else None",
        ]
        pre = f"        pre = x if self.bn1 is None else self.{act}(self.bn1(x))"
    else:
        lines.append("        self.bn1 = nn.BatchNorm2d(in_channels)")
        pre = f"        pre = self.{act}(self.bn1(x))"
    lines.append(f"        self.{act} = {plan.act_call}")
    if plan.has_shortcut:
        lines.append(f"        self.downsample = shortcut(in_channels, {out_ch}, stride)")
    lines += convs
    if plan.se:
        lines.append(f"        self.se = SqueezeExcite({out_ch})")
        body.append("        out = self.se(out)")
    forward = [pre]
    if plan.has_shortcut:
        forward.append("        identity = x if self.downsample is None else self.downsample(pre)")
        tail = "        return out + identity"
    else:
        tail = "        return out + x"
    lines += ["", "    def forward(self, x: torch.Tensor) -> torch.Tensor:", *forward, *body, tail]
    return "\n".join(lines)


def _stage_builders(plan: _Plan) -> list[str]:
    d = plan.design
    args = ["in_channels", "stage.width"]
    if d.is_bottleneck:
        args.append("stage.out_width")
    args.append("stride")
    params = ["in_channels: int", "stage: Stage"]
    loop = ["        stride = stage.stride if i == 0 else 1"]
    if d.is_preact and not plan.first_preactivates:
        params.append("preactivate_first: bool = True")
        loop.append("        preactivate = i > 0 or preactivate_first")
        args.append("preactivate")
    stage = [
        *_fit("", "def make_stage(", params, ") -> nn.Sequential:"),
        '    """A stage of blocks; only the first changes the stride and the channels."""',
        "    blocks: list[nn.Module] = []",
        "    for i in range(stage.blocks):",
        *loop,
        *_fit("        ", f"block = {plan.block_class}(", args, ")"),
        "        blocks.append(block)",
        f"        in_channels = stage.{plan.out_field}",
        "    return nn.Sequential(*blocks)",
    ]
    out = ["\n".join(stage)]
    if d.head.hidden:
        layer = ["nn.Linear(in_features, width)", plan.act_call, "nn.BatchNorm1d(width)"]
        hidden = [
            "def make_hidden(in_features: int, widths: tuple[int, ...]) -> nn.Sequential:",
            '    """Hidden classifier layers: linear, activation, BatchNorm, for each width."""',
            "    layers: list[nn.Module] = []",
            "    for width in widths:",
            *_fit("        ", "layer = nn.Sequential(", layer, ")"),
            "        layers.append(layer)",
            "        in_features = width",
            "    return nn.Sequential(*layers)",
        ]
        out.append("\n".join(hidden))
    return out


# --- the network ------------------------------------------------------------------------------


def _stem_lines(plan: _Plan) -> list[str]:
    d = plan.design
    act = plan.act
    kind = d.stem.kind
    if kind == "none":
        return [f"        self.{act} = {plan.act_call}"] if d.is_preact else []
    if kind == "imagenet":
        args = ["IN_CHANNELS", "STEM_WIDTH", "kernel_size=7", "stride=2", "padding=3"]
        conv = _fit("        ", "self.conv1 = nn.Conv2d(", [*args, f"bias={plan.bias}"], ")")
    elif kind == "cifar":
        conv = ["        self.conv1 = conv3x3(IN_CHANNELS, STEM_WIDTH)"]
    else:
        conv = [
            "        # ResNet-C: three 3x3 convs instead of one 7x7",
            "        self.conv1 = nn.Sequential(",
            "            conv3x3(IN_CHANNELS, STEM_WIDTH // 2, stride=2),",
            "            nn.BatchNorm2d(STEM_WIDTH // 2),",
            f"            {plan.act_call},",
            "            conv3x3(STEM_WIDTH // 2, STEM_WIDTH // 2),",
            "            nn.BatchNorm2d(STEM_WIDTH // 2),",
            f"            {plan.act_call},",
            "            conv3x3(STEM_WIDTH // 2, STEM_WIDTH),",
            "        )",
        ]
    lines = [
        *conv,
        "        self.bn1 = nn.BatchNorm2d(STEM_WIDTH)",
        f"        self.{act} = {plan.act_call}",
    ]
    if kind in ("imagenet", "deep"):
        lines.append("        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)")
    return lines


def _resnet(plan: _Plan) -> str:
    d = plan.design
    act = plan.act
    n = len(d.stages)
    init = [
        "class ResNet(nn.Module):",
        '    """Stem, residual stages, pool and classifier, with torchvision\'s names."""',
        "",
        "    def __init__(self, num_classes: int = NUM_CLASSES) -> None:",
        "        super().__init__()",
        *_stem_lines(plan),
    ]
    forward = ["    def forward(self, x: torch.Tensor) -> torch.Tensor:"]
    if d.stem.kind != "none":
        stem = f"self.{act}(self.bn1(self.conv1(x)))"
        if d.stem.kind in ("imagenet", "deep"):
            stem = f"self.maxpool({stem})"
        forward.append(f"        x = {stem}")
    previous = "STEM_WIDTH" if d.stem.kind != "none" else "IN_CHANNELS"
    for s in range(n):
        call = f"make_stage({previous}, STAGES[{s}])"
        if s == 0 and d.is_preact and not plan.first_preactivates:
            init.append(
                "        # the stem ends in BN-activation: the first block need not repeat it"
            )
            call = f"make_stage({previous}, STAGES[0], preactivate_first=False)"
        init.append(f"        self.layer{s + 1} = {call}")
        forward.append(f"        x = self.layer{s + 1}(x)")
        previous = f"STAGES[{s}].{plan.out_field}"
    features = f"STAGES[-1].{plan.out_field}"
    if d.is_preact:
        init.append(f"        self.bn_final = nn.BatchNorm2d({features})")
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
    norms = "(nn.BatchNorm2d, nn.BatchNorm1d)" if d.head.hidden else "nn.BatchNorm2d"
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
        last = {
            "basic": "bn2.weight",
            "bottleneck": "bn3.weight",
            "preact_basic": "conv2.weight",
            "preact_bottleneck": "conv3.weight",
        }[d.block]
        lines += [
            "        # each residual branch starts at zero, so every block starts as the identity",
            "        for m in self.modules():",
            f"            if isinstance(m, {plan.block_class}):",
            f"                nn.init.zeros_(m.{last})",
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
