"""Left to right: both engines, both directions, same boxes, nothing overlaps.

The checks of ``test_layout.check_layout`` (every node boxed inside the layout's
extent, no two boxes overlap, every edge from its source's border to its
target's, stage frames around their members) hold in either direction; left to
right, the flow goes along x, every frame has room for its title above it, and
the node boxes keep the sizes they have top to bottom (labels stay horizontal).
"""

from __future__ import annotations

import itertools

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings

from designer.core.analysis import analyse
from designer.core.design import Design
from designer.core.graph import build_graph, collapse_stages
from designer.core.graph.geometry import DIRECTIONS, Box, title_parts, title_room
from designer.core.graph.layout import compute_layout, layout_dot_source
from designer.core.graph.layout_builtin import TITLE_FONT_WIDTH
from designer.core.presets import load_preset
from tests.core.test_layout import ENGINES, SLACK, check_layout, needs_dot
from tests.strategies import small_designs

CASES = [
    ("resnet18", "block"),
    ("resnet18", "layer"),
    ("resnet20_cifar", "block"),
    ("resnet20_cifar", "layer"),
]


def graph_of(name: str, level: str) -> nx.DiGraph:
    return build_graph(analyse(load_preset(name)), level)  # type: ignore[arg-type]


def main_path(graph: nx.DiGraph) -> list[str]:
    """The input, then each node's main-branch successor, to the head."""
    path = [next(n for n, d in graph.in_degree() if d == 0)]
    while True:
        after = [v for v in graph.successors(path[-1]) if graph.nodes[v]["branch"] == "main"]
        if not after:
            return path
        path.append(after[0])


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize(("name", "level"), CASES)
def test_both_directions_box_every_node_and_route_every_edge(
    name: str, level: str, direction: str, engine: str
) -> None:
    graph = graph_of(name, level)
    layout = compute_layout(graph, engine, direction)  # type: ignore[arg-type]
    assert (layout.engine, layout.direction) == (engine, direction)
    check_layout(graph, layout)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("name", "level"), CASES)
def test_left_to_right_flows_along_x(name: str, level: str, engine: str) -> None:
    graph = graph_of(name, level)
    layout = compute_layout(graph, engine, "LR")  # type: ignore[arg-type]
    boxes = layout.nodes
    path = main_path(graph)
    assert graph.nodes[path[0]]["kind"] == "input" and path[-1] in ("head", "fc")
    assert boxes[path[0]].right < boxes[path[-1]].x  # the input left of the head
    for u, v in itertools.pairwise(path):
        assert boxes[u].cx < boxes[v].cx, (u, v)
    for u, v in graph.edges():  # every edge, skips included, goes left to right
        assert boxes[u].cx < boxes[v].cx, (u, v)
    for (u, v), points in layout.edges.items():
        assert points[0][0] <= points[-1][0] + SLACK, (u, v)
    order = sorted(layout.clusters.items(), key=lambda item: item[1].x)
    assert [s for s, _ in order] == sorted(graph.graph["stages"])  # stages left to right


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("name", "level"), CASES)
def test_left_to_right_keeps_the_boxes_of_top_to_bottom(name: str, level: str, engine: str) -> None:
    graph = graph_of(name, level)
    tb = compute_layout(graph, engine, "TB")  # type: ignore[arg-type]
    lr = compute_layout(graph, engine, "LR")  # type: ignore[arg-type]
    for n, box in tb.nodes.items():
        assert lr.nodes[n].w == pytest.approx(box.w, abs=1.0), n
        assert lr.nodes[n].h == pytest.approx(box.h, abs=1.0), n
    if level == "block":  # a chain of blocks: wide left to right, tall top to bottom
        assert lr.width > lr.height and tb.height > tb.width


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("name", "level"), CASES)
def test_left_to_right_leaves_room_above_every_frame_for_its_title(
    name: str, level: str, engine: str
) -> None:
    graph = graph_of(name, level)
    layout = compute_layout(graph, engine, "LR")  # type: ignore[arg-type]
    room = title_room(graph)
    assert room >= 3 * 10  # "layer1", "2 blocks", "64x56x56": three lines
    for stage, frame in layout.clusters.items():
        band = Box(frame.x, frame.y - room, frame.w, room)
        assert band.y >= -SLACK, stage  # inside the layout's extent
        for n, box in layout.nodes.items():
            assert not band.overlaps(box), (stage, n)


@pytest.mark.parametrize(("name", "level"), CASES)
def test_builtin_left_to_right_frames_are_as_wide_as_their_titles(name: str, level: str) -> None:
    graph = graph_of(name, level)
    layout = compute_layout(graph, "builtin", "LR")
    labels = graph.graph["stage_labels"]
    frames = sorted(layout.clusters.items(), key=lambda item: item[1].x)
    for stage, frame in frames:
        longest = max(len(p) for p in title_parts(labels[stage]))
        assert frame.w >= longest * TITLE_FONT_WIDTH, stage
    for (_, a), (_, b) in itertools.pairwise(frames):
        assert a.right < b.x  # titles above neighbouring frames never touch
    tops = {round(frame.y, 3) for _, frame in frames}
    assert len(tops) == 1  # full-height bands: the titles sit in one row


def test_builtin_left_to_right_puts_shortcuts_below_and_squeeze_excite_above() -> None:
    graph = build_graph(analyse(load_preset("resnet50").replace(se_ratio=0.25)), "layer")
    layout = compute_layout(graph, "builtin", "LR")
    main = {
        round(layout.nodes[n].cy, 3) for n, d in graph.nodes(data=True) if d["branch"] == "main"
    }
    assert len(main) == 1  # the main path is one row
    (y,) = main
    by_branch = {"shortcut": [], "se": []}
    for n, d in graph.nodes(data=True):
        if d["branch"] in by_branch:
            by_branch[d["branch"]].append(layout.nodes[n].cy)
    assert by_branch["shortcut"] and all(cy > y for cy in by_branch["shortcut"])
    assert by_branch["se"] and all(cy < y for cy in by_branch["se"])
    for (u, v), points in layout.edges.items():
        if graph.edges[u, v]["skip"]:
            assert max(p[1] for p in points) > y + 10  # routed below the row


def test_builtin_left_to_right_edges_never_cross_a_node() -> None:
    graph = graph_of("resnet50", "layer")
    layout = compute_layout(graph, "builtin", "LR")
    for (u, v), points in layout.edges.items():
        for (x0, y0), (x1, y1) in itertools.pairwise(points):
            for t in (0.25, 0.5, 0.75):
                px, py = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
                for n, box in layout.nodes.items():
                    if n in (u, v):
                        continue
                    assert not (box.x < px < box.right and box.y < py < box.bottom), ((u, v), n)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("direction", DIRECTIONS)
def test_collapsed_stages_lay_out_in_both_directions(direction: str, engine: str) -> None:
    graph = collapse_stages(graph_of("resnet50", "layer"), {0, 1, 2})
    layout = compute_layout(graph, engine, direction)  # type: ignore[arg-type]
    assert layout.direction == direction
    check_layout(graph, layout)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_designs())
def test_builtin_left_to_right_of_random_designs(design: Design) -> None:
    for level in ("block", "layer"):
        graph = build_graph(analyse(design), level)  # type: ignore[arg-type]
        layout = compute_layout(graph, "builtin", "LR")
        check_layout(graph, layout)
        for u, v in graph.edges():
            assert layout.nodes[u].cx < layout.nodes[v].cx, (u, v)


@needs_dot
def test_dot_source_turns_the_ranks_not_the_boxes() -> None:
    graph = graph_of("resnet18", "block")
    tb, lr = layout_dot_source(graph, "TB"), layout_dot_source(graph, "LR")
    assert "rankdir=TB" in tb and "rankdir=LR" in lr
    assert [line for line in tb.splitlines() if "width=" in line] == [
        line for line in lr.splitlines() if "width=" in line
    ]


def test_unknown_direction_names_the_choices() -> None:
    graph = graph_of("resnet18", "block")
    with pytest.raises(ValueError, match="direction: 'BT' is not one of TB, LR"):
        compute_layout(graph, "builtin", "BT")  # type: ignore[arg-type]


def test_the_drawing_pipeline_carries_the_direction_to_the_helper_process() -> None:
    """The app's path: small graphs in the thread, big ones in the helper process,
    which holds the last analysis (a second direction reuses it) and must not hand a
    drawing of the other direction back."""
    from designer.qt.pipeline import PROCESS_NODES, draw, graph_size, lay_out

    small = analyse(load_preset("resnet18"))
    assert draw(small, "block", frozenset(), "LR").layout.direction == "LR"
    assert draw(small, "block", frozenset()).layout.direction == "TB"
    big = analyse(load_preset("resnet152"))
    assert graph_size(big, "layer") > PROCESS_NODES
    for direction in ("LR", "TB", "LR"):  # sent, then remembered twice
        remote = draw(big, "layer", frozenset({1}), direction)
        local = lay_out(big, "layer", frozenset({1}), direction)
        assert remote.analysis is big
        assert remote.layout.direction == direction
        assert remote.layout.nodes == local.layout.nodes
        assert remote.layout.edges == local.layout.edges
