"""The design as a graph: the graph itself, its layout (dot or built-in) and diagrams.

Pure Python over the analysis (no torch): the app redraws from here on every edit.
The names below are loaded on first use: networkx takes a quarter of a second to
import, which the app's window need not wait for (its first drawing does).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from designer.core.graph.network import (
        LEVELS,
        Level,
        build_graph,
        collapse_stages,
        shape_label,
    )

__all__ = ["LEVELS", "Level", "build_graph", "collapse_stages", "shape_label"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(import_module("designer.core.graph.network"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
