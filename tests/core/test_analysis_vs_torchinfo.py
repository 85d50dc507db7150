"""The closed-form analysis equals torchinfo, layer by layer, on presets and random designs."""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings

from designer.core.analysis import analyse
from designer.core.design import Design, StemSpec
from designer.core.presets import load_preset, preset_names
from designer.core.torch.build import build
from tests.reference import torchinfo_leaf_rows
from tests.strategies import small_designs


def _assert_matches_torchinfo(design: Design, device: str) -> None:
    result = analyse(design)
    shape = (design.input.channels, design.input.height, design.input.width)
    stats, rows = torchinfo_leaf_rows(build(design, device=device), shape, device=device)
    ours = [(r.name, r.kind, r.output_shape, r.params, r.macs) for r in result.layers]
    assert ours == rows
    assert result.params == stats.total_params
    assert result.trainable_params == stats.trainable_params
    assert result.macs == stats.total_mult_adds


@pytest.mark.parametrize("name", preset_names())
def test_every_preset_layer_by_layer(name: str) -> None:
    design = load_preset(name)
    device = "meta" if analyse(design).params > 30_000_000 else "cpu"
    _assert_matches_torchinfo(design, device)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_designs())
def test_random_designs_agree_with_torchinfo(design: Design) -> None:
    _assert_matches_torchinfo(design, "cpu")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_designs())
def test_random_designs_run_with_the_reported_output_shape(design: Design) -> None:
    result = analyse(design)
    model = build(design).eval()
    x = torch.randn(2, design.input.channels, design.input.height, design.input.width)
    with torch.no_grad():
        y = model(x)
    assert tuple(y.shape) == (2, *result.output_shape)
    assert torch.isfinite(y).all()
    assert sum(p.numel() for p in model.parameters()) == result.params


def test_ten_billion_parameter_design_analyses_without_allocating() -> None:
    import tracemalloc

    design = load_preset("resnet50")
    huge = design.replace(
        stages=tuple(s.__class__(s.depth, s.width * 32, s.stride) for s in design.stages)
    )
    tracemalloc.start()
    result = analyse(huge)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert result.params > 10_000_000_000
    assert peak < 5 * 1024 * 1024  # the layer table only: no weights


def test_analysis_needs_no_torch() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from designer.core.analysis import analyse;"
        "from designer.core.presets import load_preset;"
        "analyse(load_preset('resnet152')); print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _preact_gn() -> Design:
    """A pre-activation net with no stem, whose first block normalises the input itself."""
    base = load_preset("preact_resnet164_cifar")
    return base.replace(
        norm="group",
        stem=StemSpec("none", 16),
        input=base.input.__class__(32, 32, 32),
        stages=tuple(s.__class__(2, s.width * 2, s.stride) for s in base.stages),
    )


@pytest.mark.parametrize(
    "design",
    [
        load_preset("resnet18").replace(norm="group"),
        load_preset("resnet50").replace(norm="group", shortcut="avg_down"),
        _preact_gn(),
    ],
    ids=["resnet18", "resnet50-d", "preact-no-stem"],
)
def test_group_norm_designs_layer_by_layer(design: Design) -> None:
    device = "meta" if analyse(design).params > 30_000_000 else "cpu"
    _assert_matches_torchinfo(design, device)


@pytest.mark.parametrize("shortcut", ["projection", "avg_down", "zero_pad"])
@pytest.mark.parametrize("preset", ["resnet18", "resnet50"])
def test_every_shortcut_in_dilated_stages_layer_by_layer(shortcut: str, preset: str) -> None:
    """A dilated stage's first block changes the width at stride 1: each shortcut kind's
    module for that (timm's ResNet-D keeps a 2x2 pool at stride 1) is counted as torchinfo
    counts it."""
    design = load_preset(preset).replace(shortcut=shortcut)
    for index in (2, 3):
        design = design.with_stage(index, dilate=True)
    _assert_matches_torchinfo(design, "cpu")


def test_group_norm_needs_widths_it_can_divide() -> None:
    from designer.core.design import DesignError

    with pytest.raises(DesignError, match=r"stages\[0\]\.width: .*multiple of 32"):
        load_preset("resnet20_cifar").replace(
            norm="group", stem=StemSpec("cifar", 32), shortcut="projection"
        )
    with pytest.raises(DesignError, match=r"stem\.width: .*multiple of 32"):
        load_preset("resnet20_cifar").replace(norm="group")


def test_a_conv_stem_pool_layer_by_layer_and_where_it_is_refused() -> None:
    from designer.core.design import DesignError

    design = load_preset("resnet50").replace(stem=StemSpec("deep", 64, pool="conv"))
    _assert_matches_torchinfo(design, "meta")
    rows = {r.name: r.kind for r in analyse(design).layers}
    assert rows["maxpool.0"] == "Conv2d" and rows["maxpool.1"] == "BatchNorm2d"
    with pytest.raises(DesignError, match=r"stem\.pool: the cifar stem has no max-pool"):
        load_preset("resnet20_cifar").replace(stem=StemSpec("cifar", 16, pool="conv"))
