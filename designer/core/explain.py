"""Every figure explains itself: the formula behind a layer's numbers, and memory by part.

MACs follow torchinfo (conv: (k*k*Cin/groups*Cout + bias) * H*W; norm and linear:
their parameter count); FLOPs are 2 x MACs. Training memory is split into
weights, gradients, optimiser state and activations, with toggles for mixed
precision and activation checkpointing.
"""

from __future__ import annotations

from dataclasses import dataclass

from designer.core.analysis import Analysis, Layer, numel

OPTIMISER_STATE = {"sgd": 0, "sgd_momentum": 1, "adamw": 2}  # fp32 tensors per parameter


def explain_layer(layer: Layer) -> str:
    """One line: how this layer's parameters and MACs come about."""
    if layer.kind == "Conv2d":
        cin, cout = layer.input_shape[0], layer.output_shape[0]
        _, h, w = layer.output_shape
        k, groups = layer.kernel, layer.groups
        bias_text = f" + {cout} bias" if layer.bias else ""
        return (
            f"params = {k}*{k}*{cin}/{groups}*{cout}{bias_text} = {layer.params:,}; "
            f"MACs = params * H*W = {layer.params:,} * {h}*{w} = {layer.macs:,}"
        )
    if layer.kind.startswith("BatchNorm"):
        c = layer.input_shape[0]
        return f"params = weight + bias = 2*{c} = {layer.params:,}; MACs = params (torchinfo)"
    if layer.kind == "Linear":
        cin, cout = layer.input_shape[0], layer.output_shape[0]
        return f"params = {cin}*{cout} + {cout} bias = {layer.params:,}; MACs = params"
    return "no parameters; counted as 0 MACs (as torchinfo does)"


@dataclass(frozen=True)
class MemoryBreakdown:
    weights: int
    gradients: int
    optimiser: int
    activations: int

    @property
    def total(self) -> int:
        return self.weights + self.gradients + self.optimiser + self.activations


def training_memory(
    result: Analysis,
    batch_size: int,
    *,
    optimiser: str = "sgd_momentum",
    mixed_precision: bool = False,
    checkpointing: bool = False,
) -> MemoryBreakdown:
    """An estimate of what training holds at its peak, part by part.

    Mixed precision keeps fp32 master weights and states but 16-bit activations.
    Activation checkpointing keeps each block's input plus one block's internals
    (the largest), recomputing the rest in the backward pass.
    """
    params = result.params
    act_bytes = 2 if mixed_precision else 4
    if checkpointing:
        per_sample = [numel(layer.output_shape) for layer in result.layers]
        inputs = sum(numel(block.input_shape) for block in result.blocks)
        largest = max(sum(per_sample[b.first_layer : b.end_layer]) for b in result.blocks)
        kept = inputs + largest
    else:
        kept = result.activation_elements
    return MemoryBreakdown(
        weights=4 * params,
        gradients=4 * params,
        optimiser=4 * params * OPTIMISER_STATE[optimiser],
        activations=batch_size * kept * act_bytes,
    )


def training_bytes(result: Analysis, batch_size: int) -> int:
    """Weights + gradients + SGD momentum + activations at ``batch_size`` (fp32).

    The one number the inspector, ``fit`` and the budget checks show; ``training_memory``
    itemises it.
    """
    return training_memory(result, batch_size).total
