"""File > Open Checkpoint and attached weights, driven through the menus, buttons and keys.

A checkpoint's design is recovered in the background and replaces the document's as
Open does; its weights stay attached in the Pretrained-weights dock (also when chosen
there), the title names them, and every export that writes weights starts from them.
Expected tensors come from the saved checkpoint itself, never from the code under test.
"""

from __future__ import annotations

import dataclasses
import threading

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox, QToolBar

from designer.core.io import FILE_SUFFIX, save
from designer.core.presets import load_preset

PRESET = "resnet20_cifar"


def _save_checkpoint(design, path):
    """A state dict of ``design`` whose every float tensor is distinct from a fresh init."""
    import torch

    from designer.core.torch.build import build

    generator = torch.Generator().manual_seed(7)
    state = {
        key: torch.rand(value.shape, generator=generator) + 0.5
        if value.is_floating_point()
        else value
        for key, value in build(design).state_dict().items()
    }
    torch.save(state, path)
    return state


@pytest.fixture
def checkpoint(tmp_path):
    path = tmp_path / "resnet20.pth"
    return path, _save_checkpoint(load_preset(PRESET), path)


def _file_menu(window):
    return next(a.menu() for a in window.menuBar().actions() if a.text() == "&File")


def _choose(monkeypatch, *paths):
    """Answer the next open dialogs with ``paths`` in turn."""
    answers = [str(p) for p in paths]
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *_a: (answers.pop(0), ""))


def _settle(qtbot, window, timeout: int = 60_000) -> None:
    transfer = window.insights.transfer
    qtbot.waitUntil(
        lambda: not window.files.is_reading() and not transfer.is_busy(), timeout=timeout
    )
    qtbot.waitUntil(lambda: not window.is_busy(), timeout=timeout)


def _open_checkpoint(qtbot, window, monkeypatch, path) -> None:
    _choose(monkeypatch, path)
    window.open_checkpoint_action.trigger()
    _settle(qtbot, window)


def _type_depth(qtbot, window, stage: int, depth: int) -> None:
    spin = window.panel.stages.spin(stage, "depth")
    spin.setFocus()
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin, str(depth))
    qtbot.keyClick(spin, Qt.Key.Key_Return)


def _export(qtbot, window, monkeypatch, key: str, target) -> str:
    from designer.qt.exports import EXPORTS

    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *_a: (str(target), ""))
    action = window.export_actions[[s.key for s in EXPORTS].index(key)]
    qtbot.waitUntil(lambda: window.analyses.is_current(), timeout=10_000)
    action.trigger()
    qtbot.waitUntil(lambda: not window.exporter.is_running(), timeout=120_000)
    return window.exporter.last_result


def test_open_checkpoint_sits_beside_open_in_the_menu_and_toolbar(window):
    entries = [a for a in _file_menu(window).actions() if not a.isSeparator()]
    assert entries.index(window.open_checkpoint_action) == entries.index(window.open_action) + 1
    assert window.open_checkpoint_action.text() == "Open &Checkpoint…"
    toolbar = window.findChild(QToolBar, "mainToolbar")
    assert window.open_checkpoint_action in toolbar.actions()


def test_open_checkpoint_recovers_the_design_and_attaches_its_weights(
    window, qtbot, monkeypatch, checkpoint
):
    path, state = checkpoint
    replaced: list[bool] = []
    window.files.replaced.connect(lambda: replaced.append(True))
    _open_checkpoint(qtbot, window, monkeypatch, path)

    design = window.document.design
    assert design == load_preset(PRESET).replace(name=design.name) and design.name == "resnet20"
    assert replaced == [True]
    # as Open leaves it: clean, no undo history; no design file bound (Save asks for one)
    assert window.document.is_clean() and window.document.undo_stack.count() == 0
    assert window.document.path is None
    assert "resnet20" in window.windowTitle()
    assert "weights from resnet20.pth" in window.windowTitle()

    transfer = window.insights.transfer
    assert transfer.path == str(path) and window.insights.docks["transfer"].isVisible()
    assert transfer.group_counts() == {
        "Fit": len(state),
        "Shape differs": 0,
        "New in the design": 0,
        "Unused from the checkpoint": 0,
    }
    assert set(transfer.report.matched) == set(state)
    # what was inferred and assumed, readable without a dialog
    assert transfer.origin.isVisible()
    assert "Inferred:" in transfer.origin.text() and "Assumed" in transfer.origin.text()
    assert "input 32x32" in transfer.origin.text()
    assert "assumed" in transfer.origin.toolTip() and "\n" in transfer.origin.toolTip()
    message = window.statusBar().currentMessage()
    assert message.startswith("Opened resnet20.pth: 9 basic blocks in 3 stages (torchvision names)")
    assert "weights attached" in message and "\n" not in message


def test_typing_a_depth_changes_which_tensors_fit(window, qtbot, monkeypatch, checkpoint):
    path, state = checkpoint
    _open_checkpoint(qtbot, window, monkeypatch, path)
    transfer = window.insights.transfer

    _type_depth(qtbot, window, 0, 2)  # layer1.2 is gone: its tensors have no place
    _settle(qtbot, window)
    dropped = {k for k in state if k.startswith("layer1.2.")}
    assert dropped and window.document.design.stages[0].depth == 2
    assert transfer.group_counts()["Fit"] == len(state) - len(dropped)
    assert set(transfer.report.unexpected) == dropped

    _type_depth(qtbot, window, 0, 4)  # layer1.2 back, layer1.3 new
    _settle(qtbot, window)
    counts = transfer.group_counts()
    assert counts["Fit"] == len(state) and counts["Unused from the checkpoint"] == 0
    assert set(transfer.report.missing) and all(
        k.startswith("layer1.3.") for k in transfer.report.missing
    )
    assert "weights from resnet20.pth" in window.windowTitle()  # an edit keeps them attached


def test_exports_start_from_the_attached_weights(window, qtbot, monkeypatch, checkpoint, tmp_path):
    import torch

    path, state = checkpoint
    _open_checkpoint(qtbot, window, monkeypatch, path)
    _type_depth(qtbot, window, 0, 4)  # layer1.3 is new: initialised as usual
    _settle(qtbot, window)
    new = set(window.insights.transfer.report.missing)
    assert new

    target = tmp_path / "out.pt"
    line = _export(qtbot, window, monkeypatch, "weights", target)
    fit = f"{len(state)} of {len(state) + len(new)} tensors from resnet20.pth"
    assert line == f"Exported {target}: {fit}"
    written = torch.load(target, weights_only=True)
    assert set(written) == set(state) | new
    for key, tensor in state.items():
        assert torch.equal(written[key], tensor), key
    assert all(
        not torch.equal(written[k], torch.zeros_like(written[k])) for k in new if "conv" in k
    )

    line = _export(qtbot, window, monkeypatch, "model_py", tmp_path / "model.py")
    assert "no weights" in line and "resnet20.pth" in line and "\n" not in line

    # detached with the dock's button: the next export is freshly initialised
    button = window.insights.transfer.detach_button
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert window.insights.transfer.path == "" and "weights from" not in window.windowTitle()
    assert not button.isEnabled()
    fresh = tmp_path / "fresh.pt"
    line = _export(qtbot, window, monkeypatch, "weights", fresh)
    assert line == f"Exported {fresh}"
    written = torch.load(fresh, weights_only=True)
    assert not torch.equal(written["conv1.weight"], state["conv1.weight"])


def test_the_bundle_export_takes_the_weights_too(window, qtbot, monkeypatch, checkpoint, tmp_path):
    import torch

    path, state = checkpoint
    _open_checkpoint(qtbot, window, monkeypatch, path)
    out = tmp_path / "bundle"
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *_a: str(out))
    from designer.qt.exports import EXPORTS

    window.export_actions[[s.key for s in EXPORTS].index("bundle")].trigger()
    qtbot.waitUntil(lambda: not window.exporter.is_running(), timeout=120_000)
    assert window.exporter.last_result.endswith(
        f"{len(state)} of {len(state)} tensors from resnet20.pth"
    )
    weights = next(p for p in out.iterdir() if p.name.startswith("weights."))
    if weights.suffix == ".safetensors":
        from safetensors.torch import load_file

        written = load_file(str(weights))
    else:
        written = torch.load(weights, weights_only=True)
    assert all(torch.equal(written[k], v) for k, v in state.items())


def test_choosing_a_checkpoint_in_the_dock_attaches_it_for_exports(
    window, qtbot, monkeypatch, checkpoint, tmp_path
):
    import torch

    path, state = checkpoint
    window.document.edit("test", lambda _d: load_preset(PRESET))
    window.insights.show("transfer")
    transfer = window.insights.transfer
    _choose(monkeypatch, path)
    qtbot.mouseClick(transfer.choose, Qt.MouseButton.LeftButton)
    _settle(qtbot, window)
    assert "weights from resnet20.pth" in window.windowTitle()
    assert transfer.group_counts()["Fit"] == len(state)
    assert not transfer.origin.isVisible()  # the design was not read from it
    target = tmp_path / "w.pt"
    line = _export(qtbot, window, monkeypatch, "weights", target)
    assert line.endswith(f"{len(state)} of {len(state)} tensors from resnet20.pth")
    written = torch.load(target, weights_only=True)
    assert all(torch.equal(written[k], v) for k, v in state.items())


def test_new_and_open_detach_the_weights(window, qtbot, monkeypatch, checkpoint, tmp_path):
    path, _state = checkpoint
    _open_checkpoint(qtbot, window, monkeypatch, path)
    design_file = tmp_path / f"r18{FILE_SUFFIX}"
    save(load_preset("resnet18"), design_file)
    _choose(monkeypatch, design_file)
    window.open_action.trigger()
    _settle(qtbot, window)
    assert window.document.design == load_preset("resnet18")
    assert window.insights.transfer.path == "" and "weights from" not in window.windowTitle()
    assert window.insights.transfer.tree.topLevelItemCount() == 0

    _open_checkpoint(qtbot, window, monkeypatch, path)
    assert "weights from resnet20.pth" in window.windowTitle()
    window.new_action.trigger()
    _settle(qtbot, window)
    assert window.document.design.name == "Untitled"
    assert window.insights.transfer.path == "" and "weights from" not in window.windowTitle()


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("notes.pth", "not a torch checkpoint"),
        ("vit.pth", "ViT"),
        ("missing.pth", "no such file"),
    ],
)
def test_a_bad_checkpoint_gives_one_line_and_keeps_the_design(
    window, qtbot, monkeypatch, tmp_path, name, words
):
    import torch

    path = tmp_path / name
    if name == "notes.pth":
        path.write_text("these are my notes, not a checkpoint\n" * 20, encoding="utf-8")
    elif name == "vit.pth":
        torch.save({"blocks.0.attn.qkv.weight": torch.zeros(12, 4)}, path)
    _type_depth(qtbot, window, 0, 2)  # unsaved work the refusal must leave alone
    _settle(qtbot, window)
    before = window.document.design
    asked: list[str] = []
    monkeypatch.setattr(
        QMessageBox,
        "question",
        lambda *a: asked.append(a[2]) or QMessageBox.StandardButton.Discard,
    )
    shown: list[str] = []
    window.warn = shown.append
    _open_checkpoint(qtbot, window, monkeypatch, path)

    assert len(asked) == 1  # asked once about the unsaved work, as Open asks
    error = window.files.last_error
    assert error.startswith(f"Cannot open {name}: ") and words in error, error
    assert "\n" not in error and "Traceback" not in error and str(tmp_path) not in error
    assert window.statusBar().currentMessage() == error
    assert not shown  # no dialog
    assert window.document.design is before and not window.document.is_clean()
    assert window.insights.transfer.path == "" and "weights from" not in window.windowTitle()


def test_a_second_request_supersedes_the_first(window, qtbot, monkeypatch, checkpoint, tmp_path):
    first, _state = checkpoint
    small = load_preset(PRESET)
    small = small.replace(stages=tuple(dataclasses.replace(s, depth=1) for s in small.stages))
    second = tmp_path / "resnet8.pth"
    _save_checkpoint(small, second)
    replaced: list[bool] = []
    window.files.replaced.connect(lambda: replaced.append(True))
    _choose(monkeypatch, first, second)
    window.open_checkpoint_action.trigger()
    window.open_checkpoint_action.trigger()  # before the first one's answer
    _settle(qtbot, window)
    assert replaced == [True]
    assert window.document.design == small.replace(name="resnet8")
    assert "weights from resnet8.pth" in window.windowTitle()
    assert window.files.recoveries.dropped == 1  # the first answer came, and was dropped


def test_an_edit_while_reading_asks_again(window, qtbot, monkeypatch, checkpoint):
    path, _state = checkpoint
    answers = [QMessageBox.StandardButton.Cancel]
    monkeypatch.setattr(QMessageBox, "question", lambda *_a: answers.pop(0))
    _choose(monkeypatch, path)
    window.open_checkpoint_action.trigger()  # clean: nothing to ask yet
    _type_depth(qtbot, window, 0, 2)  # the user goes on editing while it is read
    edited = window.document.design
    _settle(qtbot, window)
    assert not answers  # asked, and cancelled: the edit stays, nothing attached
    assert window.document.design is edited
    assert window.insights.transfer.path == ""
    assert "not opened" in window.statusBar().currentMessage()


def test_dropping_a_checkpoint_on_the_window_opens_it(window, qtbot, checkpoint):
    path, state = checkpoint
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(path))])
    enter = QDragEnterEvent(
        QPoint(200, 200),
        Qt.DropAction.CopyAction,
        data,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    drop = QDropEvent(
        QPointF(200, 200),
        Qt.DropAction.CopyAction,
        data,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(window, drop)  # Qt delivers a drop only after its drag entered
    assert drop.isAccepted() and window.files.is_reading()  # read in the background
    _settle(qtbot, window)
    assert window.document.design == load_preset(PRESET).replace(name="resnet20")
    assert window.insights.transfer.group_counts()["Fit"] == len(state)
    assert "weights from resnet20.pth" in window.windowTitle()


def test_checkpoints_are_read_off_the_ui_thread(window, qtbot, monkeypatch, checkpoint):
    from designer.qt import checkpoints

    path, _state = checkpoint
    threads: list[bool] = []
    real_recover, real_match = checkpoints.recover, checkpoints.match

    def recover(*args):
        threads.append(threading.current_thread() is threading.main_thread())
        return real_recover(*args)

    def match(*args):
        threads.append(threading.current_thread() is threading.main_thread())
        return real_match(*args)

    monkeypatch.setattr(checkpoints, "recover", recover)
    monkeypatch.setattr(checkpoints, "match", match)
    _open_checkpoint(qtbot, window, monkeypatch, path)
    assert len(threads) >= 2 and not any(threads)


@pytest.mark.parametrize("kind", ["checkpoint", "model.py"])
def test_a_file_named_at_launch_is_never_bound_for_save_unless_a_design(
    qtbot, monkeypatch, checkpoint, tmp_path, kind
):
    """``gui resnet20.pth`` (or ``open`` with a display) recovers it in the background;
    Save must never write a design's JSON over the user's weights or model.py."""
    from designer.core.codegen import render_model_py
    from designer.qt import app as app_module

    path, state = checkpoint
    if kind == "model.py":
        path = tmp_path / "model.py"
        path.write_text(render_model_py(load_preset(PRESET)), encoding="utf-8")
    seen: dict[str, object] = {}

    def screenshot(_app, window, _path) -> int:  # stands in for the event loop
        seen["reading"] = window.files.is_reading()
        _settle(qtbot, window)
        seen.update(
            design=window.document.design,
            path=window.document.path,
            title=window.windowTitle(),
            fit=window.insights.transfer.group_counts().get("Fit"),
        )
        window.document.undo_stack.setClean()
        window.close()
        window.deleteLater()
        return 0

    monkeypatch.setattr(app_module, "_screenshot", screenshot)
    assert app_module.run(str(path), screenshot=str(tmp_path / "unused.png")) == 0
    assert seen["path"] is None
    assert seen["design"] == load_preset(PRESET).replace(name=seen["design"].name)
    if kind == "checkpoint":
        assert seen["reading"]  # the window was up before the file was read
        assert "weights from resnet20.pth" in seen["title"] and seen["fit"] == len(state)
    assert app_module.run(str(tmp_path / "gone.pth")) == 2


def test_the_exported_program_holds_the_attached_weights(
    window, qtbot, monkeypatch, checkpoint, tmp_path
):
    import torch

    path, state = checkpoint
    _open_checkpoint(qtbot, window, monkeypatch, path)
    target = tmp_path / "model.pt2"
    line = _export(qtbot, window, monkeypatch, "program", target)
    assert line == f"Exported {target}: {len(state)} of {len(state)} tensors from resnet20.pth"
    program = torch.export.load(target)
    held = {**program.state_dict, **dict(program.constants)}
    params = {k: v for k, v in state.items() if k in held}
    assert params and "conv1.weight" in params
    assert all(torch.equal(held[k], v) for k, v in params.items())
