"""EvoNorm-S0 (Liu et al. 2020), as timm's ``EvoNorm2dS0``: a norm that activates itself.

It divides ``x * sigmoid(v * x)`` by the standard deviation of each group of 32 channels
(no batch statistics, like GroupNorm), then scales and shifts; no activation follows it,
so in a pre-activation network every norm-activation pair is one EvoNorm (timm's
``resnetv2_50d_evos``). Its tensors are ``weight``, ``bias`` and ``v``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from designer.core.blocks.kinds import CustomModule, register
from designer.core.blocks.norms import GN_GROUPS, Normalisation, register_norm, vector_norm_walk

if TYPE_CHECKING:
    pass

_SOURCE = f'''class EvoNorm2dS0(nn.Module):
    """EvoNorm-S0 (Liu et al. 2020), as timm's: x * sigmoid(v * x) over the standard
    deviation of each group of channels, scaled and shifted. It is its own activation."""

    def __init__(self, num_features: int, groups: int = {GN_GROUPS}, eps: float = 1e-5) -> None:
        super().__init__()
        self.groups = groups
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.v = nn.Parameter(torch.ones(num_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        grouped = x.reshape(b, self.groups, c // self.groups, h, w)
        # in float32, as timm computes it (float16 would overflow the squares)
        var = grouped.float().var(dim=(2, 3, 4), unbiased=False, keepdim=True)
        std = var.add(self.eps).sqrt().to(x.dtype).expand(grouped.shape).reshape(b, c, h, w)
        x = x * (x * self.v.view(1, -1, 1, 1)).sigmoid() / std
        return x * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)'''


register(
    CustomModule(
        key="evo_norm",
        class_name="EvoNorm2dS0",
        source=lambda design: _SOURCE,
        walk=vector_norm_walk("EvoNorm2dS0", 3),
        graph_kind="norm",
        graph_label="EvoNorm",
    )
)
register_norm(
    "evonorm",
    Normalisation(
        "EvoNorm2dS0",
        "EvoNorm2dS0({c})",
        GN_GROUPS,
        summary="EvoNorm-S0 (its own activation)",
        vectors=("weight", "bias", "v"),
        activates=True,
        custom="evo_norm",
    ),
)
