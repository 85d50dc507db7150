"""The work a worker does for the graph view: build the graph, collapse stages, lay it out.

Pure functions over the core (no widgets), so they can run on any thread.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from designer.core.analysis import Analysis
from designer.core.design import Design


@dataclass(frozen=True)
class Drawing:
    analysis: Analysis
    level: str
    graph: Any  # networkx.DiGraph
    layout: Any  # designer.core.layout.Layout
    graph_ms: float
    layout_ms: float


def lay_out(analysis: Analysis, level: str, collapsed: frozenset[int]) -> Drawing:
    from designer.core.graph import build_graph, collapse_stages
    from designer.core.layout import compute_layout

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
