"""The `compare` subcommand: designs side by side, and a params-vs-MACs plot."""

from __future__ import annotations

import argparse
from pathlib import Path

from designer.commands.common import UsageError, check_output, resolve_design

PLOT_SUFFIXES = (".png", ".svg", ".pdf")


def _run(args: argparse.Namespace) -> int:
    from designer.core.compare import columns, comparison_table, write_pareto

    designs = [(spec, resolve_design(spec)) for spec in args.designs]
    if args.plot:
        plot = Path(args.plot)
        if plot.suffix.lower() not in PLOT_SUFFIXES:
            raise UsageError(f"--plot: write a {', '.join(PLOT_SUFFIXES)} file")
        check_output(plot, args.force, "--plot")
    print(comparison_table(columns(designs)), end="")
    if args.plot:
        write_pareto(args.plot, designs)
        print(f"wrote {args.plot}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("compare", help="designs side by side per stage, with deltas")
    p.add_argument("designs", metavar="DESIGN", nargs="+", help="presets or design files")
    p.add_argument("--plot", metavar="FILE", help="also plot params vs MACs against every preset")
    p.add_argument("--force", action="store_true", help="overwrite the plot file")
    p.set_defaults(func=_run)
