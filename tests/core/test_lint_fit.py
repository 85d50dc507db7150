"""Receptive fields measured on the real network, the linter, the budget fit."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from designer.core.analysis import analyse
from designer.core.design import (
    MAX_BUILD_BYTES,
    Design,
    DesignError,
    InputSpec,
    StageSpec,
    StemSpec,
)
from designer.core.explain import training_bytes
from designer.core.fit import Budget, fit, parse_bytes, parse_count
from designer.core.lint import ABSURD_MACS, ABSURD_MEMORY, lint, size_limits, size_warning
from designer.core.presets import load_preset, preset_names
from designer.core.stages import stage_figures
from designer.core.torch.build import build
from tests.core.test_presets_reference import TORCHVISION
from tests.reference_figures import TORCHVISION_COUNTS


def _measured_receptive_fields(design: Design) -> dict[str, int]:
    """Backprop from one central output pixel of each stage; count the input rows it touches.

    Positive weights and identity BNs keep every path's gradient non-zero; max-pools
    become average pools of the same geometry so no pixel of a window is dropped.
    """
    model = build(design).eval()
    for name, module in list(model.named_modules()):
        if isinstance(module, nn.MaxPool2d):
            setattr(model, name, nn.AvgPool2d(3, 2, 1))
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Conv2d):
                module.weight.fill_(1.0 / module.weight[0].numel())
    outputs: dict[str, torch.Tensor] = {}
    for s in range(len(design.stages)):
        getattr(model, f"layer{s + 1}").register_forward_hook(
            lambda _m, _i, out, key=f"layer{s + 1}": outputs.__setitem__(key, out)
        )
    x = torch.ones(1, design.input.channels, design.input.height, design.input.width)
    x.requires_grad_(True)
    model(x)
    fields = {}
    for key, out in outputs.items():
        grad = torch.autograd.grad(
            out[0, :, out.shape[2] // 2, out.shape[3] // 2].sum(), x, retain_graph=True
        )[0]
        rows = grad[0].abs().sum(dim=(0, 2)).nonzero().flatten()
        fields[key] = int(rows.max() - rows.min() + 1)
    return fields


@pytest.mark.parametrize(
    "design",
    [
        load_preset("resnet20_cifar").replace(input=InputSpec(3, 200, 200)),
        Design(
            stages=(StageSpec(1, 8, 1), StageSpec(2, 8, 2), StageSpec(1, 16, 2)),
            input=InputSpec(1, 160, 160),
            stem=StemSpec("imagenet", 8),
            stride_on="1x1",
        ),
        Design(
            stages=(StageSpec(1, 8, 2), StageSpec(1, 8, 3)),
            block="preact_basic",
            input=InputSpec(1, 160, 160),
            stem=StemSpec("deep", 8),
        ),
        # torchvision's replace_stride_with_dilation, in a bottleneck and a basic network
        Design(
            stages=(StageSpec(1, 8, 1), StageSpec(2, 8, 2), StageSpec(2, 16, 2, dilate=True)),
            input=InputSpec(1, 200, 200),
            stem=StemSpec("imagenet", 8),
        ),
        Design(
            stages=(
                StageSpec(2, 8, 1),
                StageSpec(2, 8, 2, dilate=True),
                StageSpec(2, 8, 2, dilate=True),
            ),
            block="basic",
            input=InputSpec(1, 160, 160),
            stem=StemSpec("cifar", 8),
        ),
    ],
    ids=["resnet20", "bottleneck-v1", "deep-stem-preact", "dilated-bottleneck", "dilated-basic"],
)
def test_receptive_fields_match_the_network(design: Design) -> None:
    figures = {s.name: s.receptive_field for s in stage_figures(analyse(design))}
    measured = _measured_receptive_fields(design)
    assert all(figures[k] < design.input.height for k in measured)  # not clipped by the border
    assert {k: figures[k] for k in measured} == measured


def test_resnet50_receptive_field_and_output_stride() -> None:
    # 427 px and stride 32: the figures usually quoted for torchvision's ResNet-50
    last = next(s for s in stage_figures(analyse(load_preset("resnet50"))) if s.name == "layer4")
    assert (last.receptive_field, last.output_stride) == (427, 32)


def test_stage_figures_add_up() -> None:
    result = analyse(load_preset("resnet152"))
    figures = stage_figures(result)
    assert sum(s.params for s in figures) == result.params
    assert sum(s.macs for s in figures) == result.macs
    assert sum(s.activation_bytes for s in figures) == result.activation_bytes_per_sample


@pytest.mark.parametrize("name", TORCHVISION)
def test_linter_is_silent_on_torchvision_presets(name: str) -> None:
    assert lint(load_preset(name)) == []


def test_linter_flags_a_hand_made_bad_design() -> None:
    bad = Design(
        stages=(
            StageSpec(1, 64, 1),
            StageSpec(1, 32, 2),  # shrinks
            StageSpec(1, 64, 4),  # skips pixels
            StageSpec(1, 128, 2),
            StageSpec(1, 128, 2),  # the map is 1x1 by now
        ),
        input=InputSpec(3, 64, 64),
        groups=64,
        width_per_group=2,  # 2 channels per group
        shortcut="zero_pad",
        stem=StemSpec("imagenet", 64),
    )
    codes = {f.code: f for f in lint(bad)}
    assert {"shrinking-width", "stride-skips-pixels", "collapse-early", "nearly-depthwise"} <= set(
        codes
    )
    assert codes["shrinking-width"].field == "stages[1].width"
    assert codes["stride-skips-pixels"].field == "stages[2].stride"
    assert all(f.fix and "\n" not in str(f) for f in codes.values())


def test_linter_flags_a_small_receptive_field_and_no_early_downsampling() -> None:
    shallow = Design(stages=(StageSpec(1, 16, 1),), block="basic", stem=StemSpec("cifar", 16))
    codes = {f.code for f in lint(shallow)}
    assert {"rf-too-small", "no-early-downsampling", "large-final-map"} <= codes


@pytest.mark.parametrize(
    "budget",
    [
        Budget(max_macs=2 * 10**9, max_params=10 * 10**6),
        Budget(max_params=3 * 10**6),
        Budget(max_memory_bytes=2 * 1024**3, batch_size=64),
    ],
)
def test_fit_candidates_really_meet_the_limits(budget: Budget) -> None:
    design = load_preset("resnet50")
    candidates = fit(design, budget, top=4)
    assert candidates
    for c in candidates:
        result = analyse(c.design)
        built = build(c.design, device="meta")
        params = sum(p.numel() for p in built.parameters())  # counted by torch, not by us
        assert params == result.params
        if budget.max_params:
            assert params <= budget.max_params
        if budget.max_macs:
            assert result.macs <= budget.max_macs
        if budget.max_memory_bytes:
            assert training_bytes(result, budget.batch_size) <= budget.max_memory_bytes
        assert [s.stride for s in c.design.stages] == [s.stride for s in design.stages]
        assert c.binding in c.usage and c.explain()
    assert fit(design, budget, top=4) == candidates  # deterministic


def test_fit_needs_a_limit_and_parses_sizes() -> None:
    with pytest.raises(DesignError, match="at least one limit"):
        fit(load_preset("resnet18"), Budget())
    assert parse_count("2G", "x") == 2_000_000_000 and parse_count("1.5m", "x") == 1_500_000
    assert parse_bytes("4GiB", "x") == 4 * 1024**3 and parse_bytes("512MiB", "x") == 512 * 2**20
    for bad in ("", "two", "-3", "1e", "5Q"):
        with pytest.raises(DesignError):
            parse_count(bad, "--max-macs")


def test_fit_keeps_custom_proportions() -> None:
    base = load_preset("resnet18")
    odd = base.replace(
        stages=tuple(
            dataclasses.replace(s, depth=d) for s, d in zip(base.stages, (1, 2, 3, 1), strict=True)
        )
    )
    best = fit(odd, Budget(max_params=5 * 10**6), top=1)[0]
    depths = [s.depth for s in best.design.stages]
    assert depths == [*sorted(depths[:3]), depths[3]] and depths[2] >= depths[0]


def test_absurd_sizes_are_flagged_naming_the_culprit() -> None:
    # a width typed as 9,999,999 gives 4.5 quadrillion parameters: a typo, to be flagged
    huge = load_preset("resnet18").with_stage(3, width=9_999_999)
    findings = [f for f in lint(huge) if f.code == "absurd-size"]
    assert len(findings) == 1
    finding = findings[0]
    assert finding.severity == "warning"
    assert finding.field == "stages[3].width"
    assert "nothing over 16.0 GiB can be built" in finding.message
    assert "\n" not in str(finding)
    assert size_warning(analyse(huge)).startswith("Beyond any real network: ")


def test_a_huge_input_is_blamed_for_absurd_compute() -> None:
    design = load_preset("resnet50").replace(input=InputSpec(3, 20_000, 20_000))
    result = analyse(design)
    assert 4 * result.params <= MAX_BUILD_BYTES and result.macs > ABSURD_MACS
    (finding,) = [f for f in lint(design, result) if f.code == "absurd-size"]
    assert finding.field == "input.height"
    assert "multiply-adds per image" in finding.message


@pytest.mark.parametrize("name", preset_names())
def test_no_preset_is_absurdly_large(name: str) -> None:
    result = analyse(load_preset(name))
    assert size_limits(result) == [] and size_warning(result) == ""


def test_size_thresholds_sit_just_beyond_the_builder_and_real_networks() -> None:
    # the largest real design the app should call sensible: BiT-L's ResNet-152x4 at 480 px
    base = load_preset("resnet152")
    bit = base.replace(
        stem=StemSpec("imagenet", 256),
        stages=tuple(dataclasses.replace(s, width=s.width * 4) for s in base.stages),
        input=InputSpec(3, 480, 480),
    )
    result = analyse(bit)
    assert 0.9e9 < result.params < 1e9 and size_limits(result) == []
    assert training_bytes(result, 1) < ABSURD_MEMORY and result.macs < ABSURD_MACS


def test_absurd_sizes_read_in_the_units_that_fit_them():
    # a width of 9,999,999 gives quadrillions of parameters: "4500.00T", or GiB in five-digit
    # millions, would not read, so the short forms go up to exa and exbibytes
    from designer.core.analysis import analyse
    from designer.core.presets import load_preset
    from designer.core.report import human_bytes, human_count

    design = load_preset("resnet18").with_stage(3, width=9_999_999)
    params = analyse(design).params
    assert 1e15 < params < 1e18
    assert human_count(params) == f"{params / 1e15:.2f}P"
    assert human_bytes(4 * params) == f"{4 * params / 2**50:.1f} PiB"
    assert human_count(TORCHVISION_COUNTS["resnet50"].params) == "25.56M"
    assert human_bytes(4.1 * 2**30) == "4.1 GiB"
