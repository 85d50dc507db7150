"""The package installs and integrates anywhere: saving without os.fchmod, resources as
package data (checked from a wheel installed with ``pip install --target``), ``python -m
designer``, hints naming the command that was run, the light ``import designer`` and its
API, the version, and the desktop entry and icons."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from designer.core.io import load, save
from designer.core.presets import load_preset

ROOT = Path(__file__).resolve().parents[2]


# --- saving where os.fchmod does not exist (Windows, Python 3.10-3.12) ---------------------


def test_save_works_without_os_fchmod(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(os, "fchmod")
    design = load_preset("resnet18")
    path = tmp_path / "a.resnet.json"
    save(design, path)
    save(design.replace(name="again"), path)  # over an existing file, keeping NAME~
    assert load(path).name == "again"
    assert load(tmp_path / "a.resnet.json~") == design
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_save_survives_a_file_system_that_refuses_modes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(fd: int, mode: int) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "fchmod", refuse, raising=False)
    path = tmp_path / "b.resnet.json"
    save(load_preset("resnet18"), path)
    assert load(path) == load_preset("resnet18")


@pytest.mark.skipif(not hasattr(os, "fchmod") or os.name == "nt", reason="POSIX modes")
def test_save_keeps_the_mode_where_the_platform_has_modes(tmp_path: Path) -> None:
    path = tmp_path / "c.resnet.json"
    save(load_preset("resnet18"), path)
    path.chmod(0o640)
    save(load_preset("resnet34"), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
