"""Per-stage and per-layer geometry: output stride and receptive field (and per stage,
parameters, mult-adds and activations).

The receptive field is the theoretical one along the main path (the longest
chain of convs and pools), computed with the usual recurrence
``rf += (k - 1) * jump; jump *= stride``. Tests measure it on the real network.
"""

from __future__ import annotations

from dataclasses import dataclass

from designer.core.analysis import BYTES_PER_FLOAT, Analysis, Layer, Shape, numel
from designer.core.blocks.kinds import PATH_BRANCHES
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


_MAIN_PATH = ("pre", "main", "post")
Geometry = tuple[int, int]  # (receptive field, output stride), in input pixels along one side


def stage_figures(result: Analysis) -> list[StageFigures]:
    """Each stage's totals, and its output's stride and receptive field (the head: the
    last stage's, before its global pool)."""
    geometry = layer_geometry(result)
    rf, jump = 1, 1
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
            start = blocks[0].first_layer
            for i, layer in enumerate(layers, start):
                if layer.role in _MAIN_PATH and (at := geometry[i]) is not None:
                    rf, jump = at
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


def layer_geometry(result: Analysis) -> list[Geometry | None]:
    """Per row of ``result.layers``: the receptive field and output stride of its output.

    In closed form, along the path the row sits on: the main path as
    :func:`stage_figures` counts it, and a shortcut's layers from where the shortcut
    taps its block (a projection sees what the block's input saw, plus its own
    kernel and stride). ``None`` after a global pool, whose output sees the whole
    input: squeeze-excitation's branch and the head from its pooling on (the main
    path's field leaves squeeze-excitation's global context out, as the per-stage one).
    """
    out: list[Geometry | None] = []
    rf, jump = 1, 1
    head = len(result.design.stages)
    layers = result.layers
    for block in result.blocks:
        tap: Geometry = (rf, jump)
        shortcut: Geometry | None = None
        paths: _Paths | None = None
        pooled = False
        for layer in layers[block.first_layer : block.end_layer]:
            role = layer.role
            if pooled or role == "se":
                out.append(None)
                continue
            if block.stage == head and (
                layer.kind.startswith("Adaptive") or len(layer.output_shape) < 3
            ):
                pooled = True
                out.append(None)
                continue
            if role == "shortcut":
                shortcut = _advance(shortcut or tap, layer)
                out.append(shortcut)
                continue
            if layer.branch.startswith(PATH_BRANCHES):
                paths = paths or _Paths((rf, jump))
                out.append(paths.advance(layer))
                continue
            if paths is not None:  # the paths are concatenated: the longest one's field
                rf, jump = paths.joined()
                paths = None
            rf, jump = _advance((rf, jump), layer)
            if role == "pre":  # the shortcut taps the block after its pre-activation
                tap = (rf, jump)
            out.append((rf, jump))
    return out


class _Paths:
    """A module's parallel paths over splits of one input (Res2Net's): each starts where
    the split is, or, cascaded, where the previous path ended if that saw more."""

    def __init__(self, split: Geometry) -> None:
        self.split = split
        self.ends: list[Geometry] = []
        self.branch = ""
        self.at = split

    def advance(self, layer: Layer) -> Geometry:
        if layer.branch != self.branch:
            if self.branch:
                self.ends.append(self.at)
            cascaded = layer.branch.startswith("cascade.") and self.ends
            self.at = max(self.split, self.ends[-1]) if cascaded else self.split
            self.branch = layer.branch
        self.at = _advance(self.at, layer)
        return self.at

    def joined(self) -> Geometry:
        return max(*self.ends, self.at, self.split)


def _advance(at: Geometry, layer: Layer) -> Geometry:
    """After ``layer``: a kernel widens the field by its reach, a stride spaces the pixels
    (a strided subsampling without a kernel, as option A's shortcut, reaches one pixel)."""
    rf, jump = at
    if layer.kernel:
        rf += layer.dilation * (layer.kernel - 1) * jump
    return rf, jump * layer.stride


def stage_dict(figures: StageFigures) -> dict[str, object]:
    """One stage's figures as JSON-ready values (``lint --json``, ``compare --json``)."""
    return {
        "name": figures.name,
        "blocks": figures.blocks,
        "params": figures.params,
        "macs": figures.macs,
        "activation_bytes": figures.activation_bytes,
        "output_shape": list(figures.output_shape),
        "output_stride": figures.output_stride,
        "receptive_field": figures.receptive_field,
    }


def part_field(design: Design, part: str) -> str:
    """The field that sizes ``part`` (a :class:`StageFigures` name), to blame when it is
    too big: a stage's width, the stem's, or in the head the wider of the classes and the
    hidden layers (the final fc's rows are the classes)."""
    if part.startswith("layer"):
        return f"stages[{int(part[len('layer') :]) - 1}].width"
    if part == "head":
        hidden = design.head.hidden
        return "head.hidden" if hidden and max(hidden) > design.num_classes else "num_classes"
    return "stem.width"


def heaviest_field(result: Analysis) -> str:
    """The field that sizes the part holding the most weights."""
    part = max(stage_figures(result), key=lambda s: s.params)
    return part_field(result.design, part.name)


def shrink_weights(field: str) -> str:
    """How to make the weights ``field`` sizes smaller, as a command."""
    if field == "num_classes":
        return "lower num_classes"
    if field == "head.hidden":
        return "narrow head.hidden (or remove the hidden layers)"
    return "shrink widths or depths"
