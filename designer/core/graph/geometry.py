"""The shapes a layout is made of: boxes, polylines and node sizes, shared by both engines.

Its own module so that ``layout`` (which picks an engine) and ``layout_builtin`` (one
engine) both depend on it instead of on each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Point = tuple[float, float]
Direction = Literal["TB", "LR"]
DIRECTIONS: tuple[str, ...] = ("TB", "LR")

FONT_SIZE = 10.0
CHAR_WIDTH = 5.8  # average Helvetica advance at 10 pt, generous for digits
NODE_HEIGHT = 22.0
NODE_MIN_WIDTH = 44.0
NODE_PADDING = 16.0
OP_DIAMETER = 20.0  # the round "+" and "x" nodes
TITLE_LINE = 12.0  # one line of a stage title ("layer2", "4 blocks", "512x28x28")
TITLE_GAP = 6.0  # between a stage title and the frame under it (LR)


@dataclass(frozen=True, slots=True)
class Box:
    """An axis-aligned rectangle: (x, y) is the top-left corner, in points."""

    x: float
    y: float
    w: float
    h: float

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h

    def overlaps(self, other: Box) -> bool:
        return (
            self.x < other.right
            and other.x < self.right
            and self.y < other.bottom
            and other.y < self.bottom
        )


@dataclass(frozen=True)
class Layout:
    """Where everything goes: node boxes, edge polylines, stage cluster boxes.

    ``direction`` is the way the network flows: "TB" (top to bottom) or "LR" (left
    to right). In "LR" every stage frame has ``title_room(graph)`` points free above
    it, inside the layout's extent, for its title (one part of the stage label a
    line); in "TB" titles go beside the frames, as before.
    """

    nodes: dict[str, Box]
    edges: dict[tuple[str, str], tuple[Point, ...]]
    clusters: dict[int, Box]
    width: float
    height: float
    engine: str
    direction: Direction = "TB"


def node_size(attrs: Mapping[str, object]) -> tuple[float, float]:
    """A node's (width, height) in points, from its label: both engines use it."""
    if attrs.get("kind") in ("add", "mul"):
        return OP_DIAMETER, OP_DIAMETER
    text = str(attrs.get("label", ""))
    return max(NODE_MIN_WIDTH, len(text) * CHAR_WIDTH + NODE_PADDING), NODE_HEIGHT


def check_direction(direction: str) -> None:
    if direction not in DIRECTIONS:
        raise ValueError(f"direction: '{direction}' is not one of {', '.join(DIRECTIONS)}")


def title_parts(label: str) -> list[str]:
    """A stage label's parts, one a line: "layer2 · 4 blocks · 512x28x28" -> 3 lines."""
    return label.split(" · ")


def title_room(graph: Any) -> float:
    """Height kept free above each stage frame of a left-to-right layout for its title."""
    labels = graph.graph.get("stage_labels", {})
    if not graph.graph.get("stages"):
        return 0.0
    lines = max((len(title_parts(text)) for text in labels.values()), default=1)
    return lines * TITLE_LINE + TITLE_GAP
