"""Filter response normalisation with its thresholded linear unit (Singh & Krishnan 2019),
as timm's ``FilterResponseNormTlu2d``: a norm that activates itself.

Each channel of each sample is divided by its root mean square (no batch statistics),
scaled and shifted, then ``max(x, tau)``: the TLU is the activation, so none follows it
(timm's ``resnetv2_50d_frn``). Its tensors are ``weight``, ``bias`` and ``tau``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from designer.core.blocks.kinds import CustomModule, register
from designer.core.blocks.norms import Normalisation, register_norm, vector_norm_walk

if TYPE_CHECKING:
    pass

_SOURCE = '''class FilterResponseNormTlu2d(nn.Module):
    """Filter response normalisation (Singh & Krishnan 2019), as timm's: each channel over
    its root mean square, scaled and shifted, then max(x, tau). It is its own activation."""

    def __init__(self, num_features: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.tau = nn.Parameter(torch.zeros(num_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # in float32, as timm computes it (float16 would overflow the squares)
        mean_square = x.square().float().mean(dim=(2, 3), keepdim=True)
        x = x * mean_square.add(self.eps).rsqrt().to(x.dtype)
        x = x * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)
        return torch.maximum(x, self.tau.view(1, -1, 1, 1))'''


register(
    CustomModule(
        key="filter_response_norm",
        class_name="FilterResponseNormTlu2d",
        source=lambda design: _SOURCE,
        walk=vector_norm_walk("FilterResponseNormTlu2d", 3),
        graph_kind="norm",
        graph_label="FRN",
    )
)
register_norm(
    "frn",
    Normalisation(
        "FilterResponseNormTlu2d",
        "FilterResponseNormTlu2d({c})",
        1,
        summary="filter response norm with its TLU (its own activation)",
        vectors=("weight", "bias", "tau"),
        activates=True,
        custom="filter_response_norm",
    ),
)
