"""The `fit` subcommand: scale a design's depths and widths to meet a budget."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from designer.commands.common import (
    STDOUT,
    UsageError,
    check_output,
    number_text,
    resolve_design,
    whole,
)
from designer.commands.measure import MAX_BATCH, add_device_options
from designer.core.design import Design
from designer.core.explain import training_bytes
from designer.core.fit import Budget, Candidate, fit, fit_measured, parse_bytes, parse_count
from designer.core.io import FILE_SUFFIX, save
from designer.core.measure import MeasureSettings
from designer.core.report import human_bytes, human_count

MAX_TOP = 1000  # candidates printed or measured: more than a person reads


def _run(args: argparse.Namespace) -> int:
    if args.output == STDOUT:
        raise UsageError("-o -: candidates are written as files to a folder: give its path")
    design = resolve_design(args.design)
    budget = Budget(
        max_macs=parse_count(args.max_macs, "--max-macs") if args.max_macs else None,
        max_params=parse_count(args.max_params, "--max-params") if args.max_params else None,
        max_memory_bytes=parse_bytes(args.max_memory, "--max-memory") if args.max_memory else None,
        batch_size=args.batch,
    )
    if args.max_latency_ms is None:
        candidates = fit(design, budget, top=args.top)
    else:
        candidates = _fit_measured(design, budget, args)
    files = _write_candidates(design, candidates, args) if args.output else []
    if args.json:
        sys.stdout.write(_json(design, budget, candidates, files, args))
    if not candidates:
        print(
            "no scaling of this design meets the budget; relax a limit or shrink the input",
            file=sys.stderr,
        )
        return 1
    if args.json:
        return 0
    for i, c in enumerate(candidates, 1):
        stages = " ".join(f"{s.depth}x{s.width}" for s in c.design.stages)
        measured = f", {c.latency_ms:.2f} ms measured" if c.latency_ms is not None else ""
        print(
            f"{i}. stages {stages} (depth x width): {human_count(c.result.params)} params,"
            f" {human_count(c.result.macs)} MACs,"
            f" {human_bytes(training_bytes(c.result, budget.batch_size))} at batch {args.batch}"
            f"{measured}"
        )
        print(f"   {c.explain()}")
        if files:
            print(f"   written to {files[i - 1]}")
    return 0


def _write_candidates(
    design: Design, candidates: list[Candidate], args: argparse.Namespace
) -> list[Path]:
    """Each candidate's design file, named after its rank; all refused before any is written."""
    paths = [
        Path(args.output) / f"candidate{i}{FILE_SUFFIX}" for i in range(1, len(candidates) + 1)
    ]
    for path in paths:
        check_output(path, args.force)
    for i, (c, path) in enumerate(zip(candidates, paths, strict=True), 1):
        save(c.design.replace(name=f"{design.name} (fit {i})"), path)
    return paths


def _json(
    design: Design,
    budget: Budget,
    candidates: list[Candidate],
    files: list[Path],
    args: argparse.Namespace,
) -> str:
    """``fit --json``: the budget and each candidate, best first (empty when none fits)."""
    data = {
        "name": design.name,
        "budget": {
            "max_macs": budget.max_macs,
            "max_params": budget.max_params,
            "max_memory_bytes": budget.max_memory_bytes,
            "batch": budget.batch_size,
            "max_latency_ms": args.max_latency_ms,
        },
        "candidates": [
            {
                "rank": i,
                "stages": [{"depth": s.depth, "width": s.width} for s in c.design.stages],
                "depth_factor": c.depth_factor,
                "width_factor": c.width_factor,
                "params": c.result.params,
                "macs": c.result.macs,
                "training_bytes": training_bytes(c.result, budget.batch_size),
                "latency_ms": c.latency_ms,
                "usage": c.usage,
                "binds": c.binding,
                "file": str(files[i - 1]) if files else None,
            }
            for i, c in enumerate(candidates, 1)
        ],
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _fit_measured(design: Design, budget: Budget, args: argparse.Namespace) -> list[Candidate]:
    """Closed-form candidates first, then the few best measured at batch 1 on the device."""
    from designer.core.torch.measure import measure

    if not 1 <= args.measure_top <= 20:
        raise UsageError("--measure-top: must be between 1 and 20")
    settings = MeasureSettings(
        device=args.device,
        batch=1,
        amp=args.amp,
        channels_last=args.channels_last,
        compile=args.compile,
    )
    count = 0

    def latency_of(candidate: Design) -> float:
        nonlocal count
        what = f"candidate {count}" if count else f"{design.name} itself, to calibrate"
        print(f"measuring {what} ...", file=sys.stderr, flush=True)
        count += 1
        result = measure(candidate, settings)
        if count == 1:  # the first: the design itself
            print(f"on {result.device_name}: {settings.describe()}", file=sys.stderr)
        return result.latency.median_s * 1000

    limit = args.max_latency_ms
    return fit_measured(
        design, budget, limit, latency_of, top=args.top, measure_top=args.measure_top
    )


def _milliseconds(text: str) -> float:
    try:
        value = float(number_text(text, "a number of milliseconds"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text[:30]}' is not a number of milliseconds") from None
    if not 0 < value <= 1e6:
        raise argparse.ArgumentTypeError(f"must be above 0 and at most 1e6 (got {text[:30]})")
    return value


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("fit", help="propose depths and widths that meet MAC/param/memory limits")
    p.add_argument("design", metavar="DESIGN", help="a preset name or a *.resnet.json file")
    p.add_argument("--max-macs", metavar="N", help="e.g. 2G (mult-adds, torchinfo convention)")
    p.add_argument("--max-params", metavar="N", help="e.g. 10M")
    p.add_argument("--max-memory", metavar="SIZE", help="training memory at --batch, e.g. 4GiB")
    p.add_argument(
        "--max-latency-ms",
        type=_milliseconds,
        metavar="MS",
        help="measured inference latency at batch 1 on --device (measures the best few)",
    )
    p.add_argument(
        "--batch", type=whole(1, MAX_BATCH), default=32, help="batch size for --max-memory (32)"
    )
    p.add_argument(
        "--top", type=whole(1, MAX_TOP), default=5, help="how many candidates to print (5)"
    )
    p.add_argument("-o", "--output", metavar="DIR", help="also write each candidate's design file")
    p.add_argument("--json", action="store_true", help="print one JSON object: every candidate")
    p.add_argument("--force", action="store_true", help="overwrite existing candidate files")
    p.add_argument(
        "--measure-top",
        type=whole(1, MAX_TOP),
        default=3,
        metavar="K",
        help="candidates measured per round (3)",
    )
    add_device_options(p)
    p.set_defaults(func=_run)
