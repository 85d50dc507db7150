"""The bundle's README.md: how to train, resume, run distributed and load the result."""

from __future__ import annotations

import re
from string import Template

README = Template(
    """\
# $title: a training bundle

Written by ResNet Designer $version. Everything here needs only PyTorch
(torchvision for image data and its augmentations): `pip install -r requirements.txt`.

| file | what it is |
|---|---|
| `model.py` | the network, standalone: `from model import build_model` |
| `design.resnet.json` | the design it was written from (input $shape, $classes classes) |
| `$weights` | the initial weights, drawn with seed $seed |
| `bundle.json` | the seed, the files and the versions that wrote them |
| `train.py` | the training script (`python train.py --help`) |
| `requirements.txt` | what `train.py` needs |

## Train

```bash
python train.py --epochs 1 --max-steps 20          # smoke test on synthetic data, CPU or GPU
python train.py --data-path /data/imagenet --epochs 90 --batch-size 64
python train.py --data cifar10 --data-path /data/cifar --download --epochs 164 \\
    --batch-size 128 --lr-scheduler steplr --lr-step-size 82
```

`train.py` takes the flags of torchvision's `references/classification/train.py` with the
same meaning, so its documented recipes run as they are; torchvision's ResNet-50 recipe
(80.86% top-1 on ImageNet):

```bash
torchrun --nproc_per_node=8 train.py --model resnet50 --batch-size 128 --lr 0.5 \\
    --lr-scheduler cosineannealinglr --lr-warmup-epochs 5 --lr-warmup-method linear \\
    --auto-augment ta_wide --epochs 600 --random-erase 0.1 --weight-decay 0.00002 \\
    --norm-weight-decay 0.0 --label-smoothing 0.1 --mixup-alpha 0.2 --cutmix-alpha 1.0 \\
    --train-crop-size 176 --model-ema --val-resize-size 232 --ra-sampler --ra-reps 4 \\
    --data-path /data/imagenet
```

(`--model` is accepted and ignored: the network is `model.py`'s.)

- Data: `--data-path DIR` reads an ImageFolder tree (`DIR/train/CLASS/*.jpg`,
  `DIR/val/CLASS/*.jpg`); `--data cifar10|cifar100 --data-path DIR` a torchvision CIFAR copy
  (`--download` fetches it). Without a path, `synthetic` random images of the design's shape,
  so the script always runs.
- Classes: the data must have the design's number of classes; otherwise `train.py` stops at
  once and says so. `--num-classes N` fine-tunes to N classes: a new classifier (`fc`), every
  other weight of `--init` kept (a resume keeps the count); load its checkpoints into
  `build_model()` after `model.fc = torch.nn.Linear(model.fc.in_features, N)`.
- The recipe follows the input size, and the first log line says which one was chosen:
  inputs of at most 64 px a side (and CIFAR) get pad-and-crop + flip, SGD lr 0.1 (more
  above batch 256) and weight decay 5e-4; larger ones ImageNet's random-resized crop + flip
  (resize x256/224, centre crop for evaluation), lr 0.1 x global batch / 256 and 1e-4.
  `--recipe imagenet|cifar` overrides it.
- Augmentation: `--auto-augment ta_wide|ra|augmix|imagenet`, `--random-erase P`,
  `--mixup-alpha`, `--cutmix-alpha` (one of the two per batch), `--ra-sampler --ra-reps N`
  (repeated augmentation), `--train-crop-size`, `--val-resize-size`, `--val-crop-size`,
  `--interpolation`.
- Optimisation: `--opt sgd|sgd_nesterov|adamw|rmsprop`, `--weight-decay` (norms and biases
  get none unless `--norm-weight-decay` / `--bias-weight-decay` say so),
  `--lr-scheduler cosineannealinglr|steplr|exponentiallr`, `--lr-warmup-epochs`,
  `--lr-warmup-method linear|constant`, `--label-smoothing`, `--clip-grad-norm`,
  `--model-ema` (an EMA of the weights, evaluated beside them every epoch).
- Speed: `--amp` (bf16 where supported, `--amp-dtype fp16` for fp16 with a loss scaler; on by
  default on a GPU, `--amp none` turns it off), `--channels-last`, `--compile`.
  `--use-deterministic-algorithms` makes every run repeat bit for bit (slower).
- Output goes to `--output-dir` (default `run/`): `last.pt` after every epoch, `best.pt` at the
  best validation top-1, `metrics.csv` with top-1, top-5 and `max_memory_bytes` (and
  TensorBoard logs with `--tensorboard`, if installed). Checkpoints are written to a temporary
  file and renamed, so a crash never leaves half of one. `--test-only --resume run/last.pt`
  evaluates one (its EMA with `--model-ema`).
- Memory: each progress line ends with `mem 1.23 GiB` (2^30 bytes), and `max_memory_bytes`
  holds the epoch's figure in bytes: on a GPU the allocator's peak since the epoch began (on
  Apple's MPS, the most allocated at any progress line), on a CPU the process's peak resident
  size.

## Resume

```bash
python train.py --resume run/last.pt [the same options as before]
```

The model (and its EMA), optimiser, schedule, loss scaler, epoch, step and random-number
states come back, so the run continues as if it had never stopped (bit for bit on a
deterministic CPU run).
`--max-steps N` stops after N steps and leaves a checkpoint to resume from. So does a stop:
SIGTERM (`kill PID`, and what torchrun passes on when it is stopped) or Ctrl-C ends training
at the next step (under torchrun every process at the same step, within `--print-freq`
steps), writes `last.pt` there, says where it stopped and how to continue, and exits with
143 (SIGTERM) or 130 (Ctrl-C):

```text
stopped at step 1234 (epoch 3, batch 234/500); continue with --resume run/last.pt
```

A signal during the evaluation takes effect after the epoch's checkpoint. A second signal
ends the run at once, with `last.pt` as it was. A damaged checkpoint is refused with a
one-line error and nothing is overwritten.

## Run distributed

```bash
torchrun --nproc_per_node=8 train.py --data-path /data/imagenet
torchrun --nnodes=2 --node_rank=0 --master_addr=HOST --master_port=29500 \\
    --nproc_per_node=8 train.py --data-path /data/imagenet
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


# Markup wherever it stands in a line (CommonMark, and GitHub's strikethrough and math):
# escapes, code spans, emphasis, links and images, raw HTML and autolinks.
_ALWAYS = frozenset("\\`*[]<~$")
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]*);")
# What opens a block at the start of a line: an ATX heading, a quote, a bullet, a setext
# underline or thematic break; and the "." or ")" of an ordered list item.
_BLOCK_START = re.compile(r"#{1,6}(?= |$)|>|[-+](?= |$)|-+$|=+$")
_ORDERED = re.compile(r"(\d{1,9})([.)])(?= |$)")


def markdown_text(text: str) -> str:
    """``text`` as literal Markdown on one line, in a heading or a paragraph: control
    characters become spaces and only what Markdown would read as markup is escaped, so
    a name stays readable ("ResNet-18", "resnet50_os8", "R&D" as they are)."""
    flat = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    out = []
    for i, ch in enumerate(flat):
        if (
            ch in _ALWAYS
            or (ch == "_" and not _inside_word(flat, i))
            or (ch == "&" and _ENTITY.match(flat, i))
        ):
            out.append("\\")
        out.append(ch)
    line = "".join(out)
    if _BLOCK_START.match(line):
        return "\\" + line
    return _ORDERED.sub(r"\1\\\2", line, count=1) if _ORDERED.match(line) else line


def _inside_word(text: str, i: int) -> bool:
    """Whether text[i] sits between two letters or digits, where "_" is never emphasis."""
    return 0 < i < len(text) - 1 and text[i - 1].isalnum() and text[i + 1].isalnum()


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
