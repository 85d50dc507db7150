"""Coordinates for a design graph: Graphviz ``dot`` when it is there, our own layered layout always.

Everything is in points (1/72 inch), y grows downward, the network flows top to
bottom ("TB", the default) or left to right ("LR"). A :class:`Box` is a top-left
corner plus a size. Edges are polylines (dot's Bézier splines are sampled into
points) that start on the source's border and end on the target's border, so a
view can draw them without knowing the engine.

"auto" picks ``dot`` for small graphs, where its output is classic and cheap,
and the built-in layered layout for big ones, where dot's crossing minimisation
costs seconds on what is essentially a chain with skip arcs.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from functools import lru_cache
from typing import Literal

import networkx as nx

from designer.core.graph.geometry import (
    Box,
    Direction,
    Layout,
    Point,
    check_direction,
    node_size,
    title_room,
)

Engine = Literal["auto", "dot", "builtin"]
ENGINES: tuple[str, ...] = ("auto", "dot", "builtin")

# Above this many nodes "auto" uses the built-in layout: dot's time grows
# faster than linearly (a 3,340-node graph takes it about 4 s).
AUTO_DOT_MAX_NODES = 200
DOT_TIMEOUT_S = 30.0


@lru_cache(maxsize=1)
def _dot_path() -> str | None:
    return shutil.which("dot")


def dot_available() -> bool:
    """Whether Graphviz ``dot`` is on PATH (checked once per process)."""
    return _dot_path() is not None


class LayoutError(RuntimeError):
    """``dot`` was asked for and failed (missing, crashed or timed out)."""


def compute_layout(
    graph: nx.DiGraph, engine: Engine = "auto", direction: Direction = "TB"
) -> Layout:
    """Lay ``graph`` out top to bottom ("TB") or left to right ("LR"); ``auto`` falls
    back to the built-in layout."""
    if engine not in ENGINES:
        raise ValueError(f"engine: '{engine}' is not one of {', '.join(ENGINES)}")
    check_direction(direction)
    from designer.core.graph.layout_builtin import builtin_layout

    if engine == "builtin":
        return builtin_layout(graph, direction)
    if engine == "auto" and (graph.number_of_nodes() > AUTO_DOT_MAX_NODES or not dot_available()):
        return builtin_layout(graph, direction)
    try:
        return dot_layout(graph, direction)
    except LayoutError:
        if engine == "dot":
            raise
        return builtin_layout(graph, direction)


def dot_quote(text: str) -> str:
    """A DOT quoted string: backslashes, quotes and newlines escaped (ids and labels alike)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def cluster_name(stage: int) -> str:
    return f"cluster_s{stage}" if stage >= 0 else f"cluster_sm{-stage}"


# Left to right, ranks sit further apart: a shape label goes above an edge, not beside it.
RANKSEP_IN = {"TB": 0.22, "LR": 0.6}


def layout_dot_source(graph: nx.DiGraph, direction: Direction = "TB") -> str:
    """Plain geometry-only DOT: fixed node sizes, stage clusters, heavy main-path edges.

    Node widths and heights are the page's in either direction (dot turns the
    ranks, not the boxes), so the labels stay horizontal text.
    """
    check_direction(direction)
    lines = [
        "digraph G {",
        f"graph [rankdir={direction}, nodesep=0.25, ranksep={RANKSEP_IN[direction]}];",
        'node [shape=box, fixedsize=true, label=""];',
    ]
    stages = graph.graph.get("stages", {})
    clustered = set()
    for stage, members in stages.items():
        lines.append(f"subgraph {cluster_name(stage)} {{ margin=10;")
        for n in members:
            w, h = node_size(graph.nodes[n])
            group = graph.nodes[n].get("branch", "main")  # keeps the main path straight
            lines.append(
                f'{dot_quote(n)} [group="{group}", width={w / 72:.4f}, height={h / 72:.4f}];'
            )
            clustered.add(n)
        lines.append("}")
    for n, attrs in graph.nodes(data=True):
        if n not in clustered:
            w, h = node_size(attrs)
            lines.append(f"{dot_quote(n)} [width={w / 72:.4f}, height={h / 72:.4f}];")
    for u, v, attrs in graph.edges(data=True):
        weight = 1 if attrs.get("skip") else 10
        lines.append(f"{dot_quote(u)} -> {dot_quote(v)} [weight={weight}];")
    lines.append("}")
    return "\n".join(lines)


def run_dot(
    source: str, fmt: str, pinned: bool = False, *, warnings: list[str] | None = None
) -> bytes:
    """``dot -T<fmt>`` on ``source``; LayoutError with dot's own message on failure.

    ``pinned``: positions are given (``-Kneato -n2``): Graphviz only draws.
    ``warnings``: gets what dot said on stderr, since a success may still be degraded
    (a bitmap shrunk to fit, say).
    """
    exe = _dot_path()
    if exe is None:
        raise LayoutError("Graphviz 'dot' is not installed")
    engine = ["-Kneato", "-n2"] if pinned else []
    try:
        proc = subprocess.run(
            [exe, *engine, f"-T{fmt}"],
            input=source.encode(),
            capture_output=True,
            timeout=DOT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LayoutError(f"dot failed: {exc}") from None
    if proc.returncode != 0:
        message = proc.stderr.decode(errors="replace").strip().splitlines()
        raise LayoutError(f"dot failed: {message[-1] if message else proc.returncode}")
    if warnings is not None:
        warnings.extend(proc.stderr.decode(errors="replace").splitlines())
    return proc.stdout


def _bezier(points: list[Point], samples: int = 4) -> list[Point]:
    """Sample dot's piecewise cubic Bézier (1 + 3k control points) into a polyline."""
    out = [points[0]]
    for i in range(0, len(points) - 3, 3):
        p0, p1, p2, p3 = points[i : i + 4]
        for s in range(1, samples + 1):
            t = s / samples
            a, b, c, d = (1 - t) ** 3, 3 * t * (1 - t) ** 2, 3 * t * t * (1 - t), t**3
            out.append(
                (
                    a * p0[0] + b * p1[0] + c * p2[0] + d * p3[0],
                    a * p0[1] + b * p1[1] + c * p2[1] + d * p3[1],
                )
            )
    return out


def dot_layout(graph: nx.DiGraph, direction: Direction = "TB") -> Layout:
    """Run ``dot -Tjson0`` and read the coordinates back (y flipped to grow downward).

    Left to right, everything moves down by ``title_room`` so each stage's title
    fits above its frame.
    """
    data = json.loads(run_dot(layout_dot_source(graph, direction), "json0"))
    x0, y0, x1, y1 = (float(v) for v in data["bb"].split(","))
    room = title_room(graph) if direction == "LR" else 0.0
    height = y1 - y0
    top = height + room  # y of dot's bottom edge on the page

    def pt(text: str) -> Point:
        x, y = text.split(",")[-2:]
        return float(x) - x0, top - (float(y) - y0)

    names: dict[int, str] = {}
    nodes: dict[str, Box] = {}
    clusters: dict[int, Box] = {}
    by_cluster = {cluster_name(s): s for s in graph.graph.get("stages", {})}
    for obj in data.get("objects", []):
        name = obj["name"]
        if "nodes" in obj or name.startswith("cluster_"):
            if name in by_cluster and "bb" in obj:
                a, b, c, d = (float(v) for v in obj["bb"].split(","))
                clusters[by_cluster[name]] = Box(a - x0, top - (d - y0), c - a, d - b)
            continue
        names[obj["_gvid"]] = name
        cx, cy = pt(obj["pos"])
        w, h = float(obj["width"]) * 72, float(obj["height"]) * 72
        nodes[name] = Box(cx - w / 2, cy - h / 2, w, h)
    edges: dict[tuple[str, str], tuple[Point, ...]] = {}
    for e in data.get("edges", []):
        parts = e["pos"].split()
        end = None
        if parts[0].startswith("e,"):
            end = pt(parts[0][2:])
            parts = parts[1:]
        start = None
        if parts[0].startswith("s,"):
            start = pt(parts[0][2:])
            parts = parts[1:]
        points = _bezier([pt(p) for p in parts])
        if start is not None:
            points.insert(0, start)
        if end is not None:
            points.append(end)
        edges[(names[e["tail"]], names[e["head"]])] = tuple(points)
    return Layout(nodes, edges, clusters, x1 - x0, height + room, "dot", direction)
