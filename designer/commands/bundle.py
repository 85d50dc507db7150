"""The `bundle` subcommand: a folder to train the design from (model, weights, train.py)."""

from __future__ import annotations

import argparse

from designer.commands.common import (
    STDOUT,
    Progress,
    UsageError,
    add_progress_option,
    checkpoint_file,
    resolve_design,
    seed,
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``bundle DESIGN -o DIR [--seed N] [--force]`` to the CLI (``--out`` as before)."""
    p = sub.add_parser(
        "bundle",
        help="write a training bundle: model.py, weights, train.py, README",
        description=(
            "Write a folder that trains the design with PyTorch alone: model.py, "
            "design.resnet.json, the initial weights, train.py (single GPU, CPU or torchrun) "
            "and a README."
        ),
    )
    p.add_argument("design", metavar="DESIGN", help="a preset name or a *.resnet.json file")
    p.add_argument(
        "-o",
        "--output",
        "--out",  # its first name, kept working
        dest="output",
        metavar="DIR",
        required=True,
        help="the folder to write",
    )
    p.add_argument("--seed", type=seed, default=0, help="seed of the initial weights (default 0)")
    p.add_argument("--force", action="store_true", help="write into a non-empty folder")
    p.add_argument(
        "--init-from",
        type=checkpoint_file,
        metavar="CKPT",
        help="start from a checkpoint's weights where they fit (by name and shape; timm's"
        " ResNetV2 names are mapped by structure); the rest as --seed draws it",
    )
    add_progress_option(p)
    p.set_defaults(func=_cmd_bundle)


def _cmd_bundle(args: argparse.Namespace) -> int:
    if args.output == STDOUT:
        raise UsageError("-o -: a bundle is a folder of files, not one stream: give its path")
    from designer.core.torch.bundle_writer import BundleError, write_bundle

    design = resolve_design(args.design)
    try:
        with Progress("bundle", lines=args.progress) as progress:
            files = write_bundle(
                design,
                args.output,
                seed=args.seed,
                force=args.force,
                init_from=args.init_from,
                progress=progress,
            )
    except BundleError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"-o: cannot write {args.output} ({exc.strerror or exc})") from None
    print(f"wrote {len(files)} files to {args.output}: {', '.join(f.name for f in files)}")
    print(f"train: cd {args.output} && python train.py --help")
    return 0
