"""The bundle's train.py, run as a user runs it: in a subprocess, from the bundle folder.

A tiny design (two basic stages on 16x16 inputs) keeps every run to a few seconds on
a CPU. Exactness claims (resume, distributed) are checked bit for bit.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import torch

from designer.core.design import Design, InputSpec, StageSpec, StemSpec
from designer.core.torch.bundle_writer import write_bundle
from tests.bundle_module import imported_train

ROOT = Path(__file__).resolve().parents[2]
TINY = Design(
    stages=(StageSpec(depth=1, width=8, stride=1), StageSpec(depth=1, width=16, stride=2)),
    name="tiny",
    input=InputSpec(3, 16, 16),
    num_classes=4,
    block="basic",
    stem=StemSpec("cifar", 8),
)
# 64 samples, batch 16: 4 steps per epoch
RECIPE = ["--synthetic-size", "64", "--batch-size", "16", "--workers", "0", "--lr", "0.2"]


def run_train(bundle: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "train.py", *args],
        cwd=bundle,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"train.py failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc


def load_ckpt(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def assert_same_tensors(a: object, b: object, where: str = "") -> None:
    """Bit-for-bit equality of nested checkpoint contents."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for key in a:
            assert_same_tensors(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same_tensors(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bundle")
    write_bundle(TINY, folder, seed=0)
    return folder


@pytest.fixture(scope="module")
def full_run(bundle: Path) -> Path:
    """Three uninterrupted epochs: the reference the other runs are held to."""
    out = bundle / "full"
    run_train(bundle, *RECIPE, "--epochs", "3", "--out", str(out))
    return out


@pytest.fixture(scope="module")
def train_module(bundle: Path) -> Iterator[ModuleType]:
    """The bundle's train.py imported in-process (it imports model.py from its folder)."""
    with imported_train(bundle, "bundle_train") as module:
        yield module


def test_training_lowers_the_loss(full_run: Path) -> None:
    rows = (full_run / "metrics.csv").read_text().splitlines()
    header, *epochs = (row.split(",") for row in rows)
    assert len(epochs) == 3
    loss = [float(row[header.index("train_loss")]) for row in epochs]
    # chance level for 4 classes is ln 4 = 1.386; the synthetic classes are learnable
    assert loss[-1] < loss[0] - 0.1, loss
    assert (full_run / "last.pt").is_file() and (full_run / "best.pt").is_file()


def test_resumed_runs_end_bit_identical(bundle: Path, full_run: Path) -> None:
    """Stopped mid-epoch, then at an epoch boundary, then run to the end."""
    out = bundle / "pieces"
    common = [*RECIPE, "--epochs", "3", "--out", str(out)]
    run_train(bundle, *common, "--max-steps", "3")  # inside epoch 1
    assert load_ckpt(out / "last.pt")["batch_in_epoch"] == 3
    run_train(bundle, *common, "--max-steps", "8", "--resume", str(out / "last.pt"))
    middle = load_ckpt(out / "last.pt")
    assert (middle["epoch"], middle["batch_in_epoch"], middle["step"]) == (2, 0, 8)
    run_train(bundle, *common, "--resume", str(out / "last.pt"))
    whole, pieces = load_ckpt(full_run / "last.pt"), load_ckpt(out / "last.pt")
    for key in ("model", "optimizer", "lr_scheduler", "epoch", "step", "best_acc", "rng"):
        assert_same_tensors(whole[key], pieces[key], key)


def test_corrupt_checkpoint_is_refused_and_the_good_one_kept(bundle: Path, full_run: Path) -> None:
    good = (full_run / "last.pt").read_bytes()
    broken = bundle / "broken.pt"
    broken.write_bytes(good[: len(good) // 2])
    proc = run_train(
        bundle,
        *RECIPE,
        "--epochs",
        "4",
        "--out",
        str(full_run),
        "--resume",
        str(broken),
        check=False,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "corrupt or truncated" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert (full_run / "last.pt").read_bytes() == good


def test_garbage_and_foreign_checkpoints_are_named(
    train_module: ModuleType, tmp_path: Path
) -> None:
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x00not a checkpoint" * 100)
    with pytest.raises(train_module.UsageError, match="corrupt or truncated"):
        train_module.load_checkpoint(garbage)
    foreign = tmp_path / "weights.pt"
    torch.save({"conv1.weight": torch.zeros(1)}, foreign)
    with pytest.raises(train_module.UsageError, match="not a checkpoint"):
        train_module.load_checkpoint(foreign)
    with pytest.raises(train_module.UsageError, match="no such file"):
        train_module.load_checkpoint(tmp_path / "missing.pt")


def test_two_processes_end_with_identical_weights(bundle: Path, train_module: ModuleType) -> None:
    out = bundle / "ddp"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            "train.py",
            *RECIPE,
            "--epochs",
            "2",
            "--out",
            str(out),
            "--print-checksum",
        ],
        cwd=bundle,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    # the two ranks print at once: their lines may interleave, so match the pattern anywhere
    sums = dict(re.findall(r"(rank \d) checksum ([0-9a-f]{64})", proc.stdout))
    assert set(sums) == {"rank 0", "rank 1"}
    assert sums["rank 0"] == sums["rank 1"]
    # only rank 0 logs: one summary line per epoch
    assert proc.stdout.count(" done: train loss ") == 2
    # and the weights did move away from the bundle's initial ones
    assert sums["rank 0"] != train_module.checksum(train_module.build_network("auto", bundle))


def test_benchmark_prints_train_and_inference_rates(bundle: Path) -> None:
    proc = run_train(
        bundle,
        "--benchmark",
        "--batch-size",
        "8",
        "--benchmark-steps",
        "3",
        "--benchmark-warmup",
        "1",
        "--channels-last",
    )
    lines = proc.stdout.splitlines()
    assert any(line.startswith("train: ") and "images/s" in line for line in lines), lines
    assert any(line.startswith("inference: ") and "images/s" in line for line in lines), lines


def test_safetensors_reader_agrees_with_the_library(train_module: ModuleType) -> None:
    from safetensors.torch import load_file

    path = Path(train_module.__file__).with_name("weights.safetensors")
    ours = train_module._read_safetensors(path.read_bytes())
    theirs = load_file(str(path))
    assert ours.keys() == theirs.keys()
    for key, value in theirs.items():
        assert ours[key].dtype == value.dtype and torch.equal(ours[key], value), key


def test_bad_arguments_are_one_line(
    train_module: ModuleType, bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        train_module.parse_args(["--data", "imagefolder"])
    assert exit_.value.code == 2 and "needs --data-path" in capsys.readouterr().err
    args = train_module.parse_args(["--data", "cifar10", "--data-dir", str(bundle / "nope")])
    spec = train_module.read_spec(bundle)
    with pytest.raises(train_module.UsageError, match="nope: no such folder"):
        train_module.make_datasets(args, spec)


def test_imagefolder_data_has_the_design_shape(
    train_module: ModuleType, bundle: Path, tmp_path: Path
) -> None:
    """The recipe a 16x16 input gets (CIFAR-style: resize, pad-and-crop, flip; ImageNet's
    mean and std for an ImageFolder), on a tiny image tree."""
    from PIL import Image

    for part in ("train", "val"):
        for label, colour in (("cat", (250, 10, 10)), ("dog", (10, 10, 250))):
            folder = tmp_path / part / label
            folder.mkdir(parents=True)
            Image.new("RGB", (40, 30), colour).save(folder / "0.png")
    args = train_module.parse_args(["--data", "imagefolder", "--data-dir", str(tmp_path)])
    train_set, val_set = train_module.make_datasets(args, train_module.read_spec(bundle))
    for dataset in (train_set, val_set):
        image, label = dataset[1]
        assert tuple(image.shape) == (3, 16, 16) and label == 1
        # normalised with ImageNet's mean and std: a blue image is far above zero in blue only
        assert image[2].mean() > 1.5 and image[0].mean() < -1.5


def test_train_script_is_ruff_clean(bundle: Path) -> None:
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent))
    if ruff is None:
        pytest.skip("ruff is not installed")
    config = str(ROOT / "pyproject.toml")
    script = str(bundle / "train.py")
    for cmd in (["check"], ["format", "--check"]):
        proc = subprocess.run(
            [ruff, *cmd, "--config", config, script], capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr


# --- damaged inputs are one line, interrupted runs leave nothing behind -----------


def _refused(proc: subprocess.CompletedProcess[str], says: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def _safetensors(header: object) -> bytes:
    text = json.dumps(header).encode()
    return len(text).to_bytes(8, "little") + text + b"\0" * 64


@pytest.mark.parametrize(
    "name, content",
    [
        ("evil.pt", b"PK\x03\x04 not really a zip" * 10),
        (
            "shape.safetensors",
            _safetensors({"w": {"dtype": "F32", "shape": "4", "data_offsets": [0, 16]}}),
        ),
        ("list.safetensors", _safetensors([1, 2, 3])),
        ("short.safetensors", b"\xff" * 12),
    ],
)
def test_damaged_initial_weights_are_one_line(bundle: Path, name: str, content: bytes) -> None:
    (bundle / name).write_bytes(content)
    proc = run_train(bundle, *RECIPE, "--epochs", "1", "--init", name, "--out", "x", check=False)
    _refused(proc, f"--init {name}")
    assert not (bundle / "x").exists()


def test_initial_weights_that_are_not_a_state_dict_are_named(bundle: Path) -> None:
    torch.save([torch.zeros(1)], bundle / "list.pt")
    proc = run_train(bundle, *RECIPE, "--init", "list.pt", "--out", "y", check=False)
    _refused(proc, "holds no state dict")


def test_resuming_another_networks_checkpoint_names_the_first_difference(
    bundle: Path, full_run: Path, tmp_path: Path
) -> None:
    other = Design(**{**TINY.__dict__, "stem": StemSpec("cifar", 16), "name": "other"})
    folder = tmp_path / "other"
    write_bundle(other, folder, seed=0)
    proc = run_train(
        folder, *RECIPE, "--epochs", "1", "--resume", str(full_run / "last.pt"), check=False
    )
    _refused(proc, "was written for a different network: conv1.weight is [16, 3, 3, 3] here")
    assert "[8, 3, 3, 3] in the checkpoint" in proc.stderr


def test_a_checkpoint_missing_entries_is_named(bundle: Path, full_run: Path) -> None:
    fmt = load_ckpt(full_run / "last.pt")["format"]
    torch.save({"format": fmt}, bundle / "hollow.pt")
    proc = run_train(bundle, *RECIPE, "--resume", "hollow.pt", check=False)
    _refused(proc, "the checkpoint lacks model, optimizer")


def test_a_resume_cleans_up_after_a_killed_run(bundle: Path, full_run: Path) -> None:
    """A dead run's temp file goes; rows logged after its last checkpoint are not doubled."""
    out = bundle / "killed"
    shutil.copytree(full_run, out)
    ckpt = load_ckpt(out / "last.pt")
    assert ckpt["epoch"] == 3
    stale = out / ".best.pt.4194999.tmp"  # above Linux's pid_max: never a live process
    stale.write_bytes(b"\0" * 1024)
    foreign = out / ".notes.txt.4194999.tmp"
    foreign.write_text("not ours")
    rows = (out / "metrics.csv").read_text().splitlines()
    (out / "metrics.csv").write_text("\n".join([*rows, rows[-1].replace("3,", "4,", 1)]) + "\n")
    run_train(bundle, *RECIPE, "--epochs", "4", "--out", str(out), "--resume", str(out / "last.pt"))
    assert not stale.exists() and foreign.exists()
    epochs = [row.split(",")[0] for row in (out / "metrics.csv").read_text().splitlines()[1:]]
    assert epochs == ["1", "2", "3", "4"]
