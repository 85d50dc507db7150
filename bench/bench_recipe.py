"""The bundle's train.py with torchvision's full ResNet-50 recipe, beside the same loop without
it (issue 16): does the recipe's data pipeline keep up on a CPU?

The recipe is torchvision's documented "new recipe" command (TrivialAugment, random erasing,
MixUp/CutMix, label smoothing, EMA, repeated augmentation, 176 px training crops); the plain
loop is train.py's ImageNet defaults (random-resized crop + flip at the design's size). Both
read the same small ImageFolder of generated PNGs (ImageNet-sized, 500x375) through
train.py's own datasets, loader and train_one_epoch, with ``--workers`` 0 and 2. Beside each
training rate, the loader alone (the same batches, no model): when it is well above the
training rate, the data is not the bottleneck. "recipe at 224" keeps the recipe's
augmentations but trains on 224 px crops, to part the recipe's cost from its smaller crops.

    python bench/bench_recipe.py [--design resnet18] [--batch 8] [--steps 3] [--repeats 3]
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from designer.core.presets import load_preset
from designer.core.torch.bundle_writer import write_bundle

RECIPE = (
    "--model resnet50 --batch-size 128 --lr 0.5 --lr-scheduler cosineannealinglr "
    "--lr-warmup-epochs 5 --lr-warmup-method linear --auto-augment ta_wide --epochs 600 "
    "--random-erase 0.1 --weight-decay 0.00002 --norm-weight-decay 0.0 "
    "--label-smoothing 0.1 --mixup-alpha 0.2 --cutmix-alpha 1.0 --train-crop-size 176 "
    "--model-ema --val-resize-size 232 --ra-sampler --ra-reps 4"
)
CONFIGS = {
    "plain (crop 224 + flip)": "--recipe imagenet --epochs 600",
    "torchvision recipe (crop 176)": RECIPE,
    "recipe at 224": RECIPE + " --train-crop-size 224",
}


def import_train(folder: Path) -> ModuleType:
    try:
        import torchvision  # noqa: F401
    except RuntimeError:  # the CPU-torch import bug; tests.reference works around it
        from tests.reference import torchvision_models

        torchvision_models()
    spec = importlib.util.spec_from_file_location("bundle_train", folder / "train.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bundle_train"] = module
    spec.loader.exec_module(module)
    return module


def make_images(root: Path, count: int, size: tuple[int, int] = (375, 500)) -> None:
    """Photo-like PNGs (smooth colour fields plus a little noise), 10 classes."""
    from PIL import Image

    gen = torch.Generator().manual_seed(0)
    h, w = size
    for part, n in (("train", count), ("val", 10)):
        for i in range(n):
            folder = root / part / f"class{i % 10}"
            folder.mkdir(parents=True, exist_ok=True)
            coarse = torch.rand(3, 6, 8, generator=gen)
            field = torch.nn.functional.interpolate(coarse[None], size=size, mode="bicubic")[0]
            noise = 0.05 * torch.randn(3, h, w, generator=gen)
            pixels = ((field + noise).clamp(0, 1) * 255).to(torch.uint8).permute(1, 2, 0)
            Image.fromarray(pixels.numpy()).save(folder / f"{i}.png")


class Run:
    """One configuration: its datasets, loader settings and training state, built once."""

    def __init__(self, train: ModuleType, argv: list[str], steps: int) -> None:
        self.train, self.steps, self.d = train, steps, train.Dist()
        folder = Path(train.__file__).parent
        spec = train.read_spec(folder)
        self.args = args = train.parse_args(argv)
        recipe = train.configure(args, self.d, spec)
        self.dataset, _ = train.make_datasets(args, spec)
        self.collate = train.mix_collate(args, spec.num_classes)
        self.state = train.make_state(train.build_network("auto", folder), args, self.d, 100)
        # warm the model up on a synthetic batch of the training crop, not on the loader
        x = torch.randn(args.batch_size, spec.channels, *recipe.train_size)
        y = torch.randint(spec.num_classes, (args.batch_size,))
        train.train_one_epoch(self.state, [(x, y)], total_batches=100)

    def batches(self) -> Iterator[object]:
        loader, _ = self.train.make_loader(
            self.dataset, self.args, self.d, train=True, collate_fn=self.collate
        )
        return itertools.islice(loader, self.steps)

    def rates(self) -> tuple[float, float]:
        """(training, loader-only) images/s over one pass of ``steps`` batches, each timed
        from the loader's start (its workers' start-up and first batches included)."""
        images = self.steps * self.args.batch_size
        start = time.perf_counter()
        for _ in self.batches():
            pass
        data_rate = images / (time.perf_counter() - start)
        start = time.perf_counter()
        self.train.train_one_epoch(self.state, self.batches(), total_batches=100)
        return images / (time.perf_counter() - start), data_rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--design", default="resnet18")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    opts = parser.parse_args()
    count = opts.steps * opts.batch
    with tempfile.TemporaryDirectory(prefix="bench_recipe_") as tmp:
        folder, images = Path(tmp) / "bundle", Path(tmp) / "images"
        write_bundle(load_preset(opts.design), folder)
        make_images(images, count)
        for png in images.rglob("*.png"):  # into the page cache: no run reads a cold file
            png.read_bytes()
        train = import_train(folder)
        runs = {
            (name, workers): Run(
                train,
                [
                    *shlex.split(flags),
                    *("--data-path", str(images), "-b", str(opts.batch), "-j", str(workers)),
                    *("--amp", "none"),
                ],
                opts.steps,
            )
            for name, flags in CONFIGS.items()
            for workers in opts.workers
        }
        samples: dict[tuple[str, int], list[tuple[float, float]]] = {key: [] for key in runs}
        for _ in range(opts.repeats):  # interleaved, so that drift hits every run alike
            for key, run in runs.items():
                samples[key].append(run.rates())
    where = "cuda" if torch.cuda.is_available() else f"CPU, {torch.get_num_threads()} threads"
    print(
        f"{opts.design} ({where}), fp32: batch {opts.batch}, one pass of {opts.steps} steps "
        f"over {count} PNGs of 500x375 timed from the loader's start; median of {opts.repeats}"
    )
    print(f"{'configuration':32} {'workers':>7} {'train img/s':>12} {'loader img/s':>13}")
    for (name, workers), values in samples.items():
        train_rate = statistics.median(v[0] for v in values)
        data_rate = statistics.median(v[1] for v in values)
        plain = statistics.median(v[0] for v in samples[(next(iter(CONFIGS)), workers)])
        print(
            f"{name:32} {workers:7d} {train_rate:12.1f} {data_rate:13.1f}"
            f"   {train_rate / plain:.2f}x plain"
        )
    print("train img/s: data loading included; loader img/s: the same batches without a model")


if __name__ == "__main__":
    main()
