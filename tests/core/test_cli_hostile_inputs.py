"""Hostile inputs through real processes and real UTF-8 streams.

Each case runs ``main.py`` in a child process with a deadline, reads its output as
bytes and decodes them as strict UTF-8: a hang, a traceback, a second line or an
escape sequence reaching the terminal fails the test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from designer.core.io import design_to_dict
from designer.core.presets import load_preset

ROOT = Path(__file__).resolve().parents[2]
DEADLINE_S = 60


def run(*args: str, cwd: Path) -> tuple[int, str, str]:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "QT_QPA_PLATFORM": "offscreen"}
    env.pop("DISPLAY", None)
    done = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args],
        capture_output=True,
        timeout=DEADLINE_S,
        cwd=cwd,
        env=env,
    )
    return done.returncode, done.stdout.decode("utf-8"), done.stderr.decode("utf-8")


def refused(*args: str, cwd: Path, says: str) -> str:
    code, out, err = run(*args, cwd=cwd)
    assert code == 2, (out, err)
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err and says in err, err
    return err


def design_text(**changes: object) -> str:
    data = design_to_dict(load_preset("resnet20_cifar"))
    data.update(changes)
    return json.dumps(data, ensure_ascii=True)


@pytest.mark.parametrize("command", [["validate"], ["summary"], ["compare", "resnet18"]])
def test_a_device_is_refused_at_once(command: list[str], tmp_path: Path) -> None:
    refused(*command, "/dev/zero", cwd=tmp_path, says="not a regular file")


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "f.resnet.json"
    os.mkfifo(fifo)
    refused("validate", str(fifo), cwd=tmp_path, says="not a regular file")
    refused("open", str(tmp_path / "g.py"), cwd=tmp_path, says="no such file")
    os.mkfifo(tmp_path / "g.py")
    refused("open", str(tmp_path / "g.py"), cwd=tmp_path, says="not a regular file")


def test_a_huge_python_file_is_refused_by_size(tmp_path: Path) -> None:
    big = tmp_path / "model.py"
    big.write_text("x = 1\n" * (3 * 1024 * 1024), encoding="utf-8")  # 18 MiB
    refused("open", str(big), cwd=tmp_path, says="too large")


def test_a_model_py_is_read_without_parsing_the_rest(tmp_path: Path) -> None:
    """A file that is not Python apart from its DESIGN_JSON statement still opens."""
    text = json.dumps(design_to_dict(load_preset("resnet20_cifar")))
    source = "this is ((( not python\n" * 1000 + f"DESIGN_JSON = (\n    {text!r}\n)\n"
    (tmp_path / "model.py").write_text(source, encoding="utf-8")
    code, out, err = run("validate", str(tmp_path / "model.py"), cwd=tmp_path)
    assert code == 0 and out.startswith("ok: ResNet-20"), err


def test_duplicate_keys_are_refused(tmp_path: Path) -> None:
    text = design_text().replace('"depth": 3,', '"depth": 3, "depth": 4,', 1)
    assert text.count('"depth": 3, "depth": 4') == 1
    (tmp_path / "d.resnet.json").write_text(text, encoding="utf-8")
    refused("validate", "d.resnet.json", cwd=tmp_path, says="'depth' appears twice")


@pytest.mark.parametrize("command", [["validate"], ["summary"], ["open", "-o", "out.resnet.json"]])
def test_a_lone_surrogate_in_a_name_is_one_line(command: list[str], tmp_path: Path) -> None:
    (tmp_path / "s.resnet.json").write_text(design_text(name="\ud800x"), encoding="utf-8")
    verb, *rest = command
    refused(verb, "s.resnet.json", *rest, cwd=tmp_path, says="lone surrogate (U+D800)")
    assert not (tmp_path / "out.resnet.json").exists()


def test_escape_sequences_in_names_never_reach_the_terminal(tmp_path: Path) -> None:
    name = "\x1b[2J\x1b]0;pwned\x07 \u202eevil\r\x00 end"
    (tmp_path / "e.resnet.json").write_text(design_text(name=name), encoding="utf-8")
    for args in (["validate", "e.resnet.json"], ["summary", "e.resnet.json"]):
        code, out, err = run(*args, cwd=tmp_path)
        assert code == 0, err
        for bad in ("\x1b", "\x07", "\u202e", "\r", "\x00"):
            assert bad not in out + err
        assert "\\u001b[2J" in out and "\\u202eevil" in out
    code, out, _ = run("open", "e.resnet.json", cwd=tmp_path)  # JSON on stdout: still JSON
    assert code == 0 and json.loads(out)["name"] == name


@pytest.mark.parametrize(
    "args",
    [
        ["summary", "--format", "markdown"],
        ["summary", "--format", "latex"],
        ["summary", "--format", "csv"],
        ["summary", "--format", "json"],
        ["lint", "--json"],
        ["compare", "resnet18", "--json"],
        ["fit", "--max-macs", "20M", "--top", "1", "--json"],
        ["open", "-o", "-"],
        ["render", "-o", "-"],
        ["export", "-o", "-"],
    ],
)
def test_escape_sequences_never_reach_the_terminal_through_pipes(
    args: list[str], tmp_path: Path
) -> None:
    """What goes to stdout for a pipe (-o -, --json, the summary formats) is made as safe as
    the table; JSON stays JSON, its escapes read back as the name."""
    name = "\x1b[2J\x1b]0;pwned\x07 \u202eevil\r\x00 end"
    verb, *rest = args
    if verb == "render":  # a NUL breaks the DOT source, and dot refuses ESC in a label
        name = name.replace("\x00", "")  # (rendering SVG from such a name fails in one line)
    (tmp_path / "e.resnet.json").write_text(design_text(name=name), encoding="utf-8")
    code, out, err = run(verb, "e.resnet.json", *rest, cwd=tmp_path)
    assert code == 0, err
    for bad in ("\x1b", "\x07", "\u202e", "\r", "\x00"):
        assert bad not in out + err, (bad, args)
    if "--json" in args or "json" in args or verb == "open":
        data = json.loads(out)
        if verb == "compare":
            data = data["designs"][0]
        assert data["name"] == name


@pytest.mark.parametrize(
    "args, says",
    [
        (["fit", "resnet18", "--max-params", "1e999"], "too large"),
        (["bundle", "resnet18", "-o", "b", "--seed", "18446744073709551616"], "--seed"),
        (["bundle", "resnet18", "-o", "b", "--seed", "-1"], "--seed"),
        (["transfer", "resnet18", "x.pt", "--seed", "18446744073709551616"], "--seed"),
        (["export", "resnet18", "-o", "m.pt", "--seed", "2**3"], "--seed"),
    ],
)
def test_out_of_range_numbers_are_one_line(args: list[str], says: str, tmp_path: Path) -> None:
    (tmp_path / "x.pt").write_bytes(b"")  # a checkpoint argument names a file: it is checked first
    refused(*args, cwd=tmp_path, says=says)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["x.pt"]


def test_exports_do_not_create_missing_folders(tmp_path: Path) -> None:
    refused("export", "resnet20_cifar", "-o", "nodir/sub/m.py", cwd=tmp_path, says="create it")
    refused("open", "resnet20_cifar", "-o", "nodir/d.resnet.json", cwd=tmp_path, says="create")
    assert list(tmp_path.iterdir()) == []


def test_a_folder_given_as_the_output_is_refused_even_with_force(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    (tmp_path / "plot.png").mkdir()
    for args in (
        ["open", "resnet18", "-o", "dir", "--force"],
        ["export", "resnet18", "-o", "dir", "--format", "py", "--force"],
        ["compare", "resnet18", "--plot", "plot.png", "--force"],
    ):
        refused(*args, cwd=tmp_path, says="is a folder")


def test_an_unwritable_target_is_one_line(tmp_path: Path) -> None:
    """/proc refuses new files even to root: the write fails after every check passed."""
    refused("open", "resnet18", "-o", "/proc/version", "--force", cwd=tmp_path, says="/proc")


def test_the_largest_accepted_design_summarises_as_valid_json(tmp_path: Path) -> None:
    """20,000 blocks, 280,008 layers: complete, valid JSON (its time is in bench_cli.py)."""
    from designer.core.design import StageSpec
    from designer.core.io import save

    design = load_preset("preact_resnet164_cifar").replace(
        stages=(StageSpec(10_000, 16, 1), StageSpec(10_000, 32, 2)), se_ratio=0.25
    )
    save(design, tmp_path / "big.resnet.json")
    code, out, err = run("summary", "big.resnet.json", "--json", cwd=tmp_path)
    assert code == 0, err
    data = json.loads(out)
    assert len(data["layers"]) == 280_008 and data["layers"][-1]["name"] == "fc"


def test_huge_renders_summarise_repeats_and_say_so(tmp_path: Path) -> None:
    code, out, err = run(
        "render", "preact_resnet1001_cifar", "--level", "layer", "-o", "r.svg", cwd=tmp_path
    )
    assert code == 0, err
    assert "note: 324 repeated blocks are drawn as one node per stage" in out
    assert (tmp_path / "r.svg").stat().st_size < 1_000_000
    code, out, err = run("render", "resnet18", "-o", "s.svg", cwd=tmp_path)
    assert code == 0 and "note:" not in out
