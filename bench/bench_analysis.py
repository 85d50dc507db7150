"""Live analysis (closed form) beside build + torchinfo.summary, in one run, as ratios.

Targets (issue 2): resnet152 < 2 ms, preact_resnet1001_cifar < 10 ms including the
per-layer table, and at least 100x faster than construct-plus-torchinfo.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torchinfo

from bench._timing import median_ms
from designer.core.analysis import analyse
from designer.core.presets import load_preset
from designer.core.torch.build import build


def main() -> None:
    print(f"{'design':26} {'layers':>6} {'closed form':>12} {'build+torchinfo':>16} {'ratio':>8}")
    for name in ("resnet50", "resnet152", "preact_resnet1001_cifar"):
        design = load_preset(name)
        shape = (1, design.input.channels, design.input.height, design.input.width)
        fast = median_ms(lambda d=design: analyse(d), repeat=50)

        def reference(d=design, s=shape) -> None:
            torchinfo.summary(build(d), input_size=s, verbose=0)

        slow = median_ms(reference, repeat=3)
        layers = len(analyse(design).layers)
        print(f"{name:26} {layers:6d} {fast:9.3f} ms {slow:13.1f} ms {slow / fast:7.0f}x")


if __name__ == "__main__":
    main()
