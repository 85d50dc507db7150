"""Human and machine renderings of an analysis (CLI output, JSON)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from designer.core.analysis import Analysis, Shape


def shape_text(shape: Shape, sep: str = " x ") -> str:
    """(512, 28, 28) -> '512 x 28 x 28' (or with another separator)."""
    return sep.join(str(d) for d in shape)


def human_count(n: float) -> str:
    """12,345,678 -> '12.35M': the short form shown beside exact counts."""
    # up to exa: an absurd design (a width of 9,999,999) reads 4.50P, not 4500.00T
    for unit, scale in (("E", 1e18), ("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.2f}{unit}"
    return f"{n:g}"


def human_bytes(n: float) -> str:
    units = (
        ("EiB", 1 << 60),
        ("PiB", 1 << 50),
        ("TiB", 1 << 40),
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
    )
    for unit, scale in units:
        if abs(n) >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} B"


def delta_text(
    value: float,
    base: float,
    fmt: Callable[[float], str] = human_count,
    *,
    places: int = 0,
    same: str = "=",
) -> str:
    """'+19.00M (+74%)', '-2 (-50%)' or ``same``: ``value`` against ``base``, the size of
    the change in ``fmt`` and the percentage to ``places`` decimals (none if base is 0).

    The one delta formatter: the compare table, its dock and the inspector's baseline.
    """
    if value == base:
        return same
    diff = value - base
    pct = f" ({diff / base:+.{places}%})" if base else ""
    return f"{'+' if diff > 0 else '-'}{fmt(abs(diff))}{pct}"


def summary_dict(result: Analysis) -> dict[str, Any]:
    """The ``summary --json`` object; MACs follow torchinfo's mult-adds convention."""
    return {
        "name": result.design.name,
        "params": result.params,
        "trainable_params": result.trainable_params,
        "macs": result.macs,
        "flops": 2 * result.macs,
        "output_shape": list(result.output_shape),
        "depth": result.depth,
        "param_bytes": result.param_bytes,
        "activation_bytes_per_sample": result.activation_bytes_per_sample,
        "layers": [
            {
                "name": layer.name,
                "kind": layer.kind,
                "input_shape": list(layer.input_shape),
                "output_shape": list(layer.output_shape),
                "params": layer.params,
                "macs": layer.macs,
            }
            for layer in result.layers
        ],
    }


def format_summary(result: Analysis) -> str:
    """A torchinfo-like table: one row per module call, then the totals."""
    header = ("Layer", "Kind", "Input", "Output", "Params", "Mult-adds")
    rows = [
        (
            layer.name,
            layer.kind,
            shape_text(layer.input_shape),
            shape_text(layer.output_shape),
            f"{layer.params:,}" if layer.params else "--",
            f"{layer.macs:,}" if layer.macs else "--",
        )
        for layer in result.layers
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    right = {4, 5}

    def line(cells: tuple[str, ...]) -> str:
        parts = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    rule = "-" * len(line(header))
    d = result.design
    out = [
        f"{d.name}: input {d.input.channels} x {d.input.height} x {d.input.width}",
        rule,
        line(header),
        rule,
    ]
    out += [line(r) for r in rows]
    out += [
        rule,
        f"Total params:      {result.params:,} ({human_count(result.params)})",
        f"Trainable params:  {result.trainable_params:,}",
        f"Mult-adds (MACs):  {result.macs:,} ({human_count(result.macs)}; FLOPs = 2 x MACs)",
        f"Output shape:      {shape_text(result.output_shape)}",
        f"Depth:             {result.depth}",
        f"Params size:       {human_bytes(result.param_bytes)} (fp32)",
        f"Activations:       {human_bytes(result.activation_bytes_per_sample)}"
        " per sample (fp32, kept for training)",
    ]
    return "\n".join(out) + "\n"
