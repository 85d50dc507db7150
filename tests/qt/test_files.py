"""The file controller: New, Open, Save As, Open Recent and recovery, through the File menu
and on its own (it needs a document and a parent widget, never the window)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from designer.core.io import FILE_SUFFIX, load, save
from designer.core.presets import load_preset
from designer.qt import recovery
from designer.qt.document import Document
from designer.qt.files import FileController


@pytest.fixture
def controller(qtbot):
    from designer.qt.app import application

    application()
    parent = QWidget()
    qtbot.addWidget(parent)
    said: list[str] = []
    warned: list[str] = []
    files = FileController(
        Document(load_preset("resnet18"), parent),
        parent,
        lambda message, _ms: said.append(message),
        warned.append,
    )
    yield files, said, warned
    files.document.undo_stack.setClean()
    files.autosaver.discard()


def _file_menu(window):
    return next(a.menu() for a in window.menuBar().actions() if a.text() == "&File")


def test_save_as_adds_the_suffix_and_binds_the_file(window, tmp_path, monkeypatch):
    window.panel.widgets["num_classes"].setValue(10)
    asked: list[str] = []

    def get_save(_parent, _title, suggested, _filter):
        asked.append(suggested)
        return str(tmp_path / "mine"), ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", get_save)
    window.save_as_action.trigger()
    target = tmp_path / f"mine{FILE_SUFFIX}"
    assert asked and asked[0].endswith(f"resnet-50{FILE_SUFFIX}")  # the slug of "ResNet-50"
    assert load(target) == window.document.design
    assert window.document.path == target and window.document.is_clean()
    assert f"mine{FILE_SUFFIX}" in window.windowTitle()
    assert window.files.recent_files()[0] == str(target.resolve())
    window.panel.widgets["num_classes"].setValue(11)
    window.save_action.trigger()  # bound now: no dialog
    assert len(asked) == 1 and load(target).num_classes == 11


def test_open_dialog_and_open_recent_replace_the_design(window, qtbot, tmp_path, monkeypatch):
    first, second = tmp_path / f"a{FILE_SUFFIX}", tmp_path / f"b{FILE_SUFFIX}"
    save(load_preset("resnet18"), first)
    save(load_preset("resnet34"), second)
    replaced: list[bool] = []
    window.files.replaced.connect(lambda: replaced.append(True))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *_a: (str(first), ""))
    window.open_action.trigger()
    assert window.document.design == load_preset("resnet18") and replaced == [True]
    assert window.document.path == first
    assert window.files.open_path(second)

    menu = window.recent_menu
    menu.aboutToShow.emit()  # what opening Open Recent does
    entries = [a.text() for a in menu.actions()]
    assert entries == [str(second.resolve()), str(first.resolve())]
    menu.actions()[1].trigger()
    assert window.document.path == first.resolve() or window.document.path == first
    assert window.document.design == load_preset("resnet18")
    qtbot.waitUntil(lambda: not window.is_busy(), timeout=10_000)
    assert window.drawing.analysis is window.analyses.analysis
    assert window.drawing.analysis.design == load_preset("resnet18")


def test_new_asks_about_unsaved_work(window, monkeypatch):
    window.panel.stages.spin(0, "depth").setValue(5)
    edited = window.document.design
    answers = [QMessageBox.StandardButton.Cancel]
    monkeypatch.setattr(QMessageBox, "question", lambda *_a: answers[0])
    window.new_action.trigger()
    assert window.document.design == edited  # cancelled: nothing dropped
    answers[0] = QMessageBox.StandardButton.Discard
    window.new_action.trigger()
    assert window.document.design.name == "Untitled" and window.document.is_clean()


def test_controller_works_without_a_window(controller, tmp_path):
    files, said, warned = controller
    folder = tmp_path / "a folder"
    folder.mkdir()
    assert not files.save_to(folder)  # a directory cannot be written as a file
    assert len(warned) == 1 and warned[0].startswith("Cannot save") and "\n" not in warned[0]
    assert said[-1] == warned[0]
    target = tmp_path / f"ok{FILE_SUFFIX}"
    assert files.save_to(target) and said[-1] == f"Saved {target}"
    assert not files.open_path(tmp_path / "missing.json")
    assert warned[-1].startswith("Cannot open missing.json")
    assert files.document.path == target


def test_recovery_is_offered_and_restored_through_the_controller(controller, tmp_path):
    files, said, _warned = controller
    on_disk = tmp_path / f"mine{FILE_SUFFIX}"
    save(load_preset("resnet18"), on_disk)
    lost = load_preset("resnet18").replace(num_classes=3)
    files.autosaver.folder.mkdir(parents=True, exist_ok=True)
    (files.autosaver.folder / f"dead{recovery.SUFFIX}").write_bytes(recovery.encode(lost, on_disk))
    offered: list[Path | None] = []
    found = files.offer_recovery(lambda _parent, r: offered.append(r.path) or True)
    assert found is not None and offered == [on_disk]
    assert files.document.design == lost and files.document.path == on_disk
    assert not files.document.is_clean()  # restored work is unsaved
    files.document.undo_stack.undo()  # one undo step back to the file on disk
    assert files.document.design == load_preset("resnet18")
    assert "Restored" in said[-1]
    assert not recovery.orphans(files.autosaver.folder)


def test_open_refuses_devices_and_fifos_at_once(controller, tmp_path):
    """Open refuses what is not a regular file before reading: /dev/zero never ends, a FIFO
    blocks until a writer comes."""
    import os

    files, _said, warned = controller
    before = files.document.design
    fifo = tmp_path / f"pipe{FILE_SUFFIX}"
    os.mkfifo(fifo)
    for path in ("/dev/zero", fifo, tmp_path / "model.py"):
        if isinstance(path, Path) and path.suffix == ".py":
            os.mkfifo(path)
        assert not files.open_path(path)
        assert "not a regular file" in warned[-1] and "\n" not in warned[-1]
    assert files.document.design == before


def test_an_exported_model_py_opens_in_the_app(controller, tmp_path):
    from designer.core.codegen import render_model_py
    from designer.core.presets import load_preset

    files, _said, _warned = controller
    design = load_preset("resnet20_cifar").replace(num_classes=7)
    (tmp_path / "model.py").write_text(render_model_py(design), encoding="utf-8")
    assert files.open_path(tmp_path / "model.py")
    assert files.document.design == design and files.document.path is None
