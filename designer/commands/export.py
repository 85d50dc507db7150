"""The `export` subcommand: model.py, initial weights, a torch.export program or ONNX."""

from __future__ import annotations

import argparse
import sys

from designer.commands.common import STDOUT, add_progress_option, checkpoint_file, seed

FORMAT_CHOICES = ("py", "pt", "safetensors", "pt2", "onnx")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "export",
        help="write model.py, the initial weights (.pt/.safetensors), a .pt2 program or ONNX",
        description=(
            "Export a design. The format comes from --format or else from the suffix of -o"
            " (.py, .pt, .pth, .safetensors, .pt2, .onnx). -o - writes model.py to stdout"
            " (the binary formats need a file)."
        ),
    )
    p.add_argument("design", metavar="DESIGN", help="a preset name or a *.resnet.json file")
    p.add_argument(
        "-o", "--output", required=True, metavar="FILE", help="the file to write; - for stdout"
    )
    p.add_argument("--format", dest="fmt", metavar="FORMAT", help=", ".join(FORMAT_CHOICES))
    p.add_argument("--seed", type=seed, default=0, help="seed of the initial weights (default 0)")
    p.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    p.add_argument(
        "--init-from",
        type=checkpoint_file,
        metavar="CKPT",
        help="load every tensor of this checkpoint that fits by name and shape (.pt/.safetensors)",
    )
    add_progress_option(p)
    p.set_defaults(func=_cmd_export)


def _cmd_export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from designer.commands.common import (
        Progress,
        UsageError,
        check_output,
        refuse_binary_on_stdout,
        resolve_design,
    )

    fmt = args.fmt
    if fmt is not None and fmt not in FORMAT_CHOICES:
        raise UsageError(f"--format: must be one of {', '.join(FORMAT_CHOICES)} (got '{fmt}')")
    if args.output == STDOUT:
        if (fmt or "py") != "py":
            refuse_binary_on_stdout("-o", f"the {fmt} format")
        if args.init_from is not None:
            raise UsageError("--init-from: model.py holds no weights; export .pt, .pt2 or .onnx")
        from designer.core.codegen import render_model_py

        sys.stdout.write(render_model_py(resolve_design(args.design)))
        return 0

    from designer.core.torch.export import FORMATS, MissingExtra, export, format_for

    fmt = fmt or format_for(args.output)
    if fmt is None:
        suffixes = ", ".join(sorted(FORMATS))
        raise UsageError(
            f"-o: cannot tell the format from '{args.output}': use a suffix ({suffixes}),"
            " --format, or - for model.py on stdout"
        )
    output = Path(args.output)
    check_output(output, args.force)
    design = resolve_design(args.design)
    if args.init_from is not None:
        if fmt == "py":
            raise UsageError("--init-from: model.py holds no weights; export .pt, .pt2 or .onnx")
        from designer.core.torch.transfer import load_checkpoint, match

        print("\n".join(match(design, load_checkpoint(args.init_from)).lines()))
    try:
        with Progress(f"export {fmt}", lines=args.progress) as progress:
            written = export(
                design,
                output,
                fmt,
                args.seed,
                overwrite=args.force,
                init_from=args.init_from,
                progress=progress,
            )
    except MissingExtra as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"-o: cannot write '{output}' ({exc.strerror or exc})") from None
    print(f"wrote {written} ({fmt}, seed {args.seed})", file=sys.stdout)
    return 0
