"""The work a worker does for the graph view: build the graph, collapse stages, lay it out.

Pure functions over the core (no widgets), so they can run on any thread, or in a
helper process for big graphs (see ``designer.qt.processes``).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

from designer.core.analysis import Analysis
from designer.core.design import Design
from designer.qt.processes import HelperUnavailable, run_in_helper, warm


@dataclass(frozen=True)
class Drawing:
    analysis: Analysis
    level: str
    graph: Any  # networkx.DiGraph
    layout: Any  # designer.core.graph.layout.Layout
    graph_ms: float
    layout_ms: float


def lay_out(analysis: Analysis, level: str, collapsed: frozenset[int]) -> Drawing:
    from designer.core.graph import build_graph, collapse_stages
    from designer.core.graph.layout import compute_layout

    start = time.perf_counter()
    graph = build_graph(analysis, level)  # type: ignore[arg-type]
    present = collapsed & set(graph.graph.get("stages", {}))
    if present:
        graph = collapse_stages(graph, set(present))
    mid = time.perf_counter()
    layout = compute_layout(graph, "auto")
    end = time.perf_counter()
    return Drawing(analysis, level, graph, layout, (mid - start) * 1e3, (end - mid) * 1e3)


def analyse_and_lay_out(design: Design, level: str, collapsed: frozenset[int]) -> Drawing:
    """Both steps off the UI thread, for designs whose analysis alone takes a while."""
    from designer.core.analysis import analyse

    return lay_out(analyse(design), level, collapsed)


# Graph nodes above which the drawing is made in the helper process: below it the
# work takes a few milliseconds, above it long enough to starve the UI thread.
PROCESS_NODES = 300


def warm_helper() -> None:
    """Start the drawing helper process ahead of need (from a worker thread)."""
    warm("draw")


def graph_size(analysis: Analysis, level: str) -> int:
    """About how many nodes the graph will have (module calls, or blocks)."""
    return len(analysis.layers) if level == "layer" else len(analysis.blocks)


def draw(analysis: Analysis, level: str, collapsed: frozenset[int]) -> Drawing:
    """``lay_out``, in the helper process for big graphs."""
    if graph_size(analysis, level) > PROCESS_NODES:
        try:
            drawing = run_in_helper("draw", lay_out, analysis, level, collapsed)
        except HelperUnavailable:
            return lay_out(analysis, level, collapsed)
        # keep the caller's analysis object: the same value, and views compare identity
        return dataclasses.replace(drawing, analysis=analysis)
    return lay_out(analysis, level, collapsed)


def analyse_and_draw(design: Design, level: str, collapsed: frozenset[int]) -> Drawing:
    """``analyse_and_lay_out``, in the helper process (designs this big have big graphs)."""
    try:
        return run_in_helper("draw", analyse_and_lay_out, design, level, collapsed)
    except HelperUnavailable:
        return analyse_and_lay_out(design, level, collapsed)
