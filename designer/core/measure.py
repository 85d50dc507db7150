"""What a measurement of a design on real hardware is: its settings, its figures, its cache key.

Pure (no torch): the app shows and caches figures, and ``fit`` ranks by them, without
importing torch; :mod:`designer.core.torch.measure` takes them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from designer.core.design import Design, DesignError
from designer.core.io import atomic_write_bytes, design_to_dict
from designer.core.report import human_bytes

AMP = ("none", "bf16", "fp16")
MAX_BATCH = 4096
MAX_THREADS = 1024
DEFAULT_BATCH = {"cpu": 8, "cuda": 64, "mps": 32}  # a CPU saturates at small batches
_DEVICE = re.compile(r"auto|cpu|mps|cuda(:[0-9]{1,2})?")
FORMAT = 1  # of a cached measurement's JSON
NOISY = 0.10  # an IQR above this share of the median: not a figure to rely on


@dataclass(frozen=True)
class MeasureSettings:
    """How to measure: the same settings, the same figures (they key the cache)."""

    device: str = "auto"  # auto: CUDA when present, else MPS, else the CPU
    batch: int = 0  # images per call for throughput and training; 0: the device's default
    train: bool = False  # also time a training step (forward, backward, SGD step)
    amp: str = "none"  # autocast precision: none (fp32), bf16 or fp16
    channels_last: bool = False
    compile: bool = False  # torch.compile the network first (its compile time is reported)
    threads: int = 0  # CPU threads; 0: one per physical core

    def __post_init__(self) -> None:
        if not isinstance(self.device, str) or not _DEVICE.fullmatch(self.device):
            raise DesignError(
                "--device",
                f"'{str(self.device)[:30]}' is not a device: use cpu, cuda, cuda:N or mps",
            )
        if not isinstance(self.batch, int) or not 0 <= self.batch <= MAX_BATCH:
            raise DesignError("--batch", f"must be between 1 and {MAX_BATCH}")
        if not isinstance(self.threads, int) or not 0 <= self.threads <= MAX_THREADS:
            raise DesignError("--threads", f"must be between 1 and {MAX_THREADS}")
        if self.amp not in AMP:
            raise DesignError("--amp", f"'{str(self.amp)[:30]}' is not one of {', '.join(AMP)}")

    def resolved(self, device: str) -> MeasureSettings:
        """These settings on a concrete ``device``, with its default batch filled in."""
        kind = device.split(":")[0]
        return dataclasses.replace(self, device=device, batch=self.batch or DEFAULT_BATCH[kind])

    def describe(self) -> str:
        parts = [self.device, "fp32" if self.amp == "none" else f"{self.amp} autocast"]
        if self.channels_last:
            parts.append("channels_last")
        if self.compile:
            parts.append("compiled")
        return ", ".join(parts)


@dataclass(frozen=True)
class Timing:
    """One timed call, repeated: the median is the figure, the IQR its spread."""

    median_s: float
    iqr_s: float
    runs: int
    images: int  # images per call

    @property
    def images_per_s(self) -> float:
        return self.images / self.median_s

    @property
    def spread(self) -> float:
        """The IQR relative to the median: under a few percent is a stable figure."""
        return self.iqr_s / self.median_s


@dataclass(frozen=True)
class Measurement:
    """Figures of one design on one device with one set of settings."""

    design_name: str
    fingerprint: str
    settings: MeasureSettings  # resolved: a concrete device and batch
    device_name: str  # "AMD EPYC (2 threads, one per physical core)", "NVIDIA H100 80GB HBM3"
    torch_version: str
    when: str  # ISO 8601, UTC
    latency: Timing  # inference at batch 1
    throughput: Timing | None = None  # inference at settings.batch (None when it is 1)
    train: Timing | None = None  # one training step at settings.batch
    compile_s: float | None = None  # the first compiled call (compile included)
    peak_bytes: int | None = None  # the device's peak allocation (CUDA only)
    estimate_bytes: int | None = None  # the app's estimate for the same settings
    params: int | None = None  # the design's parameters and multiply-adds (the app's Compare
    macs: int | None = None  # plot puts measured designs against them; None in older caches)

    @property
    def estimate_error(self) -> float | None:
        """(estimate - measured) / measured: +10% means the estimate is 10% too high."""
        if self.peak_bytes and self.estimate_bytes is not None:
            return (self.estimate_bytes - self.peak_bytes) / self.peak_bytes
        return None

    @property
    def best_throughput(self) -> float:
        """Inference images/s at the measured batch (the batch-1 figure when that is all)."""
        return (self.throughput or self.latency).images_per_s

    def lines(self) -> list[str]:
        """The report the CLI prints and the app shows, one figure per line."""
        s = self.settings
        out = [
            f"{self.design_name} on {self.device_name}: {s.describe()}, torch {self.torch_version}"
        ]
        if self.compile_s is not None:
            out.append(f"  compile:              {self.compile_s:.1f} s (first call)")
        out.append(_timing_line("inference, batch 1", self.latency, "per image"))
        if self.throughput:
            out.append(_timing_line(f"inference, batch {s.batch}", self.throughput, "per batch"))
        if self.train:
            out.append(_timing_line(f"training,  batch {s.batch}", self.train, "per step"))
        if self.peak_bytes is not None:
            what = "training" if s.train else f"inference at batch {s.batch}"
            line = f"  peak memory ({what}): {human_bytes(self.peak_bytes)} measured"
            if self.estimate_bytes is not None and self.estimate_error is not None:
                line += (
                    f"; estimate {human_bytes(self.estimate_bytes)} ({self.estimate_error:+.1%})"
                )
            out.append(line)
        noisy = [t for t in (self.latency, self.throughput, self.train) if t and t.spread > NOISY]
        if noisy:
            out.append(
                f"  note: a spread over {NOISY:.0%} means the machine was busy; close other work"
                " and measure again for a figure to rely on"
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain data: it crosses from the helper process to the app, which never imports torch
        (``torch.__version__`` is a ``TorchVersion``, whose unpickling would import it)."""
        data = dataclasses.asdict(self)
        data["torch_version"] = str(self.torch_version)
        data["format"] = FORMAT
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Measurement:
        """The inverse of ``to_dict``; raises ValueError on anything else (a stale cache)."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError("not a measurement of this format")
        try:
            fields = {k: v for k, v in data.items() if k != "format"}
            fields["settings"] = MeasureSettings(**fields["settings"])
            for key in ("latency", "throughput", "train"):
                if fields.get(key) is not None:
                    fields[key] = Timing(**fields[key])
            return cls(**fields)
        except (TypeError, KeyError, DesignError) as exc:
            raise ValueError(f"not a measurement: {exc}") from None


def _timing_line(label: str, timing: Timing, unit: str) -> str:
    ms = timing.median_s * 1000
    iqr = timing.iqr_s * 1000
    return (
        f"  {label + ':':<21} {ms:9.2f} ms {unit} (IQR {iqr:.2f} ms, {timing.spread:.1%},"
        f" {timing.runs} runs)  {timing.images_per_s:,.1f} images/s"
    )


def fingerprint(design: Design) -> str:
    """What the network is, not what it is called: two designs with the same layers share it."""
    data = design_to_dict(design)
    data.pop("name", None)
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def cache_key(design: Design, settings: MeasureSettings, device_name: str) -> str:
    """One file per (network, device, settings)."""
    text = json.dumps([fingerprint(design), dataclasses.asdict(settings), device_name])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def physical_cores() -> int:
    """Physical cores this process may run on: the thread count that measures best.

    Hyper-threads share a core's vector units, so torch runs no faster on them and
    its timings get noisier; Linux says which logical CPUs share a core.
    """
    try:
        allowed = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)
    cores = set()
    for cpu in allowed:
        topology = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
        try:
            package = (topology / "physical_package_id").read_text().strip()
            core = (topology / "core_id").read_text().strip()
        except OSError:
            return len(allowed)
        cores.add((package, core))
    return max(1, len(cores))


def cpu_name() -> str:
    """The processor's model name, as /proc/cpuinfo says it ("CPU" where it does not)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip() or "CPU"
    except OSError:
        pass
    import platform

    return platform.processor() or "CPU"


class MeasureCache:
    """Measurements kept on disk, one small JSON file per (network, settings).

    The app shows a design's figures when they exist, and an earlier edit's (greyed,
    with its date) when the design has changed since; a damaged file is ignored.
    """

    KEEP = 500  # files; the oldest go first

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, design: Design, settings: MeasureSettings) -> Path:
        text = json.dumps([fingerprint(design), dataclasses.asdict(settings)])
        return self.folder / f"{hashlib.sha256(text.encode('utf-8')).hexdigest()[:24]}.json"

    def put(self, design: Design, settings: MeasureSettings, result: Measurement) -> None:
        """Keep ``result`` under the settings it was asked with (``settings``, unresolved)."""
        data = {"asked": dataclasses.asdict(settings), **result.to_dict()}
        text = json.dumps(data).encode("utf-8")
        atomic_write_bytes(self._path(design, settings), text, backup=False)
        self._trim()

    def get(self, design: Design, settings: MeasureSettings) -> Measurement | None:
        """This very network's figures with these settings, if measured."""
        return self._read(self._path(design, settings))

    def earlier(self, design: Design, settings: MeasureSettings) -> Measurement | None:
        """The newest figures of a design of the same name with these settings (an earlier edit)."""
        asked = dataclasses.asdict(settings)
        best: Measurement | None = None
        for path in self._files():
            result = self._read(path, asked)
            if (
                result
                and result.design_name == design.name
                and (not best or result.when > best.when)
            ):
                best = result
        return best

    def all(self) -> list[Measurement]:
        """Every kept measurement, newest first (the Compare dock plots them)."""
        found = [m for m in (self._read(p) for p in self._files()) if m]
        return sorted(found, key=lambda m: m.when, reverse=True)

    def _files(self) -> list[Path]:
        try:
            return [p for p in self.folder.iterdir() if p.suffix == ".json"]
        except OSError:
            return []

    @staticmethod
    def _read(path: Path, asked: dict[str, Any] | None = None) -> Measurement | None:
        try:
            if path.stat().st_size > 64 * 1024:
                return None
            data = json.loads(path.read_text(encoding="utf-8"))
            if asked is not None and data.get("asked") != asked:
                return None
            data.pop("asked", None)
            return Measurement.from_dict(data)
        except (OSError, ValueError, AttributeError):
            return None

    def _trim(self) -> None:
        files = self._files()
        if len(files) <= self.KEEP:
            return
        files.sort(key=lambda p: p.stat().st_mtime)
        for path in files[: len(files) - self.KEEP]:
            path.unlink(missing_ok=True)


class FileChannel:
    """Progress and a cancel request between two processes, through a folder.

    A helper process cannot be handed a Qt signal or a threading.Event; a file
    it polls between timed runs works across processes and start methods alike.
    """

    def __init__(self, folder: str) -> None:
        self.folder = Path(folder)

    def report(self, fraction: float, text: str) -> None:
        tmp = self.folder / "progress.tmp"
        tmp.write_text(f"{fraction:.4f} {text}", encoding="utf-8")
        os.replace(tmp, self.folder / "progress")

    def progress(self) -> tuple[float, str]:
        try:
            fraction, _, text = (
                (self.folder / "progress").read_text(encoding="utf-8").partition(" ")
            )
            return float(fraction), text
        except (OSError, ValueError):
            return 0.0, ""

    def cancel(self) -> None:
        (self.folder / "cancel").touch()

    def cancelled(self) -> bool:
        return (self.folder / "cancel").exists()
