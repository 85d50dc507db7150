"""Design files as editors and hostile hands write them, through the real CLI.

A byte-order mark is what Windows editors write: it is read, not refused. UTF-16 and
UTF-32 files are named as such with the fix. A number no field could take is refused
without Python's advice on interpreter settings; a parse error says "not valid JSON"
once; a path holding a newline stays on the one line of the answer.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from designer.core.design import field_table
from tests.core.test_cli_hostile_inputs import design_text, refused, run


@pytest.mark.parametrize("command", [["validate"], ["summary"]])
def test_a_utf8_byte_order_mark_is_read(command: list[str], tmp_path: Path) -> None:
    (tmp_path / "bom.resnet.json").write_bytes(b"\xef\xbb\xbf" + design_text().encode())
    code, out, err = run(*command, "bom.resnet.json", cwd=tmp_path)
    assert code == 0, err
    assert "ResNet-20" in out


@pytest.mark.parametrize(
    ("encoding", "name"),
    [
        ("utf-16", "UTF-16"),  # with its byte-order mark
        ("utf-16-le", "UTF-16"),
        ("utf-16-be", "UTF-16"),
        ("utf-32", "UTF-32"),
        ("utf-32-le", "UTF-32"),
    ],
)
def test_wide_encodings_are_named_with_the_fix(encoding: str, name: str, tmp_path: Path) -> None:
    (tmp_path / "d.resnet.json").write_bytes(design_text().encode(encoding))
    err = refused("validate", "d.resnet.json", cwd=tmp_path, says=f"is {name} text")
    assert "save the design file as UTF-8" in err
    assert "Expecting" not in err


def test_a_latin1_file_says_where_it_stops_being_utf8(tmp_path: Path) -> None:
    text = design_text(name="Caf\u00e9")
    (tmp_path / "d.resnet.json").write_bytes(text.replace("\\u00e9", "\u00e9").encode("latin-1"))
    err = refused("validate", "d.resnet.json", cwd=tmp_path, says="not a UTF-8 text file")
    assert "byte " in err


@pytest.mark.parametrize("digits", [401, 4300, 5000, 100_000])
def test_huge_integers_never_mention_interpreter_settings(digits: int, tmp_path: Path) -> None:
    text = design_text(num_classes=7).replace('"num_classes": 7', f'"num_classes": {"9" * digits}')
    (tmp_path / "d.resnet.json").write_text(text, encoding="utf-8")
    err = refused("validate", "d.resnet.json", cwd=tmp_path, says=f"{digits:,} digits")
    assert "sys." not in err and "set_int_max_str_digits" not in err
    if digits <= 4000:  # short enough to reach the field table, which names the field
        assert "num_classes" in err


@pytest.mark.parametrize(
    ("replacement", "says"),
    [
        ('"num_classes": NaN', "NaN is not a number JSON allows"),
        ('"num_classes": -Infinity', "-Infinity is not a number JSON allows"),
        ('"num_classes": 7, "num_classes": 8', "the key 'num_classes' appears twice"),
    ],
)
def test_parse_errors_say_not_valid_json_once(replacement: str, says: str, tmp_path: Path) -> None:
    text = design_text(num_classes=7).replace('"num_classes": 7', replacement)
    (tmp_path / "d.resnet.json").write_text(text, encoding="utf-8")
    err = refused("validate", "d.resnet.json", cwd=tmp_path, says=says)
    assert err.count("not valid") == 1, err


@pytest.mark.parametrize("command", [["validate"], ["summary"], ["export", "-o", "m.py"]])
def test_a_newline_in_a_path_stays_on_one_line(command: list[str], tmp_path: Path) -> None:
    folder = tmp_path / "two\nlines"
    folder.mkdir()
    (folder / "d.resnet.json").write_text("{", encoding="utf-8")
    name = "two\nlines/d.resnet.json"
    args = [command[0], name, *command[1:]]
    err = refused(*args, cwd=tmp_path, says="two\\u000alines/d.resnet.json")
    assert err.startswith("error: ")


def test_a_newline_in_a_missing_path_stays_on_one_line(tmp_path: Path) -> None:
    says = "a\\u000ab.resnet.json: no such file"
    refused("validate", "a\nb.resnet.json", cwd=tmp_path, says=says)


def test_a_written_design_still_loads_after_the_checks(tmp_path: Path) -> None:
    data = json.loads(design_text())
    assert data["num_classes"] == 10
    (tmp_path / "d.resnet.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
    code, out, err = run("validate", "d.resnet.json", cwd=tmp_path)
    assert code == 0 and out.startswith("ok: ResNet-20"), err


FLOAT_FIELDS = [e.path for e in field_table() if e.hint in (float, float | None)]


@pytest.mark.parametrize("path", FLOAT_FIELDS)
def test_a_400_digit_integer_in_a_float_field_is_one_line(path: str, tmp_path: Path) -> None:
    data = json.loads(design_text())
    huge = "1" + "0" * 400
    if path.startswith("stages[]."):
        data["stages"][1][path.removeprefix("stages[].")] = 7
        key = f'"{path.removeprefix("stages[].")}": 7'
    else:
        *parents, last = path.split(".")
        target = data
        for part in parents:
            target = target[part]
        target[last] = 7
        key = f'"{last}": 7'
    text = json.dumps(data).replace(key, key.replace("7", huge))
    (tmp_path / "d.resnet.json").write_text(text, encoding="utf-8")
    err = refused("validate", "d.resnet.json", cwd=tmp_path, says="401 digits")
    assert path.removeprefix("stages[].") in err
    assert "OverflowError" not in err
