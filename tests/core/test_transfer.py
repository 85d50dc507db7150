"""Partial weight loading, verified tensor by tensor against torchvision's own weights."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from designer.cli import main
from designer.core.design import DesignError
from designer.core.presets import load_preset
from designer.core.torch.build import build
from designer.core.torch.transfer import build_initialised, load_checkpoint, match
from tests.reference import torchvision_models
from tests.reference_figures import TORCHVISION_COUNTS


@pytest.fixture(scope="module")
def resnet18_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(123)
    weights = torchvision_models().resnet18().state_dict()
    path = tmp_path_factory.mktemp("ckpt") / "resnet18.pth"
    torch.save({"model": {f"module.{k}": v for k, v in weights.items()}}, path)
    return path


def test_edited_design_takes_every_tensor_that_fits(resnet18_checkpoint: Path) -> None:
    reference = torch.load(resnet18_checkpoint, weights_only=True)["model"]
    reference = {k.removeprefix("module."): v for k, v in reference.items()}
    base = load_preset("resnet18")
    stages = list(base.stages)
    stages[1] = dataclasses.replace(stages[1], depth=3)  # a new block: layer2.2
    stages[3] = dataclasses.replace(stages[3], width=256)  # layer4 narrower
    edited = base.replace(stages=tuple(stages), num_classes=10)

    model, report = build_initialised(edited, resnet18_checkpoint, seed=7)
    torch.manual_seed(7)
    untouched = build(edited).state_dict()  # what every tensor that does not fit must equal
    state = model.state_dict()

    assert "layer1.0.conv1.weight" in report.matched and "conv1.weight" in report.matched
    assert any(k.startswith("layer2.2.") for k in report.missing)
    mismatched = {k for k, _, _ in report.shape_mismatch}
    assert {"fc.weight", "fc.bias", "layer4.0.conv1.weight"} <= mismatched
    for key in state:
        expected = reference[key] if key in report.matched else untouched[key]
        assert torch.equal(state[key], expected), key
    assert set(report.matched) | set(report.missing) | mismatched == set(state)
    assert report.unexpected == ()
    assert 0 < report.matched_params < report.total_params


def test_identical_design_matches_everything(resnet18_checkpoint: Path) -> None:
    report = match(load_preset("resnet18"), load_checkpoint(resnet18_checkpoint))
    assert not (report.missing or report.shape_mismatch or report.unexpected)
    assert report.matched_params == report.total_params == TORCHVISION_COUNTS["resnet18"].params


def test_unsafe_or_broken_checkpoints_are_refused(tmp_path: Path) -> None:
    import pickle

    class Payload:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (print, ("this must never run",))

    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps({"conv1.weight": Payload()}))
    truncated = tmp_path / "cut.pt"
    torch.save(build(load_preset("resnet20_cifar")).state_dict(), truncated)
    truncated.write_bytes(truncated.read_bytes()[:500])
    for path in (evil, truncated, tmp_path / "absent.pt"):
        with pytest.raises(DesignError) as info:
            load_checkpoint(path)
        assert "\n" not in str(info.value)


def test_cli_reports_and_writes(
    resnet18_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "init.pt"
    assert main(["transfer", "resnet34", str(resnet18_checkpoint), "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "tensors fit" in text and "layer1.2.conv1.weight" in text  # resnet34 has more blocks
    assert set(torch.load(out, weights_only=True)) == set(
        build(load_preset("resnet34"), device="meta").state_dict()
    )
    assert main(["transfer", "resnet34", str(resnet18_checkpoint), "-o", str(out)]) == 2
    assert main(["transfer", "resnet34", str(tmp_path / "nope.pt")]) == 2


def test_export_init_from_loads_what_fits(
    resnet18_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reference = {
        k.removeprefix("module."): v
        for k, v in torch.load(resnet18_checkpoint, weights_only=True)["model"].items()
    }
    out = tmp_path / "w.pt"
    design_file = tmp_path / "ten.resnet.json"
    from designer.core.io import save

    save(load_preset("resnet18").replace(num_classes=10), design_file)
    assert (
        main(["export", str(design_file), "-o", str(out), "--init-from", str(resnet18_checkpoint)])
        == 0
    )
    assert "fc.weight: checkpoint [1000, 512] vs design [10, 512]" in capsys.readouterr().out
    state = torch.load(out, weights_only=True)
    assert torch.equal(state["layer3.1.conv2.weight"], reference["layer3.1.conv2.weight"])
    assert state["fc.weight"].shape == (10, 512)
    assert (
        main(
            [
                "export",
                "resnet18",
                "-o",
                str(tmp_path / "m.py"),
                "--init-from",
                str(resnet18_checkpoint),
            ]
        )
        == 2
    )
