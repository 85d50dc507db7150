"""Per-stage figures: parameters, mult-adds, activations, output stride, receptive field.

The receptive field is the theoretical one along the main path (the longest
chain of convs and pools), computed with the usual recurrence
``rf += (k - 1) * jump; jump *= stride``. Tests measure it on the real network.
"""

from __future__ import annotations

from dataclasses import dataclass

from designer.core.analysis import BYTES_PER_FLOAT, Analysis, Shape, numel
from designer.core.design import Design


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


def _stem_geometry(design: Design) -> list[tuple[int, int]]:
    """(kernel, stride) of each spatial op on the stem's main path."""
    kind = design.stem.kind
    if kind == "imagenet":
        return [(7, 2), (3, 2)]
    if kind == "cifar":
        return [(3, 1)]
    if kind == "deep":
        return [(3, 2), (3, 1), (3, 1), (3, 2)]
    return []


def _block_geometry(design: Design, stride: int) -> list[tuple[int, int]]:
    if design.is_bottleneck:
        if design.stride_on == "1x1":
            return [(1, stride), (3, 1), (1, 1)]
        return [(1, 1), (3, stride), (1, 1)]
    return [(3, stride), (3, 1)]


def stage_figures(result: Analysis) -> list[StageFigures]:
    design = result.design
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
        if stage_index == -1:
            name = "stem"
            advance(_stem_geometry(design))
        elif stage_index == len(design.stages):
            name = "head"
        else:
            name = f"layer{stage_index + 1}"
            spec = design.stages[stage_index]
            for b in range(spec.depth):
                advance(_block_geometry(design, spec.stride if b == 0 else 1))
        layers = result.layers[blocks[0].first_layer : blocks[-1].end_layer]
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
