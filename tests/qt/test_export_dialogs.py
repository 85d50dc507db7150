"""The export dialogs open in the design's folder, not the program's.

A saved design: its folder. An unsaved one: the folder of the last export, else
the home folder. Never the working directory the app was started from.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog

from designer.qt.exports import EXPORTS

SPEC = {spec.key: spec for spec in EXPORTS}


class Dialogs:
    """QFileDialog's two export dialogs, recording where they open; they answer
    ``answer`` ("" is Cancel)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.opened: list[Path] = []
        self.answer = ""

        def save_file(_parent, _title, start, _filter="", *_a, **_k):
            self.opened.append(Path(start).parent)  # start is FOLDER/default name
            return self.answer, ""

        def folder(_parent, _title, start, *_a, **_k):
            self.opened.append(Path(start))
            return self.answer

        monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(save_file))
        monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(folder))


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The app runs from one folder, the user's home is another."""
    cwd, home = tmp_path / "program", tmp_path / "home"
    cwd.mkdir()
    home.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("HOME", str(home))
    return home


@pytest.mark.parametrize("key", ["model_py", "diagram", "bundle"])
def test_export_dialogs_open_in_the_saved_designs_folder(
    window, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, elsewhere: Path, key: str
) -> None:
    designs = tmp_path / "designs"
    designs.mkdir()
    assert window.files.save_to(designs / "net.resnet.json")
    dialogs = Dialogs(monkeypatch)
    assert window.exporter.start(SPEC[key]) is None  # cancelled in the dialog
    assert dialogs.opened == [designs]


def test_every_export_dialog_opens_in_the_saved_designs_folder(
    window, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, elsewhere: Path
) -> None:
    designs = tmp_path / "designs"
    designs.mkdir()
    assert window.files.save_to(designs / "net.resnet.json")
    dialogs = Dialogs(monkeypatch)
    window.exporter.confirm = lambda _line: True
    for spec in EXPORTS:
        before = len(dialogs.opened)
        assert window.exporter.start(spec) is None, spec.key
        assert dialogs.opened[before:] == [designs], (spec.key, window.exporter.last_result)


def test_an_unsaved_design_exports_where_the_last_export_went_else_home(
    window, qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, elsewhere: Path
) -> None:
    assert window.document.path is None
    dialogs = Dialogs(monkeypatch)
    assert window.exporter.start(SPEC["model_py"]) is None
    assert dialogs.opened == [elsewhere]  # home, not the program's folder
    exports = tmp_path / "exports"
    exports.mkdir()
    dialogs.answer = str(exports / "model.py")
    assert window.exporter.start(SPEC["model_py"]) is not None
    qtbot.waitUntil(lambda: not window.exporter.is_running(), timeout=20_000)
    assert (exports / "model.py").is_file(), window.exporter.last_result
    dialogs.answer = ""
    assert window.exporter.start(SPEC["diagram"]) is None
    assert window.exporter.start(SPEC["bundle"]) is None
    assert dialogs.opened[-2:] == [exports, exports]
    # a saved design's own folder wins over the last export's
    designs = tmp_path / "designs"
    designs.mkdir()
    assert window.files.save_to(designs / "net.resnet.json")
    assert window.exporter.start(SPEC["diagram"]) is None
    assert dialogs.opened[-1] == designs


def test_a_last_export_folder_that_is_gone_falls_back_to_home(
    window, qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, elsewhere: Path
) -> None:
    exports = tmp_path / "gone"
    exports.mkdir()
    dialogs = Dialogs(monkeypatch)
    dialogs.answer = str(exports / "model.py")
    assert window.exporter.start(SPEC["model_py"]) is not None
    qtbot.waitUntil(lambda: not window.exporter.is_running(), timeout=20_000)
    (exports / "model.py").unlink()
    exports.rmdir()
    dialogs.answer = ""
    assert window.exporter.start(SPEC["model_py"]) is None
    assert dialogs.opened[-1] == elsewhere


def test_a_diagram_export_follows_the_direction(
    window, qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import xml.etree.ElementTree as ET

    from designer.core.graph import layout as layout_module

    monkeypatch.setattr(layout_module, "_dot_path", lambda: None)  # drawn by us, quickly
    window.exporter._direction = lambda: "LR"
    out = tmp_path / "wide.svg"
    assert window.exporter.start(SPEC["diagram"], out) is not None
    qtbot.waitUntil(lambda: not window.exporter.is_running(), timeout=20_000)
    root = ET.parse(out).getroot()
    width, height = (float(root.get(k, "0").removesuffix("pt")) for k in ("width", "height"))
    assert width > height
