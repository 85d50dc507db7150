"""The shapes a layout is made of: boxes, polylines and node sizes, shared by both engines.

Its own module so that ``layout`` (which picks an engine) and ``layout_builtin`` (one
engine) both depend on it instead of on each other.
"""

from __future__ import annotations

from dataclasses import dataclass

Point = tuple[float, float]

FONT_SIZE = 10.0
CHAR_WIDTH = 5.8  # average Helvetica advance at 10 pt, generous for digits
NODE_HEIGHT = 22.0
NODE_MIN_WIDTH = 44.0
NODE_PADDING = 16.0
OP_DIAMETER = 20.0  # the round "+" and "x" nodes


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
    """Where everything goes: node boxes, edge polylines, stage cluster boxes."""

    nodes: dict[str, Box]
    edges: dict[tuple[str, str], tuple[Point, ...]]
    clusters: dict[int, Box]
    width: float
    height: float
    engine: str


def node_size(attrs: dict) -> tuple[float, float]:
    """A node's (width, height) in points, from its label: both engines use it."""
    if attrs.get("kind") in ("add", "mul"):
        return OP_DIAMETER, OP_DIAMETER
    text = str(attrs.get("label", ""))
    return max(NODE_MIN_WIDTH, len(text) * CHAR_WIDTH + NODE_PADDING), NODE_HEIGHT
