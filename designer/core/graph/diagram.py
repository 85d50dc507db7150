"""Paper-ready diagrams of a design graph: styled DOT, rendered by Graphviz.

Style choices, for print: colour by layer kind (with a legend-free scheme that
survives greyscale thanks to distinct borders), stages as titled clusters,
residual adds as round "+" nodes, skip paths dashed in red, tensor shapes on
the edges where the shape changes (labelling every edge is noise at layer level).

Top to bottom ("TB", the default) or left to right ("LR", for wide screens and
slides): left to right, each stage's title sits above its members.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import networkx as nx

from designer.core.analysis import Analysis, analyse
from designer.core.design import Design
from designer.core.graph.geometry import (
    TITLE_GAP,
    TITLE_LINE,
    Direction,
    Layout,
    check_direction,
    title_parts,
)
from designer.core.graph.layout import (
    LayoutError,
    cluster_name,
    compute_layout,
    dot_available,
    dot_quote,
    run_dot,
)
from designer.core.graph.network import (
    Level,
    build_graph,
    elide_repeats,
    needs_eliding,
    shape_label,
)
from designer.core.report import human_count

FORMATS: tuple[str, ...] = (".svg", ".png", ".pdf", ".dot")
PNG_DPI = 144
PINNED_MIN_NODES = 1000  # from here on we lay out and Graphviz only draws

# Past these Graphviz cannot draw a diagram at full size: its cairo renderer shrinks a
# bitmap of more than 32,767 px a side to fit (an unreadable strip, with only a warning),
# and a PDF page past cairo's 24.8 fixed-point range (2**23 pt) makes dot abort.
PNG_MAX_PX = 32_767
PDF_MAX_PT = 2**23 - 1
_PAD_PT = 18.0  # the graph's pad (0.25 in) on every side
_PDF_MARGIN_PT = 36.0  # Graphviz's PDF device adds this on every side of the page
_TITLE_CHAR_PT = 8.5  # a character of the bold 14 pt title, generously
_SHRUNK = re.compile(
    r"too large for cairo-renderer bitmaps\. Scaling by (\d*\.?\d+(?:[eE][-+]?\d+)?)"
)


class DiagramTooBig(LayoutError):
    """The diagram is past what its format holds at full size; ``width`` and ``height``
    are the drawing's, in points."""

    def __init__(self, suffix: str, width: float, height: float) -> None:
        self.suffix, self.width, self.height = suffix, width, height
        super().__init__(f"{self.problem('drawing')}: write {self.alternatives}")

    def problem(self, what: str) -> str:
        """What is wrong, as "the {what} would be W x H px, past ..."."""
        if self.suffix == ".png":
            w, h = (round(v * PNG_DPI / 72) for v in (self.width, self.height))
            return (
                f"the {what} would be {w:,} x {h:,} px, past PNG's {PNG_MAX_PX:,} px"
                " limit (Graphviz would shrink it to fit)"
            )
        w, h = (round(v + 2 * _PDF_MARGIN_PT) for v in (self.width, self.height))
        return (
            f"the {what} would be a {w:,} x {h:,} pt page, past the {PDF_MAX_PT:,} pt"
            " a side cairo can draw in a PDF"
        )

    @property
    def alternatives(self) -> str:
        """The formats that hold it: SVG always, PDF too where the page fits."""
        pdf = self.suffix != ".pdf" and fits(".pdf", self.width, self.height)
        return ".svg or .pdf" if pdf else ".svg"


def fits(suffix: str, width: float, height: float) -> bool:
    """Whether ``suffix`` holds a drawing of ``width`` x ``height`` points at full size."""
    side = max(width, height)
    if suffix == ".png":
        return round(side * PNG_DPI / 72) <= PNG_MAX_PX
    if suffix == ".pdf":
        return round(side + 2 * _PDF_MARGIN_PT) <= PDF_MAX_PT
    return True


def _drawing_size(layout: Layout, title: str | None) -> tuple[float, float]:
    """The size in points Graphviz draws ``_pinned_dot`` at, a little generously: the
    layout and the title above it, plus the pad on every side."""
    top = 30.0 if title else 0.0
    width = max(layout.width, len(title or "") * _TITLE_CHAR_PT)
    return width + 2 * _PAD_PT, layout.height + top + 2 * _PAD_PT


# (fill, border) per node kind
_COLOURS: dict[str, tuple[str, str]] = {
    "input": ("#e5e7eb", "#374151"),
    "conv": ("#dbeafe", "#1d4ed8"),
    "norm": ("#dcfce7", "#15803d"),
    "act": ("#fef3c7", "#b45309"),
    "pool": ("#ede9fe", "#6d28d9"),
    "linear": ("#fee2e2", "#b91c1c"),
    "pad": ("#f3f4f6", "#4b5563"),
    "flatten": ("#f3f4f6", "#4b5563"),
    "dropout": ("#f3f4f6", "#4b5563"),
    "stem": ("#e0f2fe", "#0369a1"),
    "block": ("#dbeafe", "#1d4ed8"),
    "head": ("#fee2e2", "#b91c1c"),
    "stage": ("#e5e7eb", "#374151"),
}
_CLUSTER_FILLS = ("#f8fafc", "#f1f5f9")
_SKIP_COLOUR = "#dc2626"
_EDGE_COLOUR = "#4b5563"
_LABEL_COLOUR = "#6b7280"


def _html(text: str) -> str:
    """Text safe inside DOT's HTML labels and SVG: markup escaped, and what neither can hold
    (control characters, lone surrogates) shown as a visible stand-in instead of failing."""
    text = text.translate(_STAND_INS).encode("utf-8", "replace").decode("utf-8")
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# C0 controls as their Unicode "control pictures" (ESC reads as U+241B), DEL likewise,
# C1 controls as the replacement character; surrogates become "?" when encoded.
_STAND_INS = {c: 0x2400 + c for c in range(0x20)} | {0x7F: 0x2421}
_STAND_INS |= dict.fromkeys(range(0x80, 0xA0), 0xFFFD)


def _node_line(node: str, attrs: Mapping[str, Any]) -> str:
    kind = attrs.get("kind", "")
    if kind in ("add", "mul"):
        label = "+" if kind == "add" else "×"
        return (
            f'{dot_quote(node)} [group="main", shape=circle, fixedsize=true, width=0.3, '
            f"label={dot_quote(label)}, "
            'fontsize=16, fontname="Helvetica-Bold", style=filled, fillcolor="#ffffff", '
            'color="#111827", penwidth=1.4];'
        )
    fill, border = _COLOURS.get(kind, ("#ffffff", "#374151"))
    label = str(attrs.get("label", node))
    group = f'group="{attrs.get("branch", "main")}", '
    if kind in ("stem", "block", "head", "stage") and attrs.get("params"):
        text = (
            f"<{_html(label)}<br/><font point-size='8' color='{_LABEL_COLOUR}'>"
            f"{human_count(attrs['params'])} params · {human_count(attrs['macs'])} MACs</font>>"
        )
    else:
        text = dot_quote(label)
    return f'{dot_quote(node)} [{group}label={text}, fillcolor="{fill}", color="{border}"];'


def _labelled_edges(graph: nx.DiGraph) -> set[tuple[str, str]]:
    """Edges that get a shape label: all at block level, shape changes at layer level."""
    if graph.graph.get("level") != "layer":
        return set(graph.edges())
    out = set()
    for u, v, d in graph.edges(data=True):
        before = [e["shape"] for _, _, e in graph.in_edges(u, data=True)]
        if not before or d["shape"] not in before:
            out.add((u, v))
    return out


def to_dot(graph: nx.DiGraph, title: str | None = None, direction: Direction = "TB") -> str:
    """Styled DOT source for ``graph`` (what ``render --format dot`` writes)."""
    check_direction(direction)
    lr = direction == "LR"
    lines = [
        "digraph resnet {",
        f'  graph [rankdir={direction}, fontname="Helvetica", fontsize=11, nodesep=0.3, '
        "ranksep=0.22,",
        '         bgcolor="white", pad=0.25, labelloc=t, labeljust=c];',
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10,',
        '        height=0.3, margin="0.12,0.04", penwidth=1.1];',
        f'  edge [color="{_EDGE_COLOUR}", arrowsize=0.6, fontname="Helvetica", fontsize=8,',
        f'        fontcolor="{_LABEL_COLOUR}"];',
    ]
    if title:
        lines.append(f"  label=<<b>{_html(title)}</b>>; fontsize=14;")
    clustered: set[str] = set()
    names = graph.graph.get("stage_names", {})
    labels = graph.graph.get("stage_labels", {})
    for i, (stage, members) in enumerate(sorted(graph.graph.get("stages", {}).items())):
        name = names.get(stage, str(stage))
        parts = title_parts(labels.get(stage, name))
        detail = "".join(f"{_html(p)}<br align='left'/>" for p in parts[1:])
        heading = (
            f"<b>{_html(name)}</b><br align='left'/>"
            f"<font point-size='9' color='{_LABEL_COLOUR}'>{detail}</font>"
        )
        lines.append(f"  subgraph {cluster_name(stage)} {{")
        # left to right, the title is the cluster's own label, above its members
        label = f"<{heading}>; labeljust=l; labelloc=t; fontsize=11" if lr else '""'
        lines.append(
            f'    label={label}; style="rounded,filled"; fillcolor="{_CLUSTER_FILLS[i % 2]}"; '
            'color="#cbd5e1"; margin=10;'
        )
        # top to bottom, the title is a node left of the stage's first row, so no edge
        # ever crosses it
        title = f"title:{stage}"
        if not lr:
            lines.append(
                f"    {dot_quote(title)} [shape=plaintext, style=solid, fontsize=11, "
                f"label=<{heading}>];"
            )
        for n in members:
            lines.append("    " + _node_line(n, graph.nodes[n]))
            clustered.add(n)
        first = next((n for n in members if graph.nodes[n].get("branch") == "main"), None)
        if first is not None and not lr:
            lines.append(
                f"    {{rank=same; {dot_quote(title)} -> {dot_quote(first)} [style=invis];}}"
            )
        lines.append("  }")
    for n, attrs in graph.nodes(data=True):
        if n not in clustered:
            lines.append("  " + _node_line(n, attrs))
    labelled = _labelled_edges(graph)
    for u, v, d in graph.edges(data=True):
        attrs = []
        if (u, v) in labelled:
            attrs.append(f"label={dot_quote(' ' + shape_label(d['shape']))}")
        if d.get("skip"):
            attrs.append(f'style=dashed, color="{_SKIP_COLOUR}", penwidth=1.3, weight=1')
        else:
            attrs.append("weight=10")
        lines.append(f"  {dot_quote(u)} -> {dot_quote(v)} [{', '.join(attrs)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def diagram_title(graph: nx.DiGraph, params: int, macs: int) -> str:
    return f"{graph.graph.get('name', 'network')} · {human_count(params)} parameters · " + (
        f"{human_count(macs)} mult-adds"
    )


def _title_top(layout: Layout, box_top: float, lines: int) -> float:
    """y where a stage title of ``lines`` lines starts: inside its frame's top left
    (TB), or just above the frame (LR)."""
    if layout.direction == "LR":
        return box_top - TITLE_GAP - lines * TITLE_LINE
    return box_top + 8


def _pinned_dot(graph: nx.DiGraph, layout: Layout, title: str | None) -> str:
    """DOT with every position, edge route and cluster frame fixed, for ``-Kneato -n2``.

    Graphviz then only draws (milliseconds per node) what our layout placed, so
    huge graphs render in seconds in the same style as the ``dot`` ones.
    """
    top = 30.0 if title else 0.0
    height = layout.height + top

    def xy(x: float, y: float) -> str:
        return f"{x:.1f},{height - y - top:.1f}"

    lines = to_dot(graph, title, layout.direction).splitlines()
    head = [line for line in lines[:7]]
    head.append(f'  graph [bb="0,0,{layout.width:.1f},{height:.1f}", splines=true];')
    if title:
        head.append(f"  label=<<b>{_html(title)}</b>>; fontsize=14;")
        head.append(f'  lp="{layout.width / 2:.1f},{height - 14:.1f}";')
    body: list[str] = []
    names = graph.graph.get("stage_names", {})
    labels = graph.graph.get("stage_labels", {})
    for i, (stage, box) in enumerate(sorted(layout.clusters.items())):
        parts = title_parts(labels.get(stage, names.get(stage, str(stage))))
        text = "\\l".join(dot_quote(p)[1:-1] for p in parts) + "\\l"
        lw, lh = max(len(p) for p in parts) * 6.2, len(parts) * 13.0
        lp = xy(box.x + 10 + lw / 2, _title_top(layout, box.y, len(parts)) + lh / 2)
        body.append(
            f'  subgraph {cluster_name(stage)} {{ graph [bb="{box.x:.1f},'
            f'{height - box.bottom - top:.1f},{box.right:.1f},{height - box.y - top:.1f}", '
            f'label="{text}", lp="{lp}", lwidth={lw / 72:.3f}, lheight={lh / 72:.3f}, '
            'labeljust=l, labelloc=t, fontsize=11, style="rounded,filled", '
            f'fillcolor="{_CLUSTER_FILLS[i % 2]}", color="#cbd5e1"]; }}'
        )
    for node, box in layout.nodes.items():
        line = _node_line(node, graph.nodes[node])
        pos = (
            f'pos="{xy(box.cx, box.cy)}", width={box.w / 72:.4f}, height={box.h / 72:.4f}, '
            "fixedsize=true, "
        )
        body.append("  " + line.replace(" [", f" [{pos}", 1))
    labelled = _labelled_edges(graph)
    for (u, v), points in layout.edges.items():
        d = graph.edges[u, v]
        *rest, (x1, y1) = points
        (x0, y0) = rest[-1]
        length = max(((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5, 1e-6)
        cut = min(6.0, length / 2)  # leave room for the arrowhead
        end = (x1 - (x1 - x0) * cut / length, y1 - (y1 - y0) * cut / length)
        route = [*rest, end]
        spline = [xy(*route[0])]
        for (ax, ay), (bx, by) in itertools.pairwise(route):
            spline += [xy(ax + (bx - ax) / 3, ay + (by - ay) / 3)]
            spline += [xy(ax + 2 * (bx - ax) / 3, ay + 2 * (by - ay) / 3), xy(bx, by)]
        attrs = [f'pos="e,{xy(x1, y1)} {" ".join(spline)}"']
        if (u, v) in labelled:
            text = shape_label(d["shape"])
            if abs(x1 - x0) < 1:
                lp = xy(x1 + 4 + len(text) * 2.2, (y0 + y1) / 2)
            else:
                lp = xy((x0 + x1) / 2, y1 - 7)
            attrs.append(f'label={dot_quote(text)}, lp="{lp}"')
        if d.get("skip"):
            attrs.append(f'style=dashed, color="{_SKIP_COLOUR}", penwidth=1.3')
        body.append(f"  {dot_quote(u)} -> {dot_quote(v)} [{', '.join(attrs)}];")
    return "\n".join([*head, *body, "}"]) + "\n"


def render(
    graph: nx.DiGraph, suffix: str, title: str | None = None, direction: Direction = "TB"
) -> bytes:
    """The diagram as bytes for ``suffix`` (one of FORMATS); LayoutError if dot fails,
    DiagramTooBig if a PNG or PDF could not hold it at full size.

    Graphs above PINNED_MIN_NODES are laid out by us and only drawn by Graphviz:
    ``dot`` itself needs minutes on a 3,000-layer network. Their size is known from
    our layout, so one too big is refused before Graphviz runs; a smaller graph's
    only once dot has laid it out (in seconds).
    """
    if suffix not in FORMATS:
        raise ValueError(f"suffix: '{suffix}' is not one of {', '.join(FORMATS)}")
    check_direction(direction)
    if suffix == ".dot":
        return to_dot(graph, title, direction).encode()
    big = graph.number_of_nodes() >= PINNED_MIN_NODES
    if suffix == ".svg" and (big or not dot_available()):
        return layout_svg(graph, compute_layout(graph, "builtin", direction), title).encode()
    if not dot_available():
        raise LayoutError("Graphviz 'dot' is not installed")
    if big:
        layout = compute_layout(graph, "builtin", direction)
        width, height = _drawing_size(layout, title)
        if not fits(suffix, width, height):
            raise DiagramTooBig(suffix, width, height)
        source = _pinned_dot(graph, layout, title)
    else:
        source = to_dot(graph, title, direction)
    fmt = suffix[1:]
    if fmt == "png":
        source = source.replace(
            "digraph resnet {", f"digraph resnet {{\n  graph [dpi={PNG_DPI}];", 1
        )
    warnings: list[str] = []
    data = run_dot(source, fmt, pinned=big, warnings=warnings)
    for line in warnings:  # dot's own size, when only it knew it (or our estimate fell short)
        shrunk = _SHRUNK.search(line)
        if fmt == "png" and shrunk and 0 < float(shrunk[1]) < 1:
            scale = float(shrunk[1]) * PNG_DPI / 72  # drawn pixels per point
            width, height = (int.from_bytes(data[i : i + 4], "big") for i in (16, 20))
            raise DiagramTooBig(suffix, width / scale, height / scale)
    return data


@dataclass(frozen=True)
class Diagram:
    data: bytes  # the file's content
    elided: int  # repeated blocks drawn as summary nodes (0: every block is drawn)


def render_design(
    source: Design | Analysis,
    level: Level = "block",
    suffix: str = ".svg",
    *,
    full: bool = False,
    direction: Direction = "TB",
) -> Diagram:
    """The titled diagram of a design (or of its analysis, if the caller has one) as
    ``suffix`` bytes: the one analyse -> graph -> render path the CLI and the app share.

    Unless ``full``, a graph too big to read (``needs_eliding``) summarises each stage's
    repeated blocks (see ``elide_repeats``), so the picture stays readable and bounded.
    """
    analysis = source if isinstance(source, Analysis) else analyse(source)
    graph = build_graph(analysis, level)
    elided = 0
    if not full and needs_eliding(graph):
        graph, elided = elide_repeats(graph)
    title = diagram_title(graph, analysis.params, analysis.macs)
    return Diagram(render(graph, suffix, title, direction), elided)


def _svg_text(x: float, y: float, text: str, size: float, **attrs: str) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in attrs.items())
    return f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}"{extra}>{_html(text)}</text>'


def layout_svg(graph: nx.DiGraph, layout: Layout, title: str | None = None) -> str:
    """An SVG drawn straight from a Layout: no Graphviz needed, same look as the dot render."""
    top = 30.0 if title else 0.0
    width, height = max(layout.width, len(title or "") * 8.0 + 20), layout.height + top
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}pt" height="{height:.0f}pt" '
        f'viewBox="0 0 {width:.1f} {height:.1f}" font-family="Helvetica, Arial, sans-serif">',
        "<defs>",
    ]
    for name, colour in (("arrow", _EDGE_COLOUR), ("skip", _SKIP_COLOUR)):
        out.append(
            f'<marker id="{name}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
            f'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
            f'fill="{colour}"/></marker>'
        )
    out.append("</defs>")
    dx = (width - layout.width) / 2
    out.append(
        f'<rect width="100%" height="100%" fill="white"/><g transform="translate({dx:.1f},{top})">'
    )
    if title:
        out.append(
            _svg_text(layout.width / 2, -10, title, 13, text_anchor="middle", font_weight="bold")
        )
    labels = graph.graph.get("stage_labels", {})
    for i, (stage, box) in enumerate(sorted(layout.clusters.items())):
        out.append(
            f'<rect x="{box.x:.1f}" y="{box.y:.1f}" width="{box.w:.1f}" height="{box.h:.1f}" '
            f'rx="8" fill="{_CLUSTER_FILLS[i % 2]}" stroke="#cbd5e1"/>'
        )
        parts = title_parts(labels.get(stage, str(stage)))
        y = _title_top(layout, box.y, len(parts))
        out.append(_svg_text(box.x + 10, y + 10, parts[0], 11, font_weight="bold"))
        for j, part in enumerate(parts[1:]):
            out.append(_svg_text(box.x + 10, y + 22 + 11 * j, part, 9, fill=_LABEL_COLOUR))
    labelled = _labelled_edges(graph)
    for (u, v), points in layout.edges.items():
        skip = graph.edges[u, v].get("skip")
        colour, marker = (_SKIP_COLOUR, "skip") if skip else (_EDGE_COLOUR, "arrow")
        dash = ' stroke-dasharray="4 3"' if skip else ""
        coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        out.append(
            f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="1"{dash} '
            f'marker-end="url(#{marker})"/>'
        )
        if (u, v) in labelled:
            (x0, y0), (x1, y1) = points[-2], points[-1]
            text = shape_label(graph.edges[u, v]["shape"])
            if abs(x1 - x0) < 1:  # vertical: beside the arrow
                out.append(_svg_text(x1 + 4, (y0 + y1) / 2 + 3, text, 7.5, fill=_LABEL_COLOUR))
            else:  # horizontal: above it, in the middle
                mid = (x0 + x1) / 2
                out.append(
                    _svg_text(mid, y1 - 3, text, 7.5, fill=_LABEL_COLOUR, text_anchor="middle")
                )
    for node, box in layout.nodes.items():
        attrs = graph.nodes[node]
        kind = attrs.get("kind", "")
        if kind in ("add", "mul"):
            r = box.w / 2
            out.append(
                f'<circle cx="{box.cx:.1f}" cy="{box.cy:.1f}" r="{r:.1f}" fill="#ffffff" '
                'stroke="#111827" stroke-width="1.4"/>'
            )
            sign = "+" if kind == "add" else "×"
            out.append(
                _svg_text(box.cx, box.cy + 5, sign, 14, text_anchor="middle", font_weight="bold")
            )
            continue
        fill, border = _COLOURS.get(kind, ("#ffffff", "#374151"))
        out.append(
            f'<rect x="{box.x:.1f}" y="{box.y:.1f}" width="{box.w:.1f}" height="{box.h:.1f}" '
            f'rx="5" fill="{fill}" stroke="{border}" stroke-width="1.1"/>'
        )
        out.append(
            _svg_text(box.cx, box.cy + 3.5, str(attrs.get("label", node)), 10, text_anchor="middle")
        )
    out.append("</g></svg>")
    return "\n".join(out) + "\n"
