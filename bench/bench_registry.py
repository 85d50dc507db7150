"""The parts registry beside what it replaced, in one run, as ratios (issue 10).

- closed-form analysis: today's generic walk over the registry's ops beside the
  hand-written walk it replaced (``bench/baseline/analysis_v0.py``);
- ``build()``: today's route (render model.py, run it; the compiled module is cached
  per text, so this is the warm cost an edit or an export pays) and a cold build
  (cache cleared, so rendering and compiling are included) beside the hand-written
  builder (``bench/baseline/build_v0.py``). Target: at most 1.2x.

Run: .venv/bin/python bench/bench_registry.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from bench._timing import median_ms
from bench.baseline.analysis_v0 import analyse as analyse_v0
from bench.baseline.build_v0 import build as build_v0
from designer.core.analysis import analyse
from designer.core.presets import load_preset
from designer.core.torch.build import build, model_module


def _cold(design):
    model_module.cache_clear()
    return build(design)


def main() -> None:
    torch.set_num_threads(2)
    print(f"{'closed-form analysis':28} {'registry':>10} {'before':>10} {'ratio':>7}")
    for name in ("resnet50", "resnet152", "preact_resnet1001_cifar"):
        design = load_preset(name)
        new = median_ms(lambda d=design: analyse(d), repeat=60, warmup=5)
        old = median_ms(lambda d=design: analyse_v0(d), repeat=60, warmup=5)
        print(f"{name:28} {new:7.3f} ms {old:7.3f} ms {new / old:6.2f}x")
    print()
    print(f"{'build() on the CPU':28} {'model.py':>10} {'cold':>10} {'before':>10} {'ratio':>7}")
    for name in ("resnet50", "resnet152"):
        design = load_preset(name)
        # interleave so both see the same machine state
        warm = median_ms(lambda d=design: build(d), repeat=7)
        cold = median_ms(lambda d=design: _cold(d), repeat=7)
        old = median_ms(lambda d=design: build_v0(d), repeat=7)
        print(
            f"{name:28} {warm:7.1f} ms {cold:7.1f} ms {old:7.1f} ms"
            f" {warm / old:6.2f}x (cold {cold / old:.2f}x)"
        )


if __name__ == "__main__":
    main()
