"""Train the network defined in the sibling ``model.py``.

Runs as it is, on a CPU, one GPU or many, and needs only PyTorch (torchvision
only for ImageFolder/CIFAR data):

    python train.py --epochs 2 --max-steps 20                 # synthetic data smoke test
    python train.py --data imagefolder --data-dir /data/imagenet --epochs 90
    torchrun --nproc_per_node=8 train.py --data imagefolder --data-dir /data/imagenet
    python train.py --resume run/last.pt                       # continue where it stopped
    python train.py --benchmark                                # images/s, train and inference

The input shape and class count come from ``design.resnet.json`` beside this file.
Checkpoints (``last.pt`` every epoch, ``best.pt`` at the best validation accuracy)
and ``metrics.csv`` go to ``--out``. Only rank 0 logs and writes files.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import os
import random
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler

HERE = Path(__file__).resolve().parent
CHECKPOINT_FORMAT = "resnet-designer-checkpoint/1"
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
CIFAR_STATS = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
}


class UsageError(Exception):
    """A problem the user can fix: printed as one line, exit code 2."""


# ---------------------------------------------------------------------------
# Command line


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    data = p.add_argument_group("data")
    data.add_argument(
        "--data",
        choices=("synthetic", "imagefolder", "cifar10", "cifar100"),
        default="synthetic",
        help="synthetic random tensors (default), an ImageFolder tree, or a local CIFAR copy",
    )
    data.add_argument(
        "--data-dir", help="imagefolder: the folder holding train/ and val/; cifar: its root"
    )
    data.add_argument(
        "--synthetic-size", type=int, default=1024, help="training samples of --data synthetic"
    )
    data.add_argument("--workers", type=int, default=None, help="data-loading processes per rank")

    recipe = p.add_argument_group("recipe")
    recipe.add_argument("--epochs", type=int, default=90)
    recipe.add_argument("--batch-size", type=int, default=64, help="per process (per GPU)")
    recipe.add_argument(
        "--lr", type=float, default=None, help="default: 0.1 x global batch / 256 (SGD), 1e-3 AdamW"
    )
    recipe.add_argument("--opt", choices=("sgd", "adamw"), default="sgd")
    recipe.add_argument("--momentum", type=float, default=0.9)
    recipe.add_argument("--nesterov", action="store_true", help="Nesterov momentum (SGD)")
    recipe.add_argument(
        "--wd", type=float, default=None, help="weight decay; default 1e-4 (SGD), 0.05 (AdamW)"
    )
    recipe.add_argument("--schedule", choices=("cosine", "step"), default="cosine")
    recipe.add_argument("--warmup-epochs", type=float, default=0.0, help="linear warm-up")
    recipe.add_argument("--lr-step", type=int, default=30, help="step schedule: epochs per step")
    recipe.add_argument("--lr-gamma", type=float, default=0.1, help="step schedule: factor")
    recipe.add_argument("--label-smoothing", type=float, default=0.0)
    recipe.add_argument("--seed", type=int, default=0)
    recipe.add_argument(
        "--init",
        default="auto",
        help="initial weights: auto (weights.* beside this file, if any), none, or a path",
    )

    speed = p.add_argument_group("speed")
    speed.add_argument(
        "--amp", choices=("bf16", "fp16", "none"), default=None, help="default: bf16 on GPU"
    )
    speed.add_argument("--channels-last", action="store_true", help="NHWC memory format")
    speed.add_argument("--compile", action="store_true", help="torch.compile the model")
    speed.add_argument("--sync-bn", action="store_true", help="SyncBatchNorm when distributed")
    speed.add_argument(
        "--deterministic", action="store_true", help="torch.use_deterministic_algorithms(True)"
    )

    run = p.add_argument_group("run")
    run.add_argument("--out", default="run", help="folder for checkpoints and metrics.csv")
    run.add_argument("--resume", metavar="PATH", help="a checkpoint to continue from exactly")
    run.add_argument("--max-steps", type=int, default=None, help="stop after this many steps")
    run.add_argument("--log-interval", type=int, default=50, help="steps between progress lines")
    run.add_argument("--tensorboard", action="store_true", help="also log to TensorBoard")
    run.add_argument(
        "--print-checksum", action="store_true", help="every rank prints its final weights' hash"
    )
    run.add_argument("--benchmark", action="store_true", help="time synthetic steps and exit")
    run.add_argument("--benchmark-steps", type=int, default=50)
    run.add_argument("--benchmark-warmup", type=int, default=10)
    args = p.parse_args(argv)
    for name in ("epochs", "batch_size", "synthetic_size", "log_interval", "benchmark_steps"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.data in ("imagefolder", "cifar10", "cifar100") and not args.data_dir:
        p.error(f"--data {args.data} needs --data-dir PATH")
    return args


# ---------------------------------------------------------------------------
# Distributed set-up: torchrun sets RANK, WORLD_SIZE and LOCAL_RANK


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup_distributed() -> Dist:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")
    if world > 1:
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return Dist(rank, world, local_rank, device)


# ---------------------------------------------------------------------------
# The model and its design


@dataclass(frozen=True)
class Spec:
    """What the data must look like: read from design.resnet.json."""

    name: str
    channels: int
    height: int
    width: int
    num_classes: int


def read_spec(folder: Path = HERE) -> Spec:
    """The input shape and class count: design.resnet.json, else model.py's constants."""
    path = folder / "design.resnet.json"
    if not path.is_file():
        return _spec_from_model(folder)
    try:
        design = json.loads(path.read_text(encoding="utf-8"))
        shape = design.get("input", {})
        return Spec(
            name=str(design.get("name", "model")),
            channels=int(shape.get("channels", 3)),
            height=int(shape.get("height", 224)),
            width=int(shape.get("width", 224)),
            num_classes=int(design.get("num_classes", 1000)),
        )
    except (OSError, ValueError, AttributeError) as exc:
        raise UsageError(f"{path}: cannot read the design ({exc})") from None


def _spec_from_model(folder: Path) -> Spec:
    sys.path.insert(0, str(folder))
    import model

    try:
        height, width = model.INPUT_SIZE
        return Spec("model", model.IN_CHANNELS, height, width, model.NUM_CLASSES)
    except AttributeError:
        raise UsageError(
            f"{folder}: design.resnet.json is missing and model.py does not state its input"
        ) from None


def build_network(init: str, folder: Path = HERE) -> nn.Module:
    """``build_model()`` from model.py, with the bundle's initial weights unless --init none."""
    sys.path.insert(0, str(folder))  # model.py sits beside this script
    if not (folder / "model.py").is_file():
        raise UsageError(f"{folder}: model.py is missing; train.py trains the model it defines")
    from model import build_model

    model = build_model()
    path = _initial_weights_path(init, folder)
    if path is not None:
        try:
            model.load_state_dict(load_weights(path), strict=True)
        except RuntimeError as exc:  # names or shapes that do not fit this model
            reason = str(exc).strip().splitlines()[-1].strip()[:160]
            raise UsageError(f"--init {path}: the weights do not fit model.py ({reason})") from None
    return model


def _initial_weights_path(init: str, folder: Path) -> Path | None:
    if init == "none":
        return None
    if init != "auto":
        return Path(init)
    for name in ("weights.safetensors", "weights.pt"):
        if (folder / name).is_file():
            return folder / name
    return None


_SAFETENSORS_DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}


def load_weights(path: Path) -> dict[str, torch.Tensor]:
    """A state dict from .safetensors (read here, no extra package) or a .pt state dict."""
    try:
        if path.suffix == ".safetensors":
            state: Any = _read_safetensors(path.read_bytes())
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # zip, pickle, header and storage errors all mean one thing here
        raise UsageError(f"--init {path}: cannot read the weights ({_reason(exc)})") from None
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise UsageError(f"--init {path}: holds no state dict (names mapped to tensors)")
    return state


def _reason(exc: BaseException) -> str:
    """An exception as one short line."""
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:160]


def _read_safetensors(data: bytes) -> dict[str, torch.Tensor]:
    # The format: an 8-byte little-endian header length, a JSON header, raw little-endian data.
    size = int.from_bytes(data[:8], "little")
    if len(data) < 8 or size > len(data) - 8:
        raise ValueError("the file is truncated")
    header = json.loads(data[8 : 8 + size])
    if not isinstance(header, dict):
        raise ValueError("the header is not a JSON object")
    body = memoryview(data)[8 + size :]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if not (
            isinstance(info, dict)
            and info.get("dtype") in _SAFETENSORS_DTYPES
            and _ints(info.get("shape"))
            and _ints(info.get("data_offsets"))
            and len(info["data_offsets"]) == 2
        ):
            raise ValueError(f"the header's entry for {name!r} is malformed")
        start, end = info["data_offsets"]
        if not 0 <= start <= end <= len(body):
            raise ValueError("the file is truncated")
        dtype = _SAFETENSORS_DTYPES[info["dtype"]]
        if end == start:
            flat = torch.empty(0, dtype=dtype)
        else:
            flat = torch.frombuffer(bytearray(body[start:end]), dtype=dtype)
        tensors[name] = flat.reshape(info["shape"])
    return tensors


def _ints(value: Any) -> bool:
    return isinstance(value, list) and all(type(v) is int and v >= 0 for v in value)


# ---------------------------------------------------------------------------
# Data


class SyntheticImages(Dataset):
    """Random images with a faint per-class pattern, so the loss has something to learn.

    Sample ``i`` depends only on (seed, i): any worker or rank produces the same one.
    """

    def __init__(self, spec: Spec, size: int, seed: int) -> None:
        self.spec, self.size, self.seed = spec, size, seed

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        s = self.spec
        shape = (s.channels, s.height, s.width)
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + index)
        label = int(torch.randint(s.num_classes, (), generator=gen))
        noise = torch.randn(shape, generator=gen)
        pattern = torch.randn(shape, generator=torch.Generator().manual_seed(label))
        return pattern + 0.7 * noise, label


def make_datasets(args: argparse.Namespace, spec: Spec) -> tuple[Dataset, Dataset]:
    if args.data == "synthetic":
        val_size = max(args.batch_size, args.synthetic_size // 8)
        return (
            SyntheticImages(spec, args.synthetic_size, args.seed),
            SyntheticImages(spec, val_size, args.seed + 1),
        )
    root = Path(args.data_dir)
    if not root.is_dir():
        raise UsageError(f"--data-dir {root}: no such folder")
    try:
        import torchvision.datasets as datasets
        import torchvision.transforms as T
    except ImportError:
        raise UsageError(f"--data {args.data} needs torchvision: pip install torchvision") from None
    except RuntimeError as exc:  # e.g. a torchvision built for another torch
        raise UsageError(f"--data {args.data}: torchvision does not load ({exc})") from None
    if args.data in CIFAR_STATS:
        # He et al. 2015: pad 4, random 32x32 crop, horizontal flip; per-channel normalisation
        mean, std = CIFAR_STATS[args.data]
        normalize = T.Normalize(mean, std)
        train_tf = T.Compose(
            [
                T.RandomCrop((spec.height, spec.width), padding=4),
                T.RandomHorizontalFlip(),
                T.ToTensor(),
                normalize,
            ]
        )
        val_tf = T.Compose([T.ToTensor(), normalize])
        cls = datasets.CIFAR10 if args.data == "cifar10" else datasets.CIFAR100
        try:
            return (
                cls(str(root), train=True, transform=train_tf, download=False),
                cls(str(root), train=False, transform=val_tf, download=False),
            )
        except RuntimeError as exc:
            raise UsageError(f"--data-dir {root}: {exc}") from None
    # ImageNet (torchvision's recipe): random-resized crop + flip; eval resize 256, centre 224
    mean, std = IMAGENET_MEAN, IMAGENET_STD
    gray = spec.channels == 1
    if gray:
        mean, std = (sum(mean) / 3,), (sum(std) / 3,)
    elif spec.channels != 3:
        raise UsageError(f"--data imagefolder: the design takes {spec.channels} channels, not 3")
    size = (spec.height, spec.width)
    resize = (round(spec.height * 256 / 224), round(spec.width * 256 / 224))
    first = [T.Grayscale(1)] if gray else []
    normalize = T.Normalize(mean, std)
    train_tf = T.Compose(
        [*first, T.RandomResizedCrop(size), T.RandomHorizontalFlip(), T.ToTensor(), normalize]
    )
    val_tf = T.Compose([*first, T.Resize(resize), T.CenterCrop(size), T.ToTensor(), normalize])
    for part in ("train", "val"):
        if not (root / part).is_dir():
            raise UsageError(f"--data-dir {root}: expected {part}/CLASS/IMAGE files")
    return (
        datasets.ImageFolder(str(root / "train"), train_tf),
        datasets.ImageFolder(str(root / "val"), val_tf),
    )


class ResumableSampler(DistributedSampler):
    """DistributedSampler that can begin part-way into an epoch, for a mid-epoch resume.

    Its order depends only on (seed, epoch), so a resumed run sees the same samples.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.start = 0

    def __iter__(self) -> Iterator[int]:
        return iter(list(super().__iter__())[self.start :])

    def __len__(self) -> int:
        return self.num_samples - self.start


def make_loader(
    dataset: Dataset, args: argparse.Namespace, d: Dist, *, train: bool
) -> tuple[DataLoader, ResumableSampler]:
    sampler = ResumableSampler(
        dataset, num_replicas=d.world, rank=d.rank, shuffle=train, seed=args.seed
    )
    workers = args.workers
    if workers is None:
        workers = min(8, (os.cpu_count() or 1) // max(1, d.world))
    loader = DataLoader(
        dataset,
        batch_size=args.batch_size,
        sampler=sampler,
        num_workers=workers,
        pin_memory=d.device.type == "cuda",
        drop_last=train,  # a tiny last batch would upset BatchNorm
        generator=torch.Generator().manual_seed(args.seed),
    )
    return loader, sampler


# ---------------------------------------------------------------------------
# Recipe


def param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """No weight decay on norms and biases (1-D tensors): it only shrinks their scale."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (no_decay if p.ndim <= 1 else decay).append(p)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def make_optimizer(model: nn.Module, args: argparse.Namespace) -> torch.optim.Optimizer:
    groups = param_groups(model, args.wd)
    if args.opt == "adamw":
        return torch.optim.AdamW(groups, lr=args.lr)
    return torch.optim.SGD(groups, lr=args.lr, momentum=args.momentum, nesterov=args.nesterov)


def make_scheduler(
    optimizer: torch.optim.Optimizer, args: argparse.Namespace, steps_per_epoch: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """Per-step schedule: linear warm-up, then cosine to zero or x gamma every --lr-step epochs."""
    warmup = int(args.warmup_epochs * steps_per_epoch)
    total = args.epochs * steps_per_epoch

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        if args.schedule == "step":
            return args.lr_gamma ** (step // (args.lr_step * steps_per_epoch))
        progress = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


# ---------------------------------------------------------------------------
# The training state and loop


@dataclass
class TrainState:
    model: nn.Module  # what forward runs through (maybe DDP and/or compiled)
    raw_model: nn.Module  # what is saved
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    scaler: torch.amp.GradScaler | None
    criterion: nn.Module
    device: torch.device
    amp_dtype: torch.dtype | None
    channels_last: bool
    epoch: int = 0  # the epoch in progress
    batch_in_epoch: int = 0  # batches of that epoch already done
    step: int = 0  # optimizer steps since the start
    best_acc: float = -1.0

    def autocast(self) -> AbstractContextManager[Any]:
        if self.amp_dtype is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)


@dataclass
class EpochStats:
    loss: float
    acc: float
    images: int
    seconds: float
    finished: bool


def train_one_epoch(
    state: TrainState,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    *,
    total_batches: int,
    world: int = 1,
    max_steps: int | None = None,
    log_interval: int = 50,
    progress: Progress | None = None,
) -> EpochStats:
    """One pass over ``batches``. Loss and accuracy stay on the device; the host reads them
    (one synchronisation) only every ``log_interval`` steps."""
    state.model.train()
    totals = torch.zeros(2, device=state.device)  # summed loss, correct predictions
    images = 0
    start = time.perf_counter()
    interval_start, interval_images = start, 0
    memory_format = torch.channels_last if state.channels_last else torch.preserve_format
    for inputs, targets in batches:
        x = inputs.to(state.device, non_blocking=True, memory_format=memory_format)
        y = targets.to(state.device, non_blocking=True)
        with state.autocast():
            logits = state.model(x)
            loss = state.criterion(logits, y)
        state.optimizer.zero_grad(set_to_none=True)
        if state.scaler is not None:
            state.scaler.scale(loss).backward()
            state.scaler.step(state.optimizer)
            state.scaler.update()
        else:
            loss.backward()
            state.optimizer.step()
        state.scheduler.step()
        n = y.shape[0]
        totals += torch.stack([loss.detach().float() * n, (logits.argmax(1) == y).sum().float()])
        images += n
        interval_images += n
        state.step += 1
        state.batch_in_epoch += 1
        stop = max_steps is not None and state.step >= max_steps
        if progress is not None and (state.step % log_interval == 0 or stop):
            loss_sum, correct = totals.tolist()  # the one synchronisation per interval
            now = time.perf_counter()
            rate = interval_images * world / max(now - interval_start, 1e-9)
            progress.update(
                state.batch_in_epoch, total_batches, loss_sum / images, correct / images, rate
            )
            interval_start, interval_images = now, 0
        if stop:
            break
    if world > 1:  # the epoch's figures over every rank, not only rank 0's share
        dist.all_reduce(totals)
    loss_sum, correct = totals.tolist()
    seconds = time.perf_counter() - start
    finished = state.batch_in_epoch >= total_batches
    return EpochStats(
        loss=loss_sum / max(images * world, 1),
        acc=correct / max(images * world, 1),
        images=images * world,
        seconds=seconds,
        finished=finished,
    )


@torch.no_grad()
def evaluate(state: TrainState, loader: DataLoader, d: Dist) -> tuple[float, float]:
    """Mean cross-entropy and top-1 accuracy over the validation set, summed over ranks."""
    state.model.eval()
    totals = torch.zeros(2, device=state.device)  # summed loss, correct predictions
    count = 0
    memory_format = torch.channels_last if state.channels_last else torch.preserve_format
    for inputs, targets in loader:
        x = inputs.to(state.device, non_blocking=True, memory_format=memory_format)
        y = targets.to(state.device, non_blocking=True)
        with state.autocast():
            logits = state.model(x)
        loss = F.cross_entropy(logits.float(), y, reduction="sum")
        totals += torch.stack([loss, (logits.argmax(1) == y).sum().float()])
        count += y.shape[0]
    totals = torch.cat([totals, totals.new_tensor([count])])
    if d.world > 1:
        dist.all_reduce(totals)
    loss_sum, correct, count = totals.tolist()
    return loss_sum / max(count, 1), correct / max(count, 1)


class Progress:
    """One line per epoch: redrawn in place on a terminal, printed per interval otherwise."""

    def __init__(self, epoch: int, epochs: int, enabled: bool) -> None:
        self.prefix = f"epoch {epoch + 1}/{epochs}"
        self.enabled = enabled
        self.tty = sys.stdout.isatty()

    def update(self, done: int, total: int, loss: float, acc: float, rate: float) -> None:
        if not self.enabled:
            return
        width = 24
        filled = int(width * done / max(total, 1))
        bar = "#" * filled + "." * (width - filled)
        line = (
            f"{self.prefix} [{bar}] {done}/{total}  loss {loss:.4f}  "
            f"acc {100 * acc:5.2f}%  {rate:,.0f} img/s"
        )
        print(("\r" + line) if self.tty else line, end="" if self.tty else "\n", flush=True)

    def close(self) -> None:
        if self.enabled and self.tty:
            print(flush=True)


# ---------------------------------------------------------------------------
# Checkpoints: atomic writes, exact resume


def rng_state(device: torch.device) -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    if "numpy" in sys.modules:  # stored as a tensor so weights_only loading accepts it
        import numpy as np

        kind, keys, pos, has_gauss, cached = np.random.get_state()
        state["numpy"] = (kind, torch.from_numpy(keys.astype("int64")), pos, has_gauss, cached)
    return state


def set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(_as_tuples(state["python"]))
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)
    if "numpy" in state and "numpy" in sys.modules:
        import numpy as np

        kind, keys, pos, has_gauss, cached = state["numpy"]
        np.random.set_state((kind, keys.numpy().astype("uint32"), pos, has_gauss, cached))


def _as_tuples(value: Any) -> Any:
    return tuple(_as_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value


def checkpoint(state: TrainState, args: argparse.Namespace, d: Dist) -> dict[str, Any] | None:
    """Everything a resume needs; gathered on every rank, returned on rank 0 only."""
    rngs: list[Any] = [rng_state(d.device)]
    if d.world > 1:
        rngs = [None] * d.world
        dist.all_gather_object(rngs, rng_state(d.device))
    if not d.main:
        return None
    return {
        "format": CHECKPOINT_FORMAT,
        "model": state.raw_model.state_dict(),
        "optimizer": state.optimizer.state_dict(),
        "scheduler": state.scheduler.state_dict(),
        "scaler": state.scaler.state_dict() if state.scaler is not None else None,
        "epoch": state.epoch,
        "batch_in_epoch": state.batch_in_epoch,
        "step": state.step,
        "best_acc": state.best_acc,
        "rng": rngs,
        "world_size": d.world,
        "args": {k: v for k, v in vars(args).items() if k != "resume"},
    }


def atomic_save(obj: Any, path: Path) -> None:
    """torch.save into a temporary file, fsync, then rename: a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            torch.save(obj, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(path.parent)


def atomic_copy(src: Path, dst: Path) -> None:
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    try:
        with open(src, "rb") as source, open(tmp, "wb") as handle:
            while chunk := source.read(1 << 24):
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(dst.parent)


def remove_stale_temp_files(out: Path) -> None:
    """Remove temp files that a killed run left (``.last.pt.PID.tmp``), never a live one's."""
    for tmp in out.glob(".*.*.tmp"):
        name, pid, _ = tmp.name[1:].rsplit(".", 2)
        if name not in ("last.pt", "best.pt", "metrics.csv"):
            continue
        if pid.isdigit() and not _alive(int(pid)):
            tmp.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _epoch(row: dict[str, str]) -> int:
    try:
        return int(row.get("epoch") or 0)
    except ValueError:
        return 0


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint with weights_only=True; any damage becomes one clear line."""
    if not path.is_file():
        raise UsageError(f"--resume {path}: no such file")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # zip, pickle and storage errors all mean the same to the user
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(
            f"--resume {path}: the checkpoint is corrupt or truncated ({reason[:120]}); "
            "resume from an earlier one (best.pt) instead"
        ) from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise UsageError(f"--resume {path}: not a checkpoint written by this train.py")
    missing = [key for key in CHECKPOINT_KEYS if key not in ckpt]
    if missing:
        raise UsageError(f"--resume {path}: the checkpoint lacks {', '.join(missing)}")
    return ckpt


CHECKPOINT_KEYS = (
    "model",
    "optimizer",
    "scheduler",
    "epoch",
    "batch_in_epoch",
    "step",
    "best_acc",
    "rng",
)


def check_fits(model: nn.Module, ckpt: dict[str, Any], path: Path) -> None:
    """Refuse, in one line naming the first difference, a checkpoint of another network."""
    ours = model.state_dict()
    theirs = ckpt["model"]
    if not isinstance(theirs, dict):
        raise UsageError(f"--resume {path}: its model entry is not a state dict")
    for key, tensor in ours.items():
        other = theirs.get(key)
        if not isinstance(other, torch.Tensor):
            raise UsageError(
                f"--resume {path} was written for a different network: it has no {key}"
            )
        if other.shape != tensor.shape:
            raise UsageError(
                f"--resume {path} was written for a different network: {key} is"
                f" {list(tensor.shape)} here, {list(other.shape)} in the checkpoint"
            )
    extra = next((key for key in theirs if key not in ours), None)
    if extra is not None:
        raise UsageError(
            f"--resume {path} was written for a different network: it has {extra},"
            " which this network lacks"
        )


def restore(state: TrainState, ckpt: dict[str, Any], d: Dist, path: Path) -> None:
    check_fits(state.raw_model, ckpt, path)
    state.raw_model.load_state_dict(ckpt["model"])
    try:
        state.optimizer.load_state_dict(ckpt["optimizer"])
        state.scheduler.load_state_dict(ckpt["scheduler"])
        if state.scaler is not None and ckpt.get("scaler"):
            state.scaler.load_state_dict(ckpt["scaler"])
    except (ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise UsageError(
            f"--resume {path}: its optimiser or schedule state does not fit this run"
            f" ({_reason(exc)})"
        ) from None
    state.epoch = ckpt["epoch"]
    state.batch_in_epoch = ckpt["batch_in_epoch"]
    state.step = ckpt["step"]
    state.best_acc = ckpt["best_acc"]
    rngs = ckpt["rng"]
    if len(rngs) == d.world:
        set_rng_state(rngs[d.rank], d.device)


def warn_if_recipe_changed(ckpt: dict[str, Any], args: argparse.Namespace, d: Dist) -> None:
    before = ckpt.get("args", {})
    keys = ("epochs", "batch_size", "lr", "opt", "wd", "schedule", "warmup_epochs", "data")
    changed = [k for k in keys if k in before and before[k] != getattr(args, k)]
    if ckpt.get("world_size") != d.world:
        changed.append("world size")
    if changed and d.main:
        print(
            f"note: {', '.join(changed)} differ from the checkpoint's: not an exact continuation "
            "(the optimiser and base learning rate come from the checkpoint)"
        )


class MetricsLog:
    """metrics.csv (appended across resumes) and, when asked and installed, TensorBoard."""

    FIELDS = (
        "epoch",
        "step",
        "lr",
        "train_loss",
        "train_acc",
        "val_loss",
        "val_acc",
        "images_per_s",
        "seconds",
    )

    def __init__(self, out: Path, tensorboard: bool) -> None:
        self.path = out / "metrics.csv"
        self.writer = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.writer = SummaryWriter(str(out / "tensorboard"))
            except ImportError:
                print("note: tensorboard is not installed; logging to metrics.csv only")

    def keep_through(self, epoch: int) -> None:
        """Drop rows after ``epoch`` (a run killed after logging, before its checkpoint)."""
        if not self.path.is_file():
            return
        with open(self.path, newline="") as handle:
            rows = list(csv.DictReader(handle))
        kept = [row for row in rows if _epoch(row) <= epoch]
        if len(kept) == len(rows):
            return
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with open(tmp, "w", newline="") as handle:
            out = csv.DictWriter(handle, fieldnames=self.FIELDS)
            out.writeheader()
            out.writerows(kept)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)

    def write(self, row: dict[str, float]) -> None:
        new = not self.path.exists()
        with open(self.path, "a", newline="") as handle:
            out = csv.DictWriter(handle, fieldnames=self.FIELDS)
            if new:
                out.writeheader()
            out.writerow(row)
            handle.flush()
            os.fsync(handle.fileno())
        if self.writer is not None:
            for key, value in row.items():
                if key not in ("epoch", "step"):
                    self.writer.add_scalar(key, value, int(row["step"]))
            self.writer.flush()


# ---------------------------------------------------------------------------
# Putting it together


def configure(args: argparse.Namespace, d: Dist) -> None:
    """Resolve defaults that depend on the machine and seed every generator."""
    if args.amp is None:
        args.amp = "bf16" if d.device.type == "cuda" and torch.cuda.is_bf16_supported() else "none"
    global_batch = args.batch_size * d.world
    if args.lr is None:  # the linear scaling rule (Goyal et al. 2017) for SGD
        args.lr = 0.1 * global_batch / 256 if args.opt == "sgd" else 1e-3
    if args.wd is None:
        args.wd = 1e-4 if args.opt == "sgd" else 0.05
    if args.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
    else:
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    seed_everything(args.seed)  # every rank builds the same model


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    random.seed(seed)
    if "numpy" in sys.modules:  # only if something (a transform, torch itself) imported it
        import numpy as np

        np.random.seed(seed % 2**32)


def make_state(model: nn.Module, args: argparse.Namespace, d: Dist, steps: int) -> TrainState:
    model = model.to(d.device)
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
    if args.sync_bn and d.world > 1:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    raw = model
    optimizer = make_optimizer(raw, args)
    scheduler = make_scheduler(optimizer, args, steps)
    runner: nn.Module = raw
    if d.world > 1:
        device_ids = [d.local_rank] if d.device.type == "cuda" else None
        runner = nn.parallel.DistributedDataParallel(raw, device_ids=device_ids)
    if args.compile:
        runner = torch.compile(runner)
    amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "none": None}[args.amp]
    scaler = torch.amp.GradScaler(d.device.type) if args.amp == "fp16" else None
    return TrainState(
        model=runner,
        raw_model=raw,
        optimizer=optimizer,
        scheduler=scheduler,
        scaler=scaler,
        criterion=nn.CrossEntropyLoss(label_smoothing=args.label_smoothing),
        device=d.device,
        amp_dtype=amp_dtype,
        channels_last=args.channels_last,
    )


def checksum(model: nn.Module) -> str:
    """SHA-256 of every parameter's bytes: what DistributedDataParallel keeps in step."""
    digest = hashlib.sha256()
    for name, p in sorted(model.named_parameters()):
        digest.update(name.encode())
        digest.update(bytes(p.detach().cpu().contiguous().untyped_storage()))
    return digest.hexdigest()


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def benchmark(state: TrainState, spec: Spec, args: argparse.Namespace, d: Dist) -> None:
    """Images per second on one fixed on-device batch: the model and loop, not the data."""
    shape = (args.batch_size, spec.channels, spec.height, spec.width)
    x = torch.randn(shape, device=d.device)
    if args.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(spec.num_classes, (args.batch_size,), device=d.device)
    warm, steps = args.benchmark_warmup, args.benchmark_steps
    train_one_epoch(state, [(x, y)] * warm, total_batches=warm)
    sync(d.device)
    start = time.perf_counter()
    train_one_epoch(state, [(x, y)] * steps, total_batches=steps)
    sync(d.device)
    train_rate = steps * args.batch_size * d.world / (time.perf_counter() - start)
    state.model.eval()
    with torch.no_grad(), state.autocast():
        for _ in range(warm):
            state.model(x)
        sync(d.device)
        start = time.perf_counter()
        for _ in range(steps):
            state.model(x)
        sync(d.device)
    infer_rate = steps * args.batch_size * d.world / (time.perf_counter() - start)
    if d.main:
        print(
            f"benchmark {spec.name}: batch {args.batch_size} x {d.world} on {d.device.type}, "
            f"amp {args.amp}, channels_last {args.channels_last}, compile {args.compile}"
        )
        print(f"train: {train_rate:,.1f} images/s")
        print(f"inference: {infer_rate:,.1f} images/s")


def train(args: argparse.Namespace, d: Dist) -> None:
    spec = read_spec()
    configure(args, d)
    model = build_network(args.init)
    seed_everything(args.seed + d.rank)  # each rank its own dropout and augmentation
    if args.benchmark:
        state = make_state(model, args, d, steps=max(1, args.benchmark_steps))
        benchmark(state, spec, args, d)
        return
    train_set, val_set = make_datasets(args, spec)
    train_loader, train_sampler = make_loader(train_set, args, d, train=True)
    val_loader, _ = make_loader(val_set, args, d, train=False)
    steps_per_epoch = train_sampler.num_samples // args.batch_size
    if steps_per_epoch == 0:
        raise UsageError(
            f"--batch-size {args.batch_size}: larger than the {train_sampler.num_samples} "
            "training samples per process; use a smaller batch"
        )
    state = make_state(model, args, d, steps_per_epoch)
    out = Path(args.out)
    if args.resume:
        ckpt = load_checkpoint(Path(args.resume))
        warn_if_recipe_changed(ckpt, args, d)
        restore(state, ckpt, d, Path(args.resume))
        del ckpt
    log = MetricsLog(out, args.tensorboard) if d.main else None
    if d.main:
        out.mkdir(parents=True, exist_ok=True)
        remove_stale_temp_files(out)
        if log is not None:  # rows of epochs after the checkpoint are redone: drop them
            log.keep_through(state.epoch)
        print(
            f"{spec.name}: {args.data} data, {d.world} process(es) on {d.device.type}, "
            f"global batch {args.batch_size * d.world}, {steps_per_epoch} steps/epoch, "
            f"{args.opt} lr {args.lr:g} wd {args.wd:g}, {args.schedule} schedule, amp {args.amp}"
        )
    while state.epoch < args.epochs:
        if args.max_steps is not None and state.step >= args.max_steps:
            break
        train_sampler.set_epoch(state.epoch)
        train_sampler.start = state.batch_in_epoch * args.batch_size
        # each epoch's workers get seeds that depend only on (seed, epoch), so a resume at
        # an epoch boundary repeats the same random augmentations
        train_loader.generator.manual_seed(args.seed * 10_007 + state.epoch)
        progress = Progress(state.epoch, args.epochs, d.main)
        stats = train_one_epoch(
            state,
            train_loader,
            total_batches=steps_per_epoch,
            world=d.world,
            max_steps=args.max_steps,
            log_interval=args.log_interval,
            progress=progress,
        )
        progress.close()
        if not stats.finished:  # stopped by --max-steps: save the place and leave
            ckpt = checkpoint(state, args, d)
            if ckpt is not None:
                atomic_save(ckpt, out / "last.pt")
                print(f"stopped at step {state.step}; continue with --resume {out / 'last.pt'}")
            break
        val_loss, val_acc = evaluate(state, val_loader, d)
        epoch = state.epoch
        state.epoch, state.batch_in_epoch = epoch + 1, 0
        improved = val_acc > state.best_acc
        state.best_acc = max(state.best_acc, val_acc)
        ckpt = checkpoint(state, args, d)
        if ckpt is None or log is None:
            continue
        rate = stats.images / max(stats.seconds, 1e-9)
        lr = state.optimizer.param_groups[0]["lr"]
        row = {
            "epoch": epoch + 1,
            "step": state.step,
            "lr": lr,
            "train_loss": stats.loss,
            "train_acc": stats.acc,
            "val_loss": val_loss,
            "val_acc": val_acc,
            "images_per_s": rate,
            "seconds": stats.seconds,
        }
        # in an order a kill at any moment survives: the epoch's row first, then best.pt,
        # and last.pt (which records the epoch and best_acc) only after both
        log.write(row)
        if improved:
            atomic_save(ckpt, out / "best.pt")
            atomic_copy(out / "best.pt", out / "last.pt")
        else:
            atomic_save(ckpt, out / "last.pt")
        print(
            f"epoch {epoch + 1}/{args.epochs} done: train loss {stats.loss:.4f} "
            f"acc {100 * stats.acc:.2f}% | val loss {val_loss:.4f} acc {100 * val_acc:.2f}% "
            f"| {rate:,.0f} img/s{'  (best)' if improved else ''}",
            flush=True,
        )
    if args.print_checksum:
        print(f"rank {d.rank} checksum {checksum(state.raw_model)}", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    d = setup_distributed()
    try:
        train(args, d)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        if d.world > 1 and dist.is_initialized():
            dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
