"""The bundle's README.md: how to train, resume, run distributed and load the result."""

from __future__ import annotations

import re
from string import Template

README = Template(
    """\
# $title: a training bundle

Written by ResNet Designer $version. Everything here needs only PyTorch
(torchvision only for ImageFolder/CIFAR data).

| file | what it is |
|---|---|
| `model.py` | the network, standalone: `from model import build_model` |
| `design.resnet.json` | the design it was written from (input $shape, $classes classes) |
| `$weights` | the initial weights, drawn with seed $seed |
| `bundle.json` | the seed, the files and the versions that wrote them |
| `train.py` | the training script (`python train.py --help`) |

## Train

```bash
python train.py --epochs 1 --max-steps 20          # smoke test on synthetic data, CPU or GPU
python train.py --data imagefolder --data-dir /data/imagenet --epochs 90 --batch-size 64
python train.py --data cifar10 --data-dir /data/cifar --epochs 164 --batch-size 128 \\
    --schedule step --lr-step 82 --wd 1e-4
```

- `--data synthetic` (the default) draws random images of the design's shape, so the
  script always runs. `imagefolder` expects `DIR/train/CLASS/*.jpg` and `DIR/val/CLASS/*.jpg`
  and uses the ImageNet recipe (random-resized crop and flip; resize 256 / centre crop 224
  for evaluation; ImageNet mean and std). `cifar10` / `cifar100` read a local copy made by
  torchvision (nothing is downloaded) and use pad-4 random crops and flips.
- The recipe: SGD with momentum (`--nesterov` optional) or `--opt adamw`; `--schedule cosine`
  or `step`, with `--warmup-epochs` of linear warm-up; `--label-smoothing`; weight decay
  (`--wd`) on weights only, never on norms and biases. The default `--lr` is
  0.1 x global batch / 256 for SGD.
- Speed: `--amp bf16|fp16|none` (bf16 by default on a GPU), `--channels-last`, `--compile`.
  `--deterministic` makes every run repeat bit for bit (slower).
- Output goes to `--out` (default `run/`): `last.pt` after every epoch, `best.pt` at the best
  validation accuracy, `metrics.csv` (and TensorBoard logs with `--tensorboard`, if installed).
  Checkpoints are written to a temporary file and renamed, so a crash never leaves half of one.

## Resume

```bash
python train.py --resume run/last.pt [the same options as before]
```

The model, optimiser, schedule, loss scaler, epoch, step and random-number states come back,
so the run continues as if it had never stopped (bit for bit on a deterministic CPU run).
`--max-steps N` stops after N steps and leaves a checkpoint to resume from. A damaged
checkpoint is refused with a one-line error and nothing is overwritten.

## Run distributed

```bash
torchrun --nproc_per_node=8 train.py --data imagefolder --data-dir /data/imagenet
torchrun --nnodes=2 --node_rank=0 --master_addr=HOST --master_port=29500 \\
    --nproc_per_node=8 train.py --data imagefolder --data-dir /data/imagenet
```

One process per GPU with DistributedDataParallel and a DistributedSampler (NCCL on GPUs, Gloo
on CPUs). `--batch-size` is per process; only rank 0 logs and writes files. `--sync-bn`
synchronises BatchNorm statistics across processes.

## Measure

```bash
python train.py --benchmark --batch-size 256 --channels-last [--compile]
```

prints training and inference images per second on synthetic data.

## Load the result

```python
import torch
from model import build_model

model = build_model()
checkpoint = torch.load("run/best.pt", map_location="cpu", weights_only=True)
model.load_state_dict(checkpoint["model"])
model.eval()
```
"""
)


_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>&~])")


def markdown_text(text: str) -> str:
    """``text`` as literal Markdown on one line: no HTML, no markup, no control characters."""
    flat = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    return _MARKDOWN.sub(r"\\\1", flat)


def render_readme(
    *,
    title: str,
    version: str,
    shape: str,
    classes: int,
    weights: str,
    seed: int,
) -> str:
    """Fill the template; ``title`` is the design's name, shown as text only."""
    return README.substitute(
        title=markdown_text(title) or "model",
        version=version,
        shape=shape,
        classes=classes,
        weights=weights,
        seed=seed,
    )
