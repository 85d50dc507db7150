"""The CLI on the largest design it accepts (issue 11: `summary` under 5 s), as processes.

20,000 pre-activation bottleneck blocks with squeeze-excite: 280,008 layers. Each
command runs as a real process (start-up included) beside `validate`, which only
loads and analyses, so the ratio shows what printing costs on top.

Run: .venv/bin/python bench/bench_cli.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from designer.core.design import StageSpec  # noqa: E402
from designer.core.io import save  # noqa: E402
from designer.core.presets import load_preset  # noqa: E402


def _seconds(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args], check=True, stdout=subprocess.DEVNULL
    )
    return time.perf_counter() - start


def main() -> None:
    design = load_preset("preact_resnet164_cifar").replace(
        name="largest", stages=(StageSpec(10_000, 16, 1), StageSpec(10_000, 32, 2)), se_ratio=0.25
    )
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "largest.resnet.json")
        save(design, path)
        floor = min(_seconds(["validate", path]) for _ in range(3))
        print(f"{'command (20,000 blocks)':32} {'seconds':>8} {'vs validate':>12}   target")
        print(f"{'validate':32} {floor:8.2f} {1:11.1f}x")
        for args in (["summary"], ["summary", "--json"], ["summary", "--json", "--compact"]):
            took = min(_seconds([args[0], path, *args[1:]]) for _ in range(3))
            print(f"{' '.join(args):32} {took:8.2f} {took / floor:11.1f}x   under 5 s")


if __name__ == "__main__":
    main()
