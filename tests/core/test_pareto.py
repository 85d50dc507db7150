"""The Pareto front of cost against accuracy, and each trained design's best val top-1.

The front is checked against hand-worked examples (and, on random points, against the
definition); the trained designs are read from run folders written by the Train tab's
own functions, with metrics.csv rows in train.py's columns (``MetricsLog.FIELDS``).
"""

from __future__ import annotations

import ast
import csv
import dataclasses
import os
import random
from pathlib import Path

import pytest

from designer.core import run_history, runs
from designer.core.design import Design
from designer.core.measure import fingerprint
from designer.core.pareto import dominates, pareto_front, staircase
from designer.core.presets import load_preset
from designer.core.run_history import best_val_acc, trained_designs

TRAIN_SCRIPT = Path(run_history.__file__).parent / "bundle" / "train_script.py"


def metrics_fields() -> tuple[str, ...]:
    """train.py's metrics.csv columns, read from its source (importing it needs torch)."""
    tree = ast.parse(TRAIN_SCRIPT.read_text(encoding="utf-8"))
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "MetricsLog")
    for node in cls.body:
        if isinstance(node, ast.Assign) and node.targets[0].id == "FIELDS":  # type: ignore[attr-defined]
            return tuple(ast.literal_eval(node.value))
    raise AssertionError("MetricsLog.FIELDS not found")


def write_metrics(folder: Path, val_accs: list[float]) -> None:
    """metrics.csv as train.py's MetricsLog writes it: a header, then a row per epoch."""
    path = folder / "metrics.csv"
    new = not path.exists()
    with open(path, "a", newline="") as handle:
        out = csv.DictWriter(handle, fieldnames=metrics_fields())
        if new:
            out.writeheader()
        for epoch, acc in enumerate(val_accs, start=1):
            out.writerow(
                {
                    "epoch": epoch,
                    "step": 10 * epoch,
                    "lr": 0.1,
                    "train_loss": 2.0 / epoch,
                    "train_acc": acc * 0.9,
                    "val_loss": 1.5 / epoch,
                    "val_acc": acc,
                    "val_acc5": min(1.0, acc + 0.2),
                    "ema_val_acc": "",
                    "ema_val_acc5": "",
                    "images_per_s": 1234.5,
                    "seconds": 3.25,
                }
            )


def write_run(root: Path, design: Design, val_accs: list[float]) -> Path:
    """A run folder as the Train tab starts it (design copy, settings), with epochs done."""
    folder = runs.new_run_folder(root, design)
    runs.prepare_run(folder, design, runs.RunSettings())
    if val_accs:
        write_metrics(folder, val_accs)
    return folder


# -- the front ------------------------------------------------------------------------


def test_the_front_of_a_hand_worked_example():
    points = [
        (1.0, 0.50),  # 0 A: front
        (2.0, 0.70),  # 1 B: front
        (2.0, 0.60),  # 2 C: B is as cheap and more accurate
        (3.0, 0.65),  # 3 D: B is cheaper and more accurate
        (4.0, 0.90),  # 4 E: front
        (4.0, 0.90),  # 5 F: E's twin: neither dominates the other
        (5.0, 0.90),  # 6 G: E is as accurate and cheaper
        (0.5, 0.40),  # 7 H: the cheapest
    ]
    assert pareto_front(points) == [0, 1, 4, 5, 7]
    assert dominates(points[1], points[2]) and dominates(points[4], points[6])
    assert not dominates(points[4], points[5]) and not dominates(points[5], points[4])


def test_with_throughput_more_is_better():
    points = [(100.0, 0.90), (200.0, 0.80), (150.0, 0.85), (50.0, 0.95), (120.0, 0.80)]
    # (120, 0.80): (150, 0.85) is faster and more accurate
    assert pareto_front(points, minimise_x=False) == [0, 1, 2, 3]
    assert pareto_front(points) == [3]  # as a cost (latency): the cheapest is the best too


def test_the_front_matches_the_definition_on_random_points():
    rng = random.Random(17)
    for minimise in (True, False):
        for _ in range(200):
            points = [(rng.choice([1, 2, 3, 4]), rng.choice([0.1, 0.5, 0.9])) for _ in range(7)]
            expected = [
                i
                for i, p in enumerate(points)
                if not any(dominates(q, p, minimise_x=minimise) for q in points)
            ]
            assert pareto_front(points, minimise_x=minimise) == expected


def test_nothing_has_no_front():
    assert pareto_front([]) == []
    assert staircase([]) == []
    assert pareto_front([(3.0, 0.5)]) == [0]


def test_the_step_line_keeps_the_accuracy_reached_until_the_next_cost():
    front = [(4.0, 0.9), (1.0, 0.5), (2.0, 0.7)]
    assert staircase(front) == [(1.0, 0.5), (2.0, 0.5), (2.0, 0.7), (4.0, 0.7), (4.0, 0.9)]
    faster = [(100.0, 0.9), (50.0, 0.95)]
    assert staircase(faster, minimise_x=False) == [(50.0, 0.95), (50.0, 0.9), (100.0, 0.9)]


# -- the trained designs ------------------------------------------------------------------


@pytest.fixture(scope="module")
def cifar() -> Design:
    return load_preset("resnet20_cifar")


def test_metrics_are_read_as_train_py_writes_them(tmp_path, cifar):
    folder = write_run(tmp_path, cifar, [0.31, 0.58, 0.52])
    assert best_val_acc(folder) == pytest.approx(0.58)
    write_metrics(folder, [0.61])  # a resume appends rows (no second header)
    assert best_val_acc(folder) == pytest.approx(0.61)


def test_runs_of_one_network_are_one_design_and_the_best_run_wins(tmp_path, cifar):
    first = write_run(tmp_path, cifar, [0.40, 0.60])
    renamed = dataclasses.replace(cifar, name="my ResNet-20")  # same layers, another name
    best = write_run(tmp_path, renamed, [0.50, 0.72, 0.70])
    write_run(tmp_path, cifar, [0.65])
    write_run(tmp_path, cifar, [])  # started, no epoch ended: not counted
    other = load_preset("resnet56_cifar")
    write_run(tmp_path, other, [0.80])
    found = trained_designs(tmp_path)
    assert [t.fingerprint for t in found] == [fingerprint(other), fingerprint(cifar)]
    top, twenty = found
    assert (top.runs, top.best_acc, top.name) == (1, pytest.approx(0.80), other.name)
    assert twenty.runs == 3
    assert twenty.best_acc == pytest.approx(0.72)
    assert twenty.best_run == best.name and twenty.name == "my ResNet-20"
    assert twenty.best_run != first.name


def test_damaged_folders_are_skipped_and_train_log_never_read(tmp_path, cifar, monkeypatch):
    good = write_run(tmp_path, cifar, [0.5])
    (good / "train.log").write_text("epoch 1/1 ... a huge log\n")
    broken = write_run(tmp_path, load_preset("resnet32_cifar"), [0.9])
    (broken / "design.resnet.json").write_text("{ not json")
    no_design = write_run(tmp_path, load_preset("resnet44_cifar"), [0.9])
    (no_design / "design.resnet.json").unlink()
    garbled = write_run(tmp_path, load_preset("resnet56_cifar"), [])
    (garbled / "metrics.csv").write_bytes(b"\xff\xfe\x00garbage\n\x00\x01")
    odd = write_run(tmp_path, load_preset("resnet110_cifar"), [])
    (odd / "metrics.csv").write_text(
        "epoch,val_acc\n1,nan\n2,\n3,1.5\n4,0.2,extra\nnot,a,row\n", encoding="utf-8"
    )
    huge = write_run(tmp_path, load_preset("resnet18"), [0.99])
    with open(huge / "metrics.csv", "r+b") as handle:  # sparse: over the limit, cheaply
        handle.truncate(run_history.METRICS_LIMIT + 1)
    not_a_run = tmp_path / "notes"
    not_a_run.mkdir()
    (not_a_run / "design.resnet.json").write_text(Path(good / "design.resnet.json").read_text())
    write_metrics(not_a_run, [0.95])  # no settings.json: not a run
    (tmp_path / "stray.txt").write_text("a file, not a folder")
    if hasattr(os, "mkfifo"):  # a pipe where the design should be: never blocks
        piped = write_run(tmp_path, load_preset("resnet34"), [0.9])
        (piped / "design.resnet.json").unlink()
        os.mkfifo(piped / "design.resnet.json")
    opened: list[str] = []
    real_open = os.open

    def recording_open(path, *args, **kwargs):
        opened.append(str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", recording_open)

    [only] = trained_designs(tmp_path)
    assert only.fingerprint == fingerprint(cifar) and only.best_acc == pytest.approx(0.5)
    assert opened and not any(p.endswith("train.log") for p in opened)


def test_no_runs_folder_is_no_trained_design(tmp_path):
    assert trained_designs(tmp_path / "missing") == []
    assert best_val_acc(tmp_path) is None
