"""Measure a design on this machine: latency, throughput, a training step, peak memory.

Timing is ``torch.utils.benchmark``'s: it synchronises the accelerator around each
block and fixes the thread count. Each figure is a median over at least three
timed runs after a warm-up (oneDNN and cuDNN pick their kernels on the first
calls; ``torch.compile`` compiles on the first). Progress is reported and a
cancel request is honoured between runs, so a long training step delays a
cancel by one step at most.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import time
from collections.abc import Callable, Iterator
from typing import Any, cast

import torch
from torch import nn

from designer.core.analysis import Analysis, analyse
from designer.core.design import Design, DesignError
from designer.core.explain import inference_bytes, training_memory
from designer.core.measure import (
    Measurement,
    MeasureSettings,
    Timing,
    cpu_name,
    fingerprint,
    physical_cores,
)
from designer.core.report import human_bytes
from designer.core.torch.build import build
from designer.core.torch.memory import available_bytes
from designer.core.torch.quiet import timer_class

Timer = timer_class()

Progress = Callable[[float, str], None]
Cancelled = Callable[[], bool]

WARMUP_S = 0.5  # at least this long, and at least WARMUP_CALLS calls
WARMUP_CALLS = 3
MIN_RUNS = 3
LATENCY_S = 2.0  # how long to time each figure (longer for calls slower than a third of it)
THROUGHPUT_S = 2.0
TRAIN_S = 3.0
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


class MeasureCancelled(Exception):
    """The caller asked to stop; nothing was measured."""


def resolve_device(requested: str) -> str:
    """The device to measure on, refused in one line when this machine lacks it."""
    if requested == "auto":
        if torch.cuda.is_available():
            return "cuda:0"
        if torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    kind = requested.split(":")[0]
    if kind == "cuda":
        if not torch.cuda.is_available():
            build_kind = "a CPU build" if torch.version.cuda is None else "no GPU visible"
            raise DesignError(
                "--device",
                f"no CUDA device here (torch {torch.__version__}: {build_kind}); use --device cpu",
            )
        index = int(requested.split(":")[1]) if ":" in requested else 0
        if index >= torch.cuda.device_count():
            raise DesignError(
                "--device",
                f"cuda:{index} does not exist: this machine has {torch.cuda.device_count()}",
            )
        return f"cuda:{index}"
    if kind == "mps" and not torch.backends.mps.is_available():
        raise DesignError("--device", "no MPS device here; use --device cpu")
    return requested


def device_name(device: str, threads: int, *, chosen: bool = False) -> str:
    """The device as a person names it; on a CPU with its thread count and why that many."""
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    if device == "mps":
        return "Apple GPU (MPS)"
    why = "as asked" if chosen else "one per physical core"
    return f"{cpu_name()} ({threads} thread{'s' if threads != 1 else ''}, {why})"


def memory_estimate(result: Analysis, settings: MeasureSettings) -> int:
    """The app's estimate of the peak for these settings: training, or inference at the batch."""
    mixed = settings.amp != "none"
    if settings.train:
        kind = settings.device.split(":")[0]
        return training_memory(result, settings.batch, mixed_precision=mixed, device=kind).total
    return inference_bytes(result, settings.batch, mixed_precision=mixed)


def measure(
    design: Design,
    settings: MeasureSettings,
    *,
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
) -> Measurement:
    """Every figure the settings ask for; DesignError (one line) when it cannot run."""
    report = progress or (lambda fraction, text: None)
    device = resolve_device(settings.device)
    settings = settings.resolved(device)
    threads = settings.threads or physical_cores()
    result = analyse(design)
    estimate = memory_estimate(result, settings)
    _check_room(device, estimate, settings, result)
    report(0.0, "building the network")
    phases = ["latency"] + (["throughput"] if settings.batch > 1 else [])
    phases += ["train"] if settings.train else []
    stopper = _Stopper(cancelled, report, len(phases) + int(settings.compile))
    with _threads(device, threads), _out_of_memory(device, settings.batch):
        torch.manual_seed(0)  # the same weights and inputs each time: the same numerics
        model = build(design).to(device)
        if settings.channels_last:
            model = model.to(memory_format=torch.channels_last)
        runner = _Runner(model, result, settings)
        compile_s = runner.compile_time(phases, stopper) if settings.compile else None
        if device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats(device)
        figures: dict[str, Timing] = {}
        for phase in phases:
            stopper.start(phase)
            figures[phase] = runner.time(phase, stopper)
        peak = torch.cuda.max_memory_allocated(device) if device.startswith("cuda") else None
    report(1.0, "done")
    return Measurement(
        design_name=design.name,
        fingerprint=fingerprint(design),
        settings=settings,
        device_name=device_name(device, threads, chosen=bool(settings.threads)),
        torch_version=torch.__version__,
        when=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        latency=figures["latency"],
        throughput=figures.get("throughput"),
        train=figures.get("train"),
        compile_s=compile_s,
        peak_bytes=peak,
        estimate_bytes=estimate if peak is not None else None,
        params=result.params,
        macs=result.macs,
    )


def _check_room(device: str, estimate: int, settings: MeasureSettings, result: Analysis) -> None:
    """Refuse before allocating what the device cannot hold, with both figures and a fix
    that works: a smaller batch only when one fits."""
    if device.startswith("cuda"):
        free: int | None = torch.cuda.mem_get_info(torch.device(device))[0]
    else:
        free = available_bytes() if device == "cpu" else None
    if free is None or estimate <= free:
        return
    what = f"{'training' if settings.train else 'inference'} at batch {settings.batch}"
    needs = f"needs about {human_bytes(estimate)} for {what}; {device} has {human_bytes(free)} free"
    field, fix = _room_fix(result, settings, free)
    raise DesignError(field, f"{needs}: {fix}")


def _room_fix(result: Analysis, settings: MeasureSettings, free: int) -> tuple[str, str]:
    """The field to change and how, for settings whose estimate exceeds ``free`` bytes."""

    def fits(batch: int, train: bool = settings.train) -> bool:
        changed = dataclasses.replace(settings, batch=batch, train=train)
        return memory_estimate(result, changed) <= free

    low, high = 0, settings.batch  # fits(low) once low > 0; not fits(high)
    while high - low > 1:  # the estimate grows with the batch
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    if low:
        return "--batch", f"lower --batch to {low} (the largest that fits)"
    if fits(0):  # the images themselves are too big (the latency is timed at batch 1)
        fix = "lower the input size (input.height, input.width)"
        if settings.batch > 1:
            fix = f"not even batch 1 fits, so {fix}"
        if settings.train and fits(1, train=False):
            fix += ", or measure inference only (without --train)"
        return "input", fix
    return "stages", "even without images it does not fit: make the network smaller"


@contextlib.contextmanager
def _threads(device: str, threads: int) -> Iterator[None]:
    before = torch.get_num_threads()
    if device == "cpu":
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _out_of_memory_error(device: str, batch: int) -> DesignError:
    if batch == 1:  # nothing to lower but the images
        return DesignError(
            "input",
            f"out of memory on {device} at batch 1: lower the input size"
            " (input.height, input.width)",
        )
    return DesignError("--batch", f"out of memory on {device} at batch {batch}: lower --batch")


@contextlib.contextmanager
def _out_of_memory(device: str, batch: int) -> Iterator[None]:
    """An out-of-memory anywhere in the measurement becomes one line, and frees the device."""
    try:
        yield
    except torch.OutOfMemoryError:
        raise _out_of_memory_error(device, batch) from None
    except RuntimeError as exc:
        if "out of memory" not in str(exc).lower():
            raise
        raise _out_of_memory_error(device, batch) from None
    finally:
        if device.startswith("cuda"):
            torch.cuda.empty_cache()


class _Stopper:
    """Progress across phases and the cancel check, called after every timed run."""

    def __init__(self, cancelled: Cancelled | None, report: Progress, phases: int) -> None:
        self._cancelled = cancelled or (lambda: False)
        self._report = report
        self._phases = phases
        self._done = -1
        self._phase = ""
        self._budget = 1.0
        self._spent = 0.0

    def start(self, phase: str, budget_s: float = 1.0) -> None:
        self._done += 1
        self._phase = phase
        self._budget = budget_s
        self._spent = 0.0
        self.check(0.0)

    def budget(self, seconds: float) -> None:
        self._budget = seconds

    def check(self, seconds: float) -> None:
        if self._cancelled():
            raise MeasureCancelled("measurement cancelled")
        self._spent += seconds
        within = min(1.0, self._spent / self._budget) if self._budget else 0.0
        done = max(0, self._done)
        self._report((done + within) / self._phases, f"timing {self._phase}")


class _Runner:
    """The three timed calls, each a closure over inputs made once on the device."""

    def __init__(self, model: nn.Module, result: Analysis, settings: MeasureSettings) -> None:
        self.settings = settings
        self.device = torch.device(settings.device)
        # static shapes: batch 1 and batch N each get their own graph, as deployed models do
        # torch.compile of a Module is an OptimizedModule (a Module); its stub says Callable
        self.model = (
            cast(nn.Module, torch.compile(model, dynamic=False)) if settings.compile else model
        )
        self.params = model
        design = result.design
        shape = (design.input.channels, design.input.height, design.input.width)
        fmt = torch.channels_last if settings.channels_last else torch.contiguous_format
        self.one = torch.randn(1, *shape, device=self.device).to(memory_format=fmt)
        self.batch = torch.randn(settings.batch, *shape, device=self.device).to(memory_format=fmt)
        classes = result.output_shape[0]
        self.targets = torch.randint(0, classes, (settings.batch,), device=self.device)
        self.optimiser = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
        self.scaler = torch.amp.GradScaler(self.device.type) if settings.amp == "fp16" else None

    def _autocast(self) -> Any:
        if self.settings.amp == "none":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=_DTYPES[self.settings.amp])

    def infer(self, images: torch.Tensor) -> None:
        with torch.inference_mode(), self._autocast():
            self.model(images)

    def train_step(self) -> None:
        self.optimiser.zero_grad(set_to_none=True)
        with self._autocast():
            loss = nn.functional.cross_entropy(self.model(self.batch), self.targets)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimiser)
            self.scaler.update()
        else:
            loss.backward()
            self.optimiser.step()

    def call(self, phase: str) -> Callable[[], None]:
        self.model.train(phase == "train")
        if phase == "train":
            return self.train_step
        images = self.one if phase == "latency" else self.batch
        return lambda: self.infer(images)

    def compile_time(self, phases: list[str], stopper: _Stopper) -> float:
        """Seconds of the first call of each phase (each compiles its own graph)."""
        stopper.start("compile")
        started = time.perf_counter()
        for phase in phases:
            self.call(phase)()
            stopper.check(0.0)
        _synchronise(self.device)
        return time.perf_counter() - started

    def time(self, phase: str, stopper: _Stopper) -> Timing:
        fn = self.call(phase)
        one = _warm_up(fn, self.device, stopper)
        target = {"latency": LATENCY_S, "throughput": THROUGHPUT_S, "train": TRAIN_S}[phase]
        run_time = max(target, MIN_RUNS * one)
        stopper.budget(run_time)
        timer = Timer(stmt="fn()", globals={"fn": fn}, num_threads=torch.get_num_threads())
        figures = timer.blocked_autorange(
            callback=lambda number, seconds: stopper.check(seconds), min_run_time=run_time
        )
        images = 1 if phase == "latency" else self.settings.batch
        return Timing(
            median_s=figures.median, iqr_s=figures.iqr, runs=len(figures.times), images=images
        )


def _warm_up(fn: Callable[[], None], device: torch.device, stopper: _Stopper) -> float:
    """Call until the kernels are chosen; returns the last call's seconds."""
    started = time.perf_counter()
    calls = 0
    last = 0.0
    while calls < WARMUP_CALLS or time.perf_counter() - started < WARMUP_S:
        t0 = time.perf_counter()
        fn()
        _synchronise(device)
        last = time.perf_counter() - t0
        calls += 1
        stopper.check(0.0)
    return last


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def measure_in_helper(design_text: str, settings: dict[str, Any], channel: str) -> dict[str, Any]:
    """:func:`measure` in a helper process: progress and cancel through ``channel`` (a folder).

    Returns the measurement as a dict, or ``{"error": line}`` / ``{"cancelled": True}``:
    plain data crosses the process boundary where exceptions may not unpickle.
    """
    from designer.core.io import loads
    from designer.core.measure import FileChannel

    link = FileChannel(channel)
    try:
        result = measure(
            loads(design_text),
            MeasureSettings(**settings),
            progress=link.report,
            cancelled=link.cancelled,
        )
    except MeasureCancelled:
        return {"cancelled": True}
    except DesignError as exc:
        return {"error": str(exc)}
    finally:
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    return result.to_dict()
