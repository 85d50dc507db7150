"""Designs side by side: per-stage figures with deltas, and a params-vs-MACs Pareto plot."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from designer.core.analysis import Analysis, analyse
from designer.core.design import Design
from designer.core.presets import load_preset, preset_names
from designer.core.report import delta_text, human_bytes, human_count
from designer.core.stages import StageFigures, stage_figures


@dataclass(frozen=True)
class Column:
    label: str
    result: Analysis
    stages: tuple[StageFigures, ...]


def columns(designs: list[tuple[str, Design]]) -> list[Column]:
    out = []
    for label, design in designs:
        result = analyse(design)
        out.append(Column(label, result, tuple(stage_figures(result))))
    return out


def comparison_table(cols: list[Column]) -> str:
    """Totals then every stage: each column's figures, deltas against the first column."""
    base = cols[0]
    names: list[str] = []
    for col in cols:
        names += [s.name for s in col.stages if s.name not in names]
    rows: list[list[str]] = [["", *[c.label for c in cols]]]

    def add(label: str, values: list[float | None], fmt: str) -> None:
        cells = [label]
        for i, value in enumerate(values):
            if value is None:
                cells.append("--")
                continue
            shown = (
                human_bytes(value)
                if fmt == "bytes"
                else (f"{int(value)}" if fmt == "int" else human_count(value))
            )
            first = values[0]
            if i and first is not None and fmt != "int":
                size = human_bytes if fmt == "bytes" else human_count
                shown += f" [{delta_text(value, first, size)}]"
            cells.append(shown)
        rows.append(cells)

    add("params", [c.result.params for c in cols], "count")
    add("MACs", [c.result.macs for c in cols], "count")
    add("activations/sample", [c.result.activation_bytes_per_sample for c in cols], "bytes")
    add("depth", [c.result.depth for c in cols], "int")
    for name in names:
        per = [next((s for s in c.stages if s.name == name), None) for c in cols]
        add(f"{name} params", [s.params if s else None for s in per], "count")
        add(f"{name} MACs", [s.macs if s else None for s in per], "count")
        add(f"{name} activations", [s.activation_bytes if s else None for s in per], "bytes")
        add(f"{name} output stride", [s.output_stride if s else None for s in per], "int")
        add(f"{name} receptive field", [s.receptive_field if s else None for s in per], "int")
    del base
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines) + "\n"


def pareto_figure(highlight: list[tuple[str, Design]], *, fmt: str = "png") -> bytes:
    """Params against MACs of every preset, with the given designs highlighted.

    Drawn on a bare :class:`~matplotlib.figure.Figure`, never through pyplot: saving
    picks the canvas for ``fmt`` itself, so it works without a display and leaves
    matplotlib's global backend (the app's, a notebook's) as it was.
    """
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7.5, 5.0), dpi=150, layout="constrained")
    axes = figure.add_subplot()
    shown = {design for _, design in highlight}
    points = []
    for name in preset_names():
        preset = load_preset(name)
        if preset not in shown:
            result = analyse(preset)
            points.append((result.macs, result.params, name))
    axes.scatter([p[0] for p in points], [p[1] for p in points], s=22, color="#8a94a6", zorder=2)
    for i, (macs, params, name) in enumerate(sorted(points)):
        offset = (4, 3) if i % 2 else (4, -9)  # alternate sides: neighbours rarely collide
        axes.annotate(
            name,
            (macs, params),
            xytext=offset,
            textcoords="offset points",
            fontsize=6.5,
            color="#4a5263",
        )
    colours = ["#d1495b", "#00798c", "#edae49", "#30638e", "#6a4c93"]
    for i, (label, design) in enumerate(highlight):
        result = analyse(design)
        axes.scatter(
            [result.macs],
            [result.params],
            s=70,
            marker="D",
            color=colours[i % len(colours)],
            zorder=3,
            label=label,
        )
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("multiply-adds per image (MACs, torchinfo convention)")
    axes.set_ylabel("parameters")
    axes.set_title("Parameters against compute, every bundled preset")
    axes.grid(True, which="both", lw=0.3, alpha=0.5)
    axes.legend(fontsize=7, loc="upper left")
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt)
    return buffer.getvalue()


def write_pareto(path: str | Path, highlight: list[tuple[str, Design]]) -> None:
    from designer.core.io import atomic_write_bytes

    suffix = Path(path).suffix.lstrip(".").lower()
    atomic_write_bytes(path, pareto_figure(highlight, fmt=suffix), backup=False)
