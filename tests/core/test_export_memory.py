"""Exports stream their weights, and work that cannot fit is refused before it starts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from designer.core.design import DesignError, HeadSpec
from designer.core.io import save
from designer.core.presets import load_preset
from designer.core.torch import build as build_module
from designer.core.torch import memory
from designer.core.torch.export import export_weights, write_safetensors

ROOT = Path(__file__).resolve().parents[2]


def test_streamed_safetensors_read_back_exactly_with_the_library(tmp_path: Path) -> None:
    st = pytest.importorskip("safetensors.torch")
    tensors = {
        "a": torch.randn(3, 4),
        "half": torch.randn(5).to(torch.bfloat16),
        "count": torch.tensor(7),  # 0-d, as BatchNorm's num_batches_tracked
        "empty": torch.empty(0, 2),
        "flag": torch.tensor([True, False]),
        "strided": torch.randn(4, 6)[:, ::2],
    }
    path = tmp_path / "t.safetensors"
    with open(path, "wb") as handle:
        write_safetensors(handle, tensors, {"seed": "3"})
    loaded = st.load_file(str(path))
    assert loaded.keys() == tensors.keys()
    for key, tensor in tensors.items():
        assert loaded[key].dtype == tensor.dtype and torch.equal(loaded[key], tensor), key
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        assert f.metadata() == {"seed": "3"}


def test_exported_weights_equal_the_built_network(tmp_path: Path) -> None:
    st = pytest.importorskip("safetensors.torch")
    design = load_preset("resnet20_cifar")
    export_weights(design, tmp_path / "w.safetensors", "safetensors", seed=4)
    export_weights(design, tmp_path / "w.pt", "pt", seed=4)
    torch.manual_seed(4)
    expected = build_module.build(design).state_dict()
    for loaded in (
        st.load_file(str(tmp_path / "w.safetensors")),
        torch.load(tmp_path / "w.pt", weights_only=True),
    ):
        assert list(loaded) == list(expected)
        assert all(torch.equal(loaded[k], expected[k]) for k in expected)


def test_a_build_that_cannot_fit_is_refused_with_the_figures(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(memory, "available_bytes", lambda: 50 * 1024**2)
    with pytest.raises(DesignError, match=r"needs about 0\.\d GiB of memory but only 0\.0 GiB"):
        build_module.build(load_preset("resnet50"))


def test_the_address_space_limit_counts(tmp_path: Path) -> None:
    """Under `ulimit -v`, a design bigger than the room left is refused in one line."""
    code = f"""
import resource, sys
sys.path.insert(0, {str(ROOT)!r})
from designer.core.torch import memory
from designer.core.torch.build import build
from designer.core.presets import load_preset
from designer.core.design import DesignError, StageSpec
room = memory._address_space() + 512 * 1024**2
resource.setrlimit(resource.RLIMIT_AS, (room, resource.RLIM_INFINITY))
assert memory.available_bytes() <= 512 * 1024**2
big = load_preset("resnet50")
big = big.replace(stages=tuple(StageSpec(s.depth, s.width * 2, s.stride) for s in big.stages))
try:
    build(big)
except DesignError as exc:
    print(exc)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "building the network needs about" in out.stdout and "available" in out.stdout


def test_a_failed_export_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    design = load_preset("resnet20_cifar")

    def broken(handle, tensors, metadata):
        handle.write(b"half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("designer.core.torch.export.write_safetensors", broken)
    pytest.importorskip("safetensors")
    with pytest.raises(OSError, match="No space"):
        export_weights(design, tmp_path / "w.safetensors", "safetensors")
    assert list(tmp_path.iterdir()) == []


def _over_the_build_limit(tmp_path: Path, change: str) -> Path:
    """resnet18 made too big to build by one field."""
    design = load_preset("resnet18")
    design = {
        "num_classes": design.replace(num_classes=10**9),  # 1.9 TiB of classifier rows
        "head.hidden": design.replace(head=HeadSpec(hidden=(10**7,))),  # 56 GiB of hidden
        "stages[3].width": design.with_stage(3, width=100_000),
    }[change]
    path = tmp_path / "big.resnet.json"
    save(design, path)
    return path


@pytest.mark.parametrize(
    ("field", "fix"),
    [
        ("num_classes", "lower num_classes"),
        ("head.hidden", "narrow head.hidden (or remove the hidden layers)"),
        ("stages[3].width", "shrink widths or depths"),
    ],
)
def test_weights_over_the_build_limit_blame_the_field_that_makes_them(
    tmp_path: Path, field: str, fix: str
) -> None:
    """The refusal names the field to change: the classifier's, when that is the size."""
    design = _over_the_build_limit(tmp_path, field)
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "main.py"),
            "export",
            str(design),
            "-o",
            str(tmp_path / "w.pt"),
        ],
        capture_output=True,
        encoding="utf-8",
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1
    assert done.stderr.startswith(f"error: {field}: the weights would take ")
    assert done.stderr.rstrip("\n").endswith(f"(over 16 GiB): {fix} to build it")
    assert not (tmp_path / "w.pt").exists()
