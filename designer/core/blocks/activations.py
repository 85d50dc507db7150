"""Every activation a design can name, described once.

The analysis lists each call under ``module`` (torchinfo's class name), the
generated code constructs it with ``source``, and the design's validation and the
app's choices come from the table's keys.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Activation:
    module: str  # the torch.nn class, as torchinfo names the layer
    source: str  # how model.py constructs one


ACTIVATIONS: dict[str, Activation] = {
    "relu": Activation("ReLU", "nn.ReLU(inplace=True)"),
    "relu6": Activation("ReLU6", "nn.ReLU6(inplace=True)"),
    "leaky_relu": Activation("LeakyReLU", "nn.LeakyReLU(0.01, inplace=True)"),
    "elu": Activation("ELU", "nn.ELU(inplace=True)"),
    "silu": Activation("SiLU", "nn.SiLU(inplace=True)"),
    "gelu": Activation("GELU", "nn.GELU()"),
    "mish": Activation("Mish", "nn.Mish(inplace=True)"),
    "hardswish": Activation("Hardswish", "nn.Hardswish(inplace=True)"),
}
