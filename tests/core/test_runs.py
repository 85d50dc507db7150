"""Training runs: the run folder, train.py's command line, checks of the data, live figures.

One test really trains: a CIFAR ResNet-20 bundle on synthetic data, a few steps, through
the exact command line the app runs, in a subprocess; its metrics are parsed as they come.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from designer.core import runs
from designer.core.presets import load_preset
from designer.core.runs import RunError, RunSettings
from tests.image_folder import make_image_folder


@pytest.fixture(scope="module")
def cifar():
    return load_preset("resnet20_cifar")


def test_the_command_is_the_bundles_own_train_py_with_the_settings_flags(tmp_path, cifar):
    settings = RunSettings(
        data="imagefolder",
        data_path=str(tmp_path / "data"),
        epochs=3,
        max_steps=7,
        batch=8,
        lr=0.05,
        workers=2,
        device="cpu",
        amp="bf16",
    )
    cmd = runs.command(tmp_path, settings)
    assert cmd[:2] == [sys.executable, str(tmp_path.resolve() / "bundle" / "train.py")]
    text = " ".join(cmd)
    for flag in (
        f"--output-dir {tmp_path.resolve()}",
        "--epochs 3",
        "--batch-size 8",
        "--workers 2",
        "--max-steps 7",
        "--lr 0.05",
        "--device cpu",
        "--amp bf16",
        f"--data imagefolder --data-path {tmp_path / 'data'}",
    ):
        assert flag in text
    assert "--resume" not in text
    resumed = runs.command(tmp_path, settings, resume=True)
    assert resumed[-2:] == ["--resume", str(tmp_path.resolve() / "last.pt")]
    several = runs.command(tmp_path, RunSettings(processes=4))
    assert several[:6] == [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "4",
    ]
    assert several[6] == str(tmp_path.resolve() / "bundle" / "train.py")
    plain = " ".join(runs.command(tmp_path, RunSettings()))
    assert "--device" not in plain and "--amp" not in plain and "--data" not in plain
    assert "--recipe" not in plain
    more = RunSettings(recipe="imagenet", flags="--label-smoothing 0.1 --auto-augment 'ta_wide'")
    assert runs.command(tmp_path, more, resume=True)[-8:] == [
        "--recipe",
        "imagenet",
        "--label-smoothing",
        "0.1",
        "--auto-augment",
        "ta_wide",
        "--resume",
        str(tmp_path.resolve() / "last.pt"),
    ]


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        ("--epochs 3", "more flags: --epochs is the Epochs field; remove it here"),
        ("-b 8", "more flags: -b is the Batch field; remove it here"),
        ("--output-dir=/tmp", "more flags: --output-dir is the run's folder; remove it here"),
        ("--resume last.pt", "more flags: --resume is what Resume passes; remove it here"),
        ('--lr "0.1', "more flags: No closing quotation in '--lr \"0.1'"),
    ],
)
def test_more_flags_that_contradict_the_fields_are_refused_in_one_line(flags, said):
    with pytest.raises(RunError) as caught:
        RunSettings(flags=flags)
    assert str(caught.value) == said
    with pytest.raises(RunError, match="recipe: 'tiny' is not one of auto, imagenet, cifar"):
        RunSettings(recipe="tiny")


def test_settings_refuse_nonsense_in_one_line():
    with pytest.raises(RunError, match="epochs"):
        RunSettings(epochs=0)
    with pytest.raises(RunError, match="needs a folder"):
        RunSettings(data="cifar10")
    with pytest.raises(RunError, match="device"):
        RunSettings(device="tpu")
    settings = RunSettings(epochs=2, batch=4)
    assert RunSettings.from_dict({**settings.to_dict(), "future": 1}) == settings


def _image_folder(root: Path, classes: int, images: bool = True) -> Path:
    for part in ("train", "val"):
        for c in range(classes):
            folder = root / part / f"class{c}"
            folder.mkdir(parents=True)
            if images:
                (folder / "a.png").write_bytes(b"")
    return root


def test_data_checks_say_what_is_wrong_in_one_line(tmp_path, cifar):
    def check(path: Path, data: str = "imagefolder") -> str:
        with pytest.raises(RunError) as caught:
            runs.check_data(RunSettings(data=data, data_path=str(path)), cifar)
        message = str(caught.value)
        assert "\n" not in message
        return message

    assert "not found" in check(tmp_path / "nowhere")
    (tmp_path / "half" / "train").mkdir(parents=True)
    assert "lacks val/" in check(tmp_path / "half")
    assert "no images" in check(_image_folder(tmp_path / "empty", 10, images=False))
    message = check(_image_folder(tmp_path / "three", 3))
    assert "3 classes" in message and "the design 10" in message
    runs.check_data(
        RunSettings(data="imagefolder", data_path=str(_image_folder(tmp_path / "ten", 10))), cifar
    )
    assert "cifar-100-python" in check(tmp_path / "ten", "cifar100")
    (tmp_path / "c100" / "cifar-100-python").mkdir(parents=True)
    assert "100 classes" in check(tmp_path / "c100", "cifar100")
    runs.check_data(RunSettings(), cifar)  # synthetic data fit any design


def test_the_tail_reader_waits_for_a_partial_last_line(tmp_path):
    path = tmp_path / "metrics.csv"
    reader = runs.TailReader(path)
    assert reader.new_lines() == []  # not there yet
    path.write_text("epoch,step\n1,4")
    assert reader.new_lines() == ["epoch,step"]
    with open(path, "a") as handle:
        handle.write("\n2,8\n")
    assert reader.new_lines() == ["1,4", "2,8"]
    path.write_text("epoch,step\n")  # rewritten shorter (rows of redone epochs dropped)
    assert reader.new_lines() == ["epoch,step"]


def test_run_folders_are_new_and_named_by_time_and_design(tmp_path, cifar):
    a = runs.new_run_folder(tmp_path, cifar)
    b = runs.new_run_folder(tmp_path, cifar)
    assert a != b and a.name.endswith(runs.slug(cifar.name)) and b.name.endswith("-2")
    runs.prepare_run(a, cifar, RunSettings(epochs=2))
    assert (a / "design.resnet.json").is_file()
    listed = runs.list_runs(tmp_path)
    assert [r.folder for r in listed] == [a]  # b has no settings: not a run
    assert listed[0].settings == RunSettings(epochs=2)
    assert listed[0].status == "failed"  # never launched, long ago or not: no pid
    assert runs.list_runs(tmp_path, "another design") == []


def _bundle(folder: Path, design) -> None:
    from designer.core.torch.bundle_writer import write_bundle

    write_bundle(design, runs.bundle_dir(folder))


def _wait(predicate, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError("timed out")
        time.sleep(0.1)


def test_a_tiny_run_trains_through_the_command_line_and_its_figures_are_read(tmp_path, cifar):
    settings = RunSettings(epochs=2, batch=16, synthetic_size=32, print_freq=1, device="cpu")
    folder = runs.new_run_folder(tmp_path, cifar)
    runs.prepare_run(folder, cifar, settings)
    _bundle(folder, cifar)
    process = runs.launch(folder, settings)
    reader = runs.RunReader(folder)
    seen_running = False
    end = time.monotonic() + 90
    while process.poll() is None:
        assert time.monotonic() < end, "timed out"
        reader.update()
        seen_running = seen_running or runs.Run.read(folder).status in ("starting", "running")
        time.sleep(0.1)
    reader.update()
    run = runs.Run.read(folder)
    assert process.returncode == 0 and seen_running
    assert run.status == "finished", run.log_tail()
    assert run.info["exit_code"] == 0 and run.info["train_pid"] != run.info["pid"]
    assert not runs._supervises(os.getpid(), folder)  # a pid that is not its supervisor
    curves = reader.curves
    assert curves.steps_per_epoch == 2 and curves.global_batch == 16
    assert [p.step for p in curves.points] == [1, 2, 3, 4]
    assert [int(r["epoch"]) for r in curves.epochs] == [1, 2]
    assert 0.0 <= curves.best_val_acc() <= 1.0
    assert curves.final()["step"] == 4 and curves.epoch_seconds() > 0
    assert curves.eta_seconds(settings) == 0
    assert (folder / "last.pt").is_file() and (folder / "best.pt").is_file()
    assert runs.Run.read(folder).figures().epochs == curves.epochs
    assert [r.folder for r in runs.list_runs(tmp_path, cifar.name)] == [folder]
    assert not run.can_resume()  # finished: nothing left to train


def test_a_killed_run_is_failed_with_its_logs_last_lines(tmp_path, cifar):
    settings = dataclasses.replace(
        RunSettings(), epochs=50, batch=16, synthetic_size=32, device="cpu"
    )
    folder = runs.new_run_folder(tmp_path, cifar)
    runs.prepare_run(folder, cifar, settings)
    _bundle(folder, cifar)
    process = runs.launch(folder, settings)
    _wait(lambda: runs.Run.read(folder).info.get("train_pid"))
    os.kill(runs.Run.read(folder).info["train_pid"], signal.SIGKILL)
    process.wait(30)
    run = runs.Run.read(folder)
    assert run.status == "failed" and run.info["exit_code"] == -signal.SIGKILL
    assert run.log_tail()[0].startswith("$ ")  # the command it ran, at least
    assert not run.can_resume()  # killed before its first checkpoint


def _run_to_end(folder: Path, settings: RunSettings, resume: bool = False) -> runs.Run:
    process = runs.launch(folder, settings, resume=resume)
    process.wait(120)  # the supervisor's own exit; train.py's is in status.json
    return runs.Run.read(folder)


def test_an_image_folder_of_a_few_pngs_trains(tmp_path, cifar):
    data = make_image_folder(tmp_path / "data")
    two = cifar.replace(num_classes=2)
    settings = RunSettings(
        data="imagefolder", data_path=str(data), epochs=1, batch=8, device="cpu", print_freq=1
    )
    with pytest.raises(RunError, match="2 classes, the design 10"):
        runs.check_data(settings, cifar)
    runs.check_data(settings, two)
    folder = runs.new_run_folder(tmp_path / "runs", two)
    runs.prepare_run(folder, two, settings)
    _bundle(folder, two)
    run = _run_to_end(folder, settings)
    assert run.status == "finished", run.log_tail()
    curves = run.figures()
    assert curves.steps_per_epoch == 3 and len(curves.epochs) == 1  # 24 images, batch 8


def test_a_resumed_run_ends_with_the_weights_of_an_uninterrupted_run(tmp_path, cifar):
    """The first part stops at --max-steps 3, in the middle of epoch 2 (2 steps an epoch)."""
    import torch

    settings = RunSettings(epochs=3, batch=16, synthetic_size=32, device="cpu")
    folders = []
    for _ in range(2):
        folder = runs.new_run_folder(tmp_path, cifar)
        runs.prepare_run(folder, cifar, settings)
        _bundle(folder, cifar)
        folders.append(folder)
    whole, parted = folders
    assert _run_to_end(whole, settings).status == "finished"

    first = _run_to_end(parted, dataclasses.replace(settings, max_steps=3))
    assert first.status == "finished" and first.can_resume() is False  # max steps: done
    assert "stopped at step 3" in " ".join(first.log_tail())
    assert len(first.figures().epochs) == 1  # epoch 2 was cut short: no row yet
    resumed = _run_to_end(parted, settings, resume=True)
    assert resumed.status == "finished" and resumed.info["launches"] == 2

    def weights(folder: Path) -> dict:
        return torch.load(folder / "last.pt", map_location="cpu", weights_only=False)["model"]

    a, b = weights(whole), weights(parted)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [r["step"] for r in resumed.figures().epochs] == [2, 4, 6]


def test_out_of_memory_is_recognised_in_the_log():
    assert runs.out_of_memory(["torch.OutOfMemoryError: CUDA out of memory. Tried to allocate"])
    assert not runs.out_of_memory(["error: --device cuda: no CUDA device here"])


def test_two_processes_train_under_torchrun_on_a_cpu(tmp_path, cifar):
    settings = RunSettings(
        epochs=1, batch=8, synthetic_size=32, device="cpu", processes=2, print_freq=1
    )
    folder = runs.new_run_folder(tmp_path, cifar)
    runs.prepare_run(folder, cifar, settings)
    _bundle(folder, cifar)
    run = _run_to_end(folder, settings)
    assert run.status == "finished", run.log_tail(12)
    curves = run.figures()
    assert curves.global_batch == 16 and curves.steps_per_epoch == 2  # 32 images, 2 x 8
    assert len(curves.epochs) == 1 and [p.step for p in curves.points] == [1, 2]


def test_a_long_log_is_read_quickly_from_its_end_and_thinned(tmp_path, monkeypatch):
    line = "epoch {e}/90 [####....................] {d}/500  loss 2.3026  acc 10.00%  512 img/s\n"
    lines = [line.format(e=1 + i // 500, d=1 + i % 500) for i in range(40_000)]
    (tmp_path / "train.log").write_text("".join(lines))
    began = time.perf_counter()
    reader = runs.RunReader(tmp_path)
    reader.update()
    assert time.perf_counter() - began < 2.0  # linear, not quadratic, in the lines
    points = reader.curves.points
    assert points[-1].step == 40_000 and len(points) <= runs.RunReader.MAX_POINTS
    assert reader.curves.steps_per_epoch == 500

    monkeypatch.setattr(runs.RunReader, "LOG_LIMIT", 1000)  # a long log: only its end
    reader = runs.RunReader(tmp_path)
    reader.update()
    assert 0 < len(reader.curves.points) < 20 and reader.curves.points[-1].step == 40_000
    with open(tmp_path / "train.log", "a") as handle:
        handle.write(line.format(e=81, d=1))
    reader.update()
    assert reader.curves.points[-1].step == 40_001


def test_device_memory_is_read_from_progress_lines_and_from_metrics(tmp_path):
    """train.py's progress line ends with the device's peak (`mem 1.50 GiB`); older lines
    without it still parse; an epoch's row carries max_memory_bytes."""
    log = (
        "epoch 1/2 [######..................] 1/4  loss 2.3026  acc 10.00%  512 img/s\n"
        "epoch 1/2 [############............] 2/4  loss 2.2000  acc 12.50%  520 img/s"
        "  mem 1.50 GiB\n"
    )
    (tmp_path / "train.log").write_text(log)
    reader = runs.RunReader(tmp_path)
    reader.update()
    first, second = reader.curves.points
    assert first.memory_bytes is None and second.memory_bytes == 3 << 29  # 1.5 GiB
    assert reader.curves.memory_bytes() == 3 << 29

    (tmp_path / "train.log").write_text("")  # a run whose lines say nothing: the csv's figure
    (tmp_path / "metrics.csv").write_text(
        "epoch,step,train_loss,val_acc,max_memory_bytes\n1,4,2.1,0.25,123456789\n"
    )
    reader = runs.RunReader(tmp_path)
    reader.update()
    assert reader.curves.memory_bytes() == 123456789


def _measured(design, device: str, batch: int, amp: str = "none", train: bool = True):
    from designer.core.measure import Measurement, MeasureSettings, Timing, fingerprint

    settings = MeasureSettings(device=device, batch=batch, train=train, amp=amp)
    step = Timing(0.1, 0.001, 5, batch)
    return Measurement(
        design.name,
        fingerprint(design),
        settings,
        "GPU",
        "2",
        "2026-01-01T00:00:00",
        step,
        train=step if train else None,
    )


def test_an_out_of_memory_run_is_offered_the_largest_batch_measured_to_fit(cifar):
    other = cifar.replace(num_classes=100)
    measured = [
        _measured(cifar, "cuda:0", 64),
        _measured(cifar, "cuda:0", 128),
        _measured(cifar, "cuda:0", 512, train=False),  # inference only: says nothing
        _measured(cifar, "cuda:0", 256, amp="bf16"),  # another precision
        _measured(cifar, "cpu", 1024),  # another device
        _measured(other, "cuda:0", 1024),  # another network
    ]
    found = runs.fitted_batch(measured, cifar, RunSettings(device="cuda", batch=300))
    assert found is not None and found.settings.batch == 128
    auto = runs.fitted_batch(measured, cifar, RunSettings(device="auto", amp="bf16"))
    assert auto is not None and auto.settings.batch == 256
    assert runs.fitted_batch(measured, cifar, RunSettings(device="mps")) is None


def test_alive_runs_are_found_whatever_design_they_train(tmp_path, cifar):
    settings = RunSettings(device="cpu")
    folders = []
    for design in (cifar, cifar.replace(name="Another")):
        folder = runs.new_run_folder(tmp_path, design)
        runs.prepare_run(folder, design, settings)
        (folder / "bundle").mkdir()
        (folder / "bundle" / "train.py").write_text("import time\ntime.sleep(60)\n")
        folders.append((folder, runs.launch(folder, settings)))
    try:
        deadline = time.monotonic() + 20
        while len(runs.alive_runs(tmp_path)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert {r.folder for r in runs.alive_runs(tmp_path)} == {f for f, _p in folders}
        assert runs.Run.read(folders[1][0]).design() == cifar.replace(name="Another")
    finally:
        for folder, process in folders:
            runs.stop(folder)
            process.wait(timeout=20)
    assert runs.alive_runs(tmp_path) == []


def test_stop_never_signals_a_process_that_took_a_dead_runs_pid(tmp_path, cifar):
    """status.json names a pid the run no longer has (the machine rebooted, say): now a
    stranger's. Stop leaves it alone."""
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        folder = runs.new_run_folder(tmp_path, cifar)
        runs.prepare_run(folder, cifar, RunSettings())
        (folder / "status.json").write_text(
            f'{{"started": 1, "pid": {stranger.pid}, "train_pid": {stranger.pid}}}'
        )
        assert runs.stop(folder) is False
        time.sleep(0.2)
        assert stranger.poll() is None  # still running: no SIGTERM reached it
        assert runs.Run.read(folder).status == "stopped"  # not ours: the run is not alive
    finally:
        stranger.kill()
        stranger.wait(10)
