"""The README's examples run as they are written: its Python API block, every command of
its training bundle's block, and every ``designer.`` name it mentions.

Each runs in a real process. The training block's placeholders become real things: DIR
a bundle of the CIFAR ResNet-20, /data/imagenet a generated 10-class ImageFolder (its
classes are the design's), /data/pets a 3-class one (``--num-classes 37`` becomes 3),
/data/cifar an empty folder. Sizes are cut to fit a 2-core machine: 90 and 30 epochs become 1,
8 processes 2 for 2 epochs (not the recipe's default 90), the benchmark's batch 32 and steps 3;
optional ``[...]`` flags are left out.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from designer.core.presets import load_preset
from designer.core.torch.bundle_writer import write_bundle
from tests.image_folder import make_image_folder

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    """The text under ``## title``, up to the next heading of that level."""
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end > 0 else None]


def code_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def run(args: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run a README command in a session of its own: past ``timeout`` its whole process
    group is killed (a ``bash -c`` line's torchrun workers too, not only the shell)."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    env = dict(os.environ, PATH=path, PIP_DISABLE_PIP_VERSION_CHECK="1")
    with subprocess.Popen(
        args,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        env=env,
        start_new_session=True,
    ) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_tree(proc.pid)
            proc.communicate(timeout=30)
            raise
        finally:
            if proc.poll() is None:
                _kill_tree(proc.pid)
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


def _kill_tree(pid: int) -> None:
    """Kill ``pid``'s process group and every process descended from it: torchrun starts
    its workers in sessions of their own, which the group alone does not reach."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # gone meanwhile
        parents[int(stat.parent.name)] = int(fields[1])
    tree, grew = {pid}, True
    while grew:
        found = {child for child, parent in parents.items() if parent in tree}
        grew = not found <= tree
        tree |= found
    for member in tree - {pid}:
        with contextlib.suppress(ProcessLookupError):
            os.kill(member, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def test_the_python_api_block_runs(tmp_path):
    (block,) = code_blocks(section("Python API"), "python")
    proc = run([sys.executable, "-c", block], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert re.search(r"^[\d,]+ parameters, [\d,]+ MACs, output \(1000,\)$", proc.stdout, re.M)
    assert (tmp_path / "wide.resnet.json").is_file() and (tmp_path / "model.py").is_file()
    model = run([sys.executable, "model.py"], tmp_path)  # the exported file's self-check
    assert model.returncode == 0, model.stderr[-2000:]


def test_every_designer_name_in_the_readme_imports():
    names = sorted(set(re.findall(r"`(designer(?:\.\w+)+)", README)))
    assert "designer.core.torch.bundle_writer.write_bundle" in names
    for name in names:
        parts = name.split(".")
        for cut in range(len(parts), 0, -1):
            try:
                found: object = importlib.import_module(".".join(parts[:cut]))
                break
            except ImportError:
                continue
        for attribute in parts[cut:]:
            assert hasattr(found, attribute), f"README names {name}: no {attribute}"
            found = getattr(found, attribute)


# What a line of the block is changed into, in order; each change is named in the docstring.
CUTS = (
    ("--epochs 90", "--epochs 1"),
    ("--epochs 30", "--epochs 1"),
    ("--nproc_per_node=8 train.py", "--nproc_per_node=2 train.py --epochs 2"),
    ("--num-classes 37", "--num-classes 3"),
    ("--batch-size 256", "--batch-size 32 --benchmark-steps 3 --benchmark-warmup 1"),
)


@pytest.fixture(scope="module")
def places(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("readme")
    bundle = root / "bundle"
    write_bundle(load_preset("resnet20_cifar"), bundle, seed=0)
    (root / "cifar").mkdir()
    return {
        "DIR": bundle,
        "/data/imagenet": make_image_folder(root / "imagenet", classes=10, train=13, val=2),
        "/data/pets": make_image_folder(root / "pets", classes=3, train=22, val=2),
        "/data/cifar": root / "cifar",
    }


def training_commands() -> list[str]:
    (block,) = code_blocks(section("Training bundle"), "bash")
    lines = [line.split("  #")[0].strip() for line in block.strip().splitlines()]
    assert lines[0] == "cd DIR"
    return lines[1:]


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(training_commands())))
def test_each_command_of_the_training_block_runs(index, places):
    """In order, in one bundle folder: the resume and test-only lines read what the lines
    before them wrote (the module's tests share the folder)."""
    line = training_commands()[index]
    for placeholder, path in places.items():
        line = line.replace(placeholder, shlex.quote(str(path)))
    for before, after in CUTS:
        line = line.replace(before, after)
    line = re.sub(r" \[[^]]*\]", "", line)
    proc = run(["bash", "-c", line], places["DIR"], timeout=600)
    said = proc.stdout[-2000:] + proc.stderr[-2000:]
    if "--data cifar10" in line and proc.returncode == 2:  # no network here: one clean line
        assert proc.stderr.count("\n") == 1 and "could not download CIFAR10" in proc.stderr, said
        return
    assert proc.returncode == 0, f"{line}\n{said}"
    assert "Traceback" not in proc.stderr, said
    if "--test-only" in line:
        assert "Acc@1" in proc.stdout, said
    elif "--benchmark" in line:
        assert "img/s" in proc.stdout or "images/s" in proc.stdout, said
    elif "train.py" in line and "--resume" not in line:
        assert " done: train loss " in proc.stdout or "stopped at step" in proc.stdout, said
