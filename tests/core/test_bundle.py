"""The bundle writer and `bundle` subcommand: the files, the seed, the refusal to overwrite."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from html import escape
from pathlib import Path

import pytest
import torch

from designer.cli import main
from designer.core.io import load, loads
from designer.core.presets import load_preset
from designer.core.torch.build import build
from designer.core.torch.bundle_writer import BundleCancelled, BundleError, write_bundle

ROOT = Path(__file__).resolve().parents[2]
FILES = {
    "model.py",
    "design.resnet.json",
    "weights.safetensors",
    "train.py",
    "README.md",
    "bundle.json",
    "requirements.txt",
}


@pytest.fixture(scope="module")
def resnet20(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("resnet20")
    steps: list[tuple[float, str]] = []
    write_bundle(load_preset("resnet20_cifar"), out, seed=7, progress=lambda *a: steps.append(a))
    fractions = [fraction for fraction, _ in steps]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0 and fractions == sorted(fractions)
    return out


def test_bundle_holds_every_file(resnet20: Path) -> None:
    assert {p.name for p in resnet20.iterdir()} == FILES
    assert load(resnet20 / "design.resnet.json") == load_preset("resnet20_cifar")
    info = json.loads((resnet20 / "bundle.json").read_text())
    assert info["seed"] == 7 and info["weights"] == "weights.safetensors"
    assert set(info["files"]) == FILES
    readme = (resnet20 / "README.md").read_text()
    for words in ("--resume", "torchrun --nproc_per_node", "weights_only=True", "seed 7"):
        assert words in readme
    assert (resnet20 / "train.py").read_bytes() == (
        ROOT / "designer/core/bundle/train_script.py"
    ).read_bytes()
    assert oct((resnet20 / "train.py").stat().st_mode & 0o777) == oct(0o644)


def test_requirements_name_what_train_py_imports(resnet20: Path) -> None:
    lines = (resnet20 / "requirements.txt").read_text().splitlines()
    wanted = [line for line in lines if line and not line.startswith("#")]
    assert wanted == ["torch>=2.3", "torchvision>=0.18", "safetensors>=0.4"]
    assert "pip install -r requirements.txt" in (resnet20 / "README.md").read_text()


def test_weights_are_the_seeded_initialisation(resnet20: Path) -> None:
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(str(resnet20 / "weights.safetensors"), "pt") as handle:
        assert handle.metadata()["seed"] == "7"
        assert load_preset("resnet20_cifar") == loads(handle.metadata()["design"])
    saved = load_file(str(resnet20 / "weights.safetensors"))
    torch.manual_seed(7)
    expected = build(load_preset("resnet20_cifar")).state_dict()
    torch.manual_seed(8)
    other = build(load_preset("resnet20_cifar")).state_dict()
    assert saved.keys() == expected.keys()
    assert all(torch.equal(saved[k], expected[k]) for k in expected)
    assert not torch.equal(saved["conv1.weight"], other["conv1.weight"])


def test_model_py_loads_the_weights_standalone(resnet20: Path) -> None:
    """In a fresh interpreter, from the bundle folder: model.py plus weights, strict."""
    code = (
        "import torch, train; from model import build_model; m = build_model(); "
        "m.load_state_dict(train.load_weights(train.Path('weights.safetensors'))); m.eval(); "
        "print(tuple(m(torch.zeros(2, 3, 32, 32)).shape))"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=resnet20, capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "(2, 10)"


def test_refuses_a_non_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(BundleError, match="not empty; use --force"):
        write_bundle(load_preset("resnet20_cifar"), tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_cancel_leaves_nothing(tmp_path: Path) -> None:
    """A cancelled, failed or refused bundle leaves no files, not even those written before
    the cancel: a half-written bundle would look like a whole one."""
    calls = iter([False, False, True])
    with pytest.raises(BundleCancelled):
        write_bundle(load_preset("resnet20_cifar"), tmp_path, cancel=lambda: next(calls))
    assert list(tmp_path.iterdir()) == []
    out = tmp_path / "new"
    with pytest.raises(BundleCancelled):
        write_bundle(load_preset("resnet20_cifar"), out, cancel=lambda: True)
    assert list(tmp_path.iterdir()) == []


def test_cli_writes_refuses_then_forces(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "b"
    assert main(["bundle", "resnet20_cifar", "-o", str(out), "--seed", "3"]) == 0
    assert {p.name for p in out.iterdir()} == FILES
    capsys.readouterr()
    before = (out / "weights.safetensors").read_bytes()
    assert main(["bundle", "resnet20_cifar", "-o", str(out), "--seed", "4"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--force" in err
    assert (out / "weights.safetensors").read_bytes() == before
    assert main(["bundle", "resnet20_cifar", "-o", str(out), "--seed", "4", "--force"]) == 0
    assert (out / "weights.safetensors").read_bytes() != before
    assert json.loads((out / "bundle.json").read_text())["seed"] == 4


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["bundle", "resnet5", "-o", "x"], "did you mean 'resnet50'"),
        (["bundle", "resnet18"], "-o/--out"),
    ],
)
def test_cli_bad_input_is_one_line(
    argv: list[str], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err


def test_the_readme_shows_a_hostile_name_as_plain_text(tmp_path: Path) -> None:
    """A name is never markup, HTML or a terminal escape in the README."""
    name = '<h1 style="color:red">Big</h1> *bold* [link](http://x) \x1b[2J'
    write_bundle(load_preset("resnet20_cifar").replace(name=name), tmp_path / "b")
    first = (tmp_path / "b" / "README.md").read_text(encoding="utf-8").splitlines()[0]
    assert "\x1b" not in first and "*bold*" not in first
    assert re.search(r"(?<!\\)[<*\[\]]", first[2:]) is None  # every markup character escaped
    assert first.startswith(r"# \<h1 style=") and r"\[link\](http://x)" in first


def bundle_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m designer.cli bundle ARGS`` in a child process, with real UTF-8 pipes."""
    return subprocess.run(
        [sys.executable, "-m", "designer.cli", "bundle", *args],
        capture_output=True,
        encoding="utf-8",
        timeout=300,
        cwd=ROOT,
        check=False,
    )


def test_the_readme_title_is_the_name_as_written(tmp_path: Path) -> None:
    """A hyphen is no markup: the title must not read "ResNet\\-18" in the file."""
    done = bundle_cli("resnet18", "-o", str(tmp_path / "b"))
    assert done.returncode == 0, done.stderr
    lines = (tmp_path / "b" / "README.md").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "# ResNet-18: a training bundle"


HOSTILE = "Net-1 *bold* __init__ `code` <script>alert(1)</script>\nR&D &amp; [x](y) a_b \x1b[2J"


def test_a_hostile_name_is_one_literal_heading_through_the_cli(tmp_path: Path) -> None:
    """Markup, HTML, a newline and a terminal escape in the name: one heading line that
    reads as the name, with only what Markdown would interpret escaped."""
    from designer.core.io import save

    save(load_preset("resnet20_cifar").replace(name=HOSTILE), tmp_path / "d.resnet.json")
    done = bundle_cli(str(tmp_path / "d.resnet.json"), "-o", str(tmp_path / "b"))
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "b" / "README.md").read_text(encoding="utf-8")
    assert "\x1b" not in text
    first, second = text.splitlines()[:2]
    assert first == (
        r"# Net-1 \*bold\* \_\_init\_\_ \`code\` \<script>alert(1)\</script> R&D \&amp;"
        r" \[x\](y) a_b \[2J: a training bundle"
    )
    assert second == ""
    markdown_it = pytest.importorskip("markdown_it")  # a CommonMark reader, as GitHub's
    html = markdown_it.MarkdownIt("commonmark").enable("strikethrough").render(first)
    shown = "Net-1 *bold* __init__ `code` <script>alert(1)</script> R&D &amp; [x](y) a_b [2J"
    assert html == f"<h1>{escape(shown, quote=False)}: a training bundle</h1>\n"
