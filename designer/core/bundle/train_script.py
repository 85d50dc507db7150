"""Train the network defined in the sibling ``model.py``.

Runs as it is, on a CPU, one GPU or many, and needs only PyTorch (torchvision for
image data and the augmentations):

    python train.py --epochs 2 --max-steps 20                 # synthetic data smoke test
    python train.py --data-path /data/imagenet --epochs 90    # DIR/train and DIR/val
    python train.py --data cifar10 --data-path /data/cifar --download
    torchrun --nproc_per_node=8 train.py --data-path /data/imagenet
    python train.py --data-path /data/pets --num-classes 37    # fine-tune: a new classifier
    python train.py --resume run/last.pt                       # continue where it stopped
    python train.py --benchmark                                # images/s, train and inference

It speaks the language of torchvision's references/classification/train.py: its flags
(--lr-scheduler, --auto-augment, --mixup-alpha, --model-ema, --ra-sampler, ...) mean the
same here, so a documented torchvision recipe runs unchanged. --model is accepted and
ignored: the network is model.py's. Defaults follow the design's input size (the first
log line says which recipe was chosen): inputs of at most 64 px a side get CIFAR-style
pad-and-crop, larger ones ImageNet's random-resized crop.

The input shape and class count come from ``design.resnet.json`` beside this file; data
with another number of classes are refused unless ``--num-classes`` says to train a new
classifier for them.
Checkpoints (``last.pt`` every epoch, ``best.pt`` at the best validation accuracy)
and ``metrics.csv`` go to ``--output-dir``. Only rank 0 logs and writes files.

SIGTERM or Ctrl-C (SIGINT) stops training at the next step (under torchrun, every
process at the same one, within --print-freq steps), saves ``last.pt`` there and exits
with 128 + the signal's number (143, or 130 for Ctrl-C), as a shell reports a run ended
by a signal; ``--resume`` continues exactly. A second signal ends it at once.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import gc
import hashlib
import importlib
import json
import math
import os
import random
import signal
import sys
import time
import warnings
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler, default_collate

if TYPE_CHECKING:  # imported where the EMA is made (make_ema)
    from torch.optim.swa_utils import AveragedModel

HERE = Path(__file__).resolve().parent
CHECKPOINT_FORMAT = "resnet-designer-checkpoint/1"
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
Sample = tuple[torch.Tensor, int]  # what a dataset holds: an image and its class
CIFAR_STATS = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
}
SMALL_INPUT = 64  # inputs at most this many pixels a side get the CIFAR-style recipe
MAX_CLASSES = 10**9  # a design's own limit on num_classes
OPTIMIZERS = ("sgd", "sgd_nesterov", "adamw", "rmsprop")
SCHEDULERS = ("steplr", "cosineannealinglr", "exponentiallr")
AUTO_AUGMENT = ("ta_wide", "ra", "augmix", "imagenet", "cifar10", "svhn")


class UsageError(Exception):
    """A problem the user can fix: printed as one line, exit code 2."""


# ---------------------------------------------------------------------------
# Command line: torchvision's references/classification/train.py spellings first,
# this script's older ones kept as aliases


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    data = p.add_argument_group("data")
    data.add_argument(
        "--data",
        choices=("synthetic", "imagefolder", "cifar10", "cifar100"),
        default=None,
        help="imagefolder when --data-path is given, else synthetic random tensors",
    )
    data.add_argument(
        "--data-path",
        "--data-dir",
        dest="data_path",
        help="imagefolder: the folder holding train/ and val/; cifar: its root",
    )
    data.add_argument(
        "--download", action="store_true", help="cifar: fetch it into --data-path if missing"
    )
    data.add_argument(
        "--synthetic-size", type=int, default=1024, help="training samples of --data synthetic"
    )
    data.add_argument(
        "-j", "--workers", type=int, default=None, help="data-loading processes per rank"
    )
    data.add_argument(
        "--cache-dataset", action="store_true", help="accepted; does nothing here (see the log)"
    )
    data.add_argument(
        "--recipe",
        choices=("auto", "imagenet", "cifar"),
        default="auto",
        help=f"augmentation family and defaults; auto: cifar at <= {SMALL_INPUT} px a side",
    )
    data.add_argument("--train-crop-size", type=int, default=None, help="default: the design's")
    data.add_argument(
        "--val-resize-size", type=int, default=None, help="default: crop x 256/224 (imagenet)"
    )
    data.add_argument("--val-crop-size", type=int, default=None, help="default: the design's")
    data.add_argument(
        "--interpolation", choices=("nearest", "bilinear", "bicubic"), default="bilinear"
    )
    data.add_argument("--auto-augment", choices=AUTO_AUGMENT, default=None, help="policy")
    data.add_argument("--ra-magnitude", type=int, default=9, help="--auto-augment ra: magnitude")
    data.add_argument("--augmix-severity", type=int, default=3, help="--auto-augment augmix")
    data.add_argument("--random-erase", type=float, default=0.0, help="probability")
    data.add_argument("--mixup-alpha", type=float, default=0.0, help="MixUp's Beta alpha")
    data.add_argument("--cutmix-alpha", type=float, default=0.0, help="CutMix's Beta alpha")
    data.add_argument("--ra-sampler", action="store_true", help="repeated augmentation")
    data.add_argument("--ra-reps", type=int, default=3, help="repetitions per image")

    recipe = p.add_argument_group("recipe")
    recipe.add_argument("--model", default=None, help="accepted; the network is model.py's")
    recipe.add_argument("--epochs", type=int, default=90)
    recipe.add_argument("-b", "--batch-size", type=int, default=64, help="per process (per GPU)")
    recipe.add_argument(
        "--lr", type=float, default=None, help="default: by recipe and batch (first log line)"
    )
    recipe.add_argument("--opt", type=str.lower, choices=OPTIMIZERS, default="sgd")
    recipe.add_argument("--momentum", type=float, default=0.9)
    recipe.add_argument("--nesterov", action="store_true", help="alias: --opt sgd_nesterov")
    recipe.add_argument(
        "--wd",
        "--weight-decay",
        dest="wd",
        type=float,
        default=None,
        help="default: 1e-4 (SGD, imagenet), 5e-4 (SGD, cifar), 0.05 (AdamW), 1e-5 (RMSprop)",
    )
    recipe.add_argument(
        "--norm-weight-decay",
        type=float,
        default=0.0,
        help="of norm layers' weights (default 0; torchvision's: --weight-decay)",
    )
    recipe.add_argument(
        "--bias-weight-decay",
        type=float,
        default=0.0,
        help="of biases (default 0; torchvision's: --weight-decay)",
    )
    recipe.add_argument("--label-smoothing", type=float, default=0.0)
    recipe.add_argument(
        "--lr-scheduler", type=str.lower, choices=SCHEDULERS, default=None, help="default cosine"
    )
    recipe.add_argument(
        "--schedule", choices=("cosine", "step"), default=None, help="alias of --lr-scheduler"
    )
    recipe.add_argument("--lr-warmup-epochs", type=float, default=0.0)
    recipe.add_argument(
        "--warmup-epochs",
        dest="warmup_alias",
        type=float,
        default=None,
        help="alias: --lr-warmup-epochs N --lr-warmup-method linear",
    )
    recipe.add_argument(
        "--lr-warmup-method",
        type=str.lower,
        choices=("linear", "constant"),
        default=None,
        help="default constant, as torchvision",
    )
    recipe.add_argument(
        "--lr-warmup-decay", type=float, default=0.01, help="warm-up's starting factor"
    )
    recipe.add_argument(
        "--lr-step-size", "--lr-step", dest="lr_step_size", type=int, default=30, help="steplr"
    )
    recipe.add_argument("--lr-gamma", type=float, default=0.1, help="steplr, exponentiallr")
    recipe.add_argument("--lr-min", type=float, default=0.0, help="cosineannealinglr's floor")
    recipe.add_argument("--clip-grad-norm", type=float, default=None, help="max gradient norm")
    recipe.add_argument("--model-ema", action="store_true", help="keep an EMA of the weights")
    recipe.add_argument("--model-ema-steps", type=int, default=32, help="steps between updates")
    recipe.add_argument(
        "--model-ema-decay",
        type=float,
        default=0.99998,
        help="scaled by world x batch x steps / epochs, as torchvision does",
    )
    recipe.add_argument(
        "--num-classes",
        type=int,
        default=None,
        help="fine-tune to N classes: a new classifier, the rest of --init's weights kept",
    )
    recipe.add_argument("--seed", type=int, default=0)
    recipe.add_argument(
        "--init",
        default="auto",
        help="initial weights: auto (weights.* beside this file, if any), none, or a path",
    )

    speed = p.add_argument_group("speed")
    speed.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: cuda if any)")
    speed.add_argument(
        "--amp",
        nargs="?",
        const="on",
        choices=("on", "bf16", "fp16", "none"),
        default=None,
        metavar="bf16|fp16|none",
        help="mixed precision: a switch (type from --amp-dtype), or a type; default bf16 on GPU",
    )
    speed.add_argument(
        "--amp-dtype",
        choices=("bf16", "fp16"),
        default=None,
        help="with --amp: default bf16 where supported",
    )
    speed.add_argument("--channels-last", action="store_true", help="NHWC memory format")
    speed.add_argument("--compile", action="store_true", help="torch.compile the model")
    speed.add_argument("--sync-bn", action="store_true", help="SyncBatchNorm when distributed")
    speed.add_argument(
        "--use-deterministic-algorithms",
        "--deterministic",
        dest="deterministic",
        action="store_true",
        help="torch.use_deterministic_algorithms(True)",
    )

    run = p.add_argument_group("run")
    run.add_argument(
        "--output-dir",
        "--out",
        dest="out",
        default="run",
        help="folder for checkpoints and metrics.csv",
    )
    run.add_argument("--resume", metavar="PATH", help="a checkpoint to continue from exactly")
    run.add_argument("--start-epoch", type=int, default=0, help="without --resume: skip ahead")
    run.add_argument("--test-only", action="store_true", help="evaluate, then exit")
    run.add_argument("--max-steps", type=int, default=None, help="stop after this many steps")
    run.add_argument(
        "--print-freq",
        "--log-interval",
        dest="log_interval",
        type=int,
        default=50,
        help="steps between progress lines",
    )
    run.add_argument("--tensorboard", action="store_true", help="also log to TensorBoard")
    run.add_argument(
        "--print-checksum", action="store_true", help="every rank prints its final weights' hash"
    )
    run.add_argument("--benchmark", action="store_true", help="time synthetic steps and exit")
    run.add_argument("--benchmark-steps", type=int, default=50)
    run.add_argument("--benchmark-warmup", type=int, default=10)
    args = p.parse_args(argv)
    for name in (
        "epochs",
        "batch_size",
        "synthetic_size",
        "log_interval",
        "benchmark_steps",
        "ra_reps",
        "model_ema_steps",
        "lr_step_size",
    ):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    for name in ("train_crop_size", "val_resize_size", "val_crop_size", "num_classes"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.num_classes is not None and args.num_classes > MAX_CLASSES:
        p.error(f"--num-classes must be at most {MAX_CLASSES:,}")
    if not 0.0 <= args.random_erase <= 1.0:
        p.error("--random-erase is a probability: between 0 and 1")
    if not 0.0 <= args.label_smoothing < 1.0:
        p.error("--label-smoothing must be at least 0 and below 1")
    if min(args.mixup_alpha, args.cutmix_alpha, args.lr_warmup_epochs, args.start_epoch) < 0:
        p.error("--mixup-alpha, --cutmix-alpha, --lr-warmup-epochs, --start-epoch: not negative")
    if not 0.0 <= args.model_ema_decay <= 1.0:
        p.error("--model-ema-decay must be between 0 and 1")
    if args.data is None:
        args.data = "imagefolder" if args.data_path else "synthetic"
    if args.data != "synthetic" and not args.data_path:
        p.error(f"--data {args.data} needs --data-path PATH")
    # the older spellings
    if args.lr_scheduler is None:
        args.lr_scheduler = "steplr" if args.schedule == "step" else "cosineannealinglr"
    if args.warmup_alias is not None:
        args.lr_warmup_epochs = args.warmup_alias
    if args.lr_warmup_method is None:
        args.lr_warmup_method = "linear" if args.warmup_alias is not None else "constant"
    if args.nesterov and args.opt == "sgd":
        args.opt = "sgd_nesterov"
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


def setup_distributed(device: str | None = None) -> Dist:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    try:
        where = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    except (RuntimeError, ValueError):
        raise UsageError(f"--device {device}: not a device (cpu, cuda, cuda:N)") from None
    if where.type == "cuda":
        if not torch.cuda.is_available():
            raise UsageError(f"--device {device}: no CUDA device here; use --device cpu")
        index = local_rank if world > 1 or where.index is None else where.index
        torch.cuda.set_device(index)
        where = torch.device("cuda", index)
    if world > 1:
        dist.init_process_group(backend="nccl" if where.type == "cuda" else "gloo")
    return Dist(rank, world, local_rank, where)


@contextmanager
def main_rank_first(d: Dist, needed: bool) -> Iterator[None]:
    """Rank 0 runs the block (a download) before the others do."""
    if needed and d.world > 1 and not d.main:
        dist.barrier()
    yield
    if needed and d.world > 1 and d.main:
        dist.barrier()


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


def build_network(init: str, folder: Path = HERE, num_classes: int | None = None) -> nn.Module:
    """``build_model()`` from model.py, with the bundle's initial weights unless --init none.

    ``num_classes`` other than the design's replaces the classifier after the weights are
    loaded, as torchvision's and timm's fine-tuning recipes do: every other weight is kept.
    """
    sys.path.insert(0, str(folder))  # model.py sits beside this script
    if not (folder / "model.py").is_file():
        raise UsageError(f"{folder}: model.py is missing; train.py trains the model it defines")
    from model import build_model

    model: nn.Module = build_model()
    path = _initial_weights_path(init, folder)
    if path is not None:
        try:
            model.load_state_dict(load_weights(path), strict=True)
        except RuntimeError as exc:  # names or shapes that do not fit this model
            reason = str(exc).strip().splitlines()[-1].strip()[:160]
            raise UsageError(f"--init {path}: the weights do not fit model.py ({reason})") from None
    if num_classes is not None:
        replace_classifier(model, num_classes)
    return model


def replace_classifier(model: nn.Module, num_classes: int) -> None:
    """A freshly initialised ``fc`` with ``num_classes`` outputs (torch's default init, as a
    new torchvision or timm classifier gets); the same one is kept when the count is equal."""
    fc = getattr(model, "fc", None)
    if not isinstance(fc, nn.Linear):
        raise UsageError("--num-classes: model.py's network has no classifier (fc) to replace")
    if fc.out_features == num_classes:
        return
    try:
        model.fc = nn.Linear(fc.in_features, num_classes, bias=fc.bias is not None)
    except (RuntimeError, MemoryError):  # torch's allocator says it in a page of C++ frames
        raise UsageError(
            f"--num-classes {num_classes}: its {fc.in_features:,} x {num_classes:,} classifier "
            "does not fit in memory; use fewer classes"
        ) from None


def class_mismatch(what: str, found: int, design: int) -> str:
    """The one line for data whose class count is not the design's (the app says the same)."""
    return (
        f"{what} has {found} classes, the design {design}: add --num-classes {found} "
        f"(a new classifier, the other weights kept) or use a design with {found} classes"
    )


def data_classes(
    args: argparse.Namespace, train_set: Dataset[Sample], val_set: Dataset[Sample]
) -> int | None:
    """How many classes the data have (None for synthetic data, which take the design's)."""
    if args.data == "synthetic":
        return None
    found = len(getattr(train_set, "classes", ()))
    if args.data == "imagefolder":
        val = len(getattr(val_set, "classes", ()))
        if val != found:
            raise UsageError(
                f"{Path(args.data_path)}: train/ has {found} class folders, val/ {val}"
            )
    return found


def settle_classes(args: argparse.Namespace, spec: Spec, found: int | None) -> Spec:
    """The spec with the class count training uses; refuse data the network cannot fit."""
    wanted = args.num_classes
    if found is not None:
        cifar = args.data in CIFAR_STATS
        what = args.data.upper() if cifar else str(Path(args.data_path) / "train")
        if wanted is None and found != spec.num_classes:
            raise UsageError(class_mismatch(what, found, spec.num_classes))
        if wanted is not None and wanted != found:
            raise UsageError(
                f"--num-classes {wanted}: {what} has {found} classes; use --num-classes {found}"
            )
    if wanted is None or wanted == spec.num_classes:
        return spec
    return dataclasses.replace(spec, num_classes=wanted)


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
    """A state dict from .safetensors (the safetensors package if installed, else this
    script's own reader) or a .pt state dict or checkpoint."""
    try:
        if path.suffix == ".safetensors":
            state: Any = _load_safetensors(path)
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


def _load_safetensors(path: Path) -> dict[str, torch.Tensor]:
    try:  # imported by name: the package is optional, and only this script may use it
        load_file = importlib.import_module("safetensors.torch").load_file
    except ImportError:
        return _read_safetensors(path.read_bytes())
    weights: dict[str, torch.Tensor] = load_file(str(path))
    return weights


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


@dataclass(frozen=True)
class Recipe:
    """What the input size (or --recipe) chose: the augmentation family and the sizes."""

    name: str  # "imagenet" (random-resized crop) or "cifar" (pad-and-crop)
    why: str
    train_size: tuple[int, int]  # what the model sees in training
    val_resize: int | tuple[int, int]  # an int resizes the shorter side, as torchvision
    val_size: tuple[int, int]  # the centre crop the model sees in evaluation


def choose_recipe(args: argparse.Namespace, spec: Spec) -> Recipe:
    h, w = spec.height, spec.width
    if args.recipe != "auto":
        name, why = args.recipe, f"--recipe {args.recipe}"
    elif args.data in CIFAR_STATS:
        name, why = "cifar", f"--data {args.data}"
    elif min(h, w) <= SMALL_INPUT:
        name, why = "cifar", f"a {h}x{w} input (at most {SMALL_INPUT} px a side)"
    else:
        name, why = "imagenet", f"a {h}x{w} input"
    train = (args.train_crop_size,) * 2 if args.train_crop_size else (h, w)
    val = (args.val_crop_size,) * 2 if args.val_crop_size else (h, w)
    resize: int | tuple[int, int]
    if args.val_resize_size:
        resize = args.val_resize_size
    elif name == "imagenet":  # torchvision's 256 / 224 margin, scaled to the crop
        scaled = (round(val[0] * 256 / 224), round(val[1] * 256 / 224))
        resize = scaled[0] if val[0] == val[1] else scaled
    else:
        resize = val[0] if val[0] == val[1] else val
    return Recipe(name, why, train, resize, val)


def describe(args: argparse.Namespace, recipe: Recipe) -> str:
    """The first log line: which recipe, and what it does."""
    train = "x".join(map(str, recipe.train_size))
    val = "x".join(map(str, recipe.val_size))
    if args.data == "synthetic":
        data = f"synthetic tensors ({train} train, {val} val)"
    else:
        if recipe.name == "imagenet":
            crop = f"random-resized crop {train}"
        else:
            crop = f"pad-{_padding(recipe)} random crop {train}"
        resize = recipe.val_resize
        resize_text = str(resize) if isinstance(resize, int) else "x".join(map(str, resize))
        augment = "".join(
            [
                f" + {args.auto_augment}" if args.auto_augment else "",
                f" + random erase {args.random_erase:g}" if args.random_erase else "",
            ]
        )
        data = f"{crop} + flip{augment}; val resize {resize_text}, centre crop {val}"
    mix = [
        f"{name} {alpha:g}"
        for name, alpha in (("mixup", args.mixup_alpha), ("cutmix", args.cutmix_alpha))
        if alpha > 0
    ]
    parts = [
        f"recipe: {recipe.name}-style, for {recipe.why}: {data}",
        f"{args.opt} lr {args.lr:g} wd {args.wd:g} (norms {args.norm_weight_decay:g}, "
        f"biases {args.bias_weight_decay:g})",
        args.lr_scheduler
        + (
            f" after {args.lr_warmup_epochs:g} epochs of {args.lr_warmup_method} warm-up"
            if args.lr_warmup_epochs
            else ""
        ),
    ]
    if mix:
        parts.append(" or ".join(mix))
    if args.label_smoothing:
        parts.append(f"label smoothing {args.label_smoothing:g}")
    if args.ra_sampler:
        parts.append(f"repeated augmentation x{args.ra_reps}")
    if args.model_ema:
        parts.append(f"EMA every {args.model_ema_steps} steps")
    if args.clip_grad_norm is not None:
        parts.append(f"gradient norm clipped at {args.clip_grad_norm:g}")
    return "; ".join(parts)


def notes(args: argparse.Namespace, spec: Spec) -> list[str]:
    """One line for each flag that is accepted but has no effect here."""
    lines = []
    if args.model:
        lines.append(
            f"--model {args.model}: this bundle trains its own network ({spec.name}, "
            "from model.py); the name is not used"
        )
    if args.cache_dataset:
        lines.append(
            "--cache-dataset does nothing here: the dataset's file list is read afresh each run"
        )
    if args.data == "synthetic":
        unused = [
            flag
            for flag, used in (
                ("--auto-augment", args.auto_augment),
                ("--val-resize-size", args.val_resize_size),
                ("--interpolation", args.interpolation != "bilinear"),
            )
            if used
        ]
        if unused:
            lines.append(f"{', '.join(unused)}: for image data; synthetic data are tensors")
    return lines


class SyntheticImages(Dataset[Sample]):
    """Random images with a faint per-class pattern, so the loss has something to learn.

    Sample ``i`` depends only on (seed, i): any worker or rank produces the same one.
    ``size`` (height, width) other than the design's resizes the class pattern.
    """

    def __init__(
        self,
        spec: Spec,
        size: int,
        seed: int,
        image_size: tuple[int, int] | None = None,
        transform: Any = None,
    ) -> None:
        self.spec, self.size, self.seed = spec, size, seed
        self.image_size = image_size or (spec.height, spec.width)
        self.transform = transform

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        s = self.spec
        shape = (s.channels, *self.image_size)
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + index)
        label = int(torch.randint(s.num_classes, (), generator=gen))
        noise = torch.randn(shape, generator=gen)
        native = (s.channels, s.height, s.width)
        pattern = torch.randn(native, generator=torch.Generator().manual_seed(label))
        if shape != native:
            pattern = F.interpolate(pattern[None], size=self.image_size, mode="bilinear")[0]
        image = pattern + 0.7 * noise
        if self.transform is not None:
            image = self.transform(image)
        return image, label


def _torchvision(what: str) -> tuple[Any, Any]:
    """(torchvision.datasets, torchvision.transforms.v2), or one line saying why not."""
    try:
        import torchvision.datasets as datasets
        import torchvision.transforms.v2 as v2
    except ImportError:
        raise UsageError(f"{what} needs torchvision: pip install torchvision") from None
    except RuntimeError as exc:  # e.g. a torchvision built for another torch
        raise UsageError(f"{what}: torchvision does not load ({_reason(exc)})") from None
    if not hasattr(v2, "CutMix"):
        raise UsageError(f"{what} needs torchvision 0.16 or later: pip install -U torchvision")
    return datasets, v2


def _padding(recipe: Recipe) -> int:
    """CIFAR's 4 pixels at 32, in proportion at other sizes."""
    return max(1, round(min(recipe.train_size) / 8))


def auto_augment(args: argparse.Namespace, v2: Any, interpolation: Any) -> list[Any]:
    policy = args.auto_augment
    if policy is None:
        return []
    if policy == "ta_wide":
        return [v2.TrivialAugmentWide(interpolation=interpolation)]
    if policy == "ra":
        return [v2.RandAugment(interpolation=interpolation, magnitude=args.ra_magnitude)]
    if policy == "augmix":
        return [v2.AugMix(interpolation=interpolation, severity=args.augmix_severity)]
    return [v2.AutoAugment(v2.AutoAugmentPolicy(policy), interpolation=interpolation)]


def image_transforms(
    args: argparse.Namespace,
    recipe: Recipe,
    v2: Any,
    mean: tuple[float, ...],
    std: tuple[float, ...],
    *,
    gray: bool = False,
    native: tuple[int, int] | None = None,
) -> tuple[Any, Any]:
    """torchvision's classification presets, on PIL images: (train, val) transforms.

    ``native`` is the images' own size when all share one (CIFAR): no resizing to it.
    """
    interpolation = v2.InterpolationMode(args.interpolation)
    first = [v2.Grayscale(1)] if gray else []
    if recipe.name == "imagenet":
        crop = [
            v2.RandomResizedCrop(recipe.train_size, interpolation=interpolation, antialias=True)
        ]
    else:  # He et al. 2016 on CIFAR: pad, random crop, flip
        crop = []
        if native != recipe.train_size:
            size = max(recipe.train_size)
            crop.append(v2.Resize(size, interpolation=interpolation, antialias=True))
        crop.append(v2.RandomCrop(recipe.train_size, padding=_padding(recipe), pad_if_needed=True))
    to_tensor = [v2.PILToTensor(), v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean, std)]
    erase = [v2.RandomErasing(p=args.random_erase)] if args.random_erase > 0 else []
    train = [
        *first,
        *crop,
        v2.RandomHorizontalFlip(),
        *auto_augment(args, v2, interpolation),
        *to_tensor,
        *erase,
    ]
    resize = recipe.val_resize
    as_is = native is not None and native == recipe.val_size and resize in (native[0], native)
    val = list(first)
    if not as_is:
        val += [
            v2.Resize(resize, interpolation=interpolation, antialias=True),
            v2.CenterCrop(recipe.val_size),
        ]
    return v2.Compose(train), v2.Compose([*val, *to_tensor])


def make_datasets(args: argparse.Namespace, spec: Spec) -> tuple[Dataset[Sample], Dataset[Sample]]:
    recipe = choose_recipe(args, spec)
    if args.data == "synthetic":
        val_size = max(args.batch_size, args.synthetic_size // 8)
        erase = None
        if args.random_erase > 0:
            erase = _torchvision("--random-erase")[1].RandomErasing(p=args.random_erase)
        return (
            SyntheticImages(spec, args.synthetic_size, args.seed, recipe.train_size, erase),
            SyntheticImages(spec, val_size, args.seed + 1, recipe.val_size),
        )
    root = Path(args.data_path)
    if not root.is_dir() and not (args.download and args.data in CIFAR_STATS):
        raise UsageError(f"--data-path {root}: no such folder")
    datasets, v2 = _torchvision(f"--data {args.data}")
    mean: tuple[float, ...]  # per channel: three, or one for gray images
    std: tuple[float, ...]
    if args.data in CIFAR_STATS:
        mean, std = CIFAR_STATS[args.data]
        train_tf, val_tf = image_transforms(args, recipe, v2, mean, std, native=(32, 32))
        cls = datasets.CIFAR10 if args.data == "cifar10" else datasets.CIFAR100
        try:
            return (
                cls(str(root), train=True, transform=train_tf, download=args.download),
                cls(str(root), train=False, transform=val_tf, download=args.download),
            )
        except (RuntimeError, OSError) as exc:
            reason = getattr(exc, "reason", exc)  # urllib's errors keep theirs in .reason
            why = _reason(reason) if isinstance(reason, BaseException) else str(reason)
            if args.download and isinstance(exc, OSError):
                raise UsageError(
                    f"--data-path {root}: could not download {args.data.upper()} ({why}); "
                    "put a downloaded copy (torchvision's layout) there instead"
                ) from None
            hint = "" if args.download else " (--download fetches it)"
            raise UsageError(f"--data-path {root}: {why}{hint}") from None
    mean, std = IMAGENET_MEAN, IMAGENET_STD
    gray = spec.channels == 1
    if gray:
        mean, std = (sum(mean) / 3,), (sum(std) / 3,)
    elif spec.channels != 3:
        raise UsageError(f"--data imagefolder: the design takes {spec.channels} channels, not 3")
    train_tf, val_tf = image_transforms(args, recipe, v2, mean, std, gray=gray)
    for part in ("train", "val"):
        if not (root / part).is_dir():
            raise UsageError(f"--data-path {root}: expected {part}/CLASS/IMAGE files")
    return (
        datasets.ImageFolder(str(root / "train"), train_tf),
        datasets.ImageFolder(str(root / "val"), val_tf),
    )


class MixCollate:
    """Batches through MixUp or CutMix (one of them, drawn per batch): soft targets.

    A class rather than a closure, so data-loading workers can be started by spawning.
    """

    def __init__(self, mix: Any) -> None:
        self.mix = mix

    def __call__(self, batch: list[Any]) -> Any:
        return self.mix(*default_collate(batch))


def mix_collate(args: argparse.Namespace, num_classes: int) -> MixCollate | None:
    if args.mixup_alpha <= 0 and args.cutmix_alpha <= 0:
        return None
    v2 = _torchvision("--mixup-alpha/--cutmix-alpha")[1]
    choices = []
    if args.mixup_alpha > 0:
        choices.append(v2.MixUp(alpha=args.mixup_alpha, num_classes=num_classes))
    if args.cutmix_alpha > 0:
        choices.append(v2.CutMix(alpha=args.cutmix_alpha, num_classes=num_classes))
    return MixCollate(v2.RandomChoice(choices))


class ResumableSampler(DistributedSampler[int]):
    """DistributedSampler that can begin part-way into an epoch, for a mid-epoch resume.

    Its order depends only on (seed, epoch), so a resumed run sees the same samples.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.start = 0

    def epoch_indices(self) -> list[int]:
        """This rank's whole epoch."""
        return list(super().__iter__())

    def __iter__(self) -> Iterator[int]:
        return iter(self.epoch_indices()[self.start :])

    def __len__(self) -> int:
        return self.num_samples - self.start


class RepeatedAugmentationSampler(ResumableSampler):
    """Repeated augmentation (Hoffer et al. 2020, as in DeiT and torchvision's RASampler).

    Each image is drawn ``reps`` times in a row, and consecutive draws go to consecutive
    ranks, so the copies are augmented differently (on different processes when there
    are several). An epoch keeps its usual length, len(dataset) / world per rank, made of
    len(dataset) / reps distinct images. (torchvision's also rounds an epoch down to a
    multiple of 256 images; not here, so that small datasets train.)
    """

    def __init__(self, *args: Any, reps: int = 3, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reps = reps

    def epoch_indices(self) -> list[int]:
        n = len(self.dataset)  # type: ignore[arg-type]
        if self.shuffle:
            order = torch.randperm(
                n, generator=torch.Generator().manual_seed(self.seed + self.epoch)
            )
        else:
            order = torch.arange(n)
        repeated = order.repeat_interleave(self.reps).tolist()
        total = math.ceil(n * self.reps / self.num_replicas) * self.num_replicas
        while len(repeated) < total:  # pad so that every rank gets as many
            repeated += repeated[: total - len(repeated)]
        return repeated[self.rank : total : self.num_replicas][: self.num_samples]


def make_loader(
    dataset: Dataset[Sample],
    args: argparse.Namespace,
    d: Dist,
    *,
    train: bool,
    collate_fn: Any = None,
) -> tuple[DataLoader[Sample], ResumableSampler]:
    options = {"num_replicas": d.world, "rank": d.rank, "shuffle": train, "seed": args.seed}
    if train and args.ra_sampler:
        sampler: ResumableSampler = RepeatedAugmentationSampler(
            dataset, reps=args.ra_reps, **options
        )
    else:
        sampler = ResumableSampler(dataset, **options)
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
        collate_fn=collate_fn,
        worker_init_fn=leave_stop_signals_to_the_main_process,
    )
    return loader, sampler


def leave_stop_signals_to_the_main_process(worker_id: int) -> None:
    """A data-loading worker ignores SIGTERM and SIGINT: the main process stops training
    and then ends its workers. (torchrun signals each process group, workers included;
    a worker that died of it would fail the main process with a traceback.)"""
    for sig in StopRequest.SIGNALS:
        signal.signal(sig, signal.SIG_IGN)


# ---------------------------------------------------------------------------
# Recipe

NORM_LAYERS = (
    nn.modules.batchnorm._BatchNorm,
    nn.LayerNorm,
    nn.GroupNorm,
    nn.modules.instancenorm._InstanceNorm,
    nn.LocalResponseNorm,
)


def param_groups(
    model: nn.Module, weight_decay: float, norm_decay: float = 0.0, bias_decay: float = 0.0
) -> list[dict[str, Any]]:
    """Weight decay per kind of parameter, as torchvision's --norm-weight-decay and
    --bias-weight-decay: a bias goes by ``bias_decay`` (even a norm's), a norm layer's
    weight by ``norm_decay``, everything else by ``weight_decay``."""
    groups: dict[str, list[nn.Parameter]] = {"other": [], "norm": [], "bias": []}
    for module in model.modules():
        for name, p in module.named_parameters(recurse=False):
            if not p.requires_grad:
                continue
            if name == "bias":
                groups["bias"].append(p)
            elif isinstance(module, NORM_LAYERS):
                groups["norm"].append(p)
            else:
                groups["other"].append(p)
    decay = {"other": weight_decay, "norm": norm_decay, "bias": bias_decay}
    return [
        {"params": params, "weight_decay": decay[kind], "kind": kind}
        for kind, params in groups.items()
        if params
    ]


def make_optimizer(model: nn.Module, args: argparse.Namespace) -> torch.optim.Optimizer:
    groups = param_groups(model, args.wd, args.norm_weight_decay, args.bias_weight_decay)
    if args.opt == "adamw":
        return torch.optim.AdamW(groups, lr=args.lr, weight_decay=args.wd)
    if args.opt == "rmsprop":  # torchvision's settings (those of TF's MobileNet/EfficientNet)
        return torch.optim.RMSprop(
            groups, lr=args.lr, momentum=args.momentum, weight_decay=args.wd, eps=0.0316, alpha=0.9
        )
    return torch.optim.SGD(
        groups,
        lr=args.lr,
        momentum=args.momentum,
        weight_decay=args.wd,
        nesterov=args.opt == "sgd_nesterov",
    )


def lr_factor(args: argparse.Namespace, epochs_done: float) -> float:
    """The learning rate over --lr after ``epochs_done`` (fractional) epochs.

    torchvision's schedule (warm-up for --lr-warmup-epochs, then --lr-scheduler over the
    rest), evaluated at every step: at the start of each epoch it equals torchvision's,
    which steps once per epoch; in between it moves smoothly (steplr stays a staircase).
    """
    warmup: float = args.lr_warmup_epochs
    decay: float = args.lr_warmup_decay
    gamma: float = args.lr_gamma
    if epochs_done < warmup:
        if args.lr_warmup_method == "constant":
            return decay
        return decay + (1.0 - decay) * epochs_done / warmup
    after = epochs_done - warmup
    if args.lr_scheduler == "steplr":
        return gamma ** int(after // args.lr_step_size)
    if args.lr_scheduler == "exponentiallr":
        factor: float = gamma**after  # typeshed: float ** float may be complex (Any)
        return factor
    span = max(args.epochs - warmup, 1e-9)
    floor: float = args.lr_min / args.lr if args.lr else 0.0
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, after / span)))


def make_scheduler(
    optimizer: torch.optim.Optimizer, args: argparse.Namespace, steps_per_epoch: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """Per-step LambdaLR over :func:`lr_factor`."""

    def factor(step: int) -> float:
        return lr_factor(args, step / steps_per_epoch)

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def ema_decay(args: argparse.Namespace, world: int) -> float:
    """torchvision's adjustment, which keeps the EMA's horizon in epochs whatever the batch,
    world size, update interval and epoch count: alpha = (1 - decay) x world x batch x
    steps / epochs."""
    adjust: float = world * args.batch_size * args.model_ema_steps / args.epochs
    decay: float = args.model_ema_decay
    alpha = min(1.0, (1.0 - decay) * adjust)
    return 1.0 - alpha


def make_ema(model: nn.Module, args: argparse.Namespace, d: Dist) -> AveragedModel:
    """An exponential moving average of the weights and buffers (torch's AveragedModel)."""
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    return AveragedModel(
        model,
        device=d.device,
        multi_avg_fn=get_ema_multi_avg_fn(ema_decay(args, d.world)),
        use_buffers=True,
    )


# ---------------------------------------------------------------------------
# Stopping on a signal


class StopRequest:
    """SIGTERM and SIGINT ask training to stop at the next safe point, in this process.

    The handler only records the signal; the training loop looks at it between steps
    (see train_one_epoch), saves last.pt there and ends with ``exit_code``. The first
    signal puts the previous handlers back, so a second one acts as if none were
    installed: SIGTERM ends the process, SIGINT raises KeyboardInterrupt.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self) -> None:
        self.signum = 0  # the first signal received; 0: none
        self.pid = os.getpid()
        self.previous: dict[int, Any] = {}

    def install(self) -> StopRequest:
        for sig in self.SIGNALS:
            if signal.getsignal(sig) is signal.SIG_IGN:  # e.g. SIGINT of a background job
                continue
            try:
                self.previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread: signals stay as they are
                break
        return self

    def uninstall(self) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
        self.previous.clear()

    def _handle(self, signum: int, frame: Any) -> None:
        if os.getpid() != self.pid:  # a forked data-loading worker: the main process stops
            return
        self.signum = self.signum or signum
        self.uninstall()

    @staticmethod
    def exit_code(signum: int) -> int:
        """128 + the signal's number: 143 after SIGTERM, 130 after Ctrl-C."""
        return 128 + signum

    def agree(self, d: Dist) -> int:
        """The signal any process received (0: none), the same on every rank: a collective
        when distributed, so every rank calls it at the same point."""
        if d.world == 1:
            return self.signum
        flag = torch.tensor([float(self.signum)], device=d.device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return int(flag.item())


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
    ema: AveragedModel | None = None  # an average of raw_model, with --model-ema
    ema_steps: int = 32  # batches between EMA updates
    ema_warmup_epochs: float = 0.0  # the EMA copies the weights during warm-up
    ema_restored: bool = False  # the EMA came from a checkpoint
    clip_grad_norm: float | None = None

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
    acc5: float = 0.0
    stopped_by: int = 0  # the signal that ended the epoch early, the same on every rank
    max_memory: int | None = None  # bytes, MemoryMeter's peak over the epoch (rank 0's)


def hits(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """[top-1, top-5] correct predictions in a batch, on the device. Soft targets (MixUp,
    CutMix) count their largest class; top-5 is top-k for k = min(5, classes)."""
    labels = targets.argmax(1) if targets.ndim > 1 else targets
    top = logits.detach().topk(min(5, logits.shape[1]), dim=1).indices == labels[:, None]
    return torch.stack([top[:, 0].sum(), top.any(1).sum()]).float()


def train_one_epoch(
    state: TrainState,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    *,
    total_batches: int,
    world: int = 1,
    max_steps: int | None = None,
    log_interval: int = 50,
    progress: Progress | None = None,
    stop: StopRequest | None = None,
) -> EpochStats:
    """One pass over ``batches``. Loss and accuracy stay on the device; the host reads them
    (one synchronisation) only every ``log_interval`` steps.

    A signal received (``stop``) ends the pass after the step in progress; with several
    processes they agree in the interval's synchronisation, so all stop at the same step.
    """
    state.model.train()
    totals = torch.zeros(3, device=state.device)  # summed loss, top-1 and top-5 hits
    memory = MemoryMeter(state.device)
    memory.reset()
    stopped_by = 0
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
            if state.clip_grad_norm is not None:
                state.scaler.unscale_(state.optimizer)
                nn.utils.clip_grad_norm_(state.raw_model.parameters(), state.clip_grad_norm)
            state.scaler.step(state.optimizer)
            state.scaler.update()
        else:
            loss.backward()
            if state.clip_grad_norm is not None:
                nn.utils.clip_grad_norm_(state.raw_model.parameters(), state.clip_grad_norm)
            state.optimizer.step()
        state.scheduler.step()
        if state.ema is not None and state.batch_in_epoch % state.ema_steps == 0:
            state.ema.update_parameters(state.raw_model)
            if state.epoch < state.ema_warmup_epochs:  # copy, not average, during warm-up
                state.ema.n_averaged.fill_(0)
        n = y.shape[0]
        totals += torch.cat([(loss.detach().float() * n)[None], hits(logits, y)])
        images += n
        interval_images += n
        state.step += 1
        state.batch_in_epoch += 1
        at_limit = max_steps is not None and state.step >= max_steps
        interval = state.step % log_interval == 0
        signum = stop.signum if stop is not None else 0
        if world == 1:  # alone: no one to agree with, so look at every step
            stopped_by = signum
        agree = stop is not None and world > 1 and interval
        if agree or (progress is not None and (interval or at_limit or stopped_by)):
            figures = totals
            if agree:  # did any rank get a signal? read with the figures, in one go
                flag = totals.new_tensor([float(signum)])
                dist.all_reduce(flag, op=dist.ReduceOp.MAX)
                figures = torch.cat([totals, flag])
            values = figures.tolist()  # the one synchronisation per interval
            if agree:
                stopped_by = int(values[3])
            now = time.perf_counter()
            rate = interval_images * world / max(now - interval_start, 1e-9)
            if progress is not None:
                mean_loss, mean_acc = values[0] / images, values[1] / images
                done = state.batch_in_epoch
                progress.update(done, total_batches, mean_loss, mean_acc, rate, memory.read())
            interval_start, interval_images = now, 0
        if at_limit or stopped_by:
            break
    if world > 1:  # the epoch's figures over every rank, not only rank 0's share
        dist.all_reduce(totals)
    loss_sum, correct, correct5 = totals.tolist()
    max_memory = memory.read()
    seconds = time.perf_counter() - start
    finished = state.batch_in_epoch >= total_batches
    count = max(images * world, 1)
    return EpochStats(
        loss=loss_sum / count,
        acc=correct / count,
        images=images * world,
        seconds=seconds,
        finished=finished,
        acc5=correct5 / count,
        stopped_by=stopped_by,
        max_memory=max_memory,
    )


@torch.no_grad()
def evaluate(
    state: TrainState, loader: DataLoader[Sample], d: Dist, model: nn.Module | None = None
) -> tuple[float, float, float]:
    """Mean cross-entropy, top-1 and top-5 accuracy over the validation set, summed over
    ranks, of ``model`` (default: the one being trained; the EMA when given)."""
    model = state.model if model is None else model
    model.eval()
    totals = torch.zeros(4, device=state.device)  # summed loss, top-1, top-5, count
    memory_format = torch.channels_last if state.channels_last else torch.preserve_format
    for inputs, targets in loader:
        x = inputs.to(state.device, non_blocking=True, memory_format=memory_format)
        y = targets.to(state.device, non_blocking=True)
        with state.autocast():
            logits = model(x)
        loss = F.cross_entropy(logits.float(), y, reduction="sum")
        totals += torch.cat([loss[None], hits(logits, y), totals.new_tensor([y.shape[0]])])
    if d.world > 1:
        dist.all_reduce(totals)
    loss_sum, correct, correct5, count = totals.tolist()
    count = max(count, 1)
    return loss_sum / count, correct / count, correct5 / count


class MemoryMeter:
    """The memory training takes: the peak since ``reset()``, in bytes, or None where unknown.

    CUDA: the allocator's peak (max_memory_allocated, reset by ``reset()``); MPS: the
    largest of the readings of allocated memory; CPU: the process's peak resident size
    since it started (getrusage; Windows has none). No reading waits for the device.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.peak = 0

    def reset(self) -> None:
        self.peak = 0
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)

    def read(self) -> int | None:
        kind = self.device.type
        if kind == "cuda":
            value: int | None = torch.cuda.max_memory_allocated(self.device)
        elif kind == "mps":
            value = torch.mps.current_allocated_memory()
        elif kind == "cpu":
            value = peak_resident_bytes()
        else:
            value = None
        if value is None:
            return None
        self.peak = max(self.peak, int(value))
        return self.peak


def peak_resident_bytes() -> int | None:
    """This process's peak resident set size, or None where the platform does not tell."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB elsewhere


class Progress:
    """One line per epoch: redrawn in place on a terminal, printed per interval otherwise.

    ``epoch 2/90 [######..................] 125/500  loss 2.3026  acc 10.00%  512 img/s``,
    then ``  mem 1.23 GiB`` (MemoryMeter's peak, GiB = 2**30 bytes) where it is known.
    """

    def __init__(self, epoch: int, epochs: int, enabled: bool) -> None:
        self.prefix = f"epoch {epoch + 1}/{epochs}"
        self.enabled = enabled
        self.tty = sys.stdout.isatty()

    def update(
        self,
        done: int,
        total: int,
        loss: float,
        acc: float,
        rate: float,
        memory: int | None = None,
    ) -> None:
        if not self.enabled:
            return
        width = 24
        filled = int(width * done / max(total, 1))
        bar = "#" * filled + "." * (width - filled)
        line = (
            f"{self.prefix} [{bar}] {done}/{total}  loss {loss:.4f}  "
            f"acc {100 * acc:5.2f}%  {rate:,.0f} img/s"
        )
        if memory is not None:
            line += f"  mem {memory / 2**30:.2f} GiB"
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

        # the legacy tuple: get_state's default (numpy's stub gives the default as legacy=False)
        legacy = cast("tuple[str, np.ndarray[Any, Any], int, int, float]", np.random.get_state())
        kind, keys, pos, has_gauss, cached = legacy
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
    ckpt = {
        "format": CHECKPOINT_FORMAT,
        "model": state.raw_model.state_dict(),
        "optimizer": state.optimizer.state_dict(),
        "lr_scheduler": state.scheduler.state_dict(),  # torchvision's name for it
        "scaler": state.scaler.state_dict() if state.scaler is not None else None,
        "epoch": state.epoch,
        "batch_in_epoch": state.batch_in_epoch,
        "step": state.step,
        "best_acc": state.best_acc,
        "rng": rngs,
        "world_size": d.world,
        "args": {k: v for k, v in vars(args).items() if k != "resume"},
    }
    if state.ema is not None:
        ckpt["model_ema"] = state.ema.state_dict()
    return ckpt


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
    if "lr_scheduler" not in ckpt and "scheduler" in ckpt:  # written before it was renamed
        ckpt["lr_scheduler"] = ckpt.pop("scheduler")
    missing = [key for key in CHECKPOINT_KEYS if key not in ckpt]
    if missing:
        raise UsageError(f"--resume {path}: the checkpoint lacks {', '.join(missing)}")
    return ckpt


CHECKPOINT_KEYS = (
    "model",
    "optimizer",
    "lr_scheduler",
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
        state.scheduler.load_state_dict(ckpt["lr_scheduler"])
        if state.scaler is not None and ckpt.get("scaler"):
            state.scaler.load_state_dict(ckpt["scaler"])
    except (ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise UsageError(
            f"--resume {path}: its optimiser or schedule state does not fit this run"
            f" ({_reason(exc)})"
        ) from None
    if state.ema is not None and isinstance(ckpt.get("model_ema"), dict):
        try:
            state.ema.load_state_dict(ckpt["model_ema"])
        except (RuntimeError, KeyError) as exc:
            raise UsageError(
                f"--resume {path}: its EMA weights do not fit ({_reason(exc)})"
            ) from None
        state.ema_restored = True
    elif state.ema is not None and d.main:
        print("note: the checkpoint has no EMA weights; the EMA starts from its model")
        state.ema.update_parameters(state.raw_model)
    state.epoch = ckpt["epoch"]
    state.batch_in_epoch = ckpt["batch_in_epoch"]
    state.step = ckpt["step"]
    state.best_acc = ckpt["best_acc"]
    rngs = ckpt["rng"]
    if len(rngs) == d.world:
        set_rng_state(rngs[d.rank], d.device)


def keep_num_classes(args: argparse.Namespace, ckpt: dict[str, Any], d: Dist) -> None:
    """A run trained with --num-classes resumes with it; another count is refused."""
    trained_for = ckpt.get("args", {}).get("num_classes")
    if trained_for is None or args.num_classes == trained_for:
        return
    if args.num_classes is not None:
        raise UsageError(
            f"--resume {args.resume} trained a {trained_for}-class classifier, not "
            f"{args.num_classes}: leave out --num-classes to continue it"
        )
    args.num_classes = trained_for
    if d.main:
        print(f"note: --num-classes {trained_for}, as the checkpoint was trained")


def warn_if_recipe_changed(ckpt: dict[str, Any], args: argparse.Namespace, d: Dist) -> None:
    before = ckpt.get("args", {})
    keys = (
        "epochs",
        "batch_size",
        "lr",
        "opt",
        "wd",
        "lr_scheduler",
        "lr_warmup_epochs",
        "data",
        "mixup_alpha",
        "cutmix_alpha",
        "ra_sampler",
        "model_ema",
    )
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
        "val_acc5",
        "ema_val_acc",
        "ema_val_acc5",
        "images_per_s",
        "seconds",
        "max_memory_bytes",  # MemoryMeter's peak over the epoch's training; empty if unknown
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
        """Drop rows after ``epoch`` (a run killed after logging, before its checkpoint),
        and bring a file of an older train.py to today's columns."""
        if not self.path.is_file():
            return
        with open(self.path, newline="") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            same_columns = tuple(reader.fieldnames or ()) == self.FIELDS
        kept = [row for row in rows if _epoch(row) <= epoch]
        if len(kept) == len(rows) and same_columns:
            return
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with open(tmp, "w", newline="") as handle:
            out = csv.DictWriter(handle, fieldnames=self.FIELDS, extrasaction="ignore")
            out.writeheader()
            out.writerows(kept)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)

    def write(self, row: dict[str, float | str]) -> None:
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
                if key not in ("epoch", "step") and value != "":
                    self.writer.add_scalar(key, value, int(row["step"]))
            self.writer.flush()


# ---------------------------------------------------------------------------
# Putting it together


def resolve_amp(args: argparse.Namespace, device: torch.device) -> str:
    """--amp as torchvision's switch, or with a type as before: bf16, fp16 or none."""
    amp: str = args.amp
    amp_dtype: str | None = args.amp_dtype
    if amp in ("bf16", "fp16", "none"):
        return amp
    bf16 = device.type != "cuda" or torch.cuda.is_bf16_supported()
    if amp == "on":
        return amp_dtype or ("bf16" if bf16 else "fp16")
    if amp_dtype is not None:  # naming a type asks for mixed precision
        return amp_dtype
    return "bf16" if device.type == "cuda" and bf16 else "none"


def default_lr(opt: str, recipe: str, global_batch: int) -> float:
    if opt == "adamw":
        return 1e-3
    if opt == "rmsprop":  # torchvision's MobileNet/EfficientNet rate, 0.064 at batch 1024
        return 0.016 * global_batch / 256
    if recipe == "cifar":  # He et al. 2016: 0.1 at batch 128; linear above 256
        return 0.1 * max(1.0, global_batch / 256)
    return 0.1 * global_batch / 256  # the linear scaling rule (Goyal et al. 2017)


def default_wd(opt: str, recipe: str) -> float:
    if opt == "adamw":
        return 0.05
    if opt == "rmsprop":
        return 1e-5
    return 5e-4 if recipe == "cifar" else 1e-4


def configure(args: argparse.Namespace, d: Dist, spec: Spec) -> Recipe:
    """Resolve defaults that depend on the machine and the design; seed every generator."""
    recipe = choose_recipe(args, spec)
    args.amp = resolve_amp(args, d.device)
    if args.lr is None:
        args.lr = default_lr(args.opt, recipe.name, args.batch_size * d.world)
    if args.wd is None:
        args.wd = default_wd(args.opt, recipe.name)
    if args.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
    else:
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    seed_everything(args.seed)  # every rank builds the same model
    return recipe


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
        if d.device.type == "cuda":
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        elif d.main:
            print("note: --sync-bn needs GPUs (SyncBatchNorm); BatchNorm stays per process")
    raw = model
    optimizer = make_optimizer(raw, args)
    scheduler = make_scheduler(optimizer, args, steps)
    ema = make_ema(raw, args, d) if args.model_ema else None
    runner: nn.Module = raw
    if d.world > 1:
        device_ids = [d.local_rank] if d.device.type == "cuda" else None
        runner = nn.parallel.DistributedDataParallel(raw, device_ids=device_ids)
    if args.compile:  # a Module in, an OptimizedModule (a Module) out; the stub says Callable
        runner = cast(nn.Module, torch.compile(runner))
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
        ema=ema,
        ema_steps=args.model_ema_steps,
        ema_warmup_epochs=args.lr_warmup_epochs,
        clip_grad_norm=args.clip_grad_norm,
    )


def start_at_epoch(state: TrainState, epoch: int, steps_per_epoch: int) -> None:
    """--start-epoch without --resume: the count and the schedule skip ahead."""
    state.epoch, state.step = epoch, epoch * steps_per_epoch
    with warnings.catch_warnings():  # "scheduler stepped before the optimizer": on purpose
        warnings.simplefilter("ignore")
        state.scheduler.last_epoch = state.step - 1
        state.scheduler.step()


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


def evaluate_only(
    state: TrainState, args: argparse.Namespace, loader: DataLoader[Sample], d: Dist
) -> None:
    """--test-only: evaluate once (the EMA with --model-ema, as torchvision) and print it."""
    torch.backends.cudnn.benchmark = False
    model, label = state.model, ""
    if args.model_ema:
        if state.ema is None or not state.ema_restored:  # restored implies not None
            raise UsageError(
                "--test-only --model-ema evaluates the EMA weights of a checkpoint: "
                "give --resume PATH of a run trained with --model-ema"
            )
        model, label = state.ema, "EMA "
    loss, acc1, acc5 = evaluate(state, loader, d, model)
    if d.main:
        print(f"Test: {label}Acc@1 {100 * acc1:.3f} Acc@5 {100 * acc5:.3f} loss {loss:.4f}")


def stopped_line(state: TrainState, steps_per_epoch: int, path: Path) -> str:
    """Where a run stopped before its end, and how to go on."""
    return (
        f"stopped at step {state.step} (epoch {state.epoch + 1}, batch "
        f"{state.batch_in_epoch}/{steps_per_epoch}); continue with --resume {path}"
    )


def train(args: argparse.Namespace, d: Dist, stop: StopRequest | None = None) -> int:
    """Train as ``args`` say; the exit code: 0, or StopRequest.exit_code after a signal."""
    stop = stop or StopRequest()
    spec = read_spec()
    recipe = configure(args, d, spec)
    if d.main and not args.benchmark:
        print(describe(args, recipe), flush=True)  # the first line: which recipe, and why
        for line in notes(args, spec):
            print(f"note: {line}")
    ckpt = None
    if args.resume and not args.benchmark:
        ckpt = load_checkpoint(Path(args.resume))
        keep_num_classes(args, ckpt, d)
    spec = settle_classes(args, spec, None)  # synthetic data take --num-classes as they are
    if args.benchmark:
        model = build_network(args.init, num_classes=args.num_classes)
        seed_everything(args.seed + d.rank)
        state = make_state(model, args, d, steps=max(1, args.benchmark_steps))
        benchmark(state, spec, args, d)
        return 0
    with main_rank_first(d, args.download and args.data in CIFAR_STATS):
        train_set, val_set = make_datasets(args, spec)  # draws no random numbers
    spec = settle_classes(args, spec, data_classes(args, train_set, val_set))
    model = build_network(args.init, num_classes=args.num_classes)
    seed_everything(args.seed + d.rank)  # each rank its own dropout and augmentation
    collate = mix_collate(args, spec.num_classes)
    train_loader, train_sampler = make_loader(train_set, args, d, train=True, collate_fn=collate)
    val_loader, _ = make_loader(val_set, args, d, train=False)
    steps_per_epoch = train_sampler.num_samples // args.batch_size
    if steps_per_epoch == 0 and not args.test_only:
        raise UsageError(
            f"--batch-size {args.batch_size}: larger than the {train_sampler.num_samples} "
            "training samples per process; use a smaller batch"
        )
    state = make_state(model, args, d, max(1, steps_per_epoch))
    out = Path(args.out)
    if ckpt is not None:
        if not args.test_only:
            warn_if_recipe_changed(ckpt, args, d)
        restore(state, ckpt, d, Path(args.resume))
        del ckpt
    elif args.start_epoch:
        start_at_epoch(state, args.start_epoch, steps_per_epoch)
    if args.test_only:
        evaluate_only(state, args, val_loader, d)
        return 0
    log = MetricsLog(out, args.tensorboard) if d.main else None
    if d.main:
        out.mkdir(parents=True, exist_ok=True)
        remove_stale_temp_files(out)
        if log is not None:  # rows of epochs after the checkpoint are redone: drop them
            log.keep_through(state.epoch)
        print(
            f"{spec.name}: {args.data} data, {d.world} process(es) on {d.device.type}, "
            f"global batch {args.batch_size * d.world}, {steps_per_epoch} steps/epoch, "
            f"amp {args.amp}"
        )
    saved = Path(args.resume) if args.resume else None  # the checkpoint of the state now
    code = 0
    while state.epoch < args.epochs:
        if args.max_steps is not None and state.step >= args.max_steps:
            break
        signum = stop.agree(d)
        if signum:  # received before training began, or in the last evaluation: all saved
            if d.main:
                print(
                    stopped_line(state, steps_per_epoch, saved)
                    if saved is not None
                    else "stopped before the first step: no checkpoint to continue from",
                    flush=True,
                )
            code = stop.exit_code(signum)
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
            stop=stop,
        )
        progress.close()
        if not stats.finished:  # stopped by --max-steps or a signal: save the place, leave
            ckpt = checkpoint(state, args, d)
            if ckpt is not None:
                atomic_save(ckpt, out / "last.pt")
                print(stopped_line(state, steps_per_epoch, out / "last.pt"), flush=True)
            at_limit = args.max_steps is not None and state.step >= args.max_steps
            code = stop.exit_code(stats.stopped_by) if stats.stopped_by and not at_limit else 0
            break
        val_loss, val_acc, val_acc5 = evaluate(state, val_loader, d)
        ema = evaluate(state, val_loader, d, state.ema) if state.ema is not None else None
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
            "val_acc5": val_acc5,
            "ema_val_acc": ema[1] if ema else "",
            "ema_val_acc5": ema[2] if ema else "",
            "images_per_s": rate,
            "seconds": stats.seconds,
            "max_memory_bytes": "" if stats.max_memory is None else stats.max_memory,
        }
        # in an order a kill at any moment survives: the epoch's row first, then best.pt,
        # and last.pt (which records the epoch and best_acc) only after both
        log.write(row)
        if improved:
            atomic_save(ckpt, out / "best.pt")
            atomic_copy(out / "best.pt", out / "last.pt")
        else:
            atomic_save(ckpt, out / "last.pt")
        saved = out / "last.pt"
        ema_text = f" | EMA acc@1 {100 * ema[1]:.2f}% acc@5 {100 * ema[2]:.2f}%" if ema else ""
        print(
            f"epoch {epoch + 1}/{args.epochs} done: train loss {stats.loss:.4f} "
            f"acc {100 * stats.acc:.2f}% | val loss {val_loss:.4f} acc@1 {100 * val_acc:.2f}% "
            f"acc@5 {100 * val_acc5:.2f}%{ema_text} | {rate:,.0f} img/s"
            f"{'  (best)' if improved else ''}",
            flush=True,
        )
    if args.print_checksum:
        print(f"rank {d.rank} checksum {checksum(state.raw_model)}", flush=True)
    return code


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stop = StopRequest()
    if not (args.benchmark or args.test_only):  # those have nothing to save: signals end them
        stop.install()
    try:
        d = setup_distributed(args.device)
        code = train(args, d, stop)
        leave_together()
        return code
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        stop.uninstall()  # called in-process (tests, notebooks): the caller's handlers back
        if dist.is_initialized():
            dist.destroy_process_group()


def leave_together() -> None:
    """After a normal end, free the network and wait for every rank before the process
    group goes: a DDP reducer freed only at interpreter exit, or a rank gone while its
    peer still talks, can abort Gloo's threads ("terminate called without an active
    exception", SIGABRT) and fail a run that trained to the end."""
    gc.collect()
    if dist.is_initialized():
        dist.barrier()


if __name__ == "__main__":
    sys.exit(main())
