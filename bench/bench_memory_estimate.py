"""The training-memory estimate beside the measured peak of a training step (issue 15).

For torchvision-shaped ResNet-18/50/152 and a CIFAR ResNet-56, each at two batch
sizes, fp32 and bf16 (autocast): ``training_memory`` (closed form) against
``train_step_peak`` (one steady-state step of SGD with momentum). With a CUDA GPU
the measure is ``torch.cuda.max_memory_allocated`` at full size; without one it is
the storages torch keeps alive, tracked op by op on CPU, at smaller inputs (and the
estimate leaves out CUDA's cuBLAS workspace).

Run: .venv/bin/python bench/bench_memory_estimate.py   (CPU: a minute or two)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from designer.core.analysis import analyse  # noqa: E402
from designer.core.design import InputSpec  # noqa: E402
from designer.core.explain import training_memory  # noqa: E402
from designer.core.presets import load_preset  # noqa: E402
from designer.core.torch.build import build  # noqa: E402
from designer.core.torch.peak import train_step_peak  # noqa: E402

# (preset, input side, batch sizes)
CUDA_CASES = (
    ("resnet18", 224, (32, 128)),
    ("resnet50", 224, (16, 64)),
    ("resnet152", 224, (16, 48)),
    ("resnet56_cifar", 32, (256, 1024)),
)
CPU_CASES = (
    ("resnet18", 112, (8, 32)),
    ("resnet50", 112, (4, 16)),
    ("resnet152", 96, (4, 16)),
    ("resnet56_cifar", 32, (32, 128)),
)
MIB = 2**20


def main() -> None:
    cuda = torch.cuda.is_available()
    device = "cuda" if cuda else "cpu"
    if cuda:
        print(f"measured: torch.cuda.max_memory_allocated on {torch.cuda.get_device_name()}")
    else:
        print("measured: tensors alive, tracked op by op on CPU (no CUDA GPU here)")
    print(
        f"{'model':16} {'input':>5} {'batch':>5} {'precision':>9}"
        f" {'estimate':>12} {'measured':>12} {'error':>7} {'time':>6}"
    )
    for name, side, batches in CUDA_CASES if cuda else CPU_CASES:
        design = load_preset(name).replace(input=InputSpec(3, side, side))
        result = analyse(design)
        torch.manual_seed(0)
        model = build(design).to(device)
        for batch in batches:
            for amp in ("none", "bf16"):
                start = time.perf_counter()
                measured = train_step_peak(model, batch, (3, side, side), amp=amp, device=device)
                seconds = time.perf_counter() - start
                half = amp != "none"
                estimate = training_memory(result, batch, mixed_precision=half, device=device)
                error = estimate.total / measured - 1
                print(
                    f"{name:16} {side:5d} {batch:5d} {'bf16' if half else 'fp32':>9}"
                    f" {estimate.total / MIB:8.1f} MiB {measured / MIB:8.1f} MiB"
                    f" {error:+7.1%} {seconds:5.1f}s"
                )
        del model
        if cuda:
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
