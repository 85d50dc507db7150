"""Training runs of a design: the run folder, the exact train.py command, live figures.

The app trains with the design's own training bundle (``train.py``, written by
``designer.core.torch.bundle_writer``): what it trains is exactly what the user
would train by hand. Pure: no Qt, no torch; the bundle is written elsewhere (it
needs torch) and train.py runs in its own process.

A run is a folder under a runs root, ``<root>/<YYYYmmdd-HHMMSS>-<slug>/``::

    design.resnet.json  the design as it was when the run started
    settings.json       the RunSettings
    bundle/             the training bundle (train.py, model.py, weights ...)
    train.log           train.py's stdout and stderr, appended across resumes
    metrics.csv         train.py's per-epoch figures (--output-dir is the run folder)
    last.pt, best.pt    train.py's checkpoints
    status.json         pid, start, end and exit code of the latest launch
    stop                present when the user asked the run to stop

train.py runs under a small supervisor (``python -c SUPERVISOR``) in its own
session, so it outlives the app: the supervisor writes train.py's output to
train.log, and its exit code and end time to status.json, whoever is watching.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime
import io
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from designer.core.design import MAX_CLASSES, Design, DesignError
from designer.core.io import atomic_write_bytes, dumps, load
from designer.core.measure import Measurement, fingerprint

DATA_KINDS = ("synthetic", "imagefolder", "cifar10", "cifar100")
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("none", "bf16", "fp16")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
CIFAR_FOLDERS = {"cifar10": ("cifar-10-batches-py", 10), "cifar100": ("cifar-100-python", 100)}
STATUSES = ("starting", "running", "finished", "failed", "stopped")
RECIPES = ("auto", "imagenet", "cifar")  # train.py's --recipe
# train.py flags the run sets itself, and from what (a second value would contradict it)
OWN_FLAGS = {
    **dict.fromkeys(("--output-dir", "--out"), "the run's folder"),
    **dict.fromkeys(("--resume",), "what Resume passes"),
    **dict.fromkeys(("--epochs",), "the Epochs field"),
    **dict.fromkeys(("--batch-size", "-b", "--batch"), "the Batch field"),
    **dict.fromkeys(("--workers", "-j"), "the Workers field"),
    **dict.fromkeys(("--print-freq", "--log-interval"), "the Log every field"),
    **dict.fromkeys(("--data", "--data-path", "--synthetic-size"), "the Data fields"),
    **dict.fromkeys(("--max-steps",), "the Max steps field"),
    **dict.fromkeys(("--lr",), "the Learning rate field"),
    **dict.fromkeys(("--device",), "the Device field"),
    **dict.fromkeys(("--amp", "--amp-dtype"), "the Precision field"),
    **dict.fromkeys(("--recipe",), "the Recipe field"),
}
DESIGN_FILE = "design.resnet.json"  # the run's copy of the design it trains
START_GRACE_S = 60.0  # a launch whose supervisor never wrote its pid: failed after this


class RunError(ValueError):
    """A run that cannot start, said in one line (bad data folder, class mismatch...)."""


class ClassMismatch(RunError):
    """The data have ``found`` classes, the design another number."""

    def __init__(self, message: str, found: int) -> None:
        super().__init__(message)
        self.found = found


@dataclass(frozen=True)
class RunSettings:
    """What the user chose in the Train tab; ``command`` turns it into train.py's flags."""

    data: str = "synthetic"  # one of DATA_KINDS
    data_path: str = ""  # imagefolder: holds train/ and val/; cifar: the local copy's root
    epochs: int = 1
    max_steps: int = 0  # 0: no limit
    batch: int = 64
    lr: float = 0.0  # 0: train.py's default for the recipe
    workers: int = 0  # data-loading processes (0: in train.py's process)
    device: str = "auto"  # one of DEVICES: auto lets train.py choose (cuda if any)
    amp: str = "none"  # one of PRECISIONS
    synthetic_size: int = 0  # training samples of synthetic data (0: train.py's 1024)
    print_freq: int = 5  # steps between progress lines (the live curve's resolution)
    processes: int = 1  # above 1: torchrun, one process per GPU (Gloo processes on a CPU)
    recipe: str = "auto"  # one of RECIPES: train.py's augmentation family and defaults
    flags: str = ""  # more train.py flags, as typed in a shell ("--label-smoothing 0.1")

    def __post_init__(self) -> None:
        if self.data not in DATA_KINDS:
            raise RunError(f"data: {self.data!r} is not one of {', '.join(DATA_KINDS)}")
        if self.device not in DEVICES:
            raise RunError(f"device: {self.device!r} is not one of {', '.join(DEVICES)}")
        if self.amp not in PRECISIONS:
            raise RunError(f"precision: {self.amp!r} is not one of {', '.join(PRECISIONS)}")
        for name in ("epochs", "batch", "print_freq", "processes"):
            if int(getattr(self, name)) < 1:
                raise RunError(f"{name}: must be at least 1")
        for name in ("max_steps", "workers", "synthetic_size"):
            if int(getattr(self, name)) < 0:
                raise RunError(f"{name}: must not be negative")
        if self.lr < 0:
            raise RunError("learning rate: must not be negative (0: the recipe's)")
        if self.data != "synthetic" and not self.data_path:
            raise RunError(f"data: {self.data} needs a folder")
        if self.recipe not in RECIPES:
            raise RunError(f"recipe: {self.recipe!r} is not one of {', '.join(RECIPES)}")
        self.num_classes()  # the flags refused now, in one line, rather than by train.py later

    def extra_flags(self) -> list[str]:
        """``flags`` split as a shell would; RunError for a flag the tab's fields set."""
        try:
            words = shlex.split(self.flags)
        except ValueError as exc:
            raise RunError(f"more flags: {exc} in {self.flags!r}") from None
        for word in words:
            name = word.split("=", 1)[0]
            if name in OWN_FLAGS:
                raise RunError(f"more flags: {name} is {OWN_FLAGS[name]}; remove it here")
        return words

    def num_classes(self) -> int | None:
        """``--num-classes N`` among the more flags: train.py then trains a new classifier."""
        words = self.extra_flags()
        for i, word in enumerate(words):
            name, equals, value = word.partition("=")
            if name != "--num-classes":
                continue
            if not equals:
                value = words[i + 1] if i + 1 < len(words) else ""
            try:
                count = int(value)
            except ValueError:
                count = 0
            if not 1 <= count <= MAX_CLASSES:
                raise RunError(f"more flags: --num-classes needs a class count, not {value!r}")
            return count
        return None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSettings:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


# ---------------------------------------------------------------------------
# Checks of the data, before anything is written


def check_data(settings: RunSettings, design: Design) -> None:
    """Raise RunError (one line) when the data cannot train this design."""
    if settings.data == "synthetic":
        return
    root = Path(settings.data_path).expanduser()
    if not root.is_dir():
        raise RunError(f"data folder {root}: not found")
    if settings.data in CIFAR_FOLDERS:
        folder, classes = CIFAR_FOLDERS[settings.data]
        if not (root / folder).is_dir():
            raise RunError(
                f"{root} holds no {folder}/: point to the folder that holds the local "
                f"{settings.data.upper()} copy (torchvision's layout)"
            )
        _same_classes(classes, design, settings.data.upper(), settings)
        return
    missing = [part for part in ("train", "val") if not (root / part).is_dir()]
    if missing:
        raise RunError(
            f"data folder {root} lacks {' and '.join(p + '/' for p in missing)}: "
            "an ImageFolder holds train/ and val/, one subfolder per class in each"
        )
    counts = {}
    for part in ("train", "val"):
        class_folders = sorted(p for p in (root / part).iterdir() if p.is_dir())
        if not class_folders:
            raise RunError(f"{root / part}: no class folders (one subfolder per class)")
        if not any(_has_image(c) for c in class_folders):
            raise RunError(f"{root / part}: no images found ({', '.join(IMAGE_SUFFIXES[:3])}...)")
        counts[part] = len(class_folders)
    if counts["train"] != counts["val"]:
        raise RunError(f"{root}: train/ has {counts['train']} class folders, val/ {counts['val']}")
    _same_classes(counts["train"], design, str(root / "train"), settings)


def _has_image(folder: Path) -> bool:
    for _, _, files in os.walk(folder):
        if any(name.lower().endswith(IMAGE_SUFFIXES) for name in files):
            return True
    return False


def _same_classes(found: int, design: Design, what: str, settings: RunSettings) -> None:
    """The words are train.py's own (``class_mismatch``), which checks the same again."""
    wanted = settings.num_classes()
    if wanted is not None and wanted != found:
        raise RunError(
            f"--num-classes {wanted}: {what} has {found} classes; use --num-classes {found}"
        )
    if wanted is None and found != design.num_classes:
        raise ClassMismatch(
            f"{what} has {found} classes, the design {design.num_classes}: add --num-classes "
            f"{found} (a new classifier, the other weights kept) or use a design with {found} "
            "classes",
            found,
        )


# ---------------------------------------------------------------------------
# The run folder


def slug(text: str) -> str:
    """A short, file-safe name part: 'ResNet-50 (mine)' -> 'resnet-50-mine'."""
    cleaned = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return cleaned[:40] or "design"


def new_run_folder(root: str | os.PathLike[str], design: Design) -> Path:
    """Make ``<root>/<timestamp>-<slug>/`` (a new name even within one second)."""
    base = Path(root)
    base.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    name = f"{stamp}-{slug(design.name)}"
    for n in range(1000):
        folder = base / (name if n == 0 else f"{name}-{n + 1}")
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return folder
    raise RunError(f"{base}: could not make a new run folder")


def prepare_run(folder: Path, design: Design, settings: RunSettings) -> None:
    """Write the design copy and settings.json into a new run folder (the bundle comes next)."""
    atomic_write_bytes(folder / DESIGN_FILE, dumps(design).encode(), backup=False)
    info = {"design_name": design.name, "settings": settings.to_dict()}
    _write_json(folder / "settings.json", info)


def design_copy(folder: Path) -> Design | None:
    """The run's copy of its design; None when it is missing or damaged (never raises)."""
    try:
        return load(Path(folder) / DESIGN_FILE)
    except (DesignError, OSError, ValueError, RecursionError):
        return None


def bundle_dir(folder: Path) -> Path:
    return folder / "bundle"


def command(
    folder: Path, settings: RunSettings, *, resume: bool = False, python: str | None = None
) -> list[str]:
    """The exact train.py command line for ``settings`` (the bundle's own train.py).

    Several processes run it under torchrun (``python -m torch.distributed.run``);
    ``--batch-size`` is then per process, as in train.py.
    """
    folder = Path(folder).resolve()
    launcher = [python or sys.executable]
    if settings.processes > 1:  # torchrun, as `python -m`: the same interpreter
        launcher += ["-m", "torch.distributed.run", "--standalone"]
        launcher += ["--nproc_per_node", str(settings.processes)]
    args = [
        *launcher,
        str(bundle_dir(folder) / "train.py"),
        "--output-dir",
        str(folder),
        "--epochs",
        str(settings.epochs),
        "--batch-size",
        str(settings.batch),
        "--workers",
        str(settings.workers),
        "--print-freq",
        str(settings.print_freq),
    ]
    if settings.data != "synthetic":
        args += ["--data", settings.data, "--data-path", str(Path(settings.data_path).expanduser())]
    elif settings.synthetic_size:
        args += ["--synthetic-size", str(settings.synthetic_size)]
    if settings.max_steps:
        args += ["--max-steps", str(settings.max_steps)]
    if settings.lr:
        args += ["--lr", repr(float(settings.lr))]
    if settings.device != "auto":
        args += ["--device", settings.device]
    if settings.amp != "none":
        args += ["--amp", settings.amp]
    if settings.recipe != "auto":
        args += ["--recipe", settings.recipe]
    args += settings.extra_flags()
    if resume:
        args += ["--resume", str(folder / "last.pt")]
    return args


# The supervisor: runs train.py with its output in train.log, forwards SIGTERM/SIGINT
# to it, and records the exit code in status.json; train.py dies with it (Linux).
SUPERVISOR = r"""
import json, os, signal, subprocess, sys, time
run, cmd = sys.argv[1], sys.argv[2:]
path = os.path.join(run, "status.json")
def update(**kw):
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        data = {}
    data.update(kw)
    tmp = path + ".%d.tmp" % os.getpid()
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1)
    os.replace(tmp, path)
def die_with_parent():
    try:
        import ctypes
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)
    except Exception:
        pass
update(pid=os.getpid())
log = open(os.path.join(run, "train.log"), "ab", buffering=0)
env = dict(os.environ, PYTHONUNBUFFERED="1")
try:
    child = subprocess.Popen(
        cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        cwd=os.path.join(run, "bundle"), env=env,
        preexec_fn=die_with_parent if sys.platform.startswith("linux") else None,
    )
except OSError as exc:
    log.write(("error: could not start train.py: %s\n" % exc).encode())
    update(ended=time.time(), exit_code=127)
    sys.exit(127)
update(train_pid=child.pid)
def forward(sig, frame):
    try:
        child.send_signal(sig)
    except OSError:
        pass
signal.signal(signal.SIGTERM, forward)
signal.signal(signal.SIGINT, forward)
if os.path.exists(os.path.join(run, "stop")):  # asked to stop before our pid was known
    forward(signal.SIGTERM, None)
code = child.wait()
update(ended=time.time(), exit_code=code)
"""


def launch(folder: Path, settings: RunSettings, *, resume: bool = False) -> subprocess.Popen[bytes]:
    """Start train.py for the run in ``folder`` (its bundle written) and return the supervisor.

    The caller should ``poll()`` the returned process now and then (no zombie is left);
    the run goes on if the caller exits.
    """
    folder = Path(folder).resolve()
    if not (bundle_dir(folder) / "train.py").is_file():
        raise RunError(f"{folder}: no bundle/train.py")
    if resume and not (folder / "last.pt").is_file():
        raise RunError("no checkpoint (last.pt) to resume from: the run stopped before one")
    with contextlib.suppress(FileNotFoundError):
        (folder / "stop").unlink()
    cmd = command(folder, settings, resume=resume)
    old = read_json(folder / "status.json")
    launches = int(old.get("launches", 0)) + 1
    _write_json(
        folder / "status.json",
        {"started": time.time(), "command": cmd, "launches": launches, "resumed": resume},
    )
    with open(folder / "train.log", "ab") as log:
        log.write(f"$ {' '.join(cmd)}\n".encode())
    kwargs: dict[str, Any] = {}
    if os.name == "posix":
        kwargs["start_new_session"] = True  # the app's terminal or session ending spares it
    else:  # pragma: no cover - Windows
        kwargs["creationflags"] = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)
    return subprocess.Popen(
        [sys.executable, "-c", SUPERVISOR, str(folder), *cmd],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        close_fds=True,
        **kwargs,
    )


def stop(folder: Path) -> bool:
    """Ask the run to stop (SIGTERM to its supervisor, which passes it on); False if not alive.

    The checkpoint of the last finished epoch (or --max-steps) stays: Resume continues there.
    """
    folder = Path(folder)
    (folder / "stop").write_bytes(b"")
    status = read_json(folder / "status.json")
    sent = False
    for key in ("pid", "train_pid"):
        pid = status.get(key)
        if isinstance(pid, int) and pid_alive(pid) and _supervises(pid, folder):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGTERM)
                sent = True
            if sent:
                break  # the supervisor forwards it
    return sent


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, ended but not yet reaped, counts as gone)."""
    if pid <= 0:
        return False
    if os.name == "nt":  # pragma: no cover - os.kill(pid, 0) would terminate it there
        return _windows_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    with contextlib.suppress(OSError, IndexError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat[stat.rindex(")") + 2] in "ZX":
            return False
    return True


def _windows_alive(pid: int) -> bool:  # pragma: no cover - Windows only, untested
    import ctypes

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return False
    code = ctypes.c_ulong()
    try:
        ok = kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
    finally:
        kernel32.CloseHandle(handle)
    return bool(ok) and code.value == 259  # STILL_ACTIVE


def _supervises(pid: int, folder: Path) -> bool:
    """Whether ``pid`` is this run's supervisor (or its train.py), not a process that took
    the pid since: signalling a stranger would be worse than not stopping.

    Where /proc tells (Linux), both command lines name the run folder (train.py's as
    its --output-dir).
    """
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc, or not ours to read: trust the pid
    return str(Path(folder).resolve()).encode() in cmdline.split(b"\0")


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_json(path: Path, data: dict[str, Any]) -> None:
    atomic_write_bytes(path, json.dumps(data, indent=1).encode(), backup=False)


# ---------------------------------------------------------------------------
# Reading a run's figures as they come


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


@dataclass
class Point:
    """One progress line of train.py: the running mean of the epoch so far, at ``step``."""

    step: int
    epoch: int
    loss: float
    acc: float  # a fraction
    images_per_s: float
    memory_bytes: int | None = None  # the device's peak since the epoch began (newer train.py)


GIB = 1 << 30
PROGRESS = re.compile(
    r"epoch (\d+)/(\d+) \[[#.]*\] (\d+)/(\d+)\s+loss ([-+\d.eE]+|nan|inf)\s+"
    r"acc\s+([-+\d.]+)%\s+([\d,.]+) img/s(?:\s+mem\s+([\d.]+) GiB)?"
)
STEPS_LINE = re.compile(r"global batch (\d+), (\d+) steps/epoch")


class TailReader:
    """Reads the lines appended to a file since last time; a partial last line waits."""

    def __init__(self, path: Path, first_read_limit: int | None = None) -> None:
        self.path = Path(path)
        self.offset = 0
        self.rewound = False  # set when the file was rewritten shorter: read from the start
        self._rest = b""
        # a long file's first read starts this many bytes from its end, at a line's start
        self._limit = first_read_limit
        self._skip_partial = False

    def new_lines(self) -> list[str]:
        try:
            with open(self.path, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                if size < self.offset:  # rewritten (train.py's keep_through): start over
                    self.offset, self._rest, self.rewound = 0, b"", True
                    raise _Rewound
                if self._limit is not None and self.offset == 0 and size > self._limit:
                    self.offset, self._skip_partial = size - self._limit, True
                self._limit = None
                handle.seek(self.offset)
                data = handle.read()
        except _Rewound:
            return self.new_lines()
        except OSError:
            return []
        self.offset += len(data)
        if self._skip_partial and b"\n" in data:  # the line cut by the first read's start
            data, self._skip_partial = data[data.index(b"\n") + 1 :], False
        elif self._skip_partial:
            return []
        data = self._rest + data
        lines = data.split(b"\n")
        self._rest = lines.pop()  # b"" after a complete line
        return [line.decode("utf-8", "replace").rstrip("\r") for line in lines]


class _Rewound(Exception):
    pass


@dataclass
class Curves:
    """A run's figures so far: progress points from train.log, epoch rows from metrics.csv."""

    points: list[Point] = field(default_factory=list)
    epochs: list[dict[str, float]] = field(default_factory=list)
    steps_per_epoch: int = 0
    global_batch: int = 0
    log_tail: list[str] = field(default_factory=list)  # the last lines of train.log

    @property
    def step(self) -> int:
        last = [p.step for p in self.points] + [int(r.get("step", 0)) for r in self.epochs]
        return max(last, default=0)

    def best_val_acc(self) -> float | None:
        values = [r["val_acc"] for r in self.epochs if r.get("val_acc") is not None]
        return max(values) if values else None

    def final(self) -> dict[str, float]:
        return dict(self.epochs[-1]) if self.epochs else {}

    def images_per_s(self) -> float | None:
        """The newest rate: the last epoch's mean once it ended, else the last progress line's."""
        row = self.epochs[-1] if self.epochs else {}
        if row.get("images_per_s") and (not self.points or row.get("step", 0) >= self.step):
            return row["images_per_s"]
        return self.points[-1].images_per_s if self.points else None

    def memory_bytes(self) -> int | None:
        """The device's newest peak: the last progress line's, else the last epoch's row."""
        if self.points and self.points[-1].memory_bytes is not None:
            return self.points[-1].memory_bytes
        value = self.epochs[-1].get("max_memory_bytes") if self.epochs else None
        return int(value) if value else None

    def epoch_seconds(self) -> float | None:
        if self.epochs and self.epochs[-1].get("seconds"):
            return self.epochs[-1]["seconds"]
        rate = self.images_per_s()
        if rate and self.steps_per_epoch and self.global_batch:
            return self.steps_per_epoch * self.global_batch / rate
        return None

    def eta_seconds(self, settings: RunSettings) -> float | None:
        """Seconds of training left at the latest rate (evaluation not counted)."""
        rate = self.images_per_s()
        batch = self.global_batch or settings.batch * settings.processes
        if not rate or not self.steps_per_epoch:
            return None
        total = settings.epochs * self.steps_per_epoch
        if settings.max_steps:
            total = min(total, settings.max_steps)
        return max(0, total - self.step) * batch / rate


class RunReader:
    """Follows one run's train.log and metrics.csv incrementally (cheap to call often)."""

    TAIL = 12
    LOG_LIMIT = 4 << 20  # a longer train.log is read from its last 4 MiB (epochs: all of them)
    MAX_POINTS = 4000  # beyond this, every other progress point is dropped (the plot's detail)

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.curves = Curves()
        self._log = TailReader(self.folder / "train.log", self.LOG_LIMIT)
        self._metrics = TailReader(self.folder / "metrics.csv")
        self._header: list[str] | None = None

    def update(self, log: bool = True) -> bool:
        """Read what was appended (train.log too unless ``log`` is False); True if anything."""
        new = False
        lines = self._metrics.new_lines()
        if self._metrics.rewound:  # rows of redone epochs dropped: read it afresh
            self._metrics.rewound = False
            self._header, self.curves.epochs = None, []
        for line in lines:
            if not line.strip():
                continue
            if self._header is None:
                self._header = next(csv.reader(io.StringIO(line)))
                continue
            values = next(csv.reader(io.StringIO(line)), [])
            if len(values) != len(self._header):
                continue
            row = {k: _float(v) for k, v in zip(self._header, values, strict=True)}
            self.curves.epochs.append({k: v for k, v in row.items() if v is not None})
            new = True
        for line in self._log.new_lines() if log else ():
            new = True
            self.curves.log_tail = ([*self.curves.log_tail, line])[-self.TAIL :]
            if match := STEPS_LINE.search(line):
                self.curves.global_batch = int(match.group(1))
                self.curves.steps_per_epoch = int(match.group(2))
            if match := PROGRESS.search(line):
                epoch, _, done, total = (int(match.group(i)) for i in range(1, 5))
                step = (epoch - 1) * total + done
                points = self.curves.points
                if points and points[-1].step >= step:  # resumed from an earlier checkpoint
                    points[:] = [p for p in points if p.step < step]
                points.append(
                    Point(
                        step,
                        epoch,
                        float(match.group(5)),
                        float(match.group(6)) / 100,
                        float(match.group(7).replace(",", "")),
                        round(float(match.group(8)) * GIB) if match.group(8) else None,
                    )
                )
                self.curves.steps_per_epoch = self.curves.steps_per_epoch or total
                if len(points) > self.MAX_POINTS:  # keeps the newest
                    points[:] = points[::-2][::-1]
        return new


# ---------------------------------------------------------------------------
# Runs


@dataclass
class Run:
    """One run folder: its settings, status and figures (read on construction)."""

    folder: Path
    design_name: str
    settings: RunSettings | None
    info: dict[str, Any]  # status.json

    @classmethod
    def read(cls, folder: Path) -> Run:
        folder = Path(folder)
        saved = read_json(folder / "settings.json")
        try:
            settings = RunSettings.from_dict(saved.get("settings", {}))
        except (RunError, TypeError, ValueError):
            settings = None
        return cls(
            folder, str(saved.get("design_name", "")), settings, read_json(folder / "status.json")
        )

    def refresh(self) -> None:
        self.info = read_json(self.folder / "status.json")

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def status(self) -> str:
        """starting, running, finished, failed or stopped."""
        info = self.info
        stopped = self.stop_asked
        if info.get("ended") is None:
            pid = info.get("pid")
            if isinstance(pid, int):
                if pid_alive(pid) and _supervises(pid, self.folder):
                    return "running"
            elif time.time() - float(info.get("started") or 0) < START_GRACE_S:
                return "starting"
            return "stopped" if stopped else "failed"  # killed with its supervisor
        if stopped:
            return "stopped"
        return "finished" if info.get("exit_code") == 0 else "failed"

    @property
    def stop_asked(self) -> bool:
        """Whether the user asked the run to stop (it may still be saving its checkpoint)."""
        return (self.folder / "stop").exists()

    @property
    def alive(self) -> bool:
        return self.status in ("starting", "running")

    @property
    def started(self) -> float | None:
        value = self.info.get("started")
        return float(value) if isinstance(value, int | float) else None

    def figures(self, log: bool = True) -> Curves:
        """The figures so far: metrics.csv's epochs, and train.log's progress unless not asked."""
        reader = RunReader(self.folder)
        reader.update(log)
        return reader.curves

    def design(self) -> Design | None:
        """The design as it was when the run started (None when its copy is unreadable)."""
        return design_copy(self.folder)

    def log_tail(self, lines: int = 5) -> list[str]:
        try:
            text = (self.folder / "train.log").read_bytes()[-8192:].decode("utf-8", "replace")
        except OSError:
            return []
        return [line for line in text.splitlines() if line.strip()][-lines:]

    def can_resume(self) -> bool:
        """Stopped or failed with a checkpoint: Resume continues (a finished run has no more)."""
        has = (self.folder / "last.pt").is_file() and self.settings is not None
        return has and self.status in ("stopped", "failed")


OUT_OF_MEMORY = ("CUDA out of memory", "OutOfMemoryError", "MPS backend out of memory")


def out_of_memory(lines: list[str]) -> bool:
    """Whether a run's last log lines say the device ran out of memory."""
    return any(word in line for line in lines for word in OUT_OF_MEMORY)


def list_runs(root: str | os.PathLike[str], design_name: str | None = None) -> list[Run]:
    """The runs under ``root``, newest first; only ``design_name``'s when given."""
    base = Path(root)
    try:
        folders = [p for p in base.iterdir() if (p / "settings.json").is_file()]
    except OSError:
        return []
    runs = [Run.read(p) for p in folders]
    if design_name is not None:
        runs = [r for r in runs if r.design_name == design_name]
    return sorted(runs, key=lambda r: (r.started or 0, r.name), reverse=True)


def alive_runs(root: str | os.PathLike[str]) -> list[Run]:
    """Every run under ``root`` still training, whichever design it trains."""
    return [run for run in list_runs(root) if run.alive]


def fitted_batch(
    measurements: Iterable[Measurement], design: Design, settings: RunSettings
) -> Measurement | None:
    """The largest-batch training step measured for this very network on the run's kind of
    device and precision: what an out-of-memory message can offer instead.

    A run on "auto" trains on an accelerator when there is one, so an out-of-memory
    there is matched against CUDA or MPS measurements.
    """
    mine = fingerprint(design)
    kinds = ("cuda", "mps") if settings.device == "auto" else (settings.device,)
    fitting = [
        m
        for m in measurements
        if m.fingerprint == mine
        and m.train is not None
        and m.settings.amp == settings.amp
        and m.settings.device.split(":")[0] in kinds
    ]
    return max(fitting, key=lambda m: m.settings.batch, default=None)
