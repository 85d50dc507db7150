"""Compare, the Pareto plot, and self-explaining numbers cross-checked with torch's own counter."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from designer.cli import main
from designer.core.analysis import analyse
from designer.core.compare import columns, comparison_table, pareto_figure
from designer.core.explain import explain_layer, training_bytes, training_memory
from designer.core.presets import load_preset
from designer.core.torch.build import build


@pytest.mark.parametrize(
    "name", ["resnet18", "resnext50_32x4d", "resnetv2_builder", "preact_resnet164_cifar"]
)
def test_conv_and_linear_flops_equal_torchs_flop_counter(name: str) -> None:
    design = load_preset(name)
    result = analyse(design)
    # torch counts 2 FLOPs per multiply-add of conv and matmul weights; no biases, no norms
    ours = 0
    for layer in result.layers:
        if layer.kind == "Conv2d":
            ours += (
                2
                * (layer.params - (layer.output_shape[0] if layer.bias else 0))
                * layer.output_shape[1]
                * layer.output_shape[2]
            )
        elif layer.kind == "Linear":
            ours += 2 * layer.input_shape[0] * layer.output_shape[0]
    model = build(design, device="meta").eval()
    x = torch.empty(
        1, design.input.channels, design.input.height, design.input.width, device="meta"
    )
    with FlopCounterMode(display=False) as counter:
        model(x)
    assert counter.get_total_flops() == ours


def test_every_layer_explains_its_own_numbers() -> None:
    result = analyse(load_preset("resnetv2_builder"))
    for layer in result.layers:
        text = explain_layer(layer)
        assert "\n" not in text
        if layer.params:
            assert f"{layer.params:,}" in text
        if layer.kind == "Conv2d":
            assert f"{layer.macs:,}" in text and f"{layer.kernel}*{layer.kernel}" in text


def test_memory_breakdown_adds_up_and_toggles_shrink_it() -> None:
    result = analyse(load_preset("resnet50"))
    plain = training_memory(result, 32)
    assert plain.total == training_bytes(result, 32)  # SGD with momentum, fp32: the same estimate
    # weights: and BatchNorm's running statistics; gradients: those made by the peak only
    assert plain.optimiser == 4 * result.params < plain.weights
    assert 0 < plain.gradients <= 4 * result.params
    mixed = training_memory(result, 32, mixed_precision=True)
    assert mixed.activations < 0.6 * plain.activations and mixed.weights == plain.weights
    ckpt = training_memory(result, 32, checkpointing=True)
    assert ckpt.activations < plain.activations / 2
    adam = training_memory(result, 32, optimiser="adamw")
    assert adam.optimiser == 2 * plain.optimiser


def test_comparison_lists_every_stage_with_deltas() -> None:
    text = comparison_table(
        columns([("a", load_preset("resnet50")), ("b", load_preset("resnet101"))])
    )
    assert "layer3 params" in text and "+" in text and "(+" in text
    assert "layer4 receptive field" in text


def test_pareto_plot_is_a_real_image(tmp_path: Path) -> None:
    png = pareto_figure([("mine", load_preset("resnet20_cifar"))])
    assert png.startswith(b"\x89PNG") and len(png) > 20_000
    svg = pareto_figure([("mine", load_preset("resnet20_cifar"))], fmt="svg")
    assert b"<svg" in svg and b"resnet152" in svg


def test_compare_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plot = tmp_path / "p.svg"
    assert main(["compare", "resnet18", "resnet34", "--plot", str(plot)]) == 0
    assert plot.stat().st_size > 10_000
    assert main(["compare", "resnet18", "--plot", str(plot)]) == 2  # no silent overwrite
    assert main(["compare", "resnet18", "--plot", str(tmp_path / "p.gif")]) == 2
    assert "exists" in capsys.readouterr().err
