"""The bundle's train.py speaks torchvision's reference language.

torchvision's documented ResNet-50 "new recipe" command runs unchanged against a bundle
(with only a small ImageFolder and a step limit added), and each of its flags does what
torchvision's references/classification/train.py documents: MixUp/CutMix soft targets,
the EMA of the weights, the repeated-augmentation sampler, the crop sizes, label
smoothing, the weight-decay groups, the warm-up and schedule. Tiny images and a few
steps keep the module to seconds on a CPU.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import torch
from torch import nn

from designer.core.design import Design, InputSpec, StageSpec, StemSpec
from designer.core.torch.bundle_writer import write_bundle
from tests.bundle_module import imported_train
from tests.core.test_train_script import assert_same_tensors
from tests.reference import torchvision_models

ROOT = Path(__file__).resolve().parents[2]

# torchvision's references/classification README, "ResNet" / "New recipe" (80.86% top-1)
TORCHVISION_RESNET50 = (
    "--model resnet50 --batch-size 128 --lr 0.5 --lr-scheduler cosineannealinglr "
    "--lr-warmup-epochs 5 --lr-warmup-method linear --auto-augment ta_wide --epochs 600 "
    "--random-erase 0.1 --weight-decay 0.00002 --norm-weight-decay 0.0 "
    "--label-smoothing 0.1 --mixup-alpha 0.2 --cutmix-alpha 1.0 --train-crop-size 176 "
    "--model-ema --val-resize-size 232 --ra-sampler --ra-reps 4"
)

STAGES = (StageSpec(depth=1, width=8, stride=1), StageSpec(depth=1, width=16, stride=2))
# 224x224 in, as ResNet-50; the ImageNet stem keeps a 176x176 batch of 128 to a second
NET224 = Design(
    stages=STAGES,
    name="tiny224",
    input=InputSpec(3, 224, 224),
    num_classes=4,
    block="basic",
    stem=StemSpec("imagenet", 8),
)
NET16 = Design(
    stages=STAGES,
    name="tiny16",
    input=InputSpec(3, 16, 16),
    num_classes=4,
    block="basic",
    stem=StemSpec("cifar", 8),
)


def parse(train: ModuleType, command: str) -> object:
    return train.parse_args(shlex.split(command))


def run_train(bundle: Path, *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "train.py", *args],
        cwd=bundle,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def image_folder(root: Path, per_class: int, val_per_class: int, size=(48, 64)) -> Path:
    """4 classes of PNGs, each class a colour plus noise."""
    from PIL import Image

    gen = torch.Generator().manual_seed(0)
    for part, count in (("train", per_class), ("val", val_per_class)):
        for label in range(4):
            folder = root / part / f"class{label}"
            folder.mkdir(parents=True)
            for i in range(count):
                pixels = torch.randint(0, 256, (*size, 3), generator=gen, dtype=torch.uint8)
                pixels[..., label % 3] = 60 * label
                Image.fromarray(pixels.numpy()).save(folder / f"{i}.png")
    return root


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # 128 training images: one batch of the recipe's 128 (32 distinct, 4 times each)
    return image_folder(tmp_path_factory.mktemp("images"), per_class=32, val_per_class=2)


@pytest.fixture(scope="module")
def bundle16(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bundle16")
    write_bundle(NET16, folder, seed=0)
    return folder


@pytest.fixture(scope="module")
def train(bundle16: Path) -> Iterator[ModuleType]:
    """The 16x16 bundle's train.py, imported in-process (it imports model.py beside it)."""
    torchvision_models()
    with imported_train(bundle16, "recipe_train") as module:
        yield module


# --- the acceptance: torchvision's command, unchanged ------------------------------------


def test_torchvision_resnet50_recipe_runs_unchanged(tmp_path: Path, images: Path) -> None:
    bundle = tmp_path / "bundle"
    write_bundle(NET224, bundle, seed=0)
    out = tmp_path / "run"
    extra = ["--data-path", str(images), "--max-steps", "1", "--output-dir", str(out)]
    proc = run_train(bundle, *shlex.split(TORCHVISION_RESNET50), *extra)
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("recipe: imagenet-style, for a 224x224 input: "), lines[0]
    for words in (
        "random-resized crop 176x176 + flip + ta_wide + random erase 0.1",
        "val resize 232, centre crop 224x224",
        "sgd lr 0.5 wd 2e-05 (norms 0,",
        "cosineannealinglr after 5 epochs of linear warm-up",
        "mixup 0.2 or cutmix 1",
        "label smoothing 0.1",
        "repeated augmentation x4",
        "EMA every 32 steps",
    ):
        assert words in lines[0], (words, lines[0])
    assert lines[1] == (
        "note: --model resnet50: this bundle trains its own network (tiny224, from model.py);"
        " the name is not used"
    )
    done = next(line for line in lines if line.startswith("epoch 1/600 done:"))
    assert " acc@1 " in done and " acc@5 " in done and "| EMA acc@1 " in done

    ckpt = torch.load(out / "last.pt", map_location="cpu", weights_only=True)
    assert {"model", "model_ema", "optimizer", "lr_scheduler"} <= ckpt.keys()
    assert "scheduler" not in ckpt
    # one step of 128 images: 1/5 of the way through the linear warm-up from 0.01
    assert ckpt["optimizer"]["param_groups"][0]["lr"] == pytest.approx(0.5 * (0.01 + 0.99 / 5))
    decays = {g["kind"]: g["weight_decay"] for g in ckpt["optimizer"]["param_groups"]}
    assert decays == {"other": 2e-5, "norm": 0.0, "bias": 0.0}
    # the EMA copies the weights during warm-up (torchvision resets it then)
    assert int(ckpt["model_ema"]["n_averaged"]) == 0
    for key, value in ckpt["model"].items():
        assert torch.equal(ckpt["model_ema"][f"module.{key}"], value), key
    rows = (out / "metrics.csv").read_text().splitlines()
    header = rows[0].split(",")
    assert {"val_acc", "val_acc5", "ema_val_acc", "ema_val_acc5"} <= set(header)


# --- each flag's effect -------------------------------------------------------------------


def _batch(n: int = 8) -> tuple[list[tuple[torch.Tensor, int]], torch.Tensor, torch.Tensor]:
    x = torch.randn(n, 3, 16, 16)
    labels = torch.arange(n) % 4  # no sample shares a label with the one rolled onto it
    return list(zip(x, labels.tolist(), strict=True)), x, labels


def test_mixup_targets_are_the_images_mixing_weights(train: ModuleType) -> None:
    args = train.parse_args(["--mixup-alpha", "0.2"])
    collate = train.mix_collate(args, 4)
    batch, x, labels = _batch()
    torch.manual_seed(3)
    mixed, targets = collate(batch)
    assert targets.shape == (8, 4) and torch.allclose(targets.sum(1), torch.ones(8))
    lam = float(targets[0, labels[0]])
    onehot = nn.functional.one_hot(labels, 4).float()
    assert torch.allclose(targets, lam * onehot + (1 - lam) * onehot.roll(1, 0))
    assert torch.allclose(mixed, lam * x + (1 - lam) * x.roll(1, 0), atol=1e-6)


def test_cutmix_targets_are_the_pasted_areas(train: ModuleType) -> None:
    args = train.parse_args(["--cutmix-alpha", "1.0"])
    collate = train.mix_collate(args, 4)
    batch, x, labels = _batch()
    torch.manual_seed(5)
    mixed, targets = collate(batch)
    assert torch.allclose(targets.sum(1), torch.ones(8))
    own = (mixed == x).all(1)  # pixels kept from the sample itself
    pasted = (mixed == x.roll(1, 0)).all(1)
    assert bool((own | pasted).all())
    lam = float(targets[0, labels[0]])
    assert 0 < lam < 1
    assert own.float().mean((1, 2)) == pytest.approx(torch.full((8,), lam), abs=1e-6)


def test_mixup_or_cutmix_is_drawn_per_batch(train: ModuleType) -> None:
    args = train.parse_args(["--mixup-alpha", "0.2", "--cutmix-alpha", "1.0"])
    collate = train.mix_collate(args, 4)
    batch, x, _ = _batch()
    torch.manual_seed(0)
    kinds = set()
    for _ in range(12):
        mixed, targets = collate(batch)
        assert torch.allclose(targets.sum(1), torch.ones(8))
        cut = bool(((mixed == x) | (mixed == x.roll(1, 0))).all())
        kinds.add("cutmix" if cut else "mixup")
    assert kinds == {"mixup", "cutmix"}
    assert train.mix_collate(train.parse_args([]), 4) is None


def _state(train: ModuleType, argv: list[str]) -> tuple[object, object]:
    args = train.parse_args(["-b", "8", "--epochs", "2", "--lr", "0.5", *argv])
    train.configure(args, train.Dist(), train.read_spec(Path(train.__file__).parent))
    model = train.build_network("auto", Path(train.__file__).parent)
    return train.make_state(model, args, train.Dist(), steps=4), args


def test_ema_averages_every_n_steps_with_torchvisions_adjusted_decay(train: ModuleType) -> None:
    state, args = _state(train, ["--model-ema", "--model-ema-steps", "2"])
    # torchvision: alpha = (1 - decay) x world x batch x steps / epochs
    decay = 1 - (1 - 0.99998) * 1 * 8 * 2 / 2
    assert train.ema_decay(args, 1) == pytest.approx(decay)
    torch.manual_seed(0)
    batches = [(torch.randn(8, 3, 16, 16), torch.randint(4, (8,))) for _ in range(3)]
    train.train_one_epoch(state, batches[:1], total_batches=4)  # step 0: the EMA copies
    ema = dict(state.ema.module.named_parameters())
    first = {k: v.detach().clone() for k, v in state.raw_model.named_parameters()}
    assert all(torch.equal(ema[k], v) for k, v in first.items())
    train.train_one_epoch(state, batches[1:2], total_batches=4)  # step 1: no update
    assert all(torch.equal(ema[k], v) for k, v in first.items())
    train.train_one_epoch(state, batches[2:], total_batches=4)  # step 2: averaged
    now = dict(state.raw_model.named_parameters())
    for key, value in first.items():
        expected = decay * value + (1 - decay) * now[key].detach()
        assert torch.allclose(ema[key], expected, atol=1e-7), key
        assert not torch.equal(ema[key], now[key]), key
    assert int(state.ema.n_averaged) == 2


def test_the_ema_is_evaluated_when_asked(
    train: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--synthetic-size", "64", "-b", "16", "-j", "0", "--output-dir", str(tmp_path)]
    ema = ["--model-ema", "--model-ema-steps", "1", "--model-ema-decay", "0.99"]
    assert train.main([*common, *ema, "--epochs", "2", "--lr", "0.5"]) == 0
    ckpt = torch.load(tmp_path / "last.pt", map_location="cpu", weights_only=True)
    averaged = {k.removeprefix("module."): v for k, v in ckpt["model_ema"].items()}
    assert not torch.equal(averaged["fc.weight"], ckpt["model"]["fc.weight"])
    capsys.readouterr()
    resume = ["--resume", str(tmp_path / "last.pt"), "--test-only"]
    assert train.main([*common, *resume]) == 0
    plain = capsys.readouterr().out.splitlines()[-1]
    assert train.main([*common, *ema, *resume]) == 0
    averaged_line = capsys.readouterr().out.splitlines()[-1]
    assert plain.startswith("Test: Acc@1 ") and averaged_line.startswith("Test: EMA Acc@1 ")

    # the printed figures are those of the EMA's weights on the validation set
    args = train.parse_args(common)
    spec = train.read_spec(Path(train.__file__).parent)
    state, _ = _state(train, [])
    del averaged["n_averaged"]
    state.raw_model.load_state_dict(averaged)
    loader, _ = train.make_loader(
        train.make_datasets(args, spec)[1], args, train.Dist(), train=False
    )
    loss = train.evaluate(state, loader, train.Dist())[0]
    assert averaged_line.endswith(f"loss {loss:.4f}") and not plain.endswith(f"loss {loss:.4f}")


def test_repeated_augmentation_sends_each_copy_to_another_replica(train: ModuleType) -> None:
    data = list(range(64))
    per_rank = []
    for rank in range(4):
        sampler = train.RepeatedAugmentationSampler(
            data, num_replicas=4, rank=rank, reps=4, shuffle=True, seed=0
        )
        sampler.set_epoch(3)
        per_rank.append(list(sampler))
    assert [len(indices) for indices in per_rank] == [16] * 4  # the usual epoch length
    counts = Counter(i for indices in per_rank for i in indices)
    assert len(counts) == 16 and set(counts.values()) == {4}  # 64 / 4 distinct, 4 times each
    for indices in per_rank:
        assert len(set(indices)) == 16  # each copy of an image on another replica
    # one process: the copies sit together in the batch, augmented independently
    single = train.RepeatedAugmentationSampler(data, num_replicas=1, rank=0, reps=4, seed=0)
    order = list(single)
    assert len(order) == 64
    assert all(len(set(order[i : i + 4])) == 1 for i in range(0, 64, 4))
    assert len(set(order)) == 16


def test_the_loader_takes_the_ra_sampler_and_keeps_the_epoch_length(train: ModuleType) -> None:
    args = train.parse_args(["--ra-sampler", "--ra-reps", "2", "-b", "8", "-j", "0"])
    data = list(range(40))
    loader, sampler = train.make_loader(data, args, train.Dist(), train=True)
    assert isinstance(sampler, train.RepeatedAugmentationSampler) and sampler.reps == 2
    batches = [b.tolist() for b in loader]
    assert len(batches) == 5 and all(b[0::2] == b[1::2] for b in batches)
    sampler.start = 16  # a mid-epoch resume skips what was done
    assert [b.tolist() for b in loader] == batches[2:]


def test_crop_sizes_are_what_the_model_sees(
    train: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = image_folder(tmp_path / "images", per_class=4, val_per_class=2)
    seen: dict[bool, set[tuple[int, ...]]] = {True: set(), False: set()}
    build = train.build_network

    def watched(*args: object, **kwargs: object) -> nn.Module:
        model = build(*args, **kwargs)
        model.register_forward_pre_hook(lambda m, x: seen[m.training].add(tuple(x[0].shape)))
        return model

    monkeypatch.setattr(train, "build_network", watched)
    argv = ["--data-path", str(root), "-b", "8", "-j", "0", "--epochs", "1"]
    sizes = ["--train-crop-size", "24", "--val-resize-size", "40", "--val-crop-size", "28"]
    augment = ["--auto-augment", "ra", "--random-erase", "0.5", "--recipe", "imagenet"]
    assert train.main([*argv, *sizes, *augment, "--output-dir", str(tmp_path / "run")]) == 0
    assert seen == {True: {(8, 3, 24, 24)}, False: {(8, 3, 28, 28)}}

    args = train.parse_args([*argv, *sizes, *augment])
    train_set, val_set = train.make_datasets(args, train.read_spec(Path(train.__file__).parent))
    names = [type(t).__name__ for t in train_set.transform.transforms]
    assert names[:4] == ["RandomResizedCrop", "RandomHorizontalFlip", "RandAugment", "PILToTensor"]
    assert names[-1] == "RandomErasing" and train_set.transform.transforms[-1].p == 0.5
    assert train_set.transform.transforms[0].scale == (0.08, 1.0)
    resize, crop = val_set.transform.transforms[:2]
    assert resize.size == [40] and crop.size == (28, 28)


def test_label_smoothing_is_in_the_loss(train: ModuleType) -> None:
    state, _ = _state(train, ["--label-smoothing", "0.1"])
    logits = torch.randn(6, 4)
    labels = torch.tensor([0, 1, 2, 3, 0, 1])
    logp = logits.log_softmax(1)
    nll = -logp[torch.arange(6), labels]
    expected = (0.9 * nll + 0.1 * -logp.mean(1)).mean()
    assert float(state.criterion(logits, labels)) == pytest.approx(float(expected), rel=1e-6)
    plain, _ = _state(train, [])
    assert float(plain.criterion(logits, labels)) == pytest.approx(float(nll.mean()), rel=1e-6)


def test_weight_decay_groups_follow_norm_and_bias_flags(train: ModuleType) -> None:
    model = train.build_network("none", Path(train.__file__).parent)
    norms = {
        id(p) for m in model.modules() if isinstance(m, nn.BatchNorm2d) for p in m.parameters()
    }
    biases = {id(p) for n, p in model.named_parameters() if n.endswith("bias")}
    args = train.parse_args(["--weight-decay", "0.00002", "--norm-weight-decay", "0.0"])
    args.lr = 0.1
    groups = {g["kind"]: g for g in train.make_optimizer(model, args).param_groups}
    assert {k: g["weight_decay"] for k, g in groups.items()} == {
        "other": 2e-5,
        "norm": 0.0,
        "bias": 0.0,
    }
    assert {id(p) for p in groups["norm"]["params"]} == norms - biases
    assert {id(p) for p in groups["bias"]["params"]} == biases
    assert all(p.ndim > 1 for p in groups["other"]["params"])
    count = sum(len(g["params"]) for g in groups.values())
    assert count == len(list(model.parameters()))
    args = train.parse_args(["--wd", "1e-4", "--norm-weight-decay", "1e-5"])
    args.bias_weight_decay, args.lr = 3e-5, 0.1
    groups = {g["kind"]: g for g in train.make_optimizer(model, args).param_groups}
    assert [groups[k]["weight_decay"] for k in ("other", "norm", "bias")] == [1e-4, 1e-5, 3e-5]


@pytest.mark.parametrize(
    "flags",
    [
        "--lr-scheduler cosineannealinglr --lr-warmup-epochs 5 --lr-warmup-method linear",
        "--lr-scheduler cosineannealinglr --lr-min 0.01",
        "--lr-scheduler steplr --lr-step-size 3 --lr-gamma 0.5 --lr-warmup-epochs 2",
        "--lr-scheduler exponentiallr --lr-gamma 0.9 --lr-warmup-epochs 3",
    ],
)
def test_the_schedule_is_torchvisions_at_every_epoch_start(train: ModuleType, flags: str) -> None:
    """torchvision steps its schedulers once per epoch; ours, stepped per iteration, agree
    at each epoch's start."""
    args = train.parse_args(["--epochs", "12", "--lr", "0.2", *flags.split()])
    param = nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=args.lr)
    main = {
        "steplr": lambda: torch.optim.lr_scheduler.StepLR(opt, args.lr_step_size, args.lr_gamma),
        "exponentiallr": lambda: torch.optim.lr_scheduler.ExponentialLR(opt, args.lr_gamma),
        "cosineannealinglr": lambda: torch.optim.lr_scheduler.CosineAnnealingLR(
            opt, T_max=int(args.epochs - args.lr_warmup_epochs), eta_min=args.lr_min
        ),
    }[args.lr_scheduler]()
    theirs = main
    if args.lr_warmup_epochs:
        warm_epochs = int(args.lr_warmup_epochs)
        if args.lr_warmup_method == "linear":
            warm = torch.optim.lr_scheduler.LinearLR(
                opt, start_factor=args.lr_warmup_decay, total_iters=warm_epochs
            )
        else:
            warm = torch.optim.lr_scheduler.ConstantLR(
                opt, factor=args.lr_warmup_decay, total_iters=warm_epochs
            )
        theirs = torch.optim.lr_scheduler.SequentialLR(
            opt, [warm, main], milestones=[int(args.lr_warmup_epochs)]
        )
    ours = train.make_scheduler(torch.optim.SGD([param], lr=args.lr), args, steps_per_epoch=7)
    for _ in range(args.epochs):
        assert ours.get_last_lr()[0] == pytest.approx(opt.param_groups[0]["lr"], abs=1e-12)
        opt.step()
        theirs.step()
        for _ in range(7):
            ours.optimizer.step()
            ours.step()


def test_constant_warmup_is_torchvisions_default(train: ModuleType) -> None:
    args = train.parse_args(["--lr-warmup-epochs", "2", "--epochs", "10"])
    assert args.lr_warmup_method == "constant"
    assert [train.lr_factor(args, t) for t in (0, 1.5)] == [0.01, 0.01]
    assert train.lr_factor(args, 2) == 1.0
    alias = train.parse_args(["--warmup-epochs", "2"])  # the older spelling: linear
    assert (alias.lr_warmup_epochs, alias.lr_warmup_method) == (2, "linear")


def test_clip_grad_norm_bounds_the_gradient(train: ModuleType) -> None:
    state, _ = _state(train, ["--clip-grad-norm", "0.001"])
    batch = (torch.randn(8, 3, 16, 16), torch.randint(4, (8,)))
    train.train_one_epoch(state, [batch], total_batches=1)
    grads = [p.grad for p in state.raw_model.parameters() if p.grad is not None]
    assert float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))) <= 1.0001e-3


def test_start_epoch_skips_ahead_in_the_schedule(train: ModuleType) -> None:
    state, args = _state(train, ["--lr-warmup-epochs", "1", "--lr-warmup-method", "linear"])
    train.start_at_epoch(state, 1, steps_per_epoch=4)
    assert (state.epoch, state.step) == (1, 4)
    assert state.optimizer.param_groups[0]["lr"] == pytest.approx(args.lr * 1.0)


# --- defaults by input size ------------------------------------------------------------


def test_small_inputs_get_the_cifar_recipe(train: ModuleType, tmp_path: Path) -> None:
    spec = train.Spec("small", 3, 32, 32, 10)
    args = train.parse_args(["--data-path", str(tmp_path)])
    recipe = train.configure(args, train.Dist(), spec)
    assert recipe.name == "cifar" and (args.lr, args.wd) == (0.1, 5e-4)
    line = train.describe(args, recipe)
    assert line.startswith("recipe: cifar-style, for a 32x32 input (at most 64 px a side): ")
    assert "pad-4 random crop 32x32 + flip" in line
    _datasets, v2 = train._torchvision("test")
    train_tf, val_tf = train.image_transforms(
        args, recipe, v2, train.IMAGENET_MEAN, train.IMAGENET_STD
    )
    crop = next(t for t in train_tf.transforms if type(t).__name__ == "RandomCrop")
    assert crop.size == (32, 32) and crop.padding == [4, 4, 4, 4]
    assert not any("Resized" in type(t).__name__ for t in train_tf.transforms)
    assert [t.size for t in val_tf.transforms[:2]] == [[32], (32, 32)]


def test_large_inputs_get_the_imagenet_recipe(train: ModuleType, tmp_path: Path) -> None:
    spec = train.Spec("large", 3, 224, 224, 1000)
    args = train.parse_args(["--data-path", str(tmp_path), "-b", "64"])
    recipe = train.configure(args, train.Dist(), spec)
    assert recipe.name == "imagenet" and (args.lr, args.wd) == (0.1 * 64 / 256, 1e-4)
    assert (recipe.train_size, recipe.val_resize, recipe.val_size) == ((224, 224), 256, (224, 224))
    assert train.describe(args, recipe).startswith("recipe: imagenet-style, for a 224x224 input")
    forced = train.parse_args(["--data-path", str(tmp_path), "--recipe", "imagenet"])
    small = train.Spec("small", 3, 32, 32, 10)
    assert train.configure(forced, train.Dist(), small).name == "imagenet"


def test_the_first_log_line_names_the_recipe(
    bundle16: Path, train: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--synthetic-size", "32", "-b", "16", "-j", "0", "--epochs", "1"]
    assert train.main([*argv, "--output-dir", str(tmp_path), "--cache-dataset"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("recipe: cifar-style, for a 16x16 input")
    assert lines[1].startswith("note: --cache-dataset does nothing here")


# --- spellings, switches, files ------------------------------------------------------------


def test_torchvisions_spellings_are_accepted(train: ModuleType) -> None:
    args = parse(
        train,
        "--data-path D -b 32 -j 4 --weight-decay 1e-4 --lr-scheduler StepLR --lr-step-size 30 "
        "--lr-gamma 0.1 --lr-warmup-epochs 0 --lr-warmup-method constant --lr-warmup-decay 0.01 "
        "--print-freq 10 --output-dir out --amp --use-deterministic-algorithms --opt SGD "
        "--test-only --device cpu --start-epoch 3 --sync-bn --clip-grad-norm 1 "
        "--norm-weight-decay 0 --bias-weight-decay 0 --label-smoothing 0.1 --mixup-alpha 0.2 "
        "--cutmix-alpha 1 --auto-augment imagenet --ra-magnitude 9 --augmix-severity 3 "
        "--random-erase 0.1 --model-ema --model-ema-steps 32 --model-ema-decay 0.99998 "
        "--train-crop-size 176 --val-resize-size 232 --val-crop-size 224 "
        "--interpolation bicubic --ra-sampler --ra-reps 4 --cache-dataset --model resnet50",
    )
    assert (args.data, args.data_path, args.batch_size, args.workers) == ("imagefolder", "D", 32, 4)
    assert (args.wd, args.lr_scheduler, args.opt, args.out) == (1e-4, "steplr", "sgd", "out")
    assert (args.deterministic, args.log_interval, args.amp) == (True, 10, "on")
    older = parse(
        train,
        "--data-dir D --wd 1e-4 --schedule step --lr-step 5 --out o --log-interval 3 "
        "--deterministic --nesterov --amp bf16",
    )
    assert (older.data_path, older.lr_scheduler, older.lr_step_size) == ("D", "steplr", 5)
    assert (older.opt, older.amp, older.log_interval, older.out) == ("sgd_nesterov", "bf16", 3, "o")


@pytest.mark.parametrize(
    ("argv", "amp"),
    [
        ([], "none"),  # off on a CPU unless asked
        (["--amp"], "bf16"),
        (["--amp", "--amp-dtype", "fp16"], "fp16"),
        (["--amp-dtype", "fp16"], "fp16"),
        (["--amp", "none"], "none"),
        (["--amp", "fp16"], "fp16"),
    ],
)
def test_amp_is_a_switch_with_its_own_type(train: ModuleType, argv: list[str], amp: str) -> None:
    assert train.resolve_amp(train.parse_args(argv), torch.device("cpu")) == amp


def test_a_checkpoint_with_the_old_scheduler_key_still_resumes(
    train: ModuleType, tmp_path: Path
) -> None:
    state, args = _state(train, [])
    ckpt = train.checkpoint(state, args, train.Dist())
    ckpt["scheduler"] = ckpt.pop("lr_scheduler")
    train.atomic_save(ckpt, tmp_path / "old.pt")
    loaded = train.load_checkpoint(tmp_path / "old.pt")
    assert "scheduler" not in loaded
    assert loaded["lr_scheduler"]["last_epoch"] == state.scheduler.last_epoch


def test_safetensors_is_read_by_the_library_first(
    train: ModuleType, bundle16: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import safetensors.torch

    calls = []
    library = safetensors.torch.load_file
    monkeypatch.setattr(safetensors.torch, "load_file", lambda p: calls.append(p) or library(p))
    path = bundle16 / "weights.safetensors"
    theirs = train.load_weights(path)
    assert calls == [str(path)]
    monkeypatch.setitem(sys.modules, "safetensors.torch", None)  # not installed
    ours = train.load_weights(path)
    assert len(calls) == 1 and ours.keys() == theirs.keys()
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)


def test_download_is_passed_to_cifar(
    train: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torchvision.datasets

    calls = []

    class FakeCifar:
        def __init__(self, root: str, train: bool, transform: object, download: bool) -> None:
            calls.append((train, download))
            if not download:
                raise RuntimeError("Dataset not found or corrupted.")

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", FakeCifar)
    spec = train.Spec("c", 3, 32, 32, 10)
    args = train.parse_args(["--data", "cifar10", "--data-path", str(tmp_path / "new")])
    with pytest.raises(train.UsageError, match="no such folder"):
        train.make_datasets(args, spec)
    args = train.parse_args(["--data", "cifar10", "--data-path", str(tmp_path)])
    with pytest.raises(train.UsageError, match=r"not found or corrupted\. \(--download"):
        train.make_datasets(args, spec)
    args = train.parse_args(
        ["--data", "cifar10", "--data-path", str(tmp_path / "new"), "--download"]
    )
    train.make_datasets(args, spec)
    assert calls[-2:] == [(True, True), (False, True)]


def test_an_exact_resume_holds_with_the_recipe_flags(train: ModuleType, tmp_path: Path) -> None:
    """EMA, repeated augmentation, MixUp/CutMix, random erasing: a run stopped mid-epoch and
    resumed ends bit-identical to one that never stopped."""
    common = [
        *("--synthetic-size", "48", "-b", "8", "-j", "0", "--epochs", "2", "--lr", "0.3"),
        *("--model-ema", "--model-ema-steps", "2", "--ra-sampler", "--ra-reps", "2"),
        *("--mixup-alpha", "0.2", "--cutmix-alpha", "1.0", "--random-erase", "0.25"),
        *("--lr-warmup-epochs", "1", "--lr-warmup-method", "linear"),
    ]
    assert train.main([*common, "--output-dir", str(tmp_path / "whole")]) == 0
    pieces = tmp_path / "pieces"
    assert train.main([*common, "--output-dir", str(pieces), "--max-steps", "4"]) == 0
    resume = ["--resume", str(pieces / "last.pt")]
    assert train.main([*common, "--output-dir", str(pieces), *resume]) == 0
    whole = torch.load(tmp_path / "whole" / "last.pt", weights_only=True)
    parts = torch.load(pieces / "last.pt", weights_only=True)
    for key in ("model", "model_ema", "optimizer", "lr_scheduler", "step", "rng"):
        assert_same_tensors(whole[key], parts[key], key)
    assert int(whole["model_ema"]["n_averaged"]) > 0
