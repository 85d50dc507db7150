"""Exports from the app: big ones ask first, too-big ones are refused, the bundle is written."""

from __future__ import annotations

from designer.core.presets import load_preset
from designer.qt.exports import EXPORTS

SPEC = {s.key: s for s in EXPORTS}


def test_big_weights_ask_first_stating_the_size(window, tmp_path):
    big = load_preset("resnet50").with_stage(3, width=4096)  # ~1.6 GiB of fp32 weights
    window.document.edit("test", lambda _d: big)
    asked: list[str] = []
    window.exporter.confirm = lambda line: asked.append(line) or False
    for key in ("weights", "program", "onnx"):
        assert window.exporter.start(SPEC[key], tmp_path / f"x.{key}") is None
    assert len(asked) == 3 and "GiB" in asked[0] and "Continue?" in asked[0]
    assert not list(tmp_path.iterdir())
    asked.clear()
    window.exporter.start(SPEC["model_py"], tmp_path / "model.py")  # no weights: no question
    assert not asked


def test_too_big_to_build_is_refused_in_one_line(window, tmp_path):
    huge = load_preset("resnet50").with_stage(3, width=100_000)
    window.document.edit("test", lambda _d: huge)
    shown: list[str] = []
    window.warn = shown.append
    window.exporter.confirm = lambda _line: (_ for _ in ()).throw(AssertionError("asked"))
    assert window.exporter.start(SPEC["weights"], tmp_path / "w.pt") is None
    assert len(shown) == 1 and "shrink widths or depths" in shown[0] and "\n" not in shown[0]


def test_classes_too_many_to_build_blame_num_classes():
    from designer.core.analysis import analyse
    from designer.qt.exports import size_check

    huge = load_preset("resnet18").replace(num_classes=10**9)
    verdict, line = size_check(analyse(huge))
    assert verdict == "refuse"
    assert line.endswith("; lower num_classes to build it") and "\n" not in line


def test_training_bundle_export_writes_the_folder(window, qtbot, tmp_path):
    window.document.edit("test", lambda _d: load_preset("resnet20_cifar"))
    out = tmp_path / "bundle"
    job = window.exporter.start(SPEC["bundle"], out)
    assert job is not None
    qtbot.waitUntil(lambda: not window.exporter.is_running(), timeout=60_000)
    assert window.exporter.last_result.startswith("Exported"), window.exporter.last_result
    names = {p.name for p in out.iterdir()}
    assert "model.py" in names and any(n.startswith("train") for n in names)


def _label_text(edge) -> str:
    return edge._label.childItems()[0].text()


def test_edge_shapes_toggle_one_label_per_tensor(window):
    window.edge_shapes_action.trigger()
    labelled = [e for e in window.graph.edges if e._label is not None and e._label.isVisible()]
    # every node that sends a tensor on has its shape written once (not again on its skip)
    sources = {u for u, _v in window.graph.graph.edges}
    assert len(labelled) == len(sources)
    assert any("56" in _label_text(e) for e in labelled)  # resnet50's 56x56 stage
    window.edge_shapes_action.trigger()
    assert not any(e._label.isVisible() for e in window.graph.edges if e._label is not None)


def test_torchinfo_confirms_the_totals_in_the_background(window, qtbot):
    window.confirmer.start_now()
    qtbot.waitUntil(lambda: window.confirmer.last is not None, timeout=60_000)
    assert window.confirmer.last == (True, "✓ confirmed by torchinfo")
    assert window.inspector.confirm_label.text() == "✓ confirmed by torchinfo"
    window.panel.stages.spin(0, "depth").setValue(2)  # an edit clears the stale verdict
    assert window.inspector.confirm_label.text() == ""


def test_a_stale_torchinfo_answer_is_dropped(window, qtbot):
    window.confirmer.start_now()
    window.panel.stages.spin(0, "depth").setValue(2)  # before the worker answers
    qtbot.waitUntil(lambda: not window.confirmer.runner.is_busy(), timeout=60_000)
    assert window.confirmer.last is None
    assert "confirmed" not in window.inspector.confirm_label.text()
