"""Peak memory of exports at 1 GiB of weights, as a ratio to the weights (issue 11: <= 1.3x).

Each case runs in a fresh process and reports its own peak RSS (``ru_maxrss``):

- build only: torch plus the network, the floor every export starts from;
- export .pt / .safetensors / bundle today (streamed to disk tensor by tensor);
- the same two formats as they were written before (assembled in memory first:
  ``torch.save`` into a BytesIO, ``safetensors.torch.save``), side by side.

Run: .venv/bin/python bench/bench_memory.py   (about a minute; needs ~4 GiB free)
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from designer.core.analysis import analyse  # noqa: E402
from designer.core.design import StageSpec  # noqa: E402
from designer.core.io import save  # noqa: E402
from designer.core.presets import load_preset  # noqa: E402

CHILD = """
import io, resource, sys
sys.path.insert(0, {root!r})
from designer.core.io import load
design = load({design!r})
out = {out!r}
case = {case!r}
if case == "build":
    from designer.core.torch.build import build
    model = build(design)
elif case in ("pt", "safetensors"):
    from designer.core.torch.export import export_weights
    export_weights(design, out + "." + case, case)
elif case == "bundle":
    from designer.core.torch.bundle_writer import write_bundle
    write_bundle(design, out + "-bundle")
elif case == "pt, before":
    import torch
    from designer.core.torch.build import build
    buffer = io.BytesIO()
    torch.save(build(design).state_dict(), buffer)
    open(out + ".old.pt", "wb").write(buffer.getvalue())
elif case == "safetensors, before":
    import safetensors.torch as st
    from designer.core.torch.build import build
    state = {{k: v.contiguous() for k, v in build(design).state_dict().items()}}
    open(out + ".old.safetensors", "wb").write(st.save(state))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""


def main() -> None:
    base = load_preset("resnet50")
    design = base.replace(
        name="ResNet-50 x3.25 wide",
        stages=tuple(StageSpec(s.depth, s.width * 13 // 4, s.stride) for s in base.stages),
    )
    weights = analyse(design).param_bytes
    print(f"{design.name}: {weights / 1024**3:.2f} GiB of fp32 weights")
    print(f"{'case':24} {'peak RSS':>10} {'/ weights':>10}")
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "d.resnet.json")
        save(design, path)
        cases = ("build", "pt", "safetensors", "bundle", "pt, before", "safetensors, before")
        for case in cases:
            code = CHILD.format(root=str(ROOT), design=path, out=f"{folder}/x", case=case)
            done = subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True
            )
            peak = int(done.stdout.split()[-1])
            print(f"{case:24} {peak / 1024**3:7.2f} GiB {peak / weights:9.2f}x")


if __name__ == "__main__":
    main()
