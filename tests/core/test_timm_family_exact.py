"""Every timm ResNet-family model that opens is timm's network, not only its tensors.

``test_timm_family`` checks names and shapes on the meta device; this builds both
networks: timm's, randomly initialised with every norm and bias randomised (so that only
a right mapping of each tensor gives the same outputs), and ours from the design its state
dict opens as. Ours takes timm's tensors strictly through the recovery's key map (what
``export --init-from`` does), has timm's parameter count, counts timm's FLOPs (torch's
FlopCounterMode) and gives timm's outputs in eval mode (in double precision, at 1e-4).

What weights cannot show is the user's to say, as ``open`` tells them: anti-aliased models
(``resnetaa*``, ``resnetblur*``) get ``anti_alias`` from their name here, and timm's byobnet
networks their activation and stem pool, as a user follows the recovery's notes.
"""

from __future__ import annotations

import dataclasses

import pytest
import timm
import torch
from torch import nn

from designer.core.design import Design
from designer.core.recover import Recovery, recover
from designer.core.torch.build import build
from designer.core.torch.transfer import in_our_names
from tests.core.test_timm_family import MAX_PARAMS, family, refused
from tests.reference import forward_flops

SIDE = 32  # outputs: a small input keeps the largest networks fast on CI's two cores
COUNTED_SIDE = 224  # FLOPs are counted on the meta device, at no cost: at the real size


def _randomised(model: nn.Module) -> nn.Module:
    """Every vector (norm scales and shifts, biases) and running statistic drawn at random."""
    torch.manual_seed(0)
    with torch.no_grad():
        for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
            if not tensor.is_floating_point() or tensor.ndim != 1:
                continue
            low, high = (0.8, 1.2) if name.endswith(("weight", "running_var")) else (-0.1, 0.1)
            tensor.uniform_(low, high)
    return model.eval()


def _anti_alias(name: str, recovered: str) -> str:
    """What the user sets after the recovery's note: the pools timm's name says (else the
    recovery's: byobnet's CLIP layout says avg)."""
    if "blur" in name:
        return "blur"
    return "avg" if "aa" in name else recovered


def _as_the_notes_say(name: str, recovery: Recovery) -> Design:
    """What the user sets after the recovery's notes: the pools and, for timm's byobnet
    networks, the activation (SiLU only where the name ends in ts) and whether the tiered
    stem strides its third conv instead of pooling (the 33ts, 32ts and 50t configs)."""
    design = recovery.design.replace(anti_alias=_anti_alias(name, recovery.design.anti_alias))
    if recovery.key_map.scheme != "timm-byobnet":
        return design
    if not name.endswith("ts"):
        design = design.replace(activation="relu")
    if name.endswith(("33ts", "32ts", "50t")):
        design = design.replace(stem=dataclasses.replace(design.stem, pool="stride"))
    return design


def _opening() -> list[str]:
    return [name for name in family() if not refused(name)]


@pytest.mark.parametrize("name", _opening())
def test_the_opened_design_is_timms_network(name: str) -> None:
    theirs = timm.create_model(name, pretrained=False)
    count = sum(p.numel() for p in theirs.parameters())
    if count > MAX_PARAMS:
        pytest.skip("over 100M parameters")
    _randomised(theirs)
    state = theirs.state_dict()
    recovery = recover({k: tuple(v.shape) for k, v in state.items()}, name=name)
    design = _as_the_notes_say(name, recovery)
    ours = build(design).eval()
    ours.load_state_dict(in_our_names(state), strict=True)
    assert sum(p.numel() for p in ours.parameters()) == count
    # in double precision: a deep pre-activation network's outputs reach the thousands,
    # where float32's rounding alone exceeds the tolerance
    x = torch.randn(
        1, 3, SIDE, SIDE, dtype=torch.float64, generator=torch.Generator().manual_seed(1)
    )
    with torch.no_grad():
        expected, got = theirs.double()(x), ours.double()(x)
    assert got.shape == expected.shape
    assert torch.allclose(got, expected, atol=1e-4, rtol=1e-4), (got - expected).abs().max()
    # counted on the meta device: shapes alone, nothing computed
    flops = forward_flops(ours.to("meta", torch.float32), COUNTED_SIDE, "meta")
    assert flops == forward_flops(theirs.to("meta", torch.float32), COUNTED_SIDE, "meta") > 0
