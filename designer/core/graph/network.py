"""A design as a directed graph, at block or layer level, for layout and drawing.

The graph is built from the closed-form analysis (no torch), so it costs
milliseconds even for a 1,000-layer network and can be rebuilt on every edit.

Conventions the app and the renderer rely on:

- node ids are unique and stable: the module path ("layer2.0.conv1"), with
  "#2", "#3"... for modules called more than once (the shared activation), plus
  "input", "<block>.add" (the residual sum) and "<block>.se.scale" (the
  squeeze-excite product);
- node attributes: ``kind`` (a drawing category: input, conv, norm, act, pool,
  linear, flatten, dropout, pad, add, mul, stem, block, head, stage), ``op``
  (the module class), ``label`` (short, human), ``params``, ``macs``, ``stage``
  (-1 stem, 0.. stages, len(stages) head, None for the input), ``block``,
  ``branch`` ("main", "shortcut", "se"), ``input_shape``, ``output_shape``;
- edge attributes: ``shape`` (the tensor it carries, the source's output) and
  ``skip`` (True on every edge of a residual block's shortcut path, including
  the one that enters the add);
- ``graph.graph["stages"]``: stage index -> node ids (the clusters), and
  ``graph.graph["stage_labels"]``: stage index -> "layer2 · 4 blocks · 512x28x28".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

import networkx as nx

from designer.core.analysis import Analysis, Block, Layer, Shape
from designer.core.blocks import CUSTOM_MODULES
from designer.core.blocks.kinds import PATH_BRANCHES
from designer.core.design import stage_design
from designer.core.plan import plan as network_plan
from designer.core.report import shape_text

Level = Literal["block", "layer"]
LEVELS: tuple[str, ...] = ("block", "layer")

_KINDS = {
    "Conv2d": "conv",
    "Conv1d": "conv",
    "BatchNorm2d": "norm",
    "BatchNorm1d": "norm",
    "GroupNorm": "norm",
    "LayerNorm2d": "norm",
    "MaxPool2d": "pool",
    "AvgPool2d": "pool",
    "AdaptiveAvgPool2d": "pool",
    "Linear": "linear",
    "Flatten": "flatten",
    "Dropout": "dropout",
    "Sigmoid": "act",
    "Identity": "flatten",  # a neutral, parameter-free step (timm's ResNet-D placeholder)
    "ZeroPad2d": "pad",
}


def shape_label(shape: Sequence[int]) -> str:
    """'512x28x28' (ASCII x, so it prints everywhere and greps well)."""
    return shape_text(tuple(shape), "x")


def _kind(op: str) -> str:
    """torch's layers by this table; our own modules say how they are drawn."""
    if op in _KINDS:
        return _KINDS[op]
    module = _CUSTOM.get(op)
    return module.graph_kind if module is not None else "act"


# by the class name torchinfo gives (a torch class's without "nn.")
_CUSTOM = {module.class_name.removeprefix("nn."): module for module in CUSTOM_MODULES.values()}


def block_stride(analysis: Analysis, block: Block) -> int:
    """The stride the design gives ``block``: its stage's, on the stage's first block,
    unless the stage dilates instead (never a ratio of sizes: stride 9 on a 224 input
    reads 9, not 8)."""
    if not 0 <= block.stage < len(analysis.design.stages) or block.index != 0:
        return 1
    stage = analysis.design.stages[block.stage]
    return 1 if stage.dilate else stage.stride


def _layer_label(layer: Layer, analysis: Analysis) -> str:
    op = layer.kind
    # a conv class of our own (StdConv2d) is drawn and labelled as a conv
    conv = op == "Conv2d" or (op in _CUSTOM and _CUSTOM[op].graph_kind == "conv")
    stride = layer.stride if conv or op in ("MaxPool2d", "AvgPool2d", "ZeroPadShortcut") else 1
    by = f"/{stride}" if stride > 1 else ""
    if conv:
        k, groups = layer.kernel, layer.groups
        text = f"conv {k}x{k}{by}, {layer.output_shape[0]}"
        text += f", dil {layer.dilation}" if layer.dilation > 1 else ""
        return text + (f", g{groups}" if groups > 1 else "")
    if op == "Conv1d":  # across channels (ECA): its kernel spans neighbouring channels
        return f"conv1d k{layer.kernel}"
    if op in ("BatchNorm2d", "BatchNorm1d"):
        return "BN"
    if op == "GroupNorm":
        return "GN"
    if op == "MaxPool2d":
        return f"maxpool 3x3{by}"
    if op == "AvgPool2d":
        return f"avgpool {by or '/1'}"
    if op == "AdaptiveAvgPool2d":
        return "global avgpool"
    if op == "Linear":
        return f"fc, {layer.output_shape[0]}"
    if op == "ZeroPadShortcut":
        return f"zero-pad{by}, {layer.output_shape[0]}"
    custom = _CUSTOM.get(op)
    if custom is not None and custom.graph_label:
        return custom.graph_label
    return op.lower() if op in ("Flatten", "Dropout", "Sigmoid", "Identity") else op


def _block_label(analysis: Analysis, block: Block) -> str:
    design = analysis.design
    if block.name == "stem":
        layers = analysis.layers[block.first_layer : block.end_layer]
        first = _layer_label(layers[0], analysis)
        pooled = any(layer.kind == "MaxPool2d" for layer in layers)
        convs = sum(_kind(layer.kind) == "conv" for layer in layers)
        text = (
            f"stem: {first}" if convs == 1 else f"stem: {convs} convs 3x3, {block.output_shape[0]}"
        )
        return text + (" + maxpool" if pooled else "")
    if block.name == "head":
        hidden = "".join(f", fc {w}" for w in design.head.hidden)
        if not design.num_classes:  # a feature extractor: no classifier
            return f"head: avgpool{hidden} (features, {block.output_shape[0]})"
        return f"head: avgpool{hidden}, fc {block.output_shape[0]}"
    stage = design.stages[block.stage]
    kind = stage_design(design, stage).block_kind.label
    stride = block_stride(analysis, block)
    text = f"{block.name}: {kind}, {block.output_shape[0]}"
    text += f", stride {stride}" if stride > 1 else ""
    # the block's own dilation, as the plan resolves it (a dilated stage's), not its convs'
    # (a selective kernel's second path is dilated in every block)
    planned = next(b for b in network_plan(design).blocks if b.path == block.name)
    dilation = max(planned.first_dilation, planned.dilation)
    text += f", dilation {dilation}" if dilation > 1 else ""
    if block.shortcut not in ("identity", ""):
        text += " + " + block.shortcut.replace("_", "-")
    return text


def _stage_name(stage: int, n_stages: int) -> str:
    if stage < 0:
        return "stem"
    return "head" if stage >= n_stages else f"layer{stage + 1}"


def _stage_labels(analysis: Analysis) -> dict[int, str]:
    n = len(analysis.design.stages)
    labels: dict[int, str] = {}
    counts: dict[int, int] = {}
    shapes: dict[int, Shape] = {}
    for block in analysis.blocks:
        counts[block.stage] = counts.get(block.stage, 0) + 1
        shapes[block.stage] = block.output_shape
    for stage, count in counts.items():
        name = _stage_name(stage, n)
        if 0 <= stage < n:
            plural = "block" if count == 1 else "blocks"
            labels[stage] = f"{name} · {count} {plural} · {shape_label(shapes[stage])}"
        elif stage >= n:
            what = "classes" if analysis.design.num_classes else "features"
            labels[stage] = f"{name} · {shapes[stage][0]} {what}"
        else:
            labels[stage] = f"{name} · {shape_label(shapes[stage])}"
    return labels


class _Builder:
    """Adds nodes with unique ids and edges carrying their source's output shape."""

    def __init__(self, analysis: Analysis) -> None:
        self.analysis = analysis
        self.graph = nx.DiGraph()
        self.seen: dict[str, int] = {}
        self.stages: dict[int, list[str]] = {}

    def unique(self, name: str) -> str:
        count = self.seen.get(name, 0) + 1
        self.seen[name] = count
        return name if count == 1 else f"{name}#{count}"

    def node(self, node_id: str, stage: int | None, **attrs: object) -> str:
        self.graph.add_node(node_id, stage=stage, **attrs)
        if stage is not None:
            self.stages.setdefault(stage, []).append(node_id)
        return node_id

    def layer(self, layer: Layer, stage: int) -> str:
        return self.node(
            self.unique(layer.name),
            stage,
            kind=_kind(layer.kind),
            op=layer.kind,
            label=_layer_label(layer, self.analysis),
            name=layer.name,
            params=layer.params,
            macs=layer.macs,
            block=layer.block,
            branch=layer.branch,
            input_shape=layer.input_shape,
            output_shape=layer.output_shape,
        )

    def edge(self, u: str, v: str, skip: bool = False) -> None:
        self.graph.add_edge(u, v, shape=self.graph.nodes[u]["output_shape"], skip=skip)

    def chain(self, start: str, layers: Iterable[Layer], stage: int, skip: bool = False) -> str:
        prev = start
        for layer in layers:
            node = self.layer(layer, stage)
            self.edge(prev, node, skip)
            prev = node
        return prev

    def op_node(self, node_id: str, kind: str, label: str, block: Block, shape: Shape) -> str:
        return self.node(
            self.unique(node_id),
            block.stage,
            kind=kind,
            op=kind.capitalize(),
            label=label,
            name=node_id,
            params=0,
            macs=0,
            block=block.name,
            branch="main",
            input_shape=shape,
            output_shape=shape,
        )


def _input_node(b: _Builder) -> str:
    shape = b.analysis.blocks[0].input_shape
    return b.node(
        "input",
        None,
        kind="input",
        op="Input",
        label=f"input {shape_label(shape)}",
        name="input",
        params=0,
        macs=0,
        block="",
        branch="main",
        input_shape=shape,
        output_shape=shape,
    )


def _residual_layers(b: _Builder, prev: str, block: Block) -> str:
    """One residual block: pre-activation, main path, SE, shortcut, the add, what follows it.

    Every row carries the role its block declares for it (designer.core.blocks):
    the structure comes from there, never from names or positions.
    """
    rows = b.analysis.layers[block.first_layer : block.end_layer]
    by_role: dict[str, list[Layer]] = {"pre": [], "main": [], "se": [], "shortcut": [], "post": []}
    for row in rows:
        by_role[row.role].append(row)
    pre_node = b.chain(prev, by_role["pre"], block.stage)
    taps_pre = b.analysis.design.block_kind.layout(b.analysis.design).tap == "pre"
    skip_from = pre_node if taps_pre and by_role["shortcut"] else prev
    y = _main_path(b, pre_node, by_role["main"], block)
    skip_end = b.chain(skip_from, by_role["shortcut"], block.stage, skip=True)
    if by_role["se"]:
        gate = b.chain(y, by_role["se"], block.stage)
        shape = b.graph.nodes[y]["output_shape"]
        scale = b.op_node(f"{block.name}.se.scale", "mul", "×", block, shape)
        b.edge(gate, scale)
        b.edge(y, scale)
        y = scale
    add = b.op_node(f"{block.name}.add", "add", "+", block, block.output_shape)
    b.graph.nodes[add]["output_shape"] = b.graph.nodes[y]["output_shape"]
    b.edge(y, add)
    b.edge(skip_end, add, skip=True)
    return b.chain(add, by_role["post"], block.stage)


def _main_path(b: _Builder, prev: str, rows: list[Layer], block: Block) -> str:
    """The main path's rows in a chain, where a module's parallel paths over splits of its
    input (rows on ``PATH_BRANCHES``) fan out from a split node and meet in a concat."""
    at = 0
    while at < len(rows):
        end = at
        while end < len(rows) and rows[end].branch.startswith(PATH_BRANCHES):
            end += 1
        if end == at:
            prev = b.chain(prev, rows[at : at + 1], block.stage)
            at += 1
        else:
            prev = _paths(b, prev, rows[at:end], block)
            at = end
    return prev


def _paths(b: _Builder, prev: str, rows: list[Layer], block: Block) -> str:
    """Split, each path from its split (a cascaded one also from the previous path's end,
    through an add), and the concatenation of the paths and of any split left untouched."""
    whole = b.graph.nodes[prev]["output_shape"]
    piece = rows[0].input_shape
    split = b.op_node(
        f"{block.name}.split", "flatten", f"split in {whole[0] // piece[0]}", block, piece
    )
    b.graph.nodes[split].update(op="Split", input_shape=whole)
    b.edge(prev, split)
    ends: list[str] = []
    for branch in dict.fromkeys(row.branch for row in rows):
        start = split
        if branch.startswith("cascade.") and ends:
            start = b.op_node(f"{block.name}.{branch}.add", "add", "+", block, piece)
            b.graph.nodes[start]["branch"] = branch  # on its path, not the residual add
            b.edge(split, start)
            b.edge(ends[-1], start)
        ends.append(b.chain(start, [row for row in rows if row.branch == branch], block.stage))
    last = b.graph.nodes[ends[-1]]["output_shape"]
    out = (whole[0], *last[1:])
    cat = b.op_node(f"{block.name}.cat", "flatten", "concat", block, out)
    b.graph.nodes[cat].update(op="Cat", input_shape=last)
    for end in ends:
        b.edge(end, cat)
    if sum(b.graph.nodes[end]["output_shape"][0] for end in ends) < whole[0]:
        b.edge(split, cat)  # the last split, passed on as it is
    return cat


def build_graph(analysis: Analysis, level: Level = "block") -> nx.DiGraph:
    """The design's graph at ``level`` ("block" or "layer"); see the module docstring."""
    if level not in LEVELS:
        raise ValueError(f"level: '{level}' is not one of {', '.join(LEVELS)}")
    b = _Builder(analysis)
    prev = _input_node(b)
    for block in analysis.blocks:
        if level == "block":
            kind = block.name if block.name in ("stem", "head") else "block"
            node = b.node(
                b.unique(block.name),
                block.stage,
                kind=kind,
                op=kind.capitalize(),
                label=_block_label(analysis, block),
                name=block.name,
                params=block.params,
                macs=block.macs,
                block=block.name,
                branch="main",
                shortcut=block.shortcut,
                index=block.index,
                stride=block_stride(analysis, block),
                input_shape=block.input_shape,
                output_shape=block.output_shape,
            )
            b.edge(prev, node)
            prev = node
        elif block.shortcut:
            prev = _residual_layers(b, prev, block)
        else:
            prev = b.chain(prev, analysis.layers[block.first_layer : block.end_layer], block.stage)
    g = b.graph
    g.graph["level"] = level
    g.graph["name"] = analysis.design.name
    g.graph["stages"] = b.stages
    g.graph["n_stages"] = len(analysis.design.stages)
    g.graph["stage_labels"] = _stage_labels(analysis)
    g.graph["stage_names"] = {
        s: _stage_name(s, len(analysis.design.stages)) for s in g.graph["stage_labels"]
    }
    return g


def collapse_stages(graph: nx.DiGraph, stages: set[int]) -> nx.DiGraph:
    """A copy of ``graph`` with each stage in ``stages`` drawn as one summary node.

    The summary node's id is the stage's name ("layer2", "stem", "head"); edges
    into and out of the stage are kept (with their shapes), edges inside it go.
    """
    out = graph.copy()
    out.graph = dict(graph.graph)
    clusters = {s: list(ids) for s, ids in graph.graph["stages"].items()}
    for stage in sorted(stages):
        members = clusters.get(stage)
        if not members:
            continue
        inside = set(members)
        node_id = graph.graph["stage_names"][stage]
        order = [n for n in nx.topological_sort(graph.subgraph(inside))]
        last = graph.nodes[order[-1]]
        incoming = [
            (u, d) for n in order for u, _, d in out.in_edges(n, data=True) if u not in inside
        ]
        outgoing = [
            (v, d) for n in order for _, v, d in out.out_edges(n, data=True) if v not in inside
        ]
        out.remove_nodes_from(inside)
        out.add_node(
            node_id,
            kind="stage",
            op="Stage",
            label=graph.graph["stage_labels"][stage],
            name=node_id,
            params=sum(graph.nodes[n]["params"] for n in inside),
            macs=sum(graph.nodes[n]["macs"] for n in inside),
            stage=stage,
            block=node_id,
            branch="main",
            input_shape=graph.nodes[order[0]]["input_shape"],
            output_shape=last["output_shape"],
            members=len(inside),
        )
        # a skip edge and a main edge from the same node merge: the main one wins
        for u, d in sorted(incoming, key=lambda e: not e[1]["skip"]):
            out.add_edge(u, node_id, **d)
        for v, d in sorted(outgoing, key=lambda e: not e[1]["skip"]):
            out.add_edge(node_id, v, **d)
        clusters[stage] = [node_id]
    out.graph["stages"] = clusters
    return out


MAX_DIAGRAM_NODES = 600
MAX_DIAGRAM_RANKS = 250
"""Above this many nodes, or this many in a row, a diagram summarises repeated blocks:
a ResNet-152 at layer level (507 in a row) or a ResNet-1001 at block level drawn whole
is a strip taller than a PNG may be (32,767 pixels), of unreadable labels."""


def needs_eliding(graph: nx.DiGraph) -> bool:
    if graph.number_of_nodes() > MAX_DIAGRAM_NODES:
        return True
    longest: int = nx.dag_longest_path_length(graph)
    return longest > MAX_DIAGRAM_RANKS


def elide_repeats(graph: nx.DiGraph, keep: int = 2) -> tuple[nx.DiGraph, int]:
    """A copy of ``graph`` in which each stage shows its first ``keep`` blocks and its last,
    with the blocks between them drawn as one summary node; and how many were hidden.

    The blocks between are, in a ResNet, repeats of the stage's second block, so the
    picture loses nothing a reader needs; the summary node carries their totals.
    """
    out = graph.copy()
    out.graph = dict(graph.graph)
    clusters = {s: list(ids) for s, ids in graph.graph["stages"].items()}
    hidden_total = 0
    for stage, ids in clusters.items():
        order = list(dict.fromkeys(graph.nodes[n]["block"] for n in ids))
        if len(order) <= keep + 2:
            continue
        hidden = set(order[keep:-1])
        members = [n for n in ids if graph.nodes[n]["block"] in hidden]
        inside = set(members)
        incoming = [
            (u, d) for n in members for u, _, d in out.in_edges(n, data=True) if u not in inside
        ]
        outgoing = [
            (v, d) for n in members for _, v, d in out.out_edges(n, data=True) if v not in inside
        ]
        node_id = f"{order[keep]}..{order[-2]}"
        first, last = graph.nodes[members[0]], graph.nodes[members[-1]]
        params = sum(graph.nodes[n]["params"] for n in members)
        macs = sum(graph.nodes[n]["macs"] for n in members)
        out.remove_nodes_from(members)
        out.add_node(
            node_id,
            kind="stage",
            op="Elided",
            label=f"⋮ {len(hidden):,} more blocks like {order[keep]}",
            name=node_id,
            params=params,
            macs=macs,
            stage=stage,
            block=node_id,
            branch="main",
            input_shape=first["input_shape"],
            output_shape=last["output_shape"],
            members=len(members),
        )
        # a skip edge and a main edge between the same nodes merge: the main one wins
        for u, d in sorted(incoming, key=lambda e: not e[1]["skip"]):
            out.add_edge(u, node_id, **d)
        for v, d in sorted(outgoing, key=lambda e: not e[1]["skip"]):
            out.add_edge(node_id, v, **{**d, "shape": last["output_shape"]})
        at = ids.index(members[0])
        clusters[stage] = [*(n for n in ids[:at] if n not in inside), node_id] + [
            n for n in ids[at:] if n not in inside
        ]
        hidden_total += len(hidden)
    out.graph["stages"] = clusters
    return out, hidden_total
