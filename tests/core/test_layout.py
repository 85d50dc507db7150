"""Layouts: every node boxed, every edge routed, nothing on top of anything, both engines."""

from __future__ import annotations

import itertools

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings

from designer.core.analysis import analyse
from designer.core.design import Design
from designer.core.graph import build_graph, collapse_stages
from designer.core.graph import layout as layout_module
from designer.core.graph.layout import Box, Layout, compute_layout, dot_available
from designer.core.presets import load_preset
from tests.strategies import small_designs

needs_dot = pytest.mark.skipif(not dot_available(), reason="Graphviz dot is not installed")
ENGINES = ["builtin", pytest.param("dot", marks=needs_dot)]
SLACK = 2.0  # points: dot rounds positions and sizes to 1/100 inch


def graph_of(name: str, level: str = "layer") -> nx.DiGraph:
    return build_graph(analyse(load_preset(name)), level)  # type: ignore[arg-type]


def near_box(point: tuple[float, float], box: Box) -> bool:
    x, y = point
    return (
        box.x - SLACK - 4 <= x <= box.right + SLACK + 4
        and box.y - SLACK - 4 <= y <= box.bottom + SLACK + 4
    )


def check_layout(graph: nx.DiGraph, layout: Layout) -> None:
    assert set(layout.nodes) == set(graph.nodes)
    assert set(layout.edges) == set(graph.edges)
    boxes = sorted(layout.nodes.items(), key=lambda item: item[1].y)
    for i, (a, box) in enumerate(boxes):  # sweep: only boxes starting above this bottom
        assert box.w > 0 and box.h > 0
        assert box.x >= -SLACK and box.right <= layout.width + SLACK, a
        assert box.y >= -SLACK and box.bottom <= layout.height + SLACK, a
        for b, other in boxes[i + 1 :]:
            if other.y >= box.bottom - SLACK:
                break
            shrunk = Box(other.x + SLACK, other.y + SLACK, other.w - 2 * SLACK, other.h - 2 * SLACK)
            assert not box.overlaps(shrunk), (a, b)
    for (u, v), points in layout.edges.items():
        assert len(points) >= 2
        assert near_box(points[0], layout.nodes[u]), (u, v, points[0])
        assert near_box(points[-1], layout.nodes[v]), (u, v, points[-1])
    for stage, members in graph.graph["stages"].items():
        frame = layout.clusters[stage]
        for n in members:
            box = layout.nodes[n]
            assert frame.x - SLACK <= box.x and box.right <= frame.right + SLACK, (stage, n)
            assert frame.y - SLACK <= box.y and box.bottom <= frame.bottom + SLACK, (stage, n)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    ("name", "level"),
    [
        ("resnet18", "block"),
        ("resnet50", "block"),
        ("resnet50", "layer"),
        ("resnet20_cifar", "layer"),
        ("preact_resnet164_cifar", "block"),
    ],
)
def test_layout_boxes_every_node_and_routes_every_edge(name: str, level: str, engine: str) -> None:
    graph = graph_of(name, level)
    result = compute_layout(graph, engine)  # type: ignore[arg-type]
    assert result.engine == engine
    check_layout(graph, result)


@pytest.mark.parametrize("engine", ENGINES)
def test_flow_is_top_to_bottom(engine: str) -> None:
    graph = graph_of("resnet18", "layer")
    result = compute_layout(graph, engine)  # type: ignore[arg-type]
    for u, v in graph.edges():
        assert result.nodes[u].cy < result.nodes[v].cy, (u, v)


def test_builtin_keeps_the_main_path_in_one_column_and_skips_beside_it() -> None:
    graph = graph_of("resnet50")
    result = compute_layout(graph, "builtin")
    main = {
        round(result.nodes[n].cx, 3) for n, d in graph.nodes(data=True) if d["branch"] == "main"
    }
    assert len(main) == 1
    (x,) = main
    side = [result.nodes[n] for n, d in graph.nodes(data=True) if d["branch"] == "shortcut"]
    assert side and all(box.cx > x for box in side)
    for (u, v), points in result.edges.items():
        if graph.edges[u, v]["skip"]:
            assert max(p[0] for p in points) > x + 10  # routed right of the column


def test_builtin_edges_never_cross_a_node() -> None:
    graph = graph_of("resnet50")
    result = compute_layout(graph, "builtin")
    for (u, v), points in result.edges.items():
        for (x0, y0), (x1, y1) in itertools.pairwise(points):
            for t in (0.25, 0.5, 0.75):
                px, py = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
                for n, box in result.nodes.items():
                    if n in (u, v):
                        continue
                    inside = box.x < px < box.right and box.y < py < box.bottom
                    assert not inside, ((u, v), n)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_designs())
def test_builtin_layout_of_random_designs(design: Design) -> None:
    for level in ("block", "layer"):
        graph = build_graph(analyse(design), level)  # type: ignore[arg-type]
        check_layout(graph, compute_layout(graph, "builtin"))


def test_collapsed_graph_lays_out() -> None:
    graph = collapse_stages(graph_of("resnet50"), {0, 1, 2})
    check_layout(graph, compute_layout(graph, "builtin"))


def test_auto_falls_back_to_builtin_without_dot(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(layout_module, "dot_available", lambda: False)
    assert compute_layout(graph_of("resnet18", "block"), "auto").engine == "builtin"


def test_auto_uses_builtin_for_big_graphs() -> None:
    graph = graph_of("resnet152")
    assert graph.number_of_nodes() > layout_module.AUTO_DOT_MAX_NODES
    assert compute_layout(graph, "auto").engine == "builtin"


@needs_dot
def test_auto_uses_dot_for_small_graphs() -> None:
    assert compute_layout(graph_of("resnet18", "block"), "auto").engine == "dot"


def test_dot_engine_without_dot_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(layout_module, "_dot_path", lambda: None)
    with pytest.raises(layout_module.LayoutError, match="not installed"):
        compute_layout(graph_of("resnet18", "block"), "dot")


def test_unknown_engine_names_the_choices() -> None:
    with pytest.raises(ValueError, match="engine: 'neato' is not one of auto, dot, builtin"):
        compute_layout(graph_of("resnet18", "block"), "neato")  # type: ignore[arg-type]


@pytest.mark.parametrize("engine", ENGINES)
def test_top_to_bottom_is_the_default_and_says_so(engine: str) -> None:
    result = compute_layout(graph_of("resnet18", "block"), engine)  # type: ignore[arg-type]
    assert result.direction == "TB"
