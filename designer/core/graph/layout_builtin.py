"""A layered layout that knows what a ResNet looks like, in pure Python, in linear time.

The graph is nearly a chain with skip arcs, so instead of general crossing
minimisation it places nodes by rank (longest path from the input) and by
branch: the main path in one column, the shortcut branch (projection conv/BN,
zero-pad, avg-pool) in a column to its right, the squeeze-excite branch to its
left. Identity skips run down a lane just right of the main column, so no
edge ever crosses a node. Stages become full-width bands with room for a title.
"""

from __future__ import annotations

from bisect import bisect_right

import networkx as nx

from designer.core.graph.geometry import Box, Layout, Point, node_size

RANK_GAP = 16.0  # vertical space between rows (room for a shape label beside an edge)
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


def builtin_layout(graph: nx.DiGraph) -> Layout:
    """The ResNet-aware layered layout (see the module docstring)."""
    order = list(nx.topological_sort(graph))
    nodes = graph.nodes
    rank = _ranks(graph, order)
    column = _columns(graph, order, rank)
    sizes = {n: node_size(nodes[n]) for n in order}
    centre, lane = _column_centres(sizes, column)

    rows: dict[int, list[str]] = {}
    for n in order:
        rows.setdefault(rank[n], []).append(n)
    # y of each row; a change of stage between rows opens a gap for the cluster frames
    row_top: dict[int, float] = {}
    row_stage: dict[int, object] = {}
    y = 0.0
    previous: object = "none"
    for r in sorted(rows):
        stage = next((nodes[n].get("stage") for n in rows[r]), None)
        if stage != previous:
            if previous is not None and previous != "none":
                y += CLUSTER_PAD + CLUSTER_GAP
            if stage is not None:
                y += CLUSTER_TITLE + CLUSTER_PAD
            previous = stage
        row_top[r] = y
        row_stage[r] = stage
        y += max(sizes[n][1] for n in rows[r]) + RANK_GAP
    bottom = y - RANK_GAP + (CLUSTER_PAD if previous not in (None, "none") else 0.0)

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

    # shift everything so the drawing starts at (MARGIN, MARGIN)
    xs = [b.x for b in boxes.values()] + [lane]
    xe = [b.right for b in boxes.values()] + [lane]
    left = min(xs) - CLUSTER_PAD - title_width(graph)
    right = max(xe) + CLUSTER_PAD
    dx = MARGIN - left
    dy = MARGIN
    boxes = {n: Box(b.x + dx, b.y + dy, b.w, b.h) for n, b in boxes.items()}
    edges = {k: tuple((x + dx, y + dy) for x, y in pts) for k, pts in edges.items()}

    clusters: dict[int, Box] = {}
    for stage, members in graph.graph.get("stages", {}).items():
        present = [boxes[n] for n in members if n in boxes]
        if not present:
            continue
        top = min(b.y for b in present) - CLUSTER_PAD - CLUSTER_TITLE
        low = max(b.bottom for b in present) + CLUSTER_PAD
        clusters[stage] = Box(MARGIN, top, right - left, low - top)
    width = right - left + 2 * MARGIN
    height = bottom + 2 * MARGIN
    return Layout(boxes, edges, clusters, width, height, "builtin")
