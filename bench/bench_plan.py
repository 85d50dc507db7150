"""The code before the network plan beside the current code, in one run, as ratios.

Measures, cold, ``analyse`` of resnet152 and of the ResNet-1001
(preact_resnet1001_cifar) and ``build`` of resnet50, once with the current checkout
(its files as they are, or ``--after REV``) and once with an older revision
(``--before``, by default the last commit before the plan), a revision being checked
out in a temporary git worktree that is removed at the end. Each tree runs in its own
subprocess with PYTHONPATH set to it (the script checks where ``designer`` was
imported from), old and new alternating over several rounds; each round takes the
median of many calls and the table shows the median over the rounds.

Cold means: before every timed call, every module-level functools cache in the
``designer`` package whose function takes arguments (the plan, the generated
model module, ...) is cleared, so the call does the whole work for its design; caches
of constants (no arguments: the resource folder, the field table) stay warm, as they
do in any process after its first use.

Target: every ratio (after / before) at most 1.1.
"""

from __future__ import annotations

import argparse
import functools
import gc
import inspect
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from designer.core.design import Design

REPO = Path(__file__).resolve().parents[1]
DEFAULT_BEFORE = "5f499cf"
TARGET = 1.1
# (label, what it runs, preset, repeats per round)
CASES: tuple[tuple[str, str, str, int], ...] = (
    ("analyse resnet152", "analyse", "resnet152", 50),
    ("analyse resnet1001", "analyse", "preact_resnet1001_cifar", 50),
    ("build resnet50", "build", "resnet50", 5),
)


def _argument_caches() -> tuple[list[Callable[..., Any]], list[str], list[str]]:
    """The functools caches of the loaded designer modules: those to clear, by name."""
    clear: list[Callable[..., Any]] = []
    cleared: list[str] = []
    kept: list[str] = []
    seen: set[int] = set()
    for module_name, module in sorted(sys.modules.items()):
        if module_name != "designer" and not module_name.startswith("designer."):
            continue
        for value in list(vars(module).values()):
            if not (hasattr(value, "cache_clear") and callable(value)) or id(value) in seen:
                continue
            if getattr(value, "__module__", None) != module_name:
                continue  # imported from elsewhere: listed under its own module
            seen.add(id(value))
            name = f"{module_name}.{getattr(value, '__qualname__', '?')}"
            wrapped = getattr(value, "__wrapped__", value)
            try:
                takes_arguments = bool(inspect.signature(wrapped).parameters)
            except (TypeError, ValueError):
                takes_arguments = True
            if takes_arguments:
                clear.append(value.cache_clear)
                cleared.append(name)
            else:
                kept.append(name)
    return clear, cleared, kept


def _cold_median_ms(fn: Callable[[], object], clear: Callable[[], None], repeat: int) -> float:
    """The median of ``repeat`` calls of ``fn``, each after ``clear`` (not timed)."""
    samples = []
    for _ in range(repeat):
        clear()
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def worker(scale: float) -> dict[str, Any]:
    """One round in this process: the median of each case, for the tree on sys.path."""
    import designer
    from designer.core.analysis import analyse
    from designer.core.presets import load_preset
    from designer.core.torch.build import build

    designs = {preset: load_preset(preset) for _, _, preset, _ in CASES}
    runs: dict[str, Callable[[Design], object]] = {"analyse": analyse, "build": build}
    errors: dict[str, str] = {}
    for label, kind, preset, _ in CASES:  # warm-up: imports, lazy modules, bytecode
        try:
            runs[kind](designs[preset])
        except Exception as error:  # a tree that cannot run a case still runs the others
            errors[label] = f"{type(error).__name__}: {error}"
    clears, cleared, kept = _argument_caches()

    def clear() -> None:
        for cache_clear in clears:
            cache_clear()
        gc.collect()

    medians: dict[str, float | None] = {}
    for label, kind, preset, repeat in CASES:
        call = functools.partial(runs[kind], designs[preset])
        repeats = max(1, round(repeat * scale))
        medians[label] = None if label in errors else _cold_median_ms(call, clear, repeats)
    return {
        "file": designer.__file__,
        "medians": medians,
        "errors": errors,
        "cleared": cleared,
        "kept": kept,
    }


def _run_worker(tree: Path, scale: float) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONHASHSEED": "0"}
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--worker", "--scale", str(scale)],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"the worker for {tree} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    where = Path(result["file"]).resolve()
    if not where.is_relative_to((tree / "designer").resolve()):
        raise SystemExit(f"designer was imported from {where}, not from {tree}")
    return result


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def _worktree(rev: str, where: Path) -> Path:
    subprocess.run(
        ["git", "-C", str(REPO), "worktree", "add", "--detach", str(where), rev],
        check=True,
        capture_output=True,
    )
    return where


def _ms(values: list[float | None]) -> float | None:
    return None if None in values else statistics.median(v for v in values if v is not None)


def compare(before: str, after: str | None, rounds: int, scale: float, verbose: bool) -> None:
    made: list[Path] = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-plan-") as tmp:
            try:
                made.append(_worktree(before, Path(tmp) / "before"))
                trees = {"before": made[0], "after": REPO}
                if after is not None:
                    made.append(_worktree(after, Path(tmp) / "after"))
                    trees["after"] = made[1]
                load_at_start = _load()
                results: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
                for r in range(rounds):
                    order = ("before", "after") if r % 2 == 0 else ("after", "before")
                    for side in order:
                        results[side].append(_run_worker(trees[side], scale))
                load_at_end = _load()
            finally:
                for tree in made:
                    subprocess.run(
                        ["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)],
                        check=False,
                        capture_output=True,
                    )
    except subprocess.CalledProcessError as error:
        raise SystemExit(f"git failed: {error.stderr.decode(errors='replace')}") from None

    after_name = after if after is not None else f"{REPO} (the checkout as it is)"
    print(f"before: {before}; after: {after_name}")
    print(f"{rounds} rounds, alternating; load average {load_at_start} -> {load_at_end}")
    if verbose:
        for side in ("before", "after"):
            print(f"{side} caches cleared: {', '.join(results[side][0]['cleared']) or 'none'}")
            print(f"{side} caches kept warm: {', '.join(results[side][0]['kept']) or 'none'}")
    print(f"{'case':20} {'before ms':>10} {'after ms':>10} {'after/before':>13}")
    worst = 0.0
    failed: list[str] = []
    for label, *_ in CASES:
        old = [res["medians"][label] for res in results["before"]]
        new = [res["medians"][label] for res in results["after"]]
        old_ms, new_ms = _ms(old), _ms(new)
        cells = [f"{x:10.3f}" if x is not None else f"{'failed':>10}" for x in (old_ms, new_ms)]
        ratio = "" if old_ms is None or new_ms is None else f"{new_ms / old_ms:12.2f}x"
        if old_ms is not None and new_ms is not None:
            worst = max(worst, new_ms / old_ms)
        print(f"{label:20} {cells[0]} {cells[1]} {ratio}")
        if verbose and ratio:
            rounds_ms = " | ".join(f"{o:.3f} / {n:.3f}" for o, n in zip(old, new, strict=True))
            print(f"{'':20} rounds (before / after): {rounds_ms}")
        for side in ("before", "after"):
            errors = {res["errors"].get(label) for res in results[side]} - {None}
            failed += [f"{label} ({side}): {e}" for e in sorted(errors)]
    verdict = "met" if worst <= TARGET and not failed else "NOT met"
    print(f"target: after/before <= {TARGET} ({verdict})")
    for line in failed:
        print(f"failed: {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default=DEFAULT_BEFORE, help="the revision to compare with")
    parser.add_argument(
        "--after", help="a revision to measure instead of the checkout as it is (its files)"
    )
    parser.add_argument("--rounds", type=int, default=5, help="old/new rounds (alternating)")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply every case's repeats per round"
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="per-round medians and the caches"
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.scale)))
    else:
        compare(args.before, args.after, args.rounds, args.scale, args.verbose)


if __name__ == "__main__":
    main()
