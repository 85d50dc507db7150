"""The `transfer` subcommand: which checkpoint tensors fit a design, and initialised weights."""

from __future__ import annotations

import argparse
from pathlib import Path

from designer.commands.common import (
    UsageError,
    check_output,
    checkpoint_file,
    resolve_design,
    seed,
)


def _run(args: argparse.Namespace) -> int:
    from designer.core.torch.transfer import build_initialised, save_state_dict

    design = resolve_design(args.design)
    out = Path(args.output) if args.output else None
    if out is not None:
        if out.suffix not in (".pt", ".pth"):
            raise UsageError("-o: write the initialised weights to a .pt or .pth file")
        check_output(out, args.force)
    model, report = build_initialised(design, args.checkpoint, seed=args.seed)
    print("\n".join(report.lines()))
    if out is not None:
        save_state_dict(model, out)
        print(f"wrote {out} (matching tensors from {args.checkpoint}, the rest seed {args.seed})")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "transfer", help="match a checkpoint's tensors to a design by name and shape"
    )
    p.add_argument("design", metavar="DESIGN", help="a preset name or a *.resnet.json file")
    p.add_argument(
        "checkpoint",
        type=checkpoint_file,
        metavar="CKPT",
        help="a .pt/.pth state dict or a .safetensors file",
    )
    p.add_argument("-o", "--output", metavar="FILE.pt", help="write the initialised weights")
    p.add_argument("--seed", type=seed, default=0, help="seed for tensors that do not fit (0)")
    p.add_argument("--force", action="store_true", help="overwrite -o if it exists")
    p.set_defaults(func=_run)
