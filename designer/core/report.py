"""Human and machine renderings of an analysis (CLI output, JSON)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from typing import Any

from designer.core.analysis import Analysis, Layer, Shape


def shape_text(shape: Shape, sep: str = " x ") -> str:
    """(512, 28, 28) -> '512 x 28 x 28' (or with another separator)."""
    return sep.join(map(str, shape))


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


SUMMARY_FORMATS = ("table", "markdown", "latex", "csv")
GEOMETRY_NOTE = (
    "RF, stride: receptive field and output stride of each output, in input pixels;"
    " -- after a global pool (squeeze-excite, head), which sees the whole input"
)
Geometry = Sequence[tuple[int, int] | None]
"""Per layer, (receptive field, output stride) or None: ``stages.layer_geometry(result)``.
The callers pass it in: this module sits beside ``stages`` in the core's layers."""


def summary_dict(result: Analysis, geometry: Geometry | None = None) -> dict[str, Any]:
    """The ``summary --json`` object; MACs follow torchinfo's mult-adds convention.

    With ``geometry``, each layer also has ``receptive_field`` and ``output_stride``
    (null after a global pool).
    """
    if geometry is None:
        layers = [_layer_dict(layer) for layer in result.layers]
    else:
        layers = [  # written out rather than merged: 280,000 rows build twice as fast
            {
                "name": layer.name,
                "kind": layer.kind,
                "input_shape": list(layer.input_shape),
                "output_shape": list(layer.output_shape),
                "params": layer.params,
                "macs": layer.macs,
                "receptive_field": at[0] if at else None,
                "output_stride": at[1] if at else None,
            }
            for layer, at in zip(result.layers, geometry, strict=True)
        ]
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
        "layers": layers,
    }


def _layer_dict(layer: Layer) -> dict[str, Any]:
    return {
        "name": layer.name,
        "kind": layer.kind,
        "input_shape": list(layer.input_shape),
        "output_shape": list(layer.output_shape),
        "params": layer.params,
        "macs": layer.macs,
    }


_HEADER = ("Layer", "Kind", "Input", "Output", "Params", "Mult-adds")
_GEOMETRY_HEADER = ("RF", "Stride")
_FIRST_NUMBER = 4  # the columns from here on are numbers, set flush right


def _rows(result: Analysis, geometry: Geometry | None) -> list[tuple[str, ...]]:
    header = _HEADER + (_GEOMETRY_HEADER if geometry is not None else ())
    shapes: dict[Shape, str] = {}  # a network repeats a few shapes over and over

    def shape(value: Shape) -> str:
        text = shapes.get(value)
        if text is None:
            text = shapes[value] = shape_text(value)
        return text

    rows = [header]
    for i, layer in enumerate(result.layers):
        row: tuple[str, ...] = (
            layer.name,
            layer.kind,
            shape(layer.input_shape),
            shape(layer.output_shape),
            f"{layer.params:,}" if layer.params else "--",
            f"{layer.macs:,}" if layer.macs else "--",
        )
        if geometry is not None:
            at = geometry[i]
            row += (str(at[0]), str(at[1])) if at else ("--", "--")
        rows.append(row)
    return rows


def _totals(result: Analysis) -> list[tuple[str, str]]:
    return [
        ("Total params", f"{result.params:,} ({human_count(result.params)})"),
        ("Trainable params", f"{result.trainable_params:,}"),
        ("Mult-adds (MACs)", f"{result.macs:,} ({human_count(result.macs)}; FLOPs = 2 x MACs)"),
        ("Output shape", shape_text(result.output_shape)),
        ("Depth", str(result.depth)),
        ("Params size", f"{human_bytes(result.param_bytes)} (fp32)"),
        (
            "Activations",
            f"{human_bytes(result.activation_bytes_per_sample)} per sample"
            " (fp32, kept for training)",
        ),
    ]


def _title(result: Analysis) -> str:
    """The first line: a name's newlines become spaces, so they cannot end a LaTeX comment
    or a Markdown paragraph early."""
    d = result.design
    name = " ".join(d.name.split())
    return f"{name}: input {d.input.channels} x {d.input.height} x {d.input.width}"


def format_summary(result: Analysis, fmt: str = "table", geometry: Geometry | None = None) -> str:
    """The per-layer summary as text: ``table`` (torchinfo-like, the default),
    ``markdown`` (a GitHub table), ``latex`` (booktabs and longtable) or ``csv``.

    One row per module call: shapes, parameters, mult-adds and, with ``geometry``,
    receptive field and output stride. The totals follow (``csv``: the rows alone).
    """
    if fmt == "csv":
        return _csv(result, geometry)
    rows = _rows(result, geometry)
    if fmt == "table":
        text = _table(result, rows)
    elif fmt == "markdown":
        text = _markdown(result, rows)
    elif fmt == "latex":
        text = _latex(result, rows)
    else:
        raise ValueError(f"format: must be one of {', '.join(SUMMARY_FORMATS)} (got {fmt!r})")
    return text


def _table(result: Analysis, rows: list[tuple[str, ...]]) -> str:
    widths = [max(map(len, column)) for column in zip(*rows, strict=True)]
    # one format string for every row: 280,000 rows print in a second
    template = "  ".join(
        f"{{:{'>' if i >= _FIRST_NUMBER else '<'}{w}}}" for i, w in enumerate(widths)
    )
    lines = [template.format(*r).rstrip() for r in rows]
    rule = "-" * len(lines[0])
    out = [_title(result), rule, lines[0], rule]
    out += lines[1:]
    out.append(rule)
    out += [f"{label + ':':<19}{value}" for label, value in _totals(result)]
    if len(rows[0]) > len(_HEADER):
        out.append(GEOMETRY_NOTE)
    return "\n".join(out) + "\n"


def _markdown_cell(text: str) -> str:
    """A table cell: a pipe would end it, a backslash or backtick could start markup."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("`", "\\`")


def _markdown(result: Analysis, rows: list[tuple[str, ...]]) -> str:
    def line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(_markdown_cell(c) for c in cells) + " |"

    align = ("---:" if i >= _FIRST_NUMBER else "---" for i in range(len(rows[0])))
    out = [f"**{_markdown_cell(_title(result))}**", "", line(rows[0])]
    out.append("| " + " | ".join(align) + " |")
    out += [line(r) for r in rows[1:]]
    out += ["", "| Total | |", "| --- | ---: |"]
    out += [line(total) for total in _totals(result)]
    if len(rows[0]) > len(_HEADER):
        out += ["", GEOMETRY_NOTE]
    return "\n".join(out) + "\n"


_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def latex_escape(text: str) -> str:
    """``text`` as LaTeX typesets it literally: every special character escaped."""
    return "".join(_LATEX_SPECIALS.get(ch, ch) for ch in text)


def _latex(result: Analysis, rows: list[tuple[str, ...]]) -> str:
    """A ``longtable`` (it breaks across pages) with ``booktabs`` rules, its head repeated."""
    columns = len(rows[0])

    def line(cells: tuple[str, ...]) -> str:
        return " & ".join(cells) + r" \\"

    def cell(i: int, text: str) -> str:
        text = latex_escape(text)
        if i == 0:
            return r"\texttt{" + text + "}"
        return text.replace(" x ", r"$\times$") if i in (2, 3) else text

    head = line(rows[0])
    spec = "".join("r" if i >= _FIRST_NUMBER else "l" for i in range(columns))
    title = latex_escape(_title(result)).replace(" x ", r" $\times$ ")
    out = [
        r"% resnet-designer summary --format latex; needs \usepackage{booktabs,longtable}",
        r"\begin{longtable}{" + spec + "}",
        r"\caption{" + title + r"} \\",
        r"\toprule",
        head,
        r"\midrule",
        r"\endfirsthead",
        r"\toprule",
        head,
        r"\midrule",
        r"\endhead",
    ]
    out += [line(tuple(cell(i, c) for i, c in enumerate(r))) for r in rows[1:]]
    out.append(r"\midrule")
    left = _FIRST_NUMBER
    for label, value in _totals(result):
        value = latex_escape(value).replace(" x ", r" $\times$ ")
        out.append(
            line(
                (
                    rf"\multicolumn{{{left}}}{{l}}{{{latex_escape(label)}}}",
                    rf"\multicolumn{{{columns - left}}}{{r}}{{{value}}}",
                )
            )
        )
    out += [r"\bottomrule", r"\end{longtable}"]
    return "\n".join(out) + "\n"


def _csv(result: Analysis, geometry: Geometry | None) -> str:
    """One header row, then one row per layer: plain integers, shapes as ``64x56x56``,
    an empty field where a figure does not apply."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    header = ["layer", "kind", "input", "output", "params", "macs"]
    if geometry is not None:
        header += ["receptive_field", "output_stride"]
    writer.writerow(header)
    for i, layer in enumerate(result.layers):
        row: list[object] = [
            layer.name,
            layer.kind,
            shape_text(layer.input_shape, "x"),
            shape_text(layer.output_shape, "x"),
            layer.params,
            layer.macs,
        ]
        if geometry is not None:
            at = geometry[i]
            row += list(at) if at else ["", ""]
        writer.writerow(row)
    return buffer.getvalue()
