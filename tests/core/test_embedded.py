"""`open model.py`: the design comes back from the file's DESIGN_JSON, and nothing runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from designer.cli import main
from designer.core.codegen import render_model_py
from designer.core.design import DesignError
from designer.core.embedded import design_from_model_py
from designer.core.presets import load_preset, preset_names
from tests.reference_figures import RESNET20_CIFAR_PARAMS


@pytest.mark.parametrize("name", preset_names())
def test_every_export_restores_its_design(name: str, tmp_path: Path) -> None:
    design = load_preset(name).replace(name=f'{name} """\\ \u2028 evil')
    path = tmp_path / "model.py"
    path.write_text(render_model_py(design), encoding="utf-8")
    assert design_from_model_py(path) == design


def test_opening_never_executes_the_file(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    path = tmp_path / "model.py"
    path.write_text(
        f"open({str(marker)!r}, 'w').close()\nDESIGN_JSON = __import__('os').getcwd()\n"
    )
    with pytest.raises(DesignError, match="DESIGN_JSON"):
        design_from_model_py(path)
    assert not marker.exists()


@pytest.mark.parametrize(
    "source", ["def (:", "x = 1\n", "DESIGN_JSON = '{'\n", "DESIGN_JSON = 3\n"]
)
def test_broken_files_give_one_line(source: str, tmp_path: Path) -> None:
    path = tmp_path / "model.py"
    path.write_text(source)
    with pytest.raises(DesignError) as info:
        design_from_model_py(path)
    assert "\n" not in str(info.value)


def test_cli_open_writes_the_design(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "model.py"
    model.write_text(render_model_py(load_preset("resnet20_cifar")))
    out = tmp_path / "back.resnet.json"
    assert main(["open", str(model), "-o", str(out)]) == 0
    assert main(["summary", str(out), "--json"]) == 0
    assert f'"params": {RESNET20_CIFAR_PARAMS}' in capsys.readouterr().out
    assert main(["open", str(model), "-o", str(out)]) == 2
