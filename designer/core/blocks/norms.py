"""Every normalisation a design can name, described once (as the activations are).

The analysis lists each norm under ``module`` (torchinfo's class name) with its
affine parameters, the generated code constructs it with ``source``, and the
design's validation checks that every normalised width is a multiple of
``divides`` (GroupNorm's groups).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Normalisation:
    module: str  # the torch.nn class, as torchinfo names the layer
    source: str  # how model.py constructs one over ``{c}`` channels
    divides: int  # every normalised width must be a multiple of this


GN_GROUPS = 32  # timm's resnet*_gn and the detection backbones' GroupNorm

NORMS: dict[str, Normalisation] = {
    "batch": Normalisation("BatchNorm2d", "nn.BatchNorm2d({c})", 1),
    "group": Normalisation("GroupNorm", f"nn.GroupNorm({GN_GROUPS}, {{c}})", GN_GROUPS),
}
