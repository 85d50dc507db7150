"""Per-stage figures: parameters, mult-adds, activations, output stride, receptive field.

The receptive field is the theoretical one along the main path (the longest
chain of convs and pools), computed with the usual recurrence
``rf += (k - 1) * jump; jump *= stride``. Tests measure it on the real network.
"""

from __future__ import annotations

from dataclasses import dataclass

from designer.core.analysis import BYTES_PER_FLOAT, Analysis, Layer, Shape, numel


@dataclass(frozen=True)
class StageFigures:
    name: str  # "stem", "layer1", ..., "head"
    blocks: int
    params: int
    macs: int
    activation_bytes: int  # per sample, fp32, every layer output in the stage
    output_shape: Shape
    output_stride: int  # input pixels per output pixel
    receptive_field: int  # input pixels seen by one output pixel (along one side)


def _main_path(layers: tuple[Layer, ...]) -> list[tuple[int, int]]:
    """(reach, stride) of each spatial op on the main path, in order.

    The rows say where they sit (their block's declared role) and carry their kernel,
    dilation and stride, so no block or stem kind is named here. A dilated kernel
    reaches ``dilation * (kernel - 1) + 1`` pixels.
    """
    return [
        (layer.dilation * (layer.kernel - 1) + 1, layer.stride)
        for layer in layers
        if layer.kernel and layer.role in _MAIN_PATH
    ]


_MAIN_PATH = ("pre", "main", "post")


def stage_figures(result: Analysis) -> list[StageFigures]:
    rf, jump = 1, 1

    def advance(ops: list[tuple[int, int]]) -> None:
        nonlocal rf, jump
        for kernel, stride in ops:
            rf += (kernel - 1) * jump
            jump *= stride

    groups: dict[int, list[int]] = {}
    for i, block in enumerate(result.blocks):
        groups.setdefault(block.stage, []).append(i)
    figures = []
    for stage_index in sorted(groups):
        blocks = [result.blocks[i] for i in groups[stage_index]]
        layers = result.layers[blocks[0].first_layer : blocks[-1].end_layer]
        if stage_index == -1:
            name = "stem"
        elif stage_index == len(result.design.stages):
            name = "head"
        else:
            name = f"layer{stage_index + 1}"
        if name != "head":
            advance(_main_path(layers))
        activation = sum(numel(layer.output_shape) for layer in layers) * BYTES_PER_FLOAT
        figures.append(
            StageFigures(
                name=name,
                blocks=len(blocks) if name not in ("stem", "head") else 0,
                params=sum(b.params for b in blocks),
                macs=sum(b.macs for b in blocks),
                activation_bytes=activation,
                output_shape=blocks[-1].output_shape,
                output_stride=jump,
                receptive_field=rf,
            )
        )
    return figures
