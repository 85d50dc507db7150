"""Every normalisation a design can name, described once (as the activations are).

The analysis lists each norm under ``module`` (torchinfo's class name) with its
per-channel parameters (``vectors``), the generated code constructs it with ``source``,
the state dict holds its ``vectors``, and the design's validation checks that every
normalised width is a multiple of ``divides`` (GroupNorm's groups). A norm of our own
(EvoNorm, FRN) lives in a module of its own that registers it here with its class.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from designer.core.blocks.kinds import Shape, Walker
from designer.core.blocks.ops import Act, Identity, Norm, Op, Seq

if TYPE_CHECKING:
    from designer.core.design import Design


@dataclass(frozen=True, slots=True)
class Normalisation:
    module: str  # the torch.nn class, as torchinfo names the layer
    source: str  # how model.py constructs one over ``{c}`` channels
    divides: int  # every normalised width must be a multiple of this
    summary: str = ""  # what model.py's docstring says of it
    # its per-channel parameters, each of the normalised width: the state dict's names
    vectors: tuple[str, ...] = ("weight", "bias")
    # it applies its own non-linearity (EvoNorm-S0's x * sigmoid(v x), FRN's TLU): the
    # activation that follows each of its calls is folded into it
    activates: bool = False
    custom: str = ""  # the key of the CUSTOM_MODULES entry with its class ("": torch's)


GN_GROUPS = 32  # timm's resnet*_gn and the detection backbones' GroupNorm

NORMS: dict[str, Normalisation] = {
    "batch": Normalisation("BatchNorm2d", "nn.BatchNorm2d({c})", 1),
    "group": Normalisation("GroupNorm", f"nn.GroupNorm({GN_GROUPS}, {{c}})", GN_GROUPS),
}


def register_norm(name: str, norm: Normalisation) -> None:
    """Add a norm the design may name; a second of the same name is a programming error."""
    if name in NORMS:
        raise ValueError(f"norm {name!r} is registered twice")
    NORMS[name] = norm


def vector_norm_walk(
    kind: str, vectors: int
) -> Callable[[Walker, str, Shape, tuple[int, ...], Design], Shape]:
    """The walk of a norm of our own with ``vectors`` per-channel tensors: torchinfo counts
    its weight and bias as its mult-adds, not the rest (EvoNorm's ``v``, FRN's ``tau``)."""

    def walk(w: Walker, name: str, x: Shape, args: tuple[int, ...], design: Design) -> Shape:
        return w.row(name, kind, x, x, vectors * x[0], macs=2 * x[0])

    return walk


def folded(ops: tuple[Op, ...], norm: str) -> tuple[Op, ...]:
    """``ops`` as a network with ``norm`` runs them: where the norm activates itself, the
    activation after each of its calls is its own, not a module of the owner's.

    At the top level that activation goes; inside a Seq it becomes an Identity, which keeps
    its neighbours' indices (a deep stem's ``conv1.3`` stays ``conv1.3`` whatever the norm).
    """
    if not NORMS[norm].activates:
        return ops
    out: list[Op] = []
    for op in ops:
        if isinstance(op, Act) and out and isinstance(out[-1], Norm):
            continue
        out.append(replace(op, ops=_in_seq(op.ops)) if isinstance(op, Seq) else op)
    return tuple(out)


def _in_seq(ops: tuple[Op, ...]) -> tuple[Op, ...]:
    return tuple(
        Identity(op.name) if isinstance(op, Act) and i and isinstance(ops[i - 1], Norm) else op
        for i, op in enumerate(ops)
    )
