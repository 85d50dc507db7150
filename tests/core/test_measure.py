"""`measure` and `fit --max-latency-ms`: through real processes, checked against plain timing.

CPU only (CI has no GPU); the CUDA figures have their own test, skipped without one.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from designer.core.analysis import analyse
from designer.core.design import DesignError
from designer.core.fit import MEASURE_ROUNDS, Budget, fit_measured
from designer.core.io import save
from designer.core.measure import (
    FileChannel,
    MeasureCache,
    Measurement,
    MeasureSettings,
    Timing,
    fingerprint,
    physical_cores,
)
from designer.core.presets import load_preset

ROOT = Path(__file__).resolve().parents[2]
SMALL = "resnet20_cifar"  # a CIFAR ResNet: a few ms per image on any CPU
ATTEMPTS = 3


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args],
        capture_output=True,
        encoding="utf-8",
        timeout=timeout,
        cwd=ROOT,
    )


def small_resnet18(tmp_path: Path) -> Path:
    """torchvision's resnet18 at 64x64: the same network a test can time by hand."""
    path = tmp_path / "r18-64.resnet.json"
    design = load_preset("resnet18")
    save(design.replace(input=design.input.__class__(3, 64, 64)), path)
    return path


def hand_timed_ms(model: torch.nn.Module, images: torch.Tensor, seconds: float = 1.5) -> float:
    """The median of plain wall-clock calls on one thread: what a user would write to check us.

    One thread on both sides: with several, OpenMP's spinning threads make any other
    load on the machine (CI's neighbours) slow a run many times over, and unevenly.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        times = _plain_times(model, images, seconds)
    finally:
        torch.set_num_threads(before)
    times.sort()
    return times[len(times) // 2] * 1000


def _plain_times(model: torch.nn.Module, images: torch.Tensor, seconds: float) -> list[float]:
    with torch.inference_mode():
        for _ in range(5):
            model(images)
        times = []
        started = time.perf_counter()
        while time.perf_counter() - started < seconds or len(times) < 5:
            t0 = time.perf_counter()
            model(images)
            times.append(time.perf_counter() - t0)
    return times


def test_cli_json_matches_hand_timing_of_torchvision(tmp_path: Path) -> None:
    from tests.reference import torchvision_models

    design_file = small_resnet18(tmp_path)
    model = torchvision_models().resnet18().eval()
    failures = []
    for _ in range(ATTEMPTS):  # timing on a shared machine: a busy moment gets a second try
        args = ("measure", str(design_file), "--device", "cpu", "--batch", "4", "--train")
        args += ("--threads", "1")
        done = cli(*args, "--json")
        assert done.returncode == 0, done.stderr
        m = Measurement.from_dict(json.loads(done.stdout))
        assert m.settings == MeasureSettings("cpu", 4, True, threads=1)
        assert m.latency.images == 1 and m.throughput and m.throughput.images == 4
        assert m.train and m.train.runs >= 3 and m.latency.runs >= 3
        assert "(1 thread, as asked)" in m.device_name
        assert m.peak_bytes is None  # CUDA only
        # the same network, torchvision's, timed by hand in this process: the same cost
        by_hand = hand_timed_ms(model, torch.randn(1, 3, 64, 64))
        latency, batch, step = m.latency.median_s, m.throughput.median_s, m.train.median_s
        checks = {
            "latency matches hand timing": 0.5 < latency * 1000 / by_hand < 2.0,
            # a batch of 4 costs more than one image, less than four separate calls
            "batch of 4 between 1x and 6x": latency < batch < 6 * latency,
            "a training step costs more than its forward": step > batch,
        }
        if all(checks.values()):
            return
        failures.append((checks, latency * 1000, by_hand, batch * 1000, step * 1000))
    pytest.fail(f"timings disagree in every attempt: {failures}")


def test_cli_text_report_names_device_and_every_figure() -> None:
    done = cli("measure", SMALL, "--device", "cpu", "--batch", "2")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    cores = physical_cores()
    assert f"({cores} thread{'s' if cores > 1 else ''}, one per physical core)" in lines[0]
    assert lines[0].startswith("ResNet-20") and "cpu, fp32" in lines[0]
    assert any(line.strip().startswith("inference, batch 1:") for line in lines)
    assert any(line.strip().startswith("inference, batch 2:") for line in lines)
    assert not any("training" in line for line in lines)
    assert done.stderr == ""  # no progress on a non-terminal stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--device", "gpu"], "'gpu' is not a device"),
        (["--batch", "0"], "must be between 1 and 4096"),
        (["--batch", "x"], "not a whole number"),
        (["--amp", "fp8"], "invalid choice"),
        (["--threads", "0"], "must be between 1 and 1024"),
        (["--device", "mps"] if not torch.backends.mps.is_available() else ["--device", "x"], ""),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(args: list[str], message: str) -> None:
    done = cli("measure", SMALL, *args)
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1 and message in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_missing_cuda_is_one_line() -> None:
    done = cli("measure", SMALL, "--device", "cuda")
    assert done.returncode == 2
    assert done.stderr.startswith("error: --device: no CUDA device here")
    assert "--device cpu" in done.stderr


def test_a_batch_too_big_for_memory_is_refused_before_allocating() -> None:
    # the timeout is a hang guard, not a figure: the refusal comes from the estimate, before
    # any tensor exists; a child that tries the allocation instead runs on until it is killed
    args = ("measure", "resnet152", "--device", "cpu", "--train", "--batch", "4096")
    done = cli(*args, timeout=30)
    assert done.returncode == 2, done.stderr
    assert "needs about" in done.stderr
    assert re.search(r": lower --batch to [1-9][0-9]* \(the largest that fits\)$", done.stderr)
    assert len(done.stderr.splitlines()) == 1


@pytest.mark.parametrize(
    ("batch", "fix"),
    [
        (["--batch", "1"], ": lower the input size (input.height, input.width)"),
        ([], ": not even batch 1 fits, so lower the input size (input.height, input.width)"),
    ],
)
def test_images_too_big_for_memory_at_batch_1_name_the_input_size(
    tmp_path: Path, batch: list[str], fix: str
) -> None:
    """A smaller batch cannot help when one image does not fit: the input size can."""
    path = tmp_path / "huge-input.resnet.json"
    design = load_preset("resnet18")
    save(design.replace(input=design.input.__class__(3, 65536, 65536)), path)
    done = cli("measure", str(path), "--device", "cpu", *batch, timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1
    assert done.stderr.startswith("error: input: needs about ")
    assert done.stderr.rstrip("\n").endswith(fix)
    assert "--batch" not in done.stderr


def test_cancel_stops_between_runs_and_progress_only_grows(tmp_path: Path) -> None:
    from designer.core.torch.measure import MeasureCancelled, measure

    design = load_preset(SMALL)
    seen: list[float] = []
    result = measure(
        design,
        MeasureSettings("cpu", 2, train=True),
        progress=lambda fraction, text: seen.append(fraction),
    )
    assert seen == sorted(seen) and seen[-1] == 1.0 and 0.0 in seen
    assert result.train is not None
    channel = FileChannel(str(tmp_path))
    calls = 0

    def cancel_later() -> bool:
        nonlocal calls
        calls += 1
        if calls == 5:
            channel.cancel()
        return channel.cancelled()

    with pytest.raises(MeasureCancelled):
        measure(design, MeasureSettings("cpu", 2, train=True), cancelled=cancel_later)
    assert calls == 5  # the check that saw the cancel raised: no timed run after it


def test_helper_entry_returns_plain_data(tmp_path: Path) -> None:
    from designer.core.io import dumps
    from designer.core.torch.measure import measure_in_helper

    text = dumps(load_preset(SMALL))
    bad = measure_in_helper(text, {"device": "cuda:9"}, str(tmp_path))
    assert set(bad) == {"error"} and "cuda" in bad["error"].lower()
    FileChannel(str(tmp_path)).cancel()
    assert measure_in_helper(text, {"device": "cpu", "batch": 1}, str(tmp_path)) == {
        "cancelled": True
    }


def _measurement(name: str, when: str, settings: MeasureSettings, key: str = "x") -> Measurement:
    timing = Timing(0.01, 0.001, 10, 1)
    return Measurement(name, key, settings, "CPU", "2", when, timing)


def test_cache_keeps_per_network_and_settings_and_ignores_damage(tmp_path: Path) -> None:
    cache = MeasureCache(tmp_path / "m")
    design = load_preset(SMALL)
    asked = MeasureSettings()
    assert cache.get(design, asked) is None and cache.all() == []
    first = _measurement(design.name, "2026-01-01T00:00:00+00:00", asked.resolved("cpu"))
    cache.put(design, asked, first)
    assert cache.get(design, asked) == first
    assert cache.get(design, MeasureSettings(train=True)) is None  # other settings
    deeper = design.with_stage(0, depth=design.stages[0].depth + 1)
    assert fingerprint(deeper) != fingerprint(design)
    assert fingerprint(design.replace(name="renamed")) == fingerprint(design)
    assert cache.get(deeper, asked) is None
    assert cache.earlier(deeper, asked) == first  # the same name: an earlier edit
    assert cache.earlier(deeper.replace(name="other"), asked) is None
    for path in (tmp_path / "m").iterdir():
        path.write_text("{not json", encoding="utf-8")
    assert cache.get(design, asked) is None and cache.all() == []


def test_cache_trims_the_oldest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(MeasureCache, "KEEP", 3)
    cache = MeasureCache(tmp_path)
    base = load_preset(SMALL)
    for depth in range(1, 6):
        design = base.with_stage(0, depth=depth)
        cache.put(
            design,
            MeasureSettings(),
            _measurement(base.name, f"2026-01-0{depth}", MeasureSettings()),
        )
        os.utime(cache._path(design, MeasureSettings()), (depth, depth))
    assert len(list(tmp_path.iterdir())) == 3


def fake_latency(design) -> float:
    """Latency that grows faster than MACs (wide layers cost more): the proxy misses at first."""
    result = analyse(design)
    return (result.macs / 1e7) ** 1.3


def test_fit_measured_keeps_only_what_measures_under_the_limit() -> None:
    design = load_preset("resnet50")
    limit = fake_latency(design) * 0.4
    measured: list[float] = []

    def latency_of(candidate) -> float:
        measured.append(fake_latency(candidate))
        return measured[-1]

    found = fit_measured(design, Budget(), limit, latency_of, top=3, measure_top=3)
    assert found, measured
    for c in found:
        assert c.latency_ms == pytest.approx(fake_latency(c.design))
        assert c.latency_ms <= limit and c.binding == "latency"
    assert len(measured) <= 1 + MEASURE_ROUNDS * 3  # the design, then the rounds
    # a MAC limit still binds beside the latency
    macs = analyse(found[-1].design).macs
    capped = fit_measured(design, Budget(max_macs=macs), limit, fake_latency, top=3)
    assert all(analyse(c.design).macs <= macs for c in capped)


def test_fit_measured_finds_fits_where_a_fixed_cost_dominates() -> None:
    """A small network on a CPU: most of its time is per-layer overhead, not MACs.

    Scaling MACs by the latency budget (the first guess) undershoots nothing and
    misses; the line fitted through the measurements must find what fits.
    """
    design = load_preset(SMALL)
    base = analyse(design).macs

    def overhead_bound(candidate) -> float:
        return 8.0 + 2.0 * analyse(candidate).macs / base  # 10 ms for the design itself

    found = fit_measured(design, Budget(), 9.0, overhead_bound, top=3, measure_top=2)
    assert found and all(c.latency_ms is not None and c.latency_ms <= 9.0 for c in found)


def test_fit_measured_rejects_a_non_positive_limit() -> None:
    with pytest.raises(DesignError):
        fit_measured(load_preset(SMALL), Budget(), 0, fake_latency)


def test_cli_fit_by_measured_latency() -> None:
    outputs = []
    for _ in range(ATTEMPTS):  # timing on a shared machine: a busy moment gets another try
        first = cli("measure", SMALL, "--device", "cpu", "--batch", "1", "--json")
        limit = 0.7 * json.loads(first.stdout)["latency"]["median_s"] * 1000
        args = ("--max-latency-ms", f"{limit:.3f}", "--device", "cpu", "--measure-top", "2")
        done = cli("fit", SMALL, *args)
        assert "measuring ResNet-20 (CIFAR-10) itself" in done.stderr
        if done.returncode == 0:
            lines = [line for line in done.stdout.splitlines() if "ms measured" in line]
            assert lines and "latency binds" in done.stdout
            for line in lines:
                assert float(line.rsplit(", ", 1)[1].split()[0]) <= float(f"{limit:.3f}")
            return
        assert done.returncode == 1, done.stderr  # none found: a clean "no scaling" answer
        outputs.append(done.stdout + done.stderr)
    pytest.fail(f"no candidate measured under 70% of the design's latency: {outputs}")


def test_cli_fit_rejects_bad_latency() -> None:
    done = cli("fit", SMALL, "--max-latency-ms", "-3")
    assert done.returncode == 2 and "must be above 0" in done.stderr


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_reports_peak_beside_estimate() -> None:
    done = cli("measure", "resnet50", "--device", "cuda", "--train", "--amp", "bf16", "--json")
    assert done.returncode == 0, done.stderr
    m = Measurement.from_dict(json.loads(done.stdout))
    assert m.peak_bytes and m.estimate_bytes and m.estimate_error is not None
    assert abs(m.estimate_error) < 0.10
