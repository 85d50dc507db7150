"""The small vocabulary every part of a network is described in.

A part (a block, a stem, a shortcut) is a tuple of these ops whose channels and
strides are *symbols* ("in", "width", "out", "stride", ...) or literals. Readers
resolve the symbols their own way: the closed-form analysis to numbers, the code
generator to names in the generated source. The app builds its network by running
that source, so the numbers, the network and the exported code all come from the
one tuple of ops.

Names are module attribute names, hence state-dict keys: torchvision's where it
has the part.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

Sym = Union[int, str]  # noqa: UP007 (a runtime alias; `int | str` is fine too on 3.10+)
"""A literal number, or a name the reader resolves ("in", "width", "out", "stride")."""


@dataclass(frozen=True, slots=True)
class Conv:
    """A ``kernel`` x ``kernel`` conv, "same"-padded, biased only if the design says so."""

    name: str
    kernel: int
    cin: Sym
    cout: Sym
    stride: Sym = 1
    groups: Sym = 1
    dilation: Sym = 1  # padded by dilation * (kernel // 2), so still "same"


@dataclass(frozen=True, slots=True)
class Norm:
    """BatchNorm over ``channels``."""

    name: str
    channels: Sym


@dataclass(frozen=True, slots=True)
class Act:
    """The design's activation.

    Unnamed, it is its owner's one shared module, called at each use (torchvision's
    ``self.relu``); inside a :class:`Seq` each one is a module of its own.
    """

    name: str = ""


@dataclass(frozen=True, slots=True)
class MaxPool:
    """A max-pool; ``ceil``: its last window may overhang the edge (torch's ceil_mode)."""

    name: str
    kernel: int
    stride: int
    padding: int
    ceil: bool = False

    def out(self, side: int) -> int:
        """The side it gives (torch's rule: a window must start inside the padded input)."""
        span = side + 2 * self.padding - self.kernel
        size = (span + (self.stride - 1 if self.ceil else 0)) // self.stride + 1
        if self.ceil and (size - 1) * self.stride >= side + self.padding:
            size -= 1
        return size


@dataclass(frozen=True, slots=True)
class AvgPool:
    """ResNet-D's shortcut pool: ``stride`` x ``stride``, ceil mode, padding not counted."""

    name: str
    stride: Sym


@dataclass(frozen=True, slots=True)
class Identity:
    """A placeholder that keeps its neighbours' indices (timm's ResNet-D shortcut)."""

    name: str


@dataclass(frozen=True, slots=True)
class Dropout:
    """The design's block dropout (its rate is a design-wide constant)."""

    name: str


@dataclass(frozen=True, slots=True)
class Seq:
    """An ``nn.Sequential`` of ``ops``, which are named 0, 1, 2... (their own names unused)."""

    name: str
    ops: tuple[Op, ...]


@dataclass(frozen=True, slots=True)
class Custom:
    """An instance of a module class of our own (squeeze-excite, zero-pad), by its key.

    ``identity_unless``: a symbol (``"stride"``) where whose value 1 the module is an
    ``nn.Identity`` instead (a block class shared by a stage's strided first block and
    its other blocks, as timm's ``create_aa(enable=...)``). Its module's ``keywords`` say
    which last arguments model.py passes by keyword.
    """

    name: str
    module: str
    args: tuple[Sym, ...]
    identity_unless: Sym | None = None


Op = Union[Conv, Norm, Act, MaxPool, AvgPool, Identity, Dropout, Seq, Custom]  # noqa: UP007

LAYER_OPS = (Conv, Seq, Custom)
"""Ops that start a new statement in generated ``forward`` code (the rest chain onto them)."""


def reduction(ops: tuple[Op, ...]) -> int:
    """How much ``ops`` subsample: the product of their literal strides."""
    factor = 1
    for op in ops:
        if isinstance(op, Seq):
            factor *= reduction(op.ops)
        elif isinstance(op, (Conv, MaxPool, AvgPool)) and isinstance(op.stride, int):
            factor *= op.stride
    return factor


def last_weight(ops: tuple[Op, ...]) -> str:
    """The weight that zero-init-residual zeroes: the last conv's or norm's in ``ops``."""
    for op in reversed(ops):
        if isinstance(op, (Conv, Norm)):
            return f"{op.name}.weight"
    raise ValueError("a residual branch needs a conv or a norm to zero")


def with_dropout(ops: tuple[Op, ...], name: str = "dropout") -> tuple[Op, ...]:
    """``ops`` with a :class:`Dropout` just before their last conv (Wide ResNet's place)."""
    last = max(i for i, op in enumerate(ops) if isinstance(op, Conv))
    return (*ops[:last], Dropout(name), *ops[last:])
