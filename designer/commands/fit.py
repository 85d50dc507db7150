"""The `fit` subcommand: scale a design's depths and widths to meet a budget."""

from __future__ import annotations

import argparse
from pathlib import Path

from designer.commands.common import UsageError, check_output, resolve_design
from designer.core.explain import training_bytes
from designer.core.fit import Budget, fit, parse_bytes, parse_count
from designer.core.io import FILE_SUFFIX, save
from designer.core.report import human_bytes, human_count


def _run(args: argparse.Namespace) -> int:
    design = resolve_design(args.design)
    if args.batch < 1:
        raise UsageError("--batch: must be at least 1")
    budget = Budget(
        max_macs=parse_count(args.max_macs, "--max-macs") if args.max_macs else None,
        max_params=parse_count(args.max_params, "--max-params") if args.max_params else None,
        max_memory_bytes=parse_bytes(args.max_memory, "--max-memory") if args.max_memory else None,
        batch_size=args.batch,
    )
    candidates = fit(design, budget, top=args.top)
    if not candidates:
        print("no scaling of this design meets the budget; relax a limit or shrink the input")
        return 1
    for i, c in enumerate(candidates, 1):
        stages = " ".join(f"{s.depth}x{s.width}" for s in c.design.stages)
        print(
            f"{i}. stages {stages} (depth x width): {human_count(c.result.params)} params,"
            f" {human_count(c.result.macs)} MACs,"
            f" {human_bytes(training_bytes(c.result, budget.batch_size))} at batch {args.batch}"
        )
        print(f"   {c.explain()}")
        if args.output:
            path = Path(args.output) / f"candidate{i}{FILE_SUFFIX}"
            check_output(path, args.force)
            named = c.design.replace(name=f"{design.name} (fit {i})")
            save(named, path)
            print(f"   written to {path}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("fit", help="propose depths and widths that meet MAC/param/memory limits")
    p.add_argument("design", metavar="DESIGN", help="a preset name or a *.resnet.json file")
    p.add_argument("--max-macs", metavar="N", help="e.g. 2G (mult-adds, torchinfo convention)")
    p.add_argument("--max-params", metavar="N", help="e.g. 10M")
    p.add_argument("--max-memory", metavar="SIZE", help="training memory at --batch, e.g. 4GiB")
    p.add_argument("--batch", type=int, default=32, help="batch size for --max-memory (32)")
    p.add_argument("--top", type=int, default=5, help="how many candidates to print (5)")
    p.add_argument("-o", "--output", metavar="DIR", help="also write each candidate's design file")
    p.add_argument("--force", action="store_true", help="overwrite existing candidate files")
    p.set_defaults(func=_run)
