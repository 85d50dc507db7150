"""The Pareto front of designs compared by a cost against accuracy.

A design is worth a look only if no other design is at least as cheap *and* at
least as accurate (and better in one of the two): the rest are dominated, and
picking one of them gives away accuracy or cost for nothing. The Compare tab marks
the front on its accuracy plot; the cost is MACs, parameters or measured latency
(lower is better) or measured throughput (higher is better).

Pure (no Qt, no I/O): points are plain (cost, accuracy) pairs, so the rule is
tested on hand-worked examples and shared by whatever draws it.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby, pairwise


def dominates(a: tuple[float, float], b: tuple[float, float], *, minimise_x: bool = True) -> bool:
    """Whether ``a`` (cost, accuracy) dominates ``b``: no worse in both, better in one.

    Accuracy is always maximised; the cost is minimised unless ``minimise_x`` is
    False (throughput: more images per second is better).
    """
    ax, ay = a if minimise_x else (-a[0], a[1])
    bx, by = b if minimise_x else (-b[0], b[1])
    return ax <= bx and ay >= by and (ax < bx or ay > by)


def pareto_front(points: Sequence[tuple[float, float]], *, minimise_x: bool = True) -> list[int]:
    """Indices (ascending) of the points no other point dominates.

    Two identical points do not dominate each other, so both stay on the front.
    Sorting by cost first makes it O(n log n): walking from the best cost, a point
    is on the front when it beats the best accuracy seen at a strictly better cost
    and matches the best accuracy at its own cost.
    """
    sign = 1.0 if minimise_x else -1.0
    order = sorted(range(len(points)), key=lambda i: (sign * points[i][0], -points[i][1]))
    front: list[int] = []
    best_before = float("-inf")  # the best accuracy at a strictly better cost
    for _cost, group in groupby(order, key=lambda i: sign * points[i][0]):
        same = list(group)
        top = points[same[0]][1]  # sorted: the most accurate at this cost comes first
        if top > best_before:
            front += [j for j in same if points[j][1] == top]
        best_before = max(best_before, top)
    return sorted(front)


def staircase(
    front: Sequence[tuple[float, float]], *, minimise_x: bool = True
) -> list[tuple[float, float]]:
    """The step line through the front's points: the edge of what they dominate.

    Between two front points (in order of cost) the line keeps the accuracy already
    reached until the next point's cost, then steps to its accuracy, so every point
    below and beyond the line is dominated and nothing above and before it is.
    """
    ordered = sorted(set(front))
    line: list[tuple[float, float]] = []
    for a, b in pairwise(ordered):
        line.append(a)
        line.append((b[0], a[1]) if minimise_x else (a[0], b[1]))
    if ordered:
        line.append(ordered[-1])
    return line
