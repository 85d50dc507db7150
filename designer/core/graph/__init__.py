"""The design as a graph: the graph itself, its layout (dot or built-in) and diagrams.

Pure Python over the analysis (no torch): the app redraws from here on every edit.
"""

from designer.core.graph.network import LEVELS, Level, build_graph, collapse_stages, shape_label

__all__ = ["LEVELS", "Level", "build_graph", "collapse_stages", "shape_label"]
