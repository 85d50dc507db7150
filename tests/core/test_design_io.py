"""Design files: strict parsing, one-line errors naming the field, atomic saves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings

from designer.core.design import DesignError
from designer.core.io import design_to_dict, dumps, load, loads, save
from designer.core.presets import load_preset, preset_names
from tests.strategies import small_designs

MINIMAL = {"stages": [{"depth": 2, "width": 64}]}


def _error(data: object) -> DesignError:
    with pytest.raises(DesignError) as info:
        loads(json.dumps(data))
    return info.value


def test_only_stages_is_required_and_defaults_are_torchvision_like() -> None:
    design = loads(json.dumps(MINIMAL))
    assert design.block == "bottleneck" and design.stem.kind == "imagenet"
    assert (design.input.channels, design.input.height, design.num_classes) == (3, 224, 1000)


def test_the_example_design_file_is_resnet50() -> None:
    text = {
        "format": "resnet-designer/1",
        "name": "ResNet-50",
        "input": {"channels": 3, "height": 224, "width": 224},
        "num_classes": 1000,
        "block": "bottleneck",
        "stem": {"kind": "imagenet", "width": 64},
        "stages": [
            {"depth": 3, "width": 64, "stride": 1},
            {"depth": 4, "width": 128, "stride": 2},
            {"depth": 6, "width": 256, "stride": 2},
            {"depth": 3, "width": 512, "stride": 2},
        ],
        "groups": 1,
        "width_per_group": 64,
        "shortcut": "projection",
        "head": {"hidden": [], "dropout": 0.0},
    }
    assert loads(json.dumps(text)) == load_preset("resnet50")


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ({**MINIMAL, "stme": {}}, "stme", "did you mean 'stem'"),
        ({"stages": [{"depth": 2, "widht": 3}]}, "stages[0].widht", "did you mean 'width'"),
        ({**MINIMAL, "format": "resnet-designer/9"}, "format", "unsupported format"),
        ({"stages": [{"depth": 0, "width": 64}]}, "stages[0].depth", "between 1"),
        ({"stages": [{"depth": "3", "width": 64}]}, "stages[0].depth", "whole number"),
        ({"stages": [{"depth": 2.5, "width": 64}]}, "stages[0].depth", "whole number"),
        ({"stages": [{"depth": True, "width": 64}]}, "stages[0].depth", "whole number"),
        ({"stages": [{"width": 64}]}, "stages[0].depth", "missing"),
        ({"stages": []}, "stages", "between 1 and"),
        ({"name": "x"}, "stages", "missing"),
        ({**MINIMAL, "block": "dense"}, "block", "one of basic"),
        ({**MINIMAL, "input": {"height": -3}}, "input.height", "between 1"),
        ({**MINIMAL, "head": {"dropout": 1.0}}, "head.dropout", "below 1"),
        ({**MINIMAL, "head": {"hidden": 512}}, "head.hidden", "list"),
        (
            {"stages": [{"depth": 1, "width": 8}], "groups": 4, "width_per_group": 4},
            "stages[0].width",
            "groups",
        ),
        ({**MINIMAL, "block": "basic", "groups": 2}, "groups", "bottleneck"),
        ({**MINIMAL, "stem": {"kind": "deep", "width": 63}}, "stem.width", "even"),
        ({**MINIMAL, "stem": []}, "stem", "object"),
        ([1, 2], "", "object"),
        (
            {"block": "basic", "shortcut": "zero_pad", "stages": [{"depth": 1, "width": 8}]},
            "stages[0].width",
            "projection",
        ),
    ],
)
def test_errors_name_the_field_and_the_fix(data: object, field: str, words: str) -> None:
    error = _error(data)
    assert error.field == field
    assert words in str(error)
    assert "\n" not in str(error)


HUGE_INT = '{"stages": [{"depth": ' + "9" * 5000 + ', "width": 8}]}'


@pytest.mark.parametrize("text", ["", "{", '{"stages": NaN}', "[" * 100_000, "\x00", HUGE_INT])
def test_malformed_json_is_a_one_line_error(text: str) -> None:
    with pytest.raises(DesignError) as info:
        loads(text)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("name", preset_names())
def test_presets_are_canonical_files(name: str, tmp_path: Path) -> None:
    design = load_preset(name)
    path = tmp_path / "d.resnet.json"
    save(design, path)
    assert load(path) == design
    assert dumps(load(path)) == dumps(design)


@settings(max_examples=100, deadline=None)
@given(small_designs())
def test_round_trip(design) -> None:  # type: ignore[no-untyped-def]
    assert loads(dumps(design)) == design
    assert json.loads(dumps(design)) == design_to_dict(design)


def test_save_is_atomic_and_keeps_a_backup(tmp_path: Path) -> None:
    path = tmp_path / "net.resnet.json"
    first, second = load_preset("resnet18"), load_preset("resnet34")
    save(first, path)
    save(second, path)
    assert load(path) == second
    assert load(path.with_name(path.name + "~")) == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.resnet.json", "net.resnet.json~"]
    path.chmod(0o640)
    save(first, path)
    assert path.stat().st_mode & 0o777 == 0o640  # a save keeps the file's permissions
    fresh = tmp_path / "new.resnet.json"
    save(first, fresh)
    assert fresh.stat().st_mode & 0o044  # readable by others, unlike mkstemp's 0600


def test_unreadable_files_give_one_line(tmp_path: Path) -> None:
    (tmp_path / "bin.resnet.json").write_bytes(b"\xff\xfe\x00")
    for target, words in [
        (tmp_path / "missing.json", "no such file"),
        (tmp_path, "folder"),
        (tmp_path / "bin.resnet.json", "UTF-8"),
    ]:
        with pytest.raises(DesignError, match=words):
            load(target)


def test_edits_are_validated() -> None:
    design = load_preset("resnet50")
    assert design.with_stage(0, depth=5).stages[0].depth == 5
    with pytest.raises(DesignError, match="stages"):
        design.with_stage(1, width=0)


def test_a_failed_backup_leaves_the_old_backup_and_the_file_whole(tmp_path, monkeypatch):
    """NAME~ is replaced atomically; a full disk mid-copy changes nothing."""
    import shutil

    from designer.core import io as io_module

    path = tmp_path / "d.resnet.json"
    first, second = load_preset("resnet18"), load_preset("resnet34")
    io_module.save(first, path)
    io_module.save(second, path)  # d.resnet.json~ now holds resnet18
    backup = path.with_name(path.name + "~")
    kept = backup.read_bytes()

    def full_disk(src, dst, **_):
        Path(dst).write_bytes(b"")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(shutil, "copy2", full_disk)
    with pytest.raises(OSError):
        io_module.save(load_preset("resnet50"), path)
    assert backup.read_bytes() == kept and len(kept) > 0
    assert io_module.load(path) == second
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.resnet.json", "d.resnet.json~"]
