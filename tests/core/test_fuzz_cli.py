"""Every field of the design and every argument of every command, given hostile values.

Generated from the field table and from the CLI's own parser, so a field or an argument
added later is fuzzed with no edit here: the class of bug, not the instance.

* Fields, in process (thousands of cases): every row of the field table gets values of
  every JSON type and magnitude (huge and tiny numbers, NaN and infinities as the
  literals Python's json writes, wrong types, look-alike and hostile strings, deep
  and long lists), at every stage for per-stage rows; the file then gives a design
  (whose analysis then runs) or one DesignError line, never another exception.
* Encodings, through real processes: such files written as UTF-8 with and without a
  byte-order mark, UTF-16, UTF-32 and Latin-1, then ``validate`` and ``summary``.
* Arguments, through real processes: every option and positional of every command
  (the app's ``gui`` aside) gets each hostile value of its kind.

A process answers 0 or 2; a 2 is exactly one line on stderr, no traceback; both
streams are strict UTF-8 without escape sequences; each process peaks under 100 MB
(its own ``ru_maxrss``, from ``wait4``). Time is a hang guard only (benches time).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from designer.cli import build_parser
from designer.core.analysis import analyse
from designer.core.design import DesignError, field_table
from designer.core.io import design_to_dict, loads
from designer.core.presets import load_preset

ROOT = Path(__file__).resolve().parents[2]
HANG_GUARD_S = 60
MAX_RSS_BYTES = 100 * 1024 * 1024
PRESET = "resnet20_cifar"

ENTRIES = field_table()

# numbers at every magnitude, at and past every bound a field has
MAGNITUDES = [
    sign * (10**k + delta)
    for k in (0, 1, 2, 3, 4, 6, 8, 9, 10, 18, 19, 30, 308, 309, 400, 1000, 3999)
    for delta in (-1, 0, 1)
    for sign in (1, -1)
]
FLOATS = [0.0, -0.0, 0.5, 1.0, 1.5, 1e-324, 5e-324, 1e308, -1e308, 1e-7, 0.999999999]
SPECIALS = [float("nan"), float("inf"), float("-inf")]  # written as NaN, Infinity literals
STRINGS = [
    "",
    " ",
    "3",
    "1e3",
    "NaN",
    "true",
    "null",
    "\x1b[2J\x1b]0;title\x07",
    "\u202eevil",
    "\ud800",
    "\u0663",  # an Arabic-Indic digit three: int() would take it
    "\uff13",  # a fullwidth digit three
    "x" * 10_000,
    "resnet-designer/2",
]


def _choices() -> list[str]:
    """Every choice any field has, and look-alikes of them (case, spaces, suffixes)."""
    out: set[str] = set()
    for entry in ENTRIES:
        for choice in entry.row.choices:
            out |= {choice, choice.upper(), f" {choice}", f"{choice}\n", f"{choice}_"}
    return sorted(out)


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from(MAGNITUDES),
    st.integers(),
    st.sampled_from(FLOATS + SPECIALS),
    st.floats(),
    st.sampled_from(STRINGS + _choices()),
    st.text(max_size=20),
)
VALUES = st.one_of(
    SCALARS,
    st.lists(SCALARS, max_size=5),
    st.dictionaries(st.text(max_size=8), SCALARS, max_size=3),
    st.just([[[[[[[[[[[[1]]]]]]]]]]]]),
    st.just(list(range(10_000))),
    st.just([64] * 200),
)


def _set(data: dict[str, Any], path: str, value: object, stage: int | None) -> None:
    """``data`` with the field at ``path`` ("stem.width", "stages[].depth") set to ``value``."""
    if path.startswith("stages[]."):
        stages = data["stages"]
        for i in range(len(stages)) if stage is None else [stage % len(stages)]:
            stages[i][path.removeprefix("stages[].")] = value
        return
    *parents, last = path.split(".")
    target = data
    for part in parents:
        target = target.setdefault(part, {})
    target[last] = value


def _hostile_text(path: str, value: object, stage: int | None) -> str:
    data = design_to_dict(load_preset(PRESET))
    _set(data, path, value, stage)
    return json.dumps(data, allow_nan=True)


def _design_or_one_line(text: str) -> None:
    try:
        design = loads(text)
    except DesignError as exc:
        assert "\n" not in str(exc), str(exc)
        return
    analyse(design)  # a design accepted is one the analysis can take


@settings(
    max_examples=3000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)
@given(
    st.sampled_from([entry.path for entry in ENTRIES]),
    VALUES,
    st.one_of(st.none(), st.integers(0, 3)),
)
def test_every_field_takes_every_kind_of_value(path: str, value: object, stage: int | None) -> None:
    _design_or_one_line(_hostile_text(path, value, stage))


@pytest.mark.parametrize("path", [entry.path for entry in ENTRIES])
def test_every_field_at_every_magnitude(path: str) -> None:
    for value in [*MAGNITUDES, *FLOATS, *SPECIALS, *STRINGS, None, True, [], {}]:
        _design_or_one_line(_hostile_text(path, value, None))


# --- through real processes -------------------------------------------------------------------


# main.py, run so that the process reports its own peak at exit: the kernel's VmHWM of
# its memory map, which starts afresh at exec (wait4's ru_maxrss would carry over the
# forking test process's own peak)
_LAUNCH = """
import atexit, os, runpy, sys
def _peak():
    with open("/proc/self/status") as status, open(os.environ["PEAK_FILE"], "w") as out:
        out.write(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
atexit.register(_peak)
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def _run(argv: list[str], cwd: Path) -> tuple[int, str, str, int]:
    """(exit code, stdout, stderr, peak RSS in bytes) of ``main.py argv``, in ``cwd``."""
    peak_file = cwd / ".peak"
    peak_file.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "QT_QPA_PLATFORM": "offscreen"}
    env["PEAK_FILE"] = str(peak_file)
    env.pop("DISPLAY", None)
    out, err = cwd / ".stdout", cwd / ".stderr"
    with out.open("wb") as out_file, err.open("wb") as err_file:
        process = subprocess.Popen(
            [sys.executable, "-c", _LAUNCH, str(ROOT / "main.py"), *argv],
            stdin=subprocess.DEVNULL,
            stdout=out_file,
            stderr=err_file,
            cwd=cwd,
            env=env,
        )
        guard = _Guard(process.pid)
        try:
            code = process.wait()
        finally:
            guard.cancel()
    assert not guard.fired, f"{argv!r} still ran after {HANG_GUARD_S} s"
    stdout = out.read_bytes().decode("utf-8")  # strict: a stray byte fails here
    stderr = err.read_bytes().decode("utf-8")
    peak_kb = int(peak_file.read_text()) if peak_file.exists() else 0
    return code, stdout, stderr, peak_kb * 1024


class _Guard:
    """Kills a process that runs past the hang guard."""

    def __init__(self, pid: int) -> None:
        import threading

        self.fired = False
        self._timer = threading.Timer(HANG_GUARD_S, self._kill, (pid,))
        self._timer.start()

    def _kill(self, pid: int) -> None:
        self.fired = True
        os.kill(pid, signal.SIGKILL)

    def cancel(self) -> None:
        self._timer.cancel()


def answered(argv: list[str], cwd: Path, *, light: bool = True) -> tuple[int, str]:
    code, out, err, peak = _run(argv, cwd)
    context = f"{argv!r}: exit {code}, stderr {err!r}"
    # fit's documented answer when nothing meets the budget: exit 1, one line
    nothing_fits = code == 1 and argv[0] == "fit" and "no scaling of this design" in err
    assert code in (0, 2) or nothing_fits, context
    assert "Traceback" not in err and "\x1b" not in out + err, context
    if code == 2:
        assert len(err.splitlines()) == 1 and err.startswith("error: "), context
        if light:
            assert peak < MAX_RSS_BYTES, f"{context}: peak {peak / 2**20:.0f} MB"
    return code, err


ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-32", "latin-1"]


@settings(max_examples=60, deadline=None, database=None)
@given(
    st.sampled_from([entry.path for entry in ENTRIES]),
    SCALARS,
    st.sampled_from(ENCODINGS),
    st.sampled_from(["validate", "summary"]),
)
def test_hostile_files_in_every_encoding(
    tmp_path_factory: pytest.TempPathFactory, path: str, value: object, encoding: str, command: str
) -> None:
    folder = tmp_path_factory.mktemp("enc")
    text = _hostile_text(path, value, None)
    (folder / "d.resnet.json").write_bytes(text.encode(encoding, errors="surrogatepass"))
    answered([command, "d.resnet.json"], folder)


# hostile values by what an argument takes
NUMBERS = ["", "-1", "0", "1e999", "nan", "inf", "9" * 5000, "0x10", "\u0663", " 7 ", "1_0"]
TEXTS = ["", "\x1b[2J\x1b]0;title\x07", "a\nb", "\u202eevil", "--help", "-", "x" * 5000]
PATHS = ["", "/dev/zero", "FIFO", ".", "missing/folder/x", "a\nb.resnet.json", "\x1b[2J.py"]


def _kind(action: argparse.Action) -> list[str]:
    """The hostile values for an argument, by its name."""
    if action.dest in ("output", "plot"):
        # a device as an output is the FIFO: the same refusal, without risking /dev/null
        return [path for path in PATHS if not path.startswith("/dev/")]
    if action.dest in ("design", "designs", "checkpoint", "init_from"):
        return PATHS
    if action.choices:
        return TEXTS
    if action.dest in ("device", "screenshot"):
        return [*TEXTS, "cuda:99", "meta"]
    return NUMBERS + TEXTS[:3]


def _base(command: str, folder: Path) -> dict[str, list[str]]:
    """A valid value for each argument a command needs, to put the hostile one beside."""
    design, weights = PRESET, str(folder / "w.safetensors")
    outputs = {"render": "out.svg", "export": "out.py", "bundle": "bundle", "open": "out.json"}
    return {
        "design": [design],
        "designs": [design, "resnet18"],
        "checkpoint": [weights],
        "output": ["-o", outputs.get(command, "out.json")],
    }


def _commands() -> Iterator[tuple[str, argparse.ArgumentParser]]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, command in sub.choices.items():
        if name != "gui":  # the desktop app: the Qt tests drive it
            yield name, command


def _cases() -> Iterator[Any]:
    for name, command in _commands():
        for action in command._actions:
            if action.nargs == 0 or isinstance(action, argparse._HelpAction):
                continue
            yield pytest.param(name, action.dest, id=f"{name}-{action.dest}")


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("weights")
    code, _, err, _ = _run(["export", PRESET, "-o", "w.safetensors"], folder)
    assert code == 0, err
    return folder / "w.safetensors"


def _argv(parser: argparse.ArgumentParser, dest: str, value: str, base: dict[str, list[str]]):
    """The command line with ``value`` for ``dest`` and valid values for what else it needs."""
    argv: list[str] = []
    for action in parser._actions:
        if action.option_strings and not (action.required or action.dest == dest):
            continue
        if action.dest == dest:
            given = [value]
        elif action.dest in base:
            given = base[action.dest][-1:] if action.option_strings else base[action.dest]
        else:
            continue
        argv += [action.option_strings[-1], *given] if action.option_strings else given
    if any(action.dest == "force" for action in parser._actions):
        argv.append("--force")
    return argv


@pytest.mark.parametrize(("command", "dest"), list(_cases()))
def test_every_argument_of_every_command(
    command: str, dest: str, weights: Path, tmp_path: Path
) -> None:
    parser = dict(_commands())[command]
    action = next(a for a in parser._actions if a.dest == dest)
    (tmp_path / "w.safetensors").symlink_to(weights)
    os.mkfifo(tmp_path / "FIFO")
    base = _base(command, tmp_path)
    for value in _kind(action):
        argv = [command, *_argv(parser, dest, value, base)]
        # a value that passes every check may go on to import torch (measure, transfer):
        # heavy, yet bounded; the 100 MB bound is for the answers that refuse
        answered(argv, tmp_path, light=command not in ("measure", "transfer"))


@pytest.mark.parametrize(
    "argv",
    [
        ["export", PRESET, "-o", "FIFO", "--format", "py", "--force"],
        ["export", PRESET, "-o", "FIFO", "--format", "safetensors", "--force"],
        ["open", PRESET, "-o", "FIFO", "--force"],
        ["render", PRESET, "-o", "FIFO", "--format", "svg", "--force"],
        ["compare", PRESET, "resnet18", "--plot", "FIFO.svg", "--force"],
    ],
)
def test_a_device_or_pipe_is_never_replaced_by_an_output(argv: list[str], tmp_path: Path) -> None:
    """As root, renaming a file over /dev/null would take the device from the whole machine."""
    import stat

    name = next(arg for arg in argv if arg.startswith("FIFO"))
    os.mkfifo(tmp_path / name)
    _, err = answered(argv, tmp_path)
    assert "not a regular file" in err
    assert stat.S_ISFIFO(os.lstat(tmp_path / name).st_mode)
