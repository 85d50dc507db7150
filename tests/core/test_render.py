"""`render`: real files in each format, one-line errors, no silent overwrite."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from designer.cli import main
from designer.core.graph import layout as layout_module
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
