"""The measurement itself (issue 15): `measure resnet50 --batch 1` on the CPU, three times.

Targets: each run under 10 s including the process start; the three medians within
10% of each other on an idle machine. Beside each run, the baseline: a plain
``time.perf_counter`` loop over the same network in its own fresh process, so the
ratio (ours / plain) shows that the figure is the network's cost and not ours.

    python bench/bench_measure.py [--design resnet50] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PLAIN = """
import sys, time, torch
sys.path.insert(0, {root!r})
from designer.core.measure import physical_cores
from designer.core.presets import load_preset
from designer.core.torch.build import build
torch.set_num_threads(physical_cores())
model = build(load_preset({design!r})).eval()
d = load_preset({design!r}).input
x = torch.randn(1, d.channels, d.height, d.width)
times = []
with torch.inference_mode():
    for _ in range(5):
        model(x)
    start = time.perf_counter()
    while time.perf_counter() - start < 2.0 or len(times) < 5:
        t0 = time.perf_counter()
        model(x)
        times.append(time.perf_counter() - t0)
print(sorted(times)[len(times) // 2])
"""


def ours(design: str) -> tuple[float, float, float]:
    """(wall seconds of the whole command, median latency in ms, its IQR share)."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "measure", design, "--batch", "1", "--json"],
        capture_output=True,
        encoding="utf-8",
        check=True,
        env={**os.environ, "CUDA_VISIBLE_DEVICES": ""},
    )
    wall = time.perf_counter() - started
    latency = json.loads(done.stdout)["latency"]
    return wall, latency["median_s"] * 1000, latency["iqr_s"] / latency["median_s"]


def plain(design: str) -> float:
    code = PLAIN.format(root=str(ROOT), design=design)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, encoding="utf-8", check=True
    )
    return float(done.stdout.split()[-1]) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--design", default="resnet50")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"{args.design}, batch 1, CPU; load average before: {os.getloadavg()[0]:.2f}")
    print(f"{'run':>3} {'wall':>7} {'median':>10} {'IQR':>6} {'plain loop':>11} {'ratio':>6}")
    medians = []
    for run in range(1, args.runs + 1):
        wall, median, spread = ours(args.design)
        baseline = plain(args.design)
        medians.append(median)
        print(
            f"{run:>3} {wall:6.1f}s {median:8.2f}ms {spread:6.1%} {baseline:9.2f}ms"
            f" {median / baseline:6.2f}"
        )
    across = (max(medians) - min(medians)) / statistics.median(medians)
    print(f"medians across runs: {across:.1%} apart (target under 10%); wall target under 10 s")


if __name__ == "__main__":
    main()
