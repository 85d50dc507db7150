"""The `render` subcommand: a diagram of a design as SVG, PNG, PDF or DOT source."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from designer.commands.common import (
    STDOUT,
    UsageError,
    check_output,
    refuse_binary_on_stdout,
    resolve_design,
)

INSTALL_HINT = (
    "install Graphviz (apt install graphviz, brew install graphviz, or graphviz.org) "
    "or write .svg or .dot instead"
)


TEXT_FORMATS = (".svg", ".dot")


def _cmd_render(args: argparse.Namespace) -> int:
    from designer.core.graph.diagram import FORMATS, DiagramTooBig, render_design

    to_stdout = args.output == STDOUT
    out = Path(args.output)
    if args.format:
        suffix = f".{args.format}"
    elif to_stdout:
        suffix = ".dot"  # what `render X -o - | dot -Tpng` reads
    else:
        suffix = out.suffix.lower()
        if suffix not in FORMATS:
            raise UsageError(
                f"--output: '{out.name}' has an unknown suffix; use one of"
                f" {', '.join(FORMATS)}, or --format"
            )
    if to_stdout and suffix not in TEXT_FORMATS:
        refuse_binary_on_stdout("--output", suffix.lstrip(".").upper())
    if not to_stdout:
        check_output(out, args.force, "--output")
    design = resolve_design(args.design)

    from designer.core.graph.layout import LayoutError, dot_available
    from designer.core.io import atomic_write_bytes

    if suffix in (".png", ".pdf") and not dot_available():  # .svg: drawn by us then
        raise UsageError(f"--output: Graphviz 'dot' is needed for {suffix}; {INSTALL_HINT}")
    try:
        diagram = render_design(
            design, args.level, suffix, full=args.full, direction=args.direction
        )
    except DiagramTooBig as exc:
        fixes = [f"write {exc.alternatives}"]
        if args.full:
            fixes.append("leave out --full to draw each stage's repeated blocks once")
        elif args.level == "layer":
            fixes.append("use --level block")
        what = f"{args.level}-level drawing"
        raise UsageError(f"--output: {exc.problem(what)}: {', or '.join(fixes)}") from None
    except LayoutError as exc:
        raise UsageError(f"--output: {exc}") from None
    # on stdout the diagram is the result, so what is said of it goes to stderr
    report = sys.stderr if to_stdout else sys.stdout
    if to_stdout:
        sys.stdout.write(diagram.data.decode("utf-8"))
        sys.stdout.flush()
    else:
        atomic_write_bytes(out, diagram.data, backup=False)
        flow = ", left to right" if args.direction == "LR" else ""
        print(f"wrote {out} ({len(diagram.data):,} bytes, {args.level} level{flow})")
    if diagram.elided:
        print(
            f"note: {diagram.elided:,} repeated blocks are drawn as one node per stage"
            " (the first two and the last block of each stage are shown); --full draws all",
            file=report,
        )
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `render DESIGN -o FILE [--level block|layer] [--direction TB|LR] [--force]`."""
    p = sub.add_parser("render", help="draw the network as .svg, .png, .pdf or .dot")
    p.add_argument("design", metavar="DESIGN", help="a preset name or a *.resnet.json file")
    p.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="FILE",
        help="FILE.svg, .png, .pdf or .dot; - for stdout (DOT source, or --format svg)",
    )
    p.add_argument(
        "--format",
        choices=("svg", "png", "pdf", "dot"),  # designer.core.graph.diagram.FORMATS
        help="the format, whatever FILE's suffix (default: from the suffix; dot for -o -)",
    )
    p.add_argument(
        "--level",
        choices=("block", "layer"),
        default="block",
        help="one node per residual block (default) or per layer",
    )
    p.add_argument(
        "--direction",
        choices=("TB", "LR"),  # designer.core.graph.geometry.DIRECTIONS (kept off import)
        default="TB",
        help="TB: the network flows top to bottom (default); LR: left to right, for wide"
        " screens and slides",
    )
    p.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    p.add_argument(
        "--full",
        action="store_true",
        help="draw every block even in a huge design (by default a diagram of over 600"
        " nodes or 250 in a row summarises each stage's repeated blocks)",
    )
    p.set_defaults(func=_cmd_render)
