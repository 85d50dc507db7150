"""The training-memory estimate holds against what a training step really holds.

The closed-form ``training_memory`` must come within 10% of the peak of one
steady-state SGD step (``designer.core.torch.peak.train_step_peak``): on CPU, always,
through the storages torch keeps alive op by op, at inputs small enough to train in
a test; on CUDA, skipped without a GPU, through ``torch.cuda.max_memory_allocated``
at full size. Both precisions: fp32, and bf16 under autocast.
"""

from __future__ import annotations

from functools import lru_cache

import pytest
import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from designer.core.analysis import analyse
from designer.core.design import Design, InputSpec
from designer.core.explain import training_memory
from designer.core.presets import load_preset
from designer.core.torch.build import build
from designer.core.torch.peak import train_step_peak

TOLERANCE = 0.10

# (preset, input side, two batch sizes): from peaks mostly weights (small batches) to
# peaks mostly activations (the CIFAR net); counting every layer's output as kept, as
# the estimate once did, is 26-50% over in fp32 at the larger batch of each
CPU_CASES = (
    ("resnet18", 112, (4, 32)),
    ("resnet50", 96, (2, 16)),
    ("resnet152", 64, (4, 24)),
    ("resnet56_cifar", 32, (16, 64)),
)
GPU_CASES = (
    ("resnet18", 224, (32, 128)),
    ("resnet50", 224, (16, 64)),
    ("resnet152", 224, (16, 48)),
    ("resnet56_cifar", 32, (256, 1024)),
)
PRECISIONS = ("none", "bf16")


def _cases(table: tuple) -> list[tuple[str, int, int, str]]:
    return [
        (name, side, batch, amp)
        for name, side, batches in table
        for batch in batches
        for amp in PRECISIONS
    ]


def _design(name: str, side: int) -> Design:
    return load_preset(name).replace(input=InputSpec(3, side, side))


@lru_cache(maxsize=1)  # the cases come preset by preset: each network is built once
def _model(name: str, side: int, device: str) -> nn.Module:
    torch.manual_seed(0)
    return build(_design(name, side)).to(device)


def _check(name: str, side: int, batch: int, amp: str, device: str) -> None:
    model = _model(name, side, device)
    measured = train_step_peak(model, batch, (3, side, side), amp=amp, device=device)
    result = analyse(_design(name, side))
    parts = training_memory(result, batch, mixed_precision=amp != "none", device=device)
    error = parts.total / measured - 1
    assert abs(error) <= TOLERANCE, f"{parts} vs {measured:,} measured ({error:+.1%})"


@pytest.mark.parametrize(("name", "side", "batch", "amp"), _cases(CPU_CASES))
def test_estimate_within_10_percent_of_the_tensors_alive_on_cpu(name, side, batch, amp) -> None:
    _check(name, side, batch, amp, "cpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize(("name", "side", "batch", "amp"), _cases(GPU_CASES))
def test_estimate_within_10_percent_of_cuda_max_memory_allocated(name, side, batch, amp) -> None:
    _check(name, side, batch, amp, "cuda")


def test_checkpointing_each_block_is_estimated_too() -> None:
    """Checkpointed blocks keep their input and recompute the rest in the backward."""
    design = _design("resnet56_cifar", 32)
    model = build(design)
    for stage in (model.layer1, model.layer2, model.layer3):
        for block in stage:
            block.forward = lambda x, f=block.forward: checkpoint(f, x, use_reentrant=False)
    result = analyse(design)
    for amp in PRECISIONS:
        measured = train_step_peak(model, 64, (3, 32, 32), amp=amp)
        plain = training_memory(result, 64, mixed_precision=amp != "none", device="cpu")
        kept = training_memory(
            result, 64, mixed_precision=amp != "none", checkpointing=True, device="cpu"
        )
        assert abs(kept.total / measured - 1) <= TOLERANCE, (amp, kept, measured)
        assert kept.activations < plain.activations / 2
