"""Recovering a design from a checkpoint, beside a plain ``torch.load`` of the same file.

Issue 13: recovery reads names and shapes only (a mapped ``torch.load``, a parsed
safetensors header), so its time and memory should not grow with the weights.
Each case runs in a fresh process and reports its wall time and peak RSS
(``VmHWM``, reset once torch is imported) above its size at that point:

- resnet50 (98 MiB) and a 1 GiB checkpoint (a resnet152 widened until its weights
  pass 1 GiB), as .pth and .safetensors;
- ``recover``: :func:`designer.core.torch.checkpoint.recover_checkpoint` (reads, infers,
  builds the result on meta and checks every key and shape);
- ``torch.load``: what a user's own script does, ``torch.load(weights_only=True)``.

Run: .venv/bin/python bench/bench_checkpoint.py   (about a minute; needs ~3 GiB of disk)
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from designer.core.analysis import analyse  # noqa: E402
from designer.core.presets import load_preset  # noqa: E402

CHILD = """
import json, sys, time
sys.path.insert(0, {root!r})
import torch
from designer.core.torch.checkpoint import recover_checkpoint
def status(field):
    with open("/proc/self/status") as f:
        return int(next(l for l in f if l.startswith(field)).split()[1])
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # resets the peak (VmHWM) to the current size
base = status("VmRSS:")
start = time.perf_counter()
if {case!r} == "recover":
    recover_checkpoint({path!r})
elif {path!r}.endswith(".safetensors"):
    from safetensors.torch import load_file
    load_file({path!r})
else:
    torch.load({path!r}, map_location="cpu", weights_only=True)
seconds = time.perf_counter() - start
peak = status("VmHWM:")
print(json.dumps({{"seconds": seconds, "mib": (peak - base) / 1024}}))
"""


def _measure(case: str, path: Path) -> dict[str, float]:
    code = CHILD.format(root=str(ROOT), case=case, path=str(path))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _write(design_name: str, folder: Path) -> tuple[str, list[Path], float]:
    import torch
    from safetensors.torch import save_file

    from designer.core.torch.build import build

    design = load_preset("resnet152")
    if design_name == "1 GiB":
        scale = 2.1  # widths x2.1: weights grow ~4.4x, past 1 GiB
        stages = tuple(dataclasses.replace(s, width=int(s.width * scale)) for s in design.stages)
        design = design.replace(stages=stages)
    elif design_name == "resnet50":
        design = load_preset("resnet50")
    state = build(design).state_dict()
    pth = folder / f"{design_name.replace(' ', '')}.pth"
    torch.save(state, pth)
    safe = folder / f"{design_name.replace(' ', '')}.safetensors"
    save_file({k: v.contiguous() for k, v in state.items()}, str(safe))
    return design_name, [pth, safe], analyse(design).param_bytes / 2**20


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        columns = ["checkpoint", "file", "recover: s", "recover: peak MiB"]
        columns += ["torch.load: s", "torch.load: peak MiB"]
        print("| " + " | ".join(columns) + " |")
        print("|---|---|---|---|---|---|")
        for name in ("resnet50", "1 GiB"):
            label, paths, mib = _write(name, folder)
            for path in paths:
                ours = min(
                    (_measure("recover", path) for _ in range(3)), key=lambda r: r["seconds"]
                )
                theirs = min((_measure("load", path) for _ in range(3)), key=lambda r: r["seconds"])
                print(
                    f"| {label} ({mib:,.0f} MiB of weights) | {path.suffix} |"
                    f" {ours['seconds']:.3f} | {ours['mib']:.0f} |"
                    f" {theirs['seconds']:.3f} | {theirs['mib']:.0f} |"
                )
                path.unlink()


if __name__ == "__main__":
    main()
