"""The CLI: exit 0 on success, 2 with one line naming the problem otherwise."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from designer.cli import main
from designer.core.analysis import analyse
from designer.core.io import load, save
from designer.core.presets import PRESET_SOURCE, SOURCES, load_preset, preset_groups, preset_names
from tests.reference_figures import (
    RESNET20_CIFAR_PARAMS,
    RESNET50_CONV1,
    TIMM_COUNTS,
    TORCHVISION_COUNTS,
)

ROOT = Path(__file__).resolve().parents[2]


def run_main(*args: str, code: str | None = None) -> subprocess.CompletedProcess[str]:
    """``main.py ARGS`` (or ``python -c CODE ARGS``) in a child, its output read as strict UTF-8."""
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "QT_QPA_PLATFORM": "offscreen"}
    env.pop("DISPLAY", None)
    command = ["-c", code] if code is not None else [str(ROOT / "main.py")]
    done = subprocess.run(
        [sys.executable, *command, *args], capture_output=True, timeout=60, cwd=ROOT, env=env
    )
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode("utf-8"), done.stderr.decode("utf-8")
    )


def test_presets_are_listed_under_their_source_with_sizes_and_titles() -> None:
    done = run_main("presets")
    assert (done.returncode, done.stderr) == (0, "")
    *body, blank, footer = done.stdout.splitlines()
    assert blank == "" and "parameters" in footer and "--names" in footer
    listed: dict[str, list[str]] = {}
    heading = ""
    for line in body:
        if line.startswith("  "):
            name, count, title = line.split(maxsplit=2)
            design = load_preset(name)
            assert (count, title) == (f"{analyse(design).params:,}", design.name)
            listed[heading].append(name)
        elif line:
            heading = line
            listed[heading] = []
    assert listed == {SOURCES[source]: names for source, names in preset_groups()}
    resnet50d = TIMM_COUNTS["resnet50d"].params
    assert f"  resnet50d                {resnet50d:,}  ResNet-50-D\n" in done.stdout


def test_presets_names_is_one_name_per_line() -> None:
    done = run_main("presets", "--names")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == "".join(f"{name}\n" for name in preset_names())


def test_presets_json_has_every_preset_in_listing_order() -> None:
    done = run_main("presets", "--json")
    assert (done.returncode, done.stderr) == (0, "")
    data = json.loads(done.stdout)
    assert [p["name"] for p in data] == [n for _, names in preset_groups() for n in names]
    for entry in data:
        design = load_preset(entry["name"])
        result = analyse(design)
        assert entry == {
            "name": entry["name"],
            "title": design.name,
            "source": PRESET_SOURCE[entry["name"]],
            "source_title": SOURCES[PRESET_SOURCE[entry["name"]]],
            "params": result.params,
            "macs": result.macs,
        }
    assert done.stdout.count("\n") == len(data) + 2  # one object per line


def test_presets_unlisted_and_non_ascii_titles(tmp_path: Path) -> None:
    """A preset no source lists comes last under "other presets"; titles print as UTF-8."""
    for name in ("resnet18", "resnet20_cifar"):
        save(load_preset(name), tmp_path / f"{name}.resnet.json")
    mine = load_preset("resnet20_cifar").replace(name="Réseau résiduel — 20 couches \x1b[2J")
    save(mine, tmp_path / "zz_mine.resnet.json")
    code = (
        "import sys; from pathlib import Path; import designer.core.presets as p;"
        "p.PRESET_DIR = Path(sys.argv[1]); from designer.cli import main;"
        "sys.exit(main(sys.argv[2:]))"
    )
    done = run_main(str(tmp_path), "presets", code=code)
    assert (done.returncode, done.stderr) == (0, "")
    blocks = done.stdout.split("\n\n")
    assert blocks[0].splitlines() == [
        SOURCES["torchvision"],
        f"  resnet18        {TORCHVISION_COUNTS['resnet18'].params:,}  ResNet-18",
    ]
    assert blocks[1].splitlines()[0] == SOURCES["papers"]
    assert blocks[2].splitlines() == [
        "other presets",
        f"  zz_mine            {RESNET20_CIFAR_PARAMS:,}  Réseau résiduel — 20 couches \\u001b[2J",
    ]
    done = run_main(str(tmp_path), "presets", "--json", code=code)
    assert done.returncode == 0
    assert json.loads(done.stdout)[-1]["title"] == mine.name  # the escape is JSON's own


def test_presets_takes_one_form() -> None:
    done = run_main("presets", "--names", "--json")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "not allowed with" in done.stderr


def test_summary_json_has_the_promised_fields(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary", "resnet50", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["params"], data["macs"]) == TORCHVISION_COUNTS["resnet50"]
    assert data["output_shape"] == [1000] and data["depth"] == 50
    assert data["trainable_params"] == data["params"]
    first = data["layers"][0]
    assert first == {
        "name": "conv1",
        "kind": "Conv2d",
        "input_shape": [3, 224, 224],
        "output_shape": [64, 112, 112],
        "params": RESNET50_CONV1.params,
        "macs": RESNET50_CONV1.macs,
        "receptive_field": 7,
        "output_stride": 2,
    }
    assert data["layers"][-1]["receptive_field"] is None  # fc: after the global pool


def test_summary_table_is_readable(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary", "resnet18"]) == 0
    out = capsys.readouterr().out
    params, macs = TORCHVISION_COUNTS["resnet18"]
    assert "layer4.1.bn2" in out and f"{params:,}" in out and f"{macs:,}" in out


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

    from designer import gui

    monkeypatch.setattr(gui.sys, "platform", "linux")
    monkeypatch.setenv("DISPLAY", ":99")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    present = {"xcb-icccm", "xcb-keysyms", "xkbcommon-x11"}
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: name if name in present else None)
    assert gui.missing_x11_packages() == ["libxcb-cursor0"]
    assert main(["gui", "resnet50"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "apt-get install libxcb-cursor0" in err
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")  # no X11 involved: nothing is missing
    assert gui.missing_x11_packages() == []
