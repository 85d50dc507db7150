"""Stopping the bundle's train.py with a signal (the app's Stop button), and the memory it reports.

SIGTERM or Ctrl-C stops training at a step, leaves last.pt there, and --resume ends with
the weights an uninterrupted run ends with, bit for bit. The runs are real processes
(synthetic data, the tiny design of test_train_script), signalled once their log shows a
few steps; every wait is bounded, so a run that hangs fails its test instead.
"""

from __future__ import annotations

import contextlib
import csv
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType, TracebackType

import pytest
import torch

from designer.core import runs
from designer.core.torch.bundle_writer import write_bundle
from tests.bundle_module import imported_train
from tests.core.test_train_script import TINY, assert_same_tensors, load_ckpt

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")

# train.py's flags as the app passes them (runs.command): 256 samples in batches of 16,
# 16 steps an epoch; one progress line a step
SETTINGS = runs.RunSettings(
    epochs=2, batch=16, workers=0, synthetic_size=256, print_freq=1, device="cpu"
)
FLAGS = ["--epochs", "2", "--batch-size", "16", "--workers", "0", "--print-freq", "1"]
FLAGS += ["--synthetic-size", "256", "--device", "cpu"]
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
# two processes of 16 steps an epoch; they may agree to stop every 2nd step (--print-freq)
DDP_FLAGS = ["--epochs", "2", "--batch-size", "16", "--workers", "1", "--print-freq", "2"]
DDP_FLAGS += ["--synthetic-size", "512", "--device", "cpu", "--print-checksum"]
STOPPED = re.compile(
    r"^stopped at step (\d+) \(epoch (\d+), batch (\d+)/(\d+)\); continue with --resume (.+)$",
    re.MULTILINE,
)
CHECKSUM = re.compile(r"(rank \d) checksum ([0-9a-f]{64})")
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


class Running:
    """A process whose output goes to a file the test reads as it grows; killed on exit."""

    def __init__(self, cmd: list[str], cwd: Path, log: Path) -> None:
        self.log = log
        with open(log, "wb") as handle:  # the process has its own copy
            self.proc = subprocess.Popen(
                cmd,
                cwd=cwd,
                stdout=handle,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=ENV,
            )

    def __enter__(self) -> Running:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.proc.poll() is None:  # a failed test: SIGTERM (torchrun passes it on), then KILL
            self.proc.terminate()
            try:
                self.proc.wait(40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, pattern: str, timeout: float = 60.0) -> None:
        end = time.monotonic() + timeout
        while not re.search(pattern, self.text(), re.MULTILINE):
            if self.proc.poll() is not None or time.monotonic() > end:
                raise AssertionError(f"never saw {pattern!r}:\n{self.text()[-3000:]}")
            time.sleep(0.02)

    def send(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def finish(self, timeout: float = 30.0) -> int:
        """The exit code; a run still going after ``timeout`` seconds fails the test."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            tail = self.text()[-3000:]
            raise AssertionError(f"still running after {timeout} s:\n{tail}") from None


def run_to_end(cmd: list[str], cwd: Path, timeout: float = 120.0) -> str:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=ENV)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc.stdout


def metrics(folder: Path) -> list[dict[str, str]]:
    if not (folder / "metrics.csv").exists():
        return []
    with open(folder / "metrics.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def stopped_where(log: str, steps: int) -> tuple[int, int, int, Path]:
    """(step, epochs done, batch, checkpoint) from the one 'stopped at' line, which agree."""
    (found,) = STOPPED.findall(log)
    step, epoch, batch, total, path = found
    assert int(total) == steps and int(step) == (int(epoch) - 1) * steps + int(batch), found
    return int(step), int(epoch) - 1, int(batch), Path(path)


def wait_until_blocked_on_a_fifo(pid: int, timeout: float = 5.0) -> None:
    """Until ``pid`` waits for a reader of a FIFO: at once where Linux's wchan tells, else
    ``timeout`` seconds (a few steps and a checkpoint take far less)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/wchan").read_text() == "wait_for_partner":
                return
        time.sleep(0.05)


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


def train_py(*args: str) -> list[str]:
    return [sys.executable, "train.py", *args]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("stop")
    write_bundle(TINY, folder, seed=0)
    return folder


@pytest.fixture(scope="module")
def whole(bundle: Path) -> tuple[Path, str, str]:
    """Two uninterrupted epochs: (output folder, checksum, log) that stopped runs must match."""
    out = bundle / "whole"
    log = run_to_end(train_py(*FLAGS, "--out", str(out), "--print-checksum"), bundle)
    return out, dict(CHECKSUM.findall(log))["rank 0"], log


@pytest.fixture(scope="module")
def train_module(bundle: Path) -> Iterator[ModuleType]:
    """The bundle's train.py imported in-process (as in test_train_script)."""
    with imported_train(bundle, "stop_train") as module:
        yield module


def assert_same_run(a: Path, b: Path) -> None:
    whole, pieces = load_ckpt(a / "last.pt"), load_ckpt(b / "last.pt")
    for key in ("model", "optimizer", "lr_scheduler", "epoch", "step", "best_acc", "rng"):
        assert_same_tensors(whole[key], pieces[key], key)


# ---------------------------------------------------------------------------
# One process


def test_sigterm_stops_at_a_step_and_the_resumed_run_ends_bit_identical(
    bundle: Path, whole: tuple[Path, str, str]
) -> None:
    out = bundle / "stopped"
    with Running(train_py(*FLAGS, "--out", str(out)), bundle, bundle / "stopped.log") as run:
        run.wait_for(r"^epoch 1/2 \[[#.]+\] 3/16 ")
        run.send(signal.SIGTERM)
        code = run.finish()
        log = run.text()
    assert code == 128 + signal.SIGTERM, log
    step, epochs_done, batch, path = stopped_where(log, 16)
    assert 3 <= step < 32 and path == out / "last.pt" and "Traceback" not in log
    ckpt = load_ckpt(out / "last.pt")
    assert (ckpt["epoch"], ckpt["batch_in_epoch"], ckpt["step"]) == (epochs_done, batch, step)
    assert len(metrics(out)) == epochs_done  # a stopped epoch has no row yet

    log = run_to_end(
        train_py(*FLAGS, "--out", str(out), "--resume", str(out / "last.pt"), "--print-checksum"),
        bundle,
    )
    assert dict(CHECKSUM.findall(log))["rank 0"] == whole[1]
    assert_same_run(whole[0], out)
    rows = metrics(out)
    assert [(r["epoch"], r["step"]) for r in rows] == [("1", "16"), ("2", "32")]


def test_stop_through_the_apps_supervisor_leaves_a_stopped_resumable_run(tmp_path: Path) -> None:
    """runs.stop: SIGTERM to the supervisor, which passes it on to train.py. (The resume is
    the one of the test above: the same train.py, flags and checkpoint.)"""
    folder = runs.new_run_folder(tmp_path, TINY)
    runs.prepare_run(folder, TINY, SETTINGS)
    write_bundle(TINY, runs.bundle_dir(folder), seed=0)
    process = runs.launch(folder, SETTINGS)
    try:
        end = time.monotonic() + 60
        while not re.search(r"^epoch 1/2 \[[#.]+\] 3/16 ", _read(folder / "train.log"), re.M):
            assert time.monotonic() < end and process.poll() is None, _read(folder / "train.log")
            time.sleep(0.02)
        assert runs.stop(folder)
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    run = runs.Run.read(folder)
    assert run.status == "stopped" and run.info["exit_code"] == 128 + signal.SIGTERM
    log = (folder / "train.log").read_text()
    step = stopped_where(log, 16)[0]
    assert run.can_resume() and load_ckpt(folder / "last.pt")["step"] == step
    assert "Traceback" not in log


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_second_signal_ends_a_stuck_stop_at_once(bundle: Path, sig: int) -> None:
    """The checkpoint's temporary file is a FIFO no one reads: saving it blocks for ever, as
    on a hung network drive. The second signal acts as if train.py had no handler."""
    out = bundle / f"stuck-{sig}"
    with Running(train_py(*FLAGS, "--out", str(out)), bundle, bundle / f"stuck-{sig}.log") as run:
        run.wait_for(r"^epoch 1/2 \[[#.]+\] 3/16 ")
        fifo = out / f".last.pt.{run.proc.pid}.tmp"  # atomic_save's name for it
        os.mkfifo(fifo)
        run.send(sig)
        wait_until_blocked_on_a_fifo(run.proc.pid)
        assert run.proc.poll() is None, run.text()
        run.send(sig)
        code = run.finish(10)
        log = run.text()
    if sig == signal.SIGTERM:
        assert code == -signal.SIGTERM, log
        fifo.unlink()
    else:  # KeyboardInterrupt: atomic_save removed its temporary file on the way out
        assert code == 130 and log.rstrip().endswith("interrupted"), log
        assert not fifo.exists()
    assert not (out / "last.pt").exists() and "Traceback" not in log
    assert not STOPPED.search(log)


@pytest.mark.parametrize("when", ["at once", "after the first line"])
def test_a_signal_before_training_ends_the_run_promptly(bundle: Path, when: str) -> None:
    out = bundle / f"early-{when.replace(' ', '-')}"
    with Running(train_py(*FLAGS, "--out", str(out)), bundle, out.with_suffix(".log")) as run:
        if when == "at once":
            time.sleep(0.2)  # importing torch: no handler yet, SIGTERM's default ends it
        else:
            run.wait_for("^recipe: ")  # the handler is in place
        run.send(signal.SIGTERM)
        code = run.finish(15)
        log = run.text()
    assert "Traceback" not in log
    if when == "at once":
        assert code in (-signal.SIGTERM, 128 + signal.SIGTERM), log
    else:  # before the first step, or (on a quick machine) at it
        assert code == 128 + signal.SIGTERM, log
        assert "stopped before the first step" in log or STOPPED.search(log), log


def test_the_first_signal_puts_the_previous_handlers_back(train_module: ModuleType) -> None:
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Python's, whatever ran before
    stop = train_module.StopRequest().install()
    try:
        assert signal.getsignal(signal.SIGINT) == stop._handle
        stop.pid = -1  # as in a forked data-loading worker: not its business
        signal.raise_signal(signal.SIGINT)
        assert stop.signum == 0 and signal.getsignal(signal.SIGINT) == stop._handle
        stop.pid = os.getpid()
        signal.raise_signal(signal.SIGINT)
        assert stop.signum == signal.SIGINT
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        assert signal.getsignal(signal.SIGTERM) == before[signal.SIGTERM]
        with pytest.raises(KeyboardInterrupt):  # the second: Python's own handler
            signal.raise_signal(signal.SIGINT)
        assert stop.signum == signal.SIGINT and stop.exit_code(stop.signum) == 130
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


def _args(train_module: ModuleType, out: Path, *more: str) -> object:
    flags = ["--synthetic-size", "64", "--batch-size", "16", "--workers", "0"]
    return train_module.parse_args([*flags, "--epochs", "2", "--out", str(out), *more])


def test_a_signal_during_evaluation_stops_after_the_epochs_checkpoint(
    train_module: ModuleType,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    stop = train_module.StopRequest()
    evaluate = train_module.evaluate

    def signalled(*args: object, **kwargs: object) -> object:
        stop.signum = signal.SIGTERM  # what the handler does
        return evaluate(*args, **kwargs)

    monkeypatch.setattr(train_module, "evaluate", signalled)
    d = train_module.setup_distributed("cpu")
    code = train_module.train(_args(train_module, tmp_path), d, stop)
    assert code == 143
    out = capsys.readouterr().out
    assert f"stopped at step 4 (epoch 2, batch 0/4); continue with --resume {tmp_path}" in out
    assert "epoch 1/2 done" in out and "epoch 2/2 [" not in out
    ckpt = load_ckpt(tmp_path / "last.pt")
    assert (ckpt["epoch"], ckpt["batch_in_epoch"], ckpt["step"]) == (1, 0, 4)
    assert len(metrics(tmp_path)) == 1


def test_a_signal_before_the_first_step_writes_nothing(
    train_module: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = train_module.setup_distributed("cpu")
    stop = train_module.StopRequest()
    stop.signum = signal.SIGINT
    assert train_module.train(_args(train_module, tmp_path / "fresh"), d, stop) == 130
    assert "stopped before the first step: no checkpoint" in capsys.readouterr().out
    assert not (tmp_path / "fresh" / "last.pt").exists()

    # resumed: the checkpoint it resumed from is where to continue
    first = tmp_path / "first"
    assert train_module.train(_args(train_module, first, "--max-steps", "3"), d) == 0
    saved = (first / "last.pt").read_bytes()
    capsys.readouterr()
    args = _args(train_module, tmp_path / "second", "--resume", str(first / "last.pt"))
    assert train_module.train(args, d, stop) == 130
    assert f"stopped at step 3 (epoch 1, batch 3/4); continue with --resume {first}" in (
        capsys.readouterr().out
    )
    assert (first / "last.pt").read_bytes() == saved
    assert not (tmp_path / "second" / "last.pt").exists()


# ---------------------------------------------------------------------------
# torchrun: SIGTERM to the launcher, which passes it to each process's group


def test_sigterm_to_torchrun_stops_every_process_at_the_same_step(bundle: Path) -> None:
    ref = [*TORCHRUN, "train.py", *DDP_FLAGS, "--out", str(bundle / "ddp-whole")]
    reference = dict(CHECKSUM.findall(run_to_end(ref, bundle)))
    out = bundle / "ddp-stopped"
    cmd = [*TORCHRUN, "train.py", *DDP_FLAGS, "--out", str(out)]
    with Running(cmd, bundle, bundle / "ddp-stopped.log") as run:
        run.wait_for(r"^epoch 1/2 \[[#.]+\] 2/16 ")
        run.send(signal.SIGTERM)
        run.finish(60)  # torchrun's own code: 1, after its SignalException
        log = run.text()
    step, epochs_done, batch, _ = stopped_where(log, 16)  # rank 0's line
    assert step % 2 == 0 and 2 <= step < 32, step  # the ranks agree every 2nd step
    # the data-loading workers ignored the signal and were ended by their process
    assert "DataLoader worker" not in log, log
    assert not re.search(r"^\[rank\d+\]: Traceback", log, re.MULTILINE), log
    ckpt = load_ckpt(out / "last.pt")
    assert ckpt["world_size"] == 2 and len(ckpt["rng"]) == 2
    assert (ckpt["epoch"], ckpt["batch_in_epoch"], ckpt["step"]) == (epochs_done, batch, step)
    resumed = [*cmd, "--resume", str(out / "last.pt")]
    sums = dict(CHECKSUM.findall(run_to_end(resumed, bundle)))
    assert sums == reference and len(set(sums.values())) == 1


# ---------------------------------------------------------------------------
# Device memory: the progress line's last field and metrics.csv's last column


def test_the_progress_line_ends_with_the_memory_and_reads_as_before(
    train_module: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    progress = train_module.Progress(1, 90, enabled=True)
    progress.update(125, 500, 2.3026, 0.1, 1512.0, int(1.234 * 2**30))
    progress.update(126, 500, 2.3026, 0.1, 1512.0, None)
    with_memory, without = capsys.readouterr().out.splitlines()
    assert with_memory == (
        "epoch 2/90 [######..................] 125/500  loss 2.3026  acc 10.00%  "
        "1,512 img/s  mem 1.23 GiB"
    )
    assert without.endswith("1,512 img/s")
    for line, done in ((with_memory, "125"), (without, "126")):  # the app reads both
        match = runs.PROGRESS.search(line)
        assert match is not None
        assert match.groups()[:7] == ("2", "90", done, "500", "2.3026", "10.00", "1,512")


def test_a_run_reports_its_memory_each_line_and_each_epoch(whole: tuple[Path, str, str]) -> None:
    out, _, log = whole
    lines = [line for line in log.splitlines() if runs.PROGRESS.search(line)]
    assert len(lines) == 32
    memory = [float(re.search(r"  mem (\d+\.\d\d) GiB$", line).group(1)) for line in lines]
    assert all(0.01 < gib < 64 for gib in memory)
    rows = metrics(out)
    assert list(rows[0])[-1] == "max_memory_bytes"
    peaks = [int(row["max_memory_bytes"]) for row in rows]
    assert len(peaks) == 2 and all(2**20 < peak < 2**36 for peak in peaks)
    assert [e["max_memory_bytes"] for e in runs.Run.read(out).figures(log=False).epochs] == peaks


def test_the_memory_meter_never_waits_and_knows_what_it_can(train_module: ModuleType) -> None:
    meter = train_module.MemoryMeter(torch.device("cpu"))
    meter.reset()
    first = meter.read()
    assert first is not None and first > 2**20 and meter.read() >= first
    assert train_module.MemoryMeter(torch.device("meta")).read() is None
    if torch.cuda.is_available():
        meter = train_module.MemoryMeter(torch.device("cuda"))
        block = torch.empty(64 << 20, dtype=torch.uint8, device="cuda")
        high = meter.read()
        assert high is not None and high >= 64 << 20
        del block
        meter.reset()
        assert meter.read() < high


def test_an_older_metrics_csv_gains_the_memory_column_and_still_reads(
    train_module: ModuleType, tmp_path: Path
) -> None:
    old = list(train_module.MetricsLog.FIELDS[:-1])
    assert train_module.MetricsLog.FIELDS[-1] == "max_memory_bytes"
    with open(tmp_path / "metrics.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(old)
        for epoch in (1, 2, 3):
            writer.writerow([epoch, 4 * epoch, 0.1, 1.3, 0.4, 1.2, 0.5, 1.0, "", "", 900.0, 0.5])
    log = train_module.MetricsLog(tmp_path, tensorboard=False)
    log.keep_through(2)  # a resume from epoch 2's checkpoint: today's columns, epoch 3 gone
    row = dict.fromkeys(train_module.MetricsLog.FIELDS, 0.5)
    log.write({**row, "epoch": 3, "step": 12, "ema_val_acc": "", "max_memory_bytes": 12345})
    with open(tmp_path / "metrics.csv", newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    assert tuple(reader.fieldnames or ()) == train_module.MetricsLog.FIELDS
    assert [(r["epoch"], r["max_memory_bytes"]) for r in rows] == [
        ("1", ""),
        ("2", ""),
        ("3", "12345"),
    ]
    assert rows[0]["images_per_s"] == "900.0"
    epochs = runs.Run.read(tmp_path).figures(log=False).epochs
    assert [e["epoch"] for e in epochs] == [1, 2, 3] and epochs[1]["val_acc"] == 0.5
    assert "max_memory_bytes" not in epochs[0] and epochs[2]["max_memory_bytes"] == 12345


def test_nothing_is_left_running(bundle: Path) -> None:
    """No train.py of this module outlived its test (data-loading workers included)."""
    if not Path("/proc").is_dir():
        pytest.skip("no /proc")
    time.sleep(0.5)
    mine = []
    for stat in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            cmdline = stat.read_bytes()
        except OSError:
            continue
        if str(bundle).encode() in cmdline:
            mine.append(cmdline)
    assert not mine


def test_main_called_in_process_gives_the_callers_signal_handlers_back(
    train_module: ModuleType, tmp_path: Path
) -> None:
    """A notebook or a test calling main() keeps its own Ctrl-C afterwards."""
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        flags = ["--synthetic-size", "32", "--batch-size", "16", "--workers", "0"]
        out = str(tmp_path / "out")
        assert train_module.main([*flags, "--epochs", "1", "--max-steps", "1", "--out", out]) == 0
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        assert signal.getsignal(signal.SIGTERM) == before[signal.SIGTERM]
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)
