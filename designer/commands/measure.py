"""The `measure` subcommand: a design's latency, throughput and memory on this machine."""

from __future__ import annotations

import argparse
import json
import os
import sys

from designer.commands.common import UsageError, raw_stream, resolve_design, whole
from designer.core.measure import AMP, MAX_BATCH, MAX_THREADS, MeasureSettings
from designer.core.text import one_line


def settings_from(args: argparse.Namespace) -> MeasureSettings:
    return MeasureSettings(
        device=args.device,
        batch=args.batch or 0,
        train=args.train,
        amp=args.amp,
        channels_last=args.channels_last,
        compile=args.compile,
        threads=getattr(args, "threads", 0) or 0,
    )


def _progress(fraction: float, text: str) -> None:
    if sys.stderr.isatty():  # the raw stream: the safe one would show the \r as \u000d
        raw_stream(sys.stderr).write(f"\r{fraction:4.0%} {one_line(text):<40}")
        sys.stderr.flush()


def _run(args: argparse.Namespace) -> int:
    design = resolve_design(args.design)
    settings = settings_from(args)
    if args.compile and args.device in ("auto", "cpu"):
        # inductor's kernels and ATen's run on two OpenMP pools; on few cores, threads of one
        # spinning while the other works made eager calls 10x slower after a compile
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from designer.core.torch.measure import measure

    try:
        result = measure(design, settings, progress=_progress)
    finally:
        if sys.stderr.isatty():
            raw_stream(sys.stderr).write("\r" + " " * 46 + "\r")
    if args.json:
        sys.stdout.write(json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n")
    else:
        print("\n".join(result.lines()))
    return 0


def add_device_options(p: argparse.ArgumentParser) -> None:
    """The options `measure` and `fit --max-latency-ms` share."""
    p.add_argument(
        "--device",
        default="auto",
        metavar="DEV",
        help="cpu, cuda, cuda:N or mps (default: CUDA when present, else the CPU)",
    )
    p.add_argument("--amp", choices=AMP, default="none", help="autocast precision (none: fp32)")
    p.add_argument("--channels-last", action="store_true", help="NHWC memory format")
    p.add_argument("--compile", action="store_true", help="torch.compile the network first")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "measure", help="measured latency, throughput and peak memory on this machine"
    )
    p.add_argument("design", metavar="DESIGN", help="a preset name or a *.resnet.json file")
    add_device_options(p)
    p.add_argument(
        "--batch",
        type=whole(1, MAX_BATCH),
        metavar="N",
        help="batch for throughput and training (default: 8 on a CPU, 64 on a GPU)",
    )
    p.add_argument("--train", action="store_true", help="also time a training step (SGD)")
    p.add_argument(
        "--threads",
        type=whole(1, MAX_THREADS),
        metavar="N",
        help="CPU threads (default: one per physical core)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_run)


__all__ = ["UsageError", "add_device_options", "register", "settings_from"]
