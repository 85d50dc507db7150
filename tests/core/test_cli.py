"""The CLI: exit 0 on success, 2 with one line naming the problem otherwise."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from designer.cli import main
from designer.core.analysis import analyse
from designer.core.io import load
from designer.core.presets import load_preset, preset_names

ROOT = Path(__file__).resolve().parents[2]


def test_presets_lists_one_name_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["presets"]) == 0
    assert capsys.readouterr().out.split() == preset_names()


def test_summary_json_has_the_promised_fields(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary", "resnet50", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["params"] == 25_557_032 and data["macs"] == 4_089_238_376
    assert data["output_shape"] == [1000] and data["depth"] == 50
    assert data["trainable_params"] == data["params"]
    first = data["layers"][0]
    assert first == {
        "name": "conv1",
        "kind": "Conv2d",
        "input_shape": [3, 224, 224],
        "output_shape": [64, 112, 112],
        "params": 9408,
        "macs": 118_013_952,
    }


def test_summary_table_is_readable(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary", "resnet18"]) == 0
    out = capsys.readouterr().out
    assert "layer4.1.bn2" in out and "11,689,512" in out and "1,814,083,944" in out


def test_validate_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "mine.resnet.json"
    path.write_text(json.dumps({"stages": [{"depth": 1, "width": 8}], "block": "basic"}))
    assert main(["validate", str(path)]) == 0
    assert f"{analyse(load_preset('resnet18')).params:,}" not in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["summary", "resnet5"], "did you mean 'resnet50'"),
        (["summary", "/nonexistent/x.resnet.json"], "no such file"),
        (["validate"], "required: DESIGN"),
        (["frobnicate"], "invalid choice"),
        (["summary", "resnet50", "--jsn"], "unrecognized arguments"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    argv: list[str], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert words in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_invalid_design_file_names_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.resnet.json"
    path.write_text(json.dumps({"stages": [{"depth": 2, "width": 64, "stride": 0}]}))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "stages[0].stride" in err and err.count("\n") == 1


def test_no_display_says_how_to_run_headless() -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    out = subprocess.run(
        [sys.executable, str(ROOT / "main.py")], capture_output=True, text=True, env=env
    )
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "headless" in out.stderr and "summary" in out.stderr


def test_lint_prints_stage_geometry_and_findings(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", "resnet50"]) == 0
    out = capsys.readouterr().out
    assert "layer4" in out and "427" in out and "0 warning(s)" in out
    assert main(["lint", "resnet20_cifar", "--strict"]) == 0  # notes only


def test_fit_prints_candidates_within_the_budget(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["fit", "resnet50", "--max-macs", "2G", "--max-params", "10M", "--top", "2"]
    assert main([*argv, "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.count("binds") == 2
    written = sorted(tmp_path.iterdir())
    assert len(written) == 2
    assert all(analyse(load(p)).macs <= 2e9 for p in written)
    assert main([*argv, "-o", str(tmp_path)]) == 2  # no silent overwrite
    assert "exists" in capsys.readouterr().err
    assert main(["fit", "resnet50", "--max-macs", "lots"]) == 2


def test_missing_x11_libraries_are_named_instead_of_a_qt_abort(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import ctypes.util

    from designer import app_launcher

    monkeypatch.setattr(app_launcher.sys, "platform", "linux")
    monkeypatch.setenv("DISPLAY", ":99")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    present = {"xcb-icccm", "xcb-keysyms", "xkbcommon-x11"}
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: name if name in present else None)
    assert app_launcher.missing_x11_packages() == ["libxcb-cursor0"]
    assert main(["gui", "resnet50"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "apt-get install libxcb-cursor0" in err
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")  # no X11 involved: nothing is missing
    assert app_launcher.missing_x11_packages() == []
