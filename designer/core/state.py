"""The state dict a design's network holds: every tensor's name and shape, without torch.

The analysis walks the plan module by module under the network's own attribute paths;
each module kind has a fixed set of tensors (a conv its weight and, if biased, its bias;
a BatchNorm its affine pair and running statistics). So the names and shapes of a whole
network's state dict follow from the analysis alone, for any part the registry holds:
what checkpoint recovery compares a proposed design with, key by key, without building it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence

from designer.core.analysis import Layer, analyse
from designer.core.blocks import NORMS
from designer.core.blocks.std_conv import CLASS_NAME as STD_CONV
from designer.core.design import Design

Shape = tuple[int, ...]
Tensors = Iterator[tuple[str, Shape]]


def _conv(layer: Layer) -> Tensors:
    out, cin = layer.output_shape[0], layer.input_shape[0]
    yield "weight", (out, cin // layer.groups, layer.kernel, layer.kernel)
    if layer.bias:
        yield "bias", (out,)


def _conv1d(layer: Layer) -> Tensors:
    # a 1-D conv over (channels, length) maps: its kernel spans the length (ECA's channels)
    yield "weight", (layer.output_shape[0], layer.input_shape[0], layer.kernel)
    if layer.params > layer.output_shape[0] * layer.input_shape[0] * layer.kernel:
        yield "bias", (layer.output_shape[0],)


def _batch_norm(layer: Layer) -> Tensors:
    channels = layer.output_shape[0]
    for name in ("weight", "bias", "running_mean", "running_var"):
        yield name, (channels,)
    yield "num_batches_tracked", ()


def _affine(layer: Layer) -> Tensors:
    yield "weight", (layer.output_shape[0],)
    yield "bias", (layer.output_shape[0],)


def _vectors(names: tuple[str, ...]) -> Callable[[Layer], Tensors]:
    """A norm's per-channel parameters, by their names (EvoNorm's weight, bias and v)."""

    def tensors(layer: Layer) -> Tensors:
        for name in names:
            yield name, (layer.output_shape[0],)

    return tensors


def _linear(layer: Layer) -> Tensors:
    yield "weight", (layer.output_shape[0], layer.input_shape[0])
    yield "bias", (layer.output_shape[0],)


TENSORS: Mapping[str, Callable[[Layer], Tensors]] = {
    **{norm.module: _vectors(norm.vectors) for norm in NORMS.values()},
    "Conv2d": _conv,
    STD_CONV: _conv,
    "Conv1d": _conv1d,
    "BatchNorm2d": _batch_norm,
    "BatchNorm1d": _batch_norm,
    "GroupNorm": _affine,
    "LayerNorm2d": _affine,
    "Linear": _linear,
}
"""The tensors of each module kind the analysis reports; the rest hold none."""


def expected_state(design: Design) -> dict[str, Shape]:
    """Every tensor of ``design``'s network, by state-dict key, in the network's order.

    torch's order is the modules' registration order, depth first: each module's children
    in the order they are first called (the rows' order), so Res2Net's ``convs.0``,
    ``convs.1`` come before ``bns.0`` though they are called in turn.
    """
    first: dict[str, int] = {}
    keyed: list[tuple[tuple[int, ...], str, Shape]] = []
    for layer in analyse(design).layers:
        parts = layer.name.split(".")
        paths = [".".join(parts[: i + 1]) for i in range(len(parts))]
        for path in paths:
            first.setdefault(path, len(first))
        tensors = TENSORS.get(layer.kind)
        if tensors is not None:
            order = tuple(first[path] for path in paths)
            keyed += ((order, f"{layer.name}.{name}", shape) for name, shape in tensors(layer))
    keyed.sort(key=lambda item: item[0])  # stable: a module's own tensors keep their order
    return {key: shape for _, key, shape in keyed}


def mismatch(
    expected: Mapping[str, Shape], found: Mapping[str, Shape], unplaced: Sequence[str] = ()
) -> str:
    """The first way ``found`` differs from ``expected``, in words ("" when they agree).

    ``unplaced``: the checkpoint's tensors no name maps onto ours, extra as those of
    ``found`` that ``expected`` lacks are.
    """
    for key, shape in expected.items():
        if key not in found:
            if key.endswith(".num_batches_tracked"):
                continue  # a counter, not structure: frozen norms (detectors') have none
            return f"the recovered design needs {key}, which the checkpoint lacks"
        if tuple(found[key]) != shape:
            return (
                f"{key} has shape {list(found[key])} where the recovered design has"
                f" {list(shape)}: not a network this design language can express"
            )
    extra = [*(key for key in found if key not in expected), *unplaced]
    if extra:
        return f"{extra[0]} has no place in the recovered design ({len(extra)} such)"
    return ""
