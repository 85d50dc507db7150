"""The expected state dict (names and shapes from the analysis) is the built network's own.

Recovery checks a proposed design against a checkpoint with it instead of building the
network, so it must agree with torch's ``state_dict()`` of the generated code exactly:
every key, in order, every shape, buffers included, for every preset and random designs.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from designer.core.analysis import analyse
from designer.core.design import Design
from designer.core.presets import load_preset, preset_names
from designer.core.state import expected_state, mismatch
from designer.core.torch.build import build
from tests.strategies import small_designs


def _torch_state(design: Design) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in build(design, device="meta").state_dict().items()}


def _parameters(state: dict[str, tuple[int, ...]]) -> int:
    total = 0
    for key, shape in state.items():
        if key.endswith(("running_mean", "running_var", "num_batches_tracked")):
            continue
        count = 1
        for n in shape:
            count *= n
        total += count
    return total


@pytest.mark.parametrize("name", preset_names())
def test_every_preset_holds_the_expected_tensors(name: str) -> None:
    design = load_preset(name)
    expected = expected_state(design)
    assert list(expected.items()) == list(_torch_state(design).items())
    assert _parameters(expected) == analyse(design).params


@pytest.mark.parametrize("attention", ["se", "eca"])
def test_attention_modules_hold_the_expected_tensors(attention: str) -> None:
    ratio = 0.25 if attention == "se" else 0.0
    design = load_preset("resnet50").replace(attention=attention, se_ratio=ratio)
    assert list(expected_state(design).items()) == list(_torch_state(design).items())


@pytest.mark.parametrize("kind", ["avg", "blur"])
def test_anti_aliased_networks_hold_the_expected_tensors(kind: str) -> None:
    """Their pools hold no tensors (BlurPool's filter is made in forward, as a constant)."""
    design = load_preset("resnet50").replace(anti_alias=kind)
    assert list(expected_state(design).items()) == list(_torch_state(design).items())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_designs())
def test_random_designs_hold_the_expected_tensors(design: Design) -> None:
    assert list(expected_state(design).items()) == list(_torch_state(design).items())


def test_a_mismatch_names_the_first_key_and_what_to_expect() -> None:
    expected = expected_state(load_preset("resnet18"))
    found = dict(expected)
    assert mismatch(expected, found) == ""
    found["layer2.0.conv1.weight"] = (128, 64, 5, 5)
    assert mismatch(expected, found).startswith(
        "layer2.0.conv1.weight has shape [128, 64, 5, 5] where the recovered design has"
        " [128, 64, 3, 3]"
    )
    del found["layer2.0.conv1.weight"]
    assert "needs layer2.0.conv1.weight" in mismatch(expected, found)
    extra = dict(expected, **{"layer9.0.conv1.weight": (1, 1, 1, 1)})
    assert mismatch(expected, extra) == (
        "layer9.0.conv1.weight has no place in the recovered design (1 such)"
    )
