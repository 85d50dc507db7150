"""Weights, torch.export programs and ONNX: loadable by the tools they are for, equal to build()."""

from __future__ import annotations

import json
import sys

import pytest
import torch

from designer.cli import main
from designer.core.io import loads
from designer.core.presets import load_preset
from designer.core.torch import export as export_mod
from designer.core.torch.build import build
from designer.core.torch.export import (
    ExportCancelled,
    MissingExtra,
    export_onnx,
    export_program,
    export_weights,
)

SEED = 5


def tiny():
    """A two-stage CIFAR network: exports in a second or two."""
    design = load_preset("resnet20_cifar")
    return design.replace(name="tiny", stages=design.stages[:2])


def reference(design, seed: int = SEED) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build(design).eval()


def test_pt_weights_load_with_weights_only(tmp_path) -> None:
    path = export_weights(tiny(), tmp_path / "w.pt", "pt", seed=SEED)
    state = torch.load(path, weights_only=True)
    expected = reference(tiny()).state_dict()
    assert list(state) == list(expected)
    assert all(torch.equal(state[k], expected[k]) for k in expected)


def test_export_leaves_the_global_rng_alone(tmp_path) -> None:
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    export_weights(tiny(), tmp_path / "w.pt", "pt", seed=SEED)
    assert torch.equal(torch.rand(3), before)


def test_safetensors_weights_and_metadata(tmp_path) -> None:
    safetensors = pytest.importorskip("safetensors")
    path = export_weights(tiny(), tmp_path / "w.safetensors", "safetensors", seed=SEED)
    with safetensors.safe_open(str(path), framework="pt") as f:
        metadata = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (not a dict)
    assert metadata["seed"] == str(SEED)
    assert loads(metadata["design"]) == tiny()
    expected = reference(tiny()).state_dict()
    assert set(tensors) == set(expected)
    assert all(torch.equal(tensors[k], expected[k]) for k in expected)


def test_pt2_program_loads_and_matches(tmp_path) -> None:
    path = export_program(tiny(), tmp_path / "m.pt2", seed=SEED)
    program = torch.export.load(str(path))
    x = torch.randn(3, 3, 32, 32)  # another batch size than traced: the batch is dynamic
    with torch.no_grad():
        assert torch.allclose(program.module()(x), reference(tiny())(x), atol=1e-5)


def test_onnx_agrees_with_pytorch(tmp_path) -> None:
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    path = export_onnx(tiny(), tmp_path / "m.onnx", seed=SEED)
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 17
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = torch.randn(3, 3, 32, 32)
    (out,) = session.run(None, {"input": x.numpy()})
    with torch.no_grad():
        expected = reference(tiny())(x).numpy()
    assert abs(out - expected).max() < 1e-4


def test_progress_is_reported_and_cancel_is_honoured(tmp_path) -> None:
    seen: list[tuple[float, str]] = []
    export_weights(tiny(), tmp_path / "a.pt", progress=lambda f, m: seen.append((f, m)))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    calls = iter([False, True])
    with pytest.raises(ExportCancelled):
        export_weights(tiny(), tmp_path / "b.pt", cancel=lambda: next(calls))
    assert not (tmp_path / "b.pt").exists()
    assert not list(tmp_path.glob(".b.pt*"))


def test_existing_files_are_not_overwritten_silently(tmp_path) -> None:
    path = tmp_path / "w.pt"
    path.write_bytes(b"keep me")
    with pytest.raises(FileExistsError, match="already exists"):
        export_weights(tiny(), path)
    assert path.read_bytes() == b"keep me"
    export_weights(tiny(), path, overwrite=True)
    assert torch.load(path, weights_only=True)


def test_missing_extra_names_the_extra(monkeypatch, tmp_path) -> None:
    monkeypatch.setitem(sys.modules, "safetensors.torch", None)
    with pytest.raises(MissingExtra, match=r"pip install safetensors .*'export' extra"):
        export_weights(tiny(), tmp_path / "w.safetensors", "safetensors")


def test_opset_below_18_is_refused(tmp_path) -> None:
    with pytest.raises(ValueError, match="opset"):
        export_onnx(tiny(), tmp_path / "m.onnx", opset=11)


# --- CLI ----------------------------------------------------------------------------------------


def test_cli_writes_model_py_and_refuses_to_overwrite(tmp_path, capsys) -> None:
    out = tmp_path / "model.py"
    assert main(["export", "resnet20_cifar", "-o", str(out)]) == 0
    assert out.read_text().startswith('"""ResNet-20')
    assert main(["export", "resnet20_cifar", "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "--force" in err and len(err.splitlines()) == 1
    assert main(["export", "resnet18", "-o", str(out), "--force"]) == 0
    assert "ResNet-18" in out.read_text().splitlines()[0]


def test_cli_format_from_suffix_and_seed(tmp_path) -> None:
    out = tmp_path / "weights.pth"
    assert main(["export", "resnet20_cifar", "-o", str(out), "--seed", str(SEED)]) == 0
    state = torch.load(out, weights_only=True)
    expected = reference(load_preset("resnet20_cifar")).state_dict()
    assert all(torch.equal(state[k], expected[k]) for k in expected)


@pytest.mark.parametrize(
    "argv",
    [
        ["-o", "model.zip"],
        ["-o", "model.py", "--format", "zip"],
        ["-o", "model.py", "--seed", "-1"],
    ],
)
def test_cli_bad_arguments_are_one_line_exit_2(argv, tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["export", "resnet20_cifar", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert not list(tmp_path.iterdir())


def test_formats_table_is_complete() -> None:
    assert set(export_mod.FORMATS.values()) == {"py", "pt", "safetensors", "pt2", "onnx"}
    assert json.dumps(export_mod.FORMATS)  # plain data, for the app's file dialog
