"""`render`: real files in each format, one-line errors, no silent overwrite."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from designer.cli import main
from designer.commands import render as render_command
from designer.core.graph import layout as layout_module
from designer.core.graph.geometry import Direction
from designer.core.graph.layout import dot_available

needs_dot = pytest.mark.skipif(not dot_available(), reason="Graphviz dot is not installed")


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    return err


def test_dot_source_names_every_node_and_needs_no_graphviz(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(layout_module, "_dot_path", lambda: None)
    out = tmp_path / "net.dot"
    assert main(["render", "resnet18", "-o", str(out), "--level", "layer"]) == 0
    text = out.read_text()
    assert text.startswith("digraph")
    for node in ("conv1", "layer4.1.add", "layer4.1.relu#2", "fc"):
        assert f'"{node}"' in text
    # ResNet-18: 8 blocks, 5 identity skips (1 dashed edge each) and 3 projections
    # (block input -> 1x1 conv -> BN -> add: 3 dashed edges each)
    assert text.count("style=dashed") == 5 + 3 * 3


@needs_dot
@pytest.mark.parametrize("level", ["block", "layer"])
def test_svg_parses_and_shows_the_stages(tmp_path: Path, level: str) -> None:
    out = tmp_path / "net.svg"
    assert main(["render", "resnet50", "-o", str(out), "--level", level]) == 0
    root = ET.parse(out).getroot()
    text = " ".join(t for t in root.itertext())
    for stage in ("stem", "layer1", "layer2", "layer3", "layer4", "head", "6 blocks"):
        assert stage in text
    assert "1024x14x14" in text  # shapes on the edges


@needs_dot
def test_png_and_pdf_are_real_images(tmp_path: Path) -> None:
    png, pdf = tmp_path / "net.png", tmp_path / "net.pdf"
    assert main(["render", "resnet20_cifar", "-o", str(png), "--level", "layer"]) == 0
    assert main(["render", "resnet20_cifar", "-o", str(pdf)]) == 0
    data = png.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 50_000
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert height > 3 * width > 1000  # a tall, print-resolution picture
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 5_000


def test_unknown_suffix_is_one_line_naming_the_formats(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["render", "resnet18", "-o", str(tmp_path / "net.jpg")]) == 2
    err = one_line_error(capsys)
    assert "--output" in err and ".svg, .png, .pdf, .dot" in err
    assert not (tmp_path / "net.jpg").exists()


def test_existing_file_needs_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "net.dot"
    out.write_text("keep me")
    assert main(["render", "resnet18", "-o", str(out)]) == 2
    assert "--force" in one_line_error(capsys)
    assert out.read_text() == "keep me"
    assert main(["render", "resnet18", "-o", str(out), "--force"]) == 0
    assert out.read_text().startswith("digraph")


def test_missing_graphviz_is_one_line_pointing_to_dot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(layout_module, "_dot_path", lambda: None)
    assert main(["render", "resnet18", "-o", str(tmp_path / "net.png")]) == 2
    err = one_line_error(capsys)
    assert "Graphviz" in err and ".dot" in err and "install" in err


def test_bad_level_and_design_are_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["render", "resnet18", "-o", str(tmp_path / "a.dot"), "--level", "x"]) == 2
    one_line_error(capsys)
    assert main(["render", "resnet81", "-o", str(tmp_path / "a.dot")]) == 2
    assert "resnet18" in one_line_error(capsys)  # the nearest preset


def test_svg_without_graphviz_is_drawn_from_the_builtin_layout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(layout_module, "_dot_path", lambda: None)
    out = tmp_path / "net.svg"
    assert main(["render", "resnet50", "-o", str(out), "--level", "layer"]) == 0
    root = ET.parse(out).getroot()
    text = " ".join(root.itertext())
    for stage in ("stem", "layer1", "layer4", "6 blocks", "1000 classes", "conv 7x7/2, 64"):
        assert stage in text
    ns = "{http://www.w3.org/2000/svg}"
    circles = root.findall(f".//{ns}circle")
    assert len(circles) == 3 + 4 + 6 + 3  # one "+" per ResNet-50 block (He et al. Table 1)
    dashed = [p for p in root.findall(f".//{ns}polyline") if p.get("stroke-dasharray")]
    assert len(dashed) == 12 + 4 * 3  # 12 identity skips, 4 projections (in, conv, BN, add)


@needs_dot
def test_big_graphs_are_laid_out_by_us_and_drawn_by_graphviz(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from designer.core.graph import diagram

    monkeypatch.setattr(diagram, "PINNED_MIN_NODES", 1)  # as for a 3,000-layer network
    png, svg = tmp_path / "net.png", tmp_path / "net.svg"
    assert main(["render", "resnet20_cifar", "-o", str(png), "--level", "layer"]) == 0
    assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 50_000
    assert main(["render", "resnet20_cifar", "-o", str(svg), "--level", "layer"]) == 0
    assert "3 blocks" in " ".join(ET.parse(svg).getroot().itertext())


# -- left to right --------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]


def render_in_child(*args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    """``main.py render ARGS`` in a real child process (``path``: its PATH, to hide dot)."""
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "render", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=env,
        check=False,
    )


def svg_size(path: Path) -> tuple[float, float]:
    root = ET.parse(path).getroot()
    return float(root.get("width", "").removesuffix("pt")), float(
        root.get("height", "").removesuffix("pt")
    )


@pytest.mark.parametrize(
    "graphviz",
    [pytest.param(True, marks=needs_dot), False],
    ids=["dot", "builtin"],
)
def test_left_to_right_svg_is_wide_through_the_real_cli(tmp_path: Path, graphviz: bool) -> None:
    # without Graphviz on PATH the SVG is drawn from the built-in layout
    path = None if graphviz else str(Path(sys.executable).parent)
    wide, tall = tmp_path / "lr.svg", tmp_path / "tb.svg"
    done = render_in_child("resnet18", "-o", str(wide), "--direction", "LR", path=path)
    assert done.returncode == 0, done.stderr
    assert "left to right" in done.stdout
    done = render_in_child("resnet18", "-o", str(tall), path=path)  # TB by default
    assert done.returncode == 0, done.stderr
    (w, h), (tw, th) = svg_size(wide), svg_size(tall)
    assert w > h and th > tw
    text = " ".join(ET.parse(wide).getroot().itertext())
    for stage in ("stem", "layer1", "layer4", "head", "2 blocks"):
        assert stage in text
    drawn_by_us = b"<polyline" in wide.read_bytes()  # Graphviz draws edges as <path>
    assert drawn_by_us != graphviz


def test_direction_is_in_the_help_and_a_bad_one_is_one_line(tmp_path: Path) -> None:
    done = render_in_child("--help")
    assert done.returncode == 0 and "--direction {TB,LR}" in done.stdout
    assert "left to right" in " ".join(done.stdout.split())
    out = tmp_path / "a.svg"
    done = render_in_child("resnet18", "-o", str(out), "--direction", "RL")
    assert done.returncode == 2 and not out.exists()
    assert done.stderr.count("\n") == 1 and "--direction" in done.stderr, done.stderr
    assert "'TB', 'LR'" in done.stderr


def test_direction_choices_are_the_cores() -> None:
    from designer.core.graph.geometry import DIRECTIONS

    parser = argparse.ArgumentParser()
    render_command.register(parser.add_subparsers())
    action = next(
        a
        for sub in parser._subparsers._group_actions  # type: ignore[union-attr]
        for a in sub.choices["render"]._actions
        if a.dest == "direction"
    )
    assert tuple(action.choices) == DIRECTIONS and action.default == "TB"


def test_left_to_right_dot_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(layout_module, "_dot_path", lambda: None)
    out = tmp_path / "net.dot"
    assert main(["render", "resnet18", "-o", str(out), "--direction", "LR"]) == 0
    text = out.read_text()
    assert "rankdir=LR" in text and "rankdir=TB" not in text
    assert "<b>layer2</b>" in text  # the stage's title is its cluster's label


@needs_dot
def test_left_to_right_png_is_wide_and_big_graphs_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from designer.core.graph import diagram

    def png_size(path: Path) -> tuple[int, int]:
        data = path.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")

    png = tmp_path / "net.png"
    assert main(["render", "resnet20_cifar", "-o", str(png), "--direction", "LR"]) == 0
    width, height = png_size(png)
    assert width > 3 * height
    monkeypatch.setattr(diagram, "PINNED_MIN_NODES", 1)  # laid out by us, drawn by Graphviz
    big = tmp_path / "big.png"
    args = ["render", "resnet20_cifar", "-o", str(big), "--level", "layer", "--direction", "LR"]
    assert main(args) == 0
    width, height = png_size(big)
    assert width > 3 * height


@pytest.mark.parametrize("fmt", ["svg", "dot"])
def test_control_characters_in_the_name_render_as_visible_stand_ins(
    tmp_path: Path, fmt: str
) -> None:
    """A name with ESC, BEL, NUL, DEL and a C1 control: Graphviz and XML hold none of them."""
    from designer.core.io import save
    from designer.core.presets import load_preset

    design = load_preset("resnet18").replace(name="evil\x1b[31m\x07\x00\x7f \x9b end")
    save(design, tmp_path / "d.resnet.json")
    out = tmp_path / f"x.{fmt}"
    done = subprocess.run(
        [sys.executable, "main.py", "render", str(tmp_path / "d.resnet.json"), "-o", str(out)],
        capture_output=True,
        encoding="utf-8",
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr
    text = out.read_text(encoding="utf-8")
    assert "\x1b" not in text and "\x00" not in text and "\x07" not in text
    assert "evil\u241b[31m\u2407\u2400\u2421 \ufffd end" in text
    if fmt == "svg":
        ET.fromstring(text)  # well-formed XML


# -- past what a PNG or PDF holds ---------------------------------------------------------


def render_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m designer.cli render ARGS`` in a child process, with real UTF-8 pipes."""
    return subprocess.run(
        [sys.executable, "-m", "designer.cli", "render", *args],
        capture_output=True,
        encoding="utf-8",
        timeout=300,
        cwd=ROOT,
        env=env,
        check=False,
    )


def fake_dot_env(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """An environment whose `dot` only leaves a mark that it ran, and that mark's path."""
    bin_dir, mark = tmp_path / "bin", tmp_path / "dot-ran"
    bin_dir.mkdir()
    (bin_dir / "dot").write_text(f"#!/bin/sh\ntouch '{mark}'\nexit 1\n")
    (bin_dir / "dot").chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}, mark


@pytest.mark.slow
@pytest.mark.parametrize(
    ("direction", "suffix", "size", "fixes"),
    [
        ("TB", "png", "px, past PNG's 32,767 px limit", "write .svg or .pdf, or leave out --full"),
        ("LR", "pdf", "pt page, past the 8,388,607 pt", "write .svg, or leave out --full"),
    ],
)
def test_a_20000_block_drawing_past_the_format_is_refused_before_graphviz_runs(
    tmp_path: Path, direction: str, suffix: str, size: str, fixes: str
) -> None:
    """Graphviz would shrink such a PNG to a 2 px wide strip (and abort on such a PDF)."""
    from designer.core.design import StageSpec
    from designer.core.io import save
    from designer.core.presets import load_preset

    stages = (StageSpec(depth=10_000, width=16), StageSpec(depth=10_000, width=16))
    save(load_preset("resnet20_cifar").replace(stages=stages), tmp_path / "deep.resnet.json")
    out = tmp_path / f"deep.{suffix}"
    env, dot_ran = fake_dot_env(tmp_path)
    args = ["--level", "layer", "--full", "--direction", direction]
    done = render_cli(str(tmp_path / "deep.resnet.json"), "-o", str(out), *args, env=env)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and done.stdout == "", done.stderr
    assert done.stderr.startswith("error: --output: the layer-level drawing would be ")
    assert size in done.stderr and fixes in done.stderr
    assert not out.exists() and not dot_ran.exists()  # refused from our layout alone


@needs_dot
def test_a_png_dot_would_shrink_is_refused_and_the_pdf_is_written(tmp_path: Path) -> None:
    """Below the size we lay out ourselves, dot knows the size first and says it shrank it."""
    png, pdf = tmp_path / "net.png", tmp_path / "net.pdf"
    done = render_cli("resnet152", "-o", str(png), "--level", "layer", "--full")
    assert done.returncode == 2 and not png.exists()
    assert done.stderr.count("\n") == 1, done.stderr
    assert "the layer-level drawing would be " in done.stderr
    assert "past PNG's 32,767 px limit" in done.stderr and "write .svg or .pdf" in done.stderr
    done = render_cli("resnet152", "-o", str(pdf), "--level", "layer", "--full")
    assert done.returncode == 0, done.stderr
    assert pdf.read_bytes().startswith(b"%PDF")
    done = render_cli("resnet152", "-o", str(png), "--level", "layer")  # summarised: fits
    assert done.returncode == 0, done.stderr
    assert int.from_bytes(png.read_bytes()[20:24], "big") < 32_767


@needs_dot
@pytest.mark.parametrize("direction", ["TB", "LR"])
def test_our_size_of_a_pinned_drawing_is_graphviz_s_or_a_little_more(
    direction: Direction,
) -> None:
    """The refusal trusts this estimate: never under Graphviz's size, never far over it."""
    from designer.core.analysis import analyse
    from designer.core.graph import diagram
    from designer.core.graph.network import build_graph
    from designer.core.presets import load_preset

    analysis = analyse(load_preset("resnet20_cifar"))  # fits a PNG either way
    graph = build_graph(analysis, "layer")
    title = diagram.diagram_title(graph, analysis.params, analysis.macs)
    layout = layout_module.compute_layout(graph, "builtin", direction)
    source = diagram._pinned_dot(graph, layout, title)
    source = source.replace("digraph resnet {", "digraph resnet {\n  graph [dpi=144];", 1)
    data = layout_module.run_dot(source, "png", pinned=True)
    drawn = [int.from_bytes(data[i : i + 4], "big") for i in (16, 20)]
    ours = [2 * v for v in diagram._drawing_size(layout, title)]  # 144 dpi: 2 px a point
    assert all(0 <= o - d < 100 for o, d in zip(ours, drawn, strict=True)), (ours, drawn)
