"""Parts (tuples of ops from :mod:`designer.core.blocks`) as readable torch source.

The same ops the analysis walks become ``self.conv1 = conv1x1(in_channels, width)``
in ``__init__`` and ``out = self.relu(self.bn1(self.conv1(x)))`` in ``forward``;
symbols become the names of the surrounding code (``names``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from designer.core.blocks import ACTIVATIONS, CUSTOM_MODULES, NORMS
from designer.core.blocks.norms import folded
from designer.core.blocks.ops import (
    LAYER_OPS,
    Act,
    AvgPool,
    Conv,
    Custom,
    Dropout,
    Identity,
    MaxPool,
    Norm,
    Op,
    Seq,
    Sym,
)
from designer.core.blocks.std_conv import CLASS_NAME as STD_CONV

LINE_LENGTH = 100  # the generated file's, as in the project's ruff config


def fit(indent: str, head: str, items: list[str], tail: str) -> list[str]:
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


@dataclass
class Emitter:
    """Writes ops as source for one design; remembers which helpers the text uses."""

    activation: str  # the design's activation (its name is the shared module's attribute)
    conv_bias: bool
    norm: str = "batch"
    std_conv: bool = False  # the convs are weight-standardised (StdConv2d)
    used: set[str] = field(default_factory=set)  # "conv3x3", "conv1x1", custom module keys

    @property
    def act(self) -> str:
        return self.activation

    @property
    def act_call(self) -> str:
        return ACTIVATIONS[self.activation].source

    def norm_call(self, channels: str) -> str:
        norm = NORMS[self.norm]
        if norm.custom:
            self.used.add(norm.custom)
        return norm.source.format(c=channels)

    @property
    def conv_class(self) -> str:
        """The class of the network's convs (a helper's, or a 7x7's)."""
        if self.std_conv:
            self.used.add("std_conv")
            return STD_CONV
        return "nn.Conv2d"

    # --- constructors ---------------------------------------------------------------------

    def construct(self, op: Op, names: dict[str, Sym]) -> str | list[str]:
        """The expression that builds ``op`` (a list of items for a Seq)."""
        if isinstance(op, Conv):
            return self._conv(op, names)
        if isinstance(op, Norm):
            return self.norm_call(_sym(op.channels, names))
        if isinstance(op, Act):
            return self.act_call
        if isinstance(op, MaxPool):
            ceil = ", ceil_mode=True" if op.ceil else ""
            return (
                f"nn.MaxPool2d(kernel_size={op.kernel}, stride={op.stride}, padding={op.padding}"
                f"{ceil})"
            )
        if isinstance(op, AvgPool):
            s = _sym(op.stride, names)
            return f"nn.AvgPool2d({s}, {s}, ceil_mode=True, count_include_pad=False)"
        if isinstance(op, Identity):
            return "nn.Identity()"
        if isinstance(op, Dropout):
            return "nn.Dropout(BLOCK_DROPOUT)"
        if isinstance(op, Seq):
            (op,) = folded((op,), self.norm)
            assert isinstance(op, Seq)
            items = [self.construct(child, names) for child in op.ops]
            return [
                item if isinstance(item, str) else f"nn.Sequential({', '.join(item)})"
                for item in items
            ]
        module = CUSTOM_MODULES[op.module]
        self.used.update((op.module, *module.needs))
        if "groups" in op.args and _sym("groups", names) != "1":
            self.used.add("grouped_module")  # the GROUPS constant, not conv3x3's groups
        args = [_sym(a, names) for a in op.args]
        # trailing parameters by keyword, left out at their default
        cut = len(args) - len(module.keywords)
        keywords = zip(module.keywords, args[cut:], strict=False)
        args = args[:cut] + [f"{k}={v}" for (k, default), v in keywords if v != str(default)]
        built = f"{module.class_name}({', '.join(args)})"
        if op.identity_unless is not None:
            return f"{built} if {_sym(op.identity_unless, names)} > 1 else nn.Identity()"
        return built

    def _conv(self, op: Conv, names: dict[str, Sym]) -> str:
        conv_class = self.conv_class
        args = [_sym(op.cin, names), _sym(op.cout, names)]
        stride, groups = _sym(op.stride, names), _sym(op.groups, names)
        dilation = _sym(op.dilation, names)
        if op.kernel in (1, 3):
            helper = f"conv{op.kernel}x{op.kernel}"
            self.used.add(helper)
            if stride != "1":
                args.append(f"stride={stride}")
            if groups != "1":
                self.used.add("grouped")
                args.append(f"groups={groups}")
            if dilation != "1":
                self.used.add("dilated")
                args.append(f"dilation={dilation}")
            return f"{helper}({', '.join(args)})"
        if dilation != "1":
            raise ValueError("only 3x3 convs are dilated")
        args += [f"kernel_size={op.kernel}", f"stride={stride}", f"padding={op.kernel // 2}"]
        if groups != "1":
            args.append(f"groups={groups}")
        return f"{conv_class}({', '.join(args)}, bias={self.conv_bias})"

    def assign(
        self, indent: str, target: str, op: Op, names: dict[str, Sym], tail: str = ""
    ) -> list[str]:
        """``target = <op>`` (or ``return <op>``), wrapped as ruff would wrap it."""
        built = self.construct(op, names)
        if isinstance(built, list):
            return fit(indent, f"{target}nn.Sequential(", built, f"){tail}")
        line = f"{indent}{target}{built}{tail}"
        if len(line) <= LINE_LENGTH or "(" not in built:
            return [line]
        head, _, rest = built.partition("(")
        return fit(indent, f"{target}{head}(", _split_args(rest[:-1]), f"){tail}")

    def init(
        self,
        indent: str,
        ops: tuple[Op, ...],
        names: dict[str, Sym],
        registered: set[str],
        optional: str = "",
    ) -> list[str]:
        """``__init__`` lines registering ``ops``' modules, the shared activation once.

        ``optional``: a condition (``preactivate``) without which the modules are None.
        """
        lines: list[str] = []
        for op in folded(ops, self.norm):
            if isinstance(op, Act) and not op.name:
                if self.act not in registered:
                    registered.add(self.act)
                    lines.append(f"{indent}self.{self.act} = {self.act_call}")
                continue
            if isinstance(op, Custom) and CUSTOM_MODULES[op.module].members is not None:
                lines += self.members(indent, op, names)
                registered.add(op.name)
                continue
            tail = f" if {optional} else None" if optional else ""
            lines += self.assign(indent, f"self.{op.name} = ", op, names, tail)
            registered.add(op.name)
        return lines

    def members(self, indent: str, op: Custom, names: dict[str, Sym]) -> list[str]:
        """The ``__init__`` lines of a module written into its owner (its ``members``)."""
        members = CUSTOM_MODULES[op.module].members
        assert members is not None
        self.used.add(op.module)

        def write(inner: Op) -> str:
            built = self.construct(inner, names)
            assert isinstance(built, str), "a member is one module"
            return built

        lines = members(lambda sym: _sym(sym, names), write)
        return [f"{indent}{line}" for line in lines]

    # --- calls ------------------------------------------------------------------------------

    def statements(
        self, ops: tuple[Op, ...], src: str, var: str, *, preactivated: bool = False
    ) -> list[str]:
        """``forward`` expressions for ``ops`` applied to ``src``; each later one reads ``var``.

        Each statement reads as one conv and what follows it (conv, BN, activation),
        or, in a ``preactivated`` block, what precedes it (BN, activation, conv).
        """
        out: list[str] = []
        expr, started = src, False
        for op in folded(ops, self.norm):
            layer = isinstance(op, LAYER_OPS)
            if layer and started and not preactivated:
                out.append(expr)
                expr = var
            started = started or layer
            expr = f"self.{op.name or self.act}({expr})"
            if layer and preactivated:
                out.append(expr)
                expr = var
        if expr not in (src, var):
            out.append(expr)
        return out


def _sym(value: Sym, names: dict[str, Sym]) -> str:
    return str(value) if isinstance(value, int) else str(names[value])


def _split_args(text: str) -> list[str]:
    """Top-level comma-separated arguments of a call's argument text."""
    items, depth, current = [], 0, ""
    for ch in text:
        if ch == "," and depth == 0:
            items.append(current.strip())
            current = ""
            continue
        depth += (ch in "([") - (ch in ")]")
        current += ch
    if current.strip():
        items.append(current.strip())
    return items
