"""A bundle's train.py on data whose class count is not the design's, run from a shell.

The CIFAR ResNet-20 (10 classes) meets a generated 2-class ImageFolder: train.py refuses in
one line, naming both counts and both fixes, with the words the app's Train tab shows
before it starts; ``--num-classes 2`` trains a new classifier and keeps every other
weight. Each run is ``python train.py ...`` typed into bash, with this venv's python first
on PATH, as a user who activated it would.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from designer.core import runs
from designer.core.presets import load_preset
from designer.core.torch.bundle_writer import write_bundle
from tests.image_folder import make_image_folder


@pytest.fixture(scope="module")
def cifar():
    return load_preset("resnet20_cifar")


@pytest.fixture(scope="module")
def bundle(cifar, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "resnet20"
    write_bundle(cifar, out, seed=0)
    return out


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_image_folder(tmp_path_factory.mktemp("pets") / "data", classes=2, train=8)


def shell(folder: Path, line: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``line`` run by bash in ``folder``, with this interpreter's folder first on PATH."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    return subprocess.run(
        ["bash", "-c", f"cd {shlex.quote(str(folder))} && {line}"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        timeout=timeout,
    )


def test_the_venvs_python_reads_images_with_torchvision(bundle):
    proc = shell(bundle, "python -c 'import torch, torchvision; print(torchvision.__version__)'")
    assert proc.returncode == 0 and proc.stdout.strip(), proc.stderr


def test_a_10_class_bundle_refuses_2_class_data_in_the_apps_words(bundle, data, cifar):
    proc = shell(bundle, f"python train.py --data-path {shlex.quote(str(data))} --epochs 1 -b 8")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    expected = (
        f"{data / 'train'} has 2 classes, the design 10: add --num-classes 2 "
        "(a new classifier, the other weights kept) or use a design with 2 classes"
    )
    assert lines[0] == f"error: {expected}"
    settings = runs.RunSettings(data="imagefolder", data_path=str(data), device="cpu")
    with pytest.raises(runs.ClassMismatch) as refused:
        runs.check_data(settings, cifar)
    assert str(refused.value) == expected and refused.value.found == 2
    assert not (bundle / "run").exists()  # refused before anything was written


def test_num_classes_trains_a_new_classifier_and_keeps_every_other_weight(bundle, data, tmp_path):
    """lr 0 moves no weight: after an epoch every parameter but fc's is the bundle's own."""
    out = tmp_path / "run"
    where = f"--data-path {shlex.quote(str(data))} --output-dir {shlex.quote(str(out))}"
    proc = shell(bundle, f"python train.py {where} --epochs 1 -b 8 --lr 0 --num-classes 2")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "epoch 1/1 done" in proc.stdout
    from safetensors.torch import load_file

    initial = load_file(bundle / "weights.safetensors")
    trained = torch.load(out / "last.pt", map_location="cpu", weights_only=True)["model"]
    assert trained["fc.weight"].shape == (2, 64) and trained["fc.bias"].shape == (2,)
    assert initial["fc.weight"].shape == (10, 64)
    kept = [k for k in initial if not k.startswith("fc.") and "running" not in k]
    kept = [k for k in kept if "num_batches" not in k]
    assert len(kept) > 50 and all(torch.equal(initial[k], trained[k]) for k in kept)

    more = f"{where} --epochs 2 -b 8 --lr 0 --resume {out}/last.pt"
    resumed = shell(bundle, f"python train.py {more} --num-classes 3")
    assert resumed.returncode == 2 and resumed.stderr.strip() == (
        f"error: --resume {out}/last.pt trained a 2-class classifier, not 3: "
        "leave out --num-classes to continue it"
    )
    resumed = shell(bundle, f"python train.py {more}")  # the count comes from the checkpoint
    assert resumed.returncode == 0 and "epoch 2/2 done" in resumed.stdout, resumed.stderr
    assert "note: --num-classes 2, as the checkpoint was trained" in resumed.stdout


def test_num_classes_other_than_the_datas_is_refused(bundle, data):
    proc = shell(bundle, f"python train.py --data-path {shlex.quote(str(data))} --num-classes 3")
    assert proc.returncode == 2 and proc.stderr.strip() == (
        f"error: --num-classes 3: {data / 'train'} has 2 classes; use --num-classes 2"
    )
    bad = shell(bundle, "python train.py --num-classes 0")
    assert bad.returncode == 2 and "--num-classes must be at least 1" in bad.stderr
    huge = shell(bundle, f"python train.py --num-classes 1{'0' * 400}")
    assert huge.returncode == 2 and huge.stderr.strip().endswith(
        "error: --num-classes must be at most 1,000,000,000"
    )


def test_a_classifier_too_large_for_memory_is_one_line(bundle, tmp_path):
    """10^9 classes pass the bound but need 256 GB of fc weights: refused, no C++ frames."""
    proc = shell(bundle, f"python train.py --num-classes 1000000000 --output-dir {tmp_path}")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert proc.stderr.strip() == (
        "error: --num-classes 1000000000: its 64 x 1,000,000,000 classifier does not fit in "
        "memory; use fewer classes"
    )


def test_synthetic_data_take_the_num_classes_given(bundle, tmp_path):
    out = tmp_path / "run"
    flags = f"--num-classes 3 --synthetic-size 16 -b 8 --epochs 1 --output-dir {out}"
    proc = shell(bundle, f"python train.py {flags}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    trained = torch.load(out / "last.pt", map_location="cpu", weights_only=True)["model"]
    assert trained["fc.weight"].shape == (3, 64)


def test_the_app_takes_num_classes_from_more_flags(tmp_path, data, cifar):
    """--num-classes among the tab's flags is the other fix: the data check then passes."""
    settings = runs.RunSettings(
        data="imagefolder", data_path=str(data), device="cpu", flags="--num-classes=2"
    )
    runs.check_data(settings, cifar)
    wrong = runs.RunSettings(
        data="imagefolder", data_path=str(data), device="cpu", flags="--num-classes 3"
    )
    with pytest.raises(runs.RunError, match=r"^--num-classes 3: .* has 2 classes; use"):
        runs.check_data(wrong, cifar)
    for value in ("two", "0", f"1{'0' * 400}"):
        with pytest.raises(runs.RunError, match="--num-classes needs a class count"):
            runs.RunSettings(flags=f"--num-classes {value}")
