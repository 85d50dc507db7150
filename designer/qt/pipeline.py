"""The work done off the UI thread for the live views: analyse huge designs, build the
graph, collapse stages, lay it out.

Pure functions over the core (no widgets), so they can run on any thread, or in a
helper process for big graphs (see ``designer.qt.processes``). ``direction`` is the
layout's flow, "TB" (top to bottom) or "LR" (left to right); the drawing's
``layout.direction`` says which one it has.
"""

from __future__ import annotations

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


def lay_out(
    analysis: Analysis, level: str, collapsed: frozenset[int], direction: str = "TB"
) -> Drawing:
    from designer.core.graph import build_graph, collapse_stages
    from designer.core.graph.layout import compute_layout

    start = time.perf_counter()
    graph = build_graph(analysis, level)  # type: ignore[arg-type]
    present = collapsed & set(graph.graph.get("stages", {}))
    if present:
        graph = collapse_stages(graph, set(present))
    mid = time.perf_counter()
    layout = compute_layout(graph, "auto", direction)  # type: ignore[arg-type]
    end = time.perf_counter()
    return Drawing(analysis, level, graph, layout, (mid - start) * 1e3, (end - mid) * 1e3)


# Graph nodes above which the drawing is made in the helper process: below it the
# work takes a few milliseconds, above it long enough to starve the UI thread.
PROCESS_NODES = 300


def warm_helper() -> None:
    """Start the drawing helper process ahead of need (from a worker thread)."""
    warm("draw")


def graph_size(analysis: Analysis, level: str) -> int:
    """About how many nodes the graph will have (module calls, or blocks)."""
    return len(analysis.layers) if level == "layer" else len(analysis.blocks)


# The helper process keeps the last analysis it made or was sent, so the drawing that
# follows an off-thread analysis sends only the design (a 10,000-block analysis takes
# about a second to pickle each way).
_remembered: Analysis | None = None


def remember(analysis: Analysis) -> Analysis:
    global _remembered
    _remembered = analysis
    return analysis


def analyse_here(design: Design) -> Analysis:
    """Analyse ``design`` in this process and keep it for the drawing that follows."""
    from designer.core.analysis import analyse

    return remember(analyse(design))


def analyse_remembered(design: Design) -> Analysis:
    """``analyse(design)`` in the drawing helper process (for designs too big for the UI thread)."""
    try:
        return run_in_helper("draw", analyse_here, design)
    except HelperUnavailable:
        return analyse_here(design)


def _lay_out_remembered(
    design: Design, level: str, collapsed: frozenset[int], direction: str = "TB"
) -> tuple[Any, Any, float, float] | None:
    """The drawing's parts if this process holds ``design``'s analysis, else None."""
    known = _remembered
    if known is None or not (known.design is design or known.design == design):
        return None
    drawing = lay_out(known, level, collapsed, direction)
    return drawing.graph, drawing.layout, drawing.graph_ms, drawing.layout_ms


def _lay_out_sent(
    analysis: Analysis, level: str, collapsed: frozenset[int], direction: str = "TB"
) -> tuple[Any, Any, float, float]:
    drawing = lay_out(remember(analysis), level, collapsed, direction)
    return drawing.graph, drawing.layout, drawing.graph_ms, drawing.layout_ms


def draw(
    analysis: Analysis, level: str, collapsed: frozenset[int], direction: str = "TB"
) -> Drawing:
    """``lay_out``, in the helper process for big graphs (the analysis is sent only if
    the helper does not hold it already); the caller's analysis object is kept, since
    views compare identity."""
    if graph_size(analysis, level) <= PROCESS_NODES:
        return lay_out(analysis, level, collapsed, direction)
    try:
        parts = run_in_helper(
            "draw", _lay_out_remembered, analysis.design, level, collapsed, direction
        )
        if parts is None:
            parts = run_in_helper("draw", _lay_out_sent, analysis, level, collapsed, direction)
    except HelperUnavailable:
        return lay_out(analysis, level, collapsed, direction)
    return Drawing(analysis, level, *parts)
