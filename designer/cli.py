"""The command-line twin of the app: the same core, no Qt and (mostly) no torch.

Every failure the user can cause ends in one line on stderr and exit code 2;
no traceback ever reaches the user.
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from designer import __version__
from designer.commands import COMMAND_MODULES
from designer.commands.common import (
    STDOUT,
    UsageError,
    check_output,
    is_checkpoint,
    recover_design,
    resolve_design,
)
from designer.commands.terminal import SafeStream
from designer.core.analysis import Analysis, analyse
from designer.core.design import DesignError, with_output_stride
from designer.core.io import dumps, nearest
from designer.core.presets import SOURCES, load_preset, preset_groups, preset_names
from designer.core.report import SUMMARY_FORMATS, Geometry, format_summary, summary_dict
from designer.core.stages import layer_geometry
from designer.core.text import escaped_line

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}{_suggestion(message)} (see --help)")


def _suggestion(message: str) -> str:
    """'; did you mean 'summary'?' for argparse's "invalid choice: 'sumary' (choose from ...)"."""
    match = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)$", message)
    if not match:
        return ""
    choices = [c.strip().strip("'\"") for c in match[2].split(",")]
    near = nearest(match[1], choices)
    return f"; did you mean '{near}'?" if near else ""


def _cmd_presets(args: argparse.Namespace) -> int:
    """The presets under a heading per source, with their parameter counts and titles.

    ``--names``: the names alone, one per line, sorted; ``--json``: one object per
    preset (name, title, source, its title, params, macs), in the listing's order.
    """
    if args.names:
        for name in preset_names():
            print(name)
        return 0
    rows = [
        (source, name, load_preset(name).name, analyse(load_preset(name)))
        for source, names in preset_groups()
        for name in names
    ]
    if args.json:
        objects = [
            json.dumps(
                {
                    "name": name,
                    "title": title,
                    "source": source,
                    "source_title": _source_title(source),
                    "params": result.params,
                    "macs": result.macs,
                },
                ensure_ascii=False,
            )
            for source, name, title, result in rows
        ]
        sys.stdout.write("[\n" + ",\n".join("  " + o for o in objects) + "\n]\n")
        return 0
    name_width = max(len(name) for _, name, _, _ in rows)
    count_width = max(len(f"{result.params:,}") for _, _, _, result in rows)
    lines: list[str] = []
    for i, (source, name, title, result) in enumerate(rows):
        if i == 0 or rows[i - 1][0] != source:
            lines += [""] if lines else []
            lines.append(_source_title(source))
        count = f"{result.params:,}"
        lines.append(f"  {name:<{name_width}}  {count:>{count_width}}  {title}")
    lines += ["", "name, parameters, title; --names: the names alone, --json: all as JSON"]
    print("\n".join(lines))
    return 0


def _source_title(source: str) -> str:
    return SOURCES.get(source, "other presets")


def _cmd_validate(args: argparse.Namespace) -> int:
    design = resolve_design(args.design)
    result = analyse(design)
    print(f"ok: {design.name}: {result.params:,} parameters, {result.macs:,} mult-adds")
    return 0


def _cmd_summary(args: argparse.Namespace) -> int:
    if args.json and args.format not in (None, "json"):
        raise UsageError(f"--json: is --format json; give one of --json, --format {args.format}")
    fmt = "json" if args.json else (args.format or "table")
    result: Analysis = analyse(resolve_design(args.design))
    geometry = layer_geometry(result)
    if fmt == "json":
        sys.stdout.write(_summary_json(result, geometry, compact=args.compact))
    else:
        sys.stdout.write(format_summary(result, fmt, geometry))
    return 0


def _summary_json(result: Analysis, geometry: Geometry, *, compact: bool) -> str:
    """The summary as JSON text, written at once; indented, each layer is one line.

    One line per layer reads and greps well, and lets json's C encoder do the work
    (its indenting encoder is pure Python: minutes for a 280,000-layer design).
    """
    data = summary_dict(result, geometry)
    if compact:
        return json.dumps(data, separators=(",", ":")) + "\n"
    layers = data.pop("layers")
    head = json.dumps(data, indent=2)[:-2]  # without the closing brace
    rows = ",\n".join("    " + json.dumps(layer) for layer in layers)
    return f'{head},\n  "layers": [\n{rows}\n  ]\n}}\n'


def _cmd_open(args: argparse.Namespace) -> int:
    """Open in the app when there is a display; otherwise print or write the design.

    A checkpoint's recovered design comes with what was inferred and what assumed
    (on stderr, so that stdout stays the design).
    """
    if is_checkpoint(args.design):
        recovery = recover_design(args.design)
        design = recovery.design
        for line in recovery.lines():
            print(line, file=sys.stderr)
    else:
        design = resolve_design(args.design)
    if args.output_stride is not None:
        design = with_output_stride(design, args.output_stride)
        dilated = [f"layer{i + 1}" for i, stage in enumerate(design.stages) if stage.dilate]
        print(f"output stride {args.output_stride}: {', '.join(dilated)} dilated", file=sys.stderr)
    if args.output == STDOUT:
        sys.stdout.write(dumps(design, schema=True))
        return 0
    if args.output:
        from pathlib import Path

        from designer.core.io import save

        check_output(Path(args.output), args.force)
        save(design, args.output)
        print(f"wrote {args.output}")
        return 0
    from designer.gui import has_display

    if has_display() and sys.stdout.isatty():
        return _cmd_gui(argparse.Namespace(design=args.design, screenshot=None))
    sys.stdout.write(dumps(design, schema=True))
    return 0


def _cmd_gui(args: argparse.Namespace) -> int:
    from designer.gui import launch

    return launch(args.design, screenshot=args.screenshot)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="resnet-designer",
        description="Design, inspect and export ResNet-family networks.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    p = sub.add_parser("presets", help="list the bundled presets by source, with their sizes")
    form = p.add_mutually_exclusive_group()
    form.add_argument("--names", action="store_true", help="the names alone, one per line")
    form.add_argument("--json", action="store_true", help="one JSON object per preset")
    p.set_defaults(func=_cmd_presets)

    p = sub.add_parser("validate", help="check a design; exit 2 with the reason if invalid")
    p.add_argument("design", metavar="DESIGN", help="a preset name or a *.resnet.json file")
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("summary", help="shapes, parameters and mult-adds of every layer")
    p.add_argument("design", metavar="DESIGN", help="a preset name or a *.resnet.json file")
    p.add_argument(
        "--format",
        choices=(*SUMMARY_FORMATS, "json"),
        help="table (default), markdown, latex (booktabs, longtable), csv or json",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object (--format json)")
    p.add_argument("--compact", action="store_true", help="with --json: no indentation")
    p.set_defaults(func=_cmd_summary)

    p = sub.add_parser("open", help="restore a design from a file (also an exported model.py)")
    p.add_argument("design", metavar="FILE", help="a *.resnet.json, a preset, or a model.py")
    p.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write the design file instead of opening it; - for stdout",
    )
    p.add_argument("--force", action="store_true", help="overwrite -o if it exists")
    p.add_argument(
        "--output-stride",
        type=int,
        choices=(8, 16, 32),
        metavar="N",
        help="8, 16 or 32: dilate the last stages instead of striding (timm's and torchvision's"
        " meaning; a checkpoint cannot show dilation, its weights are the undilated network's)",
    )
    p.set_defaults(func=_cmd_open)

    p = sub.add_parser("gui", help="open the desktop app")
    p.add_argument("design", metavar="DESIGN", nargs="?", help="a preset name or a design file")
    p.add_argument("--screenshot", metavar="FILE.png", help="save the window once drawn, then exit")
    p.set_defaults(func=_cmd_gui)
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(sub)
    return parser


Handler = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    streams = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = SafeStream(sys.stdout), SafeStream(sys.stderr)
    try:
        return _run(argv)
    finally:
        sys.stdout, sys.stderr = streams


def _run(argv: list[str]) -> int:
    parser = build_parser()
    try:
        if not argv:
            argv = ["gui"]
        args = parser.parse_args(argv)
        func: Handler = args.func
        return func(args)
    except (UsageError, DesignError) as exc:
        print(f"error: {escaped_line(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:  # a full disk, a read-only folder...: what and why, in one line
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {escaped_line(f'{where}{exc.strerror or exc}')}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":  # python -m designer.cli
    sys.exit(main())
