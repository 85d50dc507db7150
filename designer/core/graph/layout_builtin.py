"""A layered layout that knows what a ResNet looks like, in pure Python, in linear time.

The graph is nearly a chain with skip arcs, so instead of general crossing
minimisation it places nodes by rank (longest path from the input) and by
branch: the main path in one column, the shortcut branch (projection conv/BN,
zero-pad, avg-pool) in a column to its right, the squeeze-excite branch to its
left. Identity skips run down a lane just right of the main column, so no
edge ever crosses a node. Stages become full-width bands with room for a title.

Left to right ("LR") is the same placement transposed: ranks become columns that
go left to right, the main path one row, the shortcut branch (and the skip lane)
below it, squeeze-excite above; stages become full-height bands, each at least as
wide as its title, with ``title_room`` free above them for it. Node boxes keep
their size (labels stay horizontal text). The code works in flow coordinates
("along" the flow, "across" it: y and x top to bottom) and swaps them at the end.
"""

from __future__ import annotations

from bisect import bisect_right

import networkx as nx

from designer.core.graph.geometry import (
    Box,
    Direction,
    Layout,
    Point,
    check_direction,
    node_size,
    title_parts,
    title_room,
)

RANK_GAP = 16.0  # vertical space between rows (room for a shape label beside an edge)
RANK_GAP_LR = 44.0  # horizontal space between columns, left to right (a shape label above)
COLUMN_GAP = 28.0  # horizontal space between columns; the skip lane runs in its middle
CLUSTER_PAD = 10.0
CLUSTER_TITLE = 6.0  # extra space above a stage's first row
TITLE_FONT_WIDTH = 6.4  # the stage title sits in a column left of the network
CLUSTER_GAP = 12.0
MARGIN = 8.0

_BRANCH_COLUMN = {"main": 0, "shortcut": 1, "se": -1}


def _ranks(graph: nx.DiGraph, order: list[str]) -> dict[str, int]:
    rank: dict[str, int] = {}
    pred = graph._pred
    for n in order:
        rank[n] = max((rank[u] + 1 for u in pred[n]), default=0)
    return rank


def _columns(graph: nx.DiGraph, order: list[str], rank: dict[str, int]) -> dict[str, int]:
    """Main path in column 0, shortcut right, SE left; a clash moves a node further out."""
    column: dict[str, int] = {}
    taken: set[tuple[int, int]] = set()
    nodes = graph.nodes
    for n in order:
        col = _BRANCH_COLUMN.get(nodes[n].get("branch", "main"), 0)
        step = -1 if col < 0 else 1
        while (rank[n], col) in taken:
            col += step
        taken.add((rank[n], col))
        column[n] = col
    return column


def _column_centres(
    sizes: dict[str, tuple[float, float]], column: dict[str, int]
) -> tuple[dict[int, float], float]:
    """x of each column's centre, and of the skip lane right of column 0."""
    widest: dict[int, float] = {}
    for n, col in column.items():
        widest[col] = max(widest.get(col, 0.0), sizes[n][0])
    centre = {0: 0.0}
    lane = widest.get(0, 0.0) / 2 + COLUMN_GAP / 2
    for col in sorted(c for c in widest if c > 0):
        prev = col - 1 if col - 1 in centre else max(c for c in centre if c < col)
        centre[col] = centre[prev] + widest.get(prev, 0.0) / 2 + COLUMN_GAP + widest[col] / 2
    for col in sorted((c for c in widest if c < 0), reverse=True):
        nxt = min(c for c in centre if c > col)
        centre[col] = centre[nxt] - widest.get(nxt, 0.0) / 2 - COLUMN_GAP - widest[col] / 2
    return centre, lane


def title_width(graph: nx.DiGraph) -> float:
    """Room for the stage titles ("layer2" / "4 blocks" / "512x28x28", one part a line)."""
    labels = graph.graph.get("stage_labels", {})
    if not graph.graph.get("stages"):
        return 0.0
    longest = max((len(p) for text in labels.values() for p in text.split(" · ")), default=0)
    return longest * TITLE_FONT_WIDTH + CLUSTER_PAD


def _stage_title_widths(graph: nx.DiGraph) -> dict[object, float]:
    """Left to right: the width each stage's frame needs for its title above it."""
    labels = graph.graph.get("stage_labels", {})
    return {
        stage: max((len(p) for p in title_parts(text)), default=0) * TITLE_FONT_WIDTH
        + 2 * CLUSTER_PAD
        for stage, text in labels.items()
    }


def builtin_layout(graph: nx.DiGraph, direction: Direction = "TB") -> Layout:
    """The ResNet-aware layered layout (see the module docstring)."""
    check_direction(direction)
    lr = direction == "LR"
    order = list(nx.topological_sort(graph))
    nodes = graph.nodes
    rank = _ranks(graph, order)
    column = _columns(graph, order, rank)
    # (across, along) extents: a box's width runs across the flow top to bottom, along it
    # left to right
    sizes = {n: node_size(nodes[n]) for n in order}
    if lr:
        sizes = {n: (h, w) for n, (w, h) in sizes.items()}
    centre, lane = _column_centres(sizes, column)
    gap = RANK_GAP_LR if lr else RANK_GAP
    title_along = 0.0 if lr else CLUSTER_TITLE  # TB: room above a stage's first row
    needs = _stage_title_widths(graph) if lr else {}

    rows: dict[int, list[str]] = {}
    for n in order:
        rows.setdefault(rank[n], []).append(n)
    # where each row starts along the flow; a change of stage between rows opens a gap
    # for the cluster frames; "ends" is where each stage's frame ends along the flow
    row_top: dict[int, float] = {}
    starts: dict[object, float] = {}
    ends: dict[object, float] = {}
    y = 0.0
    previous: object = "none"
    start = 0.0  # along, where the current stage's frame starts

    def close(stage: object, end: float) -> float:
        """End ``stage``'s frame at ``end`` or further (LR: wide enough for its title)."""
        ends[stage] = max(end + CLUSTER_PAD, start + needs.get(stage, 0.0))
        return ends[stage]

    for r in sorted(rows):
        stage = next((nodes[n].get("stage") for n in rows[r]), None)
        if stage != previous:
            if previous is not None and previous != "none":
                y = close(previous, y - gap) + CLUSTER_GAP + gap
            if stage is not None:
                start = starts[stage] = y
                y += title_along + CLUSTER_PAD
            previous = stage
        row_top[r] = y
        y += max(sizes[n][1] for n in rows[r]) + gap
    bottom = y - gap
    if previous is not None and previous != "none":
        bottom = close(previous, bottom)

    boxes: dict[str, Box] = {}
    row_height = {r: max(sizes[n][1] for n in rows[r]) for r in rows}
    for n in order:
        w, h = sizes[n]
        r = rank[n]
        top = row_top[r] + (row_height[r] - h) / 2
        boxes[n] = Box(centre[column[n]] - w / 2, top, w, h)

    # occupied ranks per column, to know when a long edge must leave its column
    occupied: dict[int, list[int]] = {}
    for n in order:
        occupied.setdefault(column[n], []).append(rank[n])
    for ranks in occupied.values():
        ranks.sort()

    def blocked(col: int, r0: int, r1: int) -> bool:
        ranks = occupied.get(col, [])
        i = bisect_right(ranks, r0)
        return i < len(ranks) and ranks[i] < r1

    edges: dict[tuple[str, str], tuple[Point, ...]] = {}
    for u, v in graph.edges():
        a, b = boxes[u], boxes[v]
        cu, cv = column[u], column[v]
        pts: tuple[Point, ...]
        if cu == cv:
            if cu == 0 and blocked(0, rank[u], rank[v]):
                # leave below the middle so a skip arriving at an add (pre-activation
                # blocks) and the next one leaving it do not share a segment
                sx, sy = (a.cx + a.w * 0.36, a.cy + a.h * 0.36) if a.w == a.h else (a.right, a.cy)
                pts = ((sx, sy), (lane, sy), (lane, b.cy), (b.right, b.cy))
            else:
                pts = ((a.cx, a.bottom), (b.cx, b.y))
        elif cv != 0 and abs(cv) > abs(cu):  # leaving towards a side column
            side = a.right if cv > cu else a.x
            pts = ((side, a.cy), (b.cx, a.cy), (b.cx, b.y))
        else:  # joining a column nearer the main path
            side = b.right if cu > cv else b.x
            pts = ((a.cx, a.bottom), (a.cx, b.cy), (side, b.cy))
        edges[(u, v)] = pts

    # shift everything so the drawing starts at (MARGIN, MARGIN); the titles go in a
    # column left of the network inside the frames (TB), or above the frames (LR)
    title = title_room(graph) if lr else title_width(graph)
    xs = [b.x for b in boxes.values()] + [lane]
    xe = [b.right for b in boxes.values()] + [lane]
    left = min(xs) - CLUSTER_PAD - title
    right = max(xe) + CLUSTER_PAD
    dx = MARGIN - left
    dy = MARGIN
    width = right - left + 2 * MARGIN
    height = bottom + 2 * MARGIN
    clusters: dict[int, Box] = {}
    stages = graph.graph.get("stages", {})
    if lr:  # flow coordinates to the page's: shift, and swap x and y, in one pass
        boxes = {n: Box(b.y + dy, b.x + dx, b.h, b.w) for n, b in boxes.items()}
        edges = {k: tuple((y + dy, x + dx) for x, y in pts) for k, pts in edges.items()}
        for stage, members in stages.items():
            present = [boxes[n] for n in members if n in boxes]
            if not present:
                continue
            # the whole band, as wide as its title needs, under the titles' row
            x0 = min(b.x for b in present) - CLUSTER_PAD
            x1 = max(b.right for b in present) + CLUSTER_PAD
            if stage in starts:
                x0, x1 = min(x0, starts[stage] + dy), max(x1, ends[stage] + dy)
            clusters[stage] = Box(x0, MARGIN + title, x1 - x0, right - left - title)
        return Layout(boxes, edges, clusters, height, width, "builtin", direction)
    boxes = {n: Box(b.x + dx, b.y + dy, b.w, b.h) for n, b in boxes.items()}
    edges = {k: tuple((x + dx, y + dy) for x, y in pts) for k, pts in edges.items()}
    for stage, members in stages.items():
        present = [boxes[n] for n in members if n in boxes]
        if not present:
            continue
        top = min(b.y for b in present) - CLUSTER_PAD - CLUSTER_TITLE
        low = max(b.bottom for b in present) + CLUSTER_PAD
        clusters[stage] = Box(MARGIN, top, right - left, low - top)
    return Layout(boxes, edges, clusters, width, height, "builtin", direction)
