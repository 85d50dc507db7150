"""The `compare` subcommand: designs side by side, and a params-vs-MACs plot."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from designer.commands.common import UsageError, check_output, resolve_design

if TYPE_CHECKING:
    from designer.core.compare import Column

PLOT_SUFFIXES = (".png", ".svg", ".pdf")


def _run(args: argparse.Namespace) -> int:
    from designer.core.compare import columns, comparison_table, write_pareto

    designs = [(spec, resolve_design(spec)) for spec in args.designs]
    if args.plot:
        plot = Path(args.plot)
        if plot.suffix.lower() not in PLOT_SUFFIXES:
            raise UsageError(f"--plot: write a {', '.join(PLOT_SUFFIXES)} file")
        check_output(plot, args.force, "--plot")
    cols = columns(designs)
    if args.json:
        sys.stdout.write(_json(cols))
    else:
        print(comparison_table(cols), end="")
    if args.plot:
        write_pareto(args.plot, designs)
        # with --json, stdout is the one JSON document
        print(f"wrote {args.plot}", file=sys.stderr if args.json else sys.stdout)
    return 0


def _json(cols: list[Column]) -> str:
    """``compare --json``: each design's totals and stages, in the order given (the first is
    the baseline the table's deltas are taken against)."""
    from designer.core.stages import stage_dict

    data = {
        "baseline": cols[0].label,
        "designs": [
            {
                "label": c.label,
                "name": c.result.design.name,
                "params": c.result.params,
                "macs": c.result.macs,
                "activation_bytes_per_sample": c.result.activation_bytes_per_sample,
                "depth": c.result.depth,
                "stages": [stage_dict(s) for s in c.stages],
            }
            for c in cols
        ],
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("compare", help="designs side by side per stage, with deltas")
    p.add_argument("designs", metavar="DESIGN", nargs="+", help="presets or design files")
    p.add_argument("--plot", metavar="FILE", help="also plot params vs MACs against every preset")
    p.add_argument("--force", action="store_true", help="overwrite the plot file")
    p.add_argument(
        "--json", action="store_true", help="print one JSON object: totals and stages per design"
    )
    p.set_defaults(func=_run)
